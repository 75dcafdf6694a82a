//! The daemon's side of ubus: the connection to ubusd, the `offload` object and a listener
//! for netifd's interface events registered on it, requests answered, events sent, and a
//! new connection (objects registered again) whenever ubusd goes away or sends what
//! cannot be read.

use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};

use crate::ubus::blobmsg::{List, Type};
use crate::ubus::call::exchange;
use crate::ubus::conn::Connection;
use crate::ubus::message::{Message, Status};
use crate::ubus::server::{add_object, reject_malformed, Method, Request};
use crate::ubus::{client, Error, Result};

pub const OBJECT: &str = "offload";

/// The `offload` object's methods and the argument types its signature publishes.
pub const METHODS: &[Method<'static>] = &[
    Method {
        name: "status",
        args: &[],
    },
    Method {
        name: "flows",
        args: &[
            ("limit", Type::Int32),
            ("offset", Type::Int32),
            ("proto", Type::String),
            ("hw", Type::Bool),
        ],
    },
    Method {
        name: "devices",
        args: &[],
    },
    Method {
        name: "reload",
        args: &[],
    },
];

/// netifd announces ifup/ifdown/update as `network.interface` events.
const NETIFD_EVENTS: &str = "network.interface";

/// How long registering, and any later read or write on the connection, may take; how
/// often to try ubusd again while it is away.
const TIMEOUT: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_secs(2);

/// What arrived for the daemon.
pub enum Inbound<'a> {
    /// A call of one of [`METHODS`].
    Call {
        method: &'a str,
        args: Option<List<'a>>,
    },
    /// An event from netifd (the event name).
    Event(&'a str),
}

/// How a call is answered: DATA if there is any, then the STATUS.
pub struct Answer {
    pub data: Option<Map<String, Json>>,
    pub status: Status,
}

impl Answer {
    pub fn ok(data: Map<String, Json>) -> Answer {
        Answer {
            data: Some(data),
            status: Status::Ok,
        }
    }

    pub fn status(status: Status) -> Answer {
        Answer { data: None, status }
    }
}

struct Registered {
    conn: Connection,
    object: u32,
    listener: u32,
}

pub struct Bus {
    socket: PathBuf,
    registered: Option<Registered>,
    retry_at: Instant,
    /// The last failure, logged once until the next success.
    failure: Option<String>,
}

impl Bus {
    pub fn new(socket: PathBuf) -> Bus {
        Bus {
            socket,
            registered: None,
            retry_at: Instant::now(),
            failure: None,
        }
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.registered.as_ref().map(|r| r.conn.as_raw_fd())
    }

    /// Connects and registers if disconnected and the next try is due. Returns when to
    /// try again, or `None` when connected.
    pub fn maintain(&mut self, now: Instant) -> Option<Instant> {
        if self.registered.is_some() {
            return None;
        }
        if now < self.retry_at {
            return Some(self.retry_at);
        }
        match self.register() {
            Ok(registered) => {
                log::info!(
                    "ubus: object {OBJECT} registered (id {:#x}) on {}",
                    registered.object,
                    self.socket.display()
                );
                self.registered = Some(registered);
                self.failure = None;
                None
            }
            Err(e) => {
                self.fail(format!("cannot register on {}: {e}", self.socket.display()));
                Some(self.retry_at)
            }
        }
    }

    fn fail(&mut self, failure: String) {
        if self.failure.as_ref() != Some(&failure) {
            log::warn!("ubus: {failure}; trying again every {}s", RETRY.as_secs());
        }
        self.failure = Some(failure);
        self.registered = None;
        self.retry_at = Instant::now() + RETRY;
    }

    /// The listener first: once `offload` exists calls may arrive, and
    /// [`exchange`] would pass over them.
    fn register(&self) -> Result<Registered> {
        let mut conn = Connection::connect(&self.socket, TIMEOUT)?;
        let missing_id = || Error::Status(Status::UnknownError);
        let seq = conn.next_seq();
        let listener = exchange(&mut conn, seq, &add_object(seq, None, None)?)?
            .objid
            .ok_or_else(missing_id)?;
        let seq = conn.next_seq();
        exchange(
            &mut conn,
            seq,
            &client::register_listener(seq, listener, NETIFD_EVENTS)?,
        )?;
        let seq = conn.next_seq();
        let object = exchange(
            &mut conn,
            seq,
            &add_object(seq, Some(OBJECT), Some(METHODS))?,
        )?
        .objid
        .ok_or_else(missing_id)?;
        Ok(Registered {
            conn,
            object,
            listener,
        })
    }

    /// Whole messages are buffered, read together with an earlier answer: poll will not
    /// report them, so [`Bus::receive`] must run without waiting.
    pub fn buffered(&self) -> bool {
        self.registered.as_ref().is_some_and(|r| r.conn.buffered())
    }

    /// Reads once if poll said the socket is `readable`, then hands the first buffered
    /// request to `handle` and answers it. One a call: the main loop sees to link
    /// changes between requests, and [`Bus::buffered`] says when more wait. A message
    /// that does not decode is logged and skipped; a stream that cannot be read on
    /// (ubusd gone, a length over 1 MiB) is dropped and registered anew later.
    pub fn receive(&mut self, readable: bool, mut handle: impl FnMut(Inbound<'_>) -> Answer) {
        if let Err(e) = self.receive_inner(readable, &mut handle) {
            self.fail(format!("connection lost: {e}"));
        }
    }

    fn receive_inner(
        &mut self,
        readable: bool,
        handle: &mut dyn FnMut(Inbound<'_>) -> Answer,
    ) -> Result<()> {
        let Some(reg) = self.registered.as_mut() else {
            return Ok(());
        };
        if readable {
            reg.conn.fill()?;
        }
        // Replies go out on the same connection: take each frame out of its buffer first.
        while let Some(frame) = reg.conn.next_frame()?.map(<[u8]>::to_vec) {
            let msg = match Message::decode(&frame) {
                Ok(msg) => msg,
                Err(e) => {
                    log::warn!("ubus: ignored a message from ubusd: {e}");
                    if let Some(reject) = reject_malformed(&frame) {
                        reg.conn.send(&reject?)?;
                    }
                    continue;
                }
            };
            let request = match Request::from_message(&msg) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!("ubus: ignored a request: {e}");
                    continue;
                }
            };
            let answer = if request.objid == reg.listener {
                handle(Inbound::Event(request.method))
            } else {
                match request.dispatch(reg.object, METHODS) {
                    Ok(method) => handle(Inbound::Call {
                        method: method.name,
                        args: request.args,
                    }),
                    Err(status) => Answer::status(status),
                }
            };
            if !request.no_reply {
                let replies = match reply(&request, &answer) {
                    Ok(replies) => replies,
                    Err(e) => {
                        log::warn!("ubus: cannot answer {}: {e}", request.method);
                        request.reply_status(Status::UnknownError)?
                    }
                };
                reg.conn.send(&replies)?;
            }
            break;
        }
        Ok(())
    }

    /// Publishes event `id` (`offload.applied`, ...); dropped while ubusd is away.
    pub fn send_event(&mut self, id: &str, data: &Map<String, Json>) {
        let Some(reg) = self.registered.as_mut() else {
            return;
        };
        let seq = reg.conn.next_seq();
        let sent = client::send_event(seq, id, data).and_then(|msg| reg.conn.send(&msg));
        if let Err(e) = sent {
            self.fail(format!("cannot send event {id}: {e}"));
        }
    }
}

/// DATA (if any) and STATUS, in one buffer: one write to ubusd.
fn reply(request: &Request<'_>, answer: &Answer) -> Result<Vec<u8>> {
    let mut out = match &answer.data {
        Some(data) => request.reply_data(data)?,
        None => Vec::new(),
    };
    out.extend(request.reply_status(answer.status)?);
    Ok(out)
}

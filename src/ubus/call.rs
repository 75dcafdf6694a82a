//! Waiting for answers: a request sent and every message read until its STATUS, as a
//! client does (`ubus call`) and as a server does while it registers its objects. Bounded
//! by the connection's timeout, so a silent ubusd cannot hang the caller.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::conn::Connection;
use super::message::{Kind, Message, Status};
use super::{client, Error, Result};

/// What came back for one request.
#[derive(Debug, Default)]
pub struct Answer {
    /// OBJID of the DATA replies: the new object's id for ADD_OBJECT, the object found
    /// for LOOKUP.
    pub objid: Option<u32>,
    /// The DATA payloads merged, in order (a later key replaces an earlier one).
    pub data: Map<String, Json>,
}

/// Sends request `seq` and reads until its STATUS: DATA replies for it are collected,
/// other messages ignored (nothing else may arrive for a caller that has not registered
/// an object yet). A STATUS other than OK is [`Error::Status`].
pub fn exchange(conn: &mut Connection, seq: u16, request: &[u8]) -> Result<Answer> {
    conn.send(request).map_err(timed_out)?;
    let mut answer = Answer::default();
    loop {
        let frame = conn.read_message().map_err(timed_out)?;
        let msg = Message::decode(frame)?;
        if msg.header.seq != seq {
            continue;
        }
        match msg.header.kind {
            Kind::Data => {
                answer.objid = msg.objid().or(answer.objid);
                if let Some(data) = msg.data() {
                    answer.data.extend(data.to_json());
                }
            }
            Kind::Status => {
                return match Status::from_code(msg.status().unwrap_or(-1)) {
                    Status::Ok => Ok(answer),
                    status => Err(Error::Status(status)),
                };
            }
            _ => {}
        }
    }
}

/// A read or write that ran into the connection's timeout.
fn timed_out(e: Error) -> Error {
    match e {
        Error::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Error::Status(Status::Timeout)
        }
        e => e,
    }
}

/// `ubus call OBJECT METHOD ARGS` on a connection of its own: LOOKUP, then INVOKE.
pub fn call(
    socket: &Path,
    object: &str,
    method: &str,
    args: &Map<String, Json>,
    timeout: Duration,
) -> Result<Map<String, Json>> {
    let mut conn = Connection::connect(socket, timeout).map_err(timed_out)?;
    let seq = conn.next_seq();
    let found = exchange(&mut conn, seq, &client::lookup(seq, Some(object))?)?;
    let objid = found.objid.ok_or(Error::Status(Status::NotFound))?;
    let seq = conn.next_seq();
    Ok(exchange(&mut conn, seq, &client::invoke(seq, objid, method, args)?)?.data)
}

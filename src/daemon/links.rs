//! Link events from rtnetlink, reduced to the changes that can change the plan: a device
//! appeared, went away, was renamed or moved to another master (bridge, bond). Carrier,
//! flag and statistics updates, the bulk of RTM_NEWLINK traffic, stop here and never wake
//! the pipeline.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::netlink::{attributes, messages, Socket, NLMSG_HDRLEN};

/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
/// The sequence number of our own dump request: its answers seed the table silently.
const DUMP_SEQ: u32 = 1;

/// What a link looked like when last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    name: String,
    master: u32,
}

/// One change that matters, named by the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Renamed {
        from: String,
        to: String,
    },
    Master(String),
    /// The kernel dropped events (the socket's queue overflowed): anything may have changed.
    Lost,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(name) => write!(f, "{name} added"),
            Change::Removed(name) => write!(f, "{name} removed"),
            Change::Renamed { from, to } => write!(f, "{from} renamed to {to}"),
            Change::Master(name) => write!(f, "{name} changed master"),
            Change::Lost => write!(f, "link events lost"),
        }
    }
}

pub struct LinkEvents {
    socket: Socket,
    links: HashMap<i32, Link>,
}

impl LinkEvents {
    /// Subscribes to link events and asks for the current links, which seed the table
    /// as their answers arrive (they come through [`LinkEvents::drain`] too).
    pub fn open() -> io::Result<LinkEvents> {
        let events = LinkEvents {
            socket: Socket::link_events()?,
            links: HashMap::new(),
        };
        events.request_dump()?;
        Ok(events)
    }

    fn request_dump(&self) -> io::Result<()> {
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN;
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&libc::RTM_GETLINK.to_ne_bytes());
        msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
        msg.extend_from_slice(&DUMP_SEQ.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.resize(len, 0); // AF_UNSPEC: every link
        self.socket.send(&msg)
    }

    /// Reads every queued event and returns the changes that matter.
    pub fn drain(&mut self) -> io::Result<Vec<Change>> {
        let mut changes = Vec::new();
        loop {
            let datagram = match self.socket.try_recv() {
                Ok(Some(datagram)) => datagram,
                Ok(None) => return Ok(changes),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    changes.push(Change::Lost);
                    self.request_dump()?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for msg in messages(&datagram) {
                let msg = msg?;
                let seeding = msg.seq == DUMP_SEQ;
                if let Some(change) = self.update(msg.msg_type, msg.payload) {
                    if !seeding {
                        changes.push(change);
                    }
                }
            }
        }
    }

    /// Records one RTM_NEWLINK/RTM_DELLINK; other messages (NLMSG_DONE) change nothing.
    fn update(&mut self, msg_type: u16, payload: &[u8]) -> Option<Change> {
        let index = i32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
        let mut link = Link {
            name: String::new(),
            master: 0,
        };
        for attr in attributes(payload.get(IFINFOMSG_LEN..)?).map_while(Result::ok) {
            match attr.kind {
                IFLA_IFNAME => link.name = attr.string().ok()?,
                IFLA_MASTER => link.master = u32::from_ne_bytes(attr.payload.try_into().ok()?),
                _ => {}
            }
        }
        match msg_type {
            libc::RTM_DELLINK => self
                .links
                .remove(&index)
                .map(|old| Change::Removed(old.name)),
            libc::RTM_NEWLINK => match self.links.insert(index, link.clone()) {
                None => Some(Change::Added(link.name)),
                Some(old) if old.name != link.name => Some(Change::Renamed {
                    from: old.name,
                    to: link.name,
                }),
                Some(old) if old.master != link.master => Some(Change::Master(link.name)),
                Some(_) => None,
            },
            _ => None,
        }
    }
}

impl AsRawFd for LinkEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

//! The object-server side: registering an object (ADD_OBJECT with a signature), taking
//! the INVOKE requests ubusd relays to it, and answering each with DATA and STATUS.
//!
//! ubusd relays a call as INVOKE whose header carries the caller's client id as peer and
//! the caller's sequence number; the answers must carry both back, so a [`Request`] keeps
//! them and builds its replies. The server also answers events it listens to
//! ([`super::client::register_listener`]): they arrive as INVOKE on the listener object
//! with the event name as method, and want a STATUS only.

use super::blobmsg::{self, Entries, List, Type, Value};
use super::message::{Attr, Builder, Header, Kind, Message, Status, UBUS_ATTR_SIGNATURE};
use super::{malformed, Result};

/// A method as the signature publishes it: its arguments and their blobmsg types.
#[derive(Clone, Copy, Debug)]
pub struct Method<'m> {
    pub name: &'m str,
    pub args: &'m [(&'m str, Type)],
}

/// ADD_OBJECT: `path` names the object (an event listener has none); the methods become
/// the signature ubusd hands out in LOOKUP replies. ubusd answers DATA with the object's
/// id (OBJID) and type (OBJTYPE), then STATUS.
pub fn add_object(seq: u16, path: Option<&str>, methods: Option<&[Method<'_>]>) -> Result<Vec<u8>> {
    let mut b = Builder::new(Header {
        kind: Kind::AddObject,
        seq,
        peer: 0,
    });
    if let Some(path) = path {
        b = b.attr(Attr::ObjPath(path));
    }
    if let Some(methods) = methods {
        let w = b.writer();
        let signature = w.open(UBUS_ATTR_SIGNATURE, false);
        for method in methods {
            let table = blobmsg::open(w, Type::Table, method.name);
            for (arg, ty) in method.args {
                blobmsg::put(w, arg, &Value::Int32(*ty as i32));
            }
            w.close(table);
        }
        w.close(signature);
    }
    b.finish()
}

/// STATUS INVALID_ARGUMENT for an INVOKE whose attributes do not decode: its 8-byte
/// header still names the caller and sequence number, so the caller is not left waiting
/// (libubus answers such a request the same way). `None` for other messages.
pub fn reject_malformed(frame: &[u8]) -> Option<Result<Vec<u8>>> {
    let header = Header::from_bytes(frame)?;
    (header.kind == Kind::Invoke).then(|| {
        Builder::new(Header {
            kind: Kind::Status,
            ..header
        })
        .attr(Attr::Status(Status::InvalidArgument as i32))
        .finish()
    })
}

/// One call relayed by ubusd, and where its answers go.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The caller's client id.
    pub peer: u32,
    pub seq: u16,
    pub objid: u32,
    pub method: &'a str,
    pub args: Option<List<'a>>,
    /// UBUS_ATTR_NO_REPLY: the caller wants no answer (a notification sent without waiting).
    pub no_reply: bool,
}

impl<'a> Request<'a> {
    /// The request in an INVOKE; `Ok(None)` for other message types.
    pub fn from_message(msg: &Message<'a>) -> Result<Option<Self>> {
        if msg.header.kind != Kind::Invoke {
            return Ok(None);
        }
        let (Some(objid), Some(method)) = (msg.objid(), msg.method()) else {
            return malformed(0, "INVOKE without object id or method");
        };
        Ok(Some(Request {
            peer: msg.header.peer,
            seq: msg.header.seq,
            objid,
            method,
            args: msg.data(),
            no_reply: msg.no_reply().unwrap_or(false),
        }))
    }

    /// Finds the method among `methods` of the object `objid`: the status to answer with
    /// otherwise (libubus's answers: NOT_FOUND for another object, METHOD_NOT_FOUND).
    pub fn dispatch<'m>(
        &self,
        objid: u32,
        methods: &'m [Method<'m>],
    ) -> std::result::Result<&'m Method<'m>, Status> {
        if self.objid != objid {
            return Err(Status::NotFound);
        }
        methods
            .iter()
            .find(|m| m.name == self.method)
            .ok_or(Status::MethodNotFound)
    }

    fn header(&self, kind: Kind) -> Header {
        Header {
            kind,
            seq: self.seq,
            peer: self.peer,
        }
    }

    /// DATA: the reply payload (there may be several before the STATUS).
    pub fn reply_data(&self, data: &dyn Entries) -> Result<Vec<u8>> {
        Builder::new(self.header(Kind::Data))
            .attr(Attr::ObjId(self.objid))
            .data(data)
            .finish()
    }

    /// STATUS: ends the request.
    pub fn reply_status(&self, status: Status) -> Result<Vec<u8>> {
        Builder::new(self.header(Kind::Status))
            .attr(Attr::Status(status as i32))
            .attr(Attr::ObjId(self.objid))
            .finish()
    }
}

//! What a client sends: LOOKUP of an object path, INVOKE of a method, and events.
//!
//! Events go through ubusd's own event object (id 1): `send` with `{id: <event name>,
//! data: <payload>}` publishes one (as `ubus send` does); `register` with `{object: <id of
//! a listener object added without path>, pattern}` subscribes that object, after which
//! matching events arrive at it as INVOKE (see [`super::server::Request`]).

use super::blob::Writer;
use super::blobmsg::{self, Entries, Type, Value};
use super::message::{Attr, Builder, Header, Kind};
use super::Result;

/// ubusd's event object (`UBUS_SYSTEM_OBJECT_EVENT`).
pub const EVENT_OBJECT: u32 = 1;

/// LOOKUP: ubusd answers one DATA per object (OBJPATH, OBJID, OBJTYPE, SIGNATURE), then
/// STATUS; NOT_FOUND (4) if nothing matches. Without a path it lists every object.
pub fn lookup(seq: u16, path: Option<&str>) -> Result<Vec<u8>> {
    let b = Builder::new(Header {
        kind: Kind::Lookup,
        seq,
        peer: 0,
    });
    match path {
        Some(path) => b.attr(Attr::ObjPath(path)),
        None => b,
    }
    .finish()
}

/// INVOKE `method` on object `objid` (addressed in the header too); ubusd relays DATA
/// replies and a final STATUS.
pub fn invoke(seq: u16, objid: u32, method: &str, args: &dyn Entries) -> Result<Vec<u8>> {
    Builder::new(Header {
        kind: Kind::Invoke,
        seq,
        peer: objid,
    })
    .attr(Attr::ObjId(objid))
    .attr(Attr::Method(method))
    .data(args)
    .finish()
}

/// Publishes event `id` with `data` as its payload.
pub fn send_event(seq: u16, id: &str, data: &dyn Entries) -> Result<Vec<u8>> {
    let payload = |w: &mut Writer| {
        blobmsg::put(w, "id", &Value::String(id));
        let table = blobmsg::open(w, Type::Table, "data");
        data.write_entries(w);
        w.close(table);
    };
    invoke(seq, EVENT_OBJECT, "send", &payload)
}

/// Subscribes the listener object `objid` to events matching `pattern` (`*` as the last
/// character matches a prefix).
pub fn register_listener(seq: u16, objid: u32, pattern: &str) -> Result<Vec<u8>> {
    let payload = |w: &mut Writer| {
        // libubus writes the id with blobmsg_add_u32: INT32 whatever its value.
        blobmsg::put(w, "object", &Value::Int32(objid as i32));
        blobmsg::put(w, "pattern", &Value::String(pattern));
    };
    invoke(seq, EVENT_OBJECT, "register", &payload)
}

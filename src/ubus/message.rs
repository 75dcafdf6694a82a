//! A ubus message: an 8-byte header (version 0, type, big-endian sequence number and peer)
//! followed by one blob attribute whose payload holds the `UBUS_ATTR_*` attributes.
//!
//! The peer is the sender's or the addressee's client id in messages between clients and
//! ubusd's own, and the object id in a client's INVOKE; ubusd answers a request with the
//! request's sequence number.

use super::blob::{self, Attrs, Writer};
use super::blobmsg::{Entries, List};
use super::{malformed, Result, MAX_MSGLEN};

pub const HEADER_LEN: usize = 8;

/// Header and blob header: what must be read to know a message's length.
pub const PREFIX_LEN: usize = HEADER_LEN + blob::HEADER_LEN;

/// Attribute ids (`enum ubus_msg_attr`, ubusmsg.h).
pub const UBUS_ATTR_STATUS: u32 = 1;
pub const UBUS_ATTR_OBJPATH: u32 = 2;
pub const UBUS_ATTR_OBJID: u32 = 3;
pub const UBUS_ATTR_METHOD: u32 = 4;
pub const UBUS_ATTR_OBJTYPE: u32 = 5;
pub const UBUS_ATTR_SIGNATURE: u32 = 6;
pub const UBUS_ATTR_DATA: u32 = 7;
pub const UBUS_ATTR_TARGET: u32 = 8;
pub const UBUS_ATTR_ACTIVE: u32 = 9;
pub const UBUS_ATTR_NO_REPLY: u32 = 10;
pub const UBUS_ATTR_USER: u32 = 12;
pub const UBUS_ATTR_GROUP: u32 = 13;

/// Message types (`enum ubus_msg_type`, ubusmsg.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hello = 0,
    Status = 1,
    Data = 2,
    Ping = 3,
    Lookup = 4,
    Invoke = 5,
    AddObject = 6,
    RemoveObject = 7,
    Subscribe = 8,
    Unsubscribe = 9,
    Notify = 10,
    Monitor = 11,
}

impl Kind {
    const ALL: [Kind; 12] = [
        Kind::Hello,
        Kind::Status,
        Kind::Data,
        Kind::Ping,
        Kind::Lookup,
        Kind::Invoke,
        Kind::AddObject,
        Kind::RemoveObject,
        Kind::Subscribe,
        Kind::Unsubscribe,
        Kind::Notify,
        Kind::Monitor,
    ];

    pub fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(n)).copied()
    }
}

/// Status codes (`enum ubus_msg_status`) a server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    InvalidCommand = 1,
    InvalidArgument = 2,
    MethodNotFound = 3,
    NotFound = 4,
    NoData = 5,
    PermissionDenied = 6,
    Timeout = 7,
    NotSupported = 8,
    UnknownError = 9,
    ConnectionFailed = 10,
}

impl Status {
    /// The status a STATUS message carries; unknown codes read as [`Status::UnknownError`].
    pub fn from_code(code: i32) -> Status {
        const ALL: [Status; 11] = [
            Status::Ok,
            Status::InvalidCommand,
            Status::InvalidArgument,
            Status::MethodNotFound,
            Status::NotFound,
            Status::NoData,
            Status::PermissionDenied,
            Status::Timeout,
            Status::NotSupported,
            Status::UnknownError,
            Status::ConnectionFailed,
        ];
        usize::try_from(code)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Status::UnknownError)
    }

    /// How ubus(1) words it (`ubus_strerror`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "Success",
            Status::InvalidCommand => "Invalid command",
            Status::InvalidArgument => "Invalid argument",
            Status::MethodNotFound => "Method not found",
            Status::NotFound => "Not found",
            Status::NoData => "No response",
            Status::PermissionDenied => "Permission denied",
            Status::Timeout => "Request timed out",
            Status::NotSupported => "Operation not supported",
            Status::UnknownError => "Unknown error",
            Status::ConnectionFailed => "Connection failed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub seq: u16,
    pub peer: u32,
}

impl Header {
    /// The header at the start of `bytes`; `None` if they are fewer than [`HEADER_LEN`] or
    /// the type is unknown. Says nothing of what follows.
    pub fn from_bytes(bytes: &[u8]) -> Option<Header> {
        let &[_, kind, s0, s1, p0, p1, p2, p3] = bytes.get(..HEADER_LEN)? else {
            return None;
        };
        Some(Header {
            kind: Kind::from_u8(kind)?,
            seq: u16::from_be_bytes([s0, s1]),
            peer: u32::from_be_bytes([p0, p1, p2, p3]),
        })
    }

    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let [s0, s1] = self.seq.to_be_bytes();
        let [p0, p1, p2, p3] = self.peer.to_be_bytes();
        [0, self.kind as u8, s0, s1, p0, p1, p2, p3]
    }
}

/// Checks the first [`PREFIX_LEN`] bytes of a message and returns its whole length, or
/// `None` if fewer bytes are given. libubus reads exactly this many bytes per message.
pub fn frame_len(bytes: &[u8]) -> Result<Option<usize>> {
    let Some(tag) = bytes.get(HEADER_LEN..).and_then(blob::tag) else {
        return Ok(None);
    };
    if bytes[0] != 0 {
        return malformed(0, "unknown ubus message version");
    }
    if tag.len < blob::HEADER_LEN {
        return malformed(HEADER_LEN, "blob length is shorter than its header");
    }
    if blob::pad(tag.len) > MAX_MSGLEN {
        return malformed(HEADER_LEN, "message longer than ubus's 1 MiB limit");
    }
    Ok(Some(HEADER_LEN + tag.len))
}

/// One ubus attribute. Strings and tables borrow the message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attr<'a> {
    Status(i32),
    ObjPath(&'a str),
    ObjId(u32),
    Method(&'a str),
    ObjType(u32),
    /// ADD_OBJECT and LOOKUP replies: method name → table of argument name → INT32
    /// holding the argument's `BLOBMSG_TYPE_*`.
    Signature(List<'a>),
    /// The blobmsg payload of INVOKE and DATA.
    Data(List<'a>),
    Target(u32),
    Active(bool),
    NoReply(bool),
    User(&'a str),
    Group(&'a str),
    /// SUBSCRIBERS and ids unknown here, kept raw so they re-encode unchanged.
    Other {
        id: u32,
        payload: &'a [u8],
    },
}

impl<'a> Attr<'a> {
    /// Decodes and checks one attribute, with the types ubus's `ubus_policy` gives them.
    /// Tables are checked whole once, in [`Message::decode`] (`check_tables`).
    fn parse(attr: blob::Attr<'a>, check_tables: bool) -> Result<Self> {
        let (p, at) = (attr.payload, attr.at + blob::HEADER_LEN);
        let table = || match check_tables {
            true => List::table(p, at),
            false => Ok(List::checked_table(p, at)),
        };
        let u32_of = || {
            p.try_into()
                .map(u32::from_be_bytes)
                .or_else(|_| malformed(at, "32-bit ubus attribute has the wrong size"))
        };
        let flag = || match p {
            [b] => Ok(*b != 0),
            _ => malformed(at, "8-bit ubus attribute has the wrong size"),
        };
        Ok(match attr.id {
            UBUS_ATTR_STATUS => Attr::Status(u32_of()? as i32),
            UBUS_ATTR_OBJPATH => Attr::ObjPath(blob::c_str(p, at)?),
            UBUS_ATTR_OBJID => Attr::ObjId(u32_of()?),
            UBUS_ATTR_METHOD => Attr::Method(blob::c_str(p, at)?),
            UBUS_ATTR_OBJTYPE => Attr::ObjType(u32_of()?),
            UBUS_ATTR_SIGNATURE => Attr::Signature(table()?),
            UBUS_ATTR_DATA => Attr::Data(table()?),
            UBUS_ATTR_TARGET => Attr::Target(u32_of()?),
            UBUS_ATTR_ACTIVE => Attr::Active(flag()?),
            UBUS_ATTR_NO_REPLY => Attr::NoReply(flag()?),
            UBUS_ATTR_USER => Attr::User(blob::c_str(p, at)?),
            UBUS_ATTR_GROUP => Attr::Group(blob::c_str(p, at)?),
            _ => Attr::Other {
                id: attr.id,
                payload: p,
            },
        })
    }

    fn write(&self, w: &mut Writer) {
        match *self {
            Attr::Status(n) => put_u32(w, UBUS_ATTR_STATUS, n as u32),
            Attr::ObjPath(s) => put_str(w, UBUS_ATTR_OBJPATH, s),
            Attr::ObjId(n) => put_u32(w, UBUS_ATTR_OBJID, n),
            Attr::Method(s) => put_str(w, UBUS_ATTR_METHOD, s),
            Attr::ObjType(n) => put_u32(w, UBUS_ATTR_OBJTYPE, n),
            Attr::Signature(list) => put_nested(w, UBUS_ATTR_SIGNATURE, &list),
            Attr::Data(list) => put_nested(w, UBUS_ATTR_DATA, &list),
            Attr::Target(n) => put_u32(w, UBUS_ATTR_TARGET, n),
            Attr::Active(b) => w.put(UBUS_ATTR_ACTIVE, &[u8::from(b)]),
            Attr::NoReply(b) => w.put(UBUS_ATTR_NO_REPLY, &[u8::from(b)]),
            Attr::User(s) => put_str(w, UBUS_ATTR_USER, s),
            Attr::Group(s) => put_str(w, UBUS_ATTR_GROUP, s),
            Attr::Other { id, payload } => w.put(id, payload),
        }
    }
}

fn put_u32(w: &mut Writer, id: u32, n: u32) {
    w.put(id, &n.to_be_bytes());
}

fn put_str(w: &mut Writer, id: u32, s: &str) {
    let open = w.open(id, false);
    w.bytes(s.as_bytes());
    w.bytes(&[0]);
    w.close(open);
}

/// A nested attribute (SIGNATURE, DATA) holding blobmsg entries.
fn put_nested(w: &mut Writer, id: u32, entries: &dyn Entries) {
    let open = w.open(id, false);
    entries.write_entries(w);
    w.close(open);
}

/// Builds one message: the header, then attributes written in order.
pub struct Builder {
    w: Writer,
    root: blob::Open,
}

impl Builder {
    pub fn new(header: Header) -> Self {
        let mut w = Writer::new(&header.to_bytes());
        let root = w.open(0, false);
        Builder { w, root }
    }

    pub fn attr(mut self, attr: Attr<'_>) -> Self {
        attr.write(&mut self.w);
        self
    }

    /// UBUS_ATTR_DATA from anything that writes blobmsg entries.
    pub fn data(mut self, entries: &dyn Entries) -> Self {
        put_nested(&mut self.w, UBUS_ATTR_DATA, entries);
        self
    }

    /// Direct access for attributes built by hand (a signature).
    pub fn writer(&mut self) -> &mut Writer {
        &mut self.w
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.w.close(self.root);
        self.w.finish()
    }
}

/// `name -> T = Variant;`: the value of the last attribute of that variant.
macro_rules! getters {
    ($($name:ident -> $ty:ty = $variant:ident;)*) => {$(
        pub fn $name(&self) -> Option<$ty> {
            self.last(|a| match a {
                Attr::$variant(v) => Some(v),
                _ => None,
            })
        }
    )*};
}

/// A checked message, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub header: Header,
    body: &'a [u8],
}

impl<'a> Message<'a> {
    /// Decodes one whole message (as [`frame_len`] delimits it), checking every attribute.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let Some(len) = frame_len(bytes)? else {
            return malformed(0, "shorter than a ubus header and blob header");
        };
        if len != bytes.len() {
            return malformed(HEADER_LEN, "blob length does not match the message length");
        }
        // frame_len checked the length: only the type can be wrong.
        let Some(header) = Header::from_bytes(bytes) else {
            return malformed(1, "unknown ubus message type");
        };
        let message = Message {
            header,
            body: &bytes[PREFIX_LEN..],
        };
        for attr in Attrs::new(message.body, PREFIX_LEN) {
            Attr::parse(attr?, true)?;
        }
        Ok(message)
    }

    /// The attributes in wire order.
    pub fn attrs(&self) -> impl Iterator<Item = Attr<'a>> + 'a {
        // Checked by `decode`, so nothing here fails.
        Attrs::new(self.body, PREFIX_LEN).map_while(|attr| Attr::parse(attr.ok()?, false).ok())
    }

    /// Re-encodes the message from its decoded attributes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.attrs()
            .fold(Builder::new(self.header), Builder::attr)
            .finish()
    }

    /// The last attribute `pick` selects: libubus's `blob_parse` keeps the last of a kind.
    fn last<T>(&self, pick: impl Fn(Attr<'a>) -> Option<T>) -> Option<T> {
        self.attrs().filter_map(pick).last()
    }

    getters! {
        status -> i32 = Status;
        objid -> u32 = ObjId;
        objtype -> u32 = ObjType;
        objpath -> &'a str = ObjPath;
        method -> &'a str = Method;
        data -> List<'a> = Data;
        signature -> List<'a> = Signature;
        no_reply -> bool = NoReply;
    }
}

/// Same header and the same attributes, compared by value (not by padding bytes).
impl PartialEq for Message<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header && self.attrs().eq(other.attrs())
    }
}

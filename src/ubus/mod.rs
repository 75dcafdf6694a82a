//! The ubus wire protocol, as spoken by OpenWrt's ubusd and libubus, for the daemon's
//! `offload` object and its events.
//!
//! One module per layer:
//! - [`blob`]: libubox blob attributes (big-endian id/length word with the extended bit,
//!   4-byte padding): a validating zero-copy iterator and a writer.
//! - [`blobmsg`]: named blob attributes (the JSON-like payloads): a zero-copy [`blobmsg::Value`]
//!   view, conversion to `serde_json`, and encoding from either.
//! - [`message`]: the 8-byte ubus header, message types, `UBUS_ATTR_*` attributes, status
//!   codes; [`message::Message::decode`] and [`message::Message::encode`].
//! - [`server`]: what an object server sends and receives (ADD_OBJECT with a signature,
//!   INVOKE requests, DATA + STATUS replies).
//! - [`client`]: what a client sends (LOOKUP, INVOKE, events through ubusd's object 1).
//! - [`call`]: waiting for the answer to a request, and a whole `ubus call` on its own
//!   connection.
//! - [`conn`]: a blocking unix-socket connection with a bounded read buffer that a poll(2)
//!   loop drives.
//!
//! Decoding never panics, never allocates (the views borrow the received bytes), and rejects
//! anything malformed or over ubus's 1 MiB limit with an [`Error`] naming the byte offset.
//!
//! ## Why not the `ubus` crate (0.1.7)
//! It has no server side, and what it has is wrong where it matters:
//! - `UbusCmdType`: NOTIFY and MONITOR are 0x10/0x11, ubus uses 10/11 ([`message::Kind`]).
//! - `UbusMsgHeader`: typed with that `UbusCmdType` ([`message::Header`]).
//! - Decoding (`Blob`, `BlobIter`, `Payload`, `UbusMsgAttr::from`, `BlobMsg`): slices and
//!   `unwrap()`s that panic on short or non-UTF-8 input, debug builds panic on purpose on
//!   invalid data (`BlobTag::is_valid` too), errors inside a list end the iteration
//!   silently, tables become `HashMap`s (order lost, so nothing re-encodes byte-identically),
//!   and BOOL/INT8 (both type 7) decode as an integer.
//! - Encoding: `UbusMsgBuilder` writes into caller buffers (1 KiB in `Connection`) and hits
//!   `unimplemented!()` for signatures; `BlobMsgBuilder` unwraps.
//! - `Connection`: a fixed 64 KiB receive array (a bigger message panics; ubus allows
//!   1 MiB), blocking reads of whole messages, `dbg!` on unexpected replies.
//!
//! What it got right were three small types: the blob id/length word ([`blob::Tag`]), the
//! `UBUS_ATTR_*` ids (in [`message`]) and the `BLOBMSG_TYPE_*` ids ([`blobmsg::Type`]). They
//! are a few lines here, checked by `tests/uapi.rs` against libubox's `blob.h` and
//! `blobmsg.h` and ubus's `ubusmsg.h`, so the crate is not a dependency (it would bring
//! serde's derive, thiserror and storage_endian for them).

pub mod blob;
pub mod blobmsg;
pub mod call;
pub mod client;
pub mod conn;
pub mod message;
pub mod server;

use std::fmt;
use std::io;

/// Largest blob ubus accepts after the 8-byte header (`UBUS_MAX_MSGLEN`, ubusmsg.h):
/// libubus drops a connection whose message claims more.
pub const MAX_MSGLEN: usize = 1 << 20;

#[derive(Debug)]
pub enum Error {
    /// Received bytes that are not a valid ubus message; `at` is the offset in the message.
    Malformed { at: usize, what: &'static str },
    /// A message we were asked to build cannot be sent (too long, a name over 64 KiB).
    Encode(&'static str),
    /// The socket failed.
    Io(io::Error),
    /// ubusd closed the connection.
    Closed,
    /// A request was answered with a status other than OK (or not answered in time).
    Status(message::Status),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn malformed<T>(at: usize, what: &'static str) -> Result<T> {
    Err(Error::Malformed { at, what })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed { at, what } => {
                write!(f, "malformed ubus message at byte {at}: {what}")
            }
            Error::Encode(what) => write!(f, "cannot encode ubus message: {what}"),
            Error::Io(e) => write!(f, "ubus socket: {e}"),
            Error::Closed => write!(f, "ubus socket closed by ubusd"),
            Error::Status(status) => write!(f, "ubus: {}", status.as_str()),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

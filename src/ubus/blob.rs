//! libubox blob attributes: a big-endian word (bit 31 extended, bits 24..30 the id, bits
//! 0..23 the length including the word itself), the payload, then zero padding to 4 bytes.
//! A container's payload is a sequence of such attributes, each padded; libubox always
//! writes it that way, so anything else (a stray tail, padding past the end) is rejected.

use super::{malformed, Error, Result, MAX_MSGLEN};

/// The id/length word's fields (`BLOB_ATTR_*`, blob.h).
pub const ID_MASK: u32 = 0x7f00_0000;
pub const ID_SHIFT: u32 = 24;
pub const LEN_MASK: u32 = 0x00ff_ffff;
pub const EXTENDED: u32 = 0x8000_0000;
/// `BLOB_ATTR_ALIGN`.
pub const ALIGN: usize = 4;

/// Size of the id/length word.
pub const HEADER_LEN: usize = 4;

/// `len` rounded up to blob alignment.
pub fn pad(len: usize) -> usize {
    len.next_multiple_of(ALIGN)
}

/// An id/length word, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub id: u32,
    /// The whole attribute's length, this word included, padding not.
    pub len: usize,
    pub extended: bool,
}

/// Reads an id/length word from the start of `bytes`.
pub fn tag(bytes: &[u8]) -> Option<Tag> {
    let word = u32::from_be_bytes(*bytes.first_chunk()?);
    Some(Tag {
        id: (word & ID_MASK) >> ID_SHIFT,
        len: (word & LEN_MASK) as usize,
        extended: word & EXTENDED != 0,
    })
}

/// One attribute inside a received buffer. `at` is the offset of its header in the message,
/// for error messages.
#[derive(Clone, Copy, Debug)]
pub struct Attr<'a> {
    pub id: u32,
    pub extended: bool,
    pub payload: &'a [u8],
    pub at: usize,
}

/// The attributes of a container payload, in order. Yields at most one error, then stops.
#[derive(Clone, Copy, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    at: usize,
}

impl<'a> Attrs<'a> {
    /// `at` is the offset of `payload` in the message.
    pub fn new(payload: &'a [u8], at: usize) -> Self {
        Attrs { rest: payload, at }
    }

    fn fail(&mut self, what: &'static str) -> Option<Result<Attr<'a>>> {
        self.rest = &[];
        Some(malformed(self.at, what))
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(tag) = tag(self.rest) else {
            return self.fail("truncated blob attribute header");
        };
        let len = tag.len;
        if len < HEADER_LEN {
            return self.fail("blob attribute length is shorter than its header");
        }
        if pad(len) > self.rest.len() {
            return self.fail("blob attribute runs past its container");
        }
        let (this, rest) = self.rest.split_at(pad(len));
        let attr = Attr {
            id: tag.id,
            extended: tag.extended,
            payload: &this[HEADER_LEN..len],
            at: self.at,
        };
        self.rest = rest;
        self.at += pad(len);
        Some(Ok(attr))
    }
}

/// A string attribute's payload: UTF-8 text and a terminating NUL (blob_check_type).
pub fn c_str(payload: &[u8], at: usize) -> Result<&str> {
    match payload.split_last() {
        Some((0, text)) => {
            std::str::from_utf8(text).or_else(|_| malformed(at, "string is not UTF-8"))
        }
        _ => malformed(at, "string is not NUL-terminated"),
    }
}

/// An attribute opened with [`Writer::open`], to be closed with [`Writer::close`].
#[must_use]
pub struct Open {
    at: usize,
    id: u32,
    extended: bool,
}

/// Builds blob attributes into one buffer, after a fixed prefix (the ubus header). The
/// prefix is a multiple of 4 bytes, so alignment is that of the buffer.
pub struct Writer {
    buf: Vec<u8>,
    prefix: usize,
    error: Option<&'static str>,
}

impl Writer {
    pub fn new(prefix: &[u8]) -> Self {
        Writer {
            buf: prefix.to_vec(),
            prefix: prefix.len(),
            error: None,
        }
    }

    /// Starts an attribute; its length is filled in by [`Writer::close`].
    pub fn open(&mut self, id: u32, extended: bool) -> Open {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; HEADER_LEN]);
        Open { at, id, extended }
    }

    /// Ends an attribute: its length counts everything written since `open` (so a
    /// container's length includes its children's padding, as libubox's), then pads it.
    pub fn close(&mut self, open: Open) {
        let len = self.buf.len() - open.at;
        if open.id > ID_MASK >> ID_SHIFT {
            self.fail("blob attribute id over 127");
        } else if len > LEN_MASK as usize {
            self.fail("blob attribute longer than 16 MiB");
        } else {
            let word = open.id << ID_SHIFT | len as u32 | if open.extended { EXTENDED } else { 0 };
            self.buf[open.at..open.at + HEADER_LEN].copy_from_slice(&word.to_be_bytes());
        }
        self.align();
    }

    /// A whole attribute with the given payload.
    pub fn put(&mut self, id: u32, payload: &[u8]) {
        let open = self.open(id, false);
        self.bytes(payload);
        self.close(open);
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Zero padding up to the next 4-byte boundary.
    pub fn align(&mut self) {
        self.buf.resize(pad(self.buf.len()), 0);
    }

    /// Makes [`Writer::finish`] fail: for input that cannot be represented.
    pub fn fail(&mut self, what: &'static str) {
        self.error.get_or_insert(what);
    }

    /// The prefix and the attributes, if everything fitted ubus's limits.
    pub fn finish(self) -> Result<Vec<u8>> {
        if let Some(what) = self.error {
            return Err(Error::Encode(what));
        }
        if self.buf.len() - self.prefix > MAX_MSGLEN {
            return Err(Error::Encode("message longer than ubus's 1 MiB limit"));
        }
        Ok(self.buf)
    }
}

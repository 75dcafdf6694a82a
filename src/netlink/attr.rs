//! Writing and reading netlink messages and attributes (`struct nlattr`, 4-byte aligned).

use std::io;

use super::{NFGENMSG_LEN, NLMSG_HDRLEN};

const NLA_HDRLEN: usize = 4;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Builds a stream of messages (a batch, or a single request) in one buffer.
#[derive(Debug, Default)]
pub struct MessageWriter {
    buf: Vec<u8>,
    message: Option<usize>,
    nests: Vec<usize>,
}

impl MessageWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a message: `struct nlmsghdr`, then `struct nfgenmsg` (family, version 0,
    /// resource id in network order).
    pub fn begin(&mut self, msg_type: u16, flags: u16, seq: u32, family: u8, res_id: u16) {
        debug_assert!(self.message.is_none(), "message not ended");
        self.message = Some(self.buf.len());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&msg_type.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&[family, 0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
    }

    pub fn end(&mut self) {
        debug_assert!(self.nests.is_empty(), "nest not ended");
        let start = self.message.take().expect("message begun");
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// A NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING expect.
    pub fn put_str(&mut self, kind: u16, value: &str) {
        let mut payload = Vec::with_capacity(value.len() + 1);
        payload.extend_from_slice(value.as_bytes());
        payload.push(0);
        self.put(kind, &payload);
    }

    pub fn put_be32(&mut self, kind: u16, value: u32) {
        self.put(kind, &value.to_be_bytes());
    }

    pub fn put_be64(&mut self, kind: u16, value: u64) {
        self.put(kind, &value.to_be_bytes());
    }

    pub fn nest_begin(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    pub fn nest_end(&mut self) {
        let start = self.nests.pop().expect("nest begun");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn finish(self) -> Vec<u8> {
        debug_assert!(self.message.is_none() && self.nests.is_empty());
        self.buf
    }
}

/// One message of a received buffer; `payload` follows the nlmsghdr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// Attributes after the nfgenmsg header.
    pub fn attributes(&self) -> impl Iterator<Item = io::Result<Attr<'a>>> {
        attributes(self.payload.get(NFGENMSG_LEN..).unwrap_or(&[]))
    }

    /// The family byte of the nfgenmsg header.
    pub fn family(&self) -> Option<u8> {
        self.payload.first().copied()
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Splits a buffer into messages; a length that lies is an error, never a panic.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = io::Result<Message<'_>>> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        if buf.len() < NLMSG_HDRLEN {
            buf = &[];
            return Some(Err(invalid("truncated netlink header")));
        }
        let word = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes"));
        let len = word(0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            buf = &[];
            return Some(Err(invalid("netlink message length out of bounds")));
        }
        let msg = Message {
            msg_type: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: word(8),
            payload: &buf[NLMSG_HDRLEN..len],
        };
        buf = &buf[align(len).min(buf.len())..];
        Some(Ok(msg))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    pub fn nested(&self) -> impl Iterator<Item = io::Result<Attr<'a>>> {
        attributes(self.payload)
    }

    pub fn be32(&self) -> io::Result<u32> {
        Ok(u32::from_be_bytes(
            self.payload
                .try_into()
                .map_err(|_| invalid("not a 32-bit attribute"))?,
        ))
    }

    pub fn be64(&self) -> io::Result<u64> {
        Ok(u64::from_be_bytes(
            self.payload
                .try_into()
                .map_err(|_| invalid("not a 64-bit attribute"))?,
        ))
    }

    pub fn string(&self) -> io::Result<String> {
        let bytes = self.payload.split(|&b| b == 0).next().unwrap_or(&[]);
        String::from_utf8(bytes.to_vec()).map_err(|_| invalid("attribute is not UTF-8"))
    }
}

pub fn attributes(mut buf: &[u8]) -> impl Iterator<Item = io::Result<Attr<'_>>> {
    std::iter::from_fn(move || {
        if buf.len() < NLA_HDRLEN {
            // Trailing padding shorter than a header is not an attribute.
            buf = &[];
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > buf.len() {
            buf = &[];
            return Some(Err(invalid("netlink attribute length out of bounds")));
        }
        let attr = Attr {
            kind,
            payload: &buf[NLA_HDRLEN..len],
        };
        buf = &buf[align(len).min(buf.len())..];
        Some(Ok(attr))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_nested_attributes() {
        let mut w = MessageWriter::new();
        w.begin(0x0a16, 0x0405, 7, 1, 0);
        w.put_str(1, "fw4_offload");
        w.nest_begin(3);
        w.put_be32(1, 0);
        w.nest_begin(3);
        w.put_str(1, "lan1");
        w.put_str(1, "wan");
        w.nest_end();
        w.nest_end();
        w.put_be64(5, 42);
        w.end();
        let buf = w.finish();
        assert_eq!(buf.len() % 4, 0);

        let msgs: Vec<Message> = messages(&buf).collect::<io::Result<_>>().unwrap();
        assert_eq!(msgs.len(), 1);
        let m = msgs[0];
        assert_eq!(
            (m.msg_type, m.flags, m.seq, m.family()),
            (0x0a16, 0x0405, 7, Some(1))
        );
        let attrs: Vec<Attr> = m.attributes().collect::<io::Result<_>>().unwrap();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs[0].string().unwrap(), "fw4_offload");
        let hook: Vec<Attr> = attrs[1].nested().collect::<io::Result<_>>().unwrap();
        assert_eq!(hook[0].be32().unwrap(), 0);
        let devs: Vec<String> = hook[1]
            .nested()
            .map(|a| a.unwrap().string().unwrap())
            .collect();
        assert_eq!(devs, ["lan1", "wan"]);
        assert_eq!(attrs[2].be64().unwrap(), 42);
    }

    #[test]
    fn lying_lengths_are_errors() {
        let mut w = MessageWriter::new();
        w.begin(1, 0, 1, 0, 0);
        w.put_str(1, "x");
        w.end();
        let mut buf = w.finish();
        let mut long = buf.clone();
        long[0] = 200;
        assert!(messages(&long).next().unwrap().is_err());
        assert!(messages(&buf[..10]).next().unwrap().is_err());
        // An attribute claiming more than the message holds.
        buf[NLMSG_HDRLEN + NFGENMSG_LEN] = 60;
        let m = messages(&buf).next().unwrap().unwrap();
        assert!(m.attributes().next().unwrap().is_err());
    }
}

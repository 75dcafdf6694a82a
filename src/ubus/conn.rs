//! A connection to ubusd over its unix socket, for a poll(2) loop: the socket stays
//! blocking; after poll reports it readable, [`Connection::fill`] does one read(2), then
//! [`Connection::next_frame`] hands out every complete message buffered, however the bytes
//! were split across reads. The buffer grows to the largest message seen, at most
//! [`MAX_MSGLEN`](super::MAX_MSGLEN) plus the header; a message claiming more is an error,
//! after which the stream cannot be resynchronised and the connection must be dropped
//! (libubus does so too).

use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::message::{self, Kind, Message, PREFIX_LEN};
use super::{malformed, Error, Result};

/// Enough for every message in ordinary traffic; bigger ones grow the buffer.
const INITIAL_BUFFER: usize = 4096;

pub struct Connection {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    seq: u16,
}

impl Connection {
    /// Connects to ubusd's socket (OpenWrt: `/var/run/ubus/ubus.sock`) and waits for HELLO;
    /// reads and writes are bounded by `timeout` (HELLO included) for the connection's life.
    pub fn connect(path: impl AsRef<Path>, timeout: std::time::Duration) -> Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Self::from_stream(stream)
    }

    /// Waits for ubusd's HELLO on an already connected stream.
    pub fn from_stream(stream: UnixStream) -> Result<Self> {
        let mut conn = Connection {
            stream,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            seq: 0,
        };
        // HELLO also carries our client id, which nothing here needs.
        if Message::decode(conn.read_message()?)?.header.kind != Kind::Hello {
            return malformed(1, "ubusd did not start with HELLO");
        }
        Ok(conn)
    }

    /// The sequence number for our next request (libubus starts at 1 and wraps).
    pub fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Writes a whole message (blocking).
    pub fn send(&mut self, message: &[u8]) -> Result<()> {
        Ok(self.stream.write_all(message)?)
    }

    /// One read(2) into the buffer: blocks only if nothing is available, so call it when
    /// poll reports the socket readable. Returns how many bytes arrived: 0 when a signal
    /// interrupted the read, or without reading when the buffer is full of a whole message
    /// that [`Connection::next_frame`] has not taken yet.
    pub fn fill(&mut self) -> Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = message::frame_len(&self.buf[..self.end])?.unwrap_or(PREFIX_LEN);
        if want > self.buf.len() {
            self.buf.resize(want, 0);
        }
        if self.end == self.buf.len() {
            // A whole message is buffered already: nothing to read.
            return Ok(0);
        }
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) => Err(Error::Closed),
            Ok(n) => {
                self.end += n;
                Ok(n)
            }
            // A signal arrived first (the daemon handles SIGHUP); poll will wake us again.
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The length of the whole message at the start of the unconsumed bytes, if it is
    /// all there.
    fn complete_frame(&self) -> Result<Option<usize>> {
        let pending = &self.buf[self.start..self.end];
        Ok(message::frame_len(pending)?.filter(|&len| len <= pending.len()))
    }

    fn next_range(&mut self) -> Result<Option<Range<usize>>> {
        Ok(self.complete_frame()?.map(|len| {
            let range = self.start..self.start + len;
            self.start += len;
            range
        }))
    }

    /// Whether a whole message is buffered already: poll will not say so, the bytes
    /// have been read (they arrived together with the answer a caller waited for).
    pub fn buffered(&self) -> bool {
        matches!(self.complete_frame(), Ok(Some(_)))
    }

    /// The next complete message already buffered, if any (decode it with
    /// [`Message::decode`]; a message that does not decode can be skipped).
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>> {
        Ok(self.next_range()?.map(|range| &self.buf[range]))
    }

    /// Blocks until a whole message is there.
    pub fn read_message(&mut self) -> Result<&[u8]> {
        loop {
            if let Some(range) = self.next_range()? {
                return Ok(&self.buf[range]);
            }
            self.fill()?;
        }
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

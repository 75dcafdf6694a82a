//! Netlink sockets: NETLINK_NETFILTER for nf_tables requests (send a buffer, receive whole
//! datagrams), and NETLINK_ROUTE subscribed to link events for the daemon's poll loop.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Big enough for any datagram the kernel sends for a dump (it fills up to 32 KiB pages).
const RECV_BUFFER: usize = 64 * 1024;
/// The kernel answers a batch at once; silence for this long means it never will.
const RECV_TIMEOUT_SECS: libc::time_t = 5;

#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl Socket {
    pub const DUMP_BUFFER: usize = RECV_BUFFER;

    fn open(protocol: libc::c_int) -> io::Result<Socket> {
        // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd from here on.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd })
    }

    pub fn netfilter() -> io::Result<Socket> {
        let socket = Socket::open(libc::NETLINK_NETFILTER)?;
        let timeout = libc::timeval {
            tv_sec: RECV_TIMEOUT_SECS,
            tv_usec: 0,
        };
        // SAFETY: setsockopt reads exactly size_of::<timeval>() bytes from `timeout`.
        let rc = unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(socket)
    }

    /// NETLINK_ROUTE, subscribed to link events (RTM_NEWLINK/RTM_DELLINK multicasts).
    pub fn link_events() -> io::Result<Socket> {
        let socket = Socket::open(libc::NETLINK_ROUTE)?;
        // SAFETY: sockaddr_nl is plain data; zero is "let the kernel pick the port id".
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: `addr` is valid for the length given.
        let rc = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(socket)
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; all-zero is its "kernel, no groups" value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `buf` and `addr` are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        match sent {
            n if n < 0 => Err(io::Error::last_os_error()),
            n if n as usize != buf.len() => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "netlink message sent in part",
            )),
            _ => Ok(()),
        }
    }

    /// One datagram (possibly several messages).
    pub fn recv(&self) -> io::Result<Vec<u8>> {
        self.recv_flags(0)
    }

    /// One datagram if one is queued, `None` if none is (for a poll loop draining events).
    /// ENOBUFS means the kernel dropped events because the queue overflowed.
    pub fn try_recv(&self) -> io::Result<Option<Vec<u8>>> {
        match self.recv_flags(libc::MSG_DONTWAIT) {
            Ok(buf) => Ok(Some(buf)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn recv_flags(&self, flags: libc::c_int) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; RECV_BUFFER];
        let n = self.recv_into(&mut buf, flags)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// One datagram into `buf` (a dump reads thousands through the same buffer); its
    /// length. A buffer of [`Socket::DUMP_BUFFER`] bytes holds any the kernel sends.
    pub fn recv_into(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

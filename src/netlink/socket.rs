//! Netlink sockets: NETLINK_NETFILTER for nf_tables requests (send a buffer, receive whole
//! datagrams), and NETLINK_ROUTE subscribed to link events for the daemon's poll loop.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Big enough for any datagram the kernel sends for a dump (it fills up to 32 KiB pages).
pub const RECV_BUFFER: usize = 64 * 1024;
/// The kernel answers a batch at once; silence for this long means it never will.
const RECV_TIMEOUT_MS: libc::c_int = 5000;

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
        Socket::open(libc::NETLINK_NETFILTER)
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

    /// Sends `buf` to the kernel, which handles it before this returns. A signal that
    /// interrupts the send leaves nothing sent, so it is sent again.
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; all-zero is its "kernel, no groups" value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let sent = loop {
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
            if sent >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break sent;
            }
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

    /// One datagram (possibly several messages) into `buf`, which [`RECV_BUFFER`] bytes
    /// always fit; returns its length. Waits at most [`RECV_TIMEOUT_MS`], and again after
    /// a signal interrupts the wait (EINTR), as [`Socket::send`] sends again.
    ///
    /// The wait is poll(2)'s, not SO_RCVTIMEO's: poll takes an int of milliseconds,
    /// SO_RCVTIMEO a `struct timeval`, whose `time_t` the libc crate declares 32 bits wide
    /// on 32-bit musl targets (mipsel) and musl 1.2 makes 64 bits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pollfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one pollfd, valid for the call.
            let received = match unsafe { libc::poll(&mut pollfd, 1, RECV_TIMEOUT_MS) } {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer from the kernel in {RECV_TIMEOUT_MS} ms"),
                    ))
                }
                n if n < 0 => Err(io::Error::last_os_error()),
                _ => self.recv_flags(buf, 0),
            };
            match received {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                received => return received,
            }
        }
    }

    /// One datagram if one is queued, `None` if none is (for a poll loop draining events).
    /// ENOBUFS means the kernel dropped events because the queue overflowed.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.recv_flags(buf, libc::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn recv_flags(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
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

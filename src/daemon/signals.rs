//! SIGTERM/SIGINT (stop) and SIGHUP (reload) as readable bytes on a pipe, so the poll loop
//! sees a signal whenever it arrives: the handler only writes the signal's number (the
//! self-pipe trick; write(2) is async-signal-safe).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WRITE_END: AtomicI32 = AtomicI32::new(-1);

/// The handler runs between any two instructions of the interrupted code, which may be
/// about to read errno (a failed recv, say): it keeps errno as it found it.
extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno is the calling thread's own; __errno_location is async-signal-safe.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    let fd = WRITE_END.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) of one byte from the stack; a full pipe just drops the byte,
    // and a signal already queued there does the same job.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    // SAFETY: as above.
    unsafe { *errno = saved };
}

pub struct Signals {
    read_end: OwnedFd,
    _write_end: OwnedFd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Stop,
    Reload,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned from here on.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WRITE_END.store(write_end.as_raw_fd(), Ordering::Relaxed);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            // SAFETY: sigaction is plain data; the handler is async-signal-safe.
            let rc = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut())
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Signals {
            read_end,
            _write_end: write_end,
        })
    }

    /// The signals that arrived since the last call, stop first if any asked to stop.
    pub fn drain(&self) -> Option<Signal> {
        let mut buf = [0u8; 16];
        let mut seen = None;
        loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe {
                libc::read(
                    self.read_end.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n <= 0 {
                return seen;
            }
            for &b in &buf[..n as usize] {
                let signal = match b as libc::c_int {
                    libc::SIGHUP => Signal::Reload,
                    _ => Signal::Stop,
                };
                if seen != Some(Signal::Stop) {
                    seen = Some(signal);
                }
            }
        }
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.read_end.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write fails here (no pipe yet: EBADF, as a full pipe gives EAGAIN), which
    /// must not show in the errno the interrupted code reads next.
    #[test]
    fn the_handler_keeps_errno() {
        assert_eq!(
            WRITE_END.load(Ordering::Relaxed),
            -1,
            "no pipe in this test"
        );
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() = libc::EINTR };
        on_signal(libc::SIGHUP);
        assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EINTR));
    }
}

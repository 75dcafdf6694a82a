//! The daemon's `log` backend: syslog over the local socket (`/dev/log`, where OpenWrt's
//! logd listens, so `logread` shows the lines), stderr when there is no syslog.
//!
//! Each line is one datagram, `<PRI>fw4-offload[PID]: message` with facility daemon, as
//! musl's syslog(3) sends it. Lines carry no timestamp: logd stamps what it receives, and
//! RFC 3164 receivers add the time to messages that lack one.
//!
//! Not the `syslog` crate (7): it connects once and never again, so when logd restarts
//! (its socket is a new one) every later line would be lost, and its formatting was
//! replaced here anyway; what remained was a datagram send, for which it brought `time`
//! and `hostname`. Here a failed send drops the connection and the next line connects
//! anew; a line that cannot be sent goes to stderr (procd hands the daemon's stderr to
//! logd as well, when the init script asks it to).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;

use libc::c_int;
use log::{Level, LevelFilter, Log, Metadata, Record};

const IDENT: &str = "fw4-offload";

pub struct Syslog {
    path: PathBuf,
    pid: u32,
    level: LevelFilter,
    socket: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    /// Installs the logger as `log`'s backend; `path` is the syslog socket.
    pub fn install(path: PathBuf, level: LevelFilter) {
        // Lives as long as the process, as `log` needs; a logger installed already wins.
        let logger = Box::leak(Box::new(Syslog::new(path, std::process::id(), level)));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(level);
        }
    }

    fn new(path: PathBuf, pid: u32, level: LevelFilter) -> Syslog {
        Syslog {
            path,
            pid,
            level,
            socket: Mutex::new(None),
        }
    }

    /// Sends one line with `severity` (`LOG_ERR` ...); false if no syslog took it.
    fn send(&self, severity: c_int, message: &str) -> bool {
        let line = format!(
            "<{}>{IDENT}[{}]: {message}",
            libc::LOG_DAEMON | severity,
            self.pid
        );
        let Ok(mut socket) = self.socket.lock() else {
            return false;
        };
        // A dead connection fails the first send: reconnect once and try again.
        for _ in 0..2 {
            if socket.is_none() {
                *socket = UnixDatagram::unbound()
                    .and_then(|s| s.connect(&self.path).map(|()| s))
                    .ok();
            }
            let Some(connected) = socket.as_ref() else {
                return false;
            };
            if connected.send(line.as_bytes()).is_ok() {
                return true;
            }
            *socket = None;
        }
        false
    }
}

impl Log for Syslog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let severity = match record.level() {
            Level::Error => libc::LOG_ERR,
            Level::Warn => libc::LOG_WARNING,
            Level::Info => libc::LOG_INFO,
            Level::Debug | Level::Trace => libc::LOG_DEBUG,
        };
        let message = record.args().to_string();
        if !self.send(severity, &message) {
            eprintln!(
                "{IDENT}: {}: {message}",
                record.level().as_str().to_lowercase()
            );
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn lines_reach_a_restarted_syslog() {
        let dir = std::env::temp_dir().join(format!("fw4-offload-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let log = Syslog::new(path.clone(), 42, LevelFilter::Info);

        let logd = UnixDatagram::bind(&path).unwrap();
        assert!(log.send(libc::LOG_INFO, "applied: add devices lan3"));
        // daemon (3) << 3 | info (6) = 30
        assert_eq!(
            receive(&logd),
            "<30>fw4-offload[42]: applied: add devices lan3"
        );

        // logd restarts: its socket is a new one at the same path.
        drop(logd);
        std::fs::remove_file(&path).unwrap();
        assert!(!log.send(libc::LOG_ERR, "lost: nobody listens"));
        let logd = UnixDatagram::bind(&path).unwrap();
        assert!(log.send(libc::LOG_ERR, "the kernel refused"));
        assert_eq!(receive(&logd), "<27>fw4-offload[42]: the kernel refused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

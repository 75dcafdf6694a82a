//! The daemon's `log` backend: syslog over the local socket (`/dev/log`, where OpenWrt's
//! logd listens, so `logread` shows the lines), stderr when there is no syslog.
//!
//! The `syslog` crate connects once and never again: when logd restarts, its socket is a
//! new one and every later line would be lost. Here a failed write drops the connection
//! and the next line connects anew; a line that cannot be sent goes to stderr (procd hands
//! the daemon's stderr to logd as well, when the init script asks it to).
//!
//! Lines carry no timestamp: logd stamps what it receives, and RFC 3164 receivers add the
//! time to messages that lack one.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, LogFormat, Logger, LoggerBackend, Severity};

const IDENT: &str = "fw4-offload";

/// `<PRI>fw4-offload[PID]: message`, facility daemon.
#[derive(Clone, Copy)]
struct Format {
    pid: u32,
}

impl<T: Display> LogFormat<T> for Format {
    fn format<W: Write>(&self, w: &mut W, severity: Severity, message: T) -> syslog::Result<()> {
        let priority = Facility::LOG_DAEMON as u8 | severity as u8;
        write!(w, "<{priority}>{IDENT}[{}]: {message}", self.pid).map_err(syslog::Error::Write)
    }
}

pub struct Syslog {
    path: PathBuf,
    format: Format,
    level: LevelFilter,
    connection: Mutex<Option<Logger<LoggerBackend, Format>>>,
}

impl Syslog {
    /// Installs the logger as `log`'s backend; `path` is the syslog socket.
    pub fn install(path: PathBuf, level: LevelFilter) {
        let logger = Syslog {
            path,
            format: Format {
                pid: std::process::id(),
            },
            level,
            connection: Mutex::new(None),
        };
        // Only fails when a logger is installed already: keep that one.
        if log::set_boxed_logger(Box::new(logger)).is_ok() {
            log::set_max_level(level);
        }
    }

    fn send(&self, severity: Severity, message: &str) -> bool {
        let Ok(mut connection) = self.connection.lock() else {
            return false;
        };
        // A dead connection fails the first write: reconnect once and try again.
        for _ in 0..2 {
            if connection.is_none() {
                *connection = syslog::unix_custom(self.format, &self.path).ok();
            }
            let Some(logger) = connection.as_mut() else {
                return false;
            };
            let sent = match severity {
                Severity::LOG_ERR => logger.err(message),
                Severity::LOG_WARNING => logger.warning(message),
                Severity::LOG_INFO => logger.info(message),
                _ => logger.debug(message),
            };
            if sent.is_ok() {
                return true;
            }
            *connection = None;
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
            Level::Error => Severity::LOG_ERR,
            Level::Warn => Severity::LOG_WARNING,
            Level::Info => Severity::LOG_INFO,
            Level::Debug | Level::Trace => Severity::LOG_DEBUG,
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

    fn logger(path: PathBuf) -> Syslog {
        Syslog {
            path,
            format: Format { pid: 42 },
            level: LevelFilter::Info,
            connection: Mutex::new(None),
        }
    }

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
        let log = logger(path.clone());

        let logd = UnixDatagram::bind(&path).unwrap();
        assert!(log.send(Severity::LOG_INFO, "applied: add devices lan3"));
        // daemon (3) << 3 | info (6) = 30
        assert_eq!(
            receive(&logd),
            "<30>fw4-offload[42]: applied: add devices lan3"
        );

        // logd restarts: its socket is a new one at the same path.
        drop(logd);
        std::fs::remove_file(&path).unwrap();
        assert!(!log.send(Severity::LOG_ERR, "lost: nobody listens"));
        let logd = UnixDatagram::bind(&path).unwrap();
        assert!(log.send(Severity::LOG_ERR, "the kernel refused"));
        assert_eq!(receive(&logd), "<27>fw4-offload[42]: the kernel refused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

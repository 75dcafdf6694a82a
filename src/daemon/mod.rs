//! `fw4-offload daemon`: the procd service. One thread, one poll(2) loop over the signal
//! pipe, rtnetlink link events and the ubus socket, with two deadlines: the end of a
//! hotplug burst, and the next try to reach ubusd while it is away.
//!
//! - [`bus`]: the `offload` object on ubus, and netifd's interface events.
//! - [`links`]: rtnetlink, reduced to the link changes that can change the plan.
//! - [`service`]: apply on every trigger, answer the object's methods, queue events.
//! - [`signals`]: SIGTERM/SIGINT stop, SIGHUP reloads.
//! - [`logging`]: syslog that survives logd restarts, stderr without it.

mod bus;
mod links;
mod logging;
mod service;
mod signals;

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bus::Bus;
use links::LinkEvents;
use service::Service;
use signals::{Signal, Signals};

use crate::stats::Sources;
use crate::System;

pub use bus::{METHODS, OBJECT};

pub struct Options {
    /// ubusd's socket.
    pub ubus: PathBuf,
    /// The syslog socket.
    pub syslog: PathBuf,
    /// Quiet time that ends a burst of link events.
    pub debounce: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ubus: PathBuf::from("/var/run/ubus/ubus.sock"),
            syslog: PathBuf::from("/dev/log"),
            debounce: Duration::from_millis(500),
        }
    }
}

/// Link events close together are one change: a `wifi reload` deletes and creates several
/// interfaces in a row, and one apply at the end of it is enough. A burst that never
/// goes quiet still applies after [`MAX_DELAY_FACTOR`] quiet times.
struct Debounce {
    quiet: Duration,
    first: Option<Instant>,
    last: Instant,
    /// What happened, for the log: the first few changes and how many more.
    reasons: Vec<String>,
    more: usize,
}

const MAX_DELAY_FACTOR: u32 = 4;
const MAX_REASONS: usize = 4;

impl Debounce {
    fn new(quiet: Duration) -> Debounce {
        Debounce {
            quiet,
            first: None,
            last: Instant::now(),
            reasons: Vec::new(),
            more: 0,
        }
    }

    fn touch(&mut self, now: Instant, reason: String) {
        self.first.get_or_insert(now);
        self.last = now;
        match self.reasons.len() < MAX_REASONS {
            true => self.reasons.push(reason),
            false => self.more += 1,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let first = self.first?;
        Some((self.last + self.quiet).min(first + self.quiet * MAX_DELAY_FACTOR))
    }

    /// The burst's description once it is over.
    fn take_due(&mut self, now: Instant) -> Option<String> {
        if self.deadline()? > now {
            return None;
        }
        self.first = None;
        let mut reasons = std::mem::take(&mut self.reasons).join(", ");
        if self.more > 0 {
            reasons += &format!(" and {} more", std::mem::take(&mut self.more));
        }
        Some(reasons)
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn ready(fd: &libc::pollfd) -> bool {
    fd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// Runs until SIGTERM or SIGINT. Fails only when the daemon cannot start at all.
pub fn run(system: System, sources: Sources, options: Options) -> io::Result<()> {
    logging::Syslog::install(options.syslog.clone(), log::LevelFilter::Info);
    let signals = Signals::install()?;
    let mut links = LinkEvents::open()?;
    let mut service = Service::new(system, sources, options.ubus.clone());
    let mut bus = Bus::new(options.ubus);
    let mut debounce = Debounce::new(options.debounce);
    log::info!("started");
    service.reload("start");

    loop {
        let now = Instant::now();
        let retry = bus.maintain(now);
        for (id, data) in service.take_events() {
            bus.send_event(id, &data);
        }
        let timeout = match [retry, debounce.deadline()].into_iter().flatten().min() {
            _ if bus.buffered() => 0,
            // Rounded up: waking before the deadline would only spin.
            Some(at) => at.saturating_duration_since(now).as_millis() as i32 + 1,
            None => -1,
        };
        let mut fds = vec![pollfd(signals.as_raw_fd()), pollfd(links.as_raw_fd())];
        fds.extend(bus.fd().map(pollfd));
        // SAFETY: `fds` is valid for its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }

        if ready(&fds[0]) {
            match signals.drain() {
                Some(Signal::Stop) => {
                    log::info!("stopped");
                    return Ok(());
                }
                Some(Signal::Reload) => {
                    service.reload("SIGHUP");
                }
                None => {}
            }
        }
        if ready(&fds[1]) {
            let mut changes = Vec::new();
            if let Err(e) = links.drain(&mut changes) {
                log::warn!("rtnetlink: {e}");
            }
            let now = Instant::now();
            changes
                .into_iter()
                .for_each(|c| debounce.touch(now, c.to_string()));
        }
        bus.receive(fds.get(2).is_some_and(ready), |inbound| {
            if let bus::Inbound::Event(name) = inbound {
                debounce.touch(Instant::now(), format!("netifd {name} event"));
            }
            service.answer(inbound)
        });
        if let Some(reasons) = debounce.take_due(Instant::now()) {
            service.reload(&format!("hotplug: {reasons}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_applies_once_after_it_goes_quiet() {
        let quiet = Duration::from_millis(100);
        let mut d = Debounce::new(quiet);
        let t0 = Instant::now();
        assert_eq!(d.deadline(), None);
        for i in 0..6 {
            d.touch(t0 + quiet / 2 * i, format!("veth{i} added"));
        }
        let last = t0 + quiet / 2 * 5;
        assert_eq!(d.deadline(), Some(last + quiet));
        assert_eq!(d.take_due(last + quiet / 2), None);
        assert_eq!(
            d.take_due(last + quiet).as_deref(),
            Some("veth0 added, veth1 added, veth2 added, veth3 added and 2 more")
        );
        assert_eq!(d.deadline(), None, "the burst is over");
    }

    #[test]
    fn a_burst_that_never_ends_still_applies() {
        let quiet = Duration::from_millis(100);
        let mut d = Debounce::new(quiet);
        let t0 = Instant::now();
        for i in 0..100 {
            d.touch(t0 + quiet / 2 * i, "carrier".into());
        }
        assert_eq!(d.deadline(), Some(t0 + quiet * MAX_DELAY_FACTOR));
    }
}

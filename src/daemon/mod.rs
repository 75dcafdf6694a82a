//! `fw4-offload daemon`: the procd service. One thread, one poll(2) loop over the signal
//! pipe, rtnetlink link events and the ubus socket, with two deadlines: the end of a
//! hotplug burst, and the next try to reach ubusd while it is away.
//!
//! - [`bus`]: the `offload` object on ubus, and netifd's interface events.
//! - [`links`]: rtnetlink, reduced to the link changes that can change the plan.
//! - [`service`]: apply on every trigger (a link event over the config as last read),
//!   answer the object's methods, queue events.
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
use links::{Change, LinkEvents};
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

/// Link events are applied at once when they come alone and merged when they come in a
/// burst. The first event after a quiet time applies on the spot: a new Wi-Fi interface
/// or PPPoE session should not wait on the slow path. Events that follow within the
/// quiet time of the one before are held and applied together once it has passed: a
/// `wifi reload` deletes and creates several interfaces in a row, and one more apply at
/// its end is enough. A burst that never goes quiet still applies after
/// [`MAX_DELAY_FACTOR`] quiet times.
struct Debounce {
    quiet: Duration,
    /// When the last event came.
    last: Option<Instant>,
    /// Events not applied yet.
    held: Option<Events>,
}

const MAX_DELAY_FACTOR: u32 = 4;
const MAX_REASONS: usize = 4;

/// Events read together or held together, applied in one go.
struct Events {
    since: Instant,
    /// What happened, for the log: the first few changes and how many more.
    reasons: Vec<String>,
    more: usize,
}

impl Events {
    fn new(since: Instant) -> Events {
        Events {
            since,
            reasons: Vec::new(),
            more: 0,
        }
    }

    fn add(&mut self, reasons: impl IntoIterator<Item = String>) {
        for reason in reasons {
            match self.reasons.len() < MAX_REASONS {
                true => self.reasons.push(reason),
                false => self.more += 1,
            }
        }
    }

    fn describe(self) -> String {
        let mut text = self.reasons.join(", ");
        if self.more > 0 {
            text += &format!(" and {} more", self.more);
        }
        text
    }
}

impl Debounce {
    fn new(quiet: Duration) -> Debounce {
        Debounce {
            quiet,
            last: None,
            held: None,
        }
    }

    /// Records the events read at `now` (none when the loop woke for the deadline) and
    /// returns what to apply now: events that open a burst, or the held ones once due
    /// (with any read alongside them).
    fn update(&mut self, now: Instant, reasons: Vec<String>) -> Option<String> {
        let mut due = self.deadline().is_some_and(|at| at <= now);
        if !reasons.is_empty() {
            // With events held, the deadline is at most a quiet time after the last
            // event: a quiet time since it means they are due, or that none are held.
            due |= self.last.is_none_or(|last| now >= last + self.quiet);
            self.last = Some(now);
            self.held
                .get_or_insert_with(|| Events::new(now))
                .add(reasons);
        }
        if !due {
            return None;
        }
        self.held.take().map(Events::describe)
    }

    /// When the held events are due.
    fn deadline(&self) -> Option<Instant> {
        let held = self.held.as_ref()?;
        let last = self.last?;
        Some((last + self.quiet).min(held.since + self.quiet * MAX_DELAY_FACTOR))
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
        // Link changes before ubus requests, and one request a wakeup: a change waits
        // for the request being answered when it came, never for those queued behind it
        // (4 clients asking for status keep the bus readable all the time).
        let mut changes = Vec::new();
        if ready(&fds[1]) {
            let mut found = Vec::new();
            if let Err(e) = links.drain(&mut found) {
                log::warn!("rtnetlink: {e}");
                // What went away is not known: the next apply reads the kernel.
                service.forget_kernel_state();
            }
            follow_hooks(&mut service, &found);
            changes.extend(found.iter().map(ToString::to_string));
        }
        hotplug(&mut service, &mut debounce, changes);
        let mut changes = Vec::new();
        bus.receive(fds.get(2).is_some_and(ready), |inbound| {
            if let bus::Inbound::Event(name) = inbound {
                changes.push(format!("netifd {name} event"));
                // `/etc/init.d/network reload` after an edit comes as interface events.
                service.config_changed();
            }
            service.answer(inbound)
        });
        hotplug(&mut service, &mut debounce, changes);
    }
}

/// Keeps the state the last apply left in line with the hooks the kernel changes by
/// itself, without a new generation: it drops a device's hooks as the device goes away,
/// and lists a renamed one's under its new name. The state is forgotten (the next apply
/// reads the kernel) when that is simpler or not known.
fn follow_hooks(service: &mut Service, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Removed(name) => service.device_removed(name),
            Change::Renamed { .. } | Change::Lost => service.forget_kernel_state(),
            Change::Added(_) | Change::Master(_) => {}
        }
    }
}

/// Records the `changes` just read and applies what is due.
fn hotplug(service: &mut Service, debounce: &mut Debounce, changes: Vec<String>) {
    if let Some(reasons) = debounce.update(Instant::now(), changes) {
        service.refresh(&format!("hotplug: {reasons}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_millis(100);

    fn added(i: u32) -> Vec<String> {
        vec![format!("veth{i} added")]
    }

    #[test]
    fn a_single_event_applies_at_once() {
        let mut d = Debounce::new(QUIET);
        let t0 = Instant::now();
        assert_eq!(d.update(t0, added(0)).as_deref(), Some("veth0 added"));
        assert_eq!(d.deadline(), None, "nothing held");
        assert_eq!(d.update(t0 + QUIET * 10, Vec::new()), None);
        // A quiet time later, the next one opens a burst of its own.
        let t1 = t0 + QUIET;
        assert_eq!(d.update(t1, added(1)).as_deref(), Some("veth1 added"));
    }

    #[test]
    fn events_read_together_apply_together() {
        let mut d = Debounce::new(QUIET);
        let reasons = (0..3).flat_map(added).collect();
        let first = d.update(Instant::now(), reasons);
        assert_eq!(
            first.as_deref(),
            Some("veth0 added, veth1 added, veth2 added")
        );
        assert_eq!(d.update(Instant::now(), Vec::new()), None, "no events");
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn a_burst_applies_at_its_start_and_once_more_when_it_goes_quiet() {
        let mut d = Debounce::new(QUIET);
        let t0 = Instant::now();
        assert!(
            d.update(t0, added(0)).is_some(),
            "the first applies at once"
        );
        for i in 1..8 {
            let at = t0 + QUIET / 2 * i;
            assert_eq!(d.update(at, Vec::new()), None);
            assert_eq!(d.update(at, added(i)), None, "veth{i} is held");
        }
        let last = t0 + QUIET / 2 * 7;
        assert_eq!(d.deadline(), Some(last + QUIET));
        assert_eq!(d.update(last + QUIET / 2, Vec::new()), None);
        assert_eq!(
            d.update(last + QUIET, Vec::new()).as_deref(),
            Some("veth1 added, veth2 added, veth3 added, veth4 added and 3 more")
        );
        assert_eq!(d.deadline(), None, "the burst is over");
        assert_eq!(
            d.update(last + QUIET * 10, Vec::new()),
            None,
            "applied once"
        );
    }

    #[test]
    fn events_read_late_join_the_held_ones() {
        let mut d = Debounce::new(QUIET);
        let t0 = Instant::now();
        d.update(t0, added(0));
        let last = t0 + QUIET / 2;
        assert_eq!(d.update(last, added(1)), None);
        // Read after the deadline passed but before the loop took the held events: a
        // quiet time has passed, yet they go out with the held ones, in one apply.
        let late = last + QUIET * 2;
        assert_eq!(
            d.update(late, added(2)).as_deref(),
            Some("veth1 added, veth2 added")
        );
        assert_eq!(
            d.update(late + QUIET, added(3)).as_deref(),
            Some("veth3 added")
        );
    }

    #[test]
    fn a_burst_that_never_ends_still_applies() {
        let mut d = Debounce::new(QUIET);
        let t0 = Instant::now();
        let mut applied = Vec::new();
        for i in 0..100 {
            let at = t0 + QUIET / 2 * i;
            if d.update(at, added(i)).is_some() {
                applied.push(at);
            }
        }
        // At the start, then every MAX_DELAY_FACTOR quiet times (the first held event
        // comes half a quiet time after the apply).
        assert_eq!(applied[0], t0);
        for pair in applied.windows(2) {
            assert_eq!(pair[1] - pair[0], QUIET * MAX_DELAY_FACTOR + QUIET / 2);
        }
        assert_eq!(applied.len(), 12, "events 0, 9, 18, ..., 99");
    }
}

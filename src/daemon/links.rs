//! Link events from rtnetlink, reduced to the changes that can change the plan: a device
//! appeared, went away, was renamed or moved to another master (bridge, bond). Carrier,
//! flag and statistics updates, the bulk of RTM_NEWLINK traffic, stop here and never wake
//! the pipeline.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::netlink::{attributes, messages, Socket, NLMSG_HDRLEN, RECV_BUFFER};

/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;

/// What a link looked like when last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    name: String,
    master: u32,
}

/// One change that matters, named by the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Renamed {
        from: String,
        to: String,
    },
    Master(String),
    /// The kernel dropped events (the socket's queue overflowed): anything may have changed.
    Lost,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(name) => write!(f, "{name} added"),
            Change::Removed(name) => write!(f, "{name} removed"),
            Change::Renamed { from, to } => write!(f, "{from} renamed to {to}"),
            Change::Master(name) => write!(f, "{name} changed master"),
            Change::Lost => write!(f, "link events lost"),
        }
    }
}

/// The links as the kernel has shown them, kept up to date by its messages. After
/// events were lost, a dump of every link brings it back in line: the dump's answers
/// and the events that arrive meanwhile are what exists, so every other link is one
/// whose RTM_DELLINK was among the lost.
#[derive(Debug, Default)]
struct LinkTable {
    links: HashMap<i32, Link>,
    /// Sequence number of the dump under way, and the links seen since it began.
    dump: Option<(u32, HashSet<i32>)>,
    /// Events were lost while no dump could be asked for (one was under way, or the
    /// request failed): the next dump is due.
    dump_due: bool,
    last_dump_seq: u32,
}

impl LinkTable {
    /// The sequence number for a new dump, if one is due and none is under way (a
    /// socket runs one dump at a time).
    fn start_dump(&mut self) -> Option<u32> {
        if !self.dump_due || self.dump.is_some() {
            return None;
        }
        self.last_dump_seq += 1;
        Some(self.last_dump_seq)
    }

    /// The dump `seq` was asked for.
    fn dump_started(&mut self, seq: u32) {
        self.dump_due = false;
        self.dump = Some((seq, HashSet::new()));
    }

    fn lost(&mut self, changes: &mut Vec<Change>) {
        changes.push(Change::Lost);
        self.dump_due = true;
    }

    /// Takes one datagram. Events are reported; a dump's answers fill the table
    /// silently. A datagram that does not parse lost its events.
    fn read(&mut self, datagram: &[u8], changes: &mut Vec<Change>) -> io::Result<()> {
        for msg in messages(datagram) {
            let msg = match msg {
                Ok(msg) => msg,
                Err(e) => {
                    self.lost(changes);
                    return Err(e);
                }
            };
            let dumped = self.dump.as_ref().is_some_and(|(seq, _)| *seq == msg.seq);
            match msg.msg_type {
                NLMSG_DONE | NLMSG_ERROR if dumped => {
                    let (_, seen) = self.dump.take().expect("a dump under way");
                    if msg.msg_type == NLMSG_ERROR {
                        self.dump_due = true; // the dump failed: ask again
                        continue;
                    }
                    let gone: Vec<i32> = self
                        .links
                        .keys()
                        .filter(|index| !seen.contains(index))
                        .copied()
                        .collect();
                    for index in gone {
                        let link = self.links.remove(&index).expect("listed");
                        changes.push(Change::Removed(link.name));
                    }
                }
                libc::RTM_NEWLINK | libc::RTM_DELLINK => {
                    let Some((index, change)) = self.update(msg.msg_type, msg.payload) else {
                        continue;
                    };
                    if let Some((_, seen)) = &mut self.dump {
                        seen.insert(index);
                    }
                    if let (Some(change), false) = (change, dumped) {
                        changes.push(change);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Records one RTM_NEWLINK/RTM_DELLINK: the link's index and the change, if any.
    fn update(&mut self, msg_type: u16, payload: &[u8]) -> Option<(i32, Option<Change>)> {
        let index = i32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
        let mut link = Link {
            name: String::new(),
            master: 0,
        };
        for attr in attributes(payload.get(IFINFOMSG_LEN..)?).map_while(Result::ok) {
            match attr.kind {
                IFLA_IFNAME => link.name = attr.string().ok()?,
                IFLA_MASTER => link.master = u32::from_ne_bytes(attr.payload.try_into().ok()?),
                _ => {}
            }
        }
        let change = match msg_type {
            libc::RTM_DELLINK => self
                .links
                .remove(&index)
                .map(|old| Change::Removed(old.name)),
            _ => match self.links.insert(index, link.clone()) {
                None => Some(Change::Added(link.name)),
                Some(old) if old.name != link.name => Some(Change::Renamed {
                    from: old.name,
                    to: link.name,
                }),
                Some(old) if old.master != link.master => Some(Change::Master(link.name)),
                Some(_) => None,
            },
        };
        Some((index, change))
    }
}

pub struct LinkEvents {
    socket: Socket,
    table: LinkTable,
    /// The receive buffer, allocated once.
    buf: Vec<u8>,
}

impl LinkEvents {
    /// Subscribes to link events and asks for the current links, which seed the table
    /// as their answers arrive (they come through [`LinkEvents::drain`] too).
    pub fn open() -> io::Result<LinkEvents> {
        let mut events = LinkEvents {
            socket: Socket::link_events()?,
            table: LinkTable {
                dump_due: true,
                ..LinkTable::default()
            },
            buf: vec![0; RECV_BUFFER],
        };
        events.request_dump()?;
        Ok(events)
    }

    /// Asks for every link, if a dump is due.
    fn request_dump(&mut self) -> io::Result<()> {
        let Some(seq) = self.table.start_dump() else {
            return Ok(());
        };
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN;
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&libc::RTM_GETLINK.to_ne_bytes());
        msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.resize(len, 0); // AF_UNSPEC: every link
        self.socket.send(&msg)?;
        self.table.dump_started(seq);
        Ok(())
    }

    /// Reads every queued event and adds the changes that matter to `changes`. Those
    /// read before an error stay there: an error ends the reading, never the changes.
    pub fn drain(&mut self, changes: &mut Vec<Change>) -> io::Result<()> {
        loop {
            self.request_dump()?;
            let n = match self.socket.try_recv(&mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.table.lost(changes);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.table.read(&self.buf[..n], changes)?;
        }
    }
}

impl AsRawFd for LinkEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// An RTM_NEWLINK/RTM_DELLINK as the kernel lays it out: header, ifinfomsg, IFLA_IFNAME.
    fn link_message(msg_type: u16, seq: u32, index: i32, name: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&((4 + name.len() + 1) as u16).to_ne_bytes());
        attr.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        attr.extend_from_slice(name.as_bytes());
        attr.push(0);
        attr.resize((attr.len() + 3) & !3, 0);
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN + attr.len();
        let mut msg = Vec::new();
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&msg_type.to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        let mut ifinfo = [0u8; IFINFOMSG_LEN];
        ifinfo[4..8].copy_from_slice(&index.to_ne_bytes());
        msg.extend_from_slice(&ifinfo);
        msg.extend_from_slice(&attr);
        msg
    }

    /// NLMSG_DONE, or NLMSG_ERROR with `errno`, ending dump `seq`.
    fn end_message(seq: u32, errno: Option<i32>) -> Vec<u8> {
        let (msg_type, code) = match errno {
            None => (NLMSG_DONE, 0),
            Some(e) => (NLMSG_ERROR, -e),
        };
        let mut msg = Vec::new();
        msg.extend_from_slice(&20u32.to_ne_bytes());
        msg.extend_from_slice(&msg_type.to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&code.to_ne_bytes());
        msg
    }

    fn read(table: &mut LinkTable, messages: &[Vec<u8>]) -> Vec<Change> {
        let mut changes = Vec::new();
        table.read(&messages.concat(), &mut changes).unwrap();
        changes
    }

    /// A table seeded by its first dump with `eth0` (1) and `wg0` (2).
    fn seeded() -> LinkTable {
        let mut table = LinkTable {
            dump_due: true,
            ..LinkTable::default()
        };
        let seq = table.start_dump().unwrap();
        table.dump_started(seq);
        let dump = [
            link_message(libc::RTM_NEWLINK, seq, 1, "eth0"),
            link_message(libc::RTM_NEWLINK, seq, 2, "wg0"),
            end_message(seq, None),
        ];
        assert_eq!(read(&mut table, &dump), [], "a dump seeds silently");
        table
    }

    #[test]
    fn after_a_loss_the_dump_removes_links_gone_meanwhile() {
        let mut table = seeded();
        let mut changes = Vec::new();
        table.lost(&mut changes);
        let seq = table.start_dump().expect("a dump is due");
        table.dump_started(seq);
        // While the dump runs, veth0 appears (its event comes before the dump reaches it,
        // or after it passed): it stays. wg0 went while events were lost.
        let answers = [
            link_message(libc::RTM_NEWLINK, seq, 1, "eth0"),
            link_message(libc::RTM_NEWLINK, 0, 3, "veth0"),
            end_message(seq, None),
        ];
        changes.extend(read(&mut table, &answers));
        assert_eq!(
            changes,
            [
                Change::Lost,
                Change::Added("veth0".into()),
                Change::Removed("wg0".into())
            ]
        );
        let mut names: Vec<_> = table.links.values().map(|l| l.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["eth0", "veth0"]);
    }

    #[test]
    fn a_loss_during_a_dump_asks_again_once_it_ends() {
        let mut table = seeded();
        let mut changes = Vec::new();
        table.lost(&mut changes);
        let first = table.start_dump().unwrap();
        table.dump_started(first);
        table.lost(&mut changes);
        assert_eq!(table.start_dump(), None, "one dump at a time");
        read(&mut table, &[end_message(first, None)]);
        let second = table.start_dump().expect("asked again");
        table.dump_started(second);
        // A dump the kernel refused is asked for again.
        read(&mut table, &[end_message(second, Some(libc::EBUSY))]);
        assert!(table.start_dump().is_some());
        assert_eq!(changes, [Change::Lost, Change::Lost]);
    }

    #[test]
    fn a_bad_datagram_keeps_what_came_before_it_and_counts_as_a_loss() {
        let mut table = seeded();
        let mut datagram = link_message(libc::RTM_DELLINK, 0, 2, "wg0");
        datagram.extend_from_slice(&[0xff; 8]); // a header that lies about its length
        let mut changes = Vec::new();
        assert!(table.read(&datagram, &mut changes).is_err());
        assert_eq!(changes, [Change::Removed("wg0".into()), Change::Lost]);
        assert!(table.start_dump().is_some());
    }

    fn ip(args: &str) {
        let status = Command::new("ip").args(args.split(' ')).status().unwrap();
        assert!(status.success(), "ip {args}");
    }

    /// Drains until `done` holds for what arrived, or 10 s went by.
    fn drain_until(events: &mut LinkEvents, done: impl Fn(&[Change]) -> bool) -> Vec<Change> {
        let start = Instant::now();
        let mut changes = Vec::new();
        while !done(&changes) && start.elapsed() < Duration::from_secs(10) {
            events.drain(&mut changes).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        changes
    }

    /// SO_RCVBUF, not SO_RCVBUFFORCE: that one wants CAP_NET_ADMIN in the first user
    /// namespace, which test-cross's tests (in a user namespace of their own) lack; both
    /// go down to the kernel's minimum, and rmem_max is room enough for this test's dump.
    fn set_rcvbuf(events: &LinkEvents, bytes: libc::c_int) {
        // SAFETY: setsockopt reads one c_int.
        let rc = unsafe {
            libc::setsockopt(
                events.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
    }

    /// The real kernel, in a network namespace of this test's own (needs root): a socket
    /// buffer too small for the events overflows (ENOBUFS), the RTM_DELLINK of a deleted
    /// pair is among those dropped, and the dump after the loss finds it gone.
    #[test]
    fn links_deleted_while_events_were_lost_are_removed() {
        std::thread::spawn(|| {
            // SAFETY: unshare(2) moves this thread alone into a new network namespace.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "unshare: {} (needs root)",
                io::Error::last_os_error()
            );
            let mut events = LinkEvents::open().unwrap();
            ip("link add gone type veth peer name gone-p");
            let added = |c: &[Change]| c.contains(&Change::Added("gone-p".into()));
            assert!(added(&drain_until(&mut events, added)));

            // The smallest buffer: one event fits, the next ones are dropped.
            set_rcvbuf(&events, 0);
            ip("link add first type veth peer name first-p");
            ip("link del gone");
            ip("link add late type veth peer name late-p");
            set_rcvbuf(&events, 1 << 20);

            let resynced = |c: &[Change]| c.contains(&Change::Removed("gone".into()));
            let changes = drain_until(&mut events, resynced);
            assert!(changes.contains(&Change::Lost), "{changes:?}");
            assert!(resynced(&changes), "{changes:?}");
            assert!(
                changes.contains(&Change::Removed("gone-p".into())),
                "{changes:?}"
            );
            let mut names: Vec<_> = events
                .table
                .links
                .values()
                .map(|l| l.name.clone())
                .collect();
            names.sort();
            assert_eq!(names, ["first", "first-p", "late", "late-p", "lo"]);
        })
        .join()
        .unwrap();
    }
}

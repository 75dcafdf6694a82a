//! MediaTek PPE debugfs files, `/sys/kernel/debug/ppeN/`.
//!
//! `entries` lists every FOE entry that is not invalid, `bind` the bound ones only, both
//! one entry a line as `mtk_ppe_debugfs_foe_show()` (mtk_ppe_debugfs.c) prints it:
//!
//! ```text
//! 0000c BND IPv4 5T orig=192.168.1.100:51234->93.184.216.34:443 new=203.0.113.5:61000->93.184.216.34:443 eth=02:11:22:33:44:55->02:aa:bb:cc:dd:ee etype=0008 vlan=0,0 ib1=20500000 ib2=00f00200 packets=15 bytes=1500
//! ```
//!
//! index in hex; state `INV`/`UNB`/`BND`/`FIN` (`UNK` otherwise); the packet type, padded
//! to 7 characters and possibly two words (`IPv4 5T`, `IPv4 3T`, `DS-LITE`, `IPv6 3T`,
//! `IPv6 5T`, `6RD`, `UNKNOWN`); `orig=` with ports for the 5-tuple types and DS-LITE;
//! `new=` (the NAT result) for the IPv4 types and DS-LITE; the MAC addresses; `etype=`, the
//! ethertype in host order after `ntohs()` (IPv4 reads `0008` on these little-endian
//! SoCs); both VLAN ids; the two info blocks in hex. `packets=`/`bytes=` are added by
//! the kmod-nft-offload series (totals collected by the flowtable's stats reads).
//!
//! `stats` is added by the same series: one `key value` a line, new keys only appended
//! (unknown ones are skipped), `version` changed only for an incompatible change.
//! `bucket_bound` holds `k:n` pairs: `n` buckets have `k` bound ways.
//!
//! Both files have a fixed format, so a line that does not fit is an error naming the
//! line, not something to skip: it means a kernel this code does not know.

use std::fmt;
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::{fill, Fill, Line, Lines};

/// Why a file could not be read.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// A line (counting from 1), or the end of the file when `line` is `None`.
    Format {
        line: Option<u64>,
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Format {
                line: Some(line),
                what,
            } => write!(f, "line {line}: {what}"),
            Error::Format { line: None, what } => write!(f, "at the end: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// Reads the lines of a debugfs file, giving `each` the text and number of every
/// non-blank line.
fn each_line<R: BufRead>(
    input: R,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<u64, Error> {
    let mut lines = Lines::new(input);
    while let Some(line) = lines.next_line()? {
        let result = match line {
            Line::Text(text) if text.trim_ascii().is_empty() => Ok(()),
            Line::Text(text) => each(text),
            Line::TooLong => Err("line too long".to_string()),
            Line::NotText => Err("not text".to_string()),
        };
        result.map_err(|what| Error::Format {
            line: Some(lines.number()),
            what,
        })?;
    }
    Ok(lines.number())
}

/// FOE entry state (`MTK_FOE_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Invalid,
    Unbound,
    Bound,
    Fin,
    /// `UNK`: a state value the driver has no name for.
    Unknown,
}

/// FOE packet type (`MTK_PPE_PKT_TYPE_*`), named as debugfs prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PacketType {
    #[serde(rename = "IPv4 5T")]
    Ipv4Hnapt,
    #[serde(rename = "IPv4 3T")]
    Ipv4Route,
    #[serde(rename = "DS-LITE")]
    DsLite,
    #[serde(rename = "IPv6 3T")]
    Ipv6Route3T,
    #[serde(rename = "IPv6 5T")]
    Ipv6Route5T,
    #[serde(rename = "6RD")]
    Ipv6Rd,
    /// `UNKNOWN`: its addresses are not printed.
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl PacketType {
    /// (IPv6 addresses, ports, `new=` present) as the driver prints this type.
    fn layout(self) -> Option<(bool, bool, bool)> {
        match self {
            PacketType::Ipv4Hnapt | PacketType::DsLite => Some((false, true, true)),
            PacketType::Ipv4Route => Some((false, false, true)),
            PacketType::Ipv6Route5T => Some((true, true, false)),
            PacketType::Ipv6Route3T | PacketType::Ipv6Rd => Some((true, false, false)),
            PacketType::Unknown => None,
        }
    }
}

/// `SRC[:PORT]->DST[:PORT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tuple {
    pub src: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    pub dst: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
}

/// One line of `entries` or `bind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub index: u32,
    pub state: State,
    #[serde(rename = "type")]
    pub kind: PacketType,
    /// `None` for [`PacketType::Unknown`].
    pub orig: Option<Tuple>,
    /// After NAT; IPv4 types and DS-LITE only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Tuple>,
    pub eth_src: [u8; 6],
    pub eth_dst: [u8; 6],
    /// As printed: the ethertype through `ntohs()` (0x0008 for IPv4 on little endian).
    pub etype: u16,
    pub vlan: [u16; 2],
    pub ib1: u32,
    pub ib2: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

fn parse_addr(text: &str, ipv6: bool, port: bool) -> Option<(IpAddr, Option<u16>)> {
    let (ip, port) = if port {
        let (ip, port) = text.rsplit_once(':')?;
        (ip, Some(port.parse().ok()?))
    } else {
        (text, None)
    };
    let ip = if ipv6 {
        IpAddr::V6(ip.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(ip.parse::<Ipv4Addr>().ok()?)
    };
    Some((ip, port))
}

fn parse_tuple(text: &str, ipv6: bool, ports: bool) -> Option<Tuple> {
    let (src, dst) = text.split_once("->")?;
    let (src, sport) = parse_addr(src, ipv6, ports)?;
    let (dst, dport) = parse_addr(dst, ipv6, ports)?;
    Some(Tuple {
        src,
        sport,
        dst,
        dport,
    })
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn hex<T: TryFrom<u64>>(text: &str) -> Option<T> {
    // from_str_radix takes a sign; the kernel prints none.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    T::try_from(u64::from_str_radix(text, 16).ok()?).ok()
}

/// Sets a field once, from a value `parse` accepts.
fn once<T>(
    field: &mut Option<T>,
    key: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<(), String> {
    fill(field, parse(value)).map_err(|e| match e {
        Fill::Twice => format!("{key}= twice"),
        Fill::Bad => format!("bad {key}={value}"),
    })
}

/// Parses one line of `entries` or `bind`; the error says what was wrong.
pub fn parse_entry(line: &str) -> Result<Entry, String> {
    let line = line.trim_ascii();
    let (index, rest) = line.split_once(' ').ok_or("no state")?;
    let index = hex(index).ok_or_else(|| format!("bad index {index}"))?;
    let (state, rest) = rest.trim_start().split_once(' ').ok_or("no type")?;
    let state = match state {
        "INV" => State::Invalid,
        "UNB" => State::Unbound,
        "BND" => State::Bound,
        "FIN" => State::Fin,
        "UNK" => State::Unknown,
        _ => return Err(format!("unknown state {state}")),
    };
    let at = rest.find(" orig=").ok_or("no orig=")?;
    let kind = match rest[..at].trim_ascii() {
        "IPv4 5T" => PacketType::Ipv4Hnapt,
        "IPv4 3T" => PacketType::Ipv4Route,
        "DS-LITE" => PacketType::DsLite,
        "IPv6 3T" => PacketType::Ipv6Route3T,
        "IPv6 5T" => PacketType::Ipv6Route5T,
        "6RD" => PacketType::Ipv6Rd,
        "UNKNOWN" => PacketType::Unknown,
        other => return Err(format!("unknown type {other}")),
    };
    let layout = kind.layout();

    let (mut orig, mut new, mut eth, mut etype, mut vlan) = (None, None, None, None, None);
    let (mut ib1, mut ib2, mut packets, mut bytes) = (None, None, None, None);
    for token in rest[at..].split_ascii_whitespace() {
        let (key, value) = token
            .split_once('=')
            .ok_or_else(|| format!("{token} is not key=value"))?;
        match (key, layout) {
            ("orig", Some((ipv6, ports, _))) => {
                once(&mut orig, key, value, |v| parse_tuple(v, ipv6, ports))?
            }
            ("new", Some((ipv6, ports, true))) => {
                once(&mut new, key, value, |v| parse_tuple(v, ipv6, ports))?
            }
            ("new", _) => return Err(format!("new= in a {} entry", rest[..at].trim())),
            ("eth", _) => once(&mut eth, key, value, |v| {
                let (src, dst) = v.split_once("->")?;
                Some((parse_mac(src)?, parse_mac(dst)?))
            })?,
            ("etype", _) => once(&mut etype, key, value, hex)?,
            ("vlan", _) => once(&mut vlan, key, value, |v| {
                let (a, b) = v.split_once(',')?;
                Some([a.parse().ok()?, b.parse().ok()?])
            })?,
            ("ib1", _) => once(&mut ib1, key, value, hex)?,
            ("ib2", _) => once(&mut ib2, key, value, hex)?,
            ("packets", _) => once(&mut packets, key, value, |v| v.parse().ok())?,
            ("bytes", _) => once(&mut bytes, key, value, |v| v.parse().ok())?,
            // orig= of an UNKNOWN entry ("(null)->(null)"), and keys of newer kernels.
            _ => {}
        }
    }
    let missing = |key| format!("no {key}=");
    if layout.is_some() && orig.is_none() {
        return Err(missing("orig"));
    }
    if layout.is_some_and(|(_, _, has_new)| has_new) && new.is_none() {
        return Err(missing("new"));
    }
    let (eth_src, eth_dst) = eth.ok_or_else(|| missing("eth"))?;
    Ok(Entry {
        index,
        state,
        kind,
        orig,
        new,
        eth_src,
        eth_dst,
        etype: etype.ok_or_else(|| missing("etype"))?,
        vlan: vlan.ok_or_else(|| missing("vlan"))?,
        ib1: ib1.ok_or_else(|| missing("ib1"))?,
        ib2: ib2.ok_or_else(|| missing("ib2"))?,
        packets,
        bytes,
    })
}

/// Calls `visit` with each entry of an `entries` or `bind` file; stops at the first line
/// that is not an entry.
pub fn read_entries<R: BufRead>(input: R, mut visit: impl FnMut(Entry)) -> Result<(), Error> {
    each_line(input, |line| {
        visit(parse_entry(line)?);
        Ok(())
    })?;
    Ok(())
}

/// The `stats` file (format `version 1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// FOE entries of the table.
    pub entries: u64,
    /// Entries per hash bucket.
    pub ways: u64,
    pub buckets: u64,
    /// The PPE keeps per-entry MIB counters (`packets=`/`bytes=` in `entries`).
    pub accounting: bool,
    /// Flows handed to the PPE since probe.
    pub committed: u64,
    /// Entries written as bound.
    pub bound: u64,
    /// Committed flows whose bucket had no free way: they stay on the CPU although
    /// conntrack says `[HW_OFFLOAD]`.
    pub bind_no_free_way: u64,
    /// Bound entries invalidated by software.
    pub cleared: u64,
    /// Table (re)initialisations.
    pub flushes: u64,
    pub state_invalid: u64,
    pub state_unbound: u64,
    pub state_bound: u64,
    pub state_fin: u64,
    /// Entries the driver keeps from the hardware (MT7621).
    pub reserved: u64,
    /// Buckets with no free way now.
    pub buckets_full: u64,
    /// `bucket_bound[k]`: buckets with `k` bound ways, for `k` in `0..=ways`.
    pub bucket_bound: Vec<u64>,
}

/// The `stats` format this code reads.
pub const STATS_VERSION: u64 = 1;

/// The keys of [`Stats`] with a number each, in the file's order.
const STATS_KEYS: [&str; 16] = [
    "version",
    "entries",
    "ways",
    "buckets",
    "accounting",
    "committed",
    "bound",
    "bind_no_free_way",
    "cleared",
    "flushes",
    "state_invalid",
    "state_unbound",
    "state_bound",
    "state_fin",
    "reserved",
    "buckets_full",
];

impl Stats {
    pub fn read<R: BufRead>(input: R) -> Result<Stats, Error> {
        let mut values = [None; STATS_KEYS.len()];
        let mut bucket_bound = None;
        let lines = each_line(input, |line| {
            let (key, value) = line
                .trim_ascii()
                .split_once(' ')
                .ok_or_else(|| format!("{line} has no value"))?;
            let value = value.trim_ascii();
            if key == "bucket_bound" {
                return once(&mut bucket_bound, key, value, |v| {
                    v.split_ascii_whitespace()
                        .enumerate()
                        .map(|(k, pair)| {
                            let (ways, count) = pair.split_once(':')?;
                            (ways.parse::<usize>().ok()? == k).then_some(())?;
                            count.parse().ok()
                        })
                        .collect()
                });
            }
            let Some(i) = STATS_KEYS.iter().position(|&k| k == key) else {
                return Ok(()); // appended by a newer kernel
            };
            once(&mut values[i], key, value, |v| v.parse::<u64>().ok())?;
            match (key, values[i]) {
                ("version", Some(v)) if v != STATS_VERSION => {
                    Err(format!("version {v}, this reads {STATS_VERSION}"))
                }
                ("accounting", Some(v)) if v > 1 => Err(format!("accounting {v}")),
                _ => Ok(()),
            }
        })?;
        let at_end = |what| Error::Format { line: None, what };
        let mut numbers = [0; STATS_KEYS.len()];
        for ((number, value), key) in numbers.iter_mut().zip(values).zip(STATS_KEYS) {
            *number = value.ok_or_else(|| at_end(format!("no {key}")))?;
        }
        let bucket_bound: Vec<u64> =
            bucket_bound.ok_or_else(|| at_end("no bucket_bound".into()))?;
        let [_, entries, ways, buckets, accounting, committed, bound, bind_no_free_way, cleared, flushes, state_invalid, state_unbound, state_bound, state_fin, reserved, buckets_full] =
            numbers;
        if bucket_bound.len() as u64 != ways.saturating_add(1) {
            return Err(Error::Format {
                line: Some(lines),
                what: format!(
                    "bucket_bound has {} counts for {ways} ways",
                    bucket_bound.len()
                ),
            });
        }
        Ok(Stats {
            entries,
            ways,
            buckets,
            accounting: accounting == 1,
            committed,
            bound,
            bind_no_free_way,
            cleared,
            flushes,
            state_invalid,
            state_unbound,
            state_bound,
            state_fin,
            reserved,
            buckets_full,
            bucket_bound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "0000c BND IPv4 5T orig=192.168.1.100:51234->93.184.216.34:443 new=203.0.113.5:61000->93.184.216.34:443 eth=02:11:22:33:44:55->02:aa:bb:cc:dd:ee etype=0008 vlan=0,0 ib1=20500000 ib2=00f00200 packets=15 bytes=1500";

    #[test]
    fn parses_the_kernel_vector() {
        let entry = parse_entry(ENTRY).unwrap();
        assert_eq!(entry.index, 0xc);
        assert_eq!(entry.state, State::Bound);
        assert_eq!(entry.kind, PacketType::Ipv4Hnapt);
        let orig = entry.orig.unwrap();
        assert_eq!(orig.src, "192.168.1.100".parse::<IpAddr>().unwrap());
        assert_eq!((orig.sport, orig.dport), (Some(51234), Some(443)));
        assert_eq!(entry.new.unwrap().sport, Some(61000));
        assert_eq!(entry.eth_dst, [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!((entry.etype, entry.vlan), (0x0008, [0, 0]));
        assert_eq!((entry.ib1, entry.ib2), (0x20500000, 0x00f00200));
        assert_eq!((entry.packets, entry.bytes), (Some(15), Some(1500)));
    }

    #[test]
    fn ipv6_and_padded_types_as_mainline_prints_them() {
        // %7s pads "6RD"; %pI6 prints all eight groups; no packets= before the series.
        let v6 = "0:0:0:0:0:0:0:1";
        let full = "2001:0db8:0000:0000:0000:0000:0000:0001";
        let line = format!("00100 UNB     6RD orig={full}->{full} eth=00:00:00:00:00:00->00:00:00:00:00:01 etype=dd86 vlan=1,0 ib1=10000000 ib2=00000000");
        let entry = parse_entry(&line).unwrap();
        assert_eq!(entry.kind, PacketType::Ipv6Rd);
        assert_eq!(entry.orig.unwrap().sport, None);
        assert_eq!((entry.new, entry.packets), (None, None));
        let line = format!("00101 BND IPv6 5T orig={v6}:80->{full}:443 eth=00:00:00:00:00:00->00:00:00:00:00:01 etype=dd86 vlan=0,0 ib1=0 ib2=0");
        let orig = parse_entry(&line).unwrap().orig.unwrap();
        assert_eq!((orig.sport, orig.dport), (Some(80), Some(443)));
        assert_eq!(orig.dst, "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn entry_errors_say_what() {
        for (line, want) in [
            ("zz BND", "bad index zz"),
            ("0000c XXX IPv4 5T orig=", "unknown state XXX"),
            ("0000c BND IPv9 orig=1", "unknown type IPv9"),
            (&ENTRY.replace("ib1=20500000", "ib1=-1"), "bad ib1=-1"),
            (
                &ENTRY.replace(":51234", ""),
                "bad orig=192.168.1.100->93.184.216.34:443",
            ),
            (&ENTRY.replace(" vlan=0,0", ""), "no vlan="),
            (
                &ENTRY.replace("etype=0008", "etype=0008 etype=0008"),
                "etype= twice",
            ),
            (
                &ENTRY.replace("IPv4 5T", "IPv6 5T"),
                "bad orig=192.168.1.100:51234->93.184.216.34:443",
            ),
            (
                &ENTRY.replace(" packets", " junk packets"),
                "junk is not key=value",
            ),
        ] {
            assert_eq!(parse_entry(line), Err(want.to_string()), "{line}");
        }
    }

    #[test]
    fn read_entries_names_the_line() {
        let text = format!("{ENTRY}\n\n{ENTRY} future=1\nbroken\n");
        let mut seen = 0;
        let err = read_entries(text.as_bytes(), |_| seen += 1).unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!(err.to_string(), "line 4: no state");
    }

    const STATS: &str = include_str!("../../tests/fixtures/stats/ppe-stats.txt");

    #[test]
    fn stats_as_the_series_documents_them() {
        let stats = Stats::read(STATS.as_bytes()).unwrap();
        assert_eq!((stats.entries, stats.ways, stats.buckets), (16384, 4, 4096));
        assert!(stats.accounting);
        assert_eq!(stats.bind_no_free_way, 1);
        assert_eq!(stats.state_invalid, 16378);
        assert_eq!(stats.buckets_full, 1);
        assert_eq!(stats.bucket_bound, [4094, 1, 0, 0, 1]);
    }

    #[test]
    fn stats_errors_and_tolerance() {
        let with = |from: &str, to: &str| Stats::read(STATS.replace(from, to).as_bytes());
        let err = |from, to| with(from, to).unwrap_err().to_string();
        assert_eq!(
            err("version 1", "version 2"),
            "line 1: version 2, this reads 1"
        );
        assert_eq!(err("ways 4", "ways four"), "line 3: bad ways=four");
        assert_eq!(err("bound 1\n", ""), "at the end: no bound");
        assert_eq!(
            err("2:0 3:0", "3:0 2:0"),
            "line 17: bad bucket_bound=0:4094 1:1 3:0 2:0 4:1"
        );
        assert_eq!(
            err(" 4:1", ""),
            "line 17: bucket_bound has 4 counts for 4 ways"
        );
        assert_eq!(
            err("cleared 0", "cleared 0\ncleared 1"),
            "line 10: cleared= twice"
        );
        let newer = with("buckets_full 1", "buckets_full 1\nnew_counter 7").unwrap();
        assert_eq!(newer, Stats::read(STATS.as_bytes()).unwrap());
    }
}

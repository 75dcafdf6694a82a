//! `/proc/net/nf_conntrack`: one flow a line, as the kernel's `ct_seq_show()`
//! (net/netfilter/nf_conntrack_standalone.c) prints it:
//!
//! ```text
//! ipv4     2 tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… [packets=… bytes=…]
//!     [UNREPLIED] src=… dst=… sport=… dport=… [packets=… bytes=…] [ASSURED] mark=… zone=… use=…
//! ```
//!
//! - l3 name and number, l4 name and number; then the timeout in seconds, which the kernel
//!   leaves out for offloaded flows; then a state word for protocols that have one (TCP,
//!   SCTP, DCCP).
//! - The original tuple, then the reply tuple: each starts with `src=`. Port keys exist only
//!   for protocols with ports (ICMP has `type= code= id=`, GRE `srckey= dstkey=`);
//!   `packets=`/`bytes=` follow a tuple only with `nf_conntrack_acct=1`.
//! - One flag of `[HW_OFFLOAD]`, `[OFFLOAD]`, `[ASSURED]`: the kernel prints only the
//!   strongest, in that order. `[UNREPLIED]` stands before the reply tuple.
//! - `mark=` (with CONFIG_NF_CONNTRACK_MARK), `secctx=`, a zone (`zone=`, or `zone-orig=` /
//!   `zone-reply=` after the tuple of a directional zone), `delta-time=`, `use=`.
//!
//! Keys this module does not need are skipped, so a kernel adding one breaks nothing.
//! A line that does not have this shape is counted as malformed and skipped: the table is
//! read while it changes, and one odd line must not hide the others.
//!
//! What a flow is for `flows` and how `status` counts them ([`Flow`], [`Summary`],
//! [`Page`]) is shared with the ctnetlink reader ([`super::ctnetlink`]), which gives the
//! same answer for the same table: a [`Flow`] holds what both print. The TCP state is
//! left out for that reason: ctnetlink does not send it for offloaded entries
//! (`ctnetlink_dump_info`), and for them it is ESTABLISHED by construction (the flowtable
//! takes established TCP only). The default zone, 0, which /proc prints and ctnetlink
//! leaves out, is no zone.

use std::borrow::Cow;
use std::io::{self, BufRead};

use serde::{Deserialize, Serialize};

use super::{fill, Line, Lines};
use crate::ruleset::L4Proto;

/// The one flag the kernel prints after the reply tuple, ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    None,
    Assured,
    /// `[OFFLOAD]`: in a software flowtable.
    Offload,
    /// `[HW_OFFLOAD]`: in a flowtable and accepted by the hardware.
    HwOffload,
}

impl Flag {
    pub fn name(self) -> &'static str {
        match self {
            Flag::None => "none",
            Flag::Assured => "assured",
            Flag::Offload => "offload",
            Flag::HwOffload => "hw_offload",
        }
    }
}

/// One direction of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tuple<'a> {
    pub src: Cow<'a, str>,
    pub dst: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// With `nf_conntrack_acct=1` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// One line of the table. Borrowed from the reader's line buffer while scanning;
/// [`Flow::into_owned`] keeps one past the next line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow<'a> {
    /// `ipv4`, `ipv6`.
    pub l3: Cow<'a, str>,
    /// `tcp`, `udp`, `icmp`, …, `unknown`.
    pub l4: Cow<'a, str>,
    pub l4num: u8,
    /// Seconds until the entry expires; `None` for offloaded flows (the flowtable owns
    /// their lifetime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    pub original: Tuple<'a>,
    pub reply: Tuple<'a>,
    pub unreplied: bool,
    pub flag: Flag,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    /// A zone other than the default one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<u16>,
}

impl Tuple<'_> {
    fn into_owned(self) -> Tuple<'static> {
        Tuple {
            src: Cow::Owned(self.src.into_owned()),
            dst: Cow::Owned(self.dst.into_owned()),
            sport: self.sport,
            dport: self.dport,
            packets: self.packets,
            bytes: self.bytes,
        }
    }
}

impl Flow<'_> {
    pub fn into_owned(self) -> Flow<'static> {
        Flow {
            l3: Cow::Owned(self.l3.into_owned()),
            l4: Cow::Owned(self.l4.into_owned()),
            l4num: self.l4num,
            timeout: self.timeout,
            original: self.original.into_owned(),
            reply: self.reply.into_owned(),
            unreplied: self.unreplied,
            flag: self.flag,
            mark: self.mark,
            zone: self.zone,
        }
    }
}

/// A tuple while its keys arrive.
#[derive(Default)]
struct Partial<'a> {
    src: Option<&'a str>,
    dst: Option<&'a str>,
    sport: Option<u16>,
    dport: Option<u16>,
    packets: Option<u64>,
    bytes: Option<u64>,
}

impl<'a> Partial<'a> {
    fn finish(self, which: &'static str) -> Result<Tuple<'a>, &'static str> {
        let (Some(src), Some(dst)) = (self.src, self.dst) else {
            return Err(which);
        };
        Ok(Tuple {
            src: Cow::Borrowed(src),
            dst: Cow::Borrowed(dst),
            sport: self.sport,
            dport: self.dport,
            packets: self.packets,
            bytes: self.bytes,
        })
    }
}

/// Sets a number once; `what` is the error for a bad or repeated one.
fn set<T>(field: &mut Option<T>, value: &str, what: &'static str) -> Result<(), &'static str>
where
    T: std::str::FromStr,
{
    fill(field, value.parse().ok()).map_err(|_| what)
}

/// Parses one line; the error says what was wrong.
pub fn parse_line(line: &str) -> Result<Flow<'_>, &'static str> {
    let mut tokens = line.split_ascii_whitespace().peekable();
    let l3 = tokens.next().ok_or("empty line")?;
    tokens
        .next()
        .and_then(|n| n.parse::<u16>().ok())
        .ok_or("bad l3 protocol number")?;
    let l4 = tokens.next().ok_or("no l4 protocol")?;
    let l4num = tokens
        .next()
        .and_then(|n| n.parse::<u8>().ok())
        .ok_or("bad l4 protocol number")?;
    if l3.contains('=') || l4.contains('=') {
        return Err("key where a protocol name belongs");
    }

    let mut timeout = None;
    if let Some(t) = tokens.next_if(|t| t.bytes().all(|b| b.is_ascii_digit())) {
        timeout = Some(t.parse().map_err(|_| "bad timeout")?);
    }
    // The protocol's state word (`ESTABLISHED`), not kept: see the module's doc.
    tokens.next_if(|t| !t.contains('=') && !t.starts_with('['));

    let mut original = Partial::default();
    let mut reply = Partial::default();
    let mut in_reply = false;
    let mut unreplied = false;
    let mut flag = Flag::None;
    let mut mark = None;
    let mut zone = None;
    for token in tokens {
        if let Some(name) = token.strip_prefix('[') {
            match name {
                "UNREPLIED]" => unreplied = true,
                "ASSURED]" => flag = flag.max(Flag::Assured),
                "OFFLOAD]" => flag = flag.max(Flag::Offload),
                "HW_OFFLOAD]" => flag = flag.max(Flag::HwOffload),
                _ => {} // a flag of a newer kernel
            }
            continue;
        }
        let (key, value) = token.split_once('=').ok_or("word among key=value tokens")?;
        if value.is_empty() {
            return Err("key without value");
        }
        if key == "src" {
            if original.src.is_none() {
                original.src = Some(value);
            } else if reply.src.is_none() {
                reply.src = Some(value);
                in_reply = true;
            } else {
                return Err("more than two tuples");
            }
            continue;
        }
        let started = original.src.is_some();
        let tuple = if in_reply { &mut reply } else { &mut original };
        match key {
            "dst" | "sport" | "dport" | "packets" | "bytes" if !started => {
                return Err("tuple key before src=");
            }
            "dst" => fill(&mut tuple.dst, Some(value)).map_err(|_| "dst= twice")?,
            "sport" => set(&mut tuple.sport, value, "bad sport")?,
            "dport" => set(&mut tuple.dport, value, "bad dport")?,
            "packets" => set(&mut tuple.packets, value, "bad packets")?,
            "bytes" => set(&mut tuple.bytes, value, "bad bytes")?,
            "mark" => set(&mut mark, value, "bad mark")?,
            "zone" | "zone-orig" | "zone-reply" => set(&mut zone, value, "bad zone")?,
            _ => {} // type=, code=, id=, srckey=, secctx=, delta-time=, use=, …
        }
    }
    Ok(Flow {
        l3: Cow::Borrowed(l3),
        l4: Cow::Borrowed(l4),
        l4num,
        timeout,
        original: original.finish("no complete original tuple")?,
        reply: reply.finish("no complete reply tuple")?,
        unreplied,
        flag,
        mark,
        zone: zone.filter(|&z| z != 0),
    })
}

/// Lines dropped while reading the table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Lines that are not a flow as [`parse_line`] knows it (or not text).
    pub malformed: u64,
    /// Lines over [`super::MAX_LINE`] bytes.
    pub too_long: u64,
}

/// Calls `visit` with each flow of the table, in the kernel's order; blank lines are
/// ignored, other lines that are not flows are counted and skipped.
pub fn scan<R: BufRead>(input: R, mut visit: impl FnMut(Flow<'_>)) -> io::Result<Skipped> {
    let mut lines = Lines::new(input);
    let mut skipped = Skipped::default();
    while let Some(line) = lines.next_line()? {
        match line {
            Line::Text(text) if text.trim_ascii().is_empty() => {}
            Line::Text(text) => match parse_line(text) {
                Ok(flow) => visit(flow),
                Err(_) => skipped.malformed += 1,
            },
            Line::NotText => skipped.malformed += 1,
            Line::TooLong => skipped.too_long += 1,
        }
    }
    Ok(skipped)
}

/// Offloaded flows, in software and in hardware.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offloaded {
    pub software: u64,
    pub hardware: u64,
}

impl Offloaded {
    fn add(&mut self, flag: Flag) {
        match flag {
            Flag::HwOffload => self.hardware += 1,
            Flag::Offload => self.software += 1,
            Flag::None | Flag::Assured => {}
        }
    }
}

/// The counting pass for `status`: every flow in the table, and the offloaded ones
/// overall and by l4 protocol (flowtables offload TCP and UDP, and GRE on newer kernels:
/// `other`). Flows that are not offloaded are counted, not sorted: ctnetlink sends only
/// the offloaded ones.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: u64,
    pub all: Offloaded,
    pub tcp: Offloaded,
    pub udp: Offloaded,
    pub other: Offloaded,
    pub skipped: Skipped,
    /// What was read: `ctnetlink`, or the table's file.
    pub source: String,
}

impl Summary {
    pub fn new(source: impl Into<String>) -> Summary {
        Summary {
            source: source.into(),
            ..Summary::default()
        }
    }

    /// Counts one offloaded flow (or, for a flag that is none of those, nothing).
    pub fn add(&mut self, flag: Flag, l4num: u8) {
        self.all.add(flag);
        match L4Proto::from_number(l4num) {
            Some(L4Proto::Tcp) => self.tcp.add(flag),
            Some(L4Proto::Udp) => self.udp.add(flag),
            None => self.other.add(flag),
        }
    }

    /// The summary of a table as text.
    pub fn read<R: BufRead>(input: R, source: impl Into<String>) -> io::Result<Summary> {
        let mut summary = Summary::new(source);
        summary.skipped = scan(input, |flow| {
            summary.total += 1;
            summary.add(flow.flag, flow.l4num);
        })?;
        Ok(summary)
    }
}

/// The most flows one `flows` call returns, whatever it asks: bounds the reply (ubus
/// messages stop at 1 MiB) and the memory it takes.
pub const MAX_LIMIT: usize = 1000;

/// Which offloaded flows a `flows` call wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// l4 protocol number (one of [`L4Proto`]); `None` for all.
    pub proto: Option<u8>,
    /// `Some(true)`: hardware offloaded only; `Some(false)`: software only; `None`: both.
    pub hw: Option<bool>,
    /// Matching flows to pass over before the first one returned.
    pub offset: u64,
    /// At most this many flows (capped at [`MAX_LIMIT`]).
    pub limit: usize,
}

impl Query {
    fn matches(&self, flag: Flag, l4num: u8) -> bool {
        let offloaded = match flag {
            Flag::HwOffload => true,
            Flag::Offload => false,
            Flag::None | Flag::Assured => return false,
        };
        self.hw.is_none_or(|hw| hw == offloaded) && self.proto.is_none_or(|p| p == l4num)
    }
}

/// One page of offloaded flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub flows: Vec<Flow<'static>>,
    /// All flows that matched the query in this read, returned or not. The table changes
    /// between reads, so consecutive pages can miss or repeat a flow.
    pub matched: u64,
    pub skipped: Skipped,
    /// What was read: `ctnetlink`, or the table's file.
    pub source: String,
}

/// Builds a [`Page`] from the flows of a table, offered in the table's order.
pub struct Pager<'q> {
    query: &'q Query,
    page: Page,
}

impl<'q> Pager<'q> {
    pub fn new(query: &'q Query, source: impl Into<String>) -> Pager<'q> {
        Pager {
            query,
            page: Page {
                flows: Vec::new(),
                matched: 0,
                skipped: Skipped::default(),
                source: source.into(),
            },
        }
    }

    /// A flow of the table; `flow` makes it, called only for a flow the page keeps.
    /// Returns false when that fails (the flow is then neither kept nor matched).
    pub fn offer(
        &mut self,
        flag: Flag,
        l4num: u8,
        flow: impl FnOnce() -> Option<Flow<'static>>,
    ) -> bool {
        if !self.query.matches(flag, l4num) {
            return true;
        }
        let page = &mut self.page;
        if page.matched >= self.query.offset && page.flows.len() < self.query.limit.min(MAX_LIMIT) {
            let Some(flow) = flow() else {
                return false;
            };
            page.flows.push(flow);
        }
        page.matched += 1;
        true
    }

    pub fn finish(mut self, skipped: Skipped) -> Page {
        self.page.skipped = skipped;
        self.page
    }
}

/// The offloaded flows `query` selects from a table as text, in the table's order.
pub fn list<R: BufRead>(input: R, query: &Query, source: impl Into<String>) -> io::Result<Page> {
    let mut pager = Pager::new(query, source);
    let skipped = scan(input, |flow| {
        pager.offer(flow.flag, flow.l4num, || Some(flow.into_owned()));
    })?;
    Ok(pager.finish(skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines (tests/fixtures/stats/conntrack.txt) and their offloaded forms.
    const TCP_V4: &str = "ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=33480 dport=8081 packets=4 bytes=3216 src=127.0.0.1 dst=127.0.0.1 sport=8081 dport=33480 packets=3 bytes=264 [ASSURED] mark=42 zone=0 use=2";
    const UDP_UNREPLIED: &str = "ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=43665 dport=5353 packets=1 bytes=29 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=5353 dport=43665 packets=0 bytes=0 mark=0 zone=7 use=2";
    const HW: &str = "ipv4     2 tcp      6 ESTABLISHED src=192.168.1.100 dst=93.184.216.34 sport=51234 dport=443 src=93.184.216.34 dst=203.0.113.5 sport=443 dport=61000 [HW_OFFLOAD] mark=0 zone=0 use=3";
    const ICMP_V6: &str = "ipv6     10 icmpv6   58 29 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 type=128 code=0 id=4660 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 type=129 code=0 id=4660 mark=0 zone=0 use=2";

    #[test]
    fn parses_a_real_tcp_line() {
        let flow = parse_line(TCP_V4).unwrap();
        assert_eq!((&*flow.l3, &*flow.l4, flow.l4num), ("ipv4", "tcp", 6));
        assert_eq!(flow.timeout, Some(431999));
        assert_eq!(flow.original.sport, Some(33480));
        assert_eq!(flow.original.dport, Some(8081));
        assert_eq!(
            (flow.original.packets, flow.original.bytes),
            (Some(4), Some(3216))
        );
        assert_eq!((flow.reply.packets, flow.reply.bytes), (Some(3), Some(264)));
        assert_eq!(flow.reply.sport, Some(8081));
        assert_eq!(flow.flag, Flag::Assured);
        assert!(!flow.unreplied);
        assert_eq!(
            (flow.mark, flow.zone),
            (Some(42), None),
            "zone 0 is no zone"
        );
    }

    #[test]
    fn unreplied_udp() {
        let flow = parse_line(UDP_UNREPLIED).unwrap();
        assert!(flow.unreplied);
        assert_eq!(flow.timeout, Some(29));
        assert_eq!(flow.flag, Flag::None);
        assert_eq!(flow.zone, Some(7));
    }

    #[test]
    fn offloaded_flow_has_no_timeout_and_no_counters_without_acct() {
        let flow = parse_line(HW).unwrap();
        assert_eq!(flow.timeout, None);
        assert_eq!(flow.flag, Flag::HwOffload);
        assert_eq!(flow.original.packets, None);
        assert_eq!(flow.reply.dst, "203.0.113.5");
    }

    #[test]
    fn no_ports_for_icmp() {
        let flow = parse_line(ICMP_V6).unwrap();
        assert_eq!((flow.original.sport, flow.reply.dport), (None, None));
        assert_eq!(flow.l4num, 58);
    }

    #[test]
    fn strongest_flag_wins_and_unknown_keys_pass() {
        let line = TCP_V4.replace("[ASSURED]", "[OFFLOAD] [ASSURED] [NEWFLAG] future=1");
        assert_eq!(parse_line(&line).unwrap().flag, Flag::Offload);
        let line = TCP_V4.replace("zone=0", "zone-reply=3");
        assert_eq!(parse_line(&line).unwrap().zone, Some(3));
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, why) in [
            ("", "empty line"),
            ("ipv4 x tcp 6", "bad l3 protocol number"),
            (
                "ipv4 2 tcp 600 src=1 dst=2 src=3 dst=4",
                "bad l4 protocol number",
            ),
            ("ipv4 2 tcp 6 10 src=1 dst=2", "no complete reply tuple"),
            (
                "ipv4 2 tcp 6 10 src=1 src=3 dst=4",
                "no complete original tuple",
            ),
            ("ipv4 2 tcp 6 10 dst=2 src=1", "tuple key before src="),
            (
                "ipv4 2 tcp 6 A B src=1 dst=2",
                "word among key=value tokens",
            ),
            ("ipv4 2 tcp 6 src=1 dst=2 sport=x", "bad sport"),
            ("ipv4 2 tcp 6 src=1 dst=2 dst=2", "dst= twice"),
            (
                "ipv4 2 tcp 6 src=1 dst=2 src=3 dst=4 src=5",
                "more than two tuples",
            ),
            ("ipv4 2 tcp 6 src= dst=2", "key without value"),
            ("ipv4 2 tcp 6 99999999999999999999 src=1", "bad timeout"),
        ] {
            assert_eq!(parse_line(line), Err(why), "{line}");
        }
    }

    fn table() -> String {
        let sw = HW.replace("[HW_OFFLOAD]", "[OFFLOAD]");
        let sw_udp = UDP_UNREPLIED
            .replace(" 29 ", " ")
            .replace("[UNREPLIED] ", "")
            .replace("mark=0", "[OFFLOAD] mark=0");
        [
            TCP_V4,
            HW,
            &sw,
            UDP_UNREPLIED,
            ICMP_V6,
            "garbage",
            "",
            &sw_udp,
            HW,
        ]
        .join("\n")
    }

    #[test]
    fn summary_counts_offloaded_flows_by_protocol() {
        let summary = Summary::read(table().as_bytes(), "table").unwrap();
        let offloaded = |software, hardware| Offloaded { software, hardware };
        assert_eq!(summary.total, 7);
        assert_eq!(summary.all, offloaded(2, 2));
        assert_eq!(summary.tcp, offloaded(1, 2));
        assert_eq!(summary.udp, offloaded(1, 0));
        assert_eq!(summary.other, offloaded(0, 0));
        assert_eq!(
            summary.skipped,
            Skipped {
                malformed: 1,
                too_long: 0
            }
        );
        assert_eq!(summary.source, "table");
    }

    #[test]
    fn list_filters_and_pages() {
        let query = |proto, hw, offset, limit| {
            let page = list(
                table().as_bytes(),
                &Query {
                    proto,
                    hw,
                    offset,
                    limit,
                },
                "table",
            )
            .unwrap();
            let flags: Vec<_> = page.flows.iter().map(|f| (f.l4num, f.flag)).collect();
            (flags, page.matched)
        };
        let (hw, sw) = (Flag::HwOffload, Flag::Offload);
        assert_eq!(
            query(None, None, 0, 10),
            (vec![(6, hw), (6, sw), (17, sw), (6, hw)], 4)
        );
        assert_eq!(query(None, Some(true), 0, 10), (vec![(6, hw), (6, hw)], 2));
        assert_eq!(query(Some(17), Some(false), 0, 10), (vec![(17, sw)], 1));
        assert_eq!(query(None, None, 1, 2), (vec![(6, sw), (17, sw)], 4));
        assert_eq!(query(None, None, 9, 2), (vec![], 4));
        assert_eq!(query(Some(6), None, 0, 0), (vec![], 3));
    }

    #[test]
    fn a_listed_flow_outlives_the_line() {
        let page = list(
            HW.as_bytes(),
            &Query {
                proto: None,
                hw: None,
                offset: 0,
                limit: usize::MAX,
            },
            "table",
        )
        .unwrap();
        assert_eq!(page.flows, [parse_line(HW).unwrap().into_owned()]);
    }
}

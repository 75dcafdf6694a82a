//! The conntrack table over ctnetlink (nf_conntrack_netlink), for `status` and `flows`
//! without /proc's text: a dump the kernel filters by status (`CTA_STATUS` with
//! `CTA_STATUS_MASK`, `ctnetlink_filter_match()`: `(status & mask) == value`), so that of a
//! table of any size only the offloaded entries are formatted and sent; and the table's
//! size from the global statistics (`IPCTNL_MSG_CT_GET_STATS`).
//!
//! Linux 6.12 and Debian's 6.1.192 filter dumps by status; a kernel that does not ignores
//! the attribute and sends every entry, so each entry's status is checked here as well.
//! A dump is read one datagram at a time through one buffer: memory does not grow with
//! the table.
//!
//! An entry becomes the same [`Flow`] the /proc reader makes of its line (see
//! [`super::conntrack`]): names and address forms as `ct_seq_show()` prints them.

use std::borrow::Cow;
use std::io;
use std::net::Ipv4Addr;

use super::conntrack::{Flag, Flow, Page, Pager, Query, Skipped, Summary, Tuple};
use crate::netlink::{
    attributes, messages, Attr, MessageWriter, Socket, NFGENMSG_LEN, RECV_BUFFER,
};

/// What `Summary::source` and `Page::source` say for this reader.
pub const SOURCE: &str = "ctnetlink";

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_GET_STATS: u16 = 5;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_TIMEOUT: u16 = 7;
const CTA_MARK: u16 = 8;
const CTA_COUNTERS_ORIG: u16 = 9;
const CTA_COUNTERS_REPLY: u16 = 10;
const CTA_ZONE: u16 = 18;
const CTA_STATUS_MASK: u16 = 26;

const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_TUPLE_ZONE: u16 = 3;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_COUNTERS_PACKETS: u16 = 1;
const CTA_COUNTERS_BYTES: u16 = 2;
const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;

const IPS_SEEN_REPLY: u32 = 1 << 1;
const IPS_ASSURED: u32 = 1 << 2;
const IPS_OFFLOAD: u32 = 1 << 14;
const IPS_HW_OFFLOAD: u32 = 1 << 15;

const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;

fn msg_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_CTNETLINK << 8) | msg
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// The flag /proc prints for a status: the strongest of them.
fn flag(status: u32) -> Flag {
    if status & IPS_HW_OFFLOAD != 0 {
        Flag::HwOffload
    } else if status & IPS_OFFLOAD != 0 {
        Flag::Offload
    } else if status & IPS_ASSURED != 0 {
        Flag::Assured
    } else {
        Flag::None
    }
}

/// `l3proto_name()` of nf_conntrack_standalone.c.
fn l3_name(family: u8) -> &'static str {
    match family as i32 {
        libc::AF_INET => "ipv4",
        libc::AF_INET6 => "ipv6",
        _ => "unknown",
    }
}

/// `l4proto_name()` of nf_conntrack_standalone.c.
fn l4_name(l4num: u8) -> &'static str {
    match l4num {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        132 => "sctp",
        136 => "udplite",
        58 => "icmpv6",
        _ => "unknown",
    }
}

/// Whether /proc prints `sport=`/`dport=` for the protocol (GRE's keys travel in the same
/// attributes, but /proc prints them as `srckey=`/`dstkey=`).
fn has_ports(l4num: u8) -> bool {
    matches!(l4num, 6 | 17 | 33 | 132 | 136)
}

/// One conntrack entry of a dump: the status and l4 protocol read at once, the rest
/// when a page keeps the flow.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    family: u8,
    pub status: u32,
    pub l4num: u8,
    /// The message's attributes.
    attrs: &'a [u8],
}

impl<'a> Entry<'a> {
    /// An `IPCTNL_MSG_CT_NEW` message's payload (nfgenmsg, then attributes).
    pub fn parse(payload: &'a [u8]) -> io::Result<Entry<'a>> {
        let family = *payload.first().ok_or_else(|| invalid("no nfgenmsg"))?;
        let attrs = payload.get(NFGENMSG_LEN..).unwrap_or(&[]);
        let (mut status, mut l4num) = (None, None);
        for attr in attributes(attrs) {
            let attr = attr?;
            match attr.kind {
                CTA_STATUS => status = Some(attr.be32()?),
                CTA_TUPLE_ORIG => {
                    for part in attr.nested() {
                        let part = part?;
                        if part.kind == CTA_TUPLE_PROTO {
                            l4num = nested_u8(&part, CTA_PROTO_NUM)?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Entry {
            family,
            status: status.ok_or_else(|| invalid("entry without CTA_STATUS"))?,
            l4num: l4num.ok_or_else(|| invalid("entry without CTA_PROTO_NUM"))?,
            attrs,
        })
    }

    pub fn flag(&self) -> Flag {
        flag(self.status)
    }

    /// The flow, as the /proc reader makes it of the same entry's line.
    pub fn flow(&self) -> io::Result<Flow<'static>> {
        let (mut original, mut reply) = (None, None);
        let (mut timeout, mut mark, mut zone) = (None, None, None);
        let (mut orig_counters, mut reply_counters) = ((None, None), (None, None));
        for attr in attributes(self.attrs) {
            let attr = attr?;
            match attr.kind {
                CTA_TUPLE_ORIG => original = Some(self.tuple(&attr, &mut zone)?),
                CTA_TUPLE_REPLY => reply = Some(self.tuple(&attr, &mut zone)?),
                CTA_TIMEOUT => timeout = Some(u64::from(attr.be32()?)),
                CTA_MARK => mark = Some(attr.be32()?),
                CTA_ZONE => zone = Some(be16(&attr)?),
                CTA_COUNTERS_ORIG => orig_counters = counters(&attr)?,
                CTA_COUNTERS_REPLY => reply_counters = counters(&attr)?,
                _ => {}
            }
        }
        let mut original = original.ok_or_else(|| invalid("no original tuple"))?;
        let mut reply = reply.ok_or_else(|| invalid("no reply tuple"))?;
        (original.packets, original.bytes) = orig_counters;
        (reply.packets, reply.bytes) = reply_counters;
        Ok(Flow {
            l3: Cow::Borrowed(l3_name(self.family)),
            l4: Cow::Borrowed(l4_name(self.l4num)),
            l4num: self.l4num,
            timeout,
            original,
            reply,
            unreplied: self.status & IPS_SEEN_REPLY == 0,
            flag: self.flag(),
            mark,
            zone: zone.filter(|&z| z != 0),
        })
    }

    /// A `CTA_TUPLE_*` nest; a directional zone inside it goes to `zone`.
    fn tuple(&self, nest: &Attr<'_>, zone: &mut Option<u16>) -> io::Result<Tuple<'static>> {
        let (mut src, mut dst, mut sport, mut dport) = (None, None, None, None);
        for attr in nest.nested() {
            let attr = attr?;
            match attr.kind {
                CTA_TUPLE_IP => {
                    for ip in attr.nested() {
                        let ip = ip?;
                        match ip.kind {
                            CTA_IP_V4_SRC | CTA_IP_V6_SRC => src = Some(address(&ip)?),
                            CTA_IP_V4_DST | CTA_IP_V6_DST => dst = Some(address(&ip)?),
                            _ => {}
                        }
                    }
                }
                CTA_TUPLE_PROTO if has_ports(self.l4num) => {
                    for port in attr.nested() {
                        let port = port?;
                        match port.kind {
                            CTA_PROTO_SRC_PORT => sport = Some(be16(&port)?),
                            CTA_PROTO_DST_PORT => dport = Some(be16(&port)?),
                            _ => {}
                        }
                    }
                }
                CTA_TUPLE_ZONE => *zone = Some(be16(&attr)?),
                _ => {}
            }
        }
        Ok(Tuple {
            src: Cow::Owned(src.ok_or_else(|| invalid("tuple without source"))?),
            dst: Cow::Owned(dst.ok_or_else(|| invalid("tuple without destination"))?),
            sport,
            dport,
            packets: None,
            bytes: None,
        })
    }
}

fn be16(attr: &Attr<'_>) -> io::Result<u16> {
    Ok(u16::from_be_bytes(
        attr.payload
            .try_into()
            .map_err(|_| invalid("not a 16-bit attribute"))?,
    ))
}

/// The u8 attribute `kind` inside `nest`.
fn nested_u8(nest: &Attr<'_>, kind: u16) -> io::Result<Option<u8>> {
    for attr in nest.nested() {
        let attr = attr?;
        if attr.kind == kind {
            return Ok(Some(
                *attr.payload.first().ok_or_else(|| invalid("empty u8"))?,
            ));
        }
    }
    Ok(None)
}

/// An address as /proc prints it: `%pI4`, or `%pI6` (eight groups of four hex digits).
fn address(attr: &Attr<'_>) -> io::Result<String> {
    match attr.payload.len() {
        4 => Ok(Ipv4Addr::from(<[u8; 4]>::try_from(attr.payload).expect("4 bytes")).to_string()),
        16 => Ok(attr
            .payload
            .chunks(2)
            .map(|pair| format!("{:02x}{:02x}", pair[0], pair[1]))
            .collect::<Vec<_>>()
            .join(":")),
        _ => Err(invalid("address of neither 4 nor 16 bytes")),
    }
}

/// A `CTA_COUNTERS_*` nest: packets and bytes.
fn counters(nest: &Attr<'_>) -> io::Result<(Option<u64>, Option<u64>)> {
    let (mut packets, mut bytes) = (None, None);
    for attr in nest.nested() {
        let attr = attr?;
        match attr.kind {
            CTA_COUNTERS_PACKETS => packets = Some(attr.be64()?),
            CTA_COUNTERS_BYTES => bytes = Some(attr.be64()?),
            _ => {}
        }
    }
    Ok((packets, bytes))
}

/// The errno of an NLMSG_ERROR (0: an acknowledgement).
fn error_code(payload: &[u8]) -> io::Result<i32> {
    let code = payload
        .get(..4)
        .ok_or_else(|| invalid("short NLMSG_ERROR"))?;
    Ok(i32::from_ne_bytes(code.try_into().expect("4 bytes")))
}

/// A ctnetlink socket of this network namespace.
pub struct Ctnetlink {
    socket: Socket,
    buf: Vec<u8>,
}

impl Ctnetlink {
    /// Fails where there is no ctnetlink to ask: the request answers with an error when
    /// nf_conntrack_netlink is not loaded (and cannot be), or EPERM without CAP_NET_ADMIN.
    pub fn open() -> io::Result<Ctnetlink> {
        Ok(Ctnetlink {
            socket: Socket::netfilter()?,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// Sends one request and hands each answering message to `answer` until the kernel
    /// is done (NLMSG_DONE, or an acknowledgement); an error it sends is returned.
    fn request(
        &mut self,
        msg: u16,
        flags: i32,
        attrs: &[(u16, u32)],
        mut answer: impl FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        let mut w = MessageWriter::new();
        let flags = (libc::NLM_F_REQUEST | flags) as u16;
        w.begin(msg_type(msg), flags, 1, libc::AF_UNSPEC as u8, 0);
        for &(kind, value) in attrs {
            w.put_be32(kind, value);
        }
        w.end();
        self.socket.send(&w.finish())?;
        loop {
            let n = self.socket.recv(&mut self.buf)?;
            for msg in messages(&self.buf[..n]) {
                let msg = msg?;
                match msg.msg_type {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        return match error_code(msg.payload)? {
                            0 => Ok(()),
                            code => Err(io::Error::from_raw_os_error(-code)),
                        }
                    }
                    kind => answer(kind, msg.payload),
                }
            }
            if flags & libc::NLM_F_DUMP as u16 == 0 {
                return Ok(()); // one answer, no NLMSG_DONE after it
            }
        }
    }

    /// Entries in the table (this namespace's `nf_conntrack_count`).
    pub fn count(&mut self) -> io::Result<u64> {
        let mut count = None;
        self.request(IPCTNL_MSG_CT_GET_STATS, 0, &[], |kind, payload| {
            if kind != msg_type(IPCTNL_MSG_CT_GET_STATS) {
                return;
            }
            let attrs = attributes(payload.get(NFGENMSG_LEN..).unwrap_or(&[]));
            for attr in attrs.map_while(Result::ok) {
                if attr.kind == CTA_STATS_GLOBAL_ENTRIES {
                    count = attr.be32().ok();
                }
            }
        })?;
        count
            .map(u64::from)
            .ok_or_else(|| invalid("no CTA_STATS_GLOBAL_ENTRIES in the answer"))
    }

    /// Calls `visit` with every offloaded entry (software or hardware), in the kernel's
    /// order; entries that do not parse are counted.
    pub fn offloaded(&mut self, mut visit: impl FnMut(Entry<'_>)) -> io::Result<Skipped> {
        let filter = [(CTA_STATUS, IPS_OFFLOAD), (CTA_STATUS_MASK, IPS_OFFLOAD)];
        let mut skipped = Skipped::default();
        self.request(
            IPCTNL_MSG_CT_GET,
            libc::NLM_F_DUMP,
            &filter,
            |kind, payload| {
                if kind != msg_type(IPCTNL_MSG_CT_NEW) {
                    return;
                }
                match Entry::parse(payload) {
                    Ok(entry) if entry.status & IPS_OFFLOAD != 0 => visit(entry),
                    Ok(_) => {} // a kernel that does not filter
                    Err(_) => skipped.malformed += 1,
                }
            },
        )?;
        Ok(skipped)
    }

    /// The `status` summary: the table's size, and the offloaded entries counted.
    pub fn summary(&mut self) -> io::Result<Summary> {
        let mut summary = Summary::new(SOURCE);
        summary.total = self.count()?;
        summary.skipped = self.offloaded(|entry| summary.add(entry.flag(), entry.l4num))?;
        Ok(summary)
    }

    /// One page of offloaded flows.
    pub fn list(&mut self, query: &Query) -> io::Result<Page> {
        let mut pager = Pager::new(query, SOURCE);
        let mut broken = 0;
        let mut skipped = self.offloaded(|entry| {
            if !pager.offer(entry.flag(), entry.l4num, || entry.flow().ok()) {
                broken += 1;
            }
        })?;
        skipped.malformed += broken;
        Ok(pager.finish(skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::conntrack::parse_line;

    /// An entry laid out as `ctnetlink_fill_info()` sends it.
    struct Sent {
        family: u8,
        l4num: u8,
        original: ([u8; 16], [u8; 16], u16, u16),
        reply: ([u8; 16], [u8; 16], u16, u16),
        status: u32,
        mark: u32,
        zone: u16,
        counters: Option<[(u64, u64); 2]>,
        timeout: Option<u32>,
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut out = [0; 16];
        out[..4].copy_from_slice(&a);
        out
    }

    impl Sent {
        fn message(&self) -> Vec<u8> {
            let len = if self.family == libc::AF_INET as u8 {
                4
            } else {
                16
            };
            let mut w = MessageWriter::new();
            w.begin(msg_type(IPCTNL_MSG_CT_NEW), 2, 1, self.family, 0);
            for (kind, (src, dst, sport, dport)) in [
                (CTA_TUPLE_ORIG, self.original),
                (CTA_TUPLE_REPLY, self.reply),
            ] {
                w.nest_begin(kind);
                w.nest_begin(CTA_TUPLE_IP);
                let (s, d) = if len == 4 {
                    (CTA_IP_V4_SRC, CTA_IP_V4_DST)
                } else {
                    (CTA_IP_V6_SRC, CTA_IP_V6_DST)
                };
                w.put(s, &src[..len]);
                w.put(d, &dst[..len]);
                w.nest_end();
                w.nest_begin(CTA_TUPLE_PROTO);
                w.put(CTA_PROTO_NUM, &[self.l4num]);
                w.put(CTA_PROTO_SRC_PORT, &sport.to_be_bytes());
                w.put(CTA_PROTO_DST_PORT, &dport.to_be_bytes());
                w.nest_end();
                w.nest_end();
            }
            if self.zone != 0 {
                w.put(CTA_ZONE, &self.zone.to_be_bytes());
            }
            w.put_be32(CTA_STATUS, self.status);
            w.put_be32(CTA_MARK, self.mark);
            w.put_be32(12, 0x1234); // CTA_ID
            w.put_be32(11, 2); // CTA_USE
            if let Some(t) = self.timeout {
                w.put_be32(CTA_TIMEOUT, t);
            }
            for (kind, (packets, bytes)) in [CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY]
                .into_iter()
                .zip(self.counters.into_iter().flatten())
            {
                w.nest_begin(kind);
                w.put_be64(CTA_COUNTERS_PACKETS, packets);
                w.put_be64(CTA_COUNTERS_BYTES, bytes);
                w.nest_end();
            }
            w.end();
            w.finish()
        }

        fn flow(&self) -> Flow<'static> {
            let buf = self.message();
            let msg = messages(&buf).next().unwrap().unwrap();
            Entry::parse(msg.payload).unwrap().flow().unwrap()
        }
    }

    const CONFIRMED: u32 = 1 << 3;

    #[test]
    fn an_entry_reads_as_its_proc_line() {
        let hw = Sent {
            family: libc::AF_INET as u8,
            l4num: 6,
            original: (v4([192, 168, 1, 100]), v4([93, 184, 216, 34]), 51234, 443),
            reply: (v4([93, 184, 216, 34]), v4([203, 0, 113, 5]), 443, 61000),
            status: IPS_HW_OFFLOAD | IPS_OFFLOAD | IPS_ASSURED | CONFIRMED | IPS_SEEN_REPLY,
            mark: 0,
            zone: 0,
            counters: None,
            timeout: None,
        };
        let line = "ipv4     2 tcp      6 ESTABLISHED src=192.168.1.100 dst=93.184.216.34 sport=51234 dport=443 src=93.184.216.34 dst=203.0.113.5 sport=443 dport=61000 [HW_OFFLOAD] mark=0 zone=0 use=3";
        assert_eq!(hw.flow(), parse_line(line).unwrap().into_owned());

        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = 1;
        let mut b = a;
        b[15] = 2;
        let udp6 = Sent {
            family: libc::AF_INET6 as u8,
            l4num: 17,
            original: (a, b, 5353, 53),
            reply: (b, a, 53, 5353),
            status: IPS_OFFLOAD | CONFIRMED,
            mark: 42,
            zone: 7,
            counters: Some([(3, 180), (2, 140)]),
            timeout: None,
        };
        let line = "ipv6     10 udp      17 src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0002 sport=5353 dport=53 packets=3 bytes=180 [UNREPLIED] src=2001:0db8:0000:0000:0000:0000:0000:0002 dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=53 dport=5353 packets=2 bytes=140 [OFFLOAD] mark=42 zone=7 use=2";
        assert_eq!(udp6.flow(), parse_line(line).unwrap().into_owned());

        let icmp = Sent {
            l4num: 1,
            status: CONFIRMED | IPS_SEEN_REPLY,
            timeout: Some(29),
            counters: Some([(1, 84), (1, 84)]),
            ..hw
        };
        let line = "ipv4     2 icmp     1 29 src=192.168.1.100 dst=93.184.216.34 type=8 code=0 id=51234 packets=1 bytes=84 src=93.184.216.34 dst=203.0.113.5 type=0 code=0 id=51234 packets=1 bytes=84 mark=0 use=2";
        assert_eq!(icmp.flow(), parse_line(line).unwrap().into_owned());
    }

    #[test]
    fn an_entry_without_status_or_protocol_is_malformed() {
        let mut w = MessageWriter::new();
        w.begin(msg_type(IPCTNL_MSG_CT_NEW), 2, 1, 2, 0);
        w.put_be32(CTA_MARK, 1);
        w.end();
        let buf = w.finish();
        let msg = messages(&buf).next().unwrap().unwrap();
        assert!(Entry::parse(msg.payload).is_err());
    }

    /// The numbers above against the uapi headers (Debian's linux-libc-dev).
    #[test]
    fn numbers_match_the_kernel_headers() {
        let dir = std::path::Path::new("/usr/include/linux/netfilter");
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("{name}: {e} (install linux-libc-dev)"))
        };
        let headers = read("nfnetlink_conntrack.h") + &read("nf_conntrack_common.h");
        let values = enum_values(&headers);
        let value = |name: &str| {
            values
                .get(name)
                .copied()
                .unwrap_or_else(|| panic!("{name}"))
        };
        for (name, ours) in [
            ("IPCTNL_MSG_CT_NEW", u32::from(IPCTNL_MSG_CT_NEW)),
            ("IPCTNL_MSG_CT_GET", u32::from(IPCTNL_MSG_CT_GET)),
            (
                "IPCTNL_MSG_CT_GET_STATS",
                u32::from(IPCTNL_MSG_CT_GET_STATS),
            ),
            ("CTA_TUPLE_ORIG", u32::from(CTA_TUPLE_ORIG)),
            ("CTA_TUPLE_REPLY", u32::from(CTA_TUPLE_REPLY)),
            ("CTA_STATUS", u32::from(CTA_STATUS)),
            ("CTA_TIMEOUT", u32::from(CTA_TIMEOUT)),
            ("CTA_MARK", u32::from(CTA_MARK)),
            ("CTA_COUNTERS_ORIG", u32::from(CTA_COUNTERS_ORIG)),
            ("CTA_COUNTERS_REPLY", u32::from(CTA_COUNTERS_REPLY)),
            ("CTA_ZONE", u32::from(CTA_ZONE)),
            ("CTA_STATUS_MASK", u32::from(CTA_STATUS_MASK)),
            ("CTA_TUPLE_IP", u32::from(CTA_TUPLE_IP)),
            ("CTA_TUPLE_PROTO", u32::from(CTA_TUPLE_PROTO)),
            ("CTA_TUPLE_ZONE", u32::from(CTA_TUPLE_ZONE)),
            ("CTA_IP_V4_SRC", u32::from(CTA_IP_V4_SRC)),
            ("CTA_IP_V4_DST", u32::from(CTA_IP_V4_DST)),
            ("CTA_IP_V6_SRC", u32::from(CTA_IP_V6_SRC)),
            ("CTA_IP_V6_DST", u32::from(CTA_IP_V6_DST)),
            ("CTA_PROTO_NUM", u32::from(CTA_PROTO_NUM)),
            ("CTA_PROTO_SRC_PORT", u32::from(CTA_PROTO_SRC_PORT)),
            ("CTA_PROTO_DST_PORT", u32::from(CTA_PROTO_DST_PORT)),
            ("CTA_COUNTERS_PACKETS", u32::from(CTA_COUNTERS_PACKETS)),
            ("CTA_COUNTERS_BYTES", u32::from(CTA_COUNTERS_BYTES)),
            (
                "CTA_STATS_GLOBAL_ENTRIES",
                u32::from(CTA_STATS_GLOBAL_ENTRIES),
            ),
        ] {
            assert_eq!(value(name), ours, "{name}");
        }
        for (name, ours) in [
            ("IPS_SEEN_REPLY_BIT", IPS_SEEN_REPLY),
            ("IPS_ASSURED_BIT", IPS_ASSURED),
            ("IPS_OFFLOAD_BIT", IPS_OFFLOAD),
            ("IPS_HW_OFFLOAD_BIT", IPS_HW_OFFLOAD),
        ] {
            assert_eq!(1 << value(name), ours, "{name}");
        }
    }

    /// Values of the plain entries of C enums: counted up from 0, or `= number`.
    fn enum_values(header: &str) -> std::collections::HashMap<String, u32> {
        let mut values = std::collections::HashMap::new();
        let mut text = String::new();
        let mut rest = header;
        while let Some(start) = rest.find("/*") {
            text.push_str(&rest[..start]);
            rest = rest[start..].split_once("*/").map_or("", |(_, r)| r);
        }
        text.push_str(rest);
        let text: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for body in text.split("enum").skip(1) {
            let Some((_, body)) = body.split_once('{') else {
                continue;
            };
            let body = body.split('}').next().unwrap_or("");
            let mut next = 0;
            for entry in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, value) = match entry.split_once('=') {
                    Some((name, value)) => {
                        let value = value.trim();
                        match value.parse().ok().or_else(|| values.get(value).copied()) {
                            Some(v) => (name.trim(), v),
                            None => continue, // an expression
                        }
                    }
                    None => (entry, next),
                };
                values.insert(name.to_string(), value);
                next = value + 1;
            }
        }
        values
    }
}

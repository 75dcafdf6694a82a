//! Any bytes as a PPE debugfs file, read both as `entries` and as `stats`. Checks: nothing
//! panics; an error names a line of the input (or its end); an entry has `orig=` unless its
//! type is UNKNOWN and `new=` exactly for the IPv4 types and DS-LITE; every parsed entry,
//! printed again the way `mtk_ppe_debugfs_foe_show()` prints it, parses to the same entry;
//! a parsed stats file, printed again in the series' format, reads to the same stats.
#![no_main]

use std::fmt::Write;
use std::net::IpAddr;

use fw4_offload::stats::ppe::{self, Entry, Error, PacketType, State, Stats, Tuple};
use libfuzzer_sys::fuzz_target;

fn addr(out: &mut String, ip: IpAddr, port: Option<u16>) {
    match ip {
        IpAddr::V4(ip) => write!(out, "{ip}").unwrap(),
        // %pI6: all eight groups, zero-padded.
        IpAddr::V6(ip) => {
            let groups: Vec<_> = ip.segments().iter().map(|g| format!("{g:04x}")).collect();
            out.push_str(&groups.join(":"));
        }
    }
    if let Some(p) = port {
        write!(out, ":{p}").unwrap();
    }
}

fn tuple(out: &mut String, key: &str, t: &Tuple) {
    write!(out, " {key}=").unwrap();
    addr(out, t.src, t.sport);
    out.push_str("->");
    addr(out, t.dst, t.dport);
}

fn mac(m: &[u8; 6]) -> String {
    let bytes: Vec<_> = m.iter().map(|b| format!("{b:02x}")).collect();
    bytes.join(":")
}

fn render(e: &Entry) -> String {
    let state = match e.state {
        State::Invalid => "INV",
        State::Unbound => "UNB",
        State::Bound => "BND",
        State::Fin => "FIN",
        State::Unknown => "UNK",
    };
    let kind = match e.kind {
        PacketType::Ipv4Hnapt => "IPv4 5T",
        PacketType::Ipv4Route => "IPv4 3T",
        PacketType::DsLite => "DS-LITE",
        PacketType::Ipv6Route3T => "IPv6 3T",
        PacketType::Ipv6Route5T => "IPv6 5T",
        PacketType::Ipv6Rd => "6RD",
        PacketType::Unknown => "UNKNOWN",
    };
    let mut out = format!("{:05x} {state} {kind:>7}", e.index);
    match &e.orig {
        Some(t) => tuple(&mut out, "orig", t),
        None => out.push_str(" orig=(null)->(null)"),
    }
    if let Some(t) = &e.new {
        tuple(&mut out, "new", t);
    }
    write!(
        out,
        " eth={}->{} etype={:04x} vlan={},{} ib1={:08x} ib2={:08x}",
        mac(&e.eth_src),
        mac(&e.eth_dst),
        e.etype,
        e.vlan[0],
        e.vlan[1],
        e.ib1,
        e.ib2
    )
    .unwrap();
    if let Some(p) = e.packets {
        write!(out, " packets={p}").unwrap();
    }
    if let Some(b) = e.bytes {
        write!(out, " bytes={b}").unwrap();
    }
    out
}

fn render_stats(s: &Stats) -> String {
    let mut out = String::new();
    for (key, value) in [
        ("version", ppe::STATS_VERSION),
        ("entries", s.entries),
        ("ways", s.ways),
        ("buckets", s.buckets),
        ("accounting", u64::from(s.accounting)),
        ("committed", s.committed),
        ("bound", s.bound),
        ("bind_no_free_way", s.bind_no_free_way),
        ("cleared", s.cleared),
        ("flushes", s.flushes),
        ("state_invalid", s.state_invalid),
        ("state_unbound", s.state_unbound),
        ("state_bound", s.state_bound),
        ("state_fin", s.state_fin),
        ("reserved", s.reserved),
        ("buckets_full", s.buckets_full),
    ] {
        writeln!(out, "{key} {value}").unwrap();
    }
    let pairs: Vec<_> = s
        .bucket_bound
        .iter()
        .enumerate()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    writeln!(out, "bucket_bound {}", pairs.join(" ")).unwrap();
    out
}

fn check_error(err: &Error, data: &[u8]) {
    match err {
        Error::Io(e) => panic!("I/O error from a slice: {e}"),
        Error::Format { line, what } => {
            assert!(!what.is_empty());
            let lines = data.split(|&b| b == b'\n').count() as u64;
            assert!(line.is_none_or(|l| (1..=lines).contains(&l)), "{err}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut entries = Vec::new();
    if let Err(err) = ppe::read_entries(data, |e| entries.push(e)) {
        check_error(&err, data);
    }
    for e in &entries {
        let ipv4 = matches!(
            e.kind,
            PacketType::Ipv4Hnapt | PacketType::Ipv4Route | PacketType::DsLite
        );
        assert_eq!(e.orig.is_some(), e.kind != PacketType::Unknown);
        assert_eq!(e.new.is_some(), ipv4);
        let line = render(e);
        assert_eq!(ppe::parse_entry(&line).as_ref(), Ok(e), "{line}");
    }

    match Stats::read(data) {
        Ok(stats) => {
            assert_eq!(stats.bucket_bound.len() as u64, stats.ways + 1);
            let text = render_stats(&stats);
            assert_eq!(Stats::read(text.as_bytes()).unwrap(), stats, "{text}");
        }
        Err(err) => check_error(&err, data),
    }
});

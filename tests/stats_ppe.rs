//! The PPE parsers on the kernel series' vectors (tests/fixtures/stats, verbatim).

use std::fs;
use std::net::IpAddr;

use fw4_offload::stats::ppe::{self, PacketType, State, Stats};

fn fixture(name: &str) -> String {
    fs::read_to_string(format!("tests/fixtures/stats/{name}")).unwrap()
}

#[test]
fn entries_vector() {
    let text = fixture("ppe-entries.txt");
    // The vector file documents the format in `#` lines before the entry.
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut entries = Vec::new();
    ppe::read_entries(body.as_bytes(), |e| entries.push(e)).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.index, e.state, e.kind),
        (0xc, State::Bound, PacketType::Ipv4Hnapt)
    );
    let new = e.new.unwrap();
    assert_eq!(new.src, "203.0.113.5".parse::<IpAddr>().unwrap());
    assert_eq!((new.sport, new.dport), (Some(61000), Some(443)));
    assert_eq!(e.eth_src, [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
    assert_eq!((e.packets, e.bytes), (Some(15), Some(1500)));
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(
        (json["type"].as_str(), json["state"].as_str()),
        (Some("IPv4 5T"), Some("bound"))
    );
}

#[test]
fn entries_comment_lines_are_errors_with_their_line() {
    let err = ppe::read_entries(fixture("ppe-entries.txt").as_bytes(), |_| {}).unwrap_err();
    assert!(err.to_string().starts_with("line 1: "), "{err}");
}

#[test]
fn stats_vector_is_consistent() {
    let stats = Stats::read(fixture("ppe-stats.txt").as_bytes()).unwrap();
    assert_eq!(stats.buckets * stats.ways, stats.entries);
    let states = stats.state_invalid + stats.state_unbound + stats.state_bound + stats.state_fin;
    assert_eq!(states + stats.reserved, stats.entries);
    assert_eq!(stats.bucket_bound.iter().sum::<u64>(), stats.buckets);
    let bound_ways: u64 = stats.bucket_bound.iter().zip(0..).map(|(n, k)| n * k).sum();
    assert_eq!(bound_ways, stats.state_bound);
    // A bucket with every way bound is full; unbound entries can fill others.
    assert!(stats.buckets_full >= stats.bucket_bound[stats.ways as usize]);
    assert_eq!(
        (stats.committed, stats.bound, stats.bind_no_free_way),
        (2, 1, 1)
    );
    assert_eq!((stats.cleared, stats.flushes), (0, 1));
}

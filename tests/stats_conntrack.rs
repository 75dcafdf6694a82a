//! The conntrack parser on real tables (tests/fixtures/stats, see its README), checked
//! against `conntrack -L` of the same table.

use std::collections::BTreeMap;
use std::fs;

use fw4_offload::stats::conntrack::{self, Flag, Offloaded, Query, Summary};

fn fixture(name: &str) -> String {
    fs::read_to_string(format!("tests/fixtures/stats/{name}")).unwrap()
}

/// What `conntrack -L | grep -c` can count: lines per l4 protocol, `[ASSURED]`,
/// `[UNREPLIED]`, `mark=42`, `zone=7`.
fn conntrack_l_counts(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        *counts.entry("lines".into()).or_default() += 1;
        let proto = line.split_whitespace().next().unwrap();
        *counts.entry(proto.to_string()).or_default() += 1;
        for word in ["[ASSURED]", "[UNREPLIED]", "mark=42", "zone=7"] {
            if line.split_whitespace().any(|w| w == word) {
                *counts.entry(word.to_string()).or_default() += 1;
            }
        }
    }
    counts
}

#[test]
fn real_table_counts_match_conntrack_l() {
    let mut ours = BTreeMap::<String, usize>::new();
    let skipped = conntrack::scan(fixture("conntrack.txt").as_bytes(), |flow| {
        let mut count = |key: &str| *ours.entry(key.to_string()).or_default() += 1;
        count("lines");
        count(&flow.l4);
        if flow.flag == Flag::Assured {
            count("[ASSURED]");
        }
        if flow.unreplied {
            count("[UNREPLIED]");
        }
        if flow.mark == Some(42) {
            count("mark=42");
        }
        if flow.zone == Some(7) {
            count("zone=7");
        }
    })
    .unwrap();
    assert_eq!(skipped, conntrack::Skipped::default());
    assert_eq!(ours, conntrack_l_counts(&fixture("conntrack-L.txt")));
    assert_eq!(ours["lines"], 10);
}

#[test]
fn real_table_has_timeouts_counters_and_no_offload() {
    let text = fixture("conntrack.txt");
    let summary = Summary::read(text.as_bytes(), "fixture").unwrap();
    assert_eq!(summary.total, 10);
    let none = Offloaded::default();
    assert_eq!(
        [summary.all, summary.tcp, summary.udp, summary.other],
        [none; 4]
    );
    conntrack::scan(text.as_bytes(), |flow| {
        assert!(flow.timeout.is_some(), "{flow:?}");
        assert!(flow.original.packets.is_some() && flow.reply.bytes.is_some());
        assert_eq!(
            flow.original.sport.is_some(),
            flow.l4num == 6 || flow.l4num == 17
        );
    })
    .unwrap();
}

#[test]
fn offloaded_flows_are_counted_and_listed() {
    let text = fixture("conntrack-offload.txt");
    let summary = Summary::read(text.as_bytes(), "fixture").unwrap();
    assert_eq!(summary.total, 10);
    let offloaded = |software, hardware| Offloaded { software, hardware };
    assert_eq!(summary.all, offloaded(1, 2));
    assert_eq!(summary.tcp, offloaded(1, 1));
    assert_eq!(summary.udp, offloaded(0, 1));

    let all = Query {
        proto: None,
        hw: None,
        offset: 0,
        limit: 100,
    };
    let page = conntrack::list(text.as_bytes(), &all, "fixture").unwrap();
    assert_eq!(page.matched, 3);
    let ports: Vec<_> = page.flows.iter().map(|f| f.original.dport).collect();
    assert_eq!(ports, [Some(8443), Some(5300), Some(8080)]);
    assert!(page.flows.iter().all(|f| f.timeout.is_none()));

    let hw_tcp = Query {
        proto: Some(6),
        hw: Some(true),
        ..all
    };
    let page = conntrack::list(text.as_bytes(), &hw_tcp, "fixture").unwrap();
    assert_eq!(page.matched, 1);
    assert_eq!(page.flows[0].reply.sport, Some(8080));

    let second = Query {
        offset: 1,
        limit: 1,
        ..all
    };
    let page = conntrack::list(text.as_bytes(), &second, "fixture").unwrap();
    assert_eq!((page.flows.len(), page.matched), (1, 3));
    assert_eq!(page.flows[0].original.dport, Some(5300));
}

#[test]
fn listing_serializes_for_ubus() {
    let text = fixture("conntrack-offload.txt");
    let query = Query {
        proto: Some(17),
        hw: None,
        offset: 0,
        limit: 1,
    };
    let page = conntrack::list(text.as_bytes(), &query, "fixture").unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["flows"][0]["flag"], "hw_offload");
    assert_eq!(json["flows"][0]["original"]["dport"], 5300);
    assert!(json["flows"][0].get("timeout").is_none());
}

#[test]
fn over_long_and_broken_lines_are_counted_not_fatal() {
    let mut text = fixture("conntrack.txt");
    text.push_str(&"x".repeat(100_000));
    text.push_str("\nipv4 2 tcp 6 oops\n");
    let summary = Summary::read(text.as_bytes(), "fixture").unwrap();
    assert_eq!(summary.total, 10);
    assert_eq!(
        (summary.skipped.too_long, summary.skipped.malformed),
        (1, 1)
    );
}

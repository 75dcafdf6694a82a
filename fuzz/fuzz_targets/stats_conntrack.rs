//! Any bytes as `/proc/net/nf_conntrack` (after 6 bytes that pick the reader's buffer size
//! and a `flows` query). Checks: nothing panics; the summary is the same whatever the
//! buffer size (lines split across reads); counts add up (offloaded overall = tcp + udp
//! + other, no more than the total); a page never holds more than its limit,
//! holds exactly what the offset leaves of the matches, only flows the query selects, and
//! `matched` agrees with the summary; every parsed line, printed again the way
//! `ct_seq_show()` prints, parses to the same flow.
#![no_main]

use std::fmt::Write;
use std::io::BufReader;

use fw4_offload::stats::conntrack::{self, Flag, Flow, Offloaded, Query, Summary, Tuple};
use libfuzzer_sys::fuzz_target;

fn tuple(out: &mut String, t: &Tuple) {
    write!(out, "src={} dst={} ", t.src, t.dst).unwrap();
    if let Some(p) = t.sport {
        write!(out, "sport={p} ").unwrap();
    }
    if let Some(p) = t.dport {
        write!(out, "dport={p} ").unwrap();
    }
    if let Some(p) = t.packets {
        write!(out, "packets={p} ").unwrap();
    }
    if let Some(b) = t.bytes {
        write!(out, "bytes={b} ").unwrap();
    }
}

/// A flow as the kernel prints it (the l3 number and directional zones are not kept).
fn render(flow: &Flow) -> String {
    let mut out = format!("{:<8} 2 {:<8} {} ", flow.l3, flow.l4, flow.l4num);
    if let Some(t) = flow.timeout {
        write!(out, "{t} ").unwrap();
    }
    tuple(&mut out, &flow.original);
    if flow.unreplied {
        out.push_str("[UNREPLIED] ");
    }
    tuple(&mut out, &flow.reply);
    out.push_str(match flow.flag {
        Flag::HwOffload => "[HW_OFFLOAD] ",
        Flag::Offload => "[OFFLOAD] ",
        Flag::Assured => "[ASSURED] ",
        Flag::None => "",
    });
    if let Some(m) = flow.mark {
        write!(out, "mark={m} ").unwrap();
    }
    if let Some(z) = flow.zone {
        write!(out, "zone={z} ").unwrap();
    }
    out.push_str("use=2");
    out
}

fuzz_target!(|data: &[u8]| {
    let (params, table) = data.split_at(data.len().min(6));
    let byte = |i: usize| params.get(i).copied().unwrap_or(0);
    let capacity = 1 + byte(0) as usize;
    let query = Query {
        proto: match byte(1) % 4 {
            0 => None,
            1 => Some(6),
            2 => Some(17),
            _ => Some(byte(2)),
        },
        hw: [None, Some(true), Some(false)][byte(3) as usize % 3],
        offset: u64::from(byte(4) % 8),
        limit: byte(5) as usize % 8,
    };

    let summary = Summary::read(table, "fuzz").unwrap();
    assert_eq!(
        summary,
        Summary::read(BufReader::with_capacity(capacity, table), "fuzz").unwrap()
    );
    let parts = [summary.tcp, summary.udp, summary.other];
    let sum = |f: fn(&Offloaded) -> u64| parts.iter().map(f).sum::<u64>();
    assert_eq!(summary.all.software, sum(|c| c.software));
    assert_eq!(summary.all.hardware, sum(|c| c.hardware));
    assert!(summary.all.software + summary.all.hardware <= summary.total);

    let page = conntrack::list(BufReader::with_capacity(capacity, table), &query, "fuzz").unwrap();
    assert!(page.flows.len() <= query.limit.min(conntrack::MAX_LIMIT));
    let left = page.matched.saturating_sub(query.offset) as usize;
    assert_eq!(page.flows.len(), left.min(query.limit));
    assert_eq!(page.skipped, summary.skipped);
    for flow in &page.flows {
        assert!(matches!(flow.flag, Flag::Offload | Flag::HwOffload));
        assert!(query.proto.is_none_or(|p| p == flow.l4num));
        assert!(query
            .hw
            .is_none_or(|hw| hw == (flow.flag == Flag::HwOffload)));
    }
    let counts = match query.proto {
        None => Some(summary.all),
        Some(6) => Some(summary.tcp),
        Some(17) => Some(summary.udp),
        Some(_) => None, // one protocol of `other`
    };
    if let Some(c) = counts {
        let want = match query.hw {
            None => c.software + c.hardware,
            Some(true) => c.hardware,
            Some(false) => c.software,
        };
        assert_eq!(page.matched, want);
    }

    conntrack::scan(table, |flow| {
        let line = render(&flow);
        assert_eq!(conntrack::parse_line(&line).as_ref(), Ok(&flow), "{line}");
    })
    .unwrap();
});

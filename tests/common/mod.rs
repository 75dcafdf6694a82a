//! Shared by the tests that replay tests/fixtures/ubus/session.jsonl (real traffic between
//! OpenWrt's ubusd, libubus and the ubus CLI; see the README there).
#![allow(dead_code)] // each test binary uses its own part

use fw4_offload::ubus::message::Message;
use serde_json::Value as Json;

pub struct Recorded {
    pub conn: u64,
    pub to_ubusd: bool,
    pub kind: String,
    pub seq: u16,
    pub peer: u32,
    pub bytes: Vec<u8>,
}

pub fn session() -> Vec<Recorded> {
    let text = include_str!("../fixtures/ubus/session.jsonl");
    text.lines()
        .map(|line| {
            let v: Json = serde_json::from_str(line).unwrap();
            let hex = v["hex"].as_str().unwrap();
            Recorded {
                conn: v["conn"].as_u64().unwrap(),
                to_ubusd: v["dir"] == "client->ubusd",
                kind: v["type"].as_str().unwrap().to_owned(),
                seq: v["seq"].as_u64().unwrap() as u16,
                peer: u32::from_str_radix(v["peer"].as_str().unwrap(), 16).unwrap(),
                bytes: (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect(),
            }
        })
        .collect()
}

/// The recorded messages of connection `conn` in one direction, of one type.
pub fn find(session: &[Recorded], conn: u64, to_ubusd: bool, kind: &str) -> Vec<Vec<u8>> {
    session
        .iter()
        .filter(|r| r.conn == conn && r.to_ubusd == to_ubusd && r.kind == kind)
        .map(|r| r.bytes.clone())
        .collect()
}

pub fn one(session: &[Recorded], conn: u64, to_ubusd: bool, kind: &str, seq: u16) -> Vec<u8> {
    let found: Vec<_> = find(session, conn, to_ubusd, kind)
        .into_iter()
        .filter(|b| Message::decode(b).unwrap().header.seq == seq)
        .collect();
    assert_eq!(found.len(), 1, "conn {conn} {kind} seq {seq}");
    found.into_iter().next().unwrap()
}

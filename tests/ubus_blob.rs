//! Blob and blobmsg edge cases, with messages written byte by byte: padding, the extended
//! bit, name headers of every small length, nesting, truncation, and length fields that lie.

use fw4_offload::ubus::blob::Writer;
use fw4_offload::ubus::blobmsg::{self, Value, MAX_DEPTH};
use fw4_offload::ubus::message::{frame_len, Attr, Builder, Header, Kind, Message};
use fw4_offload::ubus::{Error, MAX_MSGLEN};
use serde_json::json;

/// A blob id/length word.
fn tag(id: u32, extended: bool, len: usize) -> [u8; 4] {
    (u32::from(extended) << 31 | id << 24 | len as u32).to_be_bytes()
}

/// A DATA message (seq 1, peer 0) whose root blob holds `body`.
fn message(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0, Kind::Data as u8, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(&tag(0, false, 4 + body.len()));
    m.extend_from_slice(body);
    m
}

/// UBUS_ATTR_DATA (7) around `entries`.
fn data(entries: &[u8]) -> Vec<u8> {
    [&tag(7, false, 4 + entries.len())[..], entries].concat()
}

/// A blobmsg entry of type `ty` named `name`, with `payload`, padded.
fn entry(ty: u32, name: &str, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![0; 4];
    e.extend_from_slice(&(name.len() as u16).to_be_bytes());
    e.extend_from_slice(name.as_bytes());
    e.push(0);
    e.resize(e.len().next_multiple_of(4), 0);
    e.extend_from_slice(payload);
    let len = e.len();
    e[..4].copy_from_slice(&tag(ty, true, len));
    e.resize(len.next_multiple_of(4), 0);
    e
}

fn builder() -> Builder {
    Builder::new(Header {
        kind: Kind::Data,
        seq: 1,
        peer: 0,
    })
}

fn malformed(bytes: &[u8]) -> &'static str {
    match Message::decode(bytes) {
        Err(Error::Malformed { what, at }) => {
            assert!(at < bytes.len(), "{what} at {at}");
            what
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn strings_are_nul_terminated_and_padded_to_four() {
    for n in 0..9 {
        let path = "abcdefgh"[..n].to_owned();
        let bytes = builder().attr(Attr::ObjPath(&path)).finish().unwrap();
        let padded = (n + 1).next_multiple_of(4);
        let mut want = message(&[]);
        want.extend_from_slice(&tag(2, false, 4 + n + 1));
        want.extend_from_slice(path.as_bytes());
        want.resize(want.len() + padded - n, 0);
        want[8..12].copy_from_slice(&tag(0, false, 4 + 4 + padded));
        assert_eq!(bytes, want, "{path:?}");
        assert_eq!(
            Message::decode(&bytes).unwrap().objpath(),
            Some(path.as_str())
        );
    }
}

#[test]
fn blobmsg_names_of_every_small_length() {
    for n in 0..10 {
        let name = "abcdefghi"[..n].to_owned();
        let payload = |w: &mut Writer| blobmsg::put(w, &name, &Value::Int32(-2));
        let bytes = builder().data(&payload).finish().unwrap();
        let e = entry(5, &name, &(-2i32).to_be_bytes());
        assert_eq!(e[0] & 0x80, 0x80, "extended bit");
        assert_eq!(bytes, message(&data(&e)), "{name:?}");
        if n == 0 {
            // A table entry needs a name (blobmsg_check_attr).
            assert_eq!(malformed(&bytes), "table entry without a name");
            continue;
        }
        let msg = Message::decode(&bytes).unwrap();
        let entries: Vec<_> = msg.data().unwrap().entries().collect();
        assert_eq!(entries, [(name.as_str(), Value::Int32(-2))]);
    }
}

#[test]
fn every_type_round_trips_exactly() {
    let values = [
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int16(-300),
        Value::Int32(i32::MIN),
        Value::Int64(i64::MAX),
        Value::Double(1.5),
        Value::Double(f64::NAN),
        Value::String(""),
        Value::String("hé\u{0}x"),
    ];
    let payload = |w: &mut Writer| {
        for (i, v) in values.iter().enumerate() {
            blobmsg::put(w, &format!("k{i}"), v);
        }
    };
    let bytes = builder().data(&payload).finish().unwrap();
    let msg = Message::decode(&bytes).unwrap();
    let decoded: Vec<_> = msg.data().unwrap().values().collect();
    assert_eq!(decoded, values);
    assert_ne!(Value::Double(f64::NAN), Value::Double(-f64::NAN));
    assert_eq!(msg.encode().unwrap(), bytes);
    assert_eq!(
        serde_json::Value::Object(msg.data().unwrap().to_json()),
        json!({"k0": null, "k1": true, "k2": false, "k3": -300, "k4": i32::MIN,
               "k5": i64::MAX, "k6": 1.5, "k7": null, "k8": "", "k9": "hé\u{0}x"})
    );
}

#[test]
fn type_7_is_a_boolean_whatever_the_byte() {
    let bytes = message(&data(&entry(7, "b", &[5])));
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(msg.data().unwrap().values().next(), Some(Value::Bool(true)));
}

#[test]
fn json_numbers_take_libubox_widths() {
    let json = json!({"small": 1, "big": 1i64 << 40, "huge": u64::MAX, "frac": 0.25, "neg": -5});
    let bytes = builder().data(json.as_object().unwrap()).finish().unwrap();
    let msg = Message::decode(&bytes).unwrap();
    let entries: Vec<_> = msg.data().unwrap().entries().collect();
    // serde_json's map is sorted by key.
    assert_eq!(
        entries,
        [
            ("big", Value::Int64(1 << 40)),
            ("frac", Value::Double(0.25)),
            ("huge", Value::Int64(i64::MAX)),
            ("neg", Value::Int32(-5)),
            ("small", Value::Int32(1)),
        ]
    );
}

#[test]
fn nested_tables_and_arrays() {
    let json = json!({
        "a": [[], {}, [1, [2, {"x": "y"}]], {"t": {"u": [true, null]}}],
        "e": {},
    });
    let bytes = builder().data(json.as_object().unwrap()).finish().unwrap();
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(
        serde_json::Value::Object(msg.data().unwrap().to_json()),
        json
    );
    assert_eq!(msg.encode().unwrap(), bytes);
    // Every container's length counts its children's padding: the message is all 4-aligned.
    assert_eq!(bytes.len() % 4, 0);
}

#[test]
fn array_entry_names_are_ignored() {
    let named = entry(3, "n", b"v\0");
    let mut array = entry(1, "a", &named);
    let bytes = message(&data(&array));
    let msg = Message::decode(&bytes).unwrap();
    let re = msg.encode().unwrap();
    assert_ne!(re, bytes, "the name is dropped");
    assert_eq!(Message::decode(&re).unwrap(), msg);
    array = entry(1, "a", &entry(3, "", b"v\0"));
    assert_eq!(re, message(&data(&array)));
}

#[test]
fn nesting_is_bounded() {
    let nest = |depth: usize| {
        let mut inner = entry(5, "n", &[0, 0, 0, 1]);
        for _ in 0..depth {
            inner = entry(2, "t", &inner);
        }
        message(&data(&inner))
    };
    assert!(Message::decode(&nest(MAX_DEPTH)).is_ok());
    assert_eq!(
        malformed(&nest(MAX_DEPTH + 1)),
        "blobmsg nested deeper than 32 levels"
    );
}

#[test]
fn every_truncation_is_an_error() {
    let json = json!({"state": "hw", "devices": ["lan1", "wan"], "flows": 12});
    let bytes = builder()
        .attr(Attr::ObjId(7))
        .attr(Attr::Method("m"))
        .data(json.as_object().unwrap())
        .finish()
        .unwrap();
    for cut in 0..bytes.len() {
        let prefix = &bytes[..cut];
        assert!(Message::decode(prefix).is_err(), "cut at {cut}");
        let expected = (cut >= 12).then_some(bytes.len());
        assert_eq!(frame_len(prefix).unwrap(), expected);
    }
}

#[test]
fn lying_lengths_and_bad_values_are_errors() {
    let ok = message(&data(&entry(5, "n", &[0, 0, 0, 1])));
    assert!(Message::decode(&ok).is_ok());

    let mut long_root = ok.clone();
    long_root[8..12].copy_from_slice(&tag(0, false, ok.len() - 8 + 4));
    assert_eq!(
        malformed(&long_root),
        "blob length does not match the message length"
    );
    let mut trailing = ok.clone();
    trailing.extend_from_slice(&[0; 4]);
    assert_eq!(
        malformed(&trailing),
        "blob length does not match the message length"
    );

    let short_attr = message(&[&tag(3, false, 2)[..], &[0; 4]].concat());
    assert_eq!(
        malformed(&short_attr),
        "blob attribute length is shorter than its header"
    );
    let past = message(&[&tag(3, false, 12)[..], &[0; 4]].concat());
    assert_eq!(malformed(&past), "blob attribute runs past its container");
    let stray = message(&[&tag(3, false, 8)[..], &[0; 6]].concat());
    assert_eq!(malformed(&stray), "truncated blob attribute header");
    let unpadded = message(&[&tag(4, false, 6)[..], b"m\0"].concat());
    assert_eq!(
        malformed(&unpadded),
        "blob attribute runs past its container"
    );

    let objid = message(&[&tag(3, false, 6)[..], &[0; 4]].concat());
    assert_eq!(
        malformed(&objid),
        "32-bit ubus attribute has the wrong size"
    );
    let method = message(&[&tag(4, false, 8)[..], b"mmmm"].concat());
    assert_eq!(malformed(&method), "string is not NUL-terminated");
    let latin1 = message(&[&tag(4, false, 8)[..], b"\xe9t\xe9\0"].concat());
    assert_eq!(malformed(&latin1), "string is not UTF-8");

    let mut name_past = entry(5, "n", &[0, 0, 0, 1]);
    name_past[5] = 9;
    assert_eq!(
        malformed(&message(&data(&name_past))),
        "blobmsg name runs past its attribute"
    );
    let mut name_unterminated = entry(5, "n", &[0, 0, 0, 1]);
    name_unterminated[7] = b'x';
    let what = malformed(&message(&data(&name_unterminated)));
    assert_eq!(what, "string is not NUL-terminated");
    let mut not_extended = entry(5, "n", &[0, 0, 0, 1]);
    not_extended[0] &= 0x7f;
    let what = malformed(&message(&data(&not_extended)));
    assert_eq!(what, "blobmsg attribute without the extended bit");
    let short_int = message(&data(&entry(5, "n", &[0, 0, 1])));
    assert_eq!(malformed(&short_int), "blobmsg number has the wrong size");
    let long_bool = message(&data(&entry(7, "n", &[0, 1])));
    assert_eq!(malformed(&long_bool), "blobmsg number has the wrong size");
    let unknown = message(&data(&entry(9, "n", &[])));
    assert_eq!(malformed(&unknown), "unknown blobmsg type");
    let string = message(&data(&entry(3, "n", b"ab")));
    assert_eq!(malformed(&string), "string is not NUL-terminated");

    let mut version = ok.clone();
    version[0] = 1;
    assert_eq!(malformed(&version), "unknown ubus message version");
    let mut kind = ok.clone();
    kind[1] = 12;
    assert_eq!(malformed(&kind), "unknown ubus message type");
}

#[test]
fn the_1_mib_limit() {
    let header = |len: usize| [&[0u8, 2, 0, 1, 0, 0, 0, 0][..], &tag(0, false, len)].concat();
    assert_eq!(
        frame_len(&header(MAX_MSGLEN)).unwrap(),
        Some(8 + MAX_MSGLEN)
    );
    assert!(matches!(
        frame_len(&header(MAX_MSGLEN + 1)),
        Err(Error::Malformed {
            what: "message longer than ubus's 1 MiB limit",
            ..
        })
    ));
    assert!(matches!(
        frame_len(&header(3)),
        Err(Error::Malformed {
            what: "blob length is shorter than its header",
            ..
        })
    ));

    // Payloads up to the limit encode; one byte over does not.
    let fits = "x".repeat(MAX_MSGLEN - 4 - 4 - 1);
    let at_limit = builder().attr(Attr::Method(&fits)).finish().unwrap();
    assert_eq!(at_limit.len(), 8 + MAX_MSGLEN);
    assert_eq!(
        Message::decode(&at_limit).unwrap().method(),
        Some(fits.as_str())
    );
    let over = "x".repeat(MAX_MSGLEN);
    assert!(matches!(
        builder().attr(Attr::Method(&over)).finish(),
        Err(Error::Encode("message longer than ubus's 1 MiB limit"))
    ));
    let long_name = "n".repeat(70_000);
    let payload = |w: &mut Writer| blobmsg::put(w, &long_name, &Value::Null);
    assert!(matches!(
        builder().data(&payload).finish(),
        Err(Error::Encode("blobmsg name longer than 65535 bytes"))
    ));
    // The word has 7 bits for the id and 24 for the length.
    let mut w = Writer::new(&[]);
    w.put(128, &[]);
    assert!(matches!(
        w.finish(),
        Err(Error::Encode("blob attribute id over 127"))
    ));
    let mut w = Writer::new(&[]);
    w.put(127, &vec![0; (1 << 24) - 4 + 1]);
    assert!(matches!(
        w.finish(),
        Err(Error::Encode("blob attribute longer than 16 MiB"))
    ));
}

//! Replays tests/fixtures/ubus/session.jsonl, traffic recorded between OpenWrt's ubusd,
//! libubus and the ubus CLI (see the README there): every message decodes to the recorded
//! header and re-encodes to the same bytes, the attributes say what the README says they
//! say, and our server and client builders produce the recorded bytes for the same content.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread;

use fw4_offload::ubus::blob::Writer;
use fw4_offload::ubus::blobmsg::{self, Type, Value};
use fw4_offload::ubus::client;
use fw4_offload::ubus::conn::Connection;
use fw4_offload::ubus::message::{Attr, Kind, Message, Status};
use fw4_offload::ubus::server::{self, Method, Request};
use serde_json::{json, Map, Value as Json};
mod common;
use common::{find, one, session, Recorded};

/// The INVOKE ubusd relayed to the server (connection 1) for the caller with client id `caller`.
fn relayed_from(session: &[Recorded], caller: u32) -> Vec<u8> {
    let found: Vec<_> = session
        .iter()
        .filter(|r| r.conn == 1 && r.kind == "INVOKE" && r.peer == caller)
        .collect();
    assert_eq!(found.len(), 1);
    found[0].bytes.clone()
}

fn wire_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Hello => "HELLO",
        Kind::Status => "STATUS",
        Kind::Data => "DATA",
        Kind::Ping => "PING",
        Kind::Lookup => "LOOKUP",
        Kind::Invoke => "INVOKE",
        Kind::AddObject => "ADD_OBJECT",
        Kind::RemoveObject => "REMOVE_OBJECT",
        Kind::Subscribe => "SUBSCRIBE",
        Kind::Unsubscribe => "UNSUBSCRIBE",
        Kind::Notify => "NOTIFY",
        Kind::Monitor => "MONITOR",
    }
}

const TEST_OBJECT: u32 = 0xd7b5_6cda;
const TEST_TYPE: u32 = 0x1258_3556;
const LISTENER: u32 = 0x2127_2331;

/// The libubus example server's object `test`.
const TEST_METHODS: [Method; 3] = [
    Method {
        name: "hello",
        args: &[("id", Type::Int32), ("msg", Type::String)],
    },
    Method {
        name: "watch",
        args: &[("id", Type::Int32), ("counter", Type::Int32)],
    },
    Method {
        name: "count",
        args: &[("to", Type::Int32), ("string", Type::String)],
    },
];

fn object(json: Json) -> Map<String, Json> {
    match json {
        Json::Object(map) => map,
        _ => unreachable!(),
    }
}

fn data_json(bytes: &[u8]) -> Json {
    Json::Object(Message::decode(bytes).unwrap().data().unwrap().to_json())
}

#[test]
fn every_message_decodes_to_its_header_and_reencodes_identically() {
    let session = session();
    assert_eq!(session.len(), 57);
    for r in &session {
        let msg = Message::decode(&r.bytes)
            .unwrap_or_else(|e| panic!("conn {} {} seq {}: {e}", r.conn, r.kind, r.seq));
        assert_eq!(wire_name(msg.header.kind), r.kind);
        assert_eq!(msg.header.seq, r.seq);
        assert_eq!(msg.header.peer, r.peer);
        assert_eq!(
            msg.encode().unwrap(),
            r.bytes,
            "conn {} {} seq {}",
            r.conn,
            r.kind,
            r.seq
        );
    }
}

#[test]
fn hello_names_the_client() {
    let session = session();
    let hello = &find(&session, 4, false, "HELLO")[0];
    let msg = Message::decode(hello).unwrap();
    assert_eq!(msg.header.peer, 0x4482_1bc0);
    assert_eq!(msg.attrs().count(), 0);
}

fn signature_of(msg: &Message) -> Vec<(String, Vec<(String, Value<'static>)>)> {
    msg.signature()
        .unwrap()
        .entries()
        .map(|(method, args)| {
            let Value::Table(args) = args else {
                panic!("{method}: {args:?}")
            };
            let args = args
                .entries()
                .map(|(n, v)| (n.to_owned(), detach(v)))
                .collect();
            (method.to_owned(), args)
        })
        .collect()
}

fn detach(v: Value) -> Value<'static> {
    match v {
        Value::Int32(n) => Value::Int32(n),
        other => panic!("signature type is not INT32: {other:?}"),
    }
}

fn expected_signature() -> Vec<(String, Vec<(String, Value<'static>)>)> {
    TEST_METHODS
        .iter()
        .map(|m| {
            let args = m
                .args
                .iter()
                .map(|(n, t)| (n.to_string(), Value::Int32(*t as i32)));
            (m.name.to_owned(), args.collect())
        })
        .collect()
}

#[test]
fn add_object_with_signature() {
    let session = session();
    let recorded = one(&session, 1, true, "ADD_OBJECT", 1);
    let msg = Message::decode(&recorded).unwrap();
    assert_eq!(msg.objpath(), Some("test"));
    assert_eq!(signature_of(&msg), expected_signature());
    // ids 5 and 3: INT32 and STRING
    assert_eq!(
        signature_of(&msg)[0].1[1],
        ("msg".to_owned(), Value::Int32(3))
    );

    assert_eq!(
        server::add_object(1, Some("test"), Some(&TEST_METHODS)).unwrap(),
        recorded
    );

    let reply = one(&session, 1, false, "DATA", 1);
    let reply = Message::decode(&reply).unwrap();
    assert_eq!(
        (reply.objid(), reply.objtype()),
        (Some(TEST_OBJECT), Some(TEST_TYPE))
    );
    let status = one(&session, 1, false, "STATUS", 1);
    assert_eq!(Message::decode(&status).unwrap().status(), Some(0));
}

#[test]
fn add_object_without_path_or_signature() {
    let session = session();
    let empty = server::add_object(2, None, None).unwrap();
    assert_eq!(empty, one(&session, 1, true, "ADD_OBJECT", 2));
    let listener = server::add_object(1, None, None).unwrap();
    assert_eq!(listener, one(&session, 8, true, "ADD_OBJECT", 1));
    let reply = one(&session, 8, false, "DATA", 1);
    let reply = Message::decode(&reply).unwrap();
    assert_eq!((reply.objid(), reply.objtype()), (Some(LISTENER), None));
}

#[test]
fn lookup_requests_and_replies() {
    let session = session();
    assert_eq!(
        client::lookup(1, None).unwrap(),
        one(&session, 2, true, "LOOKUP", 1)
    );
    for conn in [3, 4, 5, 6] {
        assert_eq!(
            client::lookup(1, Some("test")).unwrap(),
            one(&session, conn, true, "LOOKUP", 1)
        );
    }
    let nosuch = client::lookup(1, Some("nosuchobject")).unwrap();
    assert_eq!(nosuch, one(&session, 7, true, "LOOKUP", 1));
    let status = one(&session, 7, false, "STATUS", 1);
    assert_eq!(
        Message::decode(&status).unwrap().status(),
        Some(Status::NotFound as i32)
    );

    for conn in [2, 3] {
        let data = one(&session, conn, false, "DATA", 1);
        let msg = Message::decode(&data).unwrap();
        assert_eq!(msg.objpath(), Some("test"));
        assert_eq!(
            (msg.objid(), msg.objtype()),
            (Some(TEST_OBJECT), Some(TEST_TYPE))
        );
        assert_eq!(signature_of(&msg), expected_signature());
    }
}

#[test]
fn call_hello_from_client_to_server_and_back() {
    let session = session();
    let args = object(json!({"id": 42, "msg": "hi there"}));
    let invoke = client::invoke(2, TEST_OBJECT, "hello", &args).unwrap();
    assert_eq!(invoke, one(&session, 4, true, "INVOKE", 2));
    assert_eq!(data_json(&invoke), json!({"id": 42, "msg": "hi there"}));

    // ubusd relays it to the server with the caller as peer and its credentials.
    let relayed = relayed_from(&session, 0x4482_1bc0);
    let msg = Message::decode(&relayed).unwrap();
    assert!(msg.attrs().any(|a| a == Attr::User("root")));
    assert!(msg.attrs().any(|a| a == Attr::Group("root")));
    let request = Request::from_message(&msg).unwrap().unwrap();
    assert_eq!(
        (request.peer, request.seq, request.objid),
        (0x4482_1bc0, 2, TEST_OBJECT)
    );
    assert!(!request.no_reply);
    let method = request.dispatch(TEST_OBJECT, &TEST_METHODS).unwrap();
    assert_eq!(method.name, "hello");
    assert_eq!(
        request.args.unwrap().to_json(),
        object(json!({"id": 42, "msg": "hi there"}))
    );

    let reply = object(json!({"message": "test received a message: hi there"}));
    let data = request.reply_data(&reply).unwrap();
    let status = request.reply_status(Status::Ok).unwrap();
    let server_data: Vec<_> = find(&session, 1, true, "DATA");
    assert!(server_data.contains(&data));
    assert!(find(&session, 1, true, "STATUS").contains(&status));
    assert_eq!(
        data_json(&data),
        json!({"message": "test received a message: hi there"})
    );

    // ... and ubusd passes both on to the caller unchanged but for the header.
    let to_caller = one(&session, 4, false, "DATA", 2);
    assert_eq!(to_caller[8..], data[8..]);
    assert_eq!(
        Message::decode(&to_caller).unwrap().header.peer,
        TEST_OBJECT
    );
    assert_eq!(
        Message::decode(&one(&session, 4, false, "STATUS", 2))
            .unwrap()
            .status(),
        Some(0)
    );
}

#[test]
fn unknown_method_answers_status_3() {
    let session = session();
    let invoke = client::invoke(2, TEST_OBJECT, "nosuchmethod", &Map::new()).unwrap();
    assert_eq!(invoke, one(&session, 5, true, "INVOKE", 2));

    let relayed = relayed_from(&session, 0x9478_93de);
    let msg = Message::decode(&relayed).unwrap();
    assert_eq!(msg.method(), Some("nosuchmethod"));
    let request = Request::from_message(&msg).unwrap().unwrap();
    let status = request.dispatch(TEST_OBJECT, &TEST_METHODS).unwrap_err();
    assert_eq!(status, Status::MethodNotFound);
    let reply = request.reply_status(status).unwrap();
    assert!(find(&session, 1, true, "STATUS").contains(&reply));
    let to_caller = one(&session, 5, false, "STATUS", 2);
    assert_eq!(Message::decode(&to_caller).unwrap().status(), Some(3));
    assert_eq!(
        request
            .dispatch(TEST_OBJECT + 1, &TEST_METHODS)
            .unwrap_err(),
        Status::NotFound
    );
}

#[test]
fn wrong_argument_type_reaches_the_server_as_sent() {
    let session = session();
    let args = object(json!({"id": "notanint"}));
    let invoke = client::invoke(2, TEST_OBJECT, "hello", &args).unwrap();
    assert_eq!(invoke, one(&session, 6, true, "INVOKE", 2));
    // libubus does not check arguments against the signature: the example server answers.
    let relayed = relayed_from(&session, 0xe36b_7007);
    assert_eq!(data_json(&relayed), json!({"id": "notanint"}));
    let reply = one(&session, 6, false, "DATA", 2);
    assert_eq!(
        data_json(&reply),
        json!({"message": "test received a message: (unknown)"})
    );
}

#[test]
fn event_listener_registration_and_delivery() {
    let session = session();
    let register = client::register_listener(2, LISTENER, "offload").unwrap();
    assert_eq!(register, one(&session, 8, true, "INVOKE", 2));
    assert_eq!(
        Message::decode(&register)
            .unwrap()
            .data()
            .unwrap()
            .entries()
            .collect::<Vec<_>>(),
        [
            ("object", Value::Int32(LISTENER as i32)),
            ("pattern", Value::String("offload"))
        ]
    );
    assert_eq!(
        Message::decode(&one(&session, 8, false, "STATUS", 2))
            .unwrap()
            .status(),
        Some(0)
    );

    let event = one(&session, 8, false, "INVOKE", 1);
    let msg = Message::decode(&event).unwrap();
    let request = Request::from_message(&msg).unwrap().unwrap();
    assert_eq!((request.objid, request.method), (LISTENER, "offload"));
    assert_eq!(
        Json::Object(request.args.unwrap().to_json()),
        json!({"state": "hw", "devices": ["lan1", "wan"], "flows": 12})
    );
    let ack = request.reply_status(Status::Ok).unwrap();
    assert_eq!(ack, one(&session, 8, true, "STATUS", 1));
}

#[test]
fn send_event_as_ubus_send_does() {
    let session = session();
    // json-c keeps the object's order; serde_json's Map would sort it, so write in order.
    let payload = |w: &mut Writer| {
        blobmsg::put(w, "state", &Value::String("hw"));
        blobmsg::put_json(w, "devices", &json!(["lan1", "wan"]));
        blobmsg::put_json(w, "flows", &json!(12));
    };
    let send = client::send_event(1, "offload", &payload).unwrap();
    assert_eq!(send, one(&session, 9, true, "INVOKE", 1));
    assert_eq!(
        data_json(&send),
        json!({"id": "offload", "data": {"state": "hw", "devices": ["lan1", "wan"], "flows": 12}})
    );
    assert_eq!(
        Message::decode(&one(&session, 9, false, "STATUS", 1))
            .unwrap()
            .status(),
        Some(0)
    );
    // What ubusd delivers to the listener are the entries of that data table (0x4c bytes).
    let delivered = one(&session, 8, false, "INVOKE", 1);
    assert_eq!(
        send[send.len() - 0x4c..],
        delivered[delivered.len() - 0x4c..]
    );
}

/// ubusd's side of connection 4, written to our connection in pieces of every size from
/// 1 to 13 bytes: the connection yields the same messages, and sends ours unchanged.
#[test]
fn connection_reassembles_split_messages() {
    let session = session();
    let from_ubusd: Vec<&Recorded> = session
        .iter()
        .filter(|r| r.conn == 4 && !r.to_ubusd)
        .collect();
    let stream: Vec<u8> = from_ubusd.iter().flat_map(|r| r.bytes.clone()).collect();
    for piece in 1..=13 {
        let (ours, mut ubusd) = UnixStream::pair().unwrap();
        ubusd.write_all(&stream[..stream.len().min(piece)]).unwrap();
        let mut written = stream.len().min(piece);
        // HELLO fits in the first pieces only when they are big enough: write as we go.
        let mut conn = loop {
            if written >= 12 {
                break Connection::from_stream(ours).unwrap();
            }
            let next = (written + piece).min(stream.len());
            ubusd.write_all(&stream[written..next]).unwrap();
            written = next;
        };
        let mut got = vec![from_ubusd[0].bytes.clone()];
        while got.len() < from_ubusd.len() {
            if let Some(frame) = conn.next_frame().unwrap() {
                got.push(frame.to_vec());
                continue;
            }
            assert!(
                written < stream.len(),
                "pieces of {piece}: a message went missing"
            );
            let next = (written + piece).min(stream.len());
            ubusd.write_all(&stream[written..next]).unwrap();
            written = next;
            assert!(conn.fill().unwrap() > 0);
        }
        let want: Vec<Vec<u8>> = from_ubusd.iter().map(|r| r.bytes.clone()).collect();
        assert_eq!(got, want, "pieces of {piece}");

        let seq = conn.next_seq();
        assert_eq!(seq, 1);
        conn.send(&client::lookup(seq, Some("test")).unwrap())
            .unwrap();
        drop(conn);
        let mut sent = Vec::new();
        ubusd.read_to_end(&mut sent).unwrap();
        assert_eq!(sent, one(&session, 4, true, "LOOKUP", 1));
    }
}

/// `ubus -v list test` (connection 3) against a ubusd that replays its side of the
/// recording on a socket path and checks that we send what the CLI sent.
#[test]
fn lookup_against_a_replaying_ubusd() {
    let session = session();
    let dir = std::env::temp_dir().join(format!("fw4-offload-ubus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ubus.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let script: Vec<(bool, Vec<u8>)> = session
        .iter()
        .filter(|r| r.conn == 3)
        .map(|r| (r.to_ubusd, r.bytes.clone()))
        .collect();
    let ubusd = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        for (to_ubusd, bytes) in script {
            if to_ubusd {
                let mut got = vec![0; bytes.len()];
                socket.read_exact(&mut got).unwrap();
                assert_eq!(got, bytes);
            } else {
                socket.write_all(&bytes).unwrap();
            }
        }
    });

    let mut conn = Connection::connect(&path, std::time::Duration::from_secs(10)).unwrap();
    let seq = conn.next_seq();
    conn.send(&client::lookup(seq, Some("test")).unwrap())
        .unwrap();
    let data = conn.read_message().unwrap().to_vec();
    let data = Message::decode(&data).unwrap();
    assert_eq!((data.header.kind, data.header.seq), (Kind::Data, seq));
    assert_eq!(data.objpath(), Some("test"));
    let status = conn.read_message().unwrap().to_vec();
    let status = Message::decode(&status).unwrap();
    assert_eq!(
        (status.header.kind, status.status()),
        (Kind::Status, Some(0))
    );
    ubusd.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

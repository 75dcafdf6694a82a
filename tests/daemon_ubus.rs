//! The daemon against ubusd's side of the recorded session (tests/fixtures/ubus): no ubusd
//! runs here, so this test plays it, sending the recorded HELLO and registration replies
//! and the kinds of requests ubusd relays, and checks what the daemon sends back. The
//! daemon runs as its own process in a private network namespace without CAP_NET_ADMIN:
//! it applies at start, and the kernel refuses (EPERM) whether it has flowtables or not.
//!
//! Shown: registration in the order and bytes libubus uses; zones resolved through the
//! `network.interface dump` the daemon asks netifd for; status, flows, devices and
//! reload answered with DATA + STATUS under the caller's peer id and sequence number;
//! bad arguments, unknown methods and objects answered with ubus's status codes; events
//! sent through ubusd's event object; a malformed message logged and skipped; a message
//! over 1 MiB, or ubusd going away, answered by connecting and registering again; link
//! changes applied before the calls that wait behind them.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fw4_offload::ubus::blobmsg::Value;
use fw4_offload::ubus::message::{frame_len, Attr, Builder, Header, Kind, Message, Status};
use serde_json::{json, Map, Value as Json};

mod common;
use common::{one, session};

const CALLER: u32 = 0x4482_1bc0;
const OBJECT: u32 = 0xd7b5_6cda;
const OBJTYPE: u32 = 0x1258_3556;
/// The listener object id ubusd gave `ubus listen` in the recording.
const LISTENER: u32 = 0x2127_2331;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("fw4-offload-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("config")).unwrap();
        // Offloading on `lo`. The daemon runs without CAP_NET_ADMIN (see Daemon::start):
        // the kernel refuses every apply with EPERM, with or without flowtables, which
        // is what makes the daemon send offload.error.
        std::fs::write(
            dir.join("config/firewall"),
            "config defaults\n\toption flow_offloading '1'\n\n\
             config zone\n\toption name 'lan'\n\tlist network 'lan'\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("config/network"),
            "config interface 'lan'\n\toption device 'lo'\n",
        )
        .unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Daemon(Child);

impl Daemon {
    fn start(dir: &Path, socket: &Path) -> Daemon {
        let child = Command::new("unshare")
            .arg("--net")
            .args([
                "setpriv",
                "--inh-caps=-net_admin",
                "--bounding-set=-net_admin",
            ])
            .arg(env!("CARGO_BIN_EXE_fw4-offload"))
            .arg("--config")
            .arg(dir.join("config"))
            .args(["-s".as_ref(), socket.as_os_str()])
            .args(["--syslog", "/nonexistent/log"])
            .arg("daemon")
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare --net setpriv (this test needs root)");
        Daemon(child)
    }

    /// SIGTERM, then the exit status and everything it logged.
    fn stop(mut self) -> (bool, String) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let mut log = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (self.0.wait().unwrap().success(), log)
    }
}

/// A test that fails must not leave the daemon running.
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// netifd's object, as ubusd would know it.
const NETIFD_OBJECT: u32 = 0x6e65_7469;

/// What netifd reports: `lan` is up on `lo`.
fn netifd_dump() -> Map<String, Json> {
    let dump = json!({ "interface": [{
        "interface": "lan", "up": true, "pending": false, "available": true,
        "proto": "static", "device": "lo", "l3_device": "lo",
    }]});
    match dump {
        Json::Object(map) => map,
        _ => unreachable!(),
    }
}

/// ubusd's listening socket: every connection gets the recorded HELLO; the daemon's
/// one-shot `network.interface dump` calls are answered by netifd's part here, in a
/// thread (the daemon makes them while the test waits on the main connection); other
/// connections (the daemon registering, the CLI calling) go to the test.
struct Ubusd {
    registering: std::sync::mpsc::Receiver<Peer>,
    /// Dumps asked for, and answered.
    netifd_asked: Arc<AtomicUsize>,
    netifd_calls: Arc<AtomicUsize>,
    /// While the test holds it, netifd's answers wait: the daemon is stopped inside an
    /// apply.
    netifd_hold: Arc<Mutex<()>>,
}

impl Ubusd {
    fn start(listener: UnixListener, hello: Vec<u8>) -> Ubusd {
        let (tx, registering) = std::sync::mpsc::channel();
        let netifd_asked = Arc::new(AtomicUsize::new(0));
        let netifd_calls = Arc::new(AtomicUsize::new(0));
        let netifd_hold = Arc::new(Mutex::new(()));
        let (asked, calls, hold) = (
            netifd_asked.clone(),
            netifd_calls.clone(),
            netifd_hold.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut peer = Peer::new(stream.unwrap());
                peer.send(&hello);
                let first = peer.read();
                let msg = Message::decode(&first).unwrap();
                if msg.objpath() != Some("network.interface") {
                    peer.first = Some(first);
                    if tx.send(peer).is_err() {
                        return;
                    }
                    continue;
                }
                let seq = msg.header.seq;
                let found = [
                    Attr::ObjPath("network.interface"),
                    Attr::ObjId(NETIFD_OBJECT),
                ];
                peer.send(&reply(Kind::Data, seq, 0, &found));
                peer.send(&reply(Kind::Status, seq, 0, &[Attr::Status(0)]));
                let invoke = peer.read();
                let msg = Message::decode(&invoke).unwrap();
                assert_eq!(
                    (msg.objid(), msg.method()),
                    (Some(NETIFD_OBJECT), Some("dump"))
                );
                asked.fetch_add(1, Ordering::SeqCst);
                let _held = hold.lock().unwrap();
                let seq = msg.header.seq;
                let data = Builder::new(Header {
                    kind: Kind::Data,
                    seq,
                    peer: 0,
                })
                .attr(Attr::ObjId(NETIFD_OBJECT))
                .data(&netifd_dump())
                .finish()
                .unwrap();
                peer.send(&data);
                peer.send(&reply(Kind::Status, seq, 0, &[Attr::Status(0)]));
                calls.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ubusd {
            registering,
            netifd_asked,
            netifd_calls,
            netifd_hold,
        }
    }

    /// The next connection that is not a netifd call.
    fn accept(&self) -> Peer {
        self.registering
            .recv_timeout(Duration::from_secs(20))
            .expect("a client connects")
    }
}

/// ubusd's end of one connection.
struct Peer {
    stream: UnixStream,
    /// A message read already, handed out by the next read.
    first: Option<Vec<u8>>,
}

impl Peer {
    fn new(stream: UnixStream) -> Peer {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Peer {
            stream,
            first: None,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn read(&mut self) -> Vec<u8> {
        if let Some(msg) = self.first.take() {
            return msg;
        }
        let mut msg = vec![0; 12];
        self.stream.read_exact(&mut msg).unwrap();
        let len = frame_len(&msg).unwrap().unwrap();
        msg.resize(len, 0);
        self.stream.read_exact(&mut msg[12..]).unwrap();
        Message::decode(&msg).unwrap();
        msg
    }

    /// The listener, its subscription and the object, as the recording has libubus do
    /// it; returns the object's signature as JSON.
    fn registration(&mut self, session: &[common::Recorded]) -> Json {
        // An object without path: the listener. ubusd's recorded answers fit as they are.
        let add = self.read();
        assert_eq!(add, one(session, 8, true, "ADD_OBJECT", 1));
        self.send(&one(session, 8, false, "DATA", 1));
        self.send(&one(session, 8, false, "STATUS", 1));

        let register = self.read();
        let msg = Message::decode(&register).unwrap();
        assert_eq!((msg.header.kind, msg.header.seq), (Kind::Invoke, 2));
        assert_eq!((msg.objid(), msg.method()), (Some(1), Some("register")));
        assert_eq!(
            Json::Object(msg.data().unwrap().to_json()),
            json!({ "object": LISTENER, "pattern": "network.interface" })
        );
        self.send(&one(session, 8, false, "STATUS", 2));

        let add = self.read();
        let msg = Message::decode(&add).unwrap();
        assert_eq!(
            (msg.header.kind, msg.objpath()),
            (Kind::AddObject, Some("offload"))
        );
        let seq = msg.header.seq;
        let signature = Json::Object(msg.signature().unwrap().to_json());
        self.send(&reply(
            Kind::Data,
            seq,
            0,
            &[Attr::ObjId(OBJECT), Attr::ObjType(OBJTYPE)],
        ));
        self.send(&reply(Kind::Status, seq, 0, &[Attr::Status(0)]));
        signature
    }

    /// Relays a call as ubusd does: INVOKE with the caller's id as peer.
    fn invoke(&mut self, seq: u16, objid: u32, method: &str, args: Json) {
        self.send(&invocation(seq, objid, method, args));
    }

    /// The answer to request `seq`: the DATA payload if any, and the status. Events the
    /// daemon sends meanwhile are collected in `events`.
    fn answer(&mut self, seq: u16, events: &mut Vec<Json>) -> (Option<Json>, i32) {
        let mut data = None;
        loop {
            let bytes = self.read();
            let msg = Message::decode(&bytes).unwrap();
            if msg.header.kind == Kind::Invoke && msg.objid() == Some(1) {
                assert_eq!(msg.method(), Some("send"));
                events.push(Json::Object(msg.data().unwrap().to_json()));
                let ack = reply(Kind::Status, msg.header.seq, 1, &[Attr::Status(0)]);
                self.send(&ack);
                continue;
            }
            assert_eq!((msg.header.seq, msg.header.peer), (seq, CALLER), "{msg:?}");
            match msg.header.kind {
                Kind::Data => {
                    assert_eq!(msg.objid(), Some(OBJECT));
                    data = Some(Json::Object(msg.data().unwrap().to_json()));
                }
                Kind::Status => return (data, msg.status().unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn call(
        &mut self,
        seq: u16,
        method: &str,
        args: Json,
        events: &mut Vec<Json>,
    ) -> (Option<Json>, i32) {
        self.invoke(seq, OBJECT, method, args);
        self.answer(seq, events)
    }
}

/// A call as ubusd relays it: INVOKE with the caller's id as peer.
fn invocation(seq: u16, objid: u32, method: &str, args: Json) -> Vec<u8> {
    let args = match args {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    Builder::new(Header {
        kind: Kind::Invoke,
        seq,
        peer: CALLER,
    })
    .attr(Attr::ObjId(objid))
    .attr(Attr::Method(method))
    .data(&args)
    .attr(Attr::User("root"))
    .attr(Attr::Group("root"))
    .finish()
    .unwrap()
}

fn reply(kind: Kind, seq: u16, peer: u32, attrs: &[Attr]) -> Vec<u8> {
    attrs
        .iter()
        .fold(Builder::new(Header { kind, seq, peer }), |b, a| b.attr(*a))
        .finish()
        .unwrap()
}

#[test]
fn the_daemon_on_ubus() {
    let session = session();
    let hello = one(&session, 1, false, "HELLO", 0);
    let scratch = Scratch::new("daemon-ubus");
    let socket = scratch.0.join("ubus.sock");
    let server = Ubusd::start(UnixListener::bind(&socket).unwrap(), hello);
    let daemon = Daemon::start(&scratch.0, &socket);

    let mut ubusd = server.accept();
    let signature = ubusd.registration(&session);
    assert_eq!(
        signature,
        json!({
            "status": {},
            "flows": { "limit": 5, "offset": 5, "proto": 3, "hw": 7 },
            "devices": {},
            "reload": {},
        }),
        "the signature names the BLOBMSG types"
    );

    let mut events = Vec::new();
    // The first apply (at start) was refused by the kernel: the event is sent as soon
    // as the bus is up; it reaches us before the first answer.
    let (data, status) = ubusd.call(10, "status", json!({}), &mut events);
    assert_eq!(status, 0);
    let data = data.unwrap();
    assert_eq!(data["source"], "daemon");
    assert_eq!(data["requested"], "software");
    assert_eq!(data["devices"][0]["name"], "lo");
    // Without CAP_NET_ADMIN the kernel cannot be read either: what is in effect is unknown.
    assert!(data["effective"].is_null(), "{data}");
    assert!(data["loaded"]["error"]
        .as_str()
        .unwrap()
        .contains("Operation not permitted"));
    let last = &data["last_apply"];
    assert_eq!(last["trigger"], "start");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{last}"
    );
    assert_eq!(data["applies"], json!({ "total": 1, "errors": 1 }));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], "offload.error");
    assert_eq!(events[0]["data"]["trigger"], "start");

    let (data, status) = ubusd.call(11, "devices", json!({}), &mut events);
    assert_eq!(status, 0);
    // Resolved through netifd's dump, which the daemon asked for before applying.
    assert_eq!(
        data.unwrap()["devices"][0]["via"],
        json!(["network lan (netifd)", "lo"])
    );
    assert!(server.netifd_calls.load(Ordering::SeqCst) >= 1);

    let (data, status) = ubusd.call(
        12,
        "flows",
        json!({ "limit": 5, "proto": "tcp" }),
        &mut events,
    );
    // No conntrack in a fresh namespace without the module's table: the reading fails
    // with its path, or the page is empty.
    match status {
        0 => assert_eq!(data.unwrap()["flows"], json!([])),
        9 => assert!(data.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("nf_conntrack")),
        other => panic!("flows answered {other}"),
    }

    for (seq, args) in [
        (13, json!({ "limit": "many" })),
        (14, json!({ "proto": "icmp" })),
        (15, json!({ "hw": 1 })),
        (16, json!({ "offset": -1 })),
    ] {
        let (data, status) = ubusd.call(seq, "flows", args.clone(), &mut events);
        assert_eq!(
            (data, status),
            (None, Status::InvalidArgument as i32),
            "{args}"
        );
    }
    assert_eq!(
        ubusd.call(17, "nosuchmethod", json!({}), &mut events),
        (None, Status::MethodNotFound as i32)
    );
    ubusd.invoke(18, OBJECT + 1, "status", json!({}));
    assert_eq!(
        ubusd.answer(18, &mut events),
        (None, Status::NotFound as i32)
    );

    // reload: refused again, answered with the result and an error status; then the event.
    let (data, status) = ubusd.call(19, "reload", json!({}), &mut events);
    assert_eq!(status, Status::UnknownError as i32);
    assert_eq!(data.unwrap()["trigger"], "ubus reload");
    // Events go out after the answer: the next call's answer comes after them.
    ubusd.call(190, "devices", json!({}), &mut events);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["data"]["trigger"], "ubus reload");

    // netifd's event arrives at the listener: acknowledged, and a reload follows.
    let event = Builder::new(Header {
        kind: Kind::Invoke,
        seq: 3,
        peer: 0,
    })
    .attr(Attr::ObjId(LISTENER))
    .attr(Attr::Method("network.interface"))
    .data(&|w: &mut fw4_offload::ubus::blob::Writer| {
        fw4_offload::ubus::blobmsg::put(w, "action", &Value::String("ifup"));
        fw4_offload::ubus::blobmsg::put(w, "interface", &Value::String("lan"));
    })
    .finish()
    .unwrap();
    ubusd.send(&event);
    let ack = Message::decode(&ubusd.read()).unwrap().header;
    assert_eq!((ack.kind, ack.seq), (Kind::Status, 3));
    // It applies once the burst is over (500 ms without another event).
    let mut seq = 100;
    let data = loop {
        std::thread::sleep(Duration::from_millis(200));
        let (data, _) = ubusd.call(seq, "status", json!({}), &mut events);
        seq += 1;
        if events.len() > 2 || seq == 150 {
            break data;
        }
    };
    assert_eq!(events.len(), 3, "the event's reload reported: {events:?}");
    assert_eq!(
        events[2]["data"]["trigger"],
        "hotplug: netifd network.interface event"
    );
    let data = data.unwrap();
    assert_eq!(data["last_apply"]["trigger"], events[2]["data"]["trigger"]);
    // start, reload and the netifd event: each refused by this kernel
    assert_eq!(data["applies"], json!({ "total": 3, "errors": 3 }));

    // A call whose attribute lies about its length: answered INVALID_ARGUMENT (its header
    // is intact), and the daemon answers on.
    let mut bad = reply(
        Kind::Invoke,
        21,
        CALLER,
        &[Attr::ObjId(OBJECT), Attr::Method("status")],
    );
    bad[12..14].copy_from_slice(&[0x0f, 0xff]);
    ubusd.send(&bad);
    assert_eq!(
        ubusd.answer(21, &mut events),
        (None, Status::InvalidArgument as i32)
    );
    assert_eq!(ubusd.call(22, "status", json!({}), &mut events).1, 0);

    // A length over ubus's 1 MiB: the stream cannot be trusted; a new connection follows.
    ubusd.send(&[
        0,
        Kind::Invoke as u8,
        0,
        23,
        0,
        0,
        0,
        0,
        0x00,
        0x20,
        0x00,
        0x00,
    ]);
    let mut ubusd = server.accept();
    ubusd.registration(&session);
    assert_eq!(ubusd.call(24, "status", json!({}), &mut events).1, 0);

    // ubusd restarts: the daemon comes back to the new one and registers again.
    drop(ubusd);
    let mut ubusd = server.accept();
    ubusd.registration(&session);
    assert_eq!(ubusd.call(25, "devices", json!({}), &mut events).1, 0);

    // The CLI asks the daemon: ubusd finds `offload` and relays the call.
    for (json, seq) in [(true, 30), (false, 31)] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fw4-offload"));
        command.args(["-s".as_ref(), socket.as_os_str()]);
        command.arg("status").stdout(Stdio::piped());
        if json {
            command.arg("--json");
        }
        let cli = command.spawn().unwrap();
        let mut client = server.accept();
        let lookup = Message::decode(&client.read()).unwrap().header;
        assert_eq!(lookup.kind, Kind::Lookup);
        let found = [
            Attr::ObjPath("offload"),
            Attr::ObjId(OBJECT),
            Attr::ObjType(OBJTYPE),
        ];
        client.send(&reply(Kind::Data, lookup.seq, 0, &found));
        client.send(&reply(Kind::Status, lookup.seq, 0, &[Attr::Status(0)]));
        let invoke = client.read();
        let msg = Message::decode(&invoke).unwrap();
        assert_eq!((msg.objid(), msg.method()), (Some(OBJECT), Some("status")));
        let (data, status) = ubusd.call(seq, "status", json!({}), &mut events);
        let relayed = Builder::new(Header {
            kind: Kind::Data,
            seq: msg.header.seq,
            peer: OBJECT,
        })
        .attr(Attr::ObjId(OBJECT))
        .data(&match data.unwrap() {
            Json::Object(map) => map,
            _ => unreachable!(),
        })
        .finish()
        .unwrap();
        client.send(&relayed);
        client.send(&reply(
            Kind::Status,
            msg.header.seq,
            OBJECT,
            &[Attr::Status(status)],
        ));
        let out = cli.wait_with_output().unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        match json {
            true => {
                let report: Json = serde_json::from_str(&out).unwrap();
                assert_eq!(report["source"], "daemon", "{out}");
                assert_eq!(report["devices"][0]["name"], "lo");
            }
            false => {
                assert!(
                    out.starts_with(
                        "requested: software; effective: unknown (answered by daemon)\n"
                    ),
                    "{out}"
                );
                assert!(out.contains("  lo  software"), "{out}");
            }
        }
    }

    let (stopped, log) = daemon.stop();
    assert!(stopped, "{log}");
    for line in [
        "started",
        "start: apply failed, the loaded ruleset stays as it was",
        "ubus: object offload registered (id 0xd7b56cda)",
        "ubus: ignored a message from ubusd: malformed ubus message",
        "ubus: connection lost: malformed ubus message at byte 8: message longer than ubus's 1 MiB limit",
        "ubus: connection lost: ubus socket closed by ubusd",
        "stopped",
    ] {
        assert!(log.contains(line), "no '{line}' in:\n{log}");
    }
}

/// `ip ARGS` in the daemon's network namespace.
fn ip_in(daemon: &Daemon, args: &str) {
    let status = Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", daemon.0.id()))
        .arg("ip")
        .args(args.split(' '))
        .status()
        .unwrap();
    assert!(status.success(), "ip {args}");
}

/// The trigger of the apply a status answer reports.
fn last_trigger(answer: (Option<Json>, i32)) -> String {
    let data = answer.0.expect("status answers with data");
    data["last_apply"]["trigger"].as_str().unwrap().to_owned()
}

/// Link changes are never held up behind ubus calls: one that comes while a call is
/// being answered is applied before the next call is answered. (Stopping the daemon
/// while a change and a call both arrive would show the same for one wakeup, but after
/// SIGCONT the host's 6.18 kernel sometimes reports the rtnetlink socket readable only
/// on the next poll, with the events already queued: the test would measure that.)
#[test]
fn link_changes_apply_before_the_calls_waiting_behind_them() {
    let session = session();
    let hello = one(&session, 1, false, "HELLO", 0);
    let scratch = Scratch::new("daemon-order");
    let socket = scratch.0.join("ubus.sock");
    let server = Ubusd::start(UnixListener::bind(&socket).unwrap(), hello);
    let daemon = Daemon::start(&scratch.0, &socket);
    let mut ubusd = server.accept();
    ubusd.registration(&session);
    let mut events = Vec::new();
    let status = ubusd.call(10, "status", json!({}), &mut events);
    assert_eq!(last_trigger(status), "start");

    // A change that comes while a reload is answered (held up in netifd's dump) goes
    // before the call read with the reload, in one write. It comes more than the quiet
    // time (500 ms) after the last change: it applies at once, not at a burst's end.
    std::thread::sleep(Duration::from_millis(600));
    let held = server.netifd_hold.lock().unwrap();
    let asked = server.netifd_asked.load(Ordering::SeqCst);
    ubusd.send(
        &[
            invocation(12, OBJECT, "reload", json!({})),
            invocation(13, OBJECT, "status", json!({})),
        ]
        .concat(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.netifd_asked.load(Ordering::SeqCst) == asked {
        assert!(Instant::now() < deadline, "the reload never asked netifd");
        std::thread::sleep(Duration::from_millis(10));
    }
    ip_in(&daemon, "link add vb type veth peer name vb-p");
    drop(held);
    let reload = ubusd.answer(12, &mut events).0.unwrap();
    assert_eq!(reload["trigger"], "ubus reload");
    let trigger = last_trigger(ubusd.answer(13, &mut events));
    assert!(
        trigger.starts_with("hotplug: ") && trigger.contains("vb added"),
        "{trigger}"
    );

    let (stopped, log) = daemon.stop();
    assert!(stopped, "{log}");
}

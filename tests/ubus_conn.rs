//! The connection over a socket pair standing in for ubusd: driven by poll(2), messages
//! beyond 64 KiB up to ubus's 1 MiB, a length claim over it, and ubusd going away.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;

use fw4_offload::ubus::conn::Connection;
use fw4_offload::ubus::message::{Attr, Builder, Header, Kind, Message};
use fw4_offload::ubus::{Error, MAX_MSGLEN};

fn build(kind: Kind, seq: u16, attr: Attr) -> Vec<u8> {
    Builder::new(Header { kind, seq, peer: 0 })
        .attr(attr)
        .finish()
        .unwrap()
}

fn hello() -> Vec<u8> {
    Builder::new(Header {
        kind: Kind::Hello,
        seq: 0,
        peer: 0x1234_5678,
    })
    .finish()
    .unwrap()
}

fn readable(conn: &Connection, timeout_ms: i32) -> bool {
    let mut fds = [libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) };
    n == 1 && fds[0].revents & libc::POLLIN != 0
}

#[test]
fn a_poll_loop_gets_whole_messages_only() {
    let (ours, mut ubusd) = UnixStream::pair().unwrap();
    ubusd.write_all(&hello()).unwrap();
    let mut conn = Connection::from_stream(ours).unwrap();
    assert!(!readable(&conn, 0));

    let first = build(Kind::Data, 1, Attr::Method("first"));
    let second = build(Kind::Status, 1, Attr::Status(0));
    ubusd.write_all(&first[..5]).unwrap();
    assert!(readable(&conn, 1000));
    assert_eq!(conn.fill().unwrap(), 5);
    assert_eq!(conn.next_frame().unwrap(), None);
    ubusd
        .write_all(&[&first[5..], &second[..]].concat())
        .unwrap();
    assert!(readable(&conn, 1000));
    conn.fill().unwrap();
    assert_eq!(conn.next_frame().unwrap(), Some(&first[..]));
    assert_eq!(conn.next_frame().unwrap(), Some(&second[..]));
    assert_eq!(conn.next_frame().unwrap(), None);
    assert!(!readable(&conn, 0));

    drop(ubusd);
    assert!(readable(&conn, 1000));
    assert!(matches!(conn.fill(), Err(Error::Closed)));
}

#[test]
fn messages_up_to_1_mib() {
    let (ours, mut ubusd) = UnixStream::pair().unwrap();
    let big = "x".repeat(MAX_MSGLEN - 4 - 4 - 1);
    let messages = [
        build(Kind::Data, 1, Attr::Method(&big[..100_000])),
        build(Kind::Data, 2, Attr::Method(&big)),
        build(Kind::Status, 2, Attr::Status(0)),
    ];
    let sent = messages.clone();
    let writer = thread::spawn(move || {
        ubusd.write_all(&hello()).unwrap();
        for m in &sent {
            ubusd.write_all(m).unwrap();
        }
    });
    let mut conn = Connection::from_stream(ours).unwrap();
    for m in &messages {
        let got = conn.read_message().unwrap();
        assert_eq!(got.len(), m.len());
        assert_eq!(Message::decode(got).unwrap(), Message::decode(m).unwrap());
    }
    writer.join().unwrap();
    assert!(matches!(conn.read_message(), Err(Error::Closed)));
}

#[test]
fn a_length_over_1_mib_is_refused_before_reading_it() {
    let (ours, mut ubusd) = UnixStream::pair().unwrap();
    ubusd.write_all(&hello()).unwrap();
    let mut conn = Connection::from_stream(ours).unwrap();
    let mut claim = vec![0, Kind::Data as u8, 0, 1, 0, 0, 0, 0];
    claim.extend_from_slice(&((MAX_MSGLEN + 4) as u32).to_be_bytes());
    ubusd.write_all(&claim).unwrap();
    match conn.read_message() {
        Err(e @ Error::Malformed { at: 8, .. }) => {
            assert_eq!(
                e.to_string(),
                "malformed ubus message at byte 8: message longer than ubus's 1 MiB limit"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ubusd_must_say_hello_first() {
    let (ours, mut ubusd) = UnixStream::pair().unwrap();
    ubusd
        .write_all(&build(Kind::Data, 1, Attr::ObjId(1)))
        .unwrap();
    assert!(matches!(
        Connection::from_stream(ours),
        Err(Error::Malformed {
            what: "ubusd did not start with HELLO",
            ..
        })
    ));
}

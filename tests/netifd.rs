//! netifd's interface dump (tests/fixtures/netifd and the golden case's, written after
//! netifd's ubus.c; see tests/fixtures/netifd/README.md): parsed into interface → devices,
//! through blobmsg as the daemon receives it, and refused with a message naming the
//! problem when it is not what netifd sends.

use std::fs;

use fw4_offload::topology::{Netifd, NetifdInterface};
use fw4_offload::ubus::blob::Writer;
use fw4_offload::ubus::blobmsg::{Entries, List};
use serde_json::{json, Value};

const PPPOE: &str = "tests/golden/mt7621-dsa-pppoe-netifd/netifd.json";
const NODEV: &str = "tests/fixtures/netifd/dump-nodev.json";

fn fixture(path: &str) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect(path)).expect("fixture is JSON")
}

fn error(dump: Value) -> String {
    Netifd::from_dump(&dump)
        .expect_err("a dump netifd would not send")
        .to_string()
}

#[test]
fn pppoe_wan_runs_over_its_device() {
    let netifd = Netifd::from_dump(&fixture(PPPOE)).unwrap();
    let wan = netifd.interface("wan").unwrap();
    assert_eq!(
        wan,
        &NetifdInterface {
            up: true,
            proto: Some("pppoe".into()),
            device: Some("wan".into()),
            l3_device: Some("pppoe-wan".into()),
        }
    );
    assert_eq!(wan.devices(), Some(("wan", Some("pppoe-wan"))));
    assert_eq!(
        netifd.interface("lan").unwrap().devices(),
        Some(("br-lan", None))
    );
    // Pending: not up, no l3 device yet; the alias names its parent's l3 device.
    let wan6 = netifd.interface("wan6").unwrap();
    assert!(!wan6.up);
    assert_eq!(wan6.device.as_deref(), Some("pppoe-wan"));
    assert_eq!(wan6.l3_device, None);
    // Not started (autostart off): down, on the device it will use.
    let guest = netifd.interface("guest").unwrap();
    assert!(!guest.up);
    assert_eq!(guest.devices(), Some(("lan4", None)));
    assert!(netifd.interface("iot").is_none());
}

#[test]
fn protocols_without_a_device_run_on_their_l3_device() {
    let netifd = Netifd::from_dump(&fixture(NODEV)).unwrap();
    assert_eq!(
        netifd.interface("vpn").unwrap().devices(),
        Some(("vpn", None))
    );
    assert_eq!(
        netifd.interface("wwan").unwrap().devices(),
        Some(("wwan0", None))
    );
    let wan = netifd.interface("wan").unwrap();
    assert!(!wan.up);
    assert_eq!(wan.device.as_deref(), Some("wan"));
}

#[test]
fn the_dump_reads_the_same_through_blobmsg() {
    for name in [PPPOE, NODEV] {
        let dump = fixture(name);
        let mut w = Writer::new(&[]);
        dump.as_object().unwrap().write_entries(&mut w);
        let bytes = w.finish().unwrap();
        let received = Value::Object(List::table(&bytes, 0).unwrap().to_json());
        assert_eq!(
            Netifd::from_dump(&received).unwrap(),
            Netifd::from_dump(&dump).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn missing_fields_are_tolerated() {
    let netifd = Netifd::from_dump(&json!({"interface": [{"interface": "lan"}]})).unwrap();
    assert_eq!(netifd.interface("lan"), Some(&NetifdInterface::default()));
    assert!(Netifd::from_dump(&json!({"interface": []})).is_ok());
}

#[test]
fn nonsense_is_refused_with_what_is_wrong() {
    let cases = [
        (json!([]), "netifd's interface dump: no 'interface' array"),
        (
            json!({"interface": {"wan": {}}}),
            "netifd's interface dump: 'interface' is not an array",
        ),
        (
            json!({"interface": ["wan"]}),
            "netifd's interface dump: entry 0 is not an object",
        ),
        (
            json!({"interface": [{"up": true}]}),
            "netifd's interface dump: entry 0 has no interface name (a non-empty string)",
        ),
        (
            json!({"interface": [{"interface": ""}]}),
            "netifd's interface dump: entry 0 has no interface name (a non-empty string)",
        ),
        (
            json!({"interface": [{"interface": "wan", "up": 1}]}),
            "netifd's interface dump: interface 'wan': 'up' is a number, not a boolean",
        ),
        (
            json!({"interface": [{"interface": "wan", "device": ["wan"]}]}),
            "netifd's interface dump: interface 'wan': 'device' is an array, not a string",
        ),
        (
            json!({"interface": [{"interface": "wan", "proto": null}]}),
            "netifd's interface dump: interface 'wan': 'proto' is null, not a string",
        ),
        (
            json!({"interface": [{"interface": "wan", "l3_device": "../etc"}]}),
            "netifd's interface dump: interface 'wan': 'l3_device' is not a device name \
             ('../etc': contains '/', ':' or whitespace)",
        ),
        (
            json!({"interface": [{"interface": "wan", "device": "a-much-too-long-name"}]}),
            "netifd's interface dump: interface 'wan': 'device' is not a device name \
             ('a-much-too-long-name': longer than 15 bytes)",
        ),
        (
            json!({"interface": [{"interface": "wan"}, {"interface": "wan"}]}),
            "netifd's interface dump: interface 'wan': listed twice",
        ),
        // What the peer sent is escaped: the error stays one line.
        (
            json!({"interface": [{"interface": "wan\nx", "device": "eth\n0"}]}),
            "netifd's interface dump: interface 'wan\\nx': 'device' is not a device name \
             ('eth\\n0': contains '/', ':' or whitespace)",
        ),
    ];
    for (dump, message) in cases {
        assert_eq!(error(dump.clone()), message, "{dump}");
    }
}

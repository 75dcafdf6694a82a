//! Any JSON as netifd's interface dump (what a ubus peer could send): `Netifd::from_dump`
//! must never panic; an error is one line; an accepted dump holds every named interface,
//! each with devices that are valid device names.
#![no_main]

use fw4_offload::config::section::check_ifname;
use fw4_offload::topology::Netifd;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let netifd = match Netifd::from_dump(&dump) {
        Ok(netifd) => netifd,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "error over two lines: {e}");
            return;
        }
    };
    for entry in dump["interface"].as_array().expect("accepted: an array") {
        let name = entry["interface"].as_str().expect("accepted: a name");
        let iface = netifd
            .interface(name)
            .expect("every named interface is kept");
        if let Some((device, l3)) = iface.devices() {
            assert!(check_ifname(device).is_ok() && l3.is_none_or(|l3| check_ifname(l3).is_ok()));
            assert_ne!(Some(device), l3);
        }
    }
});

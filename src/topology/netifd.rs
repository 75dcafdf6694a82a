//! netifd's live view of the logical interfaces, from `ubus call network.interface dump`:
//! which are up and which devices they run on right now.
//!
//! Field meanings, from netifd's `netifd_dump_status()` (ubus.c):
//! - `up`: the interface state is IFS_UP (`pending`: still being set up);
//! - `device`: the main device; absent for protocols without one (`no_device`:
//!   wireguard, modemmanager) and for an alias (`@wan`) whose parent is down; an up
//!   alias names its parent's l3 device here;
//! - `l3_device`: the device IP runs on (`pppoe-wan` over `wan`), only while up.
//!
//! firewall4 puts netifd's `device` into the flowtable (its `physdev`), and so does the
//! plan; `l3_device` is the session device over it (which SQM may shape), and stands in
//! for `device` when there is none.
//!
//! The dump comes from a ubus peer: anything unexpected is an error, never a panic.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::section::check_ifname;
use crate::error::{Error, Result};

/// One interface as netifd reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetifdInterface {
    pub up: bool,
    pub proto: Option<String>,
    pub device: Option<String>,
    pub l3_device: Option<String>,
}

/// The interfaces of one dump, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netifd {
    interfaces: BTreeMap<String, NetifdInterface>,
}

impl NetifdInterface {
    /// The device packets enter on and, when IP runs on another device over it (a PPP
    /// session), that device; `None` when netifd names no device (as while down).
    pub fn devices(&self) -> Option<(&str, Option<&str>)> {
        let l3 = self.l3_device.as_deref();
        let device = self.device.as_deref().or(l3)?;
        Some((device, l3.filter(|l3| *l3 != device)))
    }
}

impl Netifd {
    /// Parses `{"interface": [{"interface": "wan", "up": true, ...}, ...]}`, the JSON
    /// form of the dump (as `ubus call` prints it, or blobmsg's `to_json`). Fields other
    /// than the ones read here are ignored; a missing `up` means not up.
    pub fn from_dump(dump: &Value) -> Result<Netifd> {
        Netifd::parse(dump, "netifd's interface dump")
    }

    /// A dump saved to a file (`ubus call network.interface dump >FILE`).
    pub fn read(path: &Path) -> Result<Netifd> {
        let from = format!("netifd's interface dump {}", path.display());
        let text = fs::read(path).map_err(|e| Error::io(path, e))?;
        let dump = serde_json::from_slice(&text)
            .map_err(|e| invalid(&from, None, format!("not JSON: {e}")))?;
        Netifd::parse(&dump, &from)
    }

    /// `from` names the dump in errors.
    fn parse(dump: &Value, from: &str) -> Result<Netifd> {
        let invalid = |interface: Option<&str>, message: String| invalid(from, interface, message);
        let list = dump
            .get("interface")
            .ok_or_else(|| invalid(None, "no 'interface' array".into()))?
            .as_array()
            .ok_or_else(|| invalid(None, "'interface' is not an array".into()))?;
        let mut interfaces = BTreeMap::new();
        for (i, entry) in list.iter().enumerate() {
            let entry = entry
                .as_object()
                .ok_or_else(|| invalid(None, format!("entry {i} is not an object")))?;
            let name = match entry.get("interface") {
                Some(Value::String(name)) if !name.is_empty() => name.clone(),
                _ => {
                    return Err(invalid(
                        None,
                        format!("entry {i} has no interface name (a non-empty string)"),
                    ))
                }
            };
            let iface = interface(entry).map_err(|message| invalid(Some(&name), message))?;
            if interfaces.insert(name.clone(), iface).is_some() {
                return Err(invalid(Some(&name), "listed twice".into()));
            }
        }
        Ok(Netifd { interfaces })
    }

    pub fn interface(&self, name: &str) -> Option<&NetifdInterface> {
        self.interfaces.get(name)
    }
}

/// One entry's fields; the error says which field is wrong and how.
fn interface(entry: &Map<String, Value>) -> std::result::Result<NetifdInterface, String> {
    let string = |field: &str| match entry.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("'{field}' is {}, not a string", kind(other))),
    };
    let device = |field: &str| match string(field)? {
        Some(dev) => match check_ifname(&dev) {
            Ok(()) => Ok(Some(dev)),
            Err(why) => Err(format!(
                "'{field}' is not a device name ('{}': {why})",
                dev.escape_debug()
            )),
        },
        None => Ok(None),
    };
    let up = match entry.get("up") {
        None => false,
        Some(Value::Bool(up)) => *up,
        Some(other) => return Err(format!("'up' is {}, not a boolean", kind(other))),
    };
    Ok(NetifdInterface {
        up,
        proto: string("proto")?,
        device: device("device")?,
        l3_device: device("l3_device")?,
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Names from the peer are escaped: an error stays one line whatever it sent.
fn invalid(from: &str, interface: Option<&str>, message: String) -> Error {
    Error::Netifd {
        dump: from.to_string(),
        interface: interface.map(|name| name.escape_debug().to_string()),
        message,
    }
}

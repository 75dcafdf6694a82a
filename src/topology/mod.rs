//! Network devices as the kernel shows them, and how a zone's devices resolve to the
//! devices packets really enter on.
//!
//! One [`LinkSource`] trait, two sources: the live system and a snapshot directory laid
//! out like it (`DIR/sys/class/net/<dev>/...`, `DIR/ethtool/<dev>`), so every decision
//! made on a router can be reproduced offline.
//!
//! On a router, netifd knows which device each logical interface runs on right now
//! ([`Netifd`], from its ubus interface dump); the config says what it should be.

pub mod ethtool;
mod netifd;
mod resolve;
pub mod sysfs;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Serialize;

pub use netifd::{Netifd, NetifdInterface};
pub use resolve::{resolve_lower, Branch, Leaf};

use crate::error::Result;

/// Wi-Fi drivers that can hand flows to WED, and the module holding `wed_enable`.
pub const WED_DRIVERS: &[(&str, &str)] = &[
    ("mt7915e", "mt7915e"),
    // mt7986's built-in Wi-Fi: a platform driver inside the mt7915e module.
    ("mt798x-wmac", "mt7915e"),
    ("mt7996e", "mt7996e"),
];

/// What a device is, from `uevent`'s DEVTYPE and `type` (the ARPHRD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Ethernet,
    Bridge,
    Vlan,
    /// A DSA switch user port (DEVTYPE `dsa`); its lower device is the conduit.
    Dsa,
    Wlan,
    Ppp,
    Wireguard,
    /// Anything else, by DEVTYPE or ARPHRD number.
    Other(String),
}

/// State of an `ethtool -k` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    On,
    Off,
    /// Off and not changeable (`off [fixed]`): the driver cannot do it at all.
    Fixed,
    /// No data (no ethtool file in a snapshot, or the query failed).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    pub ifindex: u32,
    pub kind: LinkKind,
    /// `lower_*` links: the devices this one is stacked on.
    pub lowers: Vec<String>,
    /// `brif/` entries of a bridge.
    pub ports: Vec<String>,
}

/// Where device facts come from: the running kernel or a snapshot of one. What a device
/// is and what it is stacked on come with [`LinkSource::link`]; the facts only a hardware
/// decision needs are asked for on their own, for the devices that decision is about.
pub trait LinkSource {
    /// The device, or `None` if no such device exists.
    fn link(&self, name: &str) -> Result<Option<Link>>;

    /// The driver bound to the device's parent (`device/uevent` DRIVER=); `None` for a
    /// virtual device.
    fn driver(&self, name: &str) -> Result<Option<String>>;

    /// `hw-tc-offload`: whether the driver takes tc/flowtable offload requests.
    fn hw_tc_offload(&self, name: &str) -> Result<Feature>;

    /// A kernel module parameter (`/sys/module/<module>/parameters/<name>`).
    fn module_param(&self, module: &str, name: &str) -> Result<Option<String>>;
}

/// Reads each device fact once: a plan asks about a DSA conduit for every port on it, and
/// about a device again for every zone path that reaches it.
pub struct LinkCache<'a> {
    source: &'a dyn LinkSource,
    links: RefCell<HashMap<String, Option<Link>>>,
    drivers: RefCell<HashMap<String, Option<String>>>,
    features: RefCell<HashMap<String, Feature>>,
}

impl<'a> LinkCache<'a> {
    pub fn new(source: &'a dyn LinkSource) -> LinkCache<'a> {
        LinkCache {
            source,
            links: RefCell::default(),
            drivers: RefCell::default(),
            features: RefCell::default(),
        }
    }
}

/// `cache[name]`, read from the source the first time.
fn cached<T: Clone>(
    cache: &RefCell<HashMap<String, T>>,
    name: &str,
    read: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if let Some(value) = cache.borrow().get(name) {
        return Ok(value.clone());
    }
    let value = read()?;
    cache.borrow_mut().insert(name.to_string(), value.clone());
    Ok(value)
}

impl LinkSource for LinkCache<'_> {
    fn link(&self, name: &str) -> Result<Option<Link>> {
        cached(&self.links, name, || self.source.link(name))
    }

    fn driver(&self, name: &str) -> Result<Option<String>> {
        cached(&self.drivers, name, || self.source.driver(name))
    }

    fn hw_tc_offload(&self, name: &str) -> Result<Feature> {
        cached(&self.features, name, || self.source.hw_tc_offload(name))
    }

    fn module_param(&self, module: &str, name: &str) -> Result<Option<String>> {
        self.source.module_param(module, name)
    }
}

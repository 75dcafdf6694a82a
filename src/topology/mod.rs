//! Step 2: the topology, read once. The devices each zone covers (from the config and,
//! when it is given, netifd's live view), each resolved to the devices packets enter on,
//! with every fact the plan decides over: kind, lower devices, bridge ports, driver,
//! `hw-tc-offload`, and the WED modules' `wed_enable`. All of it is read here and kept in
//! a [`Topology`], so the plan is a pure function of it and can be recomputed (after a
//! kernel refusal) or tested without a filesystem.
//!
//! - `zones`: zones to the devices they cover: netifd's `device` of each network
//!   (firewall4's choice), or the one `/etc/config/network` gives.
//! - `resolve`: from such a device to the devices packets enter on: bridge ports (of a
//!   VLAN, with bridge VLAN filtering), a VLAN's lower device, a PPPoE session's device.
//! - [`sysfs`] and [`ethtool`]: device facts from the live system or from a snapshot
//!   directory laid out like it (`DIR/sys/class/net/<dev>/...`, `DIR/ethtool/<dev>`), so
//!   every decision made on a router can be reproduced offline.
//! - [`Netifd`]: netifd's interface dump, which says what each interface runs on now.

pub(crate) mod dir;
pub mod ethtool;
mod netifd;
mod read;
mod resolve;
pub mod sysfs;
mod zones;

use std::collections::BTreeMap;

use serde::Serialize;

pub use netifd::{Netifd, NetifdInterface};
pub use resolve::{Branch, Leaf};
pub use zones::ZoneDevice;

/// What the plan decides over: see the module documentation. [`Topology::read`] reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// The devices the zones cover, in zone order, each with the branches it resolved to.
    pub zone_devices: Vec<ZoneDevice>,
    /// Every device that was read, by name, DSA conduits included. A name the branches
    /// lead to that is not here does not exist.
    pub links: BTreeMap<String, Link>,
    /// `wed_enable` of each WED module that has the parameter (a module that is not
    /// loaded has none).
    pub wed_enable: BTreeMap<String, String>,
}

impl Topology {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.get(name)
    }

    /// The module's `wed_enable`, if it has one.
    pub fn wed_enable(&self, module: &str) -> Option<&str> {
        self.wed_enable.get(module).map(String::as_str)
    }
}

/// Wi-Fi drivers that can hand flows to WED, and the module holding `wed_enable`.
pub const WED_DRIVERS: &[(&str, &str)] = &[
    ("mt7915e", "mt7915e"),
    // mt7986's built-in Wi-Fi: a platform driver inside the mt7915e module.
    ("mt798x-wmac", "mt7915e"),
    ("mt7996e", "mt7996e"),
];

/// The modules of [`WED_DRIVERS`], each once.
pub fn wed_modules() -> impl Iterator<Item = &'static str> {
    let mut modules: Vec<&str> = WED_DRIVERS.iter().map(|&(_, module)| module).collect();
    modules.dedup();
    modules.into_iter()
}

/// Whether a `wed_enable` value (`Y`, `N`; `1`, `0` on older drivers) enables WED.
pub fn wed_enabled(value: &str) -> bool {
    matches!(value, "Y" | "1")
}

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

impl LinkKind {
    /// Whether a device of this kind can hand flows to hardware, so that its
    /// `hw-tc-offload` matters (see `plan::verdict`); the others are never asked.
    pub fn may_offload(&self) -> bool {
        matches!(self, LinkKind::Ethernet | LinkKind::Dsa | LinkKind::Wlan)
    }
}

/// State of an `ethtool -k` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    On,
    Off,
    /// Off and not changeable (`off [fixed]`): the driver cannot do it at all.
    Fixed,
    /// No data: no ethtool file in a snapshot, the query failed, or it was not asked
    /// (software offloading, or a kind that cannot offload: [`LinkKind::may_offload`]).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    pub ifindex: u32,
    pub kind: LinkKind,
    /// `lower_*` links of a VLAN or DSA device: the devices it is stacked on (the walk
    /// goes down no other kind by them, so they are not read for others).
    pub lowers: Vec<String>,
    /// `brif/` entries of a bridge.
    pub ports: Vec<String>,
    /// Driver bound to the parent device (`device/uevent` DRIVER=), of the kinds whose
    /// driver the verdict uses: Ethernet (a DSA port's conduit among them) and Wi-Fi.
    pub driver: Option<String>,
    /// `hw-tc-offload`: the driver takes tc/flowtable offload requests.
    pub hw_tc_offload: Feature,
}

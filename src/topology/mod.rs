//! Network devices as the kernel shows them, and how a zone's devices resolve to the
//! devices packets really enter on.
//!
//! The facts come from the live system or from a snapshot directory laid out like it
//! (`DIR/sys/class/net/<dev>/...`, `DIR/ethtool/<dev>`), both read by [`sysfs::SysfsLinks`],
//! so every decision made on a router can be reproduced offline.
//!
//! On a router, netifd knows which device each logical interface runs on right now
//! ([`Netifd`], from its ubus interface dump); the config says what it should be.

pub mod ethtool;
mod netifd;
mod resolve;
pub mod sysfs;

use serde::Serialize;

pub use netifd::{Netifd, NetifdInterface};
pub use resolve::{resolve_lower, Branch, Leaf};

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
    /// Driver bound to the parent device (`device/uevent` DRIVER=).
    pub driver: Option<String>,
    /// `hw-tc-offload`: the driver takes tc/flowtable offload requests.
    pub hw_tc_offload: Feature,
}

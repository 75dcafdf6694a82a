//! Whether one device can carry hardware flows, and the reason in words a user can act on.

use super::Decision;
use crate::topology::{wed_enabled, Feature, Link, LinkKind, Topology, WED_DRIVERS};

pub fn hardware_verdict(link: &Link, topology: &Topology) -> (Decision, String) {
    match &link.kind {
        LinkKind::Ethernet => by_feature(link, driver_name(link)),
        LinkKind::Dsa => {
            // The switch tags frames to the conduit; the conduit's PPE does the work.
            let conduit = link.lowers.first();
            let driver = conduit
                .and_then(|c| topology.link(c))
                .and_then(|l| l.driver.as_deref());
            let what = match conduit {
                Some(c) => format!("DSA port on {c}, {}", driver.unwrap_or("unknown driver")),
                None => "DSA port without a conduit".to_string(),
            };
            by_feature(link, what)
        }
        LinkKind::Wlan => wed_verdict(link, topology),
        LinkKind::Wireguard => software("wireguard: encryption keeps it on the CPU"),
        LinkKind::Ppp => software("PPP device with no ethernet device known below it"),
        LinkKind::Vlan => software("VLAN device with no lower device"),
        LinkKind::Bridge => software("bridge"),
        LinkKind::Other(kind) => software(&format!("{kind}: no hardware flow path")),
    }
}

fn software(why: &str) -> (Decision, String) {
    (Decision::Software, format!("software, {why}"))
}

fn driver_name(link: &Link) -> String {
    link.driver
        .clone()
        .unwrap_or_else(|| "unknown driver".into())
}

fn by_feature(link: &Link, what: String) -> (Decision, String) {
    match link.hw_tc_offload {
        Feature::On => (
            Decision::Hardware,
            format!("hardware ({what}, hw-tc-offload on)"),
        ),
        Feature::Off => software(&format!(
            "hw-tc-offload off ({what}; `ethtool -K {} hw-tc-offload on` enables it)",
            link.name
        )),
        Feature::Fixed => software(&format!(
            "{what} cannot offload (hw-tc-offload off [fixed])"
        )),
        Feature::Unknown => software(&format!("{what}, hw-tc-offload unknown (no ethtool data)")),
    }
}

fn wed_verdict(link: &Link, topology: &Topology) -> (Decision, String) {
    let driver = driver_name(link);
    let Some(&(_, module)) = WED_DRIVERS.iter().find(|(d, _)| *d == driver) else {
        return software(&format!("no WED ({driver})"));
    };
    match (topology.wed_enable(module), link.hw_tc_offload) {
        (Some(value), Feature::On) if wed_enabled(value) => (
            Decision::Hardware,
            format!("hardware (WED, {module} wed_enable=Y, hw-tc-offload on)"),
        ),
        (Some(value), state) if wed_enabled(value) => software(&format!(
            "WED enabled in {module} but hw-tc-offload is {}",
            feature_word(state)
        )),
        (Some(value), _) => software(&format!("no WED ({module} wed_enable={value})")),
        (None, _) => software(&format!("no WED ({module} has no wed_enable parameter)")),
    }
}

fn feature_word(state: Feature) -> &'static str {
    match state {
        Feature::On => "on",
        Feature::Off => "off",
        Feature::Fixed => "off [fixed]",
        Feature::Unknown => "unknown",
    }
}

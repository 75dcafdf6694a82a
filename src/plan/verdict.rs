//! Whether one device can carry hardware flows, and the reason in words a user can act on.

use super::Decision;
use crate::error::Result;
use crate::topology::{Feature, Link, LinkKind, LinkSource, WED_DRIVERS};

pub fn hardware_verdict(link: &Link, links: &dyn LinkSource) -> Result<(Decision, String)> {
    match &link.kind {
        LinkKind::Ethernet => by_feature(link, links, driver_name(links, link)?),
        LinkKind::Dsa => {
            // The switch tags frames to the conduit; the conduit's PPE does the work.
            let conduit = link.lowers.first();
            let driver = match conduit {
                Some(c) => links.driver(c)?,
                None => None,
            };
            let what = match conduit {
                Some(c) => format!(
                    "DSA port on {c}, {}",
                    driver.as_deref().unwrap_or("unknown driver")
                ),
                None => "DSA port without a conduit".to_string(),
            };
            by_feature(link, links, what)
        }
        LinkKind::Wlan => wed_verdict(link, links),
        LinkKind::Wireguard => Ok(software("wireguard: encryption keeps it on the CPU")),
        LinkKind::Ppp => Ok(software(
            "PPP device with no ethernet device known below it",
        )),
        LinkKind::Vlan => Ok(software("VLAN device with no lower device")),
        LinkKind::Bridge => Ok(software("bridge")),
        LinkKind::Other(kind) => Ok(software(&format!("{kind}: no hardware flow path"))),
    }
}

fn software(why: &str) -> (Decision, String) {
    (Decision::Software, format!("software, {why}"))
}

fn driver_name(links: &dyn LinkSource, link: &Link) -> Result<String> {
    Ok(links
        .driver(&link.name)?
        .unwrap_or_else(|| "unknown driver".into()))
}

fn by_feature(link: &Link, links: &dyn LinkSource, what: String) -> Result<(Decision, String)> {
    Ok(match links.hw_tc_offload(&link.name)? {
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
    })
}

fn wed_verdict(link: &Link, links: &dyn LinkSource) -> Result<(Decision, String)> {
    let driver = driver_name(links, link)?;
    let Some(&(_, module)) = WED_DRIVERS.iter().find(|(d, _)| *d == driver) else {
        return Ok(software(&format!("no WED ({driver})")));
    };
    let enabled = links.module_param(module, "wed_enable")?;
    Ok(
        match (enabled.as_deref(), links.hw_tc_offload(&link.name)?) {
            (Some("Y" | "1"), Feature::On) => (
                Decision::Hardware,
                format!("hardware (WED, {module} wed_enable=Y, hw-tc-offload on)"),
            ),
            (Some("Y" | "1"), state) => software(&format!(
                "WED enabled in {module} but hw-tc-offload is {}",
                feature_word(state)
            )),
            (Some(value), _) => software(&format!("no WED ({module} wed_enable={value})")),
            (None, _) => software(&format!("no WED ({module} has no wed_enable parameter)")),
        },
    )
}

fn feature_word(state: Feature) -> &'static str {
    match state {
        Feature::On => "on",
        Feature::Off => "off",
        Feature::Fixed => "off [fixed]",
        Feature::Unknown => "unknown",
    }
}

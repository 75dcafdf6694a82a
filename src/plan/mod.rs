//! The offload plan: for every device the zones cover, offloaded or not, in hardware or
//! software, each with the reason. The ruleset is rendered from this and nothing else.

mod verdict;
mod zones;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, Mode, Warnings};
use crate::error::Result;
use crate::topology::{resolve_lower, Leaf, LinkCache, LinkSource, Netifd};

pub use zones::{zone_devices, ZoneDevice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Hardware,
    Software,
    /// Left out on purpose (`config offload`).
    Excluded,
    /// Nothing to offload: the device is missing, or a bridge without ports.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevicePlan {
    pub name: String,
    pub decision: Decision,
    /// Starts with the decision in words: `hardware (mtk_soc_eth, hw-tc-offload on)`.
    pub reason: String,
    pub zones: Vec<String>,
    /// How a zone reached the device: `network lan`, `br-lan`, `lan1`.
    pub via: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffloadPlan {
    pub requested: Mode,
    /// Sorted by name, each device once.
    pub devices: Vec<DevicePlan>,
    /// Facts about the plan as a whole.
    pub notes: Vec<String>,
}

impl OffloadPlan {
    /// Devices that go into the flowtable.
    pub fn flowtable_devices(&self) -> impl Iterator<Item = &DevicePlan> {
        self.devices
            .iter()
            .filter(|d| matches!(d.decision, Decision::Hardware | Decision::Software))
    }

    /// Whether the flowtable asks for hardware offload (`flags offload`).
    pub fn hardware(&self) -> bool {
        self.devices
            .iter()
            .any(|d| d.decision == Decision::Hardware)
    }

    /// The plan once the kernel refused hardware offload: every hardware device moves to
    /// software, with the kernel's answer for the devices it refused on their own.
    pub fn in_software(&self, refused: &BTreeMap<String, String>) -> OffloadPlan {
        let names: Vec<&str> = refused.keys().map(String::as_str).collect();
        let refused_list = match names.is_empty() {
            true => "no single device".to_string(),
            false => names.join(", "),
        };
        let mut plan = self.clone();
        for d in plan
            .devices
            .iter_mut()
            .filter(|d| d.decision == Decision::Hardware)
        {
            d.decision = Decision::Software;
            d.reason = match refused.get(&d.name) {
                Some(error) => format!("software, the kernel refused hardware offload: {error}"),
                None => format!(
                    "software, hardware capable, but this kernel refuses hardware offload \
                     for the flowtable as a whole (refused alone: {refused_list})"
                ),
            };
        }
        plan.notes
            .push("the kernel refused hardware offload: software offload applied".into());
        plan
    }
}

/// `netifd`, when given, says which devices the interfaces that are up run on now.
pub fn build(
    config: &Config,
    links: &dyn LinkSource,
    netifd: Option<&Netifd>,
    warnings: &mut Warnings,
) -> Result<OffloadPlan> {
    let requested = config.firewall.mode;
    let mut plan = OffloadPlan {
        requested,
        devices: Vec::new(),
        notes: Vec::new(),
    };
    if requested == Mode::Off {
        plan.notes
            .push("flow offloading is off: nothing is offloaded".into());
        return Ok(plan);
    }
    // Read the whole config (and report its errors) before looking at devices.
    let covered = zone_devices(config, netifd, warnings)?;
    let links = &LinkCache::new(links);
    let mut devices: BTreeMap<String, DevicePlan> = BTreeMap::new();
    for zd in &covered {
        for (name, via, decision, reason) in decide(config, links, zd)? {
            devices
                .entry(name.clone())
                .and_modify(|d| {
                    if !d.zones.contains(&zd.zone) {
                        d.zones.push(zd.zone.clone());
                    }
                })
                .or_insert(DevicePlan {
                    name,
                    decision,
                    reason,
                    zones: vec![zd.zone.clone()],
                    via,
                });
        }
    }
    plan.devices = devices.into_values().collect();
    if requested == Mode::Hardware && !plan.hardware() && plan.flowtable_devices().next().is_some()
    {
        plan.notes.push(
            "hardware offload requested, but no device can do it: software offload only".into(),
        );
    }
    if plan.hardware()
        && plan
            .devices
            .iter()
            .any(|d| d.decision == Decision::Software)
    {
        plan.notes.push(
            "hardware and software devices share the flowtable: kernels without OpenWrt's \
             per-device EOPNOTSUPP patch refuse it whole, and apply falls back to software"
                .into(),
        );
    }
    if plan.flowtable_devices().next().is_none() {
        plan.notes
            .push("no device to offload: the offload table is removed".into());
    }
    Ok(plan)
}

type Decided = (String, Vec<String>, Decision, String);

/// Decisions for one zone device: itself in software mode, its lower devices in hardware mode.
fn decide(config: &Config, links: &dyn LinkSource, zd: &ZoneDevice) -> Result<Vec<Decided>> {
    let opts = &config.firewall.offload;
    let excluded = |names: &[String]| {
        names
            .iter()
            .find(|n| opts.exclude_devices.contains(n))
            .cloned()
    };
    let shaped = |names: &[String]| {
        config
            .shaped
            .iter()
            .find(|s| names.contains(&s.device) || zd.l3.as_deref() == Some(s.device.as_str()))
    };

    let mut out = Vec::new();
    if config.firewall.mode == Mode::Software {
        let via = vec![zd.via.clone(), zd.device.clone()];
        let (decision, reason) = if let Some(name) = excluded(&via[1..]) {
            exclusion(config, &name)
        } else if links.link(&zd.device)?.is_some() {
            (
                Decision::Software,
                "software (hardware offload not requested)".into(),
            )
        } else {
            (Decision::Skipped, "skipped, no such device".into())
        };
        out.push((zd.device.clone(), via, decision, reason));
        return Ok(out);
    }

    for branch in resolve_lower(links, &config.network, &zd.device)? {
        let mut via = vec![zd.via.clone()];
        via.extend(zd.l3.iter().cloned());
        via.extend(branch.path.iter().cloned());
        let (decision, reason) = if let Some(name) = excluded(&branch.path) {
            exclusion(config, &name)
        } else {
            match &branch.leaf {
                Leaf::Missing(_) => (Decision::Skipped, "skipped, no such device".into()),
                Leaf::EmptyBridge(_) => (Decision::Skipped, "skipped, bridge without ports".into()),
                Leaf::Device(link) => match shaped(&branch.path) {
                    Some(s) if opts.hw_exclude_shaped => (
                        Decision::Software,
                        format!(
                            "software, shaped by SQM on {} ({}): hardware flows would bypass its qdisc",
                            s.device, s.at
                        ),
                    ),
                    _ => verdict::hardware_verdict(link, links)?,
                },
            }
        };
        out.push((branch.name().to_string(), via, decision, reason));
    }
    Ok(out)
}

fn exclusion(config: &Config, name: &str) -> (Decision, String) {
    let at = config
        .firewall
        .offload
        .exclude_at
        .as_ref()
        .map_or(String::new(), |at| format!(" ({at})"));
    (
        Decision::Excluded,
        format!("excluded by config: exclude_device {name}{at}"),
    )
}

//! Step 3: the offload plan. For every device the zones cover: offloaded or not, in
//! hardware or software, each with the reason. The ruleset is rendered from this and
//! nothing else.
//!
//! [`build`] is a pure function of the config, the [`Topology`] and what the kernel is
//! known to refuse: it reads nothing, so apply can recompute it once the kernel has
//! refused hardware offload, and tests run it without a filesystem.

#[cfg(test)]
mod tests;
mod verdict;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Mode};
use crate::topology::{Leaf, Topology, ZoneDevice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Hardware,
    Software,
    /// Left out on purpose (`config offload`).
    Excluded,
    /// Nothing to offload: the device is missing, or a bridge without ports.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The kernel refused hardware offload: every hardware device moves to software,
    /// with the kernel's answer for the devices it refused on their own.
    fn refuse_hardware(&mut self, refusal: &HardwareRefusal) {
        let refused = &refusal.devices;
        let names: Vec<&str> = refused.keys().map(String::as_str).collect();
        let refused_list = match names.is_empty() {
            true => "no single device".to_string(),
            false => names.join(", "),
        };
        for d in self
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
        self.notes
            .push("the kernel refused hardware offload: software offload applied".into());
    }
}

/// What the kernel answered when it refused hardware offload (`flags offload`) for the
/// flowtable: apply asks it device by device, and these are the devices it refused on
/// their own, with its error. None at all: it refuses only the whole flowtable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HardwareRefusal {
    pub devices: BTreeMap<String, String>,
}

/// The plan for `config` over `topology`; `refusal`, once the kernel has refused hardware
/// offload, moves the hardware devices to software with its reasons.
pub fn build(
    config: &Config,
    topology: &Topology,
    refusal: Option<&HardwareRefusal>,
) -> OffloadPlan {
    let requested = config.firewall.mode;
    let mut plan = OffloadPlan {
        requested,
        devices: Vec::new(),
        notes: Vec::new(),
    };
    if requested == Mode::Off {
        plan.notes
            .push("flow offloading is off: nothing is offloaded".into());
        return plan;
    }
    let mut devices: Vec<DevicePlan> = topology
        .zone_devices
        .iter()
        .flat_map(|zd| decide(config, topology, zd))
        .collect();
    // By name. A device more than one zone reaches keeps the first path to it, and
    // gets every zone (the sort is stable: zone order is kept within a name).
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    devices.dedup_by(|later, first| {
        if later.name != first.name {
            return false;
        }
        for zone in later.zones.drain(..) {
            if !first.zones.contains(&zone) {
                first.zones.push(zone);
            }
        }
        true
    });
    plan.devices = devices;
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
    if let Some(refusal) = refusal {
        plan.refuse_hardware(refusal);
    }
    plan
}

/// Decisions for each branch of one zone device: itself in software mode, the devices
/// below it in hardware mode.
fn decide(config: &Config, topology: &Topology, zd: &ZoneDevice) -> Vec<DevicePlan> {
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
    let software = config.firewall.mode == Mode::Software;
    let mut out = Vec::new();
    for branch in &zd.branches {
        let mut via = Vec::with_capacity(2 + branch.path.len());
        via.push(zd.via.clone());
        if !software {
            via.extend(zd.l3.iter().cloned());
        }
        via.extend(branch.path.iter().cloned());
        let (decision, reason) = if let Some(name) = excluded(&branch.path) {
            exclusion(config, &name)
        } else {
            match &branch.leaf {
                Leaf::Missing => (Decision::Skipped, "skipped, no such device".into()),
                Leaf::EmptyBridge => (Decision::Skipped, "skipped, bridge without ports".into()),
                Leaf::Device(_) if software => (
                    Decision::Software,
                    "software (hardware offload not requested)".into(),
                ),
                Leaf::Device(link) => match shaped(&branch.path) {
                    Some(s) if opts.hw_exclude_shaped => (
                        Decision::Software,
                        format!(
                            "software, shaped by SQM on {} ({}): hardware flows would bypass its qdisc",
                            s.device, s.at
                        ),
                    ),
                    _ => verdict::hardware_verdict(link, topology),
                },
            }
        };
        out.push(DevicePlan {
            name: branch.name().to_string(),
            decision,
            reason,
            zones: vec![zd.zone.clone()],
            via,
        });
    }
    out
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

//! `/etc/config/firewall`: the offload switches in `defaults`, the zones, and our own
//! optional `config offload` section.

use serde::{Deserialize, Serialize};

use super::section::SectionReader;
use super::Warnings;
use crate::error::{Location, Result};
use crate::uci::Package;

/// What the user asked for in `defaults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Off,
    Software,
    Hardware,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Software => "software",
            Mode::Hardware => "hardware",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    /// Logical interfaces from `network` (the usual way to fill a zone).
    pub networks: Vec<String>,
    /// Raw device names from `device` (wildcards and negations are not devices).
    pub devices: Vec<String>,
    pub at: Location,
}

/// `config offload`: finer control that fw4 itself never reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffloadOptions {
    pub exclude_devices: Vec<String>,
    /// Where `exclude_device` was set, for the reason shown on excluded devices.
    pub exclude_at: Option<Location>,
    /// Keep devices shaped by SQM in software: hardware flows bypass every qdisc.
    pub hw_exclude_shaped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallConfig {
    pub mode: Mode,
    pub zones: Vec<Zone>,
    pub offload: OffloadOptions,
}

const OFFLOAD_OPTIONS: &[&str] = &["exclude_device", "hw_exclude_shaped"];

impl FirewallConfig {
    pub fn from_uci(file: &str, pkg: &Package, warnings: &mut Warnings) -> Result<Self> {
        let mut mode = Mode::Off;
        for (i, section) in pkg.sections_of("defaults").enumerate() {
            let s = SectionReader::new(file, section);
            if i > 0 {
                // firewall4 does the same: the first defaults section wins.
                warnings.push(s.location(None), "duplicate defaults section ignored");
                continue;
            }
            mode = match (
                s.bool("flow_offloading", false)?,
                s.bool("flow_offloading_hw", false)?,
            ) {
                (false, hw) => {
                    if hw {
                        warnings.push(
                            s.location(Some("flow_offloading_hw")),
                            "ignored: flow_offloading is off",
                        );
                    }
                    Mode::Off
                }
                (true, false) => Mode::Software,
                (true, true) => Mode::Hardware,
            };
        }

        let mut zones = Vec::new();
        for section in pkg.sections_of("zone") {
            let s = SectionReader::new(file, section);
            if !s.bool("enabled", true)? {
                continue;
            }
            let Some(name) = s.string("name") else {
                warnings.push(
                    s.location(None),
                    "zone without a name skipped (as firewall4 does)",
                );
                continue;
            };
            let networks = s.list("network")?.into_iter().map(str::to_string).collect();
            let mut devices = Vec::new();
            for dev in s.list("device")? {
                if dev.starts_with('!') || dev.contains(['*', '+']) {
                    warnings.push(
                        s.location(Some("device")),
                        format!("'{dev}' is a pattern, not a device: not offloaded"),
                    );
                    continue;
                }
                devices.push(s.ifname("device", dev)?.to_string());
            }
            zones.push(Zone {
                name: name.to_string(),
                networks,
                devices,
                at: s.location(None),
            });
        }

        let mut offload = OffloadOptions {
            hw_exclude_shaped: true,
            ..OffloadOptions::default()
        };
        for (i, section) in pkg.sections_of("offload").enumerate() {
            let s = SectionReader::new(file, section);
            if i > 0 {
                warnings.push(s.location(None), "duplicate offload section ignored");
                continue;
            }
            for unknown in s.unknown_options(OFFLOAD_OPTIONS) {
                warnings.push(s.location(Some(unknown)), "unknown option ignored");
            }
            for dev in s.list("exclude_device")? {
                offload
                    .exclude_devices
                    .push(s.ifname("exclude_device", dev)?.to_string());
            }
            if !offload.exclude_devices.is_empty() {
                offload.exclude_at = Some(s.location(Some("exclude_device")));
            }
            offload.hw_exclude_shaped = s.bool("hw_exclude_shaped", true)?;
        }

        Ok(FirewallConfig {
            mode,
            zones,
            offload,
        })
    }
}

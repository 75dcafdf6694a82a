//! From a device a zone names to the devices packets enter on: bridge ports, the real
//! device under a VLAN, the ethernet device under a PPPoE session.

use super::read::Reader;
use super::{Link, LinkKind};
use crate::config::{DeviceType, NetworkConfig};
use crate::error::{Error, Result};

/// Devices stacked deeper than this are a broken snapshot, not a router
/// (the deepest real stack is about four: pppoe over vlan over dsa port over conduit).
const MAX_DEPTH: usize = 8;

/// One end of the resolution, with the path that led to it (`br-lan`, `lan1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub path: Vec<String>,
    pub leaf: Leaf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// A device packets enter on directly.
    Device(Link),
    /// Named by config or a lower link, but not present.
    Missing,
    /// A bridge without ports (for this VLAN): nothing enters through it.
    EmptyBridge,
}

impl Branch {
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }
}

/// Resolves `top` down to the devices the hardware sees.
pub(super) fn resolve_lower(
    devices: &mut Reader,
    net: &NetworkConfig,
    top: &str,
) -> Result<Vec<Branch>> {
    let mut branches = Vec::new();
    Walk {
        devices,
        net,
        path: Vec::new(),
        branches: &mut branches,
    }
    .visit(top, None)?;
    Ok(branches)
}

struct Walk<'a, 'r> {
    devices: &'a mut Reader<'r>,
    net: &'a NetworkConfig,
    path: Vec<String>,
    branches: &'a mut Vec<Branch>,
}

impl Walk<'_, '_> {
    /// `vid` is set when arriving at a bridge through one of its VLAN devices.
    fn visit(&mut self, name: &str, vid: Option<u16>) -> Result<()> {
        if self.path.iter().any(|p| p == name) {
            return Err(Error::Topology {
                device: name.to_string(),
                message: format!("device loop: {} -> {name}", self.path.join(" -> ")),
            });
        }
        if self.path.len() >= MAX_DEPTH {
            return Err(Error::Topology {
                device: name.to_string(),
                message: format!(
                    "stacked more than {MAX_DEPTH} devices deep: {}",
                    self.path.join(" -> ")
                ),
            });
        }
        self.path.push(name.to_string());
        let result = self.descend(name, vid);
        self.path.pop();
        result
    }

    fn descend(&mut self, name: &str, vid: Option<u16>) -> Result<()> {
        let Some(link) = self.devices.link(name)? else {
            return self.leaf(Leaf::Missing);
        };
        match link.kind {
            LinkKind::Bridge => {
                let ports: Vec<String> = match vid.and_then(|v| self.net.bridge_vlan_ports(name, v))
                {
                    Some(members) => link
                        .ports
                        .iter()
                        .filter(|p| members.contains(p))
                        .cloned()
                        .collect(),
                    None => link.ports.clone(),
                };
                if ports.is_empty() {
                    return self.leaf(Leaf::EmptyBridge);
                }
                ports.iter().try_for_each(|port| self.visit(port, None))
            }
            LinkKind::Vlan if !link.lowers.is_empty() => {
                let lowers = link.lowers.clone();
                let vid = self.vlan_id(name);
                lowers.iter().try_for_each(|lower| self.visit(lower, vid))
            }
            LinkKind::Ppp => match self.net.ppp_lower(name) {
                Some((_, Some(lower))) => {
                    let lower = self.net.resolve_alias(&lower).unwrap_or(lower);
                    self.visit(&lower, None)
                }
                _ => {
                    let leaf = Leaf::Device(link.clone());
                    self.leaf(leaf)
                }
            },
            LinkKind::Dsa => {
                let link = link.clone();
                // The conduit's driver is the one that offloads the port's flows.
                if let Some(conduit) = link.lowers.first() {
                    self.devices.link(conduit)?;
                }
                self.leaf(Leaf::Device(link))
            }
            _ => {
                let leaf = Leaf::Device(link.clone());
                self.leaf(leaf)
            }
        }
    }

    /// The VLAN ID of a VLAN device: its config section, else netifd's `<dev>.<vid>` name.
    fn vlan_id(&self, name: &str) -> Option<u16> {
        match self.net.device_section(name).map(|d| &d.kind) {
            Some(DeviceType::Vlan { vid, .. }) => Some(*vid),
            _ => name.rsplit_once('.').and_then(|(_, vid)| vid.parse().ok()),
        }
    }

    fn leaf(&mut self, leaf: Leaf) -> Result<()> {
        self.branches.push(Branch {
            path: self.path.clone(),
            leaf,
        });
        Ok(())
    }
}

//! `/etc/config/network`: logical interfaces and the devices netifd builds for them.

use super::section::SectionReader;
use super::Warnings;
use crate::error::{Location, Result};
use crate::uci::Package;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub proto: String,
    /// `option device`: a device name, a device section's name, or `@iface` (an alias).
    pub device: Option<String>,
    pub disabled: bool,
    pub at: Location,
}

/// How netifd names the device a protocol creates, and what it runs over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L3Device {
    /// The interface uses `device` directly (static, dhcp, ...).
    Device(String),
    /// A PPP session `<proto>-<iface>` over `device` (pppoe, pppoa).
    Ppp { l3: String, lower: Option<String> },
    /// The protocol creates a device named after the interface (wireguard).
    Own(String),
    /// Nothing we can name offline.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceType {
    Bridge {
        ports: Vec<String>,
    },
    /// 802.1q or 802.1ad on top of `ifname`.
    Vlan {
        ifname: String,
        vid: u16,
    },
    Other(String),
}

/// A `config device` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSection {
    pub name: String,
    pub kind: DeviceType,
    pub at: Location,
}

/// A `config bridge-vlan` section: which ports of a VLAN-filtering bridge carry `vid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeVlan {
    pub bridge: String,
    pub vid: u16,
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    pub interfaces: Vec<Interface>,
    pub devices: Vec<DeviceSection>,
    pub bridge_vlans: Vec<BridgeVlan>,
}

impl Interface {
    pub fn l3_device(&self) -> L3Device {
        match self.proto.as_str() {
            "pppoe" | "pppoa" => L3Device::Ppp {
                l3: format!("{}-{}", self.proto, self.name),
                lower: self.device.clone(),
            },
            "wireguard" => L3Device::Own(self.name.clone()),
            _ => self
                .device
                .clone()
                .map_or(L3Device::Unknown, L3Device::Device),
        }
    }
}

impl NetworkConfig {
    pub fn from_uci(file: &str, pkg: &Package, warnings: &mut Warnings) -> Result<Self> {
        let mut net = NetworkConfig::default();
        for section in &pkg.sections {
            let s = SectionReader::new(file, section);
            match section.kind.as_ref() {
                "interface" => {
                    let Some(name) = &section.name else {
                        warnings.push(s.location(None), "anonymous interface ignored by netifd");
                        continue;
                    };
                    if s.string("ifname").is_some() && s.string("device").is_none() {
                        warnings.push(
                            s.location(Some("ifname")),
                            "pre-21.02 syntax: netifd now reads 'device'",
                        );
                    }
                    let device = match s.string("device") {
                        Some(dev) if dev.starts_with('@') => Some(dev.to_string()),
                        Some(dev) => Some(s.ifname("device", dev)?.to_string()),
                        None => None,
                    };
                    net.interfaces.push(Interface {
                        name: name.to_string(),
                        proto: s.string("proto").unwrap_or("none").to_string(),
                        device,
                        disabled: s.bool("disabled", false)?,
                        at: s.location(None),
                    });
                }
                "device" => {
                    let Some(name) = s.string("name") else {
                        warnings.push(s.location(None), "device section without a name ignored");
                        continue;
                    };
                    let name = s.ifname("name", name)?.to_string();
                    let kind = match s.string("type").unwrap_or("") {
                        "bridge" => DeviceType::Bridge {
                            ports: s
                                .list("ports")?
                                .into_iter()
                                .map(|p| s.ifname("ports", p).map(str::to_string))
                                .collect::<Result<_>>()?,
                        },
                        "8021q" | "8021ad" => {
                            let ifname = s.string("ifname").ok_or_else(|| {
                                s.error(Some("type"), "VLAN device without 'ifname'")
                            })?;
                            DeviceType::Vlan {
                                ifname: s.ifname("ifname", ifname)?.to_string(),
                                vid: vlan_id(&s, "vid")?,
                            }
                        }
                        other => DeviceType::Other(other.to_string()),
                    };
                    net.devices.push(DeviceSection {
                        name,
                        kind,
                        at: s.location(None),
                    });
                }
                "bridge-vlan" => {
                    let bridge = s
                        .string("device")
                        .ok_or_else(|| s.error(None, "bridge-vlan without 'device'"))?;
                    let ports = s
                        .list("ports")?
                        .into_iter()
                        // `lan1:t*`: the port name, then tagging and PVID flags.
                        .map(|p| p.split(':').next().unwrap_or(p))
                        .map(|p| s.ifname("ports", p).map(str::to_string))
                        .collect::<Result<_>>()?;
                    net.bridge_vlans.push(BridgeVlan {
                        bridge: s.ifname("device", bridge)?.to_string(),
                        vid: vlan_id(&s, "vlan")?,
                        ports,
                    });
                }
                _ => {}
            }
        }
        Ok(net)
    }

    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    pub fn device_section(&self, name: &str) -> Option<&DeviceSection> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Ports configured for `vid` on `bridge`, when the bridge filters VLANs.
    pub fn bridge_vlan_ports(&self, bridge: &str, vid: u16) -> Option<&[String]> {
        self.bridge_vlans
            .iter()
            .find(|v| v.bridge == bridge && v.vid == vid)
            .map(|v| v.ports.as_slice())
    }

    /// netifd's `@iface` aliases name the device of another interface; other names are
    /// devices already. `None` for an alias that leads nowhere (or in circles).
    pub fn resolve_alias(&self, device: &str) -> Option<String> {
        let mut name = device;
        for _ in 0..8 {
            let Some(iface) = name.strip_prefix('@') else {
                return Some(name.to_string());
            };
            name = self.interface(iface)?.device.as_deref()?;
        }
        None
    }

    /// The interface whose PPP session device is `l3`, with the device it runs over.
    pub fn ppp_lower(&self, l3: &str) -> Option<(&Interface, Option<String>)> {
        self.interfaces.iter().find_map(|i| match i.l3_device() {
            L3Device::Ppp { l3: name, lower } if name == l3 => Some((i, lower)),
            _ => None,
        })
    }
}

fn vlan_id(s: &SectionReader<'_>, option: &str) -> Result<u16> {
    let value = s
        .string(option)
        .ok_or_else(|| s.error(None, format!("missing '{option}'")))?;
    match value.parse::<u16>() {
        Ok(vid) if (1..=4094).contains(&vid) => Ok(vid),
        _ => Err(s.error(Some(option), format!("'{value}' is not a VLAN ID (1-4094)"))),
    }
}

//! Zones to the devices they cover: each network's device as netifd names it
//! (firewall4's `physdev`), plus the zone's own `device` entries. When netifd's
//! interface dump is given, an interface it reports up runs on the devices it names;
//! otherwise the devices come from /etc/config/network.

use super::{Branch, Netifd};
use crate::config::{Config, Interface, L3Device, NetworkConfig, Warnings, Zone};
use crate::error::{Error, Result};

/// A device a zone covers, how the zone reached it, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDevice {
    pub zone: String,
    pub device: String,
    /// `network wan`, or `device tun0` for a zone's own device list.
    pub via: String,
    /// The session device over `device` (`pppoe-wan`), which SQM may shape.
    pub l3: Option<String>,
    /// With hardware requested, the devices packets enter on below `device`; otherwise
    /// `device` itself, which is what fw4 puts into its flowtable. Filled in by
    /// [`super::Topology::read`].
    pub branches: Vec<Branch>,
}

pub(super) fn zone_devices(
    config: &Config,
    netifd: Option<&Netifd>,
    warnings: &mut Warnings,
) -> Result<Vec<ZoneDevice>> {
    let mut out = Vec::new();
    for zone in &config.firewall.zones {
        for network in &zone.networks {
            if let Some(found) = network_device(config, netifd, zone, network, warnings)? {
                out.push(found);
            }
        }
        out.extend(zone.devices.iter().map(|dev| ZoneDevice {
            zone: zone.name.clone(),
            device: dev.clone(),
            via: format!("device {dev}"),
            l3: None,
            branches: Vec::new(),
        }));
    }
    Ok(out)
}

fn network_device(
    config: &Config,
    netifd: Option<&Netifd>,
    zone: &Zone,
    network: &str,
    warnings: &mut Warnings,
) -> Result<Option<ZoneDevice>> {
    let net = &config.network;
    let Some(iface) = net.interface(network) else {
        let mut at = zone.at.clone();
        at.option = Some("network".into());
        return Err(Error::Config {
            at,
            message: format!(
                "zone '{}' names network '{network}', which /etc/config/network does not define",
                zone.name
            ),
        });
    };
    if iface.disabled {
        warnings.push(iface.at.clone(), "interface is disabled: not offloaded");
        return Ok(None);
    }
    let live = netifd.map(|n| n.interface(network));
    if let Some(None) = live {
        warnings.push(
            iface.at.clone(),
            "netifd does not know this interface (network not reloaded?): devices as configured",
        );
    }
    let live = live.flatten();
    let (device, l3, via) = match live.filter(|l| l.up) {
        Some(up) => {
            let Some((device, l3)) = up.devices() else {
                warnings.push(
                    iface.at.clone(),
                    "up in netifd without a device: nothing to offload",
                );
                return Ok(None);
            };
            let via = format!("network {network} (netifd)");
            (device.to_string(), l3.map(str::to_string), via)
        }
        None => {
            let Some((device, l3)) = configured_devices(net, iface, warnings) else {
                return Ok(None);
            };
            let via = match live {
                Some(_) => format!("network {network} (down in netifd: as configured)"),
                None => format!("network {network}"),
            };
            (device, l3, via)
        }
    };
    Ok(Some(ZoneDevice {
        zone: zone.name.clone(),
        device,
        via,
        l3,
        branches: Vec::new(),
    }))
}

/// The device and session device /etc/config/network gives an interface.
fn configured_devices(
    net: &NetworkConfig,
    iface: &Interface,
    warnings: &mut Warnings,
) -> Option<(String, Option<String>)> {
    let (device, l3) = match iface.l3_device() {
        L3Device::Device(dev) => (Some(dev), None),
        L3Device::Ppp { l3, lower } => (lower, Some(l3)),
        L3Device::Own(dev) => (Some(dev), None),
        L3Device::Unknown => (None, None),
    };
    let Some(device) = device else {
        warnings.push(
            iface.at.clone(),
            format!(
                "proto '{}' without a device: nothing to offload",
                iface.proto
            ),
        );
        return None;
    };
    let Some(resolved) = net.resolve_alias(&device) else {
        warnings.push(
            iface.at.clone(),
            format!("alias '{device}' leads to no device"),
        );
        return None;
    };
    Some((resolved, l3))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{FirewallConfig, NetworkConfig};
    use crate::uci;

    const FIREWALL: &str = "config defaults\n\toption flow_offloading '1'\n\n\
        config zone\n\toption name 'lan'\n\tlist network 'lan'\n\n\
        config zone\n\toption name 'wan'\n\tlist network 'wan'\n\tlist network 'wan6'\n\
        \tlist network 'wwan'\n";
    const NETWORK: &str =
        "config interface 'lan'\n\toption device 'br-lan'\n\toption proto 'static'\n\n\
        config interface 'wan'\n\toption device 'wan'\n\toption proto 'pppoe'\n\n\
        config interface 'wan6'\n\toption device '@wan'\n\toption proto 'dhcpv6'\n\n\
        config interface 'wwan'\n\toption proto 'modemmanager'\n";

    fn config() -> Config {
        let mut warnings = Warnings::default();
        let fw = uci::parse("firewall", FIREWALL).unwrap();
        let net = uci::parse("network", NETWORK).unwrap();
        Config {
            firewall: FirewallConfig::from_uci("firewall", &fw, &mut warnings).unwrap(),
            network: NetworkConfig::from_uci("network", &net, &mut warnings).unwrap(),
            shaped: Vec::new(),
        }
    }

    /// A zone device as (device, l3, via).
    type Found = (String, Option<String>, String);

    /// The zone devices, and the warnings' messages.
    fn resolve(netifd: Option<Netifd>) -> (Vec<Found>, Vec<String>) {
        let mut warnings = Warnings::default();
        let found = zone_devices(&config(), netifd.as_ref(), &mut warnings).unwrap();
        (
            found.into_iter().map(|z| (z.device, z.l3, z.via)).collect(),
            warnings.0.into_iter().map(|w| w.message).collect(),
        )
    }

    fn zd(device: &str, l3: Option<&str>, via: &str) -> Found {
        (device.into(), l3.map(str::to_string), via.into())
    }

    #[test]
    fn without_netifd_the_config_says() {
        let (found, warnings) = resolve(None);
        assert_eq!(
            found,
            [
                zd("br-lan", None, "network lan"),
                zd("wan", Some("pppoe-wan"), "network wan"),
                zd("wan", None, "network wan6"),
            ]
        );
        assert_eq!(
            warnings,
            ["proto 'modemmanager' without a device: nothing to offload"]
        );
    }

    #[test]
    fn netifd_says_for_the_interfaces_it_reports_up() {
        let netifd = Netifd::from_dump(&json!({"interface": [
            {"interface": "lan", "up": true, "device": "br-lan", "l3_device": "br-lan"},
            // Not what the config says: netifd's view wins while the interface is up.
            {"interface": "wan", "up": true, "proto": "pppoe", "device": "eth0.2",
             "l3_device": "pppoe-wan"},
            {"interface": "wan6", "up": false, "pending": true, "device": "pppoe-wan"},
            {"interface": "wwan", "up": true, "proto": "modemmanager", "l3_device": "wwan0"},
        ]}))
        .unwrap();
        let (found, warnings) = resolve(Some(netifd));
        assert_eq!(
            found,
            [
                zd("br-lan", None, "network lan (netifd)"),
                zd("eth0.2", Some("pppoe-wan"), "network wan (netifd)"),
                zd("wan", None, "network wan6 (down in netifd: as configured)"),
                zd("wwan0", None, "network wwan (netifd)"),
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn interfaces_netifd_does_not_know_or_names_no_device_for() {
        let netifd = Netifd::from_dump(&json!({"interface": [
            {"interface": "wan", "up": true, "proto": "pppoe"},
        ]}))
        .unwrap();
        let (found, warnings) = resolve(Some(netifd));
        assert_eq!(
            found,
            [
                zd("br-lan", None, "network lan"),
                zd("wan", None, "network wan6"),
            ]
        );
        assert_eq!(
            warnings,
            [
                "netifd does not know this interface (network not reloaded?): devices as configured",
                "up in netifd without a device: nothing to offload",
                "netifd does not know this interface (network not reloaded?): devices as configured",
                "netifd does not know this interface (network not reloaded?): devices as configured",
                "proto 'modemmanager' without a device: nothing to offload",
            ]
        );
    }
}

//! Zones to the devices they cover: each network's device as netifd names it
//! (firewall4's `physdev`), plus the zone's own `device` entries.

use crate::config::{Config, L3Device, Warnings, Zone};
use crate::error::{Error, Result};

/// A device a zone covers, and how the zone reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDevice {
    pub zone: String,
    pub device: String,
    /// `network wan`, or `device tun0` for a zone's own device list.
    pub via: String,
    /// The session device over `device` (`pppoe-wan`), which SQM may shape.
    pub l3: Option<String>,
}

pub fn zone_devices(config: &Config, warnings: &mut Warnings) -> Result<Vec<ZoneDevice>> {
    let mut out = Vec::new();
    for zone in &config.firewall.zones {
        for network in &zone.networks {
            if let Some(found) = network_device(config, zone, network, warnings)? {
                out.push(found);
            }
        }
        out.extend(zone.devices.iter().map(|dev| ZoneDevice {
            zone: zone.name.clone(),
            device: dev.clone(),
            via: format!("device {dev}"),
            l3: None,
        }));
    }
    Ok(out)
}

fn network_device(
    config: &Config,
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
        return Ok(None);
    };
    let Some(device) = net.resolve_alias(&device) else {
        warnings.push(
            iface.at.clone(),
            format!("alias '{device}' leads to no device"),
        );
        return Ok(None);
    };
    Ok(Some(ZoneDevice {
        zone: zone.name.clone(),
        device,
        via: format!("network {network}"),
        l3,
    }))
}

//! `/etc/config/sqm`: which devices sqm-scripts shapes. Hardware flows bypass the
//! qdisc, so these are the devices `hw_exclude_shaped` keeps in software.

use super::section::SectionReader;
use crate::error::{Location, Result};
use crate::uci::Package;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapedDevice {
    pub device: String,
    pub at: Location,
}

pub fn shaped_devices(file: &str, pkg: &Package) -> Result<Vec<ShapedDevice>> {
    let mut shaped = Vec::new();
    for section in pkg.sections_of("queue") {
        let s = SectionReader::new(file, section);
        // sqm-scripts starts a queue only when it is enabled and names an interface.
        if !s.bool("enabled", false)? {
            continue;
        }
        if let Some(device) = s.string("interface") {
            shaped.push(ShapedDevice {
                device: s.ifname("interface", device)?.to_string(),
                at: s.location(Some("interface")),
            });
        }
    }
    Ok(shaped)
}

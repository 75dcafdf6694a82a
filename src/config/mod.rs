//! Step 1: the configuration the pipeline starts from, UCI files under a config
//! directory (`/etc/config` on a router, `DIR/etc/config` in a snapshot) read into typed
//! options: the offload switches and zones (`firewall`), interfaces and devices
//! (`network`), and the devices SQM shapes (`sqm`).

mod firewall;
mod network;
pub mod section;
mod sqm;

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use serde::Serialize;

pub use firewall::{FirewallConfig, Mode, OffloadOptions, Zone};
pub use network::{BridgeVlan, DeviceSection, DeviceType, Interface, L3Device, NetworkConfig};
pub use sqm::ShapedDevice;

use crate::error::{Error, Location, Result};
use crate::uci;

/// Something worth telling the user that does not stop the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Warnings(pub Vec<Warning>);

impl Warnings {
    pub fn push(&mut self, at: Location, message: impl Into<String>) {
        self.0.push(Warning {
            at: at.to_string(),
            message: message.into(),
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub firewall: FirewallConfig,
    pub network: NetworkConfig,
    pub shaped: Vec<ShapedDevice>,
}

impl Config {
    /// Reads `firewall`, `network` and (if present) `sqm` from `dir`.
    pub fn load(dir: &Path, warnings: &mut Warnings) -> Result<Config> {
        let firewall = read_package(dir, "firewall")?.ok_or_else(|| missing(dir, "firewall"))?;
        let network = read_package(dir, "network")?.ok_or_else(|| missing(dir, "network"))?;
        let sqm = read_package(dir, "sqm")?;
        Ok(Config {
            firewall: FirewallConfig::from_uci(&firewall.0, &firewall.1, warnings)?,
            network: NetworkConfig::from_uci(&network.0, &network.1, warnings)?,
            shaped: match &sqm {
                Some((file, pkg)) => sqm::shaped_devices(file, pkg)?,
                None => Vec::new(),
            },
        })
    }
}

fn missing(dir: &Path, name: &str) -> Error {
    Error::io(
        dir.join(name),
        std::io::Error::new(ErrorKind::NotFound, "required config file is missing"),
    )
}

/// The file's display name and its parsed content; `None` if it does not exist.
fn read_package(dir: &Path, name: &str) -> Result<Option<(String, uci::Package)>> {
    let path = dir.join(name);
    let text = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let file = path.display().to_string();
    // libuci works on bytes; a stray non-UTF-8 byte should not hide the rest. (The
    // lossy decoding is the slow path: a valid file is checked by the fast one alone.)
    let text = String::from_utf8(text)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let pkg = uci::parse(&file, &text)?;
    Ok(Some((file, pkg)))
}

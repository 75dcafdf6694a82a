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
        // All three parsed before any is read into options: a broken file is named first.
        let firewall =
            ConfigFile::read(dir, "firewall")?.ok_or_else(|| missing(dir, "firewall"))?;
        let firewall_pkg = firewall.parse()?;
        let network = ConfigFile::read(dir, "network")?.ok_or_else(|| missing(dir, "network"))?;
        let network_pkg = network.parse()?;
        let sqm = ConfigFile::read(dir, "sqm")?;
        let sqm_pkg = sqm.as_ref().map(ConfigFile::parse).transpose()?;
        Ok(Config {
            firewall: FirewallConfig::from_uci(&firewall.name, &firewall_pkg, warnings)?,
            network: NetworkConfig::from_uci(&network.name, &network_pkg, warnings)?,
            shaped: match (&sqm, &sqm_pkg) {
                (Some(sqm), Some(pkg)) => sqm::shaped_devices(&sqm.name, pkg)?,
                _ => Vec::new(),
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

/// A UCI file's display name and text; the package parsed from it borrows the text.
struct ConfigFile {
    name: String,
    text: String,
}

impl ConfigFile {
    /// `None` if the file does not exist.
    fn read(dir: &Path, name: &str) -> Result<Option<ConfigFile>> {
        let path = dir.join(name);
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        // libuci works on bytes; a stray non-UTF-8 byte should not hide the rest. (The
        // lossy decoding is the slow path: a valid file is checked by the fast one alone.)
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok(Some(ConfigFile {
            name: path.display().to_string(),
            text,
        }))
    }

    fn parse(&self) -> Result<uci::Package<'_>> {
        Ok(uci::parse(&self.name, &self.text)?)
    }
}

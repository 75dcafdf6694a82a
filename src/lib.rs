//! fw4-offload: UCI config → zones and devices → offload plan → nftables ruleset.
//!
//! The pipeline, one module per step: [`uci`] (files) → [`config`] (typed options) →
//! [`topology`] (devices as the kernel shows them) → [`plan`] (per-device decisions with
//! reasons) → [`ruleset`] (the nftables objects, rendered as text or netlink).

pub mod apply;
pub mod config;
pub mod daemon;
pub mod error;
pub mod netlink;
pub mod nftables;
pub mod plan;
pub mod report;
pub mod ruleset;
pub mod snapshot;
pub mod stats;
pub mod status;
pub mod topology;
pub mod ubus;
pub mod uci;

use std::path::PathBuf;

use config::{Config, Warnings};
use error::Result;
use plan::OffloadPlan;
use ruleset::Ruleset;
use topology::sysfs::SysfsLinks;
use topology::Netifd;

/// Where a run reads from: a router's own files and kernel, or a snapshot of them.
pub struct System {
    pub config_dir: PathBuf,
    pub links: SysfsLinks,
    /// netifd's interface dump (`network.interface dump`), when the caller has one: the
    /// devices of interfaces it reports up then come from it, not from the config.
    pub netifd: Option<Netifd>,
}

/// Everything one pass of the pipeline produces.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub plan: OffloadPlan,
    pub ruleset: Ruleset,
    pub warnings: Vec<config::Warning>,
}

impl System {
    /// A snapshot directory: `DIR/etc/config`, `DIR/sys/class/net`, `DIR/ethtool`.
    pub fn snapshot(dir: impl Into<PathBuf>) -> System {
        let dir = dir.into();
        System {
            config_dir: dir.join("etc/config"),
            links: SysfsLinks::snapshot(&dir),
            netifd: None,
        }
    }

    /// This router: `/etc/config`, `/sys` and the kernel's ethtool answers.
    pub fn live() -> System {
        System {
            config_dir: PathBuf::from("/etc/config"),
            links: SysfsLinks::live(),
            netifd: None,
        }
    }

    pub fn run(&self) -> Result<Outcome> {
        let mut warnings = Warnings::default();
        let config = Config::load(&self.config_dir, &mut warnings)?;
        let plan = plan::build(&config, &self.links, self.netifd.as_ref(), &mut warnings)?;
        let ruleset = Ruleset::from_plan(&plan);
        Ok(Outcome {
            plan,
            ruleset,
            warnings: warnings.0,
        })
    }
}

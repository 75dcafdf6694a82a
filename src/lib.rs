//! fw4-offload: flow offloading for firewall4 that fits the topology and says why.
//!
//! One folder for each step, in the order data flows:
//! 1. [`config`]: `/etc/config/{firewall,network,sqm}`, parsed by [`uci`] as libuci does,
//!    into typed options.
//! 2. [`topology`]: the devices the zones cover and every fact the decisions use, read
//!    once from sysfs, ethtool and netifd, or from a snapshot.
//! 3. [`plan`]: each device hardware, software, excluded or skipped, with the reason; a
//!    pure function of config, topology and what the kernel refused.
//! 4. [`ruleset`]: the nftables objects the plan needs, rendered as nft text or netlink.
//! 5. [`apply`]: the kernel brought to the ruleset in one batch ([`nftables`] over
//!    [`netlink`]); when it refuses hardware offload, the plan made with its answers.
//! 6. [`report`]: `check`, `apply`, `status`, `devices`, `flows`, each one typed value
//!    serialized for ubus and `--json` and rendered as text, with the live statistics
//!    from [`stats`].
//!
//! [`System`] says where a run reads from; [`daemon`] runs steps 2 to 6 on every trigger
//! and answers on [`ubus`]; [`snapshot`] copies what steps 1 and 2 read.

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
pub mod topology;
pub mod ubus;
pub mod uci;

use std::path::PathBuf;

use config::{Config, Warnings};
use error::Result;
use plan::{HardwareRefusal, OffloadPlan};
use ruleset::Ruleset;
use topology::sysfs::SysfsLinks;
use topology::{Netifd, Topology};

/// Where a run reads from: a router's own files and kernel, or a snapshot of them.
pub struct System {
    pub config_dir: PathBuf,
    pub links: SysfsLinks,
    /// netifd's interface dump (`network.interface dump`), when the caller has one: the
    /// devices of interfaces it reports up then come from it, not from the config.
    pub netifd: Option<Netifd>,
}

/// What a run decides over: the config and the topology, each read once, and what they
/// warned about on the way.
#[derive(Debug)]
pub struct Inputs {
    pub config: Config,
    pub topology: Topology,
    pub warnings: Vec<config::Warning>,
}

/// Everything one pass of the pipeline produces; as text (`Display`, in [`report`]) it
/// is what `check` prints for a snapshot.
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

    /// Reads the config, then the topology it names: all the reading a run does.
    pub fn read(&self) -> Result<Inputs> {
        self.read_topology(self.read_config()?)
    }

    /// The config, with what it warned about.
    pub fn read_config(&self) -> Result<(Config, Warnings)> {
        let mut warnings = Warnings::default();
        let config = Config::load(&self.config_dir, &mut warnings)?;
        Ok((config, warnings))
    }

    /// The topology `config` names, read now, with the config's warnings and its own.
    pub fn read_topology(&self, (config, mut warnings): (Config, Warnings)) -> Result<Inputs> {
        let topology = Topology::read(&config, self.netifd.as_ref(), &self.links, &mut warnings)?;
        Ok(Inputs {
            config,
            topology,
            warnings: warnings.0,
        })
    }

    /// The whole pipeline up to the ruleset.
    pub fn run(&self) -> Result<Outcome> {
        self.read().map(|inputs| inputs.outcome())
    }
}

impl Inputs {
    /// The plan; `refusal` once the kernel has refused hardware offload.
    pub fn plan(&self, refusal: Option<&HardwareRefusal>) -> OffloadPlan {
        plan::build(&self.config, &self.topology, refusal)
    }

    pub fn outcome(&self) -> Outcome {
        let plan = self.plan(None);
        Outcome {
            ruleset: Ruleset::from_plan(&plan),
            plan,
            warnings: self.warnings.clone(),
        }
    }
}

//! The `status` report, the same whether the daemon answers over ubus or the CLI computes
//! it on the spot: the plan (as last applied, or as it would be), what the kernel holds,
//! and the live statistics.

use serde::{Deserialize, Serialize};

use crate::apply::Loaded;
use crate::config::Mode;
use crate::plan::{DevicePlan, OffloadPlan};
use crate::stats::conntrack::Summary;
use crate::stats::{Ppe, Reading, Sources, Wed};

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The running daemon, over ubus.
    Daemon,
    /// The CLI, on the spot (the daemon does not run).
    Cli,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Daemon => "daemon",
            Source::Cli => "cli",
        }
    }
}

/// The last time the daemon applied, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastApply {
    /// What made it apply: `start`, `reload`, `SIGHUP`, `hotplug: lan3 added`.
    pub trigger: String,
    /// Seconds since the epoch.
    pub time: u64,
    /// What the batch did; empty when the kernel already matched.
    pub changes: Vec<String>,
    pub fallback: Option<String>,
    /// Set when apply failed (and the ruleset stayed as it was).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub source: Source,
    pub requested: Mode,
    /// What the kernel runs: no flowtable (`off`), software, or hardware (`flags offload`);
    /// `None` when what is loaded could not be read.
    pub effective: Option<Mode>,
    pub devices: Vec<DevicePlan>,
    pub notes: Vec<String>,
    pub loaded: Reading<Loaded>,
    pub flows: Reading<Summary>,
    pub ppe: Vec<Ppe>,
    pub wed: Wed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_apply: Option<LastApply>,
}

impl Status {
    /// The report for `plan` and what the kernel holds, with the statistics read now.
    pub fn gather(
        source: Source,
        plan: &OffloadPlan,
        loaded: Result<Loaded, String>,
        sources: &Sources,
        last_apply: Option<LastApply>,
    ) -> Status {
        let effective = loaded.as_ref().ok().map(|l| match &l.flowtable {
            None => Mode::Off,
            Some(ft) if ft.hw_offload() => Mode::Hardware,
            Some(_) => Mode::Software,
        });
        Status {
            source,
            requested: plan.requested,
            effective,
            devices: plan.devices.clone(),
            notes: plan.notes.clone(),
            loaded: loaded.into(),
            flows: sources.flow_summary().into(),
            ppe: sources.ppe(),
            wed: sources.wed(),
            last_apply,
        }
    }
}

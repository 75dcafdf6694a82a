//! Step 5: make the kernel hold the plan's ruleset, in one atomic batch that changes only
//! what differs from what is loaded. When the kernel refuses hardware offload, apply asks
//! it device by device and loads the plan made with those answers (software, with the
//! kernel's own reasons). On any other refusal nothing changes: the batch is all or
//! nothing.

mod state;
mod transaction;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use state::KernelState;
pub use transaction::{transaction, Transaction};

use crate::error::{Error, Result};
use crate::nftables::{Batch, BatchError, Counter, FlowtableHook, KernelFlowtable, Nftables};
use crate::plan::{Decision, HardwareRefusal, OffloadPlan};
use crate::ruleset::netlink::{flowtable_flags, flowtable_hook};
use crate::ruleset::{Ruleset, FAMILY_NFPROTO};

/// A table that only ever exists inside a check-only batch.
const PROBE_TABLE: &str = "fw4_offload_probe";

#[derive(Debug)]
pub struct Applied {
    /// The plan as applied (after a fallback, with the kernel's reasons).
    pub plan: OffloadPlan,
    /// What the batch did, one line per message; empty when the kernel already matched.
    pub changes: Vec<String>,
    /// Set when the kernel refused hardware offload and software was applied instead.
    pub fallback: Option<String>,
    pub dry_run: bool,
}

/// What the kernel holds now, against what the plan wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    /// Our flowtable as loaded, if it is.
    pub flowtable: Option<KernelFlowtable>,
    /// What our offload rule counted: TCP/UDP packets on the slow path.
    pub counter: Option<Counter>,
    /// Stock fw4's own flowtable is loaded (fw4 rendered it and apply has not run since).
    pub fw4_flowtable: bool,
    /// What apply would change; empty when the kernel already holds the plan.
    pub pending: Vec<String>,
}

/// Reads the loaded state for `check`: what is really there, not what was meant.
pub fn inspect(ruleset: &Ruleset) -> Result<Loaded> {
    let nft = Nftables::open().map_err(|e| Error::io("nf_tables netlink socket", e))?;
    let state = KernelState::read(&nft).map_err(|e| Error::io("nf_tables state", e))?;
    let pending = transaction(ruleset, &state)
        .batch
        .objects()
        .map(str::to_string)
        .collect();
    Ok(Loaded {
        counter: state.counter(),
        fw4_flowtable: state.fw4_flowtable.is_some(),
        flowtable: state.flowtable,
        pending,
    })
}

fn kernel_error(e: BatchError) -> Error {
    Error::Kernel {
        object: e.object,
        source: e.error,
    }
}

/// The errors a driver or kernel gives for "no hardware offload here".
fn refuses_hardware(e: &BatchError) -> bool {
    // 524 is the kernel-internal ENOTSUPP, which some drivers leak.
    matches!(e.error.raw_os_error(), Some(libc::EOPNOTSUPP | 524))
}

/// Applies `plan(None)`; `plan(Some(refusal))` when the kernel refuses its hardware
/// offload.
pub fn apply(
    plan: impl Fn(Option<&HardwareRefusal>) -> OffloadPlan,
    dry_run: bool,
) -> Result<Applied> {
    let nft = Nftables::open().map_err(|e| Error::io("nf_tables netlink socket", e))?;
    let state = KernelState::read(&nft).map_err(|e| Error::io("nf_tables state", e))?;
    let send = |batch: Batch| {
        if dry_run {
            nft.check(batch)
        } else {
            nft.commit(batch)
        }
    };

    let wanted = plan(None);
    let ruleset = Ruleset::from_plan(&wanted);
    let t = transaction(&ruleset, &state);
    let changes: Vec<String> = t.batch.objects().map(str::to_string).collect();
    let refused = match send(t.batch) {
        Ok(()) => {
            return Ok(Applied {
                plan: wanted,
                changes,
                fallback: None,
                dry_run,
            })
        }
        Err(e) if t.hw_flowtable_seq == Some(e.seq) && refuses_hardware(&e) => e,
        Err(e) => return Err(kernel_error(e)),
    };

    let refusal = probe_hardware(&nft, &wanted, &ruleset)?;
    let plan = plan(Some(&refusal));
    let t = transaction(&Ruleset::from_plan(&plan), &state);
    let changes = t.batch.objects().map(str::to_string).collect();
    send(t.batch).map_err(kernel_error)?;
    Ok(Applied {
        plan,
        changes,
        fallback: Some(format!("hardware offload refused: {refused}")),
        dry_run,
    })
}

/// Asks the kernel, device by device and without committing anything, which devices
/// refuse hardware offload, and why.
fn probe_hardware(
    nft: &Nftables,
    plan: &OffloadPlan,
    ruleset: &Ruleset,
) -> Result<HardwareRefusal> {
    let mut refused = BTreeMap::new();
    let Some(table) = ruleset.table.as_ref() else {
        return Ok(HardwareRefusal::default());
    };
    let flags = flowtable_flags(table);
    let hook = FlowtableHook {
        table: PROBE_TABLE,
        ..flowtable_hook(table)
    };
    for dev in plan
        .devices
        .iter()
        .filter(|d| d.decision == Decision::Hardware)
    {
        let mut batch = Batch::new();
        batch.add_table(FAMILY_NFPROTO, PROBE_TABLE);
        let seq = batch.add_flowtable(&hook, std::slice::from_ref(&dev.name), flags);
        match nft.check(batch) {
            Ok(()) => {}
            Err(e) if e.seq == seq => {
                refused.insert(dev.name.clone(), e.error.to_string());
            }
            Err(e) => return Err(kernel_error(e)),
        }
    }
    Ok(HardwareRefusal { devices: refused })
}

//! Step 5: make the kernel hold the plan's ruleset, in one atomic batch that changes only
//! what differs from what is loaded. When the kernel refuses hardware offload, apply asks
//! it device by device and loads the plan made with those answers (software, with the
//! kernel's own reasons). On any other refusal nothing changes: the batch is all or
//! nothing.

mod state;
mod transaction;

use std::collections::BTreeMap;
use std::io;

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
    /// Set when the kernel did not answer the batch, and reading it back found the plan.
    pub unanswered: Option<String>,
    /// What the kernel holds now (our table, fw4's offload objects), at the generation
    /// this apply left: the next apply may start from it instead of reading. `None`
    /// when that is not known (a dry run, a batch without an answer).
    pub committed: Option<KernelState>,
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
    let state = read_state(&nft)?;
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
    match e {
        BatchError::Refused { object, error, .. }
            if error.raw_os_error() == Some(libc::ERESTART) =>
        {
            Error::Kernel {
                object: format!("{object} (the ruleset changed after it was read, twice)"),
                source: error,
            }
        }
        BatchError::Refused { object, error, .. } => Error::Kernel {
            object,
            source: error,
        },
        BatchError::Send(e) => Error::io("nf_tables batch", e),
        BatchError::Unanswered(e) => Error::io("no answer to the nf_tables batch", e),
    }
}

fn read_state(nft: &Nftables) -> Result<KernelState> {
    KernelState::read(nft).map_err(|e| Error::io("nf_tables state", e))
}

/// The errors a driver or kernel gives for "no hardware offload here".
fn refuses_hardware(e: &io::Error) -> bool {
    // 524 is the kernel-internal ENOTSUPP, which some drivers leak.
    matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | 524))
}

/// What one batch did: its changes, and how its outcome became known.
struct Sent {
    changes: Vec<String>,
    unanswered: Option<String>,
    /// What the kernel holds now, when that is known (see [`Applied::committed`]).
    committed: Option<KernelState>,
}

enum NotSent {
    /// The kernel refused just the flowtable's hardware offload.
    Hardware(BatchError),
    Failed(Error),
}

/// Where the state a batch is built from came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// Read from the kernel.
    Read,
    /// Left by this process's last commit, and not read since.
    Remembered,
}

/// Why a refused batch is built again from a fresh read, or `None` when the refusal
/// stands. A batch built from a remembered state is only a guess: any refusal sends it
/// to a read (the kernel drops a device's hook when the device goes away, without a new
/// generation). A stale read (ERESTART: fw4 reloaded after it) is read again once.
fn read_again(e: &BatchError, basis: Basis, retried: bool) -> Option<&'static str> {
    match basis {
        Basis::Remembered if e.is_stale() => {
            Some("the ruleset changed since the last apply (ERESTART)")
        }
        Basis::Remembered if e.refusal().is_some() => {
            Some("the kernel refused the batch built from the last apply's state")
        }
        Basis::Read if e.is_stale() && !retried => {
            Some("the ruleset changed after it was read (ERESTART)")
        }
        _ => None,
    }
}

/// Sends the batch that takes the kernel from `state` to `ruleset`. A batch the kernel
/// refuses as stale (ERESTART: fw4 reloaded after `state` was read) is built again
/// from a fresh read, once; so is any a remembered `state` leads to, and an empty one
/// when the generation moved on since (nothing is sent then, for the kernel to refuse).
/// `state` is then that read. When the kernel does not answer, reading it back tells
/// whether it holds `ruleset` now.
fn send(
    nft: &Nftables,
    ruleset: &Ruleset,
    state: &mut KernelState,
    mut basis: Basis,
    dry_run: bool,
) -> std::result::Result<Sent, NotSent> {
    let mut retried = false;
    loop {
        let t = transaction(ruleset, state);
        if basis == Basis::Remembered
            && t.batch.is_empty()
            && nft.generation().ok() != state.generation
        {
            log::info!("the ruleset changed since the last apply: reading it");
            basis = Basis::Read;
            *state = read_state(nft).map_err(NotSent::Failed)?;
            continue;
        }
        let changes: Vec<String> = t.batch.objects().map(str::to_string).collect();
        let sent = match dry_run {
            true => nft.check(t.batch),
            false => nft.commit(t.batch),
        };
        let unanswered = match sent {
            Ok(()) => None,
            Err(e) => match (read_again(&e, basis, retried), e) {
                (Some(why), _) => {
                    log::info!("{why}: reading it again");
                    retried |= basis == Basis::Read;
                    basis = Basis::Read;
                    *state = read_state(nft).map_err(NotSent::Failed)?;
                    continue;
                }
                // A check-only batch changes nothing: no answer is just a failure.
                (None, BatchError::Unanswered(e)) if !dry_run => {
                    Some(read_back(nft, ruleset, e).map_err(NotSent::Failed)?)
                }
                (None, e) => {
                    return Err(match e.refusal() {
                        Some((seq, error))
                            if t.hw_flowtable_seq == Some(seq) && refuses_hardware(error) =>
                        {
                            NotSent::Hardware(e)
                        }
                        _ => NotSent::Failed(kernel_error(e)),
                    })
                }
            },
        };
        return Ok(Sent {
            changes,
            committed: t.after.filter(|_| !dry_run && unanswered.is_none()),
            unanswered,
        });
    }
}

/// After a batch without an answer: the note that reading the kernel back found
/// `ruleset` loaded, or the error that says what it holds instead.
fn read_back(nft: &Nftables, ruleset: &Ruleset, silence: io::Error) -> Result<String> {
    let state = read_state(nft)?;
    let t = transaction(ruleset, &state);
    let pending: Vec<&str> = t.batch.objects().collect();
    match pending.as_slice() {
        [] => Ok(format!(
            "no answer from the kernel ({silence}); read back, it holds the plan"
        )),
        _ => Err(kernel_error(BatchError::Unanswered(io::Error::new(
            silence.kind(),
            format!(
                "{silence}; read back, the kernel does not hold the plan: {}",
                pending.join("; ")
            ),
        )))),
    }
}

/// Applies `plan(None)`; `plan(Some(refusal))` when the kernel refuses its hardware
/// offload. `remembered`, the state the last apply of this process committed
/// ([`Applied::committed`]), saves reading the kernel; the kernel refuses what is built
/// from it once anything else committed, and then it is read after all.
pub fn apply(
    plan: impl Fn(Option<&HardwareRefusal>) -> OffloadPlan,
    dry_run: bool,
    remembered: Option<KernelState>,
) -> Result<Applied> {
    let nft = Nftables::open().map_err(|e| Error::io("nf_tables netlink socket", e))?;
    let (mut state, basis) = match remembered {
        Some(state) => (state, Basis::Remembered),
        None => (read_state(&nft)?, Basis::Read),
    };
    let wanted = plan(None);
    let ruleset = Ruleset::from_plan(&wanted);
    let refused = match send(&nft, &ruleset, &mut state, basis, dry_run) {
        Ok(sent) => {
            return Ok(Applied {
                plan: wanted,
                changes: sent.changes,
                fallback: None,
                unanswered: sent.unanswered,
                committed: sent.committed,
                dry_run,
            })
        }
        Err(NotSent::Hardware(e)) => e,
        Err(NotSent::Failed(e)) => return Err(e),
    };

    let refusal = probe_hardware(&nft, &wanted, &ruleset)?;
    let plan = plan(Some(&refusal));
    let ruleset = Ruleset::from_plan(&plan);
    // `state` is a read by now: send takes a remembered one to a read before a refusal
    // stands.
    let sent = send(&nft, &ruleset, &mut state, Basis::Read, dry_run).map_err(|n| match n {
        NotSent::Hardware(e) => kernel_error(e),
        NotSent::Failed(e) => e,
    })?;
    Ok(Applied {
        plan,
        changes: sent.changes,
        fallback: Some(format!("hardware offload refused: {refused}")),
        unanswered: sent.unanswered,
        committed: sent.committed,
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
        let mut batch = Batch::new(None);
        batch.add_table(FAMILY_NFPROTO, PROBE_TABLE);
        let seq = batch.add_flowtable(&hook, std::slice::from_ref(&dev.name), flags);
        match nft.check(batch) {
            Ok(()) => {}
            Err(BatchError::Refused { seq: s, error, .. }) if s == seq => {
                refused.insert(dev.name.clone(), error.to_string());
            }
            Err(e) => return Err(kernel_error(e)),
        }
    }
    Ok(HardwareRefusal { devices: refused })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(errno: i32) -> BatchError {
        BatchError::Refused {
            seq: 1,
            object: "the nf_tables batch".into(),
            error: io::Error::from_raw_os_error(errno),
        }
    }

    /// A remembered state is only a guess: any refusal of what it built goes to a read.
    #[test]
    fn a_remembered_state_refused_is_read_again() {
        for errno in [libc::ERESTART, libc::ENOENT, libc::EOPNOTSUPP] {
            let e = refused(errno);
            assert!(read_again(&e, Basis::Remembered, false).is_some(), "{e}");
        }
        let silence = BatchError::Unanswered(io::ErrorKind::TimedOut.into());
        assert_eq!(read_again(&silence, Basis::Remembered, false), None);
    }

    /// A stale read is read once more; other refusals of what a read built stand.
    #[test]
    fn a_read_state_is_read_again_once_when_stale() {
        let stale = refused(libc::ERESTART);
        assert!(read_again(&stale, Basis::Read, false).is_some());
        assert_eq!(read_again(&stale, Basis::Read, true), None);
        assert_eq!(read_again(&refused(libc::ENOENT), Basis::Read, false), None);
    }
}

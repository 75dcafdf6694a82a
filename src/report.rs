//! `check` output for people: the mode, then one line per device with its reason.

use std::fmt::Write;

use crate::apply::{Applied, Loaded};
use crate::plan::{Decision, OffloadPlan};
use crate::Outcome;

pub fn render_check(outcome: &Outcome) -> String {
    let mut out = render_plan(&outcome.plan);
    for w in &outcome.warnings {
        let _ = writeln!(out, "warning: {}: {}", w.at, w.message);
    }
    out
}

/// `apply` output: what changed (or that nothing had to), then the plan as applied.
pub fn render_applied(applied: &Applied) -> String {
    let mut out = String::new();
    let verb = if applied.dry_run {
        "would apply"
    } else {
        "applied"
    };
    match applied.changes.len() {
        0 => {
            let _ = writeln!(
                out,
                "{verb}: nothing, the kernel already holds this ruleset"
            );
        }
        n => {
            let _ = writeln!(out, "{verb}: {n} changes in one batch");
            for change in &applied.changes {
                let _ = writeln!(out, "  {change}");
            }
        }
    }
    if let Some(fallback) = &applied.fallback {
        let _ = writeln!(out, "fallback: {fallback}");
    }
    out + &render_plan(&applied.plan)
}

fn render_plan(plan: &OffloadPlan) -> String {
    let mut out = String::new();
    let count = |d: Decision| plan.devices.iter().filter(|p| p.decision == d).count();
    let _ = writeln!(
        out,
        "requested: {}; devices: {} hardware, {} software, {} excluded, {} skipped",
        plan.requested.as_str(),
        count(Decision::Hardware),
        count(Decision::Software),
        count(Decision::Excluded),
        count(Decision::Skipped),
    );
    let width = plan.devices.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in &plan.devices {
        let _ = writeln!(out, "  {:width$}  {}", d.name, d.reason);
        let _ = writeln!(
            out,
            "  {:width$}  zone {}: {}",
            "",
            d.zones.join(", "),
            d.via.join(" -> "),
        );
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// The kernel's side of `check` on a live system.
pub fn render_loaded(loaded: &std::result::Result<Loaded, crate::error::Error>) -> String {
    let mut out = String::new();
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = writeln!(out, "loaded: unknown ({e})");
            return out;
        }
    };
    match &loaded.flowtable {
        Some(ft) => {
            let _ = writeln!(
                out,
                "loaded: flowtable {} {} on {} (flags {:#x})",
                ft.table,
                ft.name,
                ft.devices.join(", "),
                ft.flags
            );
        }
        None => {
            let _ = writeln!(out, "loaded: no fw4_offload flowtable");
        }
    }
    if let Some(c) = loaded.counter {
        let _ = writeln!(
            out,
            "loaded: slow path (offload rule counter): {} packets, {} bytes",
            c.packets, c.bytes
        );
    }
    if loaded.fw4_flowtable {
        let _ = writeln!(out, "loaded: fw4's own flowtable ft (apply replaces it)");
    }
    match loaded.pending.as_slice() {
        [] => {
            let _ = writeln!(out, "in sync: the kernel holds this plan");
        }
        pending => {
            let _ = writeln!(out, "not in sync: apply would change");
            for change in pending {
                let _ = writeln!(out, "  {change}");
            }
        }
    }
    out
}

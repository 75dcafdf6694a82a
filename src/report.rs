//! `check` output for people: the mode, then one line per device with its reason.

use std::fmt::Write;

use crate::apply::Applied;
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

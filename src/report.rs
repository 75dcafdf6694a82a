//! `check` output for people: the mode, then one line per device with its reason.

use std::fmt::Write;

use crate::plan::Decision;
use crate::Outcome;

pub fn render_check(outcome: &Outcome) -> String {
    let plan = &outcome.plan;
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
    for w in &outcome.warnings {
        let _ = writeln!(out, "warning: {}: {}", w.at, w.message);
    }
    out
}

//! Output for people: `check` and `apply` (the mode, then one line per device with its
//! reason), and `status`, `flows` and `devices`.

use std::fmt::Write;

use serde_json::Value as Json;

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

/// One device: its name and the reason for its decision, then its zones and the path that
/// reached it; names padded to `width`.
fn write_device(out: &mut String, width: usize, name: &str, reason: &str, zones: &str, via: &str) {
    let _ = writeln!(out, "  {name:width$}  {reason}");
    let _ = writeln!(out, "  {:width$}  zone {zones}: {via}", "");
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
        let (zones, via) = (d.zones.join(", "), d.via.join(" -> "));
        write_device(&mut out, width, &d.name, &d.reason, &zones, &via);
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

/// `status` for people, from the report as ubus carries it (the daemon's answer and the
/// CLI's own are the same JSON).
pub fn render_status(status: &Json) -> String {
    let mut out = String::new();
    let s = |v: &Json| v.as_str().unwrap_or("?").to_string();
    let _ = writeln!(
        out,
        "requested: {}; effective: {} (answered by {})",
        s(&status["requested"]),
        status["effective"].as_str().unwrap_or("unknown"),
        s(&status["source"]),
    );
    let loaded = &status["loaded"];
    let _ = match (&loaded["error"], &loaded["flowtable"]) {
        (Json::String(e), _) => writeln!(out, "flowtable: unknown ({e})"),
        (_, Json::Null) => writeln!(out, "flowtable: none loaded"),
        (_, ft) => writeln!(
            out,
            "flowtable: {} {} on {} (flags {:#x})",
            s(&ft["table"]),
            s(&ft["name"]),
            join(&ft["devices"], ", "),
            ft["flags"].as_u64().unwrap_or(0)
        ),
    };
    if let Some(counter) = loaded["counter"].as_object() {
        let _ = writeln!(
            out,
            "slow path (offload rule counter): {} packets, {} bytes",
            counter["packets"], counter["bytes"]
        );
    }
    let flows = &status["flows"];
    let _ = match &flows["error"] {
        Json::String(e) => writeln!(out, "flows: unknown ({e})"),
        _ => {
            let n = |group: &str, key: &str| flows[group][key].as_u64().unwrap_or(0);
            writeln!(
                out,
                "flows: {} of {} offloaded ({} software, {} hardware); tcp {}+{}, udp {}+{} \
                 (read from {})",
                n("all", "software") + n("all", "hardware"),
                flows["total"].as_u64().unwrap_or(0),
                n("all", "software"),
                n("all", "hardware"),
                n("tcp", "software"),
                n("tcp", "hardware"),
                n("udp", "software"),
                n("udp", "hardware"),
                s(&flows["source"]),
            )
        }
    };
    for ppe in status["ppe"].as_array().into_iter().flatten() {
        let entries = &ppe["entries"];
        let _ = write!(out, "{}: ", s(&ppe["name"]));
        let _ = match &entries["error"] {
            Json::String(e) => write!(out, "entries unknown ({e})"),
            _ => write!(
                out,
                "{} bound of {} entries",
                entries["bound"].as_u64().unwrap_or(0),
                entries["total"].as_u64().unwrap_or(0)
            ),
        };
        let stats = &ppe["stats"];
        let _ = match (&stats["error"], stats.is_object()) {
            (Json::String(e), _) => writeln!(out, "; stats unknown ({e})"),
            (_, true) => writeln!(
                out,
                "; {} committed, {} without a free way, {} of {} buckets full",
                stats["committed"],
                stats["bind_no_free_way"],
                stats["buckets_full"],
                stats["buckets"]
            ),
            (_, false) => writeln!(out),
        };
    }
    let wed = &status["wed"];
    let instances = join(&wed["instances"], ", ");
    let modules: Vec<String> = wed["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let on = if m["wed_enable"] == true { "Y" } else { "N" };
            format!("{} wed_enable={on}", m["module"].as_str().unwrap_or("?"))
        })
        .collect();
    if !instances.is_empty() || !modules.is_empty() {
        let instances = if instances.is_empty() {
            "none".into()
        } else {
            instances
        };
        let _ = writeln!(out, "wed: {instances}; {}", modules.join(", "));
    }
    if let Some(last) = status["last_apply"].as_object() {
        let what = match (&last["error"], last["changes"].as_array()) {
            (Json::String(e), _) => format!("failed: {e}"),
            (_, Some(c)) if !c.is_empty() => {
                let c: Vec<String> = c.iter().map(s).collect();
                c.join("; ")
            }
            _ => "nothing to change".into(),
        };
        let _ = writeln!(out, "last apply ({}): {what}", s(&last["trigger"]));
        if let Json::String(fallback) = &last["fallback"] {
            let _ = writeln!(out, "fallback: {fallback}");
        }
    }
    out + &render_devices(status)
}

/// `devices`: each device, its decision's reason, and how its zones reached it.
pub fn render_devices(report: &Json) -> String {
    let mut out = String::new();
    let devices = report["devices"].as_array().map_or(&[][..], Vec::as_slice);
    let name = |d: &Json| d["name"].as_str().unwrap_or("?").to_string();
    let width = devices.iter().map(|d| name(d).len()).max().unwrap_or(0);
    for d in devices {
        let reason = d["reason"].as_str().unwrap_or("");
        let (zones, via) = (join(&d["zones"], ", "), join(&d["via"], " -> "));
        write_device(&mut out, width, &name(d), reason, &zones, &via);
    }
    out
}

/// `flows`: one offloaded flow a line, as conntrack's original direction shows it.
pub fn render_flows(page: &Json) -> String {
    let mut out = String::new();
    let flows = page["flows"].as_array().map_or(&[][..], Vec::as_slice);
    for f in flows {
        let o = &f["original"];
        let port = |p: &Json| p.as_u64().map_or(String::new(), |p| format!(":{p}"));
        let _ = writeln!(
            out,
            "{:<11} {:<4} {}{} -> {}{}",
            f["flag"].as_str().unwrap_or("?"),
            f["l4"].as_str().unwrap_or("?"),
            o["src"].as_str().unwrap_or("?"),
            port(&o["sport"]),
            o["dst"].as_str().unwrap_or("?"),
            port(&o["dport"]),
        );
    }
    let _ = writeln!(
        out,
        "{} shown of {} matching",
        flows.len(),
        page["matched"].as_u64().unwrap_or(0)
    );
    out
}

fn join(list: &Json, separator: &str) -> String {
    let items: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    items.join(separator)
}

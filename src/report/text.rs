//! The reports as text for people: a header line, then one device a line with its reason
//! and, under it, its zones and the path that reached it.

use std::fmt::{self, Display, Formatter};

use super::{ApplyReport, Check, Devices, SnapshotReport, Status};
use crate::apply::Loaded;
use crate::nftables::{Counter, KernelFlowtable};
use crate::plan::{Decision, DevicePlan, OffloadPlan};
use crate::stats::conntrack::Page;
use crate::stats::{Ppe, Reading, Wed};
use crate::Outcome;

/// `check` on a snapshot: the plan, then the warnings.
impl Display for Outcome {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_plan(f, &self.plan)?;
        for w in &self.warnings {
            writeln!(f, "warning: {}: {}", w.at, w.message)?;
        }
        Ok(())
    }
}

/// `check`: on a live system, the kernel's side follows.
impl Display for Check<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.outcome)?;
        match &self.loaded {
            Some(loaded) => write_loaded(f, loaded),
            None => Ok(()),
        }
    }
}

/// `apply`: what changed (or that nothing had to), then the plan as applied.
impl Display for ApplyReport<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let verb = match self.dry_run {
            true => "would apply",
            false => "applied",
        };
        match self.changes.len() {
            0 => writeln!(f, "{verb}: nothing, the kernel already holds this ruleset")?,
            n => {
                writeln!(f, "{verb}: {n} changes in one batch")?;
                for change in self.changes {
                    writeln!(f, "  {change}")?;
                }
            }
        }
        if let Some(fallback) = self.fallback {
            writeln!(f, "fallback: {fallback}")?;
        }
        if let Some(unanswered) = self.unanswered {
            writeln!(f, "unanswered: {unanswered}")?;
        }
        write_plan(f, self.plan)
    }
}

impl Display for Status {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "requested: {}; effective: {} (answered by {})",
            self.requested.as_str(),
            self.effective.map_or("unknown", |m| m.as_str()),
            self.source.as_str(),
        )?;
        match &self.loaded {
            Reading::Failed { error } => writeln!(f, "flowtable: unknown ({error})")?,
            Reading::Ok(loaded) => {
                match &loaded.flowtable {
                    Some(ft) => writeln!(f, "flowtable: {}", flowtable(ft))?,
                    None => writeln!(f, "flowtable: none loaded")?,
                }
                if let Some(counter) = &loaded.counter {
                    writeln!(f, "{}", slow_path(counter))?;
                }
            }
        }
        match &self.flows {
            Reading::Failed { error } => writeln!(f, "flows: unknown ({error})")?,
            Reading::Ok(s) => writeln!(
                f,
                "flows: {} of {} offloaded ({} software, {} hardware); tcp {}+{}, udp {}+{} \
                 (read from {})",
                s.all.software + s.all.hardware,
                s.total,
                s.all.software,
                s.all.hardware,
                s.tcp.software,
                s.tcp.hardware,
                s.udp.software,
                s.udp.hardware,
                s.source,
            )?,
        }
        for ppe in &self.ppe {
            write_ppe(f, ppe)?;
        }
        write_wed(f, &self.wed)?;
        if let Some(last) = &self.last_apply {
            let what = match (&last.error, last.changes.as_slice()) {
                (Some(e), _) => format!("failed: {e}"),
                (None, []) => "nothing to change".into(),
                (None, changes) => changes.join("; "),
            };
            writeln!(f, "last apply ({}): {what}", last.trigger)?;
            if let Some(fallback) = &last.fallback {
                writeln!(f, "fallback: {fallback}")?;
            }
        }
        write_devices(f, &self.devices)
    }
}

impl Display for Devices {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_devices(f, &self.devices)
    }
}

/// `flows`: one offloaded flow a line, as conntrack's original direction shows it.
impl Display for Page {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let port = |p: Option<u16>| p.map_or(String::new(), |p| format!(":{p}"));
        for flow in &self.flows {
            let o = &flow.original;
            writeln!(
                f,
                "{:<11} {:<4} {}{} -> {}{}",
                flow.flag.name(),
                flow.l4,
                o.src,
                port(o.sport),
                o.dst,
                port(o.dport),
            )?;
        }
        writeln!(f, "{} shown of {} matching", self.flows.len(), self.matched)
    }
}

impl Display for SnapshotReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let with = match self.netifd {
            true => ", with netifd's view",
            false => "",
        };
        writeln!(
            f,
            "snapshot of {} devices{with} written to {}",
            self.devices,
            self.path.display()
        )
    }
}

fn write_plan(f: &mut Formatter<'_>, plan: &OffloadPlan) -> fmt::Result {
    let count = |d: Decision| plan.devices.iter().filter(|p| p.decision == d).count();
    writeln!(
        f,
        "requested: {}; devices: {} hardware, {} software, {} excluded, {} skipped",
        plan.requested.as_str(),
        count(Decision::Hardware),
        count(Decision::Software),
        count(Decision::Excluded),
        count(Decision::Skipped),
    )?;
    write_devices(f, &plan.devices)?;
    for note in &plan.notes {
        writeln!(f, "note: {note}")?;
    }
    Ok(())
}

/// Each device: its name and the reason for its decision, then its zones and the path
/// that reached it, names padded to the longest.
fn write_devices(f: &mut Formatter<'_>, devices: &[DevicePlan]) -> fmt::Result {
    let width = devices.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in devices {
        writeln!(f, "  {:width$}  {}", d.name, d.reason)?;
        let (zones, via) = (d.zones.join(", "), d.via.join(" -> "));
        writeln!(f, "  {:width$}  zone {zones}: {via}", "")?;
    }
    Ok(())
}

/// The kernel's side of `check` on a live system.
fn write_loaded(f: &mut Formatter<'_>, loaded: &Reading<Loaded>) -> fmt::Result {
    let loaded = match loaded {
        Reading::Ok(loaded) => loaded,
        Reading::Failed { error } => return writeln!(f, "loaded: unknown ({error})"),
    };
    match &loaded.flowtable {
        Some(ft) => writeln!(f, "loaded: flowtable {}", flowtable(ft))?,
        None => writeln!(f, "loaded: no fw4_offload flowtable")?,
    }
    if let Some(counter) = &loaded.counter {
        writeln!(f, "loaded: {}", slow_path(counter))?;
    }
    if loaded.fw4_flowtable {
        writeln!(f, "loaded: fw4's own flowtable ft (apply replaces it)")?;
    }
    match loaded.pending.as_slice() {
        [] => writeln!(f, "in sync: the kernel holds this plan"),
        pending => {
            writeln!(f, "not in sync: apply would change")?;
            pending
                .iter()
                .try_for_each(|change| writeln!(f, "  {change}"))
        }
    }
}

fn flowtable(ft: &KernelFlowtable) -> String {
    let devices = ft.devices.join(", ");
    format!(
        "{} {} on {devices} (flags {:#x})",
        ft.table, ft.name, ft.flags
    )
}

fn slow_path(counter: &Counter) -> String {
    format!(
        "slow path (offload rule counter): {} packets, {} bytes",
        counter.packets, counter.bytes
    )
}

fn write_ppe(f: &mut Formatter<'_>, ppe: &Ppe) -> fmt::Result {
    write!(f, "{}: ", ppe.name)?;
    match &ppe.entries {
        Reading::Failed { error } => write!(f, "entries unknown ({error})")?,
        Reading::Ok(e) => write!(f, "{} bound of {} entries", e.bound, e.total)?,
    }
    match &ppe.stats {
        Some(Reading::Failed { error }) => writeln!(f, "; stats unknown ({error})"),
        Some(Reading::Ok(s)) => writeln!(
            f,
            "; {} committed, {} without a free way, {} of {} buckets full",
            s.committed, s.bind_no_free_way, s.buckets_full, s.buckets
        ),
        None => writeln!(f),
    }
}

/// The WED line, when there are instances or WED modules.
fn write_wed(f: &mut Formatter<'_>, wed: &Wed) -> fmt::Result {
    if wed.instances.is_empty() && wed.modules.is_empty() {
        return Ok(());
    }
    let instances = match wed.instances.is_empty() {
        true => "none".to_string(),
        false => wed.instances.join(", "),
    };
    let modules: Vec<String> = wed
        .modules
        .iter()
        .map(|m| {
            let on = if m.wed_enable { "Y" } else { "N" };
            format!("{} wed_enable={on}", m.module)
        })
        .collect();
    writeln!(f, "wed: {instances}; {}", modules.join(", "))
}

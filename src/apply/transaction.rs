//! From what is loaded to what the plan wants, as one batch: nothing when they match,
//! device hooks added or removed in place when only devices differ (established flows
//! stay offloaded), the table replaced otherwise; and what the kernel holds once that
//! batch commits, for the next apply to start from.

use std::collections::BTreeSet;

use super::state::KernelState;
use crate::nftables::{Batch, Counter, KernelFlowtable, KernelRule};
use crate::ruleset::netlink::{add_table, flowtable_flags, flowtable_hook, rule_expressions};
use crate::ruleset::{
    OffloadTable, Ruleset, FAMILY_NFPROTO, FW4_CHAIN, FW4_FLOWTABLE, FW4_TABLE, TABLE,
};

pub struct Transaction {
    pub batch: Batch,
    /// The message that asks a flowtable for hardware offload, if the batch has one.
    pub hw_flowtable_seq: Option<u32>,
    /// What the kernel holds once the batch commits, at the generation that commit makes
    /// (for an empty batch, which is never sent: the state as it was). `None` when the
    /// state has no generation: the kernel then checks none, and another commit may
    /// have come first.
    pub after: Option<KernelState>,
}

pub fn transaction(ruleset: &Ruleset, state: &KernelState) -> Transaction {
    let family = FAMILY_NFPROTO;
    let mut batch = Batch::new(state.generation);
    let mut after = state.clone();
    let mut flowtable_seq = None;
    if ruleset.remove_fw4_offload {
        for handle in &state.fw4_offload_rules {
            batch.del_rule(family, FW4_TABLE, FW4_CHAIN, *handle);
        }
        if state.fw4_flowtable.is_some() {
            batch.del_flowtable(family, FW4_TABLE, FW4_FLOWTABLE);
        }
        after.fw4_offload_rules.clear();
        after.fw4_flowtable = None;
    }
    match &ruleset.table {
        None => {
            if state.table {
                batch.del_table(family, TABLE);
            }
            after.table = false;
            after.flowtable = None;
            after.rules.clear();
        }
        Some(want) => match updatable(want, state) {
            Some(have) => {
                let ft = &want.flowtable;
                let (wanted, loaded): (BTreeSet<_>, BTreeSet<_>) =
                    (ft.devices.iter().collect(), have.devices.iter().collect());
                let removed: Vec<String> =
                    loaded.difference(&wanted).map(|d| d.to_string()).collect();
                let added: Vec<String> =
                    wanted.difference(&loaded).map(|d| d.to_string()).collect();
                let hook = flowtable_hook(want);
                if !removed.is_empty() {
                    batch.del_flowtable_devices(&hook, &removed);
                }
                if !added.is_empty() {
                    let flags = flowtable_flags(want);
                    flowtable_seq = Some(batch.add_flowtable_devices(&hook, &added, flags));
                }
                if let Some(flowtable) = &mut after.flowtable {
                    flowtable.devices.clone_from(&ft.devices);
                }
            }
            None => {
                if state.table {
                    batch.del_table(family, TABLE);
                }
                flowtable_seq = Some(add_table(&mut batch, want));
                after.table = true;
                after.flowtable = Some(loaded_flowtable(want));
                after.rules = vec![loaded_rule(want)];
            }
        },
    }
    if !batch.is_empty() {
        after.generation = state.generation.map(KernelState::generation_after_commit);
    }
    let hw = ruleset
        .table
        .as_ref()
        .is_some_and(|t| t.flowtable.hw_offload);
    Transaction {
        batch,
        hw_flowtable_seq: flowtable_seq.filter(|_| hw),
        after: after.generation.is_some().then_some(after),
    }
}

/// Our flowtable as the kernel lists it back once `add_table` committed.
fn loaded_flowtable(want: &OffloadTable) -> KernelFlowtable {
    KernelFlowtable {
        table: want.name.into(),
        name: want.flowtable.name.into(),
        priority: want.flowtable.priority,
        devices: want.flowtable.devices.clone(),
        flags: flowtable_flags(want),
    }
}

/// The offload rule as the kernel lists it back once `add_table` committed; its handle is
/// the kernel's to pick, and nothing built from this state uses it.
fn loaded_rule(want: &OffloadTable) -> KernelRule {
    KernelRule {
        handle: 0,
        expressions: rule_expressions(&want.chain)
            .into_iter()
            .map(str::to_string)
            .collect(),
        flowtable: Some(want.chain.flowtable.into()),
        counter: Some(Counter::default()),
    }
}

/// The loaded flowtable, when ours is loaded with everything but its devices as wanted.
/// Updating devices in place leaves the rule, and so its counter, as it is.
fn updatable<'a>(want: &OffloadTable, state: &'a KernelState) -> Option<&'a KernelFlowtable> {
    let have = state.flowtable.as_ref()?;
    let rule_matches = match state.rules.as_slice() {
        [rule] => {
            rule.expressions == rule_expressions(&want.chain)
                && rule.flowtable.as_deref() == Some(want.chain.flowtable)
        }
        _ => false,
    };
    (rule_matches
        && have.priority == want.flowtable.priority
        && have.flags == flowtable_flags(want))
    .then_some(have)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::nftables::{Counter, KernelRule};
    use crate::plan::{Decision, DevicePlan, OffloadPlan};

    fn ruleset(devices: &[&str], hw: bool) -> Ruleset {
        let decision = if hw {
            Decision::Hardware
        } else {
            Decision::Software
        };
        Ruleset::from_plan(&OffloadPlan {
            requested: Mode::Hardware,
            devices: devices
                .iter()
                .map(|d| DevicePlan {
                    name: d.to_string(),
                    decision,
                    reason: String::new(),
                    zones: vec![],
                    via: vec![],
                })
                .collect(),
            notes: vec![],
        })
    }

    fn loaded(ruleset: &Ruleset) -> KernelState {
        let table = ruleset.table.as_ref().unwrap();
        KernelState {
            generation: Some(7),
            table: true,
            flowtable: Some(KernelFlowtable {
                table: TABLE.into(),
                name: table.flowtable.name.into(),
                priority: table.flowtable.priority,
                devices: table.flowtable.devices.clone(),
                flags: flowtable_flags(table),
            }),
            rules: vec![KernelRule {
                handle: 4,
                expressions: rule_expressions(&table.chain)
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                flowtable: Some(table.chain.flowtable.into()),
                counter: Some(Counter {
                    packets: 12,
                    bytes: 3456,
                }),
            }],
            fw4_flowtable: None,
            fw4_offload_rules: vec![],
        }
    }

    fn steps(t: &Transaction) -> Vec<&str> {
        t.batch.objects().collect()
    }

    #[test]
    fn nothing_loaded_creates_the_table() {
        let t = transaction(&ruleset(&["lan1", "wan"], true), &KernelState::default());
        assert_eq!(
            steps(&t),
            [
                "table fw4_offload",
                "flowtable fw4_offload ft (devices lan1, wan)",
                "anonymous set in table fw4_offload",
                "elements of the anonymous set in table fw4_offload",
                "chain fw4_offload forward",
                "rule in chain fw4_offload forward",
            ]
        );
        let batch = t.batch.finish();
        let hw = batch
            .objects
            .iter()
            .find(|(seq, _)| Some(*seq) == t.hw_flowtable_seq);
        assert_eq!(
            hw.unwrap().1,
            "flowtable fw4_offload ft (devices lan1, wan)"
        );
    }

    #[test]
    fn the_same_plan_again_changes_nothing() {
        let want = ruleset(&["lan1", "wan"], true);
        let t = transaction(&want, &loaded(&want));
        assert!(t.batch.is_empty());
        assert_eq!(t.hw_flowtable_seq, None);
    }

    #[test]
    fn device_changes_update_hooks_in_place() {
        let state = loaded(&ruleset(&["lan1", "lan2", "wan"], false));
        let t = transaction(&ruleset(&["lan1", "lan3", "wan"], false), &state);
        assert_eq!(
            steps(&t),
            [
                "flowtable fw4_offload ft: remove devices lan2",
                "flowtable fw4_offload ft: add devices lan3",
            ]
        );
    }

    #[test]
    fn a_rule_without_the_counter_replaces_the_table() {
        let want = ruleset(&["lan1"], false);
        let mut state = loaded(&want);
        state.rules[0].expressions.retain(|e| e != "counter");
        state.rules[0].counter = None;
        assert_eq!(
            steps(&transaction(&want, &state))[0],
            "delete table fw4_offload"
        );
    }

    #[test]
    fn a_changed_hardware_flag_replaces_the_table() {
        let state = loaded(&ruleset(&["lan1"], false));
        let t = transaction(&ruleset(&["lan1"], true), &state);
        assert_eq!(
            steps(&t)[..2],
            ["delete table fw4_offload", "table fw4_offload"]
        );
    }

    #[test]
    fn a_foreign_rule_replaces_the_table() {
        let want = ruleset(&["lan1"], false);
        let mut state = loaded(&want);
        state.rules[0].expressions.push("log".into());
        assert_eq!(
            steps(&transaction(&want, &state))[0],
            "delete table fw4_offload"
        );
    }

    #[test]
    fn fw4_offload_objects_go_in_the_same_batch() {
        let want = ruleset(&["lan1"], false);
        let mut state = loaded(&want);
        state.fw4_offload_rules = vec![17];
        state.fw4_flowtable = state.flowtable.clone();
        assert_eq!(
            steps(&transaction(&want, &state)),
            [
                "delete rule fw4 forward handle 17",
                "delete flowtable fw4 ft"
            ]
        );
    }

    #[test]
    fn offloading_off_removes_our_table_only() {
        let off = Ruleset {
            table: None,
            remove_fw4_offload: false,
        };
        let mut state = loaded(&ruleset(&["lan1"], false));
        state.fw4_offload_rules = vec![17];
        assert_eq!(
            steps(&transaction(&off, &state)),
            ["delete table fw4_offload"]
        );
        assert!(transaction(&off, &KernelState::default()).batch.is_empty());
    }

    /// Applies `want` over `state` as a successful commit would leave it.
    fn committed(want: &Ruleset, state: &KernelState) -> KernelState {
        transaction(want, state)
            .after
            .expect("a state with a generation")
    }

    #[test]
    fn the_state_a_commit_leaves_needs_nothing_more() {
        let want = ruleset(&["lan1", "wan"], true);
        let mut fw4 = KernelState {
            generation: Some(41),
            ..KernelState::default()
        };
        fw4.fw4_offload_rules = vec![17];
        fw4.fw4_flowtable = loaded(&want).flowtable;
        let after = committed(&want, &fw4);
        assert_eq!(after.generation, Some(42), "one commit, one generation");
        assert_eq!(after.fw4_offload_rules, Vec::<u64>::new());
        assert_eq!(after.fw4_flowtable, None);
        let again = transaction(&want, &after);
        assert!(again.batch.is_empty(), "{:?}", steps(&again));
        assert_eq!(again.after, Some(after), "nothing sent, nothing moves");
    }

    /// The next device goes in place, as after a read: the rule (and its counter) stays.
    #[test]
    fn a_device_after_a_remembered_commit_updates_hooks_in_place() {
        let state = loaded(&ruleset(&["lan1", "wan"], false));
        let after = committed(&ruleset(&["lan1", "wan", "wlan0"], false), &state);
        assert_eq!(after.rules, state.rules);
        assert_eq!(
            after.flowtable.as_ref().map(|f| f.devices.as_slice()),
            Some(&["lan1".to_string(), "wan".into(), "wlan0".into()][..])
        );
        let t = transaction(&ruleset(&["lan1", "lan2", "wan", "wlan0"], false), &after);
        assert_eq!(steps(&t), ["flowtable fw4_offload ft: add devices lan2"]);
        assert_eq!(t.after.and_then(|a| a.generation), Some(9));
    }

    /// As the kernel lists back what `add_table` loads: what [`loaded`] builds.
    #[test]
    fn a_replaced_table_is_remembered_as_the_kernel_lists_it() {
        let want = ruleset(&["lan1"], true);
        let after = committed(&want, &loaded(&ruleset(&["lan1"], false)));
        let listed = loaded(&want);
        assert_eq!(after.flowtable, listed.flowtable);
        assert_eq!(after.rules.len(), 1);
        assert_eq!(after.rules[0].expressions, listed.rules[0].expressions);
        assert_eq!(after.rules[0].flowtable, listed.rules[0].flowtable);
    }

    #[test]
    fn offloading_off_is_remembered_without_our_table() {
        let off = Ruleset {
            table: None,
            remove_fw4_offload: false,
        };
        let after = committed(&off, &loaded(&ruleset(&["lan1"], false)));
        assert!(!after.table);
        assert_eq!((after.flowtable, after.rules), (None, vec![]));
    }

    #[test]
    fn the_generation_after_the_last_skips_zero() {
        let state = KernelState {
            generation: Some(u32::MAX),
            ..KernelState::default()
        };
        let after = committed(&ruleset(&["lan1"], false), &state);
        assert_eq!(after.generation, Some(1));
    }

    /// A state without a generation: its batch is not tied to one, so no commit in
    /// between is ruled out.
    #[test]
    fn without_a_generation_nothing_is_remembered() {
        let t = transaction(&ruleset(&["lan1"], false), &KernelState::default());
        assert!(t.after.is_none());
    }
}

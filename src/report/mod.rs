//! Step 6: what the helper tells its users. Each report is one typed value, serialized
//! for ubus and `--json` and rendered as text for people (`text`), so the two cannot
//! drift: the CLI reads a daemon's answer back into the same type before it renders it.
//!
//! - [`Check`], [`ApplyReport`]: `check` and `apply`, from the pipeline's outcome.
//! - [`Status`], [`Devices`] and the `flows` page ([`crate::stats::conntrack::Page`]):
//!   what `ubus call offload status|devices|flows` answers and the CLI prints.
//! - [`query`]: the `flows` arguments as the CLI and ubus carry them.
//! - [`SnapshotReport`]: what `snapshot` wrote.

pub mod query;
mod status;
mod text;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use status::{ApplyCounts, LastApply, Source, Status};

use crate::apply::{Applied, Loaded};
use crate::plan::{DevicePlan, OffloadPlan};
use crate::ruleset::Ruleset;
use crate::stats::Reading;
use crate::Outcome;

/// `check`: the outcome and, on a live system, what the kernel holds.
#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub outcome: &'a Outcome,
    /// `None` for a snapshot, which has no kernel to ask.
    pub loaded: Option<Reading<Loaded>>,
}

/// `apply`: what the batch did, the plan as applied and the ruleset it renders to.
#[derive(Debug, Serialize)]
pub struct ApplyReport<'a> {
    pub plan: &'a OffloadPlan,
    pub ruleset: Ruleset,
    pub changes: &'a [String],
    pub fallback: Option<&'a str>,
    /// Set when the kernel did not answer the batch, and reading it back found the plan.
    pub unanswered: Option<&'a str>,
    pub dry_run: bool,
}

impl<'a> ApplyReport<'a> {
    pub fn new(applied: &'a Applied) -> ApplyReport<'a> {
        ApplyReport {
            plan: &applied.plan,
            ruleset: Ruleset::from_plan(&applied.plan),
            changes: &applied.changes,
            fallback: applied.fallback.as_deref(),
            unanswered: applied.unanswered.as_deref(),
            dry_run: applied.dry_run,
        }
    }
}

/// `devices`: each device with its decision, its zones and the path that reached it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devices {
    pub devices: Vec<DevicePlan>,
}

/// `snapshot`: where it went and what it holds.
#[derive(Debug, Serialize)]
pub struct SnapshotReport {
    pub path: PathBuf,
    /// Devices copied.
    pub devices: usize,
    /// netifd's view is in it (`netifd.json`).
    pub netifd: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value as Json};

    use super::*;
    use crate::config::Mode;
    use crate::nftables::{Counter, KernelFlowtable};
    use crate::plan::Decision;
    use crate::stats::conntrack::{self, Page, Skipped, Summary};
    use crate::stats::{EntryCounts, Ppe, Wed, WedModule};
    use crate::ubus::message::{Builder, Header, Kind, Message};

    /// `report` as the daemon answers it over ubus, read back by the CLI.
    fn through_ubus<R: Serialize + serde::de::DeserializeOwned>(report: &R) -> R {
        let Json::Object(map) = serde_json::to_value(report).unwrap() else {
            panic!("a report is a JSON object");
        };
        let header = Header {
            kind: Kind::Data,
            seq: 1,
            peer: 7,
        };
        let bytes = Builder::new(header).data(&map).finish().unwrap();
        let answer: Map<String, Json> = Message::decode(&bytes).unwrap().data().unwrap().to_json();
        serde_json::from_value(Json::Object(answer)).unwrap()
    }

    fn status(loaded: Reading<Loaded>) -> Status {
        Status {
            source: Source::Daemon,
            requested: Mode::Hardware,
            effective: Some(Mode::Software),
            devices: vec![DevicePlan {
                name: "lan1".into(),
                decision: Decision::Software,
                reason: "software, the kernel refused hardware offload: Operation not supported"
                    .into(),
                zones: vec!["lan".into(), "guest".into()],
                via: vec!["network lan".into(), "br-lan".into(), "lan1".into()],
            }],
            notes: vec!["the kernel refused hardware offload: software offload applied".into()],
            loaded,
            flows: Reading::Failed {
                error: "/proc/net/nf_conntrack: No such file or directory (os error 2)".into(),
            },
            ppe: vec![
                Ppe {
                    name: "ppe0".into(),
                    stats: None,
                    entries: Reading::Ok(EntryCounts {
                        total: 3,
                        bound: 1,
                        unbound: 1,
                        fin: 1,
                    }),
                },
                Ppe {
                    name: "ppe1".into(),
                    stats: Some(Reading::Failed {
                        error: "line 1: garbage has no value".into(),
                    }),
                    entries: Reading::Failed {
                        error: "line 1: bad index #".into(),
                    },
                },
            ],
            wed: Wed {
                instances: vec!["wed0".into()],
                modules: vec![WedModule {
                    module: "mt7915e".into(),
                    wed_enable: true,
                }],
            },
            last_apply: Some(LastApply {
                trigger: "hotplug: lan3 added".into(),
                time: 1_700_000_000,
                changes: vec!["flowtable fw4_offload ft: add devices lan3".into()],
                fallback: Some("hardware offload refused: ...".into()),
                error: None,
            }),
            applies: Some(ApplyCounts {
                total: 3,
                errors: 1,
            }),
        }
    }

    #[test]
    fn a_status_read_back_from_the_daemons_answer_is_the_status_sent() {
        let loaded = Loaded {
            flowtable: Some(KernelFlowtable {
                table: "fw4_offload".into(),
                name: "ft".into(),
                priority: 0,
                devices: vec!["lan1".into()],
                flags: 2,
            }),
            counter: Some(Counter {
                packets: 12,
                bytes: 3456,
            }),
            fw4_flowtable: false,
            pending: Vec::new(),
        };
        for status in [
            status(Reading::Ok(loaded)),
            status(Reading::Failed {
                error: "nf_tables state: Operation not permitted".into(),
            }),
        ] {
            assert_eq!(through_ubus(&status), status);
        }
    }

    #[test]
    fn flows_and_devices_read_back_from_the_daemons_answer() {
        let line = "ipv4     2 tcp      6 ESTABLISHED src=192.168.1.100 dst=93.184.216.34 \
            sport=51234 dport=443 packets=4 bytes=300 src=93.184.216.34 dst=203.0.113.5 \
            sport=443 dport=61000 [HW_OFFLOAD] mark=0 zone=0 use=3";
        let page = Page {
            flows: vec![conntrack::parse_line(line).unwrap().into_owned()],
            matched: 5,
            skipped: Skipped {
                malformed: 1,
                too_long: 0,
            },
            source: "ctnetlink".into(),
        };
        assert_eq!(through_ubus(&page), page);
        let devices = Devices {
            devices: status(Reading::Failed { error: "x".into() }).devices,
        };
        assert_eq!(through_ubus(&devices), devices);
        let summary = Summary::default();
        assert_eq!(through_ubus(&summary), summary);
    }
}

//! What `status`, `flows` and `devices` report about the running system, whether the
//! daemon answers over ubus or the CLI computes it directly: the plan (as last applied,
//! or as it would be), what the kernel holds, and the live statistics.
//!
//! Every reading can fail on its own (no conntrack module loaded, no debugfs mounted, no
//! PPE on this SoC) without failing the report: the failure is reported in its place.

use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::apply::Loaded;
use crate::config::Mode;
use crate::nftables::sys::NFT_FLOWTABLE_HW_OFFLOAD;
use crate::plan::{DevicePlan, OffloadPlan};
use crate::stats::conntrack::{self, Page, Query, Summary};
use crate::stats::ppe::{self, State};
use crate::stats::Conntrack;
use crate::topology::{LinkSource, WED_DRIVERS};
use crate::ubus::blobmsg::{List, Value};

/// `flows` without a limit returns this many.
pub const DEFAULT_LIMIT: usize = 100;

/// Where the live statistics are read from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub conntrack: Conntrack,
    /// Holds the `ppeN/` directories of mtk_eth_soc.
    pub debugfs: PathBuf,
}

impl Sources {
    /// This system: conntrack over ctnetlink (or /proc), debugfs.
    pub fn live() -> Sources {
        Sources {
            conntrack: Conntrack::Kernel {
                fallback: PathBuf::from("/proc/net/nf_conntrack"),
            },
            ..Sources::under(Path::new("/"))
        }
    }

    /// A tree laid out like a router's: `proc/net/nf_conntrack`, `sys/kernel/debug/ppeN`.
    pub fn under(root: &Path) -> Sources {
        Sources {
            conntrack: Conntrack::File(root.join("proc/net/nf_conntrack")),
            debugfs: root.join("sys/kernel/debug"),
        }
    }

    fn open(path: &Path) -> Result<BufReader<File>, String> {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| with_path(path, e))
    }

    /// Offloaded flows by protocol, and the table's size.
    pub fn flow_summary(&self) -> Result<Summary, String> {
        self.conntrack.summary()
    }

    /// One page of offloaded flows.
    pub fn flows(&self, query: &Query) -> Result<Page, String> {
        self.conntrack.flows(query)
    }

    /// Every `ppeN` directory, in order; none on a system without a MediaTek PPE.
    pub fn ppe(&self) -> Vec<Ppe> {
        self.debugfs_dirs("ppe")
            .into_iter()
            .map(|name| self.read_ppe(name))
            .collect()
    }

    /// The WED instances mtk_eth_soc set up (`wedN` in debugfs, one per Wi-Fi bus WED
    /// serves), and whether each WED-capable Wi-Fi module has it enabled.
    pub fn wed(&self, links: &dyn LinkSource) -> Wed {
        let mut modules: Vec<&str> = WED_DRIVERS.iter().map(|&(_, module)| module).collect();
        modules.dedup();
        Wed {
            instances: self.debugfs_dirs("wed"),
            modules: modules
                .into_iter()
                .filter_map(|module| {
                    // A module that is not loaded has no parameters: left out.
                    let value = links.module_param(module, "wed_enable").ok()??;
                    Some(WedModule {
                        module: module.to_string(),
                        wed_enable: value == "Y" || value == "1",
                    })
                })
                .collect(),
        }
    }

    /// debugfs directories named `PREFIX<number>`, in numeric order.
    fn debugfs_dirs(&self, prefix: &str) -> Vec<String> {
        let Ok(dir) = fs::read_dir(&self.debugfs) else {
            return Vec::new();
        };
        let mut names: Vec<(u32, String)> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| {
                let number = name.strip_prefix(prefix).filter(|n| is_number(n))?;
                Some((number.parse().ok()?, name))
            })
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name).collect()
    }

    fn read_ppe(&self, name: String) -> Ppe {
        let dir = self.debugfs.join(&name);
        let stats_path = dir.join("stats");
        // `stats` comes with the kmod-nft-offload series; stock kernels have `entries` only.
        let stats = stats_path.exists().then(|| {
            Reading::from(
                Self::open(&stats_path)
                    .and_then(|f| ppe::Stats::read(f).map_err(|e| with_path(&stats_path, e))),
            )
        });
        let entries_path = dir.join("entries");
        let entries = Reading::from(Self::open(&entries_path).and_then(|f| {
            let mut counts = EntryCounts::default();
            ppe::read_entries(f, |entry| counts.add(entry.state))
                .map_err(|e| with_path(&entries_path, e))?;
            Ok(counts)
        }));
        Ppe {
            name,
            stats,
            entries,
        }
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn with_path(path: &Path, e: impl Display) -> String {
    format!("{}: {e}", path.display())
}

/// A reading that failed on its own, reported in its place.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Reading<T> {
    Ok(T),
    Failed { error: String },
}

impl<T, E: Display> From<Result<T, E>> for Reading<T> {
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Reading::Ok(value),
            Err(e) => Reading::Failed {
                error: e.to_string(),
            },
        }
    }
}

/// FOE entries of one PPE by state, counted from `entries`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct EntryCounts {
    pub total: u64,
    pub bound: u64,
    pub unbound: u64,
    pub fin: u64,
}

impl EntryCounts {
    fn add(&mut self, state: State) {
        self.total += 1;
        match state {
            State::Bound => self.bound += 1,
            State::Unbound => self.unbound += 1,
            State::Fin => self.fin += 1,
            State::Invalid | State::Unknown => {}
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Ppe {
    pub name: String,
    /// `stats` (patched kernels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Reading<ppe::Stats>>,
    pub entries: Reading<EntryCounts>,
}

/// Wireless Ethernet Dispatch: what the kernel set up and what the Wi-Fi drivers allow.
#[derive(Debug, Serialize)]
pub struct Wed {
    pub instances: Vec<String>,
    pub modules: Vec<WedModule>,
}

#[derive(Debug, Serialize)]
pub struct WedModule {
    pub module: String,
    pub wed_enable: bool,
}

/// The last time the daemon applied, and what came of it.
#[derive(Debug, Clone, Serialize)]
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

/// The `status` report.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Answered by the running daemon, or computed by the CLI on the spot.
    pub source: &'static str,
    pub requested: Mode,
    /// What the kernel runs: no flowtable (`off`), software, or hardware (`flags offload`).
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
    pub fn gather(
        source: &'static str,
        plan: &OffloadPlan,
        loaded: Result<Loaded, String>,
        sources: &Sources,
        links: &dyn LinkSource,
        last_apply: Option<LastApply>,
    ) -> Status {
        let effective = loaded.as_ref().ok().map(|l| match &l.flowtable {
            None => Mode::Off,
            Some(ft) if ft.flags & NFT_FLOWTABLE_HW_OFFLOAD != 0 => Mode::Hardware,
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
            wed: sources.wed(links),
            last_apply,
        }
    }
}

/// The l4 protocols a flowtable offloads, by the names `flows` accepts.
const PROTOS: [(&str, u8); 2] = [("tcp", 6), ("udp", 17)];

pub fn proto_number(name: &str) -> Option<u8> {
    PROTOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, number)| number)
}

fn proto_name(number: u8) -> Option<&'static str> {
    PROTOS
        .iter()
        .find(|(_, n)| *n == number)
        .map(|&(name, _)| name)
}

/// Builds a `flows` query from its arguments as ubus and the CLI give them.
pub fn query(
    limit: Option<i64>,
    offset: Option<i64>,
    proto: Option<&str>,
    hw: Option<bool>,
) -> io::Result<Query> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let count = |n: Option<i64>, what: &str, default: u64| match n {
        None => Ok(default),
        Some(n) => u64::try_from(n).map_err(|_| bad(format!("{what} {n} is negative"))),
    };
    let proto = match proto {
        None => None,
        Some(name) => Some(
            proto_number(name)
                .ok_or_else(|| bad(format!("proto '{name}': offloaded flows are tcp or udp")))?,
        ),
    };
    Ok(Query {
        proto,
        hw,
        offset: count(offset, "offset", 0)?,
        limit: count(limit, "limit", DEFAULT_LIMIT as u64)?.min(conntrack::MAX_LIMIT as u64)
            as usize,
    })
}

/// `flows` arguments as a ubus call carries them, checked: ubusd passes on whatever a
/// caller sends, whatever the signature says.
pub fn query_from_ubus(args: Option<List<'_>>) -> Result<Query, String> {
    let (mut limit, mut offset, mut proto, mut hw) = (None, None, None, None);
    for (name, value) in args.iter().flat_map(List::entries) {
        let int = || match value {
            Value::Int16(n) => Ok(i64::from(n)),
            Value::Int32(n) => Ok(i64::from(n)),
            Value::Int64(n) => Ok(n),
            _ => Err(format!("{name} must be an integer")),
        };
        match name {
            "limit" => limit = Some(int()?),
            "offset" => offset = Some(int()?),
            "proto" => match value {
                Value::String(s) => proto = Some(s),
                _ => return Err("proto must be a string".into()),
            },
            "hw" => match value {
                Value::Bool(b) => hw = Some(b),
                _ => return Err("hw must be a boolean".into()),
            },
            _ => {} // as libubus's blobmsg_parse: unknown arguments are ignored
        }
    }
    query(limit, offset, proto, hw).map_err(|e| e.to_string())
}

/// A checked query as the arguments of a ubus `flows` call ([`query_from_ubus`] reads
/// it back as it was).
pub fn query_to_ubus(query: &Query) -> Map<String, Json> {
    let mut args = Map::new();
    args.insert("limit".into(), Json::from(query.limit));
    args.insert("offset".into(), Json::from(query.offset));
    if let Some(proto) = query.proto.and_then(proto_name) {
        args.insert("proto".into(), Json::from(proto));
    }
    if let Some(hw) = query.hw {
        args.insert("hw".into(), Json::from(hw));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats");

    fn tree() -> (tempdir::Dir, Sources) {
        let dir = tempdir::Dir::new("status");
        let fixture = |name: &str| fs::read(Path::new(FIXTURES).join(name)).unwrap();
        fs::create_dir_all(dir.0.join("proc/net")).unwrap();
        fs::write(
            dir.0.join("proc/net/nf_conntrack"),
            fixture("conntrack-offload.txt"),
        )
        .unwrap();
        // The vector documents its format in `#` lines, which no kernel prints: ppe10
        // keeps them, to show a file that does not parse.
        let raw = fixture("ppe-entries.txt");
        let entries: Vec<u8> = raw
            .split_inclusive(|&b| b == b'\n')
            .filter(|line| !line.starts_with(b"#"))
            .flatten()
            .copied()
            .collect();
        for (ppe, content) in [("ppe0", &entries), ("ppe1", &entries), ("ppe10", &raw)] {
            let ppe = dir.0.join("sys/kernel/debug").join(ppe);
            fs::create_dir_all(&ppe).unwrap();
            fs::write(ppe.join("entries"), content).unwrap();
        }
        fs::write(
            dir.0.join("sys/kernel/debug/ppe0/stats"),
            fixture("ppe-stats.txt"),
        )
        .unwrap();
        fs::create_dir_all(dir.0.join("sys/kernel/debug/ppex")).unwrap();
        let sources = Sources::under(&dir.0);
        (dir, sources)
    }

    /// A scratch directory removed on drop (std has none).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(name: &str) -> Dir {
                let path = std::env::temp_dir().join(format!(
                    "fw4-offload-{name}-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn ppe_directories_in_numeric_order_with_stats_where_present() {
        let (_dir, sources) = tree();
        let ppe = sources.ppe();
        let names: Vec<_> = ppe.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ppe0", "ppe1", "ppe10"]);
        assert!(matches!(ppe[0].stats, Some(Reading::Ok(_))));
        assert!(ppe[1].stats.is_none());
        let Reading::Ok(counts) = &ppe[1].entries else {
            panic!("entries unread: {:?}", ppe[1].entries);
        };
        let one_bound = EntryCounts {
            total: 1,
            bound: 1,
            ..Default::default()
        };
        assert_eq!(counts, &one_bound);
        let Reading::Failed { error } = &ppe[2].entries else {
            panic!("a broken file read as {:?}", ppe[2].entries);
        };
        assert!(
            error.ends_with("ppe10/entries: line 1: bad index #"),
            "{error}"
        );
    }

    #[test]
    fn summary_and_pages_come_from_the_same_file() {
        let (_dir, sources) = tree();
        let summary = sources.flow_summary().unwrap();
        let all = sources
            .flows(&query(Some(1000), None, None, None).unwrap())
            .unwrap();
        assert_eq!(
            all.matched,
            summary.all.software + summary.all.hardware,
            "flows lists exactly the offloaded flows status counts"
        );
        let tcp = sources
            .flows(&query(None, None, Some("tcp"), None).unwrap())
            .unwrap();
        assert_eq!(tcp.matched, summary.tcp.software + summary.tcp.hardware);
    }

    #[test]
    fn missing_sources_are_reported_in_place() {
        let sources = Sources::under(Path::new("/nonexistent"));
        let err = sources.flow_summary().unwrap_err();
        assert!(
            err.starts_with("/nonexistent/proc/net/nf_conntrack: "),
            "{err}"
        );
        assert!(sources.ppe().is_empty());
    }

    #[test]
    fn a_query_survives_the_trip_through_ubus() {
        use crate::ubus::client::invoke;
        use crate::ubus::message::Message;
        for q in [
            query(None, None, None, None).unwrap(),
            query(Some(5), Some(70_000), Some("udp"), Some(false)).unwrap(),
            query(Some(1000), None, Some("tcp"), Some(true)).unwrap(),
        ] {
            let call = invoke(1, 7, "flows", &query_to_ubus(&q)).unwrap();
            let args = Message::decode(&call).unwrap().data();
            assert_eq!(query_from_ubus(args), Ok(q));
        }
    }

    #[test]
    fn query_arguments_are_checked() {
        let q = query(Some(5000), Some(3), Some("udp"), Some(true)).unwrap();
        assert_eq!(
            (q.limit, q.offset, q.proto, q.hw),
            (1000, 3, Some(17), Some(true))
        );
        assert_eq!(query(None, None, None, None).unwrap().limit, DEFAULT_LIMIT);
        for (limit, offset, proto) in [
            (Some(-1), None, None),
            (None, Some(-2), None),
            (None, None, Some("icmp")),
        ] {
            let e = query(limit, offset, proto, None).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        }
    }
}

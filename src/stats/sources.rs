//! Where the live statistics are read from, and what each reading gives: conntrack's
//! offloaded flows, each PPE's entries and `stats`, the WED instances and modules.
//!
//! Every reading can fail on its own (no conntrack module loaded, no debugfs mounted, no
//! PPE on this SoC) without failing the report: the failure is kept in its place.

use std::fmt::Display;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::conntrack::{Page, Query, Summary};
use super::ppe::{self, State};
use super::Conntrack;
use crate::topology::sysfs::module_param;
use crate::topology::{wed_enabled, wed_modules};

/// Where the live statistics are read from: a router's own files, or a tree laid out
/// like them.
#[derive(Debug, Clone)]
pub struct Sources {
    pub conntrack: Conntrack,
    /// Holds the `ppeN/` and `wedN/` directories of mtk_eth_soc.
    pub debugfs: PathBuf,
    /// `/sys/module`, for the WED modules' `wed_enable`.
    pub modules: PathBuf,
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

    /// A tree laid out like a router's: `proc/net/nf_conntrack`, `sys/kernel/debug/ppeN`,
    /// `sys/module`.
    pub fn under(root: &Path) -> Sources {
        Sources {
            conntrack: Conntrack::File(root.join("proc/net/nf_conntrack")),
            debugfs: root.join("sys/kernel/debug"),
            modules: root.join("sys/module"),
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
    pub fn wed(&self) -> Wed {
        Wed {
            instances: self.debugfs_dirs("wed"),
            modules: wed_modules()
                .filter_map(|module| {
                    // A module that is not loaded has no parameters: left out.
                    let value = module_param(&self.modules, module, "wed_enable").ok()??;
                    Some(WedModule {
                        module: module.to_string(),
                        wed_enable: wed_enabled(&value),
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

/// A reading, or why it failed, in its place: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reading<T> {
    Failed { error: String },
    Ok(T),
}

// By hand: serde's untagged enums buffer the input and read it again with a second
// deserializer, which doubles the code of every T.
impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Reading<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(error) = value.get("error").and_then(serde_json::Value::as_str) {
            let error = error.to_string();
            return Ok(Reading::Failed { error });
        }
        T::deserialize(value)
            .map(Reading::Ok)
            .map_err(D::Error::custom)
    }
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
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ppe {
    pub name: String,
    /// `stats` (patched kernels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Reading<ppe::Stats>>,
    pub entries: Reading<EntryCounts>,
}

/// Wireless Ethernet Dispatch: what the kernel set up and what the Wi-Fi drivers allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wed {
    pub instances: Vec<String>,
    pub modules: Vec<WedModule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WedModule {
    pub module: String,
    pub wed_enable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::L4Proto;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats");

    fn tree() -> (tempdir::Dir, Sources) {
        let dir = tempdir::Dir::new("sources");
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
        let every = Query {
            proto: None,
            hw: None,
            offset: 0,
            limit: crate::stats::conntrack::MAX_LIMIT,
        };
        let all = sources.flows(&every).unwrap();
        assert_eq!(
            all.matched,
            summary.all.software + summary.all.hardware,
            "flows lists exactly the offloaded flows status counts"
        );
        let tcp = sources
            .flows(&Query {
                proto: Some(L4Proto::Tcp.number()),
                ..every
            })
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
}

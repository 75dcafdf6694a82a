//! The snapshot reader and everything after it: a fuzzed sysfs tree (device kinds, lower
//! links, bridge ports, raw attribute files, ethtool text) under a golden case's config,
//! through config → topology → plan → ruleset. Must never panic, and what it produces
//! must hold together.
#![no_main]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use arbitrary::Arbitrary;
use fw4_offload::plan::Decision;
use fw4_offload::{ruleset, System};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "eth0",
    "eth1",
    "lan1",
    "lan2",
    "wan",
    "wan.7",
    "br-lan",
    "br-lan.10",
    "pppoe-wan",
    "wg0",
    "phy0-ap0",
    "..",
];
const DEVTYPES: &[&str] = &[
    "",
    "bridge",
    "vlan",
    "dsa",
    "wlan",
    "ppp",
    "wireguard",
    "bond",
];
const CONFIGS: &[&str] = &[
    "mt7621-dsa-pppoe",
    "mt7986-wifi-wed",
    "pppoe-over-vlan",
    "bridge-vlan-filtering",
    "exclude-and-sqm",
    "software-only",
];

#[derive(Arbitrary, Debug)]
struct Device {
    name: u8,
    devtype: u8,
    arphrd: u16,
    lowers: Vec<u8>,
    ports: Option<Vec<u8>>,
    ethtool: Option<String>,
    driver: Option<String>,
    /// Raw `ifindex` content instead of a number, sometimes.
    ifindex: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    config: u8,
    wed_enable: Option<String>,
    devices: Vec<Device>,
}

fn name(i: u8) -> &'static str {
    NAMES[i as usize % NAMES.len()]
}

fn build(root: &Path, input: &Input) -> std::io::Result<()> {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden")
        .join(CONFIGS[input.config as usize % CONFIGS.len()]);
    fs::create_dir_all(root.join("etc/config"))?;
    for file in ["firewall", "network", "sqm"] {
        if let Ok(text) = fs::read(case.join("etc/config").join(file)) {
            fs::write(root.join("etc/config").join(file), text)?;
        }
    }
    fs::create_dir_all(root.join("ethtool"))?;
    for (i, dev) in input.devices.iter().take(16).enumerate() {
        let name = name(dev.name);
        let dir = root.join("sys/class/net").join(name);
        if name == ".." || dir.exists() {
            continue;
        }
        fs::create_dir_all(&dir)?;
        let ifindex = dev
            .ifindex
            .clone()
            .unwrap_or_else(|| format!("{}\n", i + 1));
        fs::write(dir.join("ifindex"), ifindex)?;
        fs::write(dir.join("type"), format!("{}\n", dev.arphrd))?;
        let devtype = DEVTYPES[dev.devtype as usize % DEVTYPES.len()];
        let uevent = match devtype {
            "" => format!("INTERFACE={name}\n"),
            t => format!("DEVTYPE={t}\nINTERFACE={name}\n"),
        };
        fs::write(dir.join("uevent"), uevent)?;
        for &lower in dev.lowers.iter().take(4) {
            let _ = symlink(
                format!("../{}", self::name(lower)),
                dir.join(format!("lower_{}", self::name(lower))),
            );
        }
        if let Some(ports) = &dev.ports {
            fs::create_dir_all(dir.join("brif"))?;
            for &port in ports.iter().take(6) {
                let _ = symlink("../../x/brport", dir.join("brif").join(self::name(port)));
            }
        }
        if let Some(driver) = &dev.driver {
            fs::create_dir_all(dir.join("device"))?;
            fs::write(dir.join("device/uevent"), format!("DRIVER={driver}\n"))?;
        }
        if let Some(text) = &dev.ethtool {
            fs::write(root.join("ethtool").join(name), text)?;
        }
    }
    if let Some(value) = &input.wed_enable {
        let dir = root.join("sys/module/mt7915e/parameters");
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("wed_enable"), value)?;
    }
    Ok(())
}

fuzz_target!(|input: Input| {
    let root = tempfile_dir();
    if build(&root, &input).is_ok() {
        check(&root);
    }
    let _ = fs::remove_dir_all(&root);
});

fn tempfile_dir() -> std::path::PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = Path::new(base).join(format!("fw4-offload-fuzz-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn check(root: &Path) {
    let outcome = match System::snapshot(root).run() {
        Ok(outcome) => outcome,
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.is_empty() && !message.contains('\n'),
                "{message:?}"
            );
            return;
        }
    };
    let plan = &outcome.plan;
    let names: Vec<&str> = plan.devices.iter().map(|d| d.name.as_str()).collect();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "devices sorted, unique: {names:?}"
    );
    for d in &plan.devices {
        let word = match d.decision {
            Decision::Hardware => "hardware",
            Decision::Software => "software",
            Decision::Excluded => "excluded",
            Decision::Skipped => "skipped",
        };
        assert!(d.reason.starts_with(word), "{}: {}", d.name, d.reason);
    }
    let offloaded: Vec<String> = plan.flowtable_devices().map(|d| d.name.clone()).collect();
    let text = ruleset::render(&outcome.ruleset);
    match &outcome.ruleset.table {
        Some(table) => {
            assert_eq!(table.flowtable.devices, offloaded);
            assert_eq!(table.flowtable.hw_offload, plan.hardware());
            for dev in &offloaded {
                assert!(
                    text.contains(&format!("\"{dev}\"")),
                    "{dev} missing in\n{text}"
                );
            }
        }
        None => assert!(offloaded.is_empty()),
    }
}

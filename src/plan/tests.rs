//! The plan over topologies held in memory: no file is read, no kernel asked.

use super::*;
use crate::config::{FirewallConfig, NetworkConfig, ShapedDevice, Warnings};
use crate::error::Location;
use crate::ruleset::Ruleset;
use crate::topology::{Feature, Link, LinkKind};
use crate::uci;

const HARDWARE: &str = "config defaults\n\toption flow_offloading '1'\n\
    \toption flow_offloading_hw '1'\n\n";
const SOFTWARE: &str = "config defaults\n\toption flow_offloading '1'\n\n";
const ZONES: &str = "config zone\n\toption name 'lan'\n\tlist network 'lan'\n\n\
    config zone\n\toption name 'wan'\n\tlist network 'wan'\n\n";
/// A mt7621 with DSA ports in br-lan and a PPPoE wan.
const NETWORK: &str = "config interface 'lan'\n\toption device 'br-lan'\n\
    \toption proto 'static'\n\n\
    config interface 'wan'\n\toption device 'wan'\n\toption proto 'pppoe'\n";

fn config(firewall: &str) -> Config {
    let mut warnings = Warnings::default();
    let fw = uci::parse("firewall", firewall).unwrap();
    let net = uci::parse("network", NETWORK).unwrap();
    let config = Config {
        firewall: FirewallConfig::from_uci("firewall", &fw, &mut warnings).unwrap(),
        network: NetworkConfig::from_uci("network", &net, &mut warnings).unwrap(),
        shaped: Vec::new(),
    };
    assert_eq!(warnings, Warnings::default());
    config
}

fn link(name: &str, kind: LinkKind) -> Link {
    Link {
        name: name.into(),
        ifindex: 1,
        kind,
        lowers: Vec::new(),
        ports: Vec::new(),
        driver: None,
        hw_tc_offload: Feature::Unknown,
    }
}

fn dsa(name: &str) -> Link {
    Link {
        lowers: vec!["eth0".into()],
        hw_tc_offload: Feature::On,
        ..link(name, LinkKind::Dsa)
    }
}

/// br-lan over lan1 and lan2, wan, the conduit eth0 and the session pppoe-wan.
fn mt7621() -> Vec<Link> {
    vec![
        Link {
            ports: vec!["lan1".into(), "lan2".into()],
            ..link("br-lan", LinkKind::Bridge)
        },
        dsa("lan1"),
        dsa("lan2"),
        dsa("wan"),
        Link {
            driver: Some("mtk_soc_eth".into()),
            hw_tc_offload: Feature::On,
            ..link("eth0", LinkKind::Ethernet)
        },
        link("pppoe-wan", LinkKind::Ppp),
    ]
}

/// The topology `config` leads to over `links`, each asked for by name.
fn topology(config: &Config, links: &[Link], wed_enable: &[(&str, &str)]) -> Topology {
    let mut warnings = Warnings::default();
    let topology = Topology::assemble(
        config,
        None,
        &mut |name| Ok(links.iter().find(|l| l.name == name).cloned()),
        &mut |module| {
            let value = wed_enable.iter().find(|(m, _)| *m == module);
            Ok(value.map(|(_, v)| v.to_string()))
        },
        &mut warnings,
    )
    .unwrap();
    assert_eq!(warnings, Warnings::default());
    topology
}

/// Each device as (name, reason, via joined).
fn decisions(plan: &OffloadPlan) -> Vec<(&str, &str, String)> {
    plan.devices
        .iter()
        .map(|d| (d.name.as_str(), d.reason.as_str(), d.via.join(" -> ")))
        .collect()
}

const DSA_ON_ETH0: &str = "hardware (DSA port on eth0, mtk_soc_eth, hw-tc-offload on)";

#[test]
fn dsa_ports_offload_in_hardware_through_the_bridge_and_the_pppoe_session() {
    let config = config(&[HARDWARE, ZONES].concat());
    let plan = build(&config, &topology(&config, &mt7621(), &[]), None);
    assert_eq!(
        decisions(&plan),
        [
            ("lan1", DSA_ON_ETH0, "network lan -> br-lan -> lan1".into()),
            ("lan2", DSA_ON_ETH0, "network lan -> br-lan -> lan2".into()),
            ("wan", DSA_ON_ETH0, "network wan -> pppoe-wan -> wan".into()),
        ]
    );
    assert!(plan
        .devices
        .iter()
        .all(|d| d.decision == Decision::Hardware));
    assert_eq!(plan.devices[2].zones, ["wan"]);
    assert!(plan.hardware());
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
}

#[test]
fn software_offloading_takes_the_zone_devices_themselves() {
    let config = config(&[SOFTWARE, ZONES].concat());
    let topology = topology(&config, &mt7621(), &[]);
    let plan = build(&config, &topology, None);
    let not_requested = "software (hardware offload not requested)";
    assert_eq!(
        decisions(&plan),
        [
            ("br-lan", not_requested, "network lan -> br-lan".into()),
            ("wan", not_requested, "network wan -> wan".into()),
        ]
    );
    assert!(!plan.hardware());
    // Nothing below the zone devices was read.
    let read: Vec<&str> = topology.links.keys().map(String::as_str).collect();
    assert_eq!(read, ["br-lan", "wan"]);
}

#[test]
fn excluded_shaped_and_missing_devices() {
    let firewall = [
        HARDWARE,
        ZONES,
        "config zone\n\toption name 'vpn'\n\tlist device 'wg0'\n\n",
        "config offload\n\tlist exclude_device 'lan2'\n",
    ]
    .concat();
    let mut config = config(&firewall);
    let at = Location {
        file: "sqm".into(),
        line: 1,
        section: Some("queue 'wan'".into()),
        option: Some("interface".into()),
    };
    config.shaped.push(ShapedDevice {
        device: "pppoe-wan".into(),
        at,
    });
    let plan = build(&config, &topology(&config, &mt7621(), &[]), None);
    assert_eq!(
        decisions(&plan),
        [
            ("lan1", DSA_ON_ETH0, "network lan -> br-lan -> lan1".into()),
            (
                "lan2",
                "excluded by config: exclude_device lan2 \
                 (firewall:18: offload '@offload[0]', option exclude_device)",
                "network lan -> br-lan -> lan2".into()
            ),
            (
                "wan",
                "software, shaped by SQM on pppoe-wan (sqm:1: queue 'wan', option interface): \
                 hardware flows would bypass its qdisc",
                "network wan -> pppoe-wan -> wan".into()
            ),
            ("wg0", "skipped, no such device", "device wg0 -> wg0".into()),
        ]
    );
    assert_eq!(
        plan.notes,
        [
            "hardware and software devices share the flowtable: kernels without OpenWrt's \
          per-device EOPNOTSUPP patch refuse it whole, and apply falls back to software"
        ]
    );
}

#[test]
fn wifi_is_hardware_only_with_wed_enabled() {
    let firewall = [
        HARDWARE,
        "config zone\n\toption name 'lan'\n\tlist device 'phy0-ap0'\n",
    ]
    .concat();
    let config = config(&firewall);
    let wifi = Link {
        driver: Some("mt798x-wmac".into()),
        hw_tc_offload: Feature::On,
        ..link("phy0-ap0", LinkKind::Wlan)
    };
    let reason = |wed_enable: &[(&str, &str)]| {
        let plan = build(
            &config,
            &topology(&config, std::slice::from_ref(&wifi), wed_enable),
            None,
        );
        plan.devices[0].reason.clone()
    };
    assert_eq!(
        reason(&[("mt7915e", "Y")]),
        "hardware (WED, mt7915e wed_enable=Y, hw-tc-offload on)"
    );
    assert_eq!(
        reason(&[("mt7915e", "N")]),
        "software, no WED (mt7915e wed_enable=N)"
    );
    assert_eq!(
        reason(&[("mt7996e", "Y")]),
        "software, no WED (mt7915e has no wed_enable parameter)"
    );
}

#[test]
fn the_kernels_refusal_moves_hardware_devices_to_software_with_its_answers() {
    let config = config(&[HARDWARE, ZONES].concat());
    let topology = topology(&config, &mt7621(), &[]);
    let refusal = HardwareRefusal {
        devices: [("lan1".to_string(), "Operation not supported".to_string())].into(),
    };
    let plan = build(&config, &topology, Some(&refusal));
    let whole = "software, hardware capable, but this kernel refuses hardware offload for \
                 the flowtable as a whole (refused alone: lan1)";
    assert_eq!(
        decisions(&plan),
        [
            (
                "lan1",
                "software, the kernel refused hardware offload: Operation not supported",
                "network lan -> br-lan -> lan1".into()
            ),
            ("lan2", whole, "network lan -> br-lan -> lan2".into()),
            ("wan", whole, "network wan -> pppoe-wan -> wan".into()),
        ]
    );
    assert!(!plan.hardware());
    assert_eq!(
        plan.notes,
        ["the kernel refused hardware offload: software offload applied"]
    );
    // The same inputs without the refusal give the plan apply tried first.
    assert!(build(&config, &topology, None).hardware());
}

#[test]
fn a_device_two_zones_reach_lists_both_and_keeps_the_first_path() {
    let firewall = [
        HARDWARE,
        ZONES,
        "config zone\n\toption name 'guest'\n\tlist device 'lan2'\n",
    ]
    .concat();
    let config = config(&firewall);
    let plan = build(&config, &topology(&config, &mt7621(), &[]), None);
    let lan2 = &plan.devices[1];
    assert_eq!(lan2.name, "lan2");
    assert_eq!(lan2.zones, ["lan", "guest"]);
    assert_eq!(lan2.via, ["network lan", "br-lan", "lan2"]);
}

#[test]
fn offloading_off_reads_nothing_and_plans_nothing() {
    let config = config(&["config defaults\n\toption flow_offloading '0'\n\n", ZONES].concat());
    let mut warnings = Warnings::default();
    let topology = Topology::assemble(
        &config,
        None,
        &mut |name| panic!("{name} read while offloading is off"),
        &mut |module| panic!("{module} read while offloading is off"),
        &mut warnings,
    )
    .unwrap();
    let plan = build(&config, &topology, None);
    assert!(plan.devices.is_empty());
    assert_eq!(plan.notes, ["flow offloading is off: nothing is offloaded"]);
    assert!(Ruleset::from_plan(&plan).table.is_none());
}

#[test]
fn hardware_requested_where_no_device_can_do_it() {
    let config = config(&[HARDWARE, ZONES].concat());
    let links: Vec<Link> = mt7621()
        .into_iter()
        .map(|l| Link {
            hw_tc_offload: Feature::Fixed,
            ..l
        })
        .collect();
    let plan = build(&config, &topology(&config, &links, &[]), None);
    assert_eq!(
        plan.devices[0].reason,
        "software, DSA port on eth0, mtk_soc_eth cannot offload (hw-tc-offload off [fixed])"
    );
    assert_eq!(
        plan.notes,
        ["hardware offload requested, but no device can do it: software offload only"]
    );
}

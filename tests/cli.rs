//! The command line as a user meets it: exit codes, one-line errors that say where the
//! problem is, and no panic on bad input.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fw4-offload"))
        .args(args)
        .output()
        .expect("run fw4-offload")
}

/// A fresh copy of directory `from` (a golden case) at `to`.
fn copy_dir(from: &str, to: &std::path::Path) {
    let _ = std::fs::remove_dir_all(to);
    let status = Command::new("cp").args(["-r", from]).arg(to).status();
    assert!(status.unwrap().success(), "cp -r {from}");
}

/// (case under tests/bad, exit code, the one line stderr must hold exactly)
const BAD_INPUT: &[(&str, i32, &str)] = &[
    (
        "broken-uci",
        1,
        "fw4-offload: tests/bad/broken-uci/etc/config/firewall:44: unterminated single quote opened on line 44",
    ),
    (
        "unknown-network",
        1,
        "fw4-offload: tests/bad/unknown-network/etc/config/firewall:9: zone '@zone[0]', option network: zone 'lan' names network 'lna', which /etc/config/network does not define",
    ),
    (
        "bad-boolean",
        1,
        "fw4-offload: tests/bad/bad-boolean/etc/config/firewall:7: defaults '@defaults[0]', option flow_offloading_hw: 'maybe' is not a boolean (use 1/0, on/off, yes/no, true/false)",
    ),
    (
        "absurd-list",
        1,
        "fw4-offload: tests/bad/absurd-list/etc/config/firewall:5011: zone '@zone[0]', option network: 5001 entries, more than the 1024 any router has",
    ),
    (
        "invalid-device-name",
        1,
        "fw4-offload: tests/bad/invalid-device-name/etc/config/network:26: interface 'wan', option device: invalid device name 'wan-with-a-very-long-name': longer than 15 bytes",
    ),
    (
        "device-loop",
        1,
        "fw4-offload: device wan: device loop: wan -> wan.7 -> wan",
    ),
    (
        "missing-network-file",
        3,
        "fw4-offload: tests/bad/missing-network-file/etc/config/network: required config file is missing",
    ),
];

#[test]
fn bad_input_gives_one_line_with_location_and_exit_code() {
    for (case, code, message) in BAD_INPUT {
        let root = format!("tests/bad/{case}");
        for command in ["check", "print"] {
            let out = run(&["--root", &root, command]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(*code), "{case} {command}: {stderr}");
            assert!(out.stdout.is_empty(), "{case} {command}: printed a result");
            assert_eq!(stderr.lines().count(), 1, "{case} {command}: {stderr}");
            assert_eq!(stderr.trim_end(), *message, "{case} {command}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["--bogus", "check"],
        &["snapshot"],
        &["snapshot", "a", "b"],
        &["check", "extra"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: fw4-offload"));
    }
}

#[test]
fn json_output_is_the_same_outcome() {
    let out = run(&["--root", "tests/golden/mt7621-dsa-pppoe", "--json", "check"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["outcome"]["plan"]["requested"], "hardware");
    assert_eq!(
        json["outcome"]["ruleset"]["table"]["flowtable"]["hw_offload"],
        true
    );
    // A snapshot has no kernel behind it: nothing is said about what is loaded.
    assert!(json["loaded"].is_null());
}

#[test]
fn netifd_dump_from_a_file() {
    let case = "tests/golden/mt7621-dsa-pppoe-netifd";
    let dump = format!("{case}/netifd.json");
    let out = run(&["--root", case, "--netifd", &dump, "check"]);
    assert!(out.status.success());
    let expected = std::fs::read_to_string(format!("{case}/check.txt")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    // Not JSON, or JSON but not a dump: one line, exit 1; no such file: exit 3.
    for (file, code, message) in [
        (
            "tests/golden/mt7621-dsa-pppoe-netifd/check.txt",
            1,
            "fw4-offload: netifd's interface dump \
             tests/golden/mt7621-dsa-pppoe-netifd/check.txt: not JSON: expected value at line 1 column 1",
        ),
        (
            "tests/golden/mt7621-dsa-pppoe-netifd/outcome.json",
            1,
            "fw4-offload: netifd's interface dump \
             tests/golden/mt7621-dsa-pppoe-netifd/outcome.json: no 'interface' array",
        ),
        (
            "tests/fixtures/netifd/none.json",
            3,
            "fw4-offload: tests/fixtures/netifd/none.json: No such file or directory (os error 2)",
        ),
    ] {
        let out = run(&["--root", case, "--netifd", file, "check"]);
        assert_eq!(out.status.code(), Some(code), "{file}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), message);
    }
}

/// `status` and `flows` without a daemon, on a snapshot with the statistics a router has:
/// the conntrack table (tests/fixtures/stats) and a PPE with the series' `stats` file.
#[test]
fn status_and_flows_computed_from_a_snapshot() {
    let root = std::env::temp_dir().join(format!("fw4-offload-cli-status-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let copy = Command::new("cp")
        .args(["-r", "tests/golden/mt7621-dsa-pppoe"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::create_dir_all(root.join("proc/net")).unwrap();
    std::fs::create_dir_all(root.join("sys/kernel/debug/ppe0")).unwrap();
    let fixture = |name: &str| std::fs::read(format!("tests/fixtures/stats/{name}")).unwrap();
    std::fs::write(
        root.join("proc/net/nf_conntrack"),
        fixture("conntrack-offload.txt"),
    )
    .unwrap();
    std::fs::write(
        root.join("sys/kernel/debug/ppe0/stats"),
        fixture("ppe-stats.txt"),
    )
    .unwrap();
    std::fs::write(root.join("sys/kernel/debug/ppe0/entries"), "").unwrap();
    std::fs::create_dir_all(root.join("sys/kernel/debug/wed0")).unwrap();
    std::fs::create_dir_all(root.join("sys/module/mt7915e/parameters")).unwrap();
    std::fs::write(root.join("sys/module/mt7915e/parameters/wed_enable"), "Y\n").unwrap();
    let root_arg = root.to_str().unwrap();

    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(&[&["--root", root_arg], args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let status = json(&["status"]);
    assert_eq!(status["source"], "cli");
    assert_eq!(status["requested"], "hardware");
    assert_eq!(status["loaded"]["error"], "a snapshot has no kernel state");
    let all = &status["flows"]["all"];
    let offloaded = all["software"].as_u64().unwrap() + all["hardware"].as_u64().unwrap();
    assert!(offloaded > 0, "{status}");
    assert_eq!(status["ppe"][0]["name"], "ppe0");
    assert_eq!(status["ppe"][0]["stats"]["bind_no_free_way"], 1);
    assert_eq!(
        status["wed"],
        serde_json::json!({
            "instances": ["wed0"],
            "modules": [{ "module": "mt7915e", "wed_enable": true }],
        })
    );

    let flows = json(&["flows", "--limit", "1000"]);
    assert_eq!(flows["matched"].as_u64(), Some(offloaded));
    let hw = json(&["flows", "--hw"]);
    assert_eq!(hw["matched"], all["hardware"]);
    assert!(
        hw["matched"].as_u64().unwrap() > 0,
        "the fixture has hardware flows"
    );
    assert!(hw["flows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["flag"] == "hw_offload"));
    let one = json(&["flows", "--limit", "1", "--offset", "1"]);
    assert_eq!(one["flows"].as_array().unwrap().len(), 1);
    assert_eq!(one["flows"][0], flows["flows"][1]);

    let text = run(&["--root", root_arg, "status"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("requested: hardware; effective: unknown (answered by cli)\n"),
        "{text}"
    );
    assert!(
        text.contains("ppe0: 0 bound of 0 entries; 2 committed, 1 without a free way"),
        "{text}"
    );
    let table = root.join("proc/net/nf_conntrack");
    assert!(
        text.contains(&format!(
            "hardware); tcp 1+1, udp 0+1 (read from {})\n",
            table.display()
        )),
        "{text}"
    );
    let bad = run(&["--root", root_arg, "flows", "--proto", "icmp"]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&root).unwrap();
}

/// A snapshot with netifd's view (`netifd.json`, as `snapshot` writes it on a router)
/// decides as `--netifd` would, and the view kept drops addresses.
#[test]
fn snapshot_netifd_view_is_read_with_the_snapshot() {
    let case = "tests/golden/mt7621-dsa-pppoe-netifd";
    let dump: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{case}/netifd.json")).unwrap()).unwrap();
    let view = fw4_offload::snapshot::netifd_view(dump.as_object().unwrap());
    let text = view.to_string();
    assert!(
        text.contains("pppoe-wan") && !text.contains("address"),
        "{text}"
    );

    let root = std::env::temp_dir().join(format!("fw4-offload-cli-netifd-{}", std::process::id()));
    copy_dir(case, &root);
    std::fs::write(root.join("netifd.json"), text).unwrap();
    let out = run(&["--root", root.to_str().unwrap(), "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(format!("{case}/check.txt")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    std::fs::remove_dir_all(&root).unwrap();
}

/// `snapshot` with options after the command, as on a router: the output goes where the
/// operand says (not into a directory named `--json`), the JSON answer says so, no
/// secret survives in any of UCI's forms, and the snapshot decides as the original did.
#[test]
fn snapshot_json_redacts_and_reproduces_check() {
    let case = "tests/golden/mt7621-dsa-pppoe";
    let tmp = std::env::temp_dir().join(format!("fw4-offload-cli-snap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (root, out) = (tmp.join("root"), tmp.join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    copy_dir(case, &root);
    let network = root.join("etc/config/network");
    let mut text = std::fs::read_to_string(&network).unwrap();
    text += "\nconfig interface 'vpn'\n\toption proto 'wireguard'; option private_key 'PRIV\nKEY2NDLINE'\n\
             \toption username 'me'; option password 'hunter2' # old: hunter1\n";
    std::fs::write(&network, text).unwrap();

    let (root, out) = (root.to_str().unwrap(), out.to_str().unwrap());
    let snap = Command::new(env!("CARGO_BIN_EXE_fw4-offload"))
        .args(["--root", root, "snapshot", "--json", out])
        .current_dir(&tmp)
        .output()
        .unwrap();
    assert!(
        snap.status.success(),
        "{}",
        String::from_utf8_lossy(&snap.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&snap.stdout).expect("JSON");
    assert_eq!(json["path"], out);
    assert!(!tmp.join("--json").exists());

    let redacted = std::fs::read_to_string(tmp.join("out/etc/config/network")).unwrap();
    for secret in ["it''s a secret", "secret", "PRIV", "KEY2NDLINE", "hunter"] {
        assert!(!redacted.contains(secret), "{secret}:\n{redacted}");
    }
    assert_eq!(
        redacted.lines().count(),
        std::fs::read_to_string(&network).unwrap().lines().count()
    );
    // Warnings name file and line: the same lines, in the snapshot's files.
    let check = |root: &str| String::from_utf8(run(&["--root", root, "--json", "check"]).stdout);
    assert_eq!(check(out).unwrap(), check(root).unwrap().replace(root, out));
    std::fs::remove_dir_all(&tmp).unwrap();
}

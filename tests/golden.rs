//! Golden cases: each directory under tests/golden is a snapshot (`--root` layout) of a
//! router topology, holding the expected `check` report, ruleset and JSON outcome; with
//! a `netifd.json` (netifd's interface dump), run as `--netifd` would.
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expectations; review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use fw4_offload::topology::Netifd;
use fw4_offload::{ruleset, System};

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir("tests/golden")
        .expect("tests/golden")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("etc/config").is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn expect(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs:\n--- expected\n{expected}\n+++ actual\n{actual}",
            path.display()
        ));
    }
}

#[test]
fn golden_cases_match() {
    let cases = cases();
    assert!(cases.len() >= 13, "golden cases missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let mut system = System::snapshot(case);
        let dump = case.join("netifd.json");
        if dump.exists() {
            system.netifd = Some(Netifd::read(&dump).expect("netifd.json"));
        }
        let outcome = system
            .run()
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        expect(&case.join("check.txt"), &outcome.to_string(), &mut failures);
        expect(
            &case.join("ruleset.nft"),
            &ruleset::render(&outcome.ruleset),
            &mut failures,
        );
        let json = serde_json::to_string_pretty(&outcome).expect("json") + "\n";
        expect(&case.join("outcome.json"), &json, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

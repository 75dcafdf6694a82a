//! Parses every case in tests/uci/ and compares with what real libuci did with it (see
//! tests/uci/README.md): `uci show` and `uci export` output byte for byte, or for a
//! broken file an error on the same line. A file that parses must read the same, lines
//! included, once written back by `export_keeping_lines` (redacted snapshots).

use std::fs;
use std::path::Path;

use fw4_offload::uci::{parse, Package};

/// The line libuci named in an error such as
/// `uci: Parse error (too many arguments) at line 3, byte 14`.
fn libuci_error_line(error: &str) -> usize {
    let rest = &error[error.find(" at line ").expect("libuci error has a line") + 9..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("line number")
}

/// Options in name order: `export_keeping_lines` keeps lines, not the order of options
/// set more than once.
fn by_name(mut pkg: Package<'_>) -> Package<'_> {
    for section in &mut pkg.sections {
        section.options.sort_by(|a, b| a.name.cmp(&b.name));
    }
    pkg
}

fn check(case: &Path) -> Result<(), String> {
    let read = |name: &str| fs::read_to_string(case.join(name)).ok();
    let text = read("config").ok_or("no config file")?;
    // libuci names the package after the file, and the cases' files are all `config`.
    let parsed = parse("config", &text);
    if let Some(error) = read("error.txt") {
        // line.txt: our line where libuci's is off, with the reason (see README.md).
        let expected = match read("line.txt") {
            Some(line) => line.split_whitespace().next().and_then(|n| n.parse().ok()),
            None => Some(libuci_error_line(&error)),
        }
        .ok_or("bad line.txt")?;
        return match parsed {
            Ok(_) => Err(format!("parsed, but libuci failed: {}", error.trim())),
            Err(e) if e.line == expected => Ok(()),
            Err(e) => Err(format!("{e}; expected line {expected}: {}", error.trim())),
        };
    }
    let pkg = parsed.map_err(|e| format!("libuci parsed it, we failed: {e}"))?;
    let written = pkg.export_keeping_lines();
    match parse("config", &written).map(by_name) {
        Ok(again) if again == by_name(pkg.clone()) => {}
        Ok(_) => {
            return Err(format!(
                "written with its lines, it reads differently:\n{written}"
            ))
        }
        Err(e) => {
            return Err(format!(
                "written with its lines, it does not parse: {e}\n{written}"
            ))
        }
    }
    for (file, ours) in [
        ("uci-show.txt", pkg.show()),
        ("uci-export.txt", pkg.export()),
    ] {
        let theirs = read(file).ok_or(format!("no {file}"))?;
        if ours != theirs {
            return Err(format!(
                "{file} differs:\n--- libuci\n{theirs}--- ours\n{ours}"
            ));
        }
    }
    Ok(())
}

#[test]
fn matches_libuci() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/uci");
    let mut cases: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "corpus not found in {}", root.display());
    let failures: Vec<_> = cases
        .iter()
        .filter_map(|case| {
            let name = case.file_name().unwrap().to_string_lossy();
            check(case).err().map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from libuci:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

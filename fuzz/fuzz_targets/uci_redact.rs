//! Any text: what `snapshot::redact` writes holds no byte of any secret. Shown by
//! difference: the same file with every secret replaced by a marker that occurs nowhere
//! else redacts to exactly the same output, which holds no marker. The output also reads
//! back as the input did, with each secret redacted and every section and option on
//! its line.
#![no_main]

use fw4_offload::snapshot::{is_secret, redact, REDACTED};
use fw4_offload::uci::{parse, Package};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "zZsEcReT";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pkg = match parse("fuzz", &text) {
        Ok(pkg) => pkg,
        Err(e) => {
            assert_eq!(redact("fuzz", &text).unwrap_err(), e);
            return;
        }
    };
    let out = redact("fuzz", &text).expect("it parses");
    let again = parse("fuzz", &out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        model(&again),
        model(&blanked(&pkg, |_| REDACTED.into())),
        "{out}"
    );

    // The marker must be found nowhere but in the secrets it replaces.
    if out.contains(MARKER) {
        return;
    }
    let mut n = 0;
    let marked = blanked(&pkg, |_| {
        n += 1;
        format!("{MARKER}{n}")
    });
    let marked_out = redact("fuzz", &marked.export_keeping_lines()).expect("written back");
    assert!(!marked_out.contains(MARKER), "{marked_out}");
    assert_eq!(marked_out, out, "the output depends on a secret");
});

/// `pkg` with each secret value replaced by what `value` returns.
fn blanked<'a>(pkg: &Package<'a>, mut value: impl FnMut(&str) -> String) -> Package<'a> {
    let mut pkg = pkg.clone();
    for option in pkg.sections.iter_mut().flat_map(|s| &mut s.options) {
        if is_secret(&option.name) {
            for v in option.values.iter_mut() {
                v.text = value(&v.text).into();
            }
        }
    }
    pkg
}

/// Sections with their lines, each option with its values and their lines, in name order
/// (the write-back keeps lines, not the order of options set twice).
fn model(pkg: &Package<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for s in &pkg.sections {
        out.push(format!("{}={} @{}", s.label(), s.kind, s.line));
        let mut options: Vec<_> = s.options.iter().collect();
        options.sort_by_key(|o| &o.name);
        for o in options {
            out.push(format!("{:?} list={} @{}", o.values, o.is_list, o.line));
        }
    }
    out
}

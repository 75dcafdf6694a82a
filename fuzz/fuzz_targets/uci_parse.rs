//! Any text: `parse` must not panic, must return a well-formed package or a one-line
//! error on an existing line, and a parsed package must survive `export` and re-parse.
#![no_main]

use std::collections::HashSet;

use fw4_offload::uci::{parse, Package, MAX_SECTIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    match parse("fuzz", &text) {
        Err(e) => {
            assert!((1..=lines).contains(&e.line), "error line {}", e.line);
            assert!(!e.message.is_empty() && !e.message.contains('\n'));
        }
        Ok(pkg) => {
            check_model(&pkg, lines);
            let exported = pkg.export();
            let again = parse("fuzz", &exported)
                .unwrap_or_else(|e| panic!("export does not parse: {e}\n{exported}"));
            assert_eq!(without_lines(&again), without_lines(&pkg), "{exported}");
            assert_eq!(again.export(), exported);
        }
    }
});

/// The rules libuci's model keeps: unique section and option names, `@type[N]` counted by
/// position, an option holds one non-empty value, a list at least one.
fn check_model(pkg: &Package<'_>, lines: usize) {
    assert!(pkg.sections.len() <= MAX_SECTIONS);
    let mut names = HashSet::new();
    let mut last_line = 0;
    for (i, s) in pkg.sections.iter().enumerate() {
        let before = pkg.sections[..i]
            .iter()
            .filter(|p| p.kind == s.kind)
            .count();
        assert_eq!(s.index, before);
        assert!(!s.kind.is_empty() && s.kind.bytes().all(|c| c.is_ascii_graphic()));
        if let Some(name) = &s.name {
            assert!(names.insert(name));
            assert!(is_name(name), "section name {name:?}");
        }
        assert!(s.line >= last_line.max(1) && s.line <= lines);
        last_line = s.line;
        let mut options = HashSet::new();
        for o in &s.options {
            assert!(options.insert(&o.name) && is_name(&o.name));
            assert!(o.line >= s.line && o.line <= lines);
            assert!(!o.values.is_empty());
            if !o.is_list {
                assert!(o.values.len() == 1 && !o.values[0].text.is_empty());
            }
        }
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Lines differ between a file and its export; everything else must not.
fn without_lines<'a>(pkg: &Package<'a>) -> Package<'a> {
    let mut pkg = pkg.clone();
    for s in &mut pkg.sections {
        s.line = 0;
        for o in &mut s.options {
            o.line = 0;
            o.values.iter_mut().for_each(|v| v.line = 0);
        }
    }
    pkg
}

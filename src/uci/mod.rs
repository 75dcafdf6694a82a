//! UCI files (`/etc/config/*`), parsed the way libuci parses them.
//!
//! Why not the uci_rs crate (the design's first choice): measured on 0.1.2, it keeps
//! backslashes and fails on concatenated quoting (`'it'\''s'` is a parse error), rejects
//! a last line without newline, quoted section types and option names, and `package`
//! lines, gives identical anonymous sections the same `@type[N]`, and its errors carry no
//! line number. Working around that needs a libuci-compatible tokenizer anyway, and with
//! one the crate adds nothing; so this parser is small, ours, and checked against real
//! libuci output.
//!
//! API contract:
//! - `parse(file, text)` returns a [`Package`] or a [`ParseError`] with the 1-based line.
//! - Sections keep file order; `index` is the section's position among sections of the
//!   same type (libuci's `@type[N]`), counted by position, never by content.
//! - `option` replaces an earlier value of the same name, `list` appends (libuci rules).
//! - [`Package::show`] and [`Package::export`] print `uci show` and `uci export` form.
//!
//! tests/uci/ holds inputs with real libuci's output for them. Known differences: a NUL
//! byte is an error (libuci silently cuts the line there); an error in an unterminated
//! last line names that line (libuci names the one before); a named section is not merged
//! into an anonymous one whose hidden `cfgNNXXXX` name it happens to spell.

mod parser;
mod render;

use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use parser::{Arg, Parser, Statement};

pub use parser::MAX_ARG_LEN;

/// Most sections a package may have.
pub const MAX_SECTIONS: usize = 65536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Section type (`config <type> ...`).
    pub kind: String,
    /// Explicit name; `None` for anonymous sections.
    pub name: Option<String>,
    /// Position among sections of the same type: libuci's `@kind[index]`.
    pub index: usize,
    /// Line of the `config` statement (the first one, if the section is reopened).
    pub line: usize,
    pub options: Vec<UciOption>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciOption {
    pub name: String,
    pub values: Vec<String>,
    pub is_list: bool,
    /// Line of the last statement that set this option.
    pub line: usize,
    /// Line of the statement that added each value (a list's values come from several).
    pub value_lines: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Section {
    /// How `uci show` names the section: `lan` or `@zone[0]`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("@{}[{}]", self.kind, self.index),
        }
    }

    pub fn option(&self, name: &str) -> Option<&UciOption> {
        self.options.iter().find(|o| o.name == name)
    }
}

impl Package {
    pub fn sections_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind)
    }
}

/// The maps [`parse`] keeps are keyed by short names from a root-owned file, where
/// SipHash's resistance to chosen collisions buys nothing: FNV-1a hashes them.
type Map<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Parses the text of UCI file `file`; the package is named after the file's last path
/// component, as `uci` names a package after its file (a `package` line is ignored).
pub fn parse(file: &str, text: &str) -> Result<Package, ParseError> {
    let error = |line, message| ParseError {
        file: file.to_string(),
        line,
        message,
    };
    let mut pkg = Package {
        name: file.rsplit('/').next().unwrap_or(file).to_string(),
        sections: Vec::new(),
    };
    // Indexes into `pkg.sections` and their options, so large files stay linear; keyed
    // by the arguments as parsed, which mostly borrow from `text`.
    let mut named: Map<Arg, usize> = Map::default();
    // At most one option a line, as files are written: room for all, never a rehash.
    let lines = text.bytes().filter(|&c| c == b'\n').count();
    let mut options: Map<(usize, Arg), usize> =
        Map::with_capacity_and_hasher(lines, <_>::default());
    let mut per_kind: Map<Arg, usize> = Map::default();
    let mut current = 0;
    let mut parser = Parser::new(text);
    while let Some(statement) = parser
        .next_statement()
        .map_err(|e| error(e.line, e.message))?
    {
        let line = parser.statement_line();
        match statement {
            Statement::Package => {}
            Statement::Config { kind, name } => {
                // A named section seen before is reopened in place (libuci's uci_set);
                // libuci in its default strict mode refuses a change of type.
                if let Some(&i) = named.get(&name) {
                    let old = &pkg.sections[i].kind;
                    if *old != kind {
                        return Err(error(
                            line,
                            format!("section '{name}' redeclared as '{kind}', was '{old}'"),
                        ));
                    }
                    current = i;
                    continue;
                }
                if pkg.sections.len() == MAX_SECTIONS {
                    return Err(error(line, format!("more than {MAX_SECTIONS} sections")));
                }
                current = pkg.sections.len();
                if !name.is_empty() {
                    named.insert(name.clone(), current);
                }
                let count = per_kind.entry(kind.clone()).or_default();
                pkg.sections.push(Section {
                    kind: kind.into_owned(),
                    name: (!name.is_empty()).then(|| name.into_owned()),
                    index: *count,
                    line,
                    options: Vec::new(),
                });
                *count += 1;
            }
            Statement::Option { list, name, value } => {
                // libuci ignores `option` with an empty value; it neither sets nor deletes.
                if !list && value.is_empty() {
                    continue;
                }
                let section = &mut pkg.sections[current];
                let value = value.into_owned();
                match options.entry((current, name)) {
                    Entry::Occupied(i) => {
                        let option = &mut section.options[*i.get()];
                        if list {
                            option.values.push(value);
                            option.value_lines.push(line);
                        } else {
                            option.values = vec![value];
                            option.value_lines = vec![line];
                        }
                        option.is_list = list;
                        option.line = line;
                    }
                    Entry::Vacant(slot) => {
                        section.options.push(UciOption {
                            name: slot.key().1.to_string(),
                            values: vec![value],
                            is_list: list,
                            line,
                            value_lines: vec![line],
                        });
                        slot.insert(section.options.len() - 1);
                    }
                }
            }
        }
    }
    Ok(pkg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(s: &Section) -> Vec<(&str, Vec<&str>, bool)> {
        s.options
            .iter()
            .map(|o| {
                let values = o.values.iter().map(String::as_str).collect();
                (o.name.as_str(), values, o.is_list)
            })
            .collect()
    }

    #[test]
    fn option_and_list_rules() {
        let text = "config t\n option a 1\n list a 2\n option b 3\n option a 4\n option b ''\n list c ''\n";
        let pkg = parse("/etc/config/x", text).unwrap();
        assert_eq!(pkg.name, "x");
        let s = &pkg.sections[0];
        assert_eq!(
            options(s),
            [
                ("a", vec!["4"], false),
                ("b", vec!["3"], false),
                ("c", vec![""], true)
            ]
        );
        assert_eq!(s.option("a").unwrap().line, 5);
    }

    #[test]
    fn sections() {
        let text = "config z 'lan'\n option a 1\nconfig z\nconfig z\nconfig z lan\n option b 2\n";
        let pkg = parse("f", text).unwrap();
        let labels: Vec<_> = pkg.sections.iter().map(Section::label).collect();
        assert_eq!(labels, ["lan", "@z[1]", "@z[2]"]);
        assert_eq!(pkg.sections[0].options.len(), 2);
        assert_eq!(pkg.sections[0].line, 1);
        assert_eq!(pkg.sections_of("z").count(), 3);
        let e = parse("f", "config z lan\nconfig y lan\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:2: section 'lan' redeclared as 'y', was 'z'"
        );
    }

    #[test]
    fn section_limit() {
        let text = "config t\n".repeat(MAX_SECTIONS);
        assert_eq!(parse("f", &text).unwrap().sections.len(), MAX_SECTIONS);
        let e = parse("f", &(text + "config t\n")).unwrap_err();
        assert_eq!(e.line, MAX_SECTIONS + 1);
    }
}

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

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::{Deref, DerefMut};

use parser::{Parser, Statement};

pub use parser::Arg;

pub use parser::MAX_ARG_LEN;

/// Most sections a package may have.
pub const MAX_SECTIONS: usize = 65536;

/// A parsed file. Names and values borrow from the text they were read from, unless
/// quotes, escapes or joined lines made them differ from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package<'a> {
    pub name: String,
    pub sections: Vec<Section<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// Section type (`config <type> ...`).
    pub kind: Arg<'a>,
    /// Explicit name; `None` for anonymous sections.
    pub name: Option<Arg<'a>>,
    /// Position among sections of the same type: libuci's `@kind[index]`.
    pub index: usize,
    /// Line of the `config` statement (the first one, if the section is reopened).
    pub line: usize,
    pub options: Vec<UciOption<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciOption<'a> {
    pub name: Arg<'a>,
    pub values: Values<'a>,
    pub is_list: bool,
    /// Line of the last statement that set this option.
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Value<'a> {
    pub text: Arg<'a>,
    /// Line of the statement that added it (a list's values come from several).
    pub line: usize,
}

/// An option's values, in the order they were added: one for an `option`, one or more
/// for a `list`. The one value most options have is kept inline, without a `Vec`.
#[derive(Clone, PartialEq, Eq)]
pub struct Values<'a>(OneOrMore<'a>);

/// `More` holds two or more values, so that equal values have equal representations.
#[derive(Clone, PartialEq, Eq)]
enum OneOrMore<'a> {
    One(Value<'a>),
    More(Vec<Value<'a>>),
}

impl<'a> Values<'a> {
    pub fn one(value: Value<'a>) -> Self {
        Values(OneOrMore::One(value))
    }

    pub fn push(&mut self, value: Value<'a>) {
        match &mut self.0 {
            OneOrMore::More(values) => values.push(value),
            OneOrMore::One(first) => {
                let first = std::mem::take(first);
                self.0 = OneOrMore::More(vec![first, value]);
            }
        }
    }
}

impl<'a> Deref for Values<'a> {
    type Target = [Value<'a>];

    fn deref(&self) -> &[Value<'a>] {
        match &self.0 {
            OneOrMore::One(value) => std::slice::from_ref(value),
            OneOrMore::More(values) => values,
        }
    }
}

impl DerefMut for Values<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match &mut self.0 {
            OneOrMore::One(value) => std::slice::from_mut(value),
            OneOrMore::More(values) => values,
        }
    }
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
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

impl<'a> Section<'a> {
    /// How `uci show` names the section: `lan` or `@zone[0]`.
    pub fn label(&self) -> Cow<'_, str> {
        match &self.name {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(["@", &self.kind, "[", &self.index.to_string(), "]"].concat()),
        }
    }

    pub fn option(&self, name: &str) -> Option<&UciOption<'a>> {
        self.options.iter().find(|o| o.name == name)
    }
}

impl<'a> Package<'a> {
    pub fn sections_of<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s Section<'a>> + 's {
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

/// Sections with more options than this find them through a map, not by a scan.
const SCAN_LIMIT: usize = 16;

/// Where an option of a section is in its `options`. Sections are small, and a scan of a
/// few names costs less than hashing one; a section that grows past [`SCAN_LIMIT`] has its
/// options mapped instead, so that large ones stay linear too.
#[derive(Default)]
struct OptionIndex<'a> {
    /// Keyed by section index and option name.
    large: Map<(usize, Arg<'a>), usize>,
}

impl<'a> OptionIndex<'a> {
    fn find(&self, section: usize, options: &[UciOption<'a>], name: &Arg<'a>) -> Option<usize> {
        if options.len() <= SCAN_LIMIT {
            options.iter().position(|o| o.name == *name)
        } else {
            // A key that borrows `name`, even an owned one: nothing is copied.
            self.large
                .get(&(section, Cow::Borrowed(name.as_ref())))
                .copied()
        }
    }

    /// Records the option just added last to `options`, or all of them once they are
    /// too many to scan.
    fn added(&mut self, section: usize, options: &[UciOption<'a>]) {
        let n = options.len();
        if n > SCAN_LIMIT {
            let from = if n == SCAN_LIMIT + 1 { 0 } else { n - 1 };
            for (i, option) in options.iter().enumerate().skip(from) {
                self.large.insert((section, option.name.clone()), i);
            }
        }
    }
}

/// Parses the text of UCI file `file`; the package is named after the file's last path
/// component, as `uci` names a package after its file (a `package` line is ignored).
pub fn parse<'a>(file: &str, text: &'a str) -> Result<Package<'a>, ParseError> {
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
    let mut named: Map<Arg<'a>, usize> = Map::default();
    let mut index = OptionIndex::default();
    let mut per_kind: Map<Arg<'a>, usize> = Map::default();
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
                    kind,
                    name: (!name.is_empty()).then_some(name),
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
                let value = Value { text: value, line };
                match index.find(current, &section.options, &name) {
                    Some(i) => {
                        let option = &mut section.options[i];
                        if list {
                            option.values.push(value);
                        } else {
                            option.values = Values::one(value);
                        }
                        option.is_list = list;
                        option.line = line;
                    }
                    None => {
                        section.options.push(UciOption {
                            name,
                            values: Values::one(value),
                            is_list: list,
                            line,
                        });
                        index.added(current, &section.options);
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

    fn options<'s>(s: &'s Section<'_>) -> Vec<(&'s str, Vec<&'s str>, bool)> {
        s.options
            .iter()
            .map(|o| {
                let values = o.values.iter().map(|v| v.text.as_ref()).collect();
                (o.name.as_ref(), values, o.is_list)
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
    fn options_of_a_large_section() {
        // Past SCAN_LIMIT, options are found through the map: set again, added to, and
        // after the section was reopened.
        let n = 3 * SCAN_LIMIT;
        let mut text = String::from("config t 's'\n");
        text.extend((0..n).map(|i| format!("option o{i} a\n")));
        text += "config u\nconfig t 's'\n";
        text.extend((0..n).map(|i| match i % 2 {
            0 => format!("option o{i} b\n"),
            _ => format!("list o{i} c\n"),
        }));
        let pkg = parse("f", &text).unwrap();
        let options = options(&pkg.sections[0]);
        assert_eq!(options.len(), n);
        for (i, (name, values, is_list)) in options.into_iter().enumerate() {
            assert_eq!(name, format!("o{i}"));
            match i % 2 {
                0 => assert_eq!((values, is_list), (vec!["b"], false)),
                _ => assert_eq!((values, is_list), (vec!["a", "c"], true)),
            }
        }
    }

    #[test]
    fn section_limit() {
        let text = "config t\n".repeat(MAX_SECTIONS);
        assert_eq!(parse("f", &text).unwrap().sections.len(), MAX_SECTIONS);
        let e = parse("f", &(text + "config t\n")).unwrap_err();
        assert_eq!(e.line, MAX_SECTIONS + 1);
    }
}

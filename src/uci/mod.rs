//! UCI files (`/etc/config/*`), parsed the way libuci parses them.
//!
//! API contract (implementation pending):
//! - `parse(file, text)` returns a [`Package`] or a [`ParseError`] with the 1-based line.
//! - Sections keep file order; `index` is the section's position among sections of the
//!   same type (libuci's `@type[N]`), counted by position, never by content.
//! - `option` replaces an earlier value of the same name, `list` appends (libuci rules).

use std::fmt;

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
    /// Line of the `config` statement.
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

pub fn parse(file: &str, text: &str) -> Result<Package, ParseError> {
    let _ = text;
    Err(ParseError {
        file: file.to_string(),
        line: 0,
        message: "not implemented".into(),
    })
}

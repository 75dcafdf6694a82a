//! Typed reading of one UCI section: values, lists and booleans parsed the way
//! firewall4 and netifd parse them, every error carrying file, line, section, option.

use std::borrow::Cow;

use crate::error::{Error, Location, Result};
use crate::uci::{Section, UciOption};

/// More entries than this in one list is a broken config, not a router.
pub const MAX_LIST_ENTRIES: usize = 1024;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_IFNAME_LEN: usize = 15;

pub struct SectionReader<'a> {
    file: &'a str,
    section: &'a Section<'a>,
}

impl<'a> SectionReader<'a> {
    pub fn new(file: &'a str, section: &'a Section<'a>) -> Self {
        SectionReader { file, section }
    }

    pub fn section(&self) -> &'a Section<'a> {
        self.section
    }

    /// `lan` or `@zone[0]`, as `uci show` names the section.
    pub fn label(&self) -> Cow<'a, str> {
        self.section.label()
    }

    pub fn location(&self, option: Option<&str>) -> Location {
        let line = option
            .and_then(|name| self.section.option(name))
            .map_or(self.section.line, |o| o.line);
        Location {
            file: self.file.to_string(),
            line,
            section: Some([&self.section.kind, " '", &self.label(), "'"].concat()),
            option: option.map(str::to_string),
        }
    }

    pub fn error(&self, option: Option<&str>, message: impl Into<String>) -> Error {
        Error::Config {
            at: self.location(option),
            message: message.into(),
        }
    }

    fn get(&self, name: &str) -> Option<&'a UciOption<'a>> {
        self.section.option(name)
    }

    /// A single value: an `option`, or the last entry of a `list` (what uci_get does).
    pub fn string(&self, name: &str) -> Option<&'a str> {
        self.get(name)
            .and_then(|o| o.values.last())
            .map(|v| v.text.as_ref())
    }

    /// A list value. Like firewall4, an `option` holding several words is a list.
    pub fn list(&self, name: &str) -> Result<Vec<&'a str>> {
        let Some(option) = self.get(name) else {
            return Ok(Vec::new());
        };
        let items: Vec<&str> = if option.is_list {
            option.values.iter().map(|v| v.text.as_ref()).collect()
        } else {
            option
                .values
                .iter()
                .flat_map(|v| v.text.split_whitespace())
                .collect()
        };
        if items.len() > MAX_LIST_ENTRIES {
            return Err(self.error(
                Some(name),
                format!(
                    "{} entries, more than the {MAX_LIST_ENTRIES} any router has",
                    items.len()
                ),
            ));
        }
        Ok(items)
    }

    /// A boolean with libuci's spellings; anything else is an error, not a silent default.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.string(name) {
            None => Ok(default),
            Some(value) => parse_bool(value).ok_or_else(|| {
                self.error(
                    Some(name),
                    format!("'{value}' is not a boolean (use 1/0, on/off, yes/no, true/false)"),
                )
            }),
        }
    }

    /// A network device name, checked the way the kernel checks it.
    pub fn ifname(&self, option: &str, name: &'a str) -> Result<&'a str> {
        check_ifname(name)
            .map(|()| name)
            .map_err(|why| self.error(Some(option), format!("invalid device name '{name}': {why}")))
    }

    /// Options present in the section that `known` does not list.
    pub fn unknown_options(&self, known: &[&str]) -> Vec<&'a str> {
        self.section
            .options
            .iter()
            .map(|o| o.name.as_ref())
            .filter(|name| !known.contains(name))
            .collect()
    }
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "on" | "true" | "yes" | "enabled" => Some(true),
        "0" | "off" | "false" | "no" | "disabled" => Some(false),
        _ => None,
    }
}

/// The kernel's `dev_valid_name()`: 1–15 bytes, not `.`/`..`, no `/`, `:` or whitespace.
pub fn check_ifname(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > MAX_IFNAME_LEN {
        return Err("longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return Err("reserved name");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
    {
        return Err("contains '/', ':' or whitespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_rules_follow_the_kernel() {
        assert!(check_ifname("lan1").is_ok());
        assert!(check_ifname("phy1-ap0").is_ok());
        assert!(check_ifname("eth0.100").is_ok());
        assert_eq!(check_ifname(""), Err("empty"));
        assert_eq!(
            check_ifname("0123456789abcdef"),
            Err("longer than 15 bytes")
        );
        assert_eq!(check_ifname(".."), Err("reserved name"));
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a:b").is_err());
        assert!(check_ifname("a b").is_err());
    }

    #[test]
    fn booleans_use_libuci_spellings() {
        for t in ["1", "on", "true", "yes", "enabled"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "off", "false", "no", "disabled"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool("True"), None);
    }
}

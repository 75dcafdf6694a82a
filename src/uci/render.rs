//! The text forms of `uci show` and `uci export`, byte for byte as libuci's CLI prints
//! them, so a package can be compared with libuci's output and written back; and a
//! write-back that keeps every section and option on the line it was read from.

use super::parser::is_package_name;
use super::{Package, Section};

/// Quotes a value the way libuci does: single quotes, each `'` as `'\''`.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

impl Package<'_> {
    /// `uci show <package>`: one `pkg.section=type` line per section, then one
    /// `pkg.section.option='value'` line per option (list items space-separated).
    pub fn show(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            let prefix = format!("{}.{}", self.name, section.label());
            out += &format!("{prefix}={}\n", section.kind);
            for option in &section.options {
                let values: Vec<_> = option.values.iter().map(|v| quote(&v.text)).collect();
                out += &format!("{prefix}.{}={}\n", option.name, values.join(" "));
            }
        }
        out
    }

    /// `uci export <package>`: a file that parses back to the same package. The
    /// `package` line is left out when the package's name is not one libuci accepts.
    pub fn export(&self) -> String {
        let mut out = String::new();
        if is_package_name(&self.name) {
            out += &format!("package {}\n", self.name);
        }
        for section in &self.sections {
            out += &format!("\nconfig {}", export_type(section));
            if let Some(name) = &section.name {
                out += &format!(" {}", quote(name));
            }
            out += "\n";
            for option in &section.options {
                let command = if option.is_list { "list" } else { "option" };
                for value in option.values.iter() {
                    out += &format!("\t{command} {} {}\n", option.name, quote(&value.text));
                }
            }
        }
        out + "\n"
    }
}

/// One statement of [`Package::export_keeping_lines`]: a section's `config`, or one
/// value of an option, each where the file had it.
struct Statement {
    line: usize,
    section: usize,
    /// The option and which of its values.
    value: Option<(usize, usize)>,
    /// The value holds a newline: nothing else can follow on the line it starts on.
    ends_later: bool,
}

impl Package<'_> {
    /// The package written back so that it parses to the same sections and options, each
    /// value on the line it was read from (so `file:line` in a message stays true). Only
    /// what the parser kept is written: comments, and whatever libuci ignores, are left
    /// out.
    ///
    /// Statements read from one line go back onto it, joined by `;` after a quoted word
    /// (after a bare word, libuci ends the line at the `;`), a section's options in name
    /// order: the order they were first set in depends on lines an option set again has
    /// left, and the output must not (writing back what this wrote gives the same text).
    /// A named section is opened again where its options follow another section's; an
    /// anonymous one never needs to be, as libuci cannot reopen it either.
    pub fn export_keeping_lines(&self) -> String {
        let mut statements = Vec::new();
        for (i, section) in self.sections.iter().enumerate() {
            statements.push(Statement {
                line: section.line,
                section: i,
                value: None,
                ends_later: false,
            });
            for (j, option) in section.options.iter().enumerate() {
                for (k, value) in option.values.iter().enumerate() {
                    statements.push(Statement {
                        line: value.line,
                        section: i,
                        value: Some((j, k)),
                        ends_later: value.text.contains('\n'),
                    });
                }
            }
        }
        let name = |s: &Statement| {
            s.value
                .map(|(j, _)| &*self.sections[s.section].options[j].name)
        };
        // A value with newlines was the last statement on its line: what follows it in
        // the file starts after its closing quote. A section's `config` (no name) comes
        // before its options.
        statements.sort_by_key(|s| (s.line, s.ends_later, s.section, name(s)));

        let (mut out, mut line, mut open) = (String::new(), 1, None);
        // The `;` after `config TYPE` would be read as the (empty) name: an anonymous
        // section followed by more on its line names itself empty, `config TYPE ''`.
        let mut anonymous_last = false;
        for statement in statements {
            let section = &self.sections[statement.section];
            let mut text = Vec::new();
            if open != Some(statement.section) {
                text.push(match &section.name {
                    Some(name) => format!("config {} {}", quote(&section.kind), quote(name)),
                    None => format!("config {}", quote(&section.kind)),
                });
                open = Some(statement.section);
            }
            if let Some((j, k)) = statement.value {
                let option = &section.options[j];
                let command = if option.is_list { "list" } else { "option" };
                text.push(format!(
                    "{command} {} {}",
                    option.name,
                    quote(&option.values[k].text)
                ));
            }
            for (i, piece) in text.iter().enumerate() {
                if i == 0 && line < statement.line {
                    out += &"\n".repeat(statement.line - line);
                    line = statement.line;
                } else if !out.is_empty() {
                    out += if anonymous_last { " ''; " } else { "; " };
                }
                out += piece;
                line += piece.matches('\n').count();
                anonymous_last = statement.value.is_none() && section.name.is_none();
            }
        }
        out + "\n"
    }
}

/// libuci writes the type bare; a type with characters the parser would take as quoting,
/// escape, comment or separator is quoted instead, so that it reads back.
fn export_type(section: &Section<'_>) -> String {
    if section.kind.contains(['\'', '"', '\\', '#', ';']) {
        quote(&section.kind)
    } else {
        section.kind.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::uci::parse;

    #[test]
    fn show_and_export() {
        let text = "config zone lan\n\toption name 'it'\\''s'\n\tlist net a\n\tlist net 'b c'\nconfig 'a#b'\n";
        let pkg = parse("firewall", text).unwrap();
        assert_eq!(
            pkg.show(),
            "firewall.lan=zone\nfirewall.lan.name='it'\\''s'\nfirewall.lan.net='a' 'b c'\n\
             firewall.@a#b[0]=a#b\n"
        );
        let exported = pkg.export();
        assert_eq!(
            exported,
            "package firewall\n\nconfig zone 'lan'\n\toption name 'it'\\''s'\n\
             \tlist net 'a'\n\tlist net 'b c'\n\nconfig 'a#b'\n\n"
        );
        assert_eq!(parse("firewall", &exported).unwrap().show(), pkg.show());
    }

    /// Sections and options as parsed, each with its line (options in name order).
    fn lines(pkg: &crate::uci::Package<'_>) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for s in &pkg.sections {
            out.push((format!("{}={}", s.label(), s.kind), s.line));
            let mut options: Vec<_> = s.options.iter().collect();
            options.sort_by_key(|o| &o.name);
            for o in options {
                out.push((format!("{}.{}={:?}", s.label(), o.name, o.values), o.line));
            }
        }
        out
    }

    fn keeps_lines(text: &str) -> String {
        let pkg = parse("f", text).unwrap();
        let written = pkg.export_keeping_lines();
        let again = parse("f", &written).unwrap_or_else(|e| panic!("{e}:\n{written}"));
        assert_eq!(lines(&again), lines(&pkg), "{text:?} written as\n{written}");
        written
    }

    #[test]
    fn export_keeping_lines() {
        assert_eq!(
            keeps_lines("# c\nconfig a 'x'\n\toption o 1 # c\n\nconfig b\n\tlist l 2\n"),
            "\nconfig 'a' 'x'\noption o '1'\n\nconfig 'b'\nlist l '2'\n"
        );
        // One line, `;` separated; a bare word before `;` would end libuci's line.
        assert_eq!(
            keeps_lines("config t; option a b\nconfig 't' ''; option a 'b'; option c d\n"),
            "config 't'\nconfig 't' ''; option a 'b'; option c 'd'\n"
        );
        // Continuation lines and values over several lines.
        assert_eq!(
            keeps_lines("config t\noption a \"x\\\ny\"\noption k 'p\nq'; option c d\noption e f\n"),
            "config 't'\noption a 'xy'\n\noption k 'p\nq'; option c 'd'\noption e 'f'\n"
        );
        // A named section opened again after another one.
        assert_eq!(
            keeps_lines("config t 'x'\nconfig u 'y'\noption a b\nconfig t 'x'; option c d\n"),
            "config 't' 'x'\nconfig 'u' 'y'\noption a 'b'\nconfig 't' 'x'; option c 'd'\n"
        );
        // List values with newlines, each on its line, other options between them.
        keeps_lines("config t\nlist l 'p\nq'\noption w 'a\nb'\nlist l r; option v s\n");
        keeps_lines("config t\nlist l 'p\n\n\nq'\noption w x\nlist l r\n");
        keeps_lines("config t\noption v s\nlist l 'p\nq'; option v s2; list l r\n");
        keeps_lines("config t 'x'\nlist l 'p\nq'; config t 'y'; config t 'x'; list l r\n");
        assert_eq!(keeps_lines(""), "\n");
    }

    /// What it writes, written back, is the same text: here `e`, first set before `g`,
    /// keeps only its line 3, so `g` is the first one set once written back.
    #[test]
    fn export_keeping_lines_is_stable() {
        let text = "config t 'x'\noption e 'f'; list g 'h1'\noption e 'f'; list g 'h2'\n";
        let written = keeps_lines(text);
        assert_eq!(
            written,
            "config 't' 'x'\nlist g 'h1'\noption e 'f'; list g 'h2'\n"
        );
        assert_eq!(keeps_lines(&written), written);
    }

    #[test]
    fn export_without_valid_package_name() {
        let pkg = parse("fire.wall", "config t\n").unwrap();
        assert_eq!(pkg.export(), "\nconfig t\n\n");
    }
}

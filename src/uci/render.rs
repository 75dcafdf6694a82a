//! The text forms of `uci show` and `uci export`, byte for byte as libuci's CLI prints
//! them, so a package can be compared with libuci's output and written back.

use super::parser::is_package_name;
use super::{Package, Section};

/// Quotes a value the way libuci does: single quotes, each `'` as `'\''`.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

impl Package {
    /// `uci show <package>`: one `pkg.section=type` line per section, then one
    /// `pkg.section.option='value'` line per option (list items space-separated).
    pub fn show(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            let prefix = format!("{}.{}", self.name, section.label());
            out += &format!("{prefix}={}\n", section.kind);
            for option in &section.options {
                let values: Vec<_> = option.values.iter().map(|v| quote(v)).collect();
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
                for value in &option.values {
                    out += &format!("\t{command} {} {}\n", option.name, quote(value));
                }
            }
        }
        out + "\n"
    }
}

/// libuci writes the type bare; a type with characters the parser would take as quoting,
/// escape, comment or separator is quoted instead, so that it reads back.
fn export_type(section: &Section) -> String {
    if section.kind.contains(['\'', '"', '\\', '#', ';']) {
        quote(&section.kind)
    } else {
        section.kind.clone()
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

    #[test]
    fn export_without_valid_package_name() {
        let pkg = parse("fire.wall", "config t\n").unwrap();
        assert_eq!(pkg.export(), "\nconfig t\n\n");
    }
}

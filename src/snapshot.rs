//! `fw4-offload snapshot OUT`: the config files and device facts every decision rests
//! on, laid out as `--root` reads them, so a bug report reproduces offline.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::topology::dir::{entries, read_optional};
use crate::topology::WED_DRIVERS;
use crate::uci::{self, ParseError};
use crate::System;

const CONFIGS: &[&str] = &["firewall", "network", "sqm"];
const ATTRIBUTES: &[&str] = &["ifindex", "iflink", "type", "uevent", "device/uevent"];
/// What a secret's value becomes.
pub const REDACTED: &str = "redacted";

/// Whether an option holds a secret: PPPoE, L2TP and 6in4 passwords, WireGuard and GRE
/// keys, pre-shared keys, a modem's PIN. Never part of a bug report; no decision reads
/// them.
pub fn is_secret(option: &str) -> bool {
    let name = option.to_ascii_lowercase();
    name == "pincode"
        || ["key", "pass", "secret", "psk"]
            .iter()
            .any(|p| name.contains(p))
}

/// UCI file `file` written back with every secret's value [`REDACTED`]. It goes through
/// the parser, so a secret is found however it is written (after a `;`, quoted, on
/// several lines), and only what libuci reads is written: no comments, no text it
/// skips. Each section and option stays on its line, so messages name the same lines.
pub fn redact(file: &str, text: &str) -> std::result::Result<String, ParseError> {
    let mut pkg = uci::parse(file, text)?;
    for option in pkg.sections.iter_mut().flat_map(|s| &mut s.options) {
        if is_secret(&option.name) {
            for value in option.values.iter_mut() {
                value.text = REDACTED.into();
            }
        }
    }
    Ok(pkg.export_keeping_lines())
}

/// What of netifd's interface dump the decisions use; addresses, routes and DNS servers
/// (the public address among them) stay out of a bug report.
const NETIFD_FIELDS: &[&str] = &["interface", "up", "proto", "device", "l3_device"];

/// netifd's dump reduced to [`NETIFD_FIELDS`], as `--root` reads it from `netifd.json`.
pub fn netifd_view(dump: &Map<String, Json>) -> Json {
    let interfaces: Vec<Json> = dump
        .get("interface")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_object)
        .map(|ifc| {
            let kept = ifc
                .iter()
                .filter(|(k, _)| NETIFD_FIELDS.contains(&k.as_str()));
            Json::Object(kept.map(|(k, v)| (k.clone(), v.clone())).collect())
        })
        .collect();
    serde_json::json!({ "interface": interfaces })
}

/// Writes the snapshot and returns how many devices it holds. `netifd`, netifd's dump
/// when ubus answered, goes to `OUT/netifd.json` (see [`netifd_view`]). A config file
/// that does not parse cannot be redacted: nothing is written, and the error names it.
pub fn collect(system: &System, out: &Path, netifd: Option<&Map<String, Json>>) -> Result<usize> {
    let mut configs = Vec::new();
    for name in CONFIGS {
        let path = system.config_dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                configs.push((name, redact(&path.display().to_string(), &text)?));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let config_out = out.join("etc/config");
    create_dir(&config_out)?;
    for (name, text) in configs {
        write(&config_out.join(name), &text)?;
    }

    let root = system.links.root();
    let net = root.join("sys/class/net");
    let mut devices: Vec<String> = fs::read_dir(&net)
        .map_err(|e| Error::io(&net, e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    devices.sort();
    create_dir(&out.join("ethtool"))?;
    for dev in &devices {
        copy_device(&net.join(dev), &out.join("sys/class/net").join(dev))?;
        if let Some(text) = system.links.ethtool_text(dev)? {
            write(&out.join("ethtool").join(dev), &text)?;
        }
    }

    for (_, module) in WED_DRIVERS {
        let param = Path::new("sys/module")
            .join(module)
            .join("parameters/wed_enable");
        if let Some(value) = read_optional(&root.join(&param))? {
            create_dir(&out.join(&param).with_file_name(""))?;
            write(&out.join(&param), &value)?;
        }
    }
    if let Some(dump) = netifd {
        let text = serde_json::to_string_pretty(&netifd_view(dump)).expect("plain JSON") + "\n";
        write(&out.join("netifd.json"), &text)?;
    }
    Ok(devices.len())
}

fn copy_device(src: &Path, dst: &Path) -> Result<()> {
    create_dir(dst)?;
    for attr in ATTRIBUTES {
        if let Some(text) = read_optional(&src.join(attr))? {
            let target = dst.join(attr);
            create_dir(target.parent().unwrap_or(dst))?;
            write(&target, &text)?;
        }
    }
    for lower in entries(src, |e| e.strip_prefix("lower_"))? {
        link(&format!("../{lower}"), &dst.join(format!("lower_{lower}")))?;
    }
    let brif = src.join("brif");
    if brif.is_dir() {
        create_dir(&dst.join("brif"))?;
        for port in entries(&brif, |e| Some(e))? {
            link(
                &format!("../../{port}/brport"),
                &dst.join("brif").join(&port),
            )?;
        }
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn link(target: &str, path: &Path) -> Result<()> {
    match symlink(target, path) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_secret, redact, REDACTED};
    use crate::uci::{parse, UciOption};

    fn by_name<'t, 'p>(options: &'p [UciOption<'t>]) -> Vec<&'p UciOption<'t>> {
        let mut options: Vec<_> = options.iter().collect();
        options.sort_by(|x, y| x.name.cmp(&y.name));
        options
    }

    /// Redacts `config`, checks that no secret survives and that what is left reads as
    /// before, lines included (options in name order: options on one line are written
    /// back in that order); returns the redacted text.
    fn redacted(config: &str, secrets: &[&str]) -> String {
        let out = redact("network", config).unwrap();
        for secret in secrets {
            assert!(!out.contains(secret), "{secret:?} survives in\n{out}");
        }
        let (before, after) = (parse("f", config).unwrap(), parse("f", &out).unwrap());
        assert_eq!(before.sections.len(), after.sections.len());
        for (b, a) in before.sections.iter().zip(&after.sections) {
            assert_eq!((&b.kind, &b.name, b.line), (&a.kind, &a.name, a.line));
            assert_eq!(b.options.len(), a.options.len());
            for (bo, ao) in by_name(&b.options).into_iter().zip(by_name(&a.options)) {
                assert_eq!(
                    (&bo.name, bo.line, bo.is_list),
                    (&ao.name, ao.line, ao.is_list)
                );
                match is_secret(&bo.name) {
                    true => assert!(ao.values.iter().all(|v| v.text == REDACTED), "{out}"),
                    false => assert_eq!(bo.values, ao.values),
                }
            }
        }
        out
    }

    #[test]
    fn secrets_are_redacted_and_lines_kept() {
        let config = "config interface 'wan'\n\toption proto 'pppoe'\n\
                      \toption username 'me'\n\toption password 'it''s secret'\n\
                      config interface 'wg0'\n\toption private_key \"abc=\"\n";
        let out = redacted(config, &["secret", "abc="]);
        assert!(out.contains("option password 'redacted'\n"), "{out}");
        assert!(out.contains("option username 'me'"));
    }

    #[test]
    fn secrets_after_a_semicolon() {
        redacted(
            "config interface 'wan'\n\toption username 'me'; option password 'hunter2'\n",
            &["hunter2"],
        );
        // libuci ends the line at a `;` after a bare word: `key` is not even an option
        // there, and nothing the parser skipped is written.
        let out = redacted(
            "config interface 'wan'\n\toption proto pppoe;option key sekrit\n",
            &["sekrit"],
        );
        assert!(out.contains("option proto 'pppoe'"), "{out}");
    }

    #[test]
    fn secrets_over_several_lines() {
        let out = redacted(
            "config interface 'wg0'\n\toption private_key 'first\nSECONDLINE'\n\
             \toption proto 'wireguard'\n\toption psk \"a\\\nCONTINUED\"\n\toption mtu 1420\n",
            &["first", "SECONDLINE", "CONTINUED"],
        );
        assert_eq!(out.lines().count(), 7, "{out}");
    }

    #[test]
    fn secret_names_quoted_listed_or_in_comments() {
        redacted(
            "config 'wireguard_wg0'\n\toption 'preshared_key' 'PSK'\n\
             \tlist 'key' 'K1'\n\tlist key \"K2\" # was K3\n\toption pincode 1234\n",
            &["PSK", "K1", "K2", "K3", "1234"],
        );
    }

    #[test]
    fn a_file_that_does_not_parse_is_refused() {
        let e = redact("network", "config interface 'wan'\n\toption password 'x\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}

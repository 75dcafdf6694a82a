//! `fw4-offload snapshot OUT`: the config files and device facts every decision rests
//! on, laid out as `--root` reads them, so a bug report reproduces offline.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::topology::sysfs::{entries, read_optional};
use crate::topology::WED_DRIVERS;
use crate::System;

const CONFIGS: &[&str] = &["firewall", "network", "sqm"];
const ATTRIBUTES: &[&str] = &["ifindex", "iflink", "type", "uevent", "device/uevent"];
/// Options whose values are secrets (PPPoE, WireGuard): never part of a bug report.
const SECRET_OPTIONS: &[&str] = &["password", "private_key", "preshared_key", "key", "secret"];

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
/// when ubus answered, goes to `OUT/netifd.json` (see [`netifd_view`]).
pub fn collect(system: &System, out: &Path, netifd: Option<&Map<String, Json>>) -> Result<usize> {
    let config_out = out.join("etc/config");
    create_dir(&config_out)?;
    for name in CONFIGS {
        let path = system.config_dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => write(&config_out.join(name), &redact(&text))?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
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

/// Replaces the value of every secret option with `'redacted'`, keeping line numbers.
fn redact(config: &str) -> String {
    config
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(keyword @ ("option" | "list")), Some(name))
                    if SECRET_OPTIONS.contains(&name.trim_matches(['\'', '"'])) =>
                {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    format!("{indent}{keyword} {name} 'redacted'")
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
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
    use super::redact;

    #[test]
    fn secrets_are_redacted_and_lines_kept() {
        let config = "config interface 'wan'\n\toption proto 'pppoe'\n\
                      \toption username 'me'\n\toption password 'it''s secret'\n\
                      config interface 'wg0'\n\toption private_key \"abc=\"\n";
        let redacted = redact(config);
        assert!(!redacted.contains("secret'"), "{redacted}");
        assert!(!redacted.contains("abc="), "{redacted}");
        assert!(redacted.contains("\toption password 'redacted'\n"));
        assert!(redacted.contains("\toption private_key 'redacted'\n"));
        assert!(redacted.contains("option username 'me'"));
        assert_eq!(redacted.lines().count(), config.lines().count());
    }
}

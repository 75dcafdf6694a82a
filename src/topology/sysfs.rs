//! Device facts read from a sysfs tree: `/sys` on a router, `DIR/sys` in a snapshot.

use std::fs;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::ethtool::{self, HW_TC_OFFLOAD};
use super::{Feature, Link, LinkKind};
use crate::error::{Error, Result};

/// ARPHRD_ETHER and ARPHRD_PPP from `linux/if_arp.h`.
const ARPHRD_ETHER: u32 = 1;
const ARPHRD_PPP: u32 = 512;

/// Where `ethtool -k` features come from.
#[derive(Debug, Clone)]
pub enum FeatureSource {
    /// `DIR/ethtool/<dev>` files holding `ethtool -k <dev>` output (snapshots).
    Files(PathBuf),
    /// The running kernel, asked through the ethtool ioctl.
    Kernel,
}

#[derive(Debug, Clone)]
pub struct SysfsLinks {
    /// The directory holding `sys/` (`/` on a router).
    root: PathBuf,
    features: FeatureSource,
}

impl SysfsLinks {
    pub fn new(root: impl Into<PathBuf>, features: FeatureSource) -> Self {
        SysfsLinks {
            root: root.into(),
            features,
        }
    }

    /// A snapshot directory: `DIR/sys/...` and `DIR/ethtool/<dev>`.
    pub fn snapshot(dir: &Path) -> Self {
        SysfsLinks::new(dir, FeatureSource::Files(dir.join("ethtool")))
    }

    fn net_dir(&self, name: &str) -> PathBuf {
        self.root.join("sys/class/net").join(name)
    }

    /// The live system: `/sys` and the ethtool ioctl.
    pub fn live() -> Self {
        SysfsLinks::new("/", FeatureSource::Kernel)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ethtool -k <name>` output, or `None` where there is no data: the device has no
    /// ethtool support (the kernel answers EOPNOTSUPP) or the snapshot has no file.
    pub fn ethtool_text(&self, name: &str) -> Result<Option<String>> {
        match &self.features {
            FeatureSource::Files(dir) => read_optional(&dir.join(name)),
            FeatureSource::Kernel => match ethtool::kernel::features(name) {
                Ok(states) => {
                    let mut text = format!("Features for {name}:\n");
                    for f in states {
                        text.push_str(&ethtool::format_feature(&f.name, f.active, f.fixed));
                        text.push('\n');
                    }
                    Ok(Some(text))
                }
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
                Err(e) => Err(Error::io(format!("ethtool -k {name}"), e)),
            },
        }
    }

    fn hw_tc_offload(&self, name: &str) -> Result<Feature> {
        Ok(self.ethtool_text(name)?.map_or(Feature::Unknown, |text| {
            ethtool::parse_feature(&text, HW_TC_OFFLOAD)
        }))
    }

    /// The device, or `None` if no such device exists; its `hw-tc-offload` is asked only
    /// with `hardware` (hardware offloading requested) and for a kind that may offload.
    pub fn link(&self, name: &str, hardware: bool) -> Result<Option<Link>> {
        // A name from config must not walk out of the net class directory.
        if name.contains('/') || name == "." || name == ".." {
            return Ok(None);
        }
        let dir = self.net_dir(name);
        // An absent device has neither file.
        let uevent = read_optional(&dir.join("uevent"))?.unwrap_or_default();
        let ifindex = match uevent_value(&uevent, "IFINDEX") {
            Some(number) => parse_number(&dir.join("uevent"), number)?,
            None => match read_optional(&dir.join("ifindex"))? {
                Some(number) => parse_number(&dir.join("ifindex"), &number)?,
                None => return Ok(None),
            },
        };
        let devtype = uevent_value(&uevent, "DEVTYPE");
        // Without a DEVTYPE, the ARPHRD type tells Ethernet from PPP and the rest.
        let arphrd = match devtype {
            None => read_optional(&dir.join("type"))?.map_or(Ok(ARPHRD_ETHER), |text| {
                parse_number(&dir.join("type"), &text)
            })?,
            Some(_) => ARPHRD_ETHER,
        };
        let kind = match (devtype, arphrd) {
            (Some("bridge"), _) => LinkKind::Bridge,
            (Some("vlan"), _) => LinkKind::Vlan,
            (Some("dsa"), _) => LinkKind::Dsa,
            (Some("wlan"), _) => LinkKind::Wlan,
            (Some("wireguard"), _) => LinkKind::Wireguard,
            (Some("ppp"), _) | (None, ARPHRD_PPP) => LinkKind::Ppp,
            (None, ARPHRD_ETHER) => LinkKind::Ethernet,
            (Some(other), _) => LinkKind::Other(other.to_string()),
            (None, other) => LinkKind::Other(format!("arphrd {other}")),
        };
        // Each kind is read for what the walk and the verdict use of it, no more: a
        // large router has hundreds of devices, and every file is a few system calls.
        let lowers = match kind {
            LinkKind::Vlan | LinkKind::Dsa => entries(&dir, |e| e.strip_prefix("lower_"))?,
            _ => Vec::new(),
        };
        let ports = match kind {
            LinkKind::Bridge => entries(&dir.join("brif"), |e| Some(e))?,
            _ => Vec::new(),
        };
        // Virtual devices have no `device/`: the open fails at once.
        let driver = read_optional(&dir.join("device/uevent"))?
            .and_then(|text| uevent_value(&text, "DRIVER").map(str::to_string));
        let hw_tc_offload = match hardware && kind.may_offload() {
            true => self.hw_tc_offload(name)?,
            false => Feature::Unknown,
        };
        Ok(Some(Link {
            name: name.to_string(),
            ifindex,
            kind,
            lowers,
            ports,
            driver,
            hw_tc_offload,
        }))
    }

    /// A kernel module parameter (`/sys/module/<module>/parameters/<name>`).
    pub fn module_param(&self, module: &str, name: &str) -> Result<Option<String>> {
        module_param(&self.root.join("sys/module"), module, name)
    }
}

/// A parameter of a loaded module, from `modules` (`/sys/module`); `None` when the
/// module is not loaded or has no such parameter.
pub fn module_param(modules: &Path, module: &str, name: &str) -> Result<Option<String>> {
    let path = modules.join(module).join("parameters").join(name);
    Ok(read_optional(&path)?.map(|v| v.trim().to_string()))
}

/// File content, or `None` where there is none: an absent device or attribute, or a
/// sysfs attribute this device does not support (it reads as EINVAL or EOPNOTSUPP).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match read_small(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A small file read whole in as few system calls as there can be: a read that returns
/// less than it was offered is the end (a regular file gives less only at its end, a sysfs
/// attribute gives its whole page in one read), so there is no size query and usually no
/// second read. A router reads thousands of these for a large topology.
fn read_small(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

fn parse_number(path: &Path, text: &str) -> Result<u32> {
    text.trim().parse().map_err(|_| {
        Error::io(
            path,
            std::io::Error::new(
                ErrorKind::InvalidData,
                format!("not a number: {:?}", text.trim()),
            ),
        )
    })
}

fn uevent_value<'a>(uevent: &'a str, key: &str) -> Option<&'a str> {
    uevent
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.trim())
}

/// Sorted directory entry names that `select` maps; an absent directory has none.
pub(crate) fn entries(dir: &Path, select: impl Fn(&str) -> Option<&str>) -> Result<Vec<String>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.extend(select(name).map(str::to_string));
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uevent_keys() {
        let uevent = "DEVTYPE=vlan\nINTERFACE=eth1.7\nIFINDEX=9\n";
        assert_eq!(uevent_value(uevent, "DEVTYPE"), Some("vlan"));
        assert_eq!(uevent_value(uevent, "IFINDEX"), Some("9"));
        assert_eq!(uevent_value(uevent, "DRIVER"), None);
    }
}

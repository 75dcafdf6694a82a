//! Device facts read from a sysfs tree: `/sys` on a router, `DIR/sys` in a snapshot.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::dir::{read_optional, Dir, Scratch};
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
            FeatureSource::Kernel => {
                let states = ethtool_answer(name, ethtool::kernel::features(name))?;
                Ok(states.map(|states| {
                    let mut text = format!("Features for {name}:\n");
                    for f in states {
                        text.push_str(&ethtool::format_feature(&f.name, f.active, f.fixed));
                        text.push('\n');
                    }
                    text
                }))
            }
        }
    }

    /// `sys/class/net` and the ethtool files opened for one read of many devices.
    pub fn devices(&self) -> Result<Devices<'_>> {
        Ok(Devices {
            net: Dir::open(&self.root.join("sys/class/net"))?,
            ethtool: match &self.features {
                FeatureSource::Files(dir) => Dir::open(dir)?,
                FeatureSource::Kernel => None,
            },
            kernel: None,
            conduit: None,
            links: self,
            scratch: Scratch::default(),
        })
    }

    /// A kernel module parameter (`/sys/module/<module>/parameters/<name>`).
    pub fn module_param(&self, module: &str, name: &str) -> Result<Option<String>> {
        module_param(&self.root.join("sys/module"), module, name)
    }
}

/// Devices read one after another: every file opened relative to `sys/class/net` (or the
/// ethtool directory) into the same buffers. `None` where there is no such directory: no
/// device exists, or no device has ethtool data.
pub struct Devices<'a> {
    links: &'a SysfsLinks,
    net: Option<Dir>,
    ethtool: Option<Dir>,
    /// The kernel's ethtool answers, opened at the first device asked.
    kernel: Option<ethtool::kernel::Features>,
    /// The conduit of the last DSA port read: the likely one of the next (a switch's
    /// ports share one).
    conduit: Option<String>,
    scratch: Scratch,
}

impl Devices<'_> {
    /// The device, or `None` if no such device exists; its `hw-tc-offload` is asked only
    /// with `hardware` (hardware offloading requested) and for a kind that may offload.
    pub fn link(&mut self, name: &str, hardware: bool) -> Result<Option<Link>> {
        // A name from config must not walk out of the net class directory.
        if name.contains('/') || name == "." || name == ".." {
            return Ok(None);
        }
        let Some(net) = &self.net else {
            return Ok(None);
        };
        let scratch = &mut self.scratch;
        // An absent device has neither file.
        let uevent = net.read(&[name, "/uevent"], scratch)?.unwrap_or_default();
        let devtype = uevent_value(uevent, "DEVTYPE").map(kind_of_devtype);
        let ifindex = match uevent_value(uevent, "IFINDEX") {
            Some(number) => Some(parse_number(net, &[name, "/uevent"], number)?),
            None => None,
        };
        let ifindex = match ifindex {
            Some(ifindex) => ifindex,
            None => match net.read(&[name, "/ifindex"], scratch)? {
                Some(number) => parse_number(net, &[name, "/ifindex"], number)?,
                None => return Ok(None),
            },
        };
        let kind = match devtype {
            Some(kind) => kind,
            // Without a DEVTYPE, the ARPHRD type tells Ethernet from PPP and the rest.
            None => match net.read(&[name, "/type"], scratch)? {
                Some(text) => kind_of_arphrd(parse_number(net, &[name, "/type"], text)?),
                None => LinkKind::Ethernet,
            },
        };
        // Each kind is read for what the walk and the verdict use of it, no more: a
        // large router has hundreds of devices, and every file is a few system calls.
        let mut lowers = Vec::new();
        let mut ports = Vec::new();
        match kind {
            LinkKind::Vlan | LinkKind::Dsa => {
                // The kernel stacks a VLAN device on its real device and a DSA port on its
                // conduit, and on nothing else: where the likely one is there, it is the
                // only one, found in one system call where a listing takes four.
                let likely = match kind {
                    LinkKind::Dsa => self.conduit.as_deref(),
                    _ => name.rsplit_once('.').map(|(lower, _)| lower),
                };
                match likely {
                    Some(lower) if net.has(&[name, "/lower_", lower], scratch)? => {
                        lowers.push(lower.to_string())
                    }
                    _ => {
                        net.each_entry(&[name], scratch, |e| {
                            lowers.extend(e.strip_prefix("lower_").map(str::to_string))
                        })?;
                        // A port the guess missed: its conduit is the next one's guess.
                        if let (LinkKind::Dsa, Some(conduit)) = (&kind, lowers.first()) {
                            self.conduit = Some(conduit.clone());
                        }
                    }
                }
            }
            LinkKind::Bridge => {
                net.each_entry(&[name, "/brif"], scratch, |e| ports.push(e.to_string()))?;
            }
            _ => {}
        }
        lowers.sort();
        ports.sort();
        // The verdict names an Ethernet device's driver and looks a Wi-Fi device's up
        // for WED; a DSA port's is its conduit's, and no other kind's is asked.
        let driver = match kind {
            LinkKind::Ethernet | LinkKind::Wlan => net
                .read(&[name, "/device/uevent"], scratch)?
                .and_then(|text| uevent_value(text, "DRIVER").map(str::to_string)),
            _ => None,
        };
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

    fn hw_tc_offload(&mut self, name: &str) -> Result<Feature> {
        let state = match (&self.links.features, &self.ethtool) {
            (FeatureSource::Files(_), Some(dir)) => dir
                .read(&[name], &mut self.scratch)?
                .map(|text| ethtool::parse_feature(text, HW_TC_OFFLOAD)),
            (FeatureSource::Files(_), None) => None,
            (FeatureSource::Kernel, _) => {
                let kernel = match &mut self.kernel {
                    Some(kernel) => kernel,
                    None => self.kernel.insert(
                        ethtool::kernel::Features::open()
                            .map_err(|e| Error::io(format!("ethtool -k {name}"), e))?,
                    ),
                };
                ethtool_answer(name, kernel.one(name, HW_TC_OFFLOAD))?
                    .flatten()
                    .map(|(active, fixed)| ethtool::feature_state(active, fixed))
            }
        };
        Ok(state.unwrap_or(Feature::Unknown))
    }
}

/// The kernel's ethtool answer for `name`; `None` where there is none: the device is
/// gone (ENODEV) or has no ethtool support (EOPNOTSUPP).
fn ethtool_answer<T>(name: &str, answer: std::io::Result<T>) -> Result<Option<T>> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::EOPNOTSUPP)) => Ok(None),
        Err(e) => Err(Error::io(format!("ethtool -k {name}"), e)),
    }
}

/// A parameter of a loaded module, from `modules` (`/sys/module`); `None` when the
/// module is not loaded or has no such parameter.
pub fn module_param(modules: &Path, module: &str, name: &str) -> Result<Option<String>> {
    let path = modules.join(module).join("parameters").join(name);
    Ok(read_optional(&path)?.map(|v| v.trim().to_string()))
}

fn parse_number(dir: &Dir, file: &[&str], text: &str) -> Result<u32> {
    text.trim().parse().map_err(|_| {
        Error::io(
            dir.path(file),
            std::io::Error::new(
                ErrorKind::InvalidData,
                format!("not a number: {:?}", text.trim()),
            ),
        )
    })
}

fn kind_of_devtype(devtype: &str) -> LinkKind {
    match devtype {
        "bridge" => LinkKind::Bridge,
        "vlan" => LinkKind::Vlan,
        "dsa" => LinkKind::Dsa,
        "wlan" => LinkKind::Wlan,
        "wireguard" => LinkKind::Wireguard,
        "ppp" => LinkKind::Ppp,
        other => LinkKind::Other(other.to_string()),
    }
}

fn kind_of_arphrd(arphrd: u32) -> LinkKind {
    match arphrd {
        ARPHRD_ETHER => LinkKind::Ethernet,
        ARPHRD_PPP => LinkKind::Ppp,
        other => LinkKind::Other(format!("arphrd {other}")),
    }
}

fn uevent_value<'a>(uevent: &'a str, key: &str) -> Option<&'a str> {
    uevent
        .split('\n')
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VLAN's or DSA port's lower device is found whether the likely one is right or
    /// not: named after the VLAN, the conduit of the port before, or neither.
    #[test]
    fn lower_devices_likely_or_not() {
        let root = std::env::temp_dir().join(format!("fw4-offload-sysfs-{}", std::process::id()));
        let net = root.join("sys/class/net");
        let device = |name: &str, devtype: &str, lower: &str| {
            let dir = net.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let uevent = format!("DEVTYPE={devtype}\nINTERFACE={name}\nIFINDEX=1\n");
            std::fs::write(dir.join("uevent"), uevent).unwrap();
            std::os::unix::fs::symlink(format!("../{lower}"), dir.join(format!("lower_{lower}")))
                .unwrap();
            // The listing also finds what is above the device.
            std::fs::write(dir.join("upper_br-lan"), "").unwrap();
        };
        device("eth1.7", "vlan", "eth1");
        device("eth1.8", "vlan", "eth2");
        device("vlan9", "vlan", "eth1");
        device("lan1", "dsa", "eth0");
        device("lan2", "dsa", "eth0");
        device("wan", "dsa", "eth1");
        device("lan3", "dsa", "eth0");

        let links = SysfsLinks::snapshot(&root);
        let mut devices = links.devices().unwrap();
        for (name, lower) in [
            ("eth1.7", "eth1"),
            ("eth1.8", "eth2"),
            ("vlan9", "eth1"),
            ("lan1", "eth0"),
            ("lan2", "eth0"),
            ("wan", "eth1"),
            ("lan3", "eth0"),
        ] {
            let link = devices.link(name, false).unwrap().expect(name);
            assert_eq!(link.lowers, [lower], "{name}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn uevent_keys() {
        let uevent = "DEVTYPE=vlan\nINTERFACE=eth1.7\nIFINDEX=9\n";
        assert_eq!(uevent_value(uevent, "DEVTYPE"), Some("vlan"));
        assert_eq!(uevent_value(uevent, "IFINDEX"), Some("9"));
        assert_eq!(uevent_value(uevent, "DRIVER"), None);
    }
}

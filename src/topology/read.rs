//! Reading the topology: each device the zones lead to is read once, from sysfs and
//! ethtool or a snapshot of them, and kept in the [`Topology`].

use std::collections::{BTreeMap, HashMap};

use super::resolve::resolve_lower;
use super::sysfs::SysfsLinks;
use super::zones::zone_devices;
use super::{wed_modules, Branch, Leaf, Link, Netifd, Topology};
use crate::config::{Config, Mode, Warnings};
use crate::error::Result;

impl Topology {
    /// Reads what the plan for `config` decides over: nothing while offloading is off;
    /// the zone devices themselves for software offloading; with hardware requested,
    /// everything below them too, the DSA ports' conduits and the WED modules'
    /// `wed_enable`. `netifd`, when given, says which devices the interfaces that are
    /// up run on now.
    pub fn read(
        config: &Config,
        netifd: Option<&Netifd>,
        sysfs: &SysfsLinks,
        warnings: &mut Warnings,
    ) -> Result<Topology> {
        // Software offloading decides nothing by a device's hw-tc-offload: not asked.
        let hardware = config.firewall.mode == Mode::Hardware;
        let mut devices = sysfs.devices()?;
        Topology::assemble(
            config,
            netifd,
            &mut |name| devices.link(name, hardware),
            &mut |module| sysfs.module_param(module, "wed_enable"),
            warnings,
        )
    }

    /// [`Topology::read`] from any source of device facts: `link` gives a device by name
    /// (`None`: there is no such device), `wed_enable` a module's parameter (`None`: it
    /// has none).
    pub(crate) fn assemble(
        config: &Config,
        netifd: Option<&Netifd>,
        link: &mut dyn FnMut(&str) -> Result<Option<Link>>,
        wed_enable: &mut dyn FnMut(&str) -> Result<Option<String>>,
        warnings: &mut Warnings,
    ) -> Result<Topology> {
        let mode = config.firewall.mode;
        if mode == Mode::Off {
            return Ok(Topology::default());
        }
        let mut devices = Reader {
            read: link,
            seen: HashMap::new(),
        };
        let mut zone_devices = zone_devices(config, netifd, warnings)?;
        for zd in &mut zone_devices {
            zd.branches = match mode {
                Mode::Hardware => resolve_lower(&mut devices, &config.network, &zd.device)?,
                _ => vec![Branch {
                    path: vec![zd.device.clone()],
                    leaf: devices
                        .link(&zd.device)?
                        .map_or(Leaf::Missing, |link| Leaf::Device(link.clone())),
                }],
            };
        }
        let mut wed = BTreeMap::new();
        if mode == Mode::Hardware {
            for module in wed_modules() {
                if let Some(value) = wed_enable(module)? {
                    wed.insert(module.to_string(), value);
                }
            }
        }
        Ok(Topology {
            zone_devices,
            links: devices
                .seen
                .into_iter()
                .filter_map(|(name, link)| Some((name, link?)))
                .collect(),
            wed_enable: wed,
        })
    }
}

/// Device facts as the walks ask for them: each device read once, absent ones too.
/// Hashed while the walk asks (a B-tree of hundreds of links allocates a node at a time),
/// ordered once at the end.
pub(super) struct Reader<'a> {
    read: &'a mut dyn FnMut(&str) -> Result<Option<Link>>,
    seen: HashMap<String, Option<Link>>,
}

impl Reader<'_> {
    pub(super) fn link(&mut self, name: &str) -> Result<Option<&Link>> {
        // Looked up twice rather than with `entry`, which would want the name owned
        // for every lookup, not only for the first.
        if !self.seen.contains_key(name) {
            let link = (self.read)(name)?;
            self.seen.insert(name.to_string(), link);
        }
        Ok(self.seen[name].as_ref())
    }
}

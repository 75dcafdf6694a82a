//! What is loaded now: our table, fw4's own offload objects. Read before anything changes,
//! so apply only does what is needed (and nothing at all when the kernel already matches).
//! The read is one generation of the ruleset: fw4 may reload at any time, and a batch
//! built from it carries that generation, so the kernel refuses it once it is stale.

use std::io;

use crate::nftables::{Counter, KernelFlowtable, KernelRule, Nftables};
use crate::ruleset::{
    CHAIN, FAMILY_NFPROTO, FLOWTABLE, FW4_CHAIN, FW4_FLOWTABLE, FW4_TABLE, TABLE,
};

/// How often [`KernelState::read`] tries for a state of one generation (fw4 reloads
/// take far longer than a read, so a second read nearly always is one).
const READS: u32 = 4;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelState {
    /// The ruleset's generation id the state was read at (`None` in a state built by hand).
    pub generation: Option<u32>,
    /// Our table is loaded.
    pub table: bool,
    pub flowtable: Option<KernelFlowtable>,
    pub rules: Vec<KernelRule>,
    /// fw4's `ft`, if fw4 rendered it.
    pub fw4_flowtable: Option<KernelFlowtable>,
    /// Handles of fw4's `flow offload @ft` rules.
    pub fw4_offload_rules: Vec<u64>,
}

impl KernelState {
    /// The generation a commit at `generation` makes: nf_tables_commit moves the
    /// kernel's base_seq on by one, skipping 0 (which a batch sends for "any generation").
    /// Nothing else moves it, and the commit mutex keeps others out from the check of
    /// the batch's generation to the move.
    pub fn generation_after_commit(generation: u32) -> u32 {
        match generation.wrapping_add(1) {
            0 => 1,
            next => next,
        }
    }

    /// Takes `device` out of the flowtables, as the kernel does when the device goes
    /// away (nf_tables_flowtable_event on NETDEV_UNREGISTER), without a new generation.
    pub fn unhook(&mut self, device: &str) {
        for flowtable in [&mut self.flowtable, &mut self.fw4_flowtable]
            .into_iter()
            .flatten()
        {
            flowtable.devices.retain(|d| d != device);
        }
    }

    /// What our offload rule has counted: the TCP/UDP packets that took the slow path
    /// (see `OffloadChain`). `None` without our table, or a rule without a
    /// counter.
    pub fn counter(&self) -> Option<Counter> {
        self.rules
            .iter()
            .find(|r| r.flowtable.as_deref() == Some(FLOWTABLE))
            .and_then(|r| r.counter)
    }

    /// Reads the state as of one generation: dumps that a commit interrupted
    /// (NLM_F_DUMP_INTR), or a generation that moved on while they were read, are read
    /// again, up to [`READS`] times.
    pub fn read(nft: &Nftables) -> io::Result<KernelState> {
        let mut tries = 1;
        loop {
            let generation = nft.generation()?;
            let state = match Self::read_objects(nft) {
                Ok(state) if nft.generation()? == generation => state,
                Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
                _ if tries < READS => {
                    tries += 1;
                    continue;
                }
                Ok(_) | Err(_) => {
                    return Err(io::Error::other(format!(
                        "the ruleset changed during each of {READS} reads"
                    )))
                }
            };
            return Ok(KernelState {
                generation: Some(generation),
                ..state
            });
        }
    }

    fn read_objects(nft: &Nftables) -> io::Result<KernelState> {
        let family = FAMILY_NFPROTO;
        let tables = nft.tables(family)?;
        let flowtables = nft.flowtables(family)?;
        let find = |table: &str, name: &str| {
            flowtables
                .iter()
                .find(|f| f.table == table && f.name == name)
                .cloned()
        };
        let table = tables.iter().any(|t| t == TABLE);
        let fw4 = tables.iter().any(|t| t == FW4_TABLE);
        Ok(KernelState {
            generation: None,
            table,
            flowtable: find(TABLE, FLOWTABLE),
            rules: if table {
                nft.rules(family, TABLE, CHAIN)?
            } else {
                Vec::new()
            },
            fw4_flowtable: find(FW4_TABLE, FW4_FLOWTABLE),
            fw4_offload_rules: if fw4 {
                nft.rules(family, FW4_TABLE, FW4_CHAIN)?
                    .into_iter()
                    .filter(|r| r.flowtable.as_deref() == Some(FW4_FLOWTABLE))
                    .map(|r| r.handle)
                    .collect()
            } else {
                Vec::new()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flowtable(table: &str, devices: &[&str]) -> KernelFlowtable {
        KernelFlowtable {
            table: table.into(),
            name: "ft".into(),
            priority: 0,
            devices: devices.iter().map(|d| d.to_string()).collect(),
            flags: 0,
        }
    }

    #[test]
    fn a_device_gone_leaves_every_flowtable() {
        let mut state = KernelState {
            generation: Some(3),
            table: true,
            flowtable: Some(flowtable(TABLE, &["eth0", "wlan0"])),
            fw4_flowtable: Some(flowtable(FW4_TABLE, &["wlan0"])),
            ..KernelState::default()
        };
        state.unhook("wlan0");
        state.unhook("ppp0");
        assert_eq!(state.flowtable, Some(flowtable(TABLE, &["eth0"])));
        assert_eq!(state.fw4_flowtable, Some(flowtable(FW4_TABLE, &[])));
        assert_eq!(state.generation, Some(3), "the kernel commits nothing");
    }
}

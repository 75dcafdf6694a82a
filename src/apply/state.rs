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

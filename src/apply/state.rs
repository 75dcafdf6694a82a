//! What is loaded now: our table, fw4's own offload objects. Read before anything changes,
//! so apply only does what is needed (and nothing at all when the kernel already matches).

use std::io;

use crate::nftables::{Counter, KernelFlowtable, KernelRule, Nftables};
use crate::ruleset::{
    CHAIN, FAMILY_NFPROTO, FLOWTABLE, FW4_CHAIN, FW4_FLOWTABLE, FW4_TABLE, TABLE,
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelState {
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

    pub fn read(nft: &Nftables) -> io::Result<KernelState> {
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

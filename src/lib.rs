//! fw4-offload: UCI config → zones and devices → offload plan → nftables ruleset.
pub mod uci;

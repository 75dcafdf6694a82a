//! nf_tables as a small layer over `netlink`: a batch writer for tables, flowtables (with
//! in-place hook updates), anonymous sets, base chains and rules with the `flow_offload`
//! expression, dumps that read the kernel's state back, and the kernel's numbers for
//! them ([`sys`]).
//!
//! Why not rustables (0.9): an apply must be one batch, and rustables' batch takes only
//! its own object types (its message traits are sealed), while the offload rule needs the
//! `flow_offload` expression its closed expression enum cannot hold and the flowtable
//! has no type there at all. What was left to take from it were the uapi numbers, which
//! its build script generates with bindgen (see [`sys`] for why that is too dear).

mod batch;
mod kernel;
pub mod sys;

pub use batch::{Batch, Expr, FlowtableHook};
pub use kernel::{BatchError, Counter, KernelFlowtable, KernelRule, Nftables};

/// `(NFNL_SUBSYS_NFTABLES << 8) | msg`.
fn msg_type(msg: u32) -> u16 {
    ((sys::NFNL_SUBSYS_NFTABLES << 8) | msg) as u16
}

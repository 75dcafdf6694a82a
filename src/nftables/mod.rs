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

pub use batch::{Batch, Encoded, Expr, FlowtableHook};
pub use kernel::{BatchError, Counter, KernelFlowtable, KernelRule, Nftables};

use std::sync::atomic::{AtomicU32, Ordering};

/// A sequence number no other request of this process has used: an answer the kernel
/// sends late, to a request given up on, is then never taken for another's (see
/// `kernel::Answers`).
fn next_seq() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `(NFNL_SUBSYS_NFTABLES << 8) | msg`.
fn msg_type(msg: u32) -> u16 {
    ((sys::NFNL_SUBSYS_NFTABLES << 8) | msg) as u16
}

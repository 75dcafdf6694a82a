//! The nf_tables pieces rustables lacks, as a small layer over `netlink`: a batch writer
//! for tables, flowtables (with in-place hook updates), anonymous sets, base chains and
//! rules with the `flow_offload` expression, and dumps that read the kernel's state back.
//! Constants come from rustables' bindings of the kernel's uapi headers.

mod batch;
mod kernel;

pub use batch::{Batch, Expr, FlowtableHook};
pub use kernel::{BatchError, KernelFlowtable, KernelRule, Nftables};

use rustables::sys;

/// `(NFNL_SUBSYS_NFTABLES << 8) | msg`.
fn msg_type(msg: u32) -> u16 {
    ((sys::NFNL_SUBSYS_NFTABLES << 8) | msg) as u16
}

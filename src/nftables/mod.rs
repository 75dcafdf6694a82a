//! The nf_tables pieces rustables lacks, as a small layer over `netlink`: a batch writer
//! for tables, flowtables (with in-place hook updates), anonymous sets, base chains and
//! rules with the `flow_offload` expression, and dumps that read the kernel's state back.
//!
//! What comes from rustables: the kernel's uapi constants, bindgen'd from the headers
//! (`rustables::sys`). Why the messages are written here rather than through its `Batch`,
//! `Table` and `Chain`: an apply must be one batch, and rustables' batch takes only its
//! own object types (its message traits are sealed), while the offload rule needs the
//! `flow_offload` expression its closed expression enum cannot hold and the flowtable
//! has no type there at all. Writing the few table and chain messages beside them costs
//! less than splicing two encoders' bytes into one batch.

mod batch;
mod kernel;

pub use batch::{Batch, Expr, FlowtableHook};
pub use kernel::{BatchError, Counter, KernelFlowtable, KernelRule, Nftables};

use rustables::sys;

/// `(NFNL_SUBSYS_NFTABLES << 8) | msg`.
fn msg_type(msg: u32) -> u16 {
    ((sys::NFNL_SUBSYS_NFTABLES << 8) | msg) as u16
}

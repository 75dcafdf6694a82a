//! Netlink framing for nfnetlink: messages with their nfgenmsg header, attributes (nested,
//! big-endian integers as nf_tables uses them), and the socket that carries them.
//! nf_tables specifics live in `nftables`; this module knows nothing of tables or rules.

mod attr;
mod socket;

pub use attr::{attributes, messages, Attr, Message, MessageWriter};
pub use socket::{Socket, RECV_BUFFER};

/// Size of `struct nlmsghdr` and `struct nfgenmsg`.
pub const NLMSG_HDRLEN: usize = 16;
pub const NFGENMSG_LEN: usize = 4;

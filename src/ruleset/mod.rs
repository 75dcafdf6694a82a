//! Step 4: the nftables objects fw4-offload owns, made from the plan alone, as one model:
//! rendered to nft text here (`print`), encoded to netlink for apply ([`netlink`]), so
//! the two cannot disagree.

pub mod netlink;
mod text;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::plan::OffloadPlan;

pub use text::render;

pub const FAMILY: &str = "inet";
/// The same family as netlink knows it.
pub const FAMILY_NFPROTO: u8 = libc::NFPROTO_INET as u8;
pub const TABLE: &str = "fw4_offload";
pub const FLOWTABLE: &str = "ft";
pub const CHAIN: &str = "forward";

/// Stock firewall4's own offload objects, which ours replace.
pub const FW4_TABLE: &str = "fw4";
pub const FW4_FLOWTABLE: &str = "ft";
pub const FW4_CHAIN: &str = "forward";

/// NF_IP_PRI_FILTER: the flowtable hooks ingress where fw4's did.
pub const FLOWTABLE_PRIORITY: i32 = 0;
/// `filter + 1`: after fw4's forward chain, so only traffic fw4 accepted is offloaded.
pub const CHAIN_PRIORITY: i32 = 1;

/// The flowtable always has `counter`: offloaded packets then count in conntrack's
/// accounting (the flowtable itself keeps no counters, see [`OffloadChain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowtable {
    pub name: &'static str,
    pub priority: i32,
    /// Sorted, unique.
    pub devices: Vec<String>,
    /// `flags offload`: ask the drivers to carry the flows in hardware.
    pub hw_offload: bool,
}

/// Transport protocols flows are offloaded for (the flowtable carries TCP and UDP only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum L4Proto {
    Tcp,
    Udp,
}

impl L4Proto {
    /// Both, in the order the offload rule lists them.
    pub const ALL: [L4Proto; 2] = [L4Proto::Tcp, L4Proto::Udp];

    pub fn name(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
        }
    }

    /// The IP protocol number `meta l4proto` compares with.
    pub fn number(self) -> u8 {
        match self {
            L4Proto::Tcp => libc::IPPROTO_TCP as u8,
            L4Proto::Udp => libc::IPPROTO_UDP as u8,
        }
    }

    pub fn from_name(name: &str) -> Option<L4Proto> {
        L4Proto::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn from_number(number: u8) -> Option<L4Proto> {
        L4Proto::ALL.into_iter().find(|p| p.number() == number)
    }
}

/// `meta l4proto { tcp, udp } counter flow add @<flowtable>` in a forward filter chain:
/// every protocol of [`L4Proto::ALL`], always with the counter.
///
/// The rule's counter is the TCP/UDP packets that still took the slow path. The
/// flowtable's own `counter` flag only feeds conntrack accounting; the kernel keeps and
/// reports no counters for a flowtable (nf_tables_fill_flowtable_info sends name,
/// handle, use, flags and hook; nf_flow_table_ip.c calls nf_ct_acct_update under
/// NF_FLOWTABLE_COUNTER). Once a flow is offloaded its packets skip the forward hook, so
/// this counts handshakes and flows not (yet) offloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffloadChain {
    pub name: &'static str,
    pub priority: i32,
    pub flowtable: &'static str,
}

// The JSON form names the parts that never change too (`counter`, `l4protos`), so that
// a reader of `--json` sees the whole ruleset.
impl Serialize for Flowtable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Flowtable", 5)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("priority", &self.priority)?;
        s.serialize_field("devices", &self.devices)?;
        s.serialize_field("counter", &true)?;
        s.serialize_field("hw_offload", &self.hw_offload)?;
        s.end()
    }
}

impl Serialize for OffloadChain {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("OffloadChain", 5)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("priority", &self.priority)?;
        s.serialize_field("l4protos", &L4Proto::ALL)?;
        s.serialize_field("counter", &true)?;
        s.serialize_field("flowtable", self.flowtable)?;
        s.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OffloadTable {
    pub family: &'static str,
    pub name: &'static str,
    pub flowtable: Flowtable,
    pub chain: OffloadChain,
}

/// Everything one apply does, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ruleset {
    /// The table to install; `None` removes ours.
    pub table: Option<OffloadTable>,
    /// Remove stock fw4's flowtable `ft` and its `flow offload @ft` rule, when present.
    pub remove_fw4_offload: bool,
}

impl Ruleset {
    pub fn from_plan(plan: &OffloadPlan) -> Ruleset {
        let devices: Vec<String> = plan.flowtable_devices().map(|d| d.name.clone()).collect();
        let table = (!devices.is_empty()).then(|| OffloadTable {
            family: FAMILY,
            name: TABLE,
            flowtable: Flowtable {
                name: FLOWTABLE,
                priority: FLOWTABLE_PRIORITY,
                devices,
                hw_offload: plan.hardware(),
            },
            chain: OffloadChain {
                name: CHAIN,
                priority: CHAIN_PRIORITY,
                flowtable: FLOWTABLE,
            },
        });
        Ruleset {
            // fw4 renders its own `ft` only when offloading is on, and so do we.
            remove_fw4_offload: table.is_some(),
            table,
        }
    }
}

//! The same model as `text`, encoded as nf_tables netlink messages.

use super::{L4Proto, OffloadChain, OffloadTable, FAMILY_NFPROTO};
use crate::nftables::{sys, Batch, Expr, FlowtableHook};

/// Name and id of the anonymous set holding the rule's protocols; `%d` is what nft
/// names anonymous sets with, the kernel picks the number.
const PROTO_SET: &str = "__set%d";
const PROTO_SET_ID: u32 = 1;
/// nft's datatype number for `inet_proto` (TYPE_INET_PROTOCOL in nft's datatype.h), so
/// that `nft list` shows the set as `{ tcp, udp }`.
const TYPE_INET_PROTOCOL: u32 = 12;

pub fn flowtable_flags(table: &OffloadTable) -> u32 {
    match table.flowtable.hw_offload {
        true => sys::NFT_FLOWTABLE_COUNTER | sys::NFT_FLOWTABLE_HW_OFFLOAD,
        false => sys::NFT_FLOWTABLE_COUNTER,
    }
}

pub fn flowtable_hook(table: &OffloadTable) -> FlowtableHook<'_> {
    FlowtableHook {
        family: FAMILY_NFPROTO,
        table: table.name,
        name: table.flowtable.name,
        priority: table.flowtable.priority,
    }
}

/// The offload rule: `meta l4proto @set counter flow add @<flowtable>`.
fn offload_rule(chain: &OffloadChain) -> Vec<Expr<'_>> {
    vec![
        Expr::Meta {
            key: sys::NFT_META_L4PROTO,
            dreg: sys::NFT_REG_1,
        },
        Expr::Lookup {
            set: PROTO_SET,
            set_id: PROTO_SET_ID,
            sreg: sys::NFT_REG_1,
        },
        Expr::Counter,
        Expr::FlowOffload {
            flowtable: chain.flowtable,
        },
    ]
}

/// Expression names of the offload rule, as the kernel lists them back.
pub fn rule_expressions(chain: &OffloadChain) -> Vec<&'static str> {
    offload_rule(chain).iter().map(Expr::name).collect()
}

/// Creates the whole table: flowtable, protocol set, forward chain and its rule.
/// Returns the flowtable message's sequence number.
pub fn add_table(batch: &mut Batch, table: &OffloadTable) -> u32 {
    let family = FAMILY_NFPROTO;
    let ft = &table.flowtable;
    batch.add_table(family, table.name);
    let flowtable =
        batch.add_flowtable(&flowtable_hook(table), &ft.devices, flowtable_flags(table));
    let chain = &table.chain;
    let protos = L4Proto::ALL.map(|p| [p.number()]);
    let elements: Vec<&[u8]> = protos.iter().map(|p| &p[..]).collect();
    batch.add_anonymous_set(
        family,
        table.name,
        PROTO_SET,
        PROTO_SET_ID,
        TYPE_INET_PROTOCOL,
        &elements,
    );
    batch.add_base_chain(
        family,
        table.name,
        chain.name,
        "filter",
        libc::NF_INET_FORWARD as u32,
        chain.priority,
    );
    batch.add_rule(family, table.name, chain.name, &offload_rule(chain));
    flowtable
}

//! One nfnetlink batch: everything in it commits together or not at all.

use super::{msg_type, next_seq, sys};
use crate::netlink::MessageWriter;

const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
const NLM_F_CREATE: u16 = libc::NLM_F_CREATE as u16;
const NLM_F_EXCL: u16 = libc::NLM_F_EXCL as u16;
const NLM_F_APPEND: u16 = libc::NLM_F_APPEND as u16;

/// Rule expressions this project needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr<'a> {
    /// `meta <key>` into a register.
    Meta { key: u32, dreg: u32 },
    /// Match a register against an anonymous set of this batch.
    Lookup {
        set: &'a str,
        set_id: u32,
        sreg: u32,
    },
    /// `counter`, starting from zero.
    Counter,
    /// `flow add @<flowtable>`.
    FlowOffload { flowtable: &'a str },
}

impl Expr<'_> {
    /// The expression's name in netlink, as the kernel lists it back.
    pub fn name(&self) -> &'static str {
        match self {
            Expr::Meta { .. } => "meta",
            Expr::Lookup { .. } => "lookup",
            Expr::Counter => "counter",
            Expr::FlowOffload { .. } => "flow_offload",
        }
    }
}

/// Which flowtable, and its ingress hook priority (the kernel wants both repeated on
/// every update of its devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowtableHook<'a> {
    pub family: u8,
    pub table: &'a str,
    pub name: &'a str,
    pub priority: i32,
}

pub struct Batch {
    writer: MessageWriter,
    /// BATCH_BEGIN's sequence number: the kernel's answer for the batch as a whole.
    begin_seq: u32,
    /// What each message's sequence number stands for, to name the object in errors.
    objects: Vec<(u32, String)>,
}

/// A batch as it is sent: its bytes, and the sequence numbers its answers carry.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub begin_seq: u32,
    /// What each message's sequence number stands for, in order.
    pub objects: Vec<(u32, String)>,
}

impl Batch {
    /// A new batch. With `generation` (NFT_MSG_GETGEN's id when the state it was built
    /// from was read), the kernel refuses it with ERESTART if the ruleset changed since.
    pub fn new(generation: Option<u32>) -> Batch {
        let mut writer = MessageWriter::new();
        let begin_seq = next_seq();
        writer.begin(
            sys::NFNL_MSG_BATCH_BEGIN as u16,
            NLM_F_REQUEST,
            begin_seq,
            libc::AF_UNSPEC as u8,
            sys::NFNL_SUBSYS_NFTABLES as u16,
        );
        if let Some(id) = generation {
            writer.put_be32(sys::NFNL_BATCH_GENID, id);
        }
        writer.end();
        Batch {
            writer,
            begin_seq,
            objects: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Descriptions of the objects in the batch, in order.
    pub fn objects(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|(_, what)| what.as_str())
    }

    fn begin(&mut self, msg: u32, flags: u16, family: u8, what: String) -> u32 {
        let seq = next_seq();
        self.objects.push((seq, what));
        self.writer.begin(
            msg_type(msg),
            NLM_F_REQUEST | NLM_F_ACK | flags,
            seq,
            family,
            0,
        );
        seq
    }

    pub fn add_table(&mut self, family: u8, table: &str) {
        self.begin(
            sys::NFT_MSG_NEWTABLE,
            NLM_F_CREATE,
            family,
            format!("table {table}"),
        );
        self.writer.put_str(sys::NFTA_TABLE_NAME, table);
        self.writer.end();
    }

    pub fn del_table(&mut self, family: u8, table: &str) {
        self.begin(
            sys::NFT_MSG_DELTABLE,
            0,
            family,
            format!("delete table {table}"),
        );
        self.writer.put_str(sys::NFTA_TABLE_NAME, table);
        self.writer.end();
    }

    /// NEWFLOWTABLE or DELFLOWTABLE naming `devices` as hooks; `flags` only for NEW.
    fn flowtable_message(
        &mut self,
        msg: u32,
        msg_flags: u16,
        what: String,
        ft: &FlowtableHook<'_>,
        devices: &[String],
        flags: Option<u32>,
    ) -> u32 {
        let seq = self.begin(msg, msg_flags, ft.family, what);
        let w = &mut self.writer;
        w.put_str(sys::NFTA_FLOWTABLE_TABLE, ft.table);
        w.put_str(sys::NFTA_FLOWTABLE_NAME, ft.name);
        w.nest_begin(sys::NFTA_FLOWTABLE_HOOK);
        w.put_be32(sys::NFTA_FLOWTABLE_HOOK_NUM, libc::NF_NETDEV_INGRESS as u32);
        w.put_be32(sys::NFTA_FLOWTABLE_HOOK_PRIORITY, ft.priority as u32);
        w.nest_begin(sys::NFTA_FLOWTABLE_HOOK_DEVS);
        for dev in devices {
            w.put_str(sys::NFTA_DEVICE_NAME, dev);
        }
        w.nest_end();
        w.nest_end();
        if let Some(flags) = flags {
            w.put_be32(sys::NFTA_FLOWTABLE_FLAGS, flags);
        }
        w.end();
        seq
    }

    /// A new flowtable; `flags` are NFT_FLOWTABLE_HW_OFFLOAD / NFT_FLOWTABLE_COUNTER.
    /// Returns the message's sequence number, which a [`super::BatchError`] names.
    pub fn add_flowtable(&mut self, ft: &FlowtableHook<'_>, devices: &[String], flags: u32) -> u32 {
        let what = format!(
            "flowtable {} {} (devices {})",
            ft.table,
            ft.name,
            devices.join(", ")
        );
        let create = NLM_F_CREATE | NLM_F_EXCL;
        self.flowtable_message(
            sys::NFT_MSG_NEWFLOWTABLE,
            create,
            what,
            ft,
            devices,
            Some(flags),
        )
    }

    /// Adds devices to an existing flowtable without touching its flows. The kernel takes
    /// a NEWFLOWTABLE for an existing one as an update when it repeats hook and flags.
    pub fn add_flowtable_devices(
        &mut self,
        ft: &FlowtableHook<'_>,
        devices: &[String],
        flags: u32,
    ) -> u32 {
        let what = format!(
            "flowtable {} {}: add devices {}",
            ft.table,
            ft.name,
            devices.join(", ")
        );
        self.flowtable_message(sys::NFT_MSG_NEWFLOWTABLE, 0, what, ft, devices, Some(flags))
    }

    /// Removes devices from a flowtable; a DELFLOWTABLE naming hooks deletes only those.
    pub fn del_flowtable_devices(&mut self, ft: &FlowtableHook<'_>, devices: &[String]) {
        let what = format!(
            "flowtable {} {}: remove devices {}",
            ft.table,
            ft.name,
            devices.join(", ")
        );
        self.flowtable_message(sys::NFT_MSG_DELFLOWTABLE, 0, what, ft, devices, None);
    }

    pub fn del_flowtable(&mut self, family: u8, table: &str, name: &str) {
        let what = format!("delete flowtable {table} {name}");
        self.begin(sys::NFT_MSG_DELFLOWTABLE, 0, family, what);
        self.writer.put_str(sys::NFTA_FLOWTABLE_TABLE, table);
        self.writer.put_str(sys::NFTA_FLOWTABLE_NAME, name);
        self.writer.end();
    }

    /// An anonymous constant set (`{ tcp, udp }`) with its elements, referenced by `id`.
    pub fn add_anonymous_set(
        &mut self,
        family: u8,
        table: &str,
        name: &str,
        id: u32,
        key_type: u32,
        elements: &[&[u8]],
    ) {
        let key_len = elements.first().map_or(0, |e| e.len()) as u32;
        self.begin(
            sys::NFT_MSG_NEWSET,
            NLM_F_CREATE,
            family,
            format!("anonymous set in table {table}"),
        );
        self.writer.put_str(sys::NFTA_SET_TABLE, table);
        self.writer.put_str(sys::NFTA_SET_NAME, name);
        self.writer.put_be32(
            sys::NFTA_SET_FLAGS,
            sys::NFT_SET_ANONYMOUS | sys::NFT_SET_CONSTANT,
        );
        self.writer.put_be32(sys::NFTA_SET_KEY_TYPE, key_type);
        self.writer.put_be32(sys::NFTA_SET_KEY_LEN, key_len);
        self.writer.put_be32(sys::NFTA_SET_ID, id);
        self.writer.end();

        self.begin(
            sys::NFT_MSG_NEWSETELEM,
            NLM_F_CREATE,
            family,
            format!("elements of the anonymous set in table {table}"),
        );
        self.writer.put_str(sys::NFTA_SET_ELEM_LIST_TABLE, table);
        self.writer.put_str(sys::NFTA_SET_ELEM_LIST_SET, name);
        self.writer.put_be32(sys::NFTA_SET_ELEM_LIST_SET_ID, id);
        self.writer.nest_begin(sys::NFTA_SET_ELEM_LIST_ELEMENTS);
        for element in elements {
            self.writer.nest_begin(sys::NFTA_LIST_ELEM);
            self.writer.nest_begin(sys::NFTA_SET_ELEM_KEY);
            self.writer.put(sys::NFTA_DATA_VALUE, element);
            self.writer.nest_end();
            self.writer.nest_end();
        }
        self.writer.nest_end();
        self.writer.end();
    }

    /// A base chain: `type <kind> hook <hook> priority <priority>; policy accept;`.
    pub fn add_base_chain(
        &mut self,
        family: u8,
        table: &str,
        name: &str,
        kind: &str,
        hook: u32,
        priority: i32,
    ) {
        self.begin(
            sys::NFT_MSG_NEWCHAIN,
            NLM_F_CREATE,
            family,
            format!("chain {table} {name}"),
        );
        self.writer.put_str(sys::NFTA_CHAIN_TABLE, table);
        self.writer.put_str(sys::NFTA_CHAIN_NAME, name);
        self.writer.nest_begin(sys::NFTA_CHAIN_HOOK);
        self.writer.put_be32(sys::NFTA_HOOK_HOOKNUM, hook);
        self.writer
            .put_be32(sys::NFTA_HOOK_PRIORITY, priority as u32);
        self.writer.nest_end();
        self.writer
            .put_be32(sys::NFTA_CHAIN_POLICY, libc::NF_ACCEPT as u32);
        self.writer.put_str(sys::NFTA_CHAIN_TYPE, kind);
        self.writer.end();
    }

    pub fn add_rule(&mut self, family: u8, table: &str, chain: &str, exprs: &[Expr<'_>]) {
        self.begin(
            sys::NFT_MSG_NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            family,
            format!("rule in chain {table} {chain}"),
        );
        self.writer.put_str(sys::NFTA_RULE_TABLE, table);
        self.writer.put_str(sys::NFTA_RULE_CHAIN, chain);
        self.writer.nest_begin(sys::NFTA_RULE_EXPRESSIONS);
        for expr in exprs {
            self.expression(expr);
        }
        self.writer.nest_end();
        self.writer.end();
    }

    fn expression(&mut self, expr: &Expr<'_>) {
        let w = &mut self.writer;
        w.nest_begin(sys::NFTA_LIST_ELEM);
        w.put_str(sys::NFTA_EXPR_NAME, expr.name());
        w.nest_begin(sys::NFTA_EXPR_DATA);
        match expr {
            Expr::Meta { key, dreg } => {
                w.put_be32(sys::NFTA_META_KEY, *key);
                w.put_be32(sys::NFTA_META_DREG, *dreg);
            }
            Expr::Lookup { set, set_id, sreg } => {
                w.put_str(sys::NFTA_LOOKUP_SET, set);
                w.put_be32(sys::NFTA_LOOKUP_SREG, *sreg);
                w.put_be32(sys::NFTA_LOOKUP_SET_ID, *set_id);
            }
            // Without NFTA_COUNTER_PACKETS/BYTES the kernel starts the counter at zero.
            Expr::Counter => {}
            Expr::FlowOffload { flowtable } => {
                w.put_str(sys::NFTA_FLOW_TABLE_NAME, flowtable);
            }
        }
        w.nest_end();
        w.nest_end();
    }

    pub fn del_rule(&mut self, family: u8, table: &str, chain: &str, handle: u64) {
        self.begin(
            sys::NFT_MSG_DELRULE,
            0,
            family,
            format!("delete rule {table} {chain} handle {handle}"),
        );
        self.writer.put_str(sys::NFTA_RULE_TABLE, table);
        self.writer.put_str(sys::NFTA_RULE_CHAIN, chain);
        self.writer.put_be64(sys::NFTA_RULE_HANDLE, handle);
        self.writer.end();
    }

    /// The batch to commit.
    pub fn finish(mut self) -> Encoded {
        self.writer.begin(
            sys::NFNL_MSG_BATCH_END as u16,
            NLM_F_REQUEST,
            next_seq(),
            libc::AF_UNSPEC as u8,
            sys::NFNL_SUBSYS_NFTABLES as u16,
        );
        self.writer.end();
        self.finish_check_only()
    }

    /// The batch without its end: the kernel checks every message, reports errors and
    /// then discards it all (what `nft -c` does).
    pub fn finish_check_only(self) -> Encoded {
        Encoded {
            bytes: self.writer.finish(),
            begin_seq: self.begin_seq,
            objects: self.objects,
        }
    }
}

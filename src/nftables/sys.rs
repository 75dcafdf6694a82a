//! The kernel's nf_tables and nfnetlink numbers this helper uses, from
//! `linux/netfilter/nf_tables.h` and `linux/netfilter/nfnetlink.h`: libc's where libc has
//! them, written here otherwise. They are kernel ABI, never changed once released;
//! `tests/uapi.rs` checks every one against Debian's linux-libc-dev and
//! linux-source-6.12's `include/uapi`.
//!
//! They used to come from rustables 0.9 (`rustables::sys`), whose build script generates
//! them with bindgen: that needs libclang on the build host, which OpenWrt's buildbots and
//! SDK do not have, for 64 numbers that never change. Attribute ids are `u16` as netlink
//! carries them; message types, flags, keys and registers `u32`.

macro_rules! numbers {
    ($($ty:ty { $($name:ident = $value:expr;)* })*) => {
        $($(pub const $name: $ty = $value;)*)*

        /// Every number above by its C name, for the check against the headers.
        pub const ALL: &[(&str, i64)] = &[$($((stringify!($name), $name as i64),)*)*];
    };
}

numbers! {
    // nfnetlink.h: the subsystem and the batch delimiters.
    u32 {
        NFNL_SUBSYS_NFTABLES = libc::NFNL_SUBSYS_NFTABLES as u32;
        NFNL_MSG_BATCH_BEGIN = libc::NFNL_MSG_BATCH_BEGIN as u32;
        NFNL_MSG_BATCH_END = libc::NFNL_MSG_BATCH_END as u32;
    }
    // BATCH_BEGIN's attribute: the generation the batch was built at.
    u16 {
        NFNL_BATCH_GENID = libc::NFNL_BATCH_GENID as u16;
    }
    // enum nf_tables_msg_types
    u32 {
        NFT_MSG_NEWTABLE = libc::NFT_MSG_NEWTABLE as u32;
        NFT_MSG_GETTABLE = libc::NFT_MSG_GETTABLE as u32;
        NFT_MSG_DELTABLE = libc::NFT_MSG_DELTABLE as u32;
        NFT_MSG_NEWCHAIN = libc::NFT_MSG_NEWCHAIN as u32;
        NFT_MSG_NEWRULE = libc::NFT_MSG_NEWRULE as u32;
        NFT_MSG_GETRULE = libc::NFT_MSG_GETRULE as u32;
        NFT_MSG_DELRULE = libc::NFT_MSG_DELRULE as u32;
        NFT_MSG_NEWSET = libc::NFT_MSG_NEWSET as u32;
        NFT_MSG_NEWSETELEM = libc::NFT_MSG_NEWSETELEM as u32;
        NFT_MSG_NEWGEN = libc::NFT_MSG_NEWGEN as u32;
        NFT_MSG_GETGEN = libc::NFT_MSG_GETGEN as u32;
        NFT_MSG_NEWFLOWTABLE = 22;
        NFT_MSG_GETFLOWTABLE = 23;
        NFT_MSG_DELFLOWTABLE = 24;
    }
    // Flags, keys and registers.
    u32 {
        NFT_SET_ANONYMOUS = libc::NFT_SET_ANONYMOUS as u32;
        NFT_SET_CONSTANT = libc::NFT_SET_CONSTANT as u32;
        NFT_META_L4PROTO = libc::NFT_META_L4PROTO as u32;
        NFT_REG_1 = libc::NFT_REG_1 as u32;
        NFT_FLOWTABLE_HW_OFFLOAD = 0x1;
        NFT_FLOWTABLE_COUNTER = 0x2;
    }
    // Attributes: enum nft_list_attributes, nft_hook_attributes, nft_table_attributes,
    // nft_chain_attributes, nft_rule_attributes, nft_set_attributes,
    // nft_set_elem_attributes, nft_set_elem_list_attributes, nft_data_attributes,
    // nft_expr_attributes, nft_meta_attributes, nft_lookup_attributes,
    // nft_counter_attributes, nft_offload_attributes, nft_flowtable_attributes,
    // nft_flowtable_hook_attributes, nft_devices_attributes, nft_gen_attributes.
    u16 {
        NFTA_LIST_ELEM = 1;
        NFTA_HOOK_HOOKNUM = 1;
        NFTA_HOOK_PRIORITY = 2;
        NFTA_TABLE_NAME = 1;
        NFTA_CHAIN_TABLE = 1;
        NFTA_CHAIN_NAME = 3;
        NFTA_CHAIN_HOOK = 4;
        NFTA_CHAIN_POLICY = 5;
        NFTA_CHAIN_TYPE = 7;
        NFTA_RULE_TABLE = 1;
        NFTA_RULE_CHAIN = 2;
        NFTA_RULE_HANDLE = 3;
        NFTA_RULE_EXPRESSIONS = 4;
        NFTA_SET_TABLE = 1;
        NFTA_SET_NAME = 2;
        NFTA_SET_FLAGS = 3;
        NFTA_SET_KEY_TYPE = 4;
        NFTA_SET_KEY_LEN = 5;
        NFTA_SET_ID = 10;
        NFTA_SET_ELEM_KEY = 1;
        NFTA_SET_ELEM_LIST_TABLE = 1;
        NFTA_SET_ELEM_LIST_SET = 2;
        NFTA_SET_ELEM_LIST_ELEMENTS = 3;
        NFTA_SET_ELEM_LIST_SET_ID = 4;
        NFTA_DATA_VALUE = 1;
        NFTA_EXPR_NAME = 1;
        NFTA_EXPR_DATA = 2;
        NFTA_META_DREG = 1;
        NFTA_META_KEY = 2;
        NFTA_LOOKUP_SET = 1;
        NFTA_LOOKUP_SREG = 2;
        NFTA_LOOKUP_SET_ID = 4;
        NFTA_COUNTER_BYTES = 1;
        NFTA_COUNTER_PACKETS = 2;
        NFTA_FLOW_TABLE_NAME = 1;
        NFTA_FLOWTABLE_TABLE = 1;
        NFTA_FLOWTABLE_NAME = 2;
        NFTA_FLOWTABLE_HOOK = 3;
        NFTA_FLOWTABLE_FLAGS = 7;
        NFTA_FLOWTABLE_HOOK_NUM = 1;
        NFTA_FLOWTABLE_HOOK_PRIORITY = 2;
        NFTA_FLOWTABLE_HOOK_DEVS = 3;
        NFTA_DEVICE_NAME = 1;
        NFTA_GEN_ID = 1;
    }
}

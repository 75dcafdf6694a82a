//! nft text for a [`Ruleset`], loadable with `nft -f` as one transaction.

use std::fmt::Write;

use super::{L4Proto, Ruleset, FAMILY, FW4_CHAIN, FW4_FLOWTABLE, FW4_TABLE, TABLE};

pub fn render(ruleset: &Ruleset) -> String {
    let mut out = String::new();
    // Declaring the table first makes the delete valid whether or not it exists.
    let _ = writeln!(out, "table {FAMILY} {TABLE}");
    let _ = writeln!(out, "delete table {FAMILY} {TABLE}");
    let Some(table) = &ruleset.table else {
        return out;
    };
    if ruleset.remove_fw4_offload {
        let _ = writeln!(
            out,
            "\n# apply also removes flowtable {FW4_FLOWTABLE} and its \"flow offload @{FW4_FLOWTABLE}\" rule\n\
             # from chain {FW4_CHAIN} of table {FAMILY} {FW4_TABLE}, when fw4 rendered them"
        );
    }
    let ft = &table.flowtable;
    let mut devices = String::new();
    for device in &ft.devices {
        let comma = if devices.is_empty() { "" } else { ", " };
        let _ = write!(devices, "{comma}\"{device}\"");
    }
    let _ = writeln!(out, "\ntable {} {} {{", table.family, table.name);
    let _ = writeln!(out, "\tflowtable {} {{", ft.name);
    let _ = writeln!(out, "\t\thook ingress priority {};", ft.priority);
    let _ = writeln!(out, "\t\tdevices = {{ {devices} }};");
    let _ = writeln!(out, "\t\tcounter;");
    if ft.hw_offload {
        let _ = writeln!(out, "\t\tflags offload;");
    }
    let _ = writeln!(out, "\t}}\n");
    let chain = &table.chain;
    let _ = writeln!(out, "\tchain {} {{", chain.name);
    let _ = writeln!(
        out,
        "\t\ttype filter hook forward priority filter + {}; policy accept;",
        chain.priority
    );
    let protos = L4Proto::ALL.map(L4Proto::name).join(", ");
    let _ = writeln!(
        out,
        "\t\tmeta l4proto {{ {protos} }} counter flow add @{}",
        chain.flowtable
    );
    let _ = writeln!(out, "\t}}\n}}");
    out
}

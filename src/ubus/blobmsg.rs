//! blobmsg: blob attributes with the extended bit whose payload starts with a name header
//! (big-endian u16 length, the name, a NUL, padding to 4), then the value. The attribute id
//! is the type (`BLOBMSG_TYPE_*`): tables hold named entries, arrays unnamed ones.
//!
//! Received payloads are checked once, whole, by [`List::table`] (as libubox's
//! `blobmsg_check_attr`: known type, exact number sizes, NUL-terminated strings, named
//! table entries) and then read through borrowed [`Value`]s without allocating.
//! Type 7 is both INT8 and BOOL; libubox's JSON conversion treats it as a boolean, and so
//! does [`Value::Bool`].

use serde_json::{Map, Number, Value as Json};

use super::blob::{self, Attr, Attrs, Open, Writer};
use super::{malformed, Result};

/// Deepest table/array nesting accepted: json-c, which builds these payloads in the ubus
/// CLI and rpcd, stops at 32; the bound keeps the recursive check off the stack's limit.
pub const MAX_DEPTH: usize = 32;

/// Value types: the attribute ids (`enum blobmsg_type`, blobmsg.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Unspec = 0,
    Array = 1,
    Table = 2,
    String = 3,
    Int64 = 4,
    Int32 = 5,
    Int16 = 6,
    /// `BLOBMSG_TYPE_BOOL`, which is `BLOBMSG_TYPE_INT8`.
    Bool = 7,
    Double = 8,
}

impl Type {
    pub fn from_id(id: u32) -> Option<Type> {
        const ALL: [Type; 9] = [
            Type::Unspec,
            Type::Array,
            Type::Table,
            Type::String,
            Type::Int64,
            Type::Int32,
            Type::Int16,
            Type::Bool,
            Type::Double,
        ];
        ALL.get(usize::try_from(id).ok()?).copied()
    }
}

/// One decoded value, borrowing the message's bytes.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// BLOBMSG_TYPE_UNSPEC (JSON null); a payload, if any, is ignored as libubox does.
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Double(f64),
    String(&'a str),
    /// Entry names inside an array are ignored, as libubox's JSON conversion does.
    Array(List<'a>),
    Table(List<'a>),
}

/// The checked payload of a table or array.
#[derive(Clone, Copy, Debug)]
pub struct List<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> List<'a> {
    /// Checks `bytes` (at offset `at` in the message) as the entries of a table.
    pub fn table(bytes: &'a [u8], at: usize) -> Result<Self> {
        let list = List { bytes, at };
        check(list, true, 0)?;
        Ok(list)
    }

    /// A table [`List::table`] has accepted before, read again without checking.
    pub(super) fn checked_table(bytes: &'a [u8], at: usize) -> Self {
        List { bytes, at }
    }

    /// Entries as (name, value), in wire order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Value<'a>)> + 'a {
        // Already checked, so nothing here fails.
        Attrs::new(self.bytes, self.at).map_while(|attr| entry(attr.ok()?, false).ok())
    }

    pub fn values(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        self.entries().map(|(_, value)| value)
    }

    /// A table as a JSON object (libubox's `blobmsg_format_json` rules, see [`Value::to_json`]).
    pub fn to_json(&self) -> Map<String, Json> {
        self.entries()
            .map(|(name, value)| (name.to_owned(), value.to_json()))
            .collect()
    }
}

/// Tables compare entry by entry (names included), in order.
impl PartialEq for List<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

impl PartialEq for Value<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int16(a), Int16(b)) => a == b,
            (Int32(a), Int32(b)) => a == b,
            (Int64(a), Int64(b)) => a == b,
            // Same bits on the wire, so NaN equals itself.
            (Double(a), Double(b)) => a.to_bits() == b.to_bits(),
            (String(a), String(b)) => a == b,
            (Array(a), Array(b)) => a.values().eq(b.values()),
            (Table(a), Table(b)) => a == b,
            _ => false,
        }
    }
}

impl Value<'_> {
    /// JSON as `ubus call` prints it: type 7 a boolean, numbers as numbers, non-finite
    /// doubles (which JSON cannot hold) as null.
    pub fn to_json(&self) -> Json {
        match *self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Int16(n) => n.into(),
            Value::Int32(n) => n.into(),
            Value::Int64(n) => n.into(),
            Value::Double(d) => Number::from_f64(d).map_or(Json::Null, Json::Number),
            Value::String(s) => s.into(),
            Value::Array(list) => Json::Array(list.values().map(|v| v.to_json()).collect()),
            Value::Table(list) => Json::Object(list.to_json()),
        }
    }
}

/// Decodes one entry without descending into tables or arrays.
fn entry(attr: Attr<'_>, named: bool) -> Result<(&str, Value<'_>)> {
    if !attr.extended {
        return malformed(attr.at, "blobmsg attribute without the extended bit");
    }
    let payload = attr.payload;
    let Some(&[hi, lo]) = payload.first_chunk() else {
        return malformed(attr.at, "blobmsg name header truncated");
    };
    let name_len = usize::from(u16::from_be_bytes([hi, lo]));
    let header = blob::pad(2 + name_len + 1);
    if header > payload.len() {
        return malformed(attr.at, "blobmsg name runs past its attribute");
    }
    let name = blob::c_str(&payload[2..3 + name_len], attr.at)?;
    if named && name.is_empty() {
        return malformed(attr.at, "table entry without a name");
    }
    let data = &payload[header..];
    let at = attr.at + blob::HEADER_LEN + header;
    let Some(ty) = Type::from_id(attr.id) else {
        return malformed(attr.at, "unknown blobmsg type");
    };
    let value = match ty {
        Type::Unspec => Value::Null,
        Type::Array => Value::Array(List { bytes: data, at }),
        Type::Table => Value::Table(List { bytes: data, at }),
        Type::String => Value::String(blob::c_str(data, at)?),
        Type::Int64 => Value::Int64(i64::from_be_bytes(fixed(data, at)?)),
        Type::Int32 => Value::Int32(i32::from_be_bytes(fixed(data, at)?)),
        Type::Int16 => Value::Int16(i16::from_be_bytes(fixed(data, at)?)),
        Type::Bool => Value::Bool(fixed::<1>(data, at)? != [0]),
        Type::Double => Value::Double(f64::from_be_bytes(fixed(data, at)?)),
    };
    Ok((name, value))
}

fn fixed<const N: usize>(data: &[u8], at: usize) -> Result<[u8; N]> {
    data.try_into()
        .or_else(|_| malformed(at, "blobmsg number has the wrong size"))
}

/// Checks every entry of `list`, recursively.
fn check(list: List<'_>, named: bool, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return malformed(list.at, "blobmsg nested deeper than 32 levels");
    }
    for attr in Attrs::new(list.bytes, list.at) {
        match entry(attr?, named)?.1 {
            Value::Array(inner) => check(inner, false, depth + 1)?,
            Value::Table(inner) => check(inner, true, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

/// Opens a named entry of type `ty`; close it with [`Writer::close`].
pub fn open(w: &mut Writer, ty: Type, name: &str) -> Open {
    let open = w.open(ty as u32, true);
    let Ok(len) = u16::try_from(name.len()) else {
        w.fail("blobmsg name longer than 65535 bytes");
        return open;
    };
    w.bytes(&len.to_be_bytes());
    w.bytes(name.as_bytes());
    w.bytes(&[0]);
    w.align();
    open
}

fn scalar(w: &mut Writer, ty: Type, name: &str, data: &[u8]) {
    let open = open(w, ty, name);
    w.bytes(data);
    w.close(open);
}

fn string(w: &mut Writer, name: &str, s: &str) {
    let open = open(w, Type::String, name);
    w.bytes(s.as_bytes());
    w.bytes(&[0]);
    w.close(open);
}

/// Writes `value` as an entry named `name` (empty inside arrays), keeping its exact type.
pub fn put(w: &mut Writer, name: &str, value: &Value<'_>) {
    match *value {
        Value::Null => scalar(w, Type::Unspec, name, &[]),
        Value::Bool(b) => scalar(w, Type::Bool, name, &[u8::from(b)]),
        Value::Int16(n) => scalar(w, Type::Int16, name, &n.to_be_bytes()),
        Value::Int32(n) => scalar(w, Type::Int32, name, &n.to_be_bytes()),
        Value::Int64(n) => scalar(w, Type::Int64, name, &n.to_be_bytes()),
        Value::Double(d) => scalar(w, Type::Double, name, &d.to_be_bytes()),
        Value::String(s) => string(w, name, s),
        Value::Array(list) => {
            let open = open(w, Type::Array, name);
            list.values().for_each(|v| put(w, "", &v));
            w.close(open);
        }
        Value::Table(list) => {
            let open = open(w, Type::Table, name);
            list.write_entries(w);
            w.close(open);
        }
    }
}

/// The entries of a table, written without a table attribute around them: the payload of
/// UBUS_ATTR_DATA. A received [`List`], a JSON object (serde_json's `Map` sorts its keys), or
/// a closure writing entries with [`put`]/[`put_json`] in the order it wants.
pub trait Entries {
    fn write_entries(&self, w: &mut Writer);
}

impl Entries for List<'_> {
    fn write_entries(&self, w: &mut Writer) {
        self.entries().for_each(|(name, v)| put(w, name, &v));
    }
}

impl Entries for Map<String, Json> {
    fn write_entries(&self, w: &mut Writer) {
        self.iter().for_each(|(name, v)| put_json(w, name, v));
    }
}

impl<F: Fn(&mut Writer)> Entries for F {
    fn write_entries(&self, w: &mut Writer) {
        self(w)
    }
}

/// Writes JSON as libubox's `blobmsg_add_json_element` does: objects as tables, booleans
/// as type 7, integers as INT32 when they fit and INT64 otherwise (json-c saturates larger
/// unsigned values to i64::MAX), other numbers as DOUBLE, null as UNSPEC.
pub fn put_json(w: &mut Writer, name: &str, value: &Json) {
    match value {
        Json::Null => put(w, name, &Value::Null),
        Json::Bool(b) => put(w, name, &Value::Bool(*b)),
        Json::Number(n) => put(w, name, &number(n)),
        Json::String(s) => string(w, name, s),
        Json::Array(items) => {
            let open = open(w, Type::Array, name);
            items.iter().for_each(|v| put_json(w, "", v));
            w.close(open);
        }
        Json::Object(map) => {
            let open = open(w, Type::Table, name);
            map.write_entries(w);
            w.close(open);
        }
    }
}

fn number(n: &Number) -> Value<'static> {
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => i32::try_from(i).map_or(Value::Int64(i), Value::Int32),
        (None, Some(_)) => Value::Int64(i64::MAX),
        (None, None) => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
    }
}

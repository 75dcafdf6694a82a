//! The `flows` method's arguments as the CLI and ubus carry them, checked into a
//! [`Query`], and a query written back as ubus arguments (the CLI relays its own to the
//! daemon).

use std::io;

use serde_json::{Map, Value as Json};

use crate::ruleset::L4Proto;
use crate::stats::conntrack::{self, Query};
use crate::ubus::blobmsg::{List, Value};

/// `flows` without a limit returns this many.
pub const DEFAULT_LIMIT: usize = 100;

/// Builds a `flows` query from its arguments as ubus and the CLI give them.
pub fn from_args(
    limit: Option<i64>,
    offset: Option<i64>,
    proto: Option<&str>,
    hw: Option<bool>,
) -> io::Result<Query> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let count = |n: Option<i64>, what: &str, default: u64| match n {
        None => Ok(default),
        Some(n) => u64::try_from(n).map_err(|_| bad(format!("{what} {n} is negative"))),
    };
    let proto = match proto {
        None => None,
        Some(name) => Some(
            L4Proto::from_name(name)
                .map(L4Proto::number)
                .ok_or_else(|| bad(format!("proto '{name}': offloaded flows are tcp or udp")))?,
        ),
    };
    Ok(Query {
        proto,
        hw,
        offset: count(offset, "offset", 0)?,
        limit: count(limit, "limit", DEFAULT_LIMIT as u64)?.min(conntrack::MAX_LIMIT as u64)
            as usize,
    })
}

/// `flows` arguments as a ubus call carries them, checked: ubusd passes on whatever a
/// caller sends, whatever the signature says.
pub fn from_ubus(args: Option<List<'_>>) -> Result<Query, String> {
    let (mut limit, mut offset, mut proto, mut hw) = (None, None, None, None);
    for (name, value) in args.iter().flat_map(List::entries) {
        let int = || match value {
            Value::Int16(n) => Ok(i64::from(n)),
            Value::Int32(n) => Ok(i64::from(n)),
            Value::Int64(n) => Ok(n),
            _ => Err(format!("{name} must be an integer")),
        };
        match name {
            "limit" => limit = Some(int()?),
            "offset" => offset = Some(int()?),
            "proto" => match value {
                Value::String(s) => proto = Some(s),
                _ => return Err("proto must be a string".into()),
            },
            "hw" => match value {
                Value::Bool(b) => hw = Some(b),
                _ => return Err("hw must be a boolean".into()),
            },
            _ => {} // as libubus's blobmsg_parse: unknown arguments are ignored
        }
    }
    from_args(limit, offset, proto, hw).map_err(|e| e.to_string())
}

/// A checked query as the arguments of a ubus `flows` call ([`from_ubus`] reads
/// it back as it was).
pub fn to_ubus(query: &Query) -> Map<String, Json> {
    let mut args = Map::new();
    args.insert("limit".into(), Json::from(query.limit));
    args.insert("offset".into(), Json::from(query.offset));
    if let Some(proto) = query.proto.and_then(L4Proto::from_number) {
        args.insert("proto".into(), Json::from(proto.name()));
    }
    if let Some(hw) = query.hw {
        args.insert("hw".into(), Json::from(hw));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_survives_the_trip_through_ubus() {
        use crate::ubus::client::invoke;
        use crate::ubus::message::Message;
        for q in [
            from_args(None, None, None, None).unwrap(),
            from_args(Some(5), Some(70_000), Some("udp"), Some(false)).unwrap(),
            from_args(Some(1000), None, Some("tcp"), Some(true)).unwrap(),
        ] {
            let call = invoke(1, 7, "flows", &to_ubus(&q)).unwrap();
            let args = Message::decode(&call).unwrap().data();
            assert_eq!(from_ubus(args), Ok(q));
        }
    }

    #[test]
    fn query_arguments_are_checked() {
        let q = from_args(Some(5000), Some(3), Some("udp"), Some(true)).unwrap();
        assert_eq!(
            (q.limit, q.offset, q.proto, q.hw),
            (1000, 3, Some(17), Some(true))
        );
        assert_eq!(
            from_args(None, None, None, None).unwrap().limit,
            DEFAULT_LIMIT
        );
        for (limit, offset, proto) in [
            (Some(-1), None, None),
            (None, Some(-2), None),
            (None, None, Some("icmp")),
        ] {
            let e = from_args(limit, offset, proto, None).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        }
    }
}

//! Talking to the kernel: commit a batch (one answer per message), dump objects back.

use std::fmt;
use std::io;

use super::{msg_type, sys, Batch};
use crate::netlink::{attributes, messages, Attr, MessageWriter, Socket, NFGENMSG_LEN};

const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;

/// The kernel refused a batch; nothing in it took effect.
#[derive(Debug)]
pub struct BatchError {
    /// Sequence number of the first message the kernel refused (0: no message).
    pub seq: u32,
    /// What that message stands for.
    pub object: String,
    pub error: io::Error,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.error)
    }
}

impl std::error::Error for BatchError {}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelFlowtable {
    pub table: String,
    pub name: String,
    pub priority: i32,
    pub devices: Vec<String>,
    pub flags: u32,
}

impl KernelFlowtable {
    /// `flags offload`: the kernel asks the drivers to carry the flows in hardware.
    pub fn hw_offload(&self) -> bool {
        self.flags & sys::NFT_FLOWTABLE_HW_OFFLOAD != 0
    }
}

/// What a rule's `counter` expression has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelRule {
    pub handle: u64,
    /// Expression names in order (`meta`, `lookup`, `counter`, `flow_offload`).
    pub expressions: Vec<String>,
    /// The flowtable a `flow_offload` expression adds to.
    pub flowtable: Option<String>,
    /// The rule's (last) `counter` expression.
    pub counter: Option<Counter>,
}

pub struct Nftables {
    socket: Socket,
}

/// The errno an NLMSG_ERROR carries (0 for an ACK).
fn error_code(payload: &[u8]) -> io::Result<i32> {
    let bytes = payload
        .get(..4)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short NLMSG_ERROR"))?;
    Ok(i32::from_ne_bytes(bytes.try_into().expect("4 bytes")))
}

impl Nftables {
    pub fn open() -> io::Result<Nftables> {
        Ok(Nftables {
            socket: Socket::netfilter()?,
        })
    }

    /// Commits the batch: `Ok` once the kernel acknowledged every message, or the first
    /// error it reported (the kernel then aborted the whole batch).
    pub fn commit(&self, batch: Batch) -> Result<(), BatchError> {
        self.send_batch(batch.finish())
    }

    /// Lets the kernel check the batch and throw it away (no BATCH_END).
    pub fn check(&self, batch: Batch) -> Result<(), BatchError> {
        self.send_batch(batch.finish_check_only())
    }

    fn send_batch(&self, (buf, objects): (Vec<u8>, Vec<(u32, String)>)) -> Result<(), BatchError> {
        let io_error = |error| BatchError {
            seq: 0,
            object: "nf_tables batch".into(),
            error,
        };
        if objects.is_empty() {
            return Ok(());
        }
        self.socket.send(&buf).map_err(io_error)?;
        let mut answered = 0;
        let mut first_error: Option<BatchError> = None;
        while answered < objects.len() {
            let datagram = self.socket.recv().map_err(io_error)?;
            for msg in messages(&datagram) {
                let msg = msg.map_err(io_error)?;
                if msg.msg_type != NLMSG_ERROR {
                    continue;
                }
                answered += 1;
                let code = error_code(msg.payload).map_err(io_error)?;
                if code != 0 && first_error.is_none() {
                    let object = objects
                        .iter()
                        .find(|(seq, _)| *seq == msg.seq)
                        .map_or_else(|| format!("message {}", msg.seq), |(_, what)| what.clone());
                    first_error = Some(BatchError {
                        seq: msg.seq,
                        object,
                        error: io::Error::from_raw_os_error(-code),
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// A dump request; `filter` adds attributes (table and chain for rules).
    fn dump(&self, msg: u32, family: u8, filter: &[(u16, &str)]) -> io::Result<Vec<Vec<u8>>> {
        let mut w = MessageWriter::new();
        w.begin(
            msg_type(msg),
            (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            1,
            family,
            0,
        );
        for (kind, value) in filter {
            w.put_str(*kind, value);
        }
        w.end();
        self.socket.send(&w.finish())?;
        let mut out = Vec::new();
        loop {
            let datagram = self.socket.recv()?;
            for msg in messages(&datagram) {
                let msg = msg?;
                match msg.msg_type {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => match error_code(msg.payload)? {
                        0 => return Ok(out),
                        code => return Err(io::Error::from_raw_os_error(-code)),
                    },
                    _ => out.push(msg.payload.to_vec()),
                }
            }
        }
    }

    pub fn tables(&self, family: u8) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for payload in self.dump(sys::NFT_MSG_GETTABLE, family, &[])? {
            for attr in payload_attributes(&payload) {
                let attr = attr?;
                if attr.kind == sys::NFTA_TABLE_NAME {
                    names.push(attr.string()?);
                }
            }
        }
        Ok(names)
    }

    pub fn flowtables(&self, family: u8) -> io::Result<Vec<KernelFlowtable>> {
        let mut out = Vec::new();
        for payload in self.dump(sys::NFT_MSG_GETFLOWTABLE, family, &[])? {
            let mut ft = KernelFlowtable {
                table: String::new(),
                name: String::new(),
                priority: 0,
                devices: Vec::new(),
                flags: 0,
            };
            for attr in payload_attributes(&payload) {
                let attr = attr?;
                match attr.kind {
                    sys::NFTA_FLOWTABLE_TABLE => ft.table = attr.string()?,
                    sys::NFTA_FLOWTABLE_NAME => ft.name = attr.string()?,
                    sys::NFTA_FLOWTABLE_FLAGS => ft.flags = attr.be32()?,
                    sys::NFTA_FLOWTABLE_HOOK => read_hook(&attr, &mut ft)?,
                    _ => {}
                }
            }
            out.push(ft);
        }
        Ok(out)
    }

    /// Rules of one chain; a table or chain that does not exist has none.
    pub fn rules(&self, family: u8, table: &str, chain: &str) -> io::Result<Vec<KernelRule>> {
        let filter = [(sys::NFTA_RULE_TABLE, table), (sys::NFTA_RULE_CHAIN, chain)];
        let payloads = match self.dump(sys::NFT_MSG_GETRULE, family, &filter) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Vec::new()),
            other => other?,
        };
        let mut out = Vec::new();
        for payload in payloads {
            let mut rule = KernelRule::default();
            for attr in payload_attributes(&payload) {
                let attr = attr?;
                match attr.kind {
                    sys::NFTA_RULE_HANDLE => rule.handle = attr.be64()?,
                    sys::NFTA_RULE_EXPRESSIONS => read_expressions(&attr, &mut rule)?,
                    _ => {}
                }
            }
            out.push(rule);
        }
        Ok(out)
    }
}

fn payload_attributes(payload: &[u8]) -> impl Iterator<Item = io::Result<Attr<'_>>> {
    attributes(payload.get(NFGENMSG_LEN..).unwrap_or(&[]))
}

fn read_hook(hook: &Attr<'_>, ft: &mut KernelFlowtable) -> io::Result<()> {
    for attr in hook.nested() {
        let attr = attr?;
        match attr.kind {
            sys::NFTA_FLOWTABLE_HOOK_PRIORITY => ft.priority = attr.be32()? as i32,
            sys::NFTA_FLOWTABLE_HOOK_DEVS => {
                for dev in attr.nested() {
                    ft.devices.push(dev?.string()?);
                }
            }
            _ => {}
        }
    }
    ft.devices.sort();
    Ok(())
}

fn read_expressions(list: &Attr<'_>, rule: &mut KernelRule) -> io::Result<()> {
    for elem in list.nested() {
        let (mut name, mut data) = (String::new(), None);
        for attr in elem?.nested() {
            let attr = attr?;
            match attr.kind {
                sys::NFTA_EXPR_NAME => name = attr.string()?,
                sys::NFTA_EXPR_DATA => data = Some(attr),
                _ => {}
            }
        }
        // The name may follow the data: read the data once the name is known.
        let mut counter = Counter::default();
        for attr in data.iter().flat_map(Attr::nested) {
            let attr = attr?;
            match (name.as_str(), attr.kind) {
                ("flow_offload", sys::NFTA_FLOW_TABLE_NAME) => {
                    rule.flowtable = Some(attr.string()?)
                }
                ("counter", sys::NFTA_COUNTER_PACKETS) => counter.packets = attr.be64()?,
                ("counter", sys::NFTA_COUNTER_BYTES) => counter.bytes = attr.be64()?,
                _ => {}
            }
        }
        if name == "counter" {
            rule.counter = Some(counter);
        }
        rule.expressions.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule's expressions laid out as nf_tables_fill_expr_info and nft_counter_do_dump
    /// send them: name, then data; the counter's bytes before its packets.
    fn dumped_rule() -> Vec<u8> {
        let mut w = MessageWriter::new();
        w.begin(msg_type(sys::NFT_MSG_NEWRULE), 0, 1, 1, 0);
        w.put_be64(sys::NFTA_RULE_HANDLE, 4);
        w.nest_begin(sys::NFTA_RULE_EXPRESSIONS);
        for (name, data) in [
            ("meta", None),
            ("counter", Some((3456u64, 12u64))),
            ("flow_offload", None),
        ] {
            w.nest_begin(sys::NFTA_LIST_ELEM);
            w.put_str(sys::NFTA_EXPR_NAME, name);
            w.nest_begin(sys::NFTA_EXPR_DATA);
            match data {
                Some((bytes, packets)) => {
                    w.put_be64(sys::NFTA_COUNTER_BYTES, bytes);
                    w.put_be64(sys::NFTA_COUNTER_PACKETS, packets);
                }
                None if name == "flow_offload" => w.put_str(sys::NFTA_FLOW_TABLE_NAME, "ft"),
                None => w.put_be32(sys::NFTA_META_KEY, sys::NFT_META_L4PROTO),
            }
            w.nest_end();
            w.nest_end();
        }
        w.nest_end();
        w.end();
        w.finish()
    }

    #[test]
    fn rule_counter_and_flowtable_read_back() {
        let buf = dumped_rule();
        let msg = messages(&buf).next().unwrap().unwrap();
        let mut rule = KernelRule::default();
        for attr in payload_attributes(msg.payload) {
            let attr = attr.unwrap();
            if attr.kind == sys::NFTA_RULE_EXPRESSIONS {
                read_expressions(&attr, &mut rule).unwrap();
            }
        }
        assert_eq!(rule.expressions, ["meta", "counter", "flow_offload"]);
        assert_eq!(rule.flowtable.as_deref(), Some("ft"));
        assert_eq!(
            rule.counter,
            Some(Counter {
                packets: 12,
                bytes: 3456
            })
        );
    }

    #[test]
    fn a_truncated_counter_is_an_error() {
        let mut w = MessageWriter::new();
        w.begin(msg_type(sys::NFT_MSG_NEWRULE), 0, 1, 1, 0);
        w.nest_begin(sys::NFTA_RULE_EXPRESSIONS);
        w.nest_begin(sys::NFTA_LIST_ELEM);
        w.put_str(sys::NFTA_EXPR_NAME, "counter");
        w.nest_begin(sys::NFTA_EXPR_DATA);
        w.put_be32(sys::NFTA_COUNTER_PACKETS, 12);
        w.nest_end();
        w.nest_end();
        w.nest_end();
        w.end();
        let buf = w.finish();
        let msg = messages(&buf).next().unwrap().unwrap();
        let list = payload_attributes(msg.payload).next().unwrap().unwrap();
        let mut rule = KernelRule::default();
        assert!(read_expressions(&list, &mut rule).is_err());
    }
}

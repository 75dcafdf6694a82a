//! Talking to the kernel: commit a batch (its answers matched by sequence number), read
//! the ruleset's generation, dump objects back.

use std::fmt;
use std::io;

use super::{msg_type, next_seq, sys, Batch, Encoded};
use crate::netlink::{
    attributes, messages, Attr, Message, MessageWriter, Socket, NFGENMSG_LEN, RECV_BUFFER,
};

const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLM_F_DUMP_INTR: u16 = 0x10;

/// Why a batch did not go through.
#[derive(Debug)]
pub enum BatchError {
    /// The kernel refused the message with sequence number `seq`, or the whole batch
    /// (`seq` is BATCH_BEGIN's): nothing in it took effect.
    Refused {
        seq: u32,
        /// What that message stands for.
        object: String,
        error: io::Error,
    },
    /// The batch could not be sent: the kernel never saw it.
    Send(io::Error),
    /// Sent, but its answers did not all come (the receive timeout, answers dropped for
    /// a full socket buffer, or unreadable): it may or may not have been committed.
    Unanswered(io::Error),
}

impl BatchError {
    /// The errno of a refusal, if the kernel refused.
    pub fn refusal(&self) -> Option<(u32, &io::Error)> {
        match self {
            BatchError::Refused { seq, error, .. } => Some((*seq, error)),
            _ => None,
        }
    }

    /// The kernel refused the batch because the ruleset changed after the state it was
    /// built from was read (its generation id is no longer current).
    pub fn is_stale(&self) -> bool {
        self.refusal()
            .is_some_and(|(_, e)| e.raw_os_error() == Some(libc::ERESTART))
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Refused { object, error, .. } => write!(f, "{object}: {error}"),
            BatchError::Send(e) => write!(f, "sending the nf_tables batch: {e}"),
            BatchError::Unanswered(e) => write!(f, "no answer to the nf_tables batch: {e}"),
        }
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

/// What the answers to one batch have said so far. The kernel answers each message
/// (all carry NLM_F_ACK) with an ACK or an error, after it has handled the whole batch;
/// a batch it refuses as a whole (EPERM without CAP_NET_ADMIN, ENOMEM, ERESTART for a
/// stale generation, a failed commit) gets one error for BATCH_BEGIN instead, sent
/// before any ACK. Answers to other requests (one given up on earlier) are skipped:
/// every request of this process has a sequence number of its own.
struct Answers<'a> {
    batch: &'a Encoded,
    answered: Vec<bool>,
    left: usize,
    refused: Option<BatchError>,
}

impl<'a> Answers<'a> {
    fn new(batch: &'a Encoded) -> Answers<'a> {
        Answers {
            batch,
            answered: vec![false; batch.objects.len()],
            left: batch.objects.len(),
            refused: None,
        }
    }

    /// Reads one datagram; the batch's outcome once every message is answered, or at
    /// once when the kernel refused the batch as a whole.
    fn take(&mut self, datagram: &[u8]) -> Option<Result<(), BatchError>> {
        for msg in messages(datagram) {
            let msg = match msg {
                Ok(msg) => msg,
                Err(e) => return Some(Err(BatchError::Unanswered(e))),
            };
            if msg.msg_type != NLMSG_ERROR {
                continue;
            }
            let code = match error_code(msg.payload) {
                Ok(code) => code,
                Err(e) => return Some(Err(BatchError::Unanswered(e))),
            };
            if msg.seq == self.batch.begin_seq {
                if code != 0 {
                    return Some(Err(BatchError::Refused {
                        seq: msg.seq,
                        object: "the nf_tables batch".into(),
                        error: io::Error::from_raw_os_error(-code),
                    }));
                }
                continue;
            }
            let Some(i) = self.batch.objects.iter().position(|(s, _)| *s == msg.seq) else {
                continue;
            };
            if std::mem::replace(&mut self.answered[i], true) {
                continue;
            }
            self.left -= 1;
            if code != 0 && self.refused.is_none() {
                self.refused = Some(BatchError::Refused {
                    seq: msg.seq,
                    object: self.batch.objects[i].1.clone(),
                    error: io::Error::from_raw_os_error(-code),
                });
            }
        }
        (self.left == 0).then(|| self.refused.take().map_or(Ok(()), Err))
    }
}

/// Receives until the batch's outcome is known. `recv` reads one datagram (the socket,
/// or a recorded stream in tests): a signal's EINTR is read again; any other error
/// before the outcome (the receive timeout) leaves the outcome unknown.
fn await_answers(
    batch: &Encoded,
    mut recv: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> Result<(), BatchError> {
    let mut answers = Answers::new(batch);
    if answers.left == 0 {
        return Ok(());
    }
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        match recv(&mut buf) {
            Ok(n) => {
                if let Some(outcome) = answers.take(&buf[..n]) {
                    return outcome;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BatchError::Unanswered(e)),
        }
    }
}

impl Nftables {
    pub fn open() -> io::Result<Nftables> {
        Ok(Nftables {
            socket: Socket::netfilter()?,
        })
    }

    /// Commits the batch: `Ok` once the kernel acknowledged every message; on a
    /// refusal, the first error it reported (the kernel then aborted the whole batch).
    pub fn commit(&self, batch: Batch) -> Result<(), BatchError> {
        self.send_batch(batch.finish())
    }

    /// Lets the kernel check the batch and throw it away (no BATCH_END).
    pub fn check(&self, batch: Batch) -> Result<(), BatchError> {
        self.send_batch(batch.finish_check_only())
    }

    fn send_batch(&self, batch: Encoded) -> Result<(), BatchError> {
        if batch.objects.is_empty() {
            return Ok(());
        }
        self.socket.send(&batch.bytes).map_err(BatchError::Send)?;
        await_answers(&batch, |buf| self.socket.recv(buf))
    }

    /// Sends one request (no batch) with string attributes; returns its sequence number.
    fn request(&self, msg: u32, flags: i32, family: u8, attrs: &[(u16, &str)]) -> io::Result<u32> {
        let seq = next_seq();
        let mut w = MessageWriter::new();
        w.begin(
            msg_type(msg),
            (libc::NLM_F_REQUEST | flags) as u16,
            seq,
            family,
            0,
        );
        for (kind, value) in attrs {
            w.put_str(*kind, value);
        }
        w.end();
        self.socket.send(&w.finish())?;
        Ok(seq)
    }

    /// The ruleset's generation id (NFT_MSG_GETGEN): every commit moves it on.
    pub fn generation(&self) -> io::Result<u32> {
        let seq = self.request(sys::NFT_MSG_GETGEN, 0, libc::AF_UNSPEC as u8, &[])?;
        let mut id = None;
        self.receive(seq, |msg| {
            if msg.msg_type == msg_type(sys::NFT_MSG_NEWGEN) {
                for attr in msg.attributes() {
                    let attr = attr?;
                    if attr.kind == sys::NFTA_GEN_ID {
                        id = Some(attr.be32()?);
                    }
                }
            }
            Ok(true)
        })?;
        id.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "NEWGEN without an id"))
    }

    /// Reads the answers to request `seq`, skipping any other's, and hands each message
    /// to `each` until it returns `Ok(true)` (done), an NLMSG_DONE ends a dump, or an
    /// NLMSG_ERROR answers (an ACK ends the request, an error fails it). Returns whether
    /// any of them carried NLM_F_DUMP_INTR.
    fn receive(
        &self,
        seq: u32,
        mut each: impl FnMut(&Message<'_>) -> io::Result<bool>,
    ) -> io::Result<bool> {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut interrupted = false;
        loop {
            let n = self.socket.recv(&mut buf)?;
            for msg in messages(&buf[..n]) {
                let msg = msg?;
                if msg.seq != seq {
                    continue;
                }
                interrupted |= msg.flags & NLM_F_DUMP_INTR != 0;
                match msg.msg_type {
                    NLMSG_DONE => return Ok(interrupted),
                    NLMSG_ERROR => {
                        return match error_code(msg.payload)? {
                            0 => Ok(interrupted),
                            code => Err(io::Error::from_raw_os_error(-code)),
                        }
                    }
                    _ if each(&msg)? => return Ok(interrupted),
                    _ => {}
                }
            }
        }
    }

    /// A dump request; `filter` adds attributes (table and chain for rules). A dump that
    /// a commit interrupted (NLM_F_DUMP_INTR: the objects changed while the kernel filled
    /// it) is read to its end and reported as [`io::ErrorKind::Interrupted`], to be
    /// read again.
    fn dump(&self, msg: u32, family: u8, filter: &[(u16, &str)]) -> io::Result<Vec<Vec<u8>>> {
        let seq = self.request(msg, libc::NLM_F_DUMP, family, filter)?;
        let mut out = Vec::new();
        let interrupted = self.receive(seq, |msg| {
            out.push(msg.payload.to_vec());
            Ok(false)
        })?;
        if interrupted {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the ruleset changed during the dump (NLM_F_DUMP_INTR)",
            ));
        }
        Ok(out)
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

    /// A recorded exchange (tests/fixtures/nfnetlink): the batch as sent, with each
    /// message named by its sequence number, and the datagrams the kernel answered.
    fn recorded(text: &str) -> (Encoded, Vec<Vec<u8>>) {
        let hex = |line: &str| -> Vec<u8> {
            (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect()
        };
        let bytes = hex(text.lines().find_map(|l| l.strip_prefix("> ")).unwrap());
        let answers = text
            .lines()
            .filter_map(|l| l.strip_prefix("< "))
            .map(hex)
            .collect();
        let sent: Vec<Message<'_>> = messages(&bytes).map(Result::unwrap).collect();
        let begin_seq = sent[0].seq;
        let objects = sent[1..]
            .iter()
            .filter(|m| m.msg_type != sys::NFNL_MSG_BATCH_END as u16)
            .map(|m| (m.seq, format!("message {}", m.seq)))
            .collect();
        let batch = Encoded {
            bytes: bytes.clone(),
            begin_seq,
            objects,
        };
        (batch, answers)
    }

    const TAKEN: &str = include_str!("../../tests/fixtures/nfnetlink/taken.txt");
    const REFUSED: &str = include_str!("../../tests/fixtures/nfnetlink/refused-message.txt");
    const EPERM: &str = include_str!("../../tests/fixtures/nfnetlink/eperm.txt");
    const STALE: &str = include_str!("../../tests/fixtures/nfnetlink/stale-generation.txt");

    /// Replays `stream` as the socket would return it; past its end, the socket's
    /// receive timeout.
    fn replay(batch: &Encoded, stream: Vec<io::Result<Vec<u8>>>) -> Result<(), BatchError> {
        let mut stream = stream.into_iter();
        await_answers(batch, |buf| match stream.next() {
            Some(Ok(datagram)) => {
                buf[..datagram.len()].copy_from_slice(&datagram);
                Ok(datagram.len())
            }
            Some(Err(e)) => Err(e),
            None => Err(io::ErrorKind::TimedOut.into()),
        })
    }

    fn answered(answers: &[Vec<u8>]) -> Vec<io::Result<Vec<u8>>> {
        answers.iter().cloned().map(Ok).collect()
    }

    fn errno(e: &BatchError) -> Option<(u32, i32)> {
        e.refusal().map(|(seq, e)| (seq, e.raw_os_error().unwrap()))
    }

    #[test]
    fn every_message_acknowledged() {
        let (batch, answers) = recorded(TAKEN);
        replay(&batch, answered(&answers)).unwrap();
    }

    #[test]
    fn the_refused_message_is_named_by_its_sequence_number() {
        let (batch, answers) = recorded(REFUSED);
        let e = replay(&batch, answered(&answers)).unwrap_err();
        let seq = batch.objects[1].0;
        assert_eq!(errno(&e), Some((seq, libc::ENOENT)));
        assert_eq!(
            e.to_string(),
            format!(
                "message {seq}: {}",
                io::Error::from_raw_os_error(libc::ENOENT)
            )
        );
    }

    /// One answer for the whole batch: the wait ends on it, without reading on into the
    /// receive timeout (this replay would time out next).
    #[test]
    fn a_batch_refused_as_a_whole_ends_the_wait_with_its_errno() {
        // The recordings are x86_64's, numbered as asm-generic numbers errnos: ERESTART
        // is 85 there. MIPS numbers it 91 (and its kernel answers with 91), so a stale
        // generation is recognised by the errno of the architecture it runs on.
        const RECORDED_ERESTART: i32 = 85;
        for (text, errno_recorded) in [(EPERM, libc::EPERM), (STALE, RECORDED_ERESTART)] {
            let (batch, answers) = recorded(text);
            assert_eq!(answers.len(), 1);
            let e = replay(&batch, answered(&answers)).unwrap_err();
            assert_eq!(errno(&e), Some((batch.begin_seq, errno_recorded)));
            assert_eq!(e.is_stale(), errno_recorded == libc::ERESTART);
        }
    }

    #[test]
    fn a_signal_while_waiting_is_read_past() {
        let (batch, answers) = recorded(REFUSED);
        let eintr = || Err(io::Error::from_raw_os_error(libc::EINTR));
        let mut stream = vec![eintr()];
        for answer in answered(&answers) {
            stream.push(answer);
            stream.push(eintr());
        }
        let e = replay(&batch, stream).unwrap_err();
        assert_eq!(errno(&e), Some((batch.objects[1].0, libc::ENOENT)));
    }

    /// Sent, then silence before every answer came: the batch may have been committed.
    #[test]
    fn a_timeout_leaves_the_outcome_unknown() {
        let (batch, answers) = recorded(REFUSED);
        let e = replay(&batch, answered(&answers[..1])).unwrap_err();
        match e {
            BatchError::Unanswered(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
    }

    /// Answers to an earlier batch, one given up on, arrive first: they are not this one's.
    #[test]
    fn answers_to_another_request_are_skipped() {
        let (earlier, stale) = recorded(EPERM);
        let (batch, answers) = recorded(REFUSED);
        assert_ne!(earlier.begin_seq, batch.begin_seq);
        let (_, taken) = recorded(TAKEN);
        let stream = [stale, taken, answers].concat();
        let e = replay(&batch, answered(&stream)).unwrap_err();
        assert_eq!(errno(&e), Some((batch.objects[1].0, libc::ENOENT)));
    }

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

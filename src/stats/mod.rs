//! Live statistics: what the kernel says about offloaded flows, for the reports `status`
//! and `flows`.
//!
//! - [`Sources`]: where each statistic is read from (a router's own files or a tree laid
//!   out like them), and the readings, each failing on its own.
//! - [`conntrack`]: `/proc/net/nf_conntrack`, one flow a line, with its offload flag
//!   (`[HW_OFFLOAD]`, `[OFFLOAD]`); a counting pass ([`conntrack::Summary`]) and a bounded,
//!   filtered listing ([`conntrack::list`]).
//! - [`ctnetlink`]: the same answers from the kernel's conntrack netlink interface, which
//!   sends only the offloaded entries; [`Conntrack`] asks it, and reads the text table
//!   where it cannot.
//! - [`ppe`]: MediaTek PPE debugfs files, `/sys/kernel/debug/ppeN/entries` (and `bind`,
//!   the same lines for bound entries only) and the `stats` file added by the
//!   kmod-nft-offload kernel series.
//!
//! Both parsers read from any [`BufRead`] through one line reader that reuses one buffer
//! and never holds more than [`MAX_LINE`] bytes: a conntrack table on a 128 MB router can
//! have tens of thousands of lines and is never read whole.

pub mod conntrack;
pub mod ctnetlink;
pub mod ppe;
mod sources;

pub use sources::{EntryCounts, Ppe, Reading, Sources, Wed, WedModule};

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;

use conntrack::{Page, Query, Summary};
use ctnetlink::Ctnetlink;

/// Where `status` and `flows` read the conntrack table from.
#[derive(Debug, Clone)]
pub enum Conntrack {
    /// This system's kernel over ctnetlink; where that cannot be asked (no
    /// nf_conntrack_netlink, no CAP_NET_ADMIN), the text table at `fallback`.
    Kernel { fallback: PathBuf },
    /// A text table only: a snapshot's copy of /proc/net/nf_conntrack.
    File(PathBuf),
}

impl Conntrack {
    /// Offloaded flows by protocol, and the table's size.
    pub fn summary(&self) -> Result<Summary, String> {
        self.read(Ctnetlink::summary, |input, source| {
            Summary::read(input, source)
        })
    }

    /// One page of offloaded flows.
    pub fn flows(&self, query: &Query) -> Result<Page, String> {
        self.read(
            |ct| ct.list(query),
            |input, source| conntrack::list(input, query, source),
        )
    }

    fn read<T>(
        &self,
        netlink: impl FnOnce(&mut Ctnetlink) -> io::Result<T>,
        text: impl FnOnce(BufReader<File>, String) -> io::Result<T>,
    ) -> Result<T, String> {
        let path = match self {
            Conntrack::File(path) => path,
            Conntrack::Kernel { fallback } => {
                match Ctnetlink::open().and_then(|mut ct| netlink(&mut ct)) {
                    Ok(answer) => return Ok(answer),
                    Err(e) => match read_text(fallback, text) {
                        Ok(answer) => return Ok(answer),
                        Err(text_error) => return Err(format!("ctnetlink: {e}; {text_error}")),
                    },
                }
            }
        };
        read_text(path, text)
    }
}

fn read_text<T>(
    path: &PathBuf,
    text: impl FnOnce(BufReader<File>, String) -> io::Result<T>,
) -> Result<T, String> {
    File::open(path)
        .and_then(|file| text(BufReader::new(file), path.display().to_string()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The longest line kept. The longest line the kernel prints (IPv6 conntrack entry with
/// accounting, zones, a security context and delta-time) is well under half of this.
pub const MAX_LINE: usize = 2048;

/// One line of input, as [`Lines::next_line`] gives it.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// A line without its newline.
    Text(&'a str),
    /// A line longer than [`MAX_LINE`]: consumed and dropped.
    TooLong,
    /// A line that is not UTF-8 (the kernel prints ASCII): dropped.
    NotText,
}

/// A line reader over any [`BufRead`] that reuses one buffer of at most [`MAX_LINE`]
/// bytes, whatever the input holds.
struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(input: R) -> Lines<R> {
        Lines {
            input,
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The number of the line last returned, counting from 1.
    fn number(&self) -> u64 {
        self.number
    }

    /// The next line, or `None` at the end of the input. A last line without a newline
    /// counts as a line.
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        let mut seen = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !seen {
                    return Ok(None);
                }
                break;
            }
            seen = true;
            let (part, used, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => (&chunk[..end], end + 1, true),
                None => (chunk, chunk.len(), false),
            };
            // Past the limit, keep consuming to the newline but stop storing.
            if !too_long {
                if self.buf.len() + part.len() > MAX_LINE {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            self.input.consume(used);
            if done {
                break;
            }
        }
        self.number += 1;
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        Ok(Some(match std::str::from_utf8(&self.buf) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::NotText,
        }))
    }
}

/// Why [`fill`] refused a value.
enum Fill {
    Twice,
    Bad,
}

/// Stores a parsed value (`None`: it did not parse) in a field that has none yet: both
/// files print each key at most once a line, so a second one means a line they did not
/// print.
fn fill<T>(field: &mut Option<T>, value: Option<T>) -> Result<(), Fill> {
    if field.is_some() {
        return Err(Fill::Twice);
    }
    *field = Some(value.ok_or(Fill::Bad)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], capacity: usize) -> Vec<String> {
        let mut lines = Lines::new(io::BufReader::with_capacity(capacity, input));
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => t.to_string(),
                other => format!("{other:?}"),
            });
        }
        out
    }

    #[test]
    fn splits_lines_whatever_the_buffer_size() {
        let long = "x".repeat(MAX_LINE + 1);
        let exact = "y".repeat(MAX_LINE);
        let input = format!("a\n\nb c\n{long}\n{exact}\n\u{e9}\nlast");
        let mut bytes = input.into_bytes();
        bytes.extend_from_slice(b"\n\xff\n");
        let want = [
            "a", "", "b c", "TooLong", &exact, "\u{e9}", "last", "NotText",
        ];
        for capacity in [1, 2, 7, 64, 8192] {
            assert_eq!(all(&bytes, capacity), want, "capacity {capacity}");
        }
    }

    #[test]
    fn last_line_without_newline_and_empty_input() {
        assert_eq!(all(b"only", 4), ["only"]);
        assert!(all(b"", 4).is_empty());
    }
}

//! The UCI file grammar, following libuci's `uci_import` (file.c) rather than a tidier
//! grammar: a config that libuci accepts must read the same here, and one it rejects
//! must fail on the same line.
//!
//! libuci reads one line at a time into a buffer; a quote left open or a trailing
//! backslash pulls the next line into the same buffer. A line holds commands separated by
//! `;`. The command word is cut at space or tab only (so `config\n` alone is an unknown
//! command), its arguments at any C `isspace` character.

use std::borrow::Cow;

/// Longest argument (type, name or value) accepted, in bytes.
pub const MAX_ARG_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement<'a> {
    /// `package <name>`: libuci validates it and ignores it when loading a file.
    Package,
    /// `config <type> [name]`; an empty name means an anonymous section.
    Config { kind: Arg<'a>, name: Arg<'a> },
    /// `option <name> [value]` (`list: false`) or `list <name> [value]` (`list: true`).
    Option {
        list: bool,
        name: Arg<'a>,
        value: Arg<'a>,
    },
}

/// An argument: borrowed from the input unless quotes, escapes or joined lines split it.
pub type Arg<'a> = Cow<'a, str>;

/// An argument while it is decoded: the input's `start..end` as long as its pieces are
/// one contiguous run of it (the usual `option name 'value'`), copied out at the first
/// piece that is not.
enum Word {
    Span(usize, usize),
    Copied(Vec<u8>),
}

impl Word {
    fn len(&self) -> usize {
        match self {
            Word::Span(start, end) => end - start,
            Word::Copied(bytes) => bytes.len(),
        }
    }
}

/// How an argument is validated, as libuci's `uci_validate_str`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Values: anything.
    Any,
    /// Section types: printable ASCII without space.
    Type,
    /// Section and option names: `[A-Za-z0-9_]`.
    Name,
    /// Package names: `[A-Za-z0-9_-]`.
    Package,
}

impl Charset {
    #[inline]
    fn allows(self, c: u8) -> bool {
        match self {
            Charset::Any => true,
            Charset::Type => c.is_ascii_graphic(),
            Charset::Name => c.is_ascii_alphanumeric() || c == b'_',
            Charset::Package => c.is_ascii_alphanumeric() || c == b'_' || c == b'-',
        }
    }
}

/// Whether libuci accepts `name` in a `package` statement.
pub fn is_package_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| Charset::Package.allows(c))
}

/// `text` with control characters escaped, to quote it in a one-line message.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// C's `isspace` in the C locale.
#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

pub struct Parser<'a> {
    source: &'a str,
    text: &'a [u8],
    /// Read position in `text`.
    pos: usize,
    /// End of the buffered input: the end of the last line read, or a `#` cut.
    end: usize,
    /// Start of the line after the buffered ones.
    next_line: usize,
    /// Number of lines read so far; errors name this line, as libuci does.
    line: usize,
    /// Line of the last command word.
    statement_line: usize,
    /// Whether a `config` has been read: options before it have no section.
    in_section: bool,
    /// Commands of the current line after a `;`.
    pending: bool,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Self {
        Parser {
            source: text,
            text: text.as_bytes(),
            pos: 0,
            end: 0,
            next_line: 0,
            line: 0,
            statement_line: 0,
            in_section: false,
            pending: false,
        }
    }

    /// The line of the statement last returned (of its command word).
    pub fn statement_line(&self) -> usize {
        self.statement_line
    }

    pub fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            line: self.line,
            message,
        }
    }

    /// Appends the next line of input to the buffer at the read position (libuci's
    /// `uci_getln`); false at end of input.
    fn read_line(&mut self) -> bool {
        if self.next_line >= self.text.len() {
            return false;
        }
        self.pos = self.next_line;
        self.end = match self.text[self.pos..].iter().position(|&c| c == b'\n') {
            Some(i) => self.pos + i + 1,
            None => self.text.len(),
        };
        self.next_line = self.end;
        self.line += 1;
        true
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.text[self.pos])
    }

    #[inline]
    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// The next statement, or `None` at end of input.
    pub fn next_statement(&mut self) -> Result<Option<Statement<'a>>, SyntaxError> {
        if self.line == 0 {
            if let Some(i) = self.text.iter().position(|&c| c == 0) {
                // libuci's C strings would silently cut the line there.
                self.line = 1 + self.text[..i].iter().filter(|&&c| c == b'\n').count();
                return Err(self.error("NUL byte in input".into()));
            }
        }
        loop {
            if !self.pending {
                if !self.read_line() {
                    return Ok(None);
                }
                self.skip_space();
                self.pending = true;
            }
            // The command word ends at space or tab only (libuci uses strtok(" \t")).
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            let start = self.pos;
            while self.peek().is_some_and(|c| c != b' ' && c != b'\t') {
                self.pos += 1;
            }
            let word = &self.text[start..self.pos];
            if word.is_empty() || word[0] == b'#' {
                self.pending = false;
                continue;
            }
            self.statement_line = self.line;
            let statement = match word {
                b"package" | b"p" => self.package()?,
                b"config" | b"c" => self.config()?,
                b"option" | b"o" => self.option(false)?,
                b"list" | b"l" => self.option(true)?,
                _ => {
                    let word = String::from_utf8_lossy(word.trim_ascii_end());
                    let message = match word.as_ref() {
                        // libuci takes the rest of the line as one more statement.
                        "" => "nothing but space after ';' or an empty argument".into(),
                        // Cut at the newline: `config\n` is not `config`.
                        "package" | "p" | "config" | "c" | "option" | "o" | "list" | "l" => {
                            format!("'{word}' without arguments")
                        }
                        _ => format!(
                            "unknown statement '{}' (expected package, config, option or list)",
                            printable(&word)
                        ),
                    };
                    return Err(self.error(message));
                }
            };
            return Ok(Some(statement));
        }
    }

    /// Steps over the separator after the command word; without one the arguments are
    /// missing.
    fn after_command(&mut self, missing: &str) -> Result<(), SyntaxError> {
        if self.peek().is_none() {
            return Err(self.error(missing.into()));
        }
        self.pos += 1;
        Ok(())
    }

    fn package(&mut self) -> Result<Statement<'a>, SyntaxError> {
        self.after_command("missing package name")?;
        self.arg(
            Some("missing package name"),
            Charset::Package,
            "package name",
        )?;
        self.end_of_statement()?;
        Ok(Statement::Package)
    }

    fn config(&mut self) -> Result<Statement<'a>, SyntaxError> {
        self.after_command("missing section type")?;
        let kind = self.arg(Some("missing section type"), Charset::Type, "section type")?;
        let name = self.arg(None, Charset::Name, "section name")?;
        self.end_of_statement()?;
        self.in_section = true;
        Ok(Statement::Config { kind, name })
    }

    fn option(&mut self, list: bool) -> Result<Statement<'a>, SyntaxError> {
        let command = if list { "list" } else { "option" };
        if !self.in_section {
            return Err(self.error(format!("{command} outside a section")));
        }
        self.after_command("missing option name")?;
        let name = self.arg(Some("missing option name"), Charset::Name, "option name")?;
        let value = self.arg(None, Charset::Any, "value")?;
        self.end_of_statement()?;
        Ok(Statement::Option { list, name, value })
    }

    /// libuci reads one more argument and rejects it unless it is empty; whatever
    /// follows an empty one is read as the next command.
    fn end_of_statement(&mut self) -> Result<(), SyntaxError> {
        let extra = self.arg(None, Charset::Any, "argument")?;
        if extra.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("unexpected argument '{}'", printable(&extra))))
        }
    }

    /// One argument; `missing` is the error for an empty one, `None` if it is optional.
    fn arg(
        &mut self,
        missing: Option<&str>,
        charset: Charset,
        what: &str,
    ) -> Result<Arg<'a>, SyntaxError> {
        self.skip_space();
        let value = if self.peek() == Some(b';') {
            self.pos += 1;
            Cow::Borrowed("")
        } else {
            // Quotes and backslashes are ASCII: a word cut from UTF-8 text is UTF-8.
            match self.word()? {
                Word::Span(start, end) => match self.source.get(start..end) {
                    Some(text) => Cow::Borrowed(text),
                    None => String::from_utf8_lossy(&self.text[start..end]),
                },
                Word::Copied(bytes) => Cow::Owned(
                    String::from_utf8(bytes)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                ),
            }
        };
        if value.is_empty() {
            return match missing {
                Some(message) => Err(self.error(message.into())),
                None => Ok(value),
            };
        }
        if !value.bytes().all(|c| charset.allows(c)) {
            let allowed = match charset {
                Charset::Any => "",
                Charset::Type => " (printable ASCII without spaces)",
                Charset::Name => " (only A-Z, a-z, 0-9 and _)",
                Charset::Package => " (only A-Z, a-z, 0-9, _ and -)",
            };
            let value = printable(&value);
            return Err(self.error(format!("invalid {what} '{value}'{allowed}")));
        }
        Ok(value)
    }

    /// Adjacent quoted and unquoted pieces make one word (libuci's `parse_str`). `#` ends
    /// it and the line. A `;` ends it too: libuci decodes in place and writes the word's
    /// terminating NUL over the `;` unless quotes or backslashes were dropped before it,
    /// so `option a b; option c d` loses the second command, `option a 'b'; ...` keeps it.
    fn word(&mut self) -> Result<Word, SyntaxError> {
        let start = self.pos;
        let mut out = Word::Span(start, start);
        let mut semicolon = false;
        loop {
            match self.peek() {
                Some(b'\'') => self.quoted(&mut out, b'\'')?,
                Some(b'"') => self.quoted(&mut out, b'"')?,
                Some(b'#') => {
                    self.end = self.pos;
                    break;
                }
                None => break,
                Some(b';') => {
                    semicolon = true;
                    if out.len() == self.pos - start {
                        self.end = self.pos;
                    }
                    break;
                }
                Some(b'\\') => {
                    if self.backslash() {
                        self.push(&mut out)?;
                    }
                }
                Some(_) => self.push_run(&mut out, |c| {
                    !is_space(c) && !matches!(c, b'\'' | b'"' | b'#' | b';' | b'\\')
                })?,
            }
            if self.peek().is_none_or(is_space) {
                break;
            }
        }
        if self.peek().is_some() && !semicolon {
            self.pos += 1;
        }
        Ok(out)
    }

    /// Appends the character at the read position and steps over it.
    fn push(&mut self, out: &mut Word) -> Result<(), SyntaxError> {
        self.append(out, 1)
    }

    /// Appends the characters from the read position on that `keep` accepts, up to the
    /// end of the buffered input, and steps over them.
    fn push_run(&mut self, out: &mut Word, keep: impl Fn(u8) -> bool) -> Result<(), SyntaxError> {
        let rest = &self.text[self.pos..self.end];
        let run = rest.iter().position(|&c| !keep(c)).unwrap_or(rest.len());
        self.append(out, run)
    }

    /// Appends the `len` characters at the read position and steps over them.
    fn append(&mut self, out: &mut Word, len: usize) -> Result<(), SyntaxError> {
        if out.len() + len > MAX_ARG_LEN {
            return Err(self.error(format!("argument longer than {MAX_ARG_LEN} bytes")));
        }
        let (at, text) = (self.pos, self.text);
        self.pos += len;
        match out {
            Word::Span(start, end) if start == end => *out = Word::Span(at, at + len),
            Word::Span(_, end) if *end == at => *end = at + len,
            Word::Span(start, end) => {
                let mut bytes = text[*start..*end].to_vec();
                bytes.extend_from_slice(&text[at..at + len]);
                *out = Word::Copied(bytes);
            }
            Word::Copied(bytes) => bytes.extend_from_slice(&text[at..at + len]),
        }
        Ok(())
    }

    /// After a backslash: whether an escaped character follows, taken literally, at
    /// the read position; false for a backslash at the end of the line, which joins the
    /// next line.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let rest = &self.text[self.pos..self.end];
        if matches!(rest, [] | [b'\n'] | [b'\r', b'\n']) {
            self.read_line();
            return false;
        }
        true
    }

    /// A quoted piece: single quotes take everything literally, double quotes honour
    /// backslashes. Either may span lines; the newlines are part of the value.
    fn quoted(&mut self, out: &mut Word, quote: u8) -> Result<(), SyntaxError> {
        let opened = self.line;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                None => {
                    if !self.read_line() {
                        let kind = if quote == b'"' { "double" } else { "single" };
                        return Err(self
                            .error(format!("unterminated {kind} quote opened on line {opened}")));
                    }
                }
                Some(b'\\') if quote == b'"' => {
                    if self.backslash() {
                        self.push(out)?;
                    }
                }
                Some(_) => self.push_run(out, |c| c != quote && !(quote == b'"' && c == b'\\'))?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(text: &str) -> Result<Vec<(usize, Statement<'_>)>, SyntaxError> {
        let mut parser = Parser::new(text);
        let mut out = Vec::new();
        while let Some(s) = parser.next_statement()? {
            out.push((parser.statement_line(), s));
        }
        Ok(out)
    }

    fn value(text: &str) -> Result<String, SyntaxError> {
        match statements(&format!("config t\noption o {text}\n"))?.pop() {
            Some((_, Statement::Option { value, .. })) => Ok(value.into_owned()),
            other => panic!("no option: {other:?}"),
        }
    }

    fn error(text: &str) -> (usize, String) {
        let e = statements(text).expect_err("should fail");
        (e.line, e.message)
    }

    #[test]
    fn quoting() {
        assert_eq!(value("plain").unwrap(), "plain");
        assert_eq!(value(r"'it'\''s'").unwrap(), "it's");
        assert_eq!(value(r#""a\"b\\c\n""#).unwrap(), r#"a"b\cn"#);
        assert_eq!(value(r"'a\b'").unwrap(), r"a\b");
        assert_eq!(value(r"a\ b").unwrap(), "a b");
        assert_eq!(value(r#"x'y z'"w""#).unwrap(), "xy zw");
        assert_eq!(value("'#;'").unwrap(), "#;");
        assert_eq!(value("''").unwrap(), "");
    }

    #[test]
    fn one_piece_arguments_borrow() {
        let s = statements("config t n\noption a 'b c'\noption d e\noption f 'g'h\n").unwrap();
        let borrowed: Vec<bool> = s
            .iter()
            .filter_map(|(_, s)| match s {
                Statement::Option { value, .. } => Some(matches!(value, Cow::Borrowed(_))),
                _ => None,
            })
            .collect();
        assert_eq!(borrowed, [true, true, false]);
        assert_eq!(value("'g'h").unwrap(), "gh");
    }

    #[test]
    fn comments_and_semicolons() {
        assert_eq!(value("a#b c").unwrap(), "a");
        assert_eq!(value("'a'#b").unwrap(), "a");
        assert_eq!(value("#b").unwrap(), "");
        let s = statements("config t 'n'; option a 'b';option c d # x\n").unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(line, _)| *line == 1));
        // A `;` right after a plain word ends the line (see `word`).
        assert_eq!(statements("config t n;option a b\n").unwrap().len(), 1);
        assert_eq!(value(r"'a'\;x").unwrap(), "a;x");
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(value("'a\nb'").unwrap(), "a\nb");
        assert_eq!(value("\"a\\\nb\"").unwrap(), "ab");
        assert_eq!(value("a\\\r\nb").unwrap(), "ab");
        let s = statements("config t\noption o 'a\nb'\noption p q\n").unwrap();
        assert_eq!(s.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 2, 4]);
    }

    #[test]
    fn crlf_and_final_line() {
        let s = statements("config t n\r\n\toption o 'v'\r\nlist l w").unwrap();
        assert_eq!(
            s[2].1,
            Statement::Option {
                list: true,
                name: "l".into(),
                value: "w".into()
            }
        );
    }

    #[test]
    fn abbreviations() {
        assert_eq!(statements("c t\no a b\nl c d\np x\n").unwrap().len(), 4);
    }

    #[test]
    fn charsets() {
        assert!(statements("config 'a-b!'\n").is_ok());
        assert_eq!(error("config 'a b'\n").0, 1);
        assert_eq!(
            error("config t a-b\n").1,
            "invalid section name 'a-b' (only A-Z, a-z, 0-9 and _)"
        );
        assert!(statements("package a-b\n").is_ok());
        assert_eq!(error("config t\noption 'o.x' v\n").0, 2);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            error("\n\noption a b\n"),
            (3, "option outside a section".into())
        );
        assert_eq!(error("config t\nlist a b c\n").1, "unexpected argument 'c'");
        assert_eq!(
            error("config t\noption a 'b\n\n"),
            (3, "unterminated single quote opened on line 2".into())
        );
        assert_eq!(error("config ''\n"), (1, "missing section type".into()));
        assert_eq!(error("config"), (1, "missing section type".into()));
        assert_eq!(error("x\n").0, 1);
        // libuci cuts the command word at space and tab only.
        assert_eq!(error("config t\noption\n").0, 2);
        assert_eq!(error("config t\0\n").1, "NUL byte in input");
        assert_eq!(
            error("config t\noption a 'b';\n").1,
            "nothing but space after ';' or an empty argument"
        );
        assert_eq!(
            error("config t\noption a 'b\nc' d\n"),
            (3, "unexpected argument 'd'".into())
        );
        assert_eq!(
            error("config t\nlist a 'b' 'c\td'\n").1,
            "unexpected argument 'c\\td'"
        );
    }

    #[test]
    fn empty_argument_ends_statement() {
        // An empty third argument passes, and what follows is the next command.
        let s = statements("config t\noption a 'b' '' o c d\n").unwrap();
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn argument_limit() {
        let long = "x".repeat(MAX_ARG_LEN + 1);
        assert!(error(&format!("config t\noption o {long}\n"))
            .1
            .contains("longer than"));
        assert_eq!(value(&"x".repeat(MAX_ARG_LEN)).unwrap().len(), MAX_ARG_LEN);
    }
}

//! Errors that stop the pipeline, each naming where the problem is.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::uci::ParseError;

/// Where in the configuration a problem was found: `file:line: section, option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    /// How `uci show` names the section (`lan`, `@zone[0]`), with its type.
    pub section: Option<String>,
    pub option: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(section) = &self.section {
            write!(f, ": {section}")?;
        }
        if let Some(option) = &self.option {
            write!(f, ", option {option}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum Error {
    /// A file or directory that had to be read could not be.
    Io { path: PathBuf, source: io::Error },
    /// A UCI file that libuci would reject too.
    Uci(ParseError),
    /// A well-formed UCI file whose content makes no sense.
    Config { at: Location, message: String },
    /// Devices whose stacking cannot be resolved (a loop, absurd depth).
    Topology { device: String, message: String },
    /// netifd's interface dump is not what netifd sends.
    Netifd {
        /// Which dump: netifd's answer, or the file it was saved to.
        dump: String,
        interface: Option<String>,
        message: String,
    },
    /// The kernel refused a batch; nothing in it took effect.
    Kernel { object: String, source: io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Exit status of the CLI for this error (documented in the README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. } => 3,
            Error::Uci(_)
            | Error::Config { .. }
            | Error::Topology { .. }
            | Error::Netifd { .. } => 1,
            Error::Kernel { .. } => 4,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Uci(e) => write!(f, "{e}"),
            Error::Config { at, message } => write!(f, "{at}: {message}"),
            Error::Topology { device, message } => write!(f, "device {device}: {message}"),
            Error::Netifd {
                dump,
                interface,
                message,
            } => {
                write!(f, "{dump}: ")?;
                if let Some(name) = interface {
                    write!(f, "interface '{name}': ")?;
                }
                write!(f, "{message}")
            }
            Error::Kernel { object, source } => {
                write!(
                    f,
                    "the kernel refused {object}: {source}; nothing was changed"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Kernel { source, .. } => Some(source),
            Error::Uci(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Uci(e)
    }
}

//! `fw4-offload`: the command line. Exit codes: 0 ok, 1 invalid configuration or
//! topology, 2 usage, 3 I/O (a file or directory that could not be read or written),
//! 4 the kernel refused the ruleset (nothing changed).

use std::ffi::OsString;
use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fw4_offload::daemon::{self, OBJECT};
use fw4_offload::error::Error;
use fw4_offload::report::{query, ApplyReport, Check, Devices, SnapshotReport, Source, Status};
use fw4_offload::stats::conntrack::Query;
use fw4_offload::stats::Sources;
use fw4_offload::topology::Netifd;
use fw4_offload::ubus::{self, call::call};
use fw4_offload::{apply, ruleset, Outcome, System};
use lexopt::ValueExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value as Json};

const USAGE: &str = "\
usage: fw4-offload [--root DIR] [--config DIR] [--netifd FILE] [--json] <command>

commands:
  print          the nftables ruleset that apply would load
  check          validate config and topology; say what is offloaded and why
  snapshot OUT   collect config, sysfs, ethtool and netifd facts into OUT for a bug report
  apply          load the ruleset in one atomic batch (hardware falls back to software)
  status         what is offloaded, in hardware or software, and why; flow and PPE counts
  flows          the offloaded flows (--limit N, --offset N, --proto tcp|udp, --hw|--sw)
  devices        how each zone device resolved into the flowtable
  daemon         the procd service: ubus object `offload`, hotplug, syslog

options:
  --root DIR     read DIR/etc/config, DIR/sys, DIR/ethtool (and DIR/netifd.json)
                 instead of this system
                 (status and flows: DIR/proc/net/nf_conntrack and DIR/sys/kernel/debug)
  --config DIR   read the UCI files from DIR (default /etc/config, or DIR/etc/config)
  --netifd FILE  netifd's view: `ubus call network.interface dump` saved to FILE; the
                 interfaces it reports up run on the devices it names
  --json         machine-readable output
  --dry-run      apply: let the kernel check the batch, then discard it
  -s PATH        ubusd's socket (default /var/run/ubus/ubus.sock); status, flows and
                 devices ask the daemon there and compute the answer themselves when it
                 does not run
  --syslog PATH  daemon: the syslog socket (default /dev/log; stderr when absent)
  --debounce MS  daemon: quiet time that ends a burst of link events (default 500)
";

/// How long the CLI waits for the daemon's answer (a `status` reads all of conntrack).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

enum Command {
    Print,
    Check,
    Snapshot(PathBuf),
    Apply,
    Status,
    Flows,
    Devices,
    Daemon,
}

struct Args {
    root: Option<PathBuf>,
    config: Option<PathBuf>,
    netifd: Option<PathBuf>,
    json: bool,
    dry_run: bool,
    /// `flows` filters, checked.
    query: Query,
    daemon: daemon::Options,
    command: Command,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut root, mut config, mut netifd) = (None, None, None);
    let mut operands = Vec::new();
    let (mut json, mut dry_run) = (false, false);
    let (mut limit, mut offset, mut proto, mut hw) = (None, None, None, None);
    let mut daemon = daemon::Options::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("root") => root = Some(parser.value()?.into()),
            Long("config") => config = Some(parser.value()?.into()),
            Long("netifd") => netifd = Some(parser.value()?.into()),
            Long("json") => json = true,
            Long("dry-run") => dry_run = true,
            Short('s') => daemon.ubus = parser.value()?.into(),
            Long("syslog") => daemon.syslog = parser.value()?.into(),
            Long("debounce") => {
                daemon.debounce = Duration::from_millis(parser.value()?.parse()?);
            }
            Long("limit") => limit = Some(parser.value()?.parse()?),
            Long("offset") => offset = Some(parser.value()?.parse()?),
            Long("proto") => proto = Some(parser.value()?.string()?),
            Long("hw") => hw = Some(true),
            Long("sw") => hw = Some(false),
            Short('h') | Long("help") => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            // Options may follow the command, and its operand: `snapshot --json OUT`.
            Value(v) => operands.push(v),
            _ => return Err(arg.unexpected()),
        }
    }
    let command = command(operands)?;
    let query = query::from_args(limit, offset, proto.as_deref(), hw).map_err(|e| e.to_string())?;
    Ok(Args {
        root,
        config,
        netifd,
        json,
        dry_run,
        query,
        daemon,
        command,
    })
}

/// The command and its operands: `snapshot` takes the output directory, the others none.
fn command(operands: Vec<OsString>) -> Result<Command, lexopt::Error> {
    let mut operands = operands.into_iter();
    let name = operands.next().ok_or("no command given")?.string()?;
    let command = match name.as_str() {
        "print" => Command::Print,
        "check" => Command::Check,
        "snapshot" => Command::Snapshot(
            operands
                .next()
                .ok_or("snapshot: no output directory given")?
                .into(),
        ),
        "apply" => Command::Apply,
        "status" => Command::Status,
        "flows" => Command::Flows,
        "devices" => Command::Devices,
        "daemon" => Command::Daemon,
        other => return Err(format!("unknown command '{other}'").into()),
    };
    match operands.next() {
        Some(extra) => Err(format!("{name}: unexpected argument {extra:?}").into()),
        None => Ok(command),
    }
}

impl Args {
    /// Where the statistics come from: this system, or the snapshot `--root` names.
    fn sources(&self) -> Sources {
        self.root
            .as_deref()
            .map_or_else(Sources::live, Sources::under)
    }
}

/// Asks the running daemon; `None` when it does not run (no ubusd, or no object
/// `offload` on it), so the caller computes the answer itself.
fn ask_daemon(args: &Args, method: &str) -> Option<Result<Json, Error>> {
    if args.root.is_some() || args.config.is_some() || args.netifd.is_some() {
        return None; // the daemon knows this system only
    }
    let params = match method {
        "flows" => query::to_ubus(&args.query),
        _ => Map::new(),
    };
    match call(&args.daemon.ubus, OBJECT, method, &params, CALL_TIMEOUT) {
        Ok(data) => Some(Ok(Json::Object(data))),
        Err(ubus::Error::Io(_)) | Err(ubus::Error::Status(ubus::message::Status::NotFound)) => None,
        Err(e) => Some(Err(Error::io(&args.daemon.ubus, std::io::Error::other(e)))),
    }
}

/// `status`, `flows` or `devices`: the daemon's answer when it runs, else `compute`'s.
/// With `--json` a daemon's answer is printed as it came; for text it is read back into
/// the report it was made from.
fn ask<R>(
    args: &Args,
    method: &str,
    compute: impl FnOnce() -> Result<R, Error>,
) -> Result<String, Error>
where
    R: Serialize + DeserializeOwned + Display,
{
    let report: R = match ask_daemon(args, method) {
        None => compute()?,
        Some(answer) if args.json => return answer.map(|json| to_json(&json)),
        Some(answer) => serde_json::from_value(answer?).map_err(|e| {
            let e = io::Error::new(io::ErrorKind::InvalidData, format!("{method} answer: {e}"));
            Error::io(&args.daemon.ubus, e)
        })?,
    };
    Ok(output(args, &report))
}

/// The pipeline up to the ruleset, for `print` and `check`, whose output ends the
/// process. What the run read and built is left for the exit to free, all at once: freed
/// one allocation after another, a large router's links, branches and plans are a
/// seventh of `print`'s work (1.8 of 12.4 million instructions at 50 zones). Compilers
/// do the same (clang's -disable-free).
fn run_to_exit(system: &System) -> Result<&'static Outcome, Error> {
    let inputs = Box::leak(Box::new(system.read()?));
    Ok(Box::leak(Box::new(inputs.outcome())))
}

/// `status` computed here, as the daemon would answer.
fn status(args: &Args, system: &System) -> Result<Status, Error> {
    let outcome = system.run()?;
    // A snapshot has no kernel to ask.
    let loaded = match args.root {
        Some(_) => Err("a snapshot has no kernel state".to_string()),
        None => apply::inspect(&outcome.ruleset).map_err(|e| e.to_string()),
    };
    let sources = args.sources();
    Ok(Status::gather(
        Source::Cli,
        &outcome.plan,
        loaded,
        &sources,
        None,
    ))
}

/// A report as `--json` or as text. Its JSON keys come out sorted, as in the daemon's
/// answers (a ubus table is written from a JSON map), so a script sees the same text
/// whoever answered.
fn output(args: &Args, report: &(impl Serialize + Display)) -> String {
    match args.json {
        true => to_json(&serde_json::to_value(report).expect("plain data serializes")),
        false => report.to_string(),
    }
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("plain data serializes") + "\n"
}

fn main() -> ExitCode {
    let mut args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fw4-offload: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut system = match &args.root {
        Some(dir) => System::snapshot(dir),
        None => System::live(),
    };
    if let Some(dir) = args.config.clone() {
        system.config_dir = dir;
    }
    // A snapshot carries netifd's view when its router had one.
    let netifd_file = args.netifd.clone().or_else(|| {
        let file = args.root.as_ref()?.join("netifd.json");
        file.exists().then_some(file)
    });
    if let Some(file) = &netifd_file {
        match Netifd::read(file) {
            Ok(netifd) => system.netifd = Some(netifd),
            Err(e) => return failed(e),
        }
    }
    let result = match &args.command {
        Command::Status => ask(&args, "status", || status(&args, &system)),
        Command::Flows => ask(&args, "flows", || {
            let sources = args.sources();
            sources
                .flows(&args.query)
                .map_err(|e| Error::io("conntrack", io::Error::other(e)))
        }),
        Command::Devices => ask(&args, "devices", || {
            let devices = system.run()?.plan.devices;
            Ok(Devices { devices })
        }),
        Command::Daemon => {
            let sources = args.sources();
            let options = std::mem::take(&mut args.daemon);
            return match daemon::run(system, sources, options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fw4-offload: daemon: {e}");
                    ExitCode::from(3)
                }
            };
        }
        Command::Print => run_to_exit(&system).map(|outcome| {
            if args.json {
                return to_json(&outcome.ruleset);
            }
            for w in &outcome.warnings {
                eprintln!("fw4-offload: warning: {}: {}", w.at, w.message);
            }
            ruleset::render(&outcome.ruleset)
        }),
        Command::Check => run_to_exit(&system).map(|outcome| {
            // A snapshot has no kernel to ask; a live system says what is really loaded.
            let loaded = args
                .root
                .is_none()
                .then(|| apply::inspect(&outcome.ruleset).into());
            output(&args, &Check { outcome, loaded })
        }),
        Command::Apply => system
            .read()
            .and_then(|inputs| apply::apply(|refusal| inputs.plan(refusal), args.dry_run, None))
            .map(|applied| {
                // In the order of its fields, as `print --json` and the golden outcomes.
                let report = ApplyReport::new(&applied);
                match args.json {
                    true => to_json(&report),
                    false => report.to_string(),
                }
            }),
        Command::Snapshot(out) => {
            // netifd's view, when this is a router with ubusd and netifd running.
            let netifd = match args.root {
                Some(_) => None,
                None => call(
                    &args.daemon.ubus,
                    "network.interface",
                    "dump",
                    &Map::new(),
                    CALL_TIMEOUT,
                )
                .ok(),
            };
            fw4_offload::snapshot::collect(&system, out, netifd.as_ref()).map(|devices| {
                let report = SnapshotReport {
                    path: out.clone(),
                    devices,
                    netifd: netifd.is_some(),
                };
                output(&args, &report)
            })
        }
    };
    match result {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

fn failed(e: Error) -> ExitCode {
    eprintln!("fw4-offload: {e}");
    ExitCode::from(e.exit_code() as u8)
}

//! `fw4-offload`: the command line. Exit codes: 0 ok, 1 invalid configuration or
//! topology, 2 usage, 3 I/O (a file or directory that could not be read or written),
//! 4 the kernel refused the ruleset (nothing changed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use fw4_offload::error::Error;
use fw4_offload::topology::Netifd;
use fw4_offload::{apply, report, ruleset, System};

const USAGE: &str = "\
usage: fw4-offload [--root DIR] [--config DIR] [--netifd FILE] [--json] <command>

commands:
  print          the nftables ruleset that apply would load
  check          validate config and topology; say what is offloaded and why
  snapshot OUT   collect config, sysfs and ethtool facts into OUT for a bug report
  apply          load the ruleset in one atomic batch (hardware falls back to software)

options:
  --root DIR     read DIR/etc/config, DIR/sys and DIR/ethtool instead of this system
  --config DIR   read the UCI files from DIR (default /etc/config, or DIR/etc/config)
  --netifd FILE  netifd's view: `ubus call network.interface dump` saved to FILE; the
                 interfaces it reports up run on the devices it names
  --json         machine-readable output
  --dry-run      apply: let the kernel check the batch, then discard it
";

enum Command {
    Print,
    Check,
    Snapshot(PathBuf),
    Apply,
}

struct Args {
    root: Option<PathBuf>,
    config: Option<PathBuf>,
    netifd: Option<PathBuf>,
    json: bool,
    dry_run: bool,
    command: Command,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut root, mut config, mut netifd, mut command) = (None, None, None, None);
    let (mut json, mut dry_run) = (false, false);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("root") => root = Some(parser.value()?.into()),
            Long("config") => config = Some(parser.value()?.into()),
            Long("netifd") => netifd = Some(parser.value()?.into()),
            Long("json") => json = true,
            Long("dry-run") => dry_run = true,
            Short('h') | Long("help") => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            Value(v) if command.is_none() => {
                command = Some(match v.string()?.as_str() {
                    "print" => Command::Print,
                    "check" => Command::Check,
                    "snapshot" => Command::Snapshot(parser.value()?.into()),
                    "apply" => Command::Apply,
                    other => return Err(format!("unknown command '{other}'").into()),
                });
            }
            _ => return Err(arg.unexpected()),
        }
    }
    let command = command.ok_or("no command given")?;
    Ok(Args {
        root,
        config,
        netifd,
        json,
        dry_run,
        command,
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("plain data serializes") + "\n"
}

fn main() -> ExitCode {
    let args = match parse_args() {
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
    if let Some(file) = &args.netifd {
        match Netifd::read(file) {
            Ok(netifd) => system.netifd = Some(netifd),
            Err(e) => return failed(e),
        }
    }
    let result = match &args.command {
        Command::Print => system.run().map(|outcome| {
            if args.json {
                return to_json(&outcome.ruleset);
            }
            for w in &outcome.warnings {
                eprintln!("fw4-offload: warning: {}: {}", w.at, w.message);
            }
            ruleset::render(&outcome.ruleset)
        }),
        Command::Check => system.run().map(|outcome| {
            // A snapshot has no kernel to ask; a live system says what is really loaded.
            let loaded = args
                .root
                .is_none()
                .then(|| apply::inspect(&outcome.ruleset));
            match args.json {
                true => to_json(&serde_json::json!({
                    "outcome": outcome,
                    "loaded": loaded.as_ref().map(|l| match l {
                        Ok(loaded) => serde_json::json!(loaded),
                        Err(e) => serde_json::json!({ "error": e.to_string() }),
                    }),
                })),
                false => {
                    report::render_check(&outcome)
                        + &loaded.as_ref().map_or(String::new(), report::render_loaded)
                }
            }
        }),
        Command::Apply => system
            .run()
            .and_then(|outcome| apply::apply(outcome, args.dry_run))
            .map(|applied| match args.json {
                true => to_json(&applied),
                false => report::render_applied(&applied),
            }),
        Command::Snapshot(out) => {
            fw4_offload::snapshot::collect(&system, out).map(|devices| match args.json {
                true => to_json(&serde_json::json!({ "path": out, "devices": devices })),
                false => format!(
                    "snapshot of {devices} devices written to {}\n",
                    out.display()
                ),
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

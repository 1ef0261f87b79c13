//! The `taizhang` program: the command line over the log.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use taizhang::ops;
use taizhang::store::{Log, SledLog};

#[derive(Parser)]
#[command(
    name = "taizhang",
    version,
    about = "A verifiable, event-sourced work ledger (台账)"
)]
struct Cli {
    /// The store's directory.
    #[arg(
        long,
        global = true,
        env = "TAIZHANG_DATA",
        default_value = "./taizhang-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a store and its checkpoint signing key; print the verifier key.
    Init {
        /// The log's origin line, e.g. wuzhou.example/taizhang (never changes).
        #[arg(long)]
        origin: String,
    },
    /// Append one import-format line, or a JSON array of them, as one atomic batch.
    Append {
        /// Who appends (the `actor` of the events).
        #[arg(long, default_value = "cli")]
        actor: String,
        /// File holding the line or array; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import a JSON Lines file (formats.md §5): validated whole, appended atomically.
    Import {
        /// Who appends (the `actor` of the events).
        #[arg(long, default_value = "cli")]
        actor: String,
        /// The JSON Lines file.
        file: PathBuf,
    },
    /// Write the export (formats.md §5) of the first N events to standard output.
    Export {
        /// Number of events (default: all).
        #[arg(long)]
        size: Option<u64>,
    },
    /// List events.
    Log {
        /// Only this stream, e.g. posting/P-2016-CX-01.
        #[arg(long)]
        stream: Option<String>,
        /// First position (or stream version with --stream).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most events to list.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// One export line (JSON) per event.
        #[arg(long)]
        json: bool,
    },
    /// Sign and print a checkpoint of the current size.
    Checkpoint,
    /// Print the checkpoint verifier key.
    Key,
    /// Print an inclusion or consistency proof (formats.md §3).
    Prove {
        #[command(subcommand)]
        proof: ProveCommand,
    },
    /// Reread every record, recompute every leaf and the root, check every checkpoint.
    Verify,
    /// Measure appends, reads, verification, proofs and size on fresh temporary stores.
    Bench {
        /// Events per batched measurement.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Runs per measurement (the median is printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

#[derive(Subcommand)]
enum ProveCommand {
    /// Proof that the event at INDEX is in the tree of size N.
    Inclusion {
        /// The event's position.
        #[arg(long)]
        index: u64,
        /// Tree size (default: the log's size).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Proof that the tree of size FIRST is a prefix of the tree of size SECOND.
    Consistency {
        /// The earlier size.
        #[arg(long)]
        first: u64,
        /// The later size (default: the log's size).
        #[arg(long)]
        second: Option<u64>,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn open(data: &std::path::Path) -> Result<SledLog> {
    Ok(SledLog::open(data)?)
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({per_sec}, {eta})")
            .expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar
}

fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match cli.command {
        Command::Init { origin } => {
            let log = SledLog::init(&cli.data, &origin, false)?;
            writeln!(out, "{}", log.verifier_key())?;
        }
        Command::Append { actor, file, json } => {
            let mut text = String::new();
            match file.as_deref().filter(|f| f.as_os_str() != "-") {
                Some(f) => {
                    text = std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?
                }
                None => {
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading standard input")?;
                }
            }
            let events = ops::parse_append(&text)?;
            let log = open(&cli.data)?;
            let appended = log.append(events, &actor, taizhang::store::Source::Client, None)?;
            for a in &appended {
                if json {
                    let v = serde_json::json!({"position": a.position, "event_id": a.event_id.to_string(), "stream": a.stream, "stream_version": a.stream_version, "recorded_at": a.recorded_at.to_string(), "written": a.written});
                    writeln!(out, "{v}")?;
                } else {
                    writeln!(
                        out,
                        "{}{}",
                        a.position,
                        if a.written {
                            ""
                        } else {
                            " (already in the log)"
                        }
                    )?;
                }
            }
        }
        Command::Import { actor, file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let bar = progress_bar(bytes.len() as u64, "checking");
            let parsed = ops::parse_import(&bytes, |done| bar.set_position(done as u64))
                .with_context(|| {
                    format!("{} was not imported, nothing was appended", file.display())
                })?;
            bar.finish_and_clear();
            let log = open(&cli.data)?;
            let n = parsed.events.len();
            let appended = ops::import(&log, parsed, &actor).with_context(|| {
                format!("{} was not imported, nothing was appended", file.display())
            })?;
            let new: Vec<u64> = appended
                .iter()
                .filter(|a| a.written)
                .map(|a| a.position)
                .collect();
            match (new.first(), new.last()) {
                (Some(a), Some(b)) => writeln!(out, "imported {n} events: {} appended at positions {a}..={b}, {} already in the log", new.len(), n - new.len())?,
                _ => writeln!(out, "imported {n} events: all already in the log, nothing appended")?,
            }
        }
        Command::Export { size } => {
            let log = open(&cli.data)?;
            let size = size.unwrap_or(log.size());
            if size > log.size() {
                bail!("--size {size} is beyond the log's {} events", log.size());
            }
            ops::export(&log, size, &mut out)?;
        }
        Command::Log {
            stream,
            from,
            limit,
            json,
        } => {
            let log = open(&cli.data)?;
            let events: Vec<events::RecordedEvent> = match stream {
                Some(s) => log.read_stream(&s, from, limit)?,
                None => log
                    .read(from, from.saturating_add(limit))
                    .map(|r| r.map(|r| r.event))
                    .collect::<Result<_, _>>()?,
            };
            for ev in events {
                if json {
                    writeln!(out, "{}", ev.export_line())?;
                } else {
                    writeln!(
                        out,
                        "{:>8}  {}  {:<28} {}@{}  {}  {}",
                        ev.position,
                        ev.recorded_at,
                        ev.event_type().as_str(),
                        ev.stream,
                        ev.stream_version,
                        ev.occurred_on,
                        ev.actor
                    )?;
                }
            }
        }
        Command::Checkpoint => {
            let log = open(&cli.data)?;
            write!(out, "{}", log.sign_checkpoint()?)?;
        }
        Command::Key => {
            let log = open(&cli.data)?;
            writeln!(out, "{}", log.verifier_key())?;
        }
        Command::Prove { proof } => {
            let log = open(&cli.data)?;
            let json = match proof {
                ProveCommand::Inclusion { index, size } => {
                    serde_json::to_string(&log.inclusion_proof(index, size.unwrap_or(log.size()))?)?
                }
                ProveCommand::Consistency { first, second } => serde_json::to_string(
                    &log.consistency_proof(first, second.unwrap_or(log.size()))?,
                )?,
            };
            writeln!(out, "{json}")?;
        }
        Command::Bench { events, runs } => {
            taizhang::bench::run(&taizhang::bench::BenchConfig { events, runs }, &mut out)?;
        }
        Command::Verify => {
            let log = open(&cli.data).context("verify failed")?;
            let bar = progress_bar(log.size(), "verifying");
            let v = ops::verify(&log, |p| bar.set_position(p)).context("verify failed")?;
            bar.finish_and_clear();
            writeln!(
                out,
                "ok: {} events, root {}, {} checkpoints",
                v.size,
                hex::encode(v.root),
                v.checkpoints
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

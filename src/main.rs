//! The `taizhang` program: the command line over the log.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use taizhang::store::{Log, SledLog};
use taizhang::{ops, render, reviews};

#[derive(Parser)]
#[command(
    name = "taizhang",
    version,
    about = "A verifiable, event-sourced work ledger (台账)"
)]
struct Cli {
    /// The store's directory [default: ./taizhang-data; ./taizhang-demo for `demo`].
    #[arg(long, global = true, env = "TAIZHANG_DATA")]
    data: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: Command,
}

/// Where a command sends its work: the local store, or a server.
#[derive(clap::Args, Clone)]
struct Remote {
    /// Send the command to this server (e.g. http://127.0.0.1:7411) instead of opening the store.
    #[arg(long, global = true, env = "TAIZHANG_SERVER")]
    server: Option<String>,
    /// The bearer token for --server (made with `taizhang token add`).
    #[arg(long, global = true, env = "TAIZHANG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where `verify --server` keeps the last checkpoint it verified, per origin
    /// (default ~/.config/taizhang/trust).
    #[arg(long, global = true, env = "TAIZHANG_TRUST_DIR")]
    trust_dir: Option<PathBuf>,
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
    /// Print a ledger (台账), as of any point of the log.
    Ledger {
        /// Which ledger.
        #[arg(value_enum)]
        name: LedgerName,
        /// Only this village.
        #[arg(long)]
        village: Option<String>,
        /// Only this posting.
        #[arg(long)]
        posting: Option<String>,
        #[command(flatten)]
        at: AsOf,
        /// Judge calendar statuses (overdue…) on this date instead of the last event's.
        #[arg(long)]
        on: Option<events::Date>,
        #[command(flatten)]
        output: Output,
    },
    /// Every event of a subject, in log order, retracted ones marked.
    Timeline {
        /// village/V, posting/P, commitment/C, project/X, pledge/D, evaluation/E, inspection/I, contract/K, policy/ID, review/ID, person/ID, donor/ID.
        subject: String,
        #[command(flatten)]
        at: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Audit views: retractions, late entries, deadline extensions, anomalies, implausible evaluations.
    Audit {
        /// Which view.
        #[arg(value_enum)]
        view: AuditView,
        /// An entry is late when recorded more than this many days after its date.
        #[arg(long, default_value_t = projections::audit::LATE_AFTER_DAYS_DEFAULT)]
        late_after_days: i64,
        #[command(flatten)]
        at: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Reviews (考核): show, seal, verify, bundle.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Scoring policies: adopt one, show those in force.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Build a demo city (a fresh simulated-clock store), print its totals, seal and print its
    /// review, and verify everything.
    Demo {
        /// Seed of the generated city.
        #[arg(long, default_value_t = 2016)]
        seed: u64,
    },
    /// Serve the store over HTTP (see README, "Running a server").
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7411")]
        listen: std::net::SocketAddr,
    },
    /// Manage the server's bearer tokens (works while a server runs).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Measure appends, reads, verification, proofs and size on fresh temporary stores.
    Bench {
        #[command(subcommand)]
        target: Option<BenchTarget>,
        /// Events per batched measurement.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Runs per measurement (the median is printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Least events of the generated history the ledger measurements run on (0: skip them).
        #[arg(long, default_value_t = 1_000_000)]
        history_events: u64,
    },
}

/// A point of the log: the first N events, or every event recorded up to an instant.
#[derive(clap::Args, Clone, Copy)]
struct AsOf {
    /// As of the first N events.
    #[arg(long)]
    size: Option<u64>,
    /// As of an instant: every event recorded up to then, e.g. 2016-12-31T16:00:00Z.
    #[arg(long)]
    as_of: Option<events::Timestamp>,
}

/// How results are printed.
#[derive(clap::Args, Clone, Copy)]
struct Output {
    /// JSON (one object per line).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV with a header line.
    #[arg(long)]
    csv: bool,
}

impl Output {
    fn format(self) -> render::Format {
        if self.json {
            render::Format::Json
        } else if self.csv {
            render::Format::Csv
        } else {
            render::Format::Table
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LedgerName {
    Commitments,
    Projects,
    Donations,
    Donors,
    Disbursements,
    Evaluations,
    Inspections,
    Attendance,
    SpotChecks,
    Contracts,
    Postings,
    Team,
    Villages,
    Totals,
    Anomalies,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditView {
    Retractions,
    Late,
    Extensions,
    Anomalies,
    Evaluations,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Compute a review: the summary, then one line per posting.
    Show {
        /// First day of the period.
        #[arg(long)]
        start: events::Date,
        /// Last day of the period.
        #[arg(long)]
        end: events::Date,
        #[command(flatten)]
        at: AsOf,
        /// Use this policy document instead of the one the log selects.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Print exactly the result document (JCS) and a newline.
        #[arg(long)]
        json: bool,
    },
    /// Compute the review over the whole log and seal it into the log.
    Seal {
        /// First day of the period.
        #[arg(long)]
        start: events::Date,
        /// Last day of the period.
        #[arg(long)]
        end: events::Date,
        /// The review's id, e.g. 2016-annual.
        #[arg(long)]
        id: String,
        /// Who seals (the `actor` of the seal).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Rebuild a sealed review from its log prefix and check it against the seal.
    Verify {
        /// The review's id.
        #[arg(long)]
        id: String,
    },
    /// Print a self-contained bundle of a sealed review for an auditor.
    Bundle {
        /// The review's id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Append a `PolicyAdopted` with the policy document in FILE.
    Adopt {
        /// The policy document (JSON).
        file: PathBuf,
        /// The policy's id.
        #[arg(long)]
        id: String,
        /// First period start it applies to.
        #[arg(long)]
        effective_from: events::Date,
        /// Who adopts it.
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// List the built-in and adopted policies, with their hashes.
    Show {
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token and print it (once: only its hash is kept).
    Add {
        /// Its name: the actor of every event it appends.
        #[arg(long)]
        name: String,
        /// recorder, inspector, reviewer, auditor or admin.
        #[arg(long)]
        role: taizhang::store::tokens::Role,
        /// For a recorder: a village it may record for (repeat; none: every village).
        #[arg(long = "village")]
        villages: Vec<String>,
    },
    /// List the tokens (names, roles, villages; never the tokens).
    List,
    /// Revoke a token: a running server refuses it from its next request on.
    Revoke {
        /// Its name.
        name: String,
    },
}

#[derive(Subcommand)]
enum BenchTarget {
    /// Appends over HTTP to a server on loopback that the bench starts itself.
    Http {
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds per measurement (single-event, then 100-event requests).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
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

/// The log a command works on, chosen once: the local store or a server.
enum Backend {
    Local(SledLog),
    Remote(taizhang::client::RemoteLog),
}

impl std::ops::Deref for Backend {
    type Target = dyn Log;
    fn deref(&self) -> &(dyn Log + 'static) {
        match self {
            Backend::Local(l) => l,
            Backend::Remote(r) => r,
        }
    }
}

fn open(data: &std::path::Path, remote: &Remote) -> Result<Backend> {
    match &remote.server {
        None => Ok(Backend::Local(open_local(data)?)),
        Some(url) => {
            let token = remote
                .token
                .as_deref()
                .context("--server needs --token (or $TAIZHANG_TOKEN)")?;
            Ok(Backend::Remote(
                taizhang::client::RemoteLog::connect(url, token)
                    .with_context(|| format!("connecting to {url}"))?,
            ))
        }
    }
}

/// Runs `taizhang serve` until SIGTERM or Ctrl-C, then closes the store.
fn serve(data: &std::path::Path, listen: std::net::SocketAddr, out: &mut dyn Write) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TAIZHANG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let log = std::sync::Arc::new(open_local(data)?);
    if log.info().simulated_clock {
        bail!("{} is a demo store (its recorded_at times come from a simulated clock): a server records with the real clock; serve a store made with `taizhang init`", data.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
        let server = taizhang::server::Server::new(log.clone(), Default::default())?;
        server.serve(listener, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    // Connections still open after the shutdown grace are dropped with the runtime's tasks;
    // the store's reads in the blocking pool are short.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    // Every append the writer accepted is finished by close, and synced.
    log.close();
    tracing::info!(
        size = log.size(),
        "stopped; every acknowledged append is durable"
    );
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

fn open_local(data: &std::path::Path) -> Result<SledLog> {
    let log = SledLog::open(data)?;
    if log.info().simulated_clock {
        // On standard error, so that what a program reads on standard output stays exact.
        eprintln!(
            "note: {} is a demo store: its recorded_at times come from a simulated clock",
            data.display()
        );
    }
    Ok(log)
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
    let default_dir = if matches!(cli.command, Command::Demo { .. }) {
        "./taizhang-demo"
    } else {
        "./taizhang-data"
    };
    let data = cli
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_dir));
    if cli.remote.server.is_some() {
        let actor = match &cli.command {
            Command::Append { actor, .. } | Command::Import { actor, .. } => Some(actor),
            Command::Policy {
                command: PolicyCommand::Adopt { actor, .. },
            } => Some(actor),
            Command::Review {
                command: ReviewCommand::Seal { actor, .. },
            } => Some(actor),
            _ => None,
        };
        if let Some(actor) = actor.filter(|a| a.as_str() != "cli") {
            // On standard error, so that what a program reads on standard output stays exact.
            eprintln!("note: --actor {actor} is ignored with --server: the server records the token's name as the actor");
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match cli.command {
        Command::Init { origin } => {
            let log = SledLog::init(&data, &origin, false)?;
            writeln!(out, "{}", log.verifier_key())?;
        }
        Command::Append { actor, file, json } => {
            let mut bytes = Vec::new();
            match file.as_deref().filter(|f| f.as_os_str() != "-") {
                Some(f) => {
                    bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?
                }
                None => {
                    std::io::stdin()
                        .read_to_end(&mut bytes)
                        .context("reading standard input")?;
                }
            }
            // Read as bytes, so that bad UTF-8 is refused as `import` refuses it: naming the
            // line and the byte, not as a failed read.
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "line: is not valid UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                )
            })?;
            let events = ops::parse_append(&text)?;
            let log = open(&data, &cli.remote)?;
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
            let log = open(&data, &cli.remote)?;
            let n = parsed.events.len();
            let appended = ops::import(&*log, parsed, &actor).map_err(|e| {
                let context = match &e {
                    // The write failed: whether the batch is in the log is known once the
                    // store reopens. The events' ids come from the file, so importing it
                    // again is safe either way.
                    ops::ImportError::Append(taizhang::store::AppendError::Io(_)) => format!(
                        "{} was not imported; once the store opens again, import the file \
                         again: it appends only what is not in the log",
                        file.display()
                    ),
                    _ => format!("{} was not imported, nothing was appended", file.display()),
                };
                anyhow::Error::new(e).context(context)
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
            let log = open(&data, &cli.remote)?;
            let size = size.unwrap_or(log.size());
            if size > log.size() {
                bail!("--size {size} is beyond the log's {} events", log.size());
            }
            ops::export(&*log, size, &mut out)?;
        }
        Command::Log {
            stream,
            from,
            limit,
            json,
        } => {
            let log = open(&data, &cli.remote)?;
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
            let log = open(&data, &cli.remote)?;
            write!(out, "{}", log.sign_checkpoint()?)?;
        }
        Command::Key => {
            let log = open(&data, &cli.remote)?;
            writeln!(out, "{}", log.verifier_key())?;
        }
        Command::Prove { proof } => {
            let log = open(&data, &cli.remote)?;
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
        Command::Ledger {
            name,
            village,
            posting,
            at,
            on,
            output,
        } => {
            let log = open(&data, &cli.remote)?;
            let size = reviews::resolve_size(&*log, at.size, at.as_of)?;
            // One village: read only its events (an index), not the whole log.
            let report = match &village {
                Some(v) if !matches!(name, LedgerName::Totals | LedgerName::Donors) => {
                    let (ledgers, reference) = reviews::village_ledgers(&*log, size, v)?;
                    ledgers.report(on.or(reference))
                }
                _ => reviews::ledgers(&*log, size)?.report(on),
            };
            print_ledger(
                &mut out,
                &report,
                name,
                village.as_deref(),
                posting.as_deref(),
                output.format(),
            )?;
        }
        Command::Timeline {
            subject,
            at,
            output,
        } => {
            if !subject.contains('/') {
                bail!("a subject is KIND/ID, e.g. village/CX-BT-LF or posting/P-2016-CX-01");
            }
            let log = open(&data, &cli.remote)?;
            let entries = reviews::timeline(
                &*log,
                reviews::resolve_size(&*log, at.size, at.as_of)?,
                &subject,
            )?;
            if output.format() == render::Format::Table {
                let names: Vec<String> = [
                    "position",
                    "recorded_at",
                    "occurred_on",
                    "type",
                    "actor",
                    "retracted",
                    "payload",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let cells: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        let mark = match e.retracted_at_position {
                            Some(p) => format!("retracted at {p}"),
                            None => String::new(),
                        };
                        vec![
                            e.position.to_string(),
                            e.recorded_at.to_string(),
                            e.occurred_on.to_string(),
                            e.event_type.clone(),
                            e.actor.clone(),
                            mark,
                            e.payload.to_string(),
                        ]
                    })
                    .collect();
                if cells.is_empty() {
                    writeln!(out, "no event names {subject}")?;
                } else {
                    render::aligned(&mut out, &names, &cells)?;
                }
            } else {
                render::rows(&mut out, &entries, output.format())?;
            }
        }
        Command::Audit {
            view,
            late_after_days,
            at,
            output,
        } => {
            if late_after_days < 0 {
                bail!("--late-after-days must be 0 or more");
            }
            let log = open(&data, &cli.remote)?;
            let views = reviews::audit(
                &*log,
                reviews::resolve_size(&*log, at.size, at.as_of)?,
                late_after_days,
            )?;
            let f = output.format();
            match view {
                AuditView::Retractions => render::rows(&mut out, &views.retractions, f)?,
                AuditView::Late => render::rows(&mut out, &views.late_entries, f)?,
                AuditView::Extensions => render::rows(&mut out, &views.extensions, f)?,
                AuditView::Anomalies => render::rows(&mut out, &views.anomalies, f)?,
                AuditView::Evaluations => {
                    render::rows(&mut out, &views.implausible_evaluations, f)?
                }
            }
        }
        Command::Review { command } => review_command(&data, &cli.remote, &mut out, command)?,
        Command::Serve { listen } => serve(&data, listen, &mut out)?,
        Command::Token { command } => {
            use taizhang::store::tokens;
            match command {
                TokenCommand::Add {
                    name,
                    role,
                    villages,
                } => {
                    let token = tokens::add(&data, &name, role, &villages)?;
                    writeln!(out, "{token}")?;
                    eprintln!("token {name} ({role}) made; it is shown only now: keep it");
                }
                TokenCommand::List => {
                    #[derive(serde::Serialize)]
                    struct Row<'a> {
                        name: &'a str,
                        role: &'a str,
                        villages: String,
                        created_at: &'a str,
                    }
                    let t = tokens::load(&data)?;
                    let rows: Vec<Row> = t
                        .entries()
                        .iter()
                        .map(|e| Row {
                            name: &e.name,
                            role: e.role.as_str(),
                            villages: e.villages.iter().cloned().collect::<Vec<_>>().join(" "),
                            created_at: &e.created_at,
                        })
                        .collect();
                    render::rows(&mut out, &rows, render::Format::Table)?;
                }
                TokenCommand::Revoke { name } => {
                    tokens::revoke(&data, &name)?;
                    writeln!(out, "token {name} revoked")?;
                }
            }
        }
        Command::Policy { command } => match command {
            PolicyCommand::Adopt {
                file,
                id,
                effective_from,
                actor,
            } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let policy = events::Policy::from_json(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let policy_id =
                    events::Id::new(id.as_str()).map_err(|e| anyhow::anyhow!("--id: {e}"))?;
                let log = open(&data, &cli.remote)?;
                let payload = events::Payload::PolicyAdopted(events::payload::PolicyAdopted {
                    policy_id,
                    effective_from,
                    policy,
                });
                payload.check().map_err(|e| anyhow::anyhow!("{e}"))?;
                let occurred_on = taizhang::store::system_now().cst_date();
                let ev = events::ProposedEvent {
                    occurred_on,
                    payload,
                    event_id: None,
                    expected_version: Some(0),
                };
                let a = log.append(vec![ev], &actor, taizhang::store::Source::Client, None)?;
                writeln!(out, "policy {id} adopted at position {}, effective from {effective_from}, sha256 {}", a[0].position, policy.sha256())?;
            }
            PolicyCommand::Show { output } => {
                let log = open(&data, &cli.remote)?;
                let ledgers = reviews::ledgers(&*log, log.size())?;
                #[derive(serde::Serialize)]
                struct PolicyRow {
                    policy_id: String,
                    effective_from: Option<String>,
                    adopted_at_position: Option<u64>,
                    policy_sha256: String,
                    policy: serde_json::Value,
                }
                let mut rows = vec![PolicyRow {
                    policy_id: events::policy::DEFAULT_POLICY_ID.to_string(),
                    effective_from: None,
                    adopted_at_position: None,
                    policy_sha256: events::Policy::DEFAULT_V1.sha256().to_hex(),
                    policy: serde_json::to_value(events::Policy::DEFAULT_V1)?,
                }];
                let mut adopted: Vec<_> = ledgers.policies.values().collect();
                adopted.sort_by_key(|a| a.position);
                for a in adopted {
                    rows.push(PolicyRow {
                        policy_id: a.value.policy_id.to_string(),
                        effective_from: Some(a.value.effective_from.to_string()),
                        adopted_at_position: Some(a.position),
                        policy_sha256: a.value.policy.sha256().to_hex(),
                        policy: serde_json::to_value(a.value.policy)?,
                    });
                }
                render::rows(&mut out, &rows, output.format())?;
            }
        },
        Command::Demo { seed } => {
            // A previous demo store there is replaced; any other store is refused.
            taizhang::demo_run::run(&data, seed, &mut out)?
        }
        Command::Bench {
            target: None,
            events,
            runs,
            history_events,
        } => {
            taizhang::bench::run(&taizhang::bench::BenchConfig { events, runs }, &mut out)?;
            if history_events > 0 {
                out.flush()?;
                taizhang::bench::run_ledgers(history_events, runs.min(3), &mut out)?;
            }
        }
        Command::Bench {
            target: Some(BenchTarget::Http { clients, seconds }),
            ..
        } => {
            taizhang::bench_http::run(clients, std::time::Duration::from_secs(seconds), &mut out)?;
        }
        Command::Verify => {
            let log = open(&data, &cli.remote).context("verify failed")?;
            let bar = progress_bar(log.size(), "verifying");
            let v = match &log {
                Backend::Local(l) => {
                    ops::verify(l, |p| bar.set_position(p)).context("verify failed")?
                }
                Backend::Remote(r) => {
                    let dir = cli
                        .remote
                        .trust_dir
                        .clone()
                        .or_else(taizhang::client::default_trust_dir)
                        .context(
                            "no --trust-dir and no home directory to keep verified checkpoints in",
                        )?;
                    let (v, trust) =
                        taizhang::client::verify_remote(r, &dir, |p| bar.set_position(p))
                            .context("verify failed")?;
                    match trust {
                        taizhang::client::TrustReport::FirstUse { size, verifier_key, file } => eprintln!("first verification of {}: nothing was trusted for it before; its checkpoint at size {size}, signed by verifier key {verifier_key}, is now trusted ({}). Check that key with the log's operator: later runs compare the log with this checkpoint", r.origin(), file.display()),
                        taizhang::client::TrustReport::Consistent { from, to } => eprintln!("the checkpoint at size {to} is consistent with the one verified before at size {from}"),
                        taizhang::client::TrustReport::NoCheckpoint => eprintln!("the server has signed no checkpoint yet: nothing kept to check it against next time"),
                    }
                    v
                }
            };
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

/// The rows of a ledger that belong to a village or posting, when asked (rows without such a
/// field are kept).
fn keep<'a, T: serde::Serialize>(
    rows: &'a [T],
    village: Option<&str>,
    posting: Option<&str>,
) -> Vec<&'a T> {
    rows.iter()
        .filter(|r| {
            if village.is_none() && posting.is_none() {
                return true;
            }
            let v = serde_json::to_value(r).expect("rows serialize");
            village.is_none_or(|id| v.get("village_id").is_none_or(|x| x == id))
                && posting.is_none_or(|id| v.get("posting_id").is_none_or(|x| x == id))
        })
        .collect()
}

fn print_ledger(
    out: &mut dyn Write,
    report: &projections::ledgers::LedgerReport,
    name: LedgerName,
    village: Option<&str>,
    posting: Option<&str>,
    format: render::Format,
) -> Result<()> {
    macro_rules! show {
        ($rows:expr) => {
            render::rows(out, &keep(&$rows, village, posting), format)?
        };
    }
    if let Some(d) = report.reference_date {
        if format == render::Format::Table {
            writeln!(out, "reference date {d}")?;
        }
    }
    match name {
        LedgerName::Commitments => show!(report.commitments),
        LedgerName::Projects => show!(report.projects),
        LedgerName::Donations => show!(report.pledges),
        LedgerName::Donors => show!(report.donors),
        LedgerName::Disbursements => show!(report.disbursements),
        LedgerName::Evaluations => show!(report.evaluations),
        LedgerName::Inspections => show!(report.findings),
        LedgerName::Attendance => show!(report.attendance),
        LedgerName::SpotChecks => show!(report.spot_checks),
        LedgerName::Contracts => show!(report.contract_items),
        LedgerName::Postings => show!(report.postings),
        LedgerName::Team => show!(report.team),
        LedgerName::Anomalies => show!(report.anomalies),
        LedgerName::Villages => match village {
            Some(v) => {
                let page = report.village_page(v);
                if page.village.is_none() {
                    bail!("no village {v} in the log (as of this point)");
                }
                if format == render::Format::Table {
                    for (title, section) in village_sections(&page)? {
                        writeln!(out, "\n== {title}")?;
                        render::rows(out, &section, format)?;
                    }
                } else {
                    render::record(out, &page, format)?;
                }
            }
            None => show!(report.villages),
        },
        LedgerName::Totals => render::record(out, &report.totals, format)?,
    }
    Ok(())
}

/// A village page as titled sections of rows.
fn village_sections(
    page: &projections::ledgers::VillagePage,
) -> Result<Vec<(String, Vec<serde_json::Value>)>> {
    let v = serde_json::to_value(page)?;
    let mut out = Vec::new();
    for key in [
        "village",
        "team",
        "postings",
        "commitments",
        "projects",
        "pledges",
        "donations",
        "disbursements",
        "evaluations",
        "findings",
        "attendance",
        "spot_checks",
        "contract_items",
    ] {
        let rows = match &v[key] {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Null => vec![],
            other => vec![other.clone()],
        };
        out.push((key.replace('_', " "), rows));
    }
    Ok(out)
}

fn review_command(
    data: &std::path::Path,
    remote: &Remote,
    out: &mut dyn Write,
    command: ReviewCommand,
) -> Result<()> {
    match command {
        ReviewCommand::Show {
            start,
            end,
            at,
            policy,
            json,
        } => {
            let log = open(data, remote)?;
            let size = reviews::resolve_size(&*log, at.size, at.as_of)?;
            let policy = match policy {
                Some(f) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("reading {}", f.display()))?;
                    let p = events::Policy::from_json(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                    let id = f
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into());
                    Some((id, p))
                }
                None => None,
            };
            let result = reviews::compute(&*log, size, start, end, policy)?;
            if json {
                writeln!(out, "{}", result.to_jcs())?;
            } else {
                render::review(out, &result)?;
            }
        }
        ReviewCommand::Seal {
            start,
            end,
            id,
            actor,
        } => {
            let log = open(data, remote)?;
            let (result, position, checkpoint) = match &log {
                Backend::Local(l) => {
                    let at = l.info().simulated_clock.then(taizhang::store::system_now);
                    let (result, receipt) = reviews::seal(l, &id, start, end, &actor, at)?;
                    (
                        result,
                        receipt.appended.position,
                        receipt.checkpoint_with_seal,
                    )
                }
                Backend::Remote(r) => {
                    // The server seals; this client rebuilds the review it sealed from the
                    // log and checks the hash before printing it.
                    let answer = r.seal_review(&id, start, end)?;
                    let size = answer["tree_size"]
                        .as_u64()
                        .context("the server's answer lacks tree_size")?;
                    let after = open(data, remote)?;
                    let result = reviews::compute(&*after, size, start, end, None)?;
                    if answer["result_sha256"].as_str()
                        != Some(result.result_sha256().to_hex().as_str())
                    {
                        bail!(
                            "the server sealed a review hashing to {}, this client rebuilds {}",
                            answer["result_sha256"],
                            result.result_sha256()
                        );
                    }
                    let position = answer["position"]
                        .as_u64()
                        .context("the server's answer lacks position")?;
                    let note = answer["checkpoint"]
                        .as_str()
                        .context("the server's answer lacks checkpoint")?
                        .to_string();
                    (result, position, note)
                }
            };
            render::review(out, &result)?;
            writeln!(
                out,
                "\nsealed review {id} at position {position}: tree size {}, result sha256 {}",
                result.tree_size,
                result.result_sha256()
            )?;
            write!(out, "{checkpoint}")?;
        }
        ReviewCommand::Verify { id } => {
            let log = open(data, remote)?;
            let v = reviews::verify(&*log, &id)
                .with_context(|| format!("review {id} does not verify"))?;
            writeln!(out, "ok: review {id} rebuilt from the first {} events matches its seal at position {} (result sha256 {})", v.seal.tree_size, v.position, v.seal.result_sha256)?;
        }
        ReviewCommand::Bundle { id } => {
            let log = open(data, remote)?;
            let b = reviews::bundle(&*log, &id)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&b)?)?;
        }
    }
    Ok(())
}

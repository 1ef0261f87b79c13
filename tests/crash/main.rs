//! Crash test under load: a child process appends from several writer threads, signs
//! checkpoints and seals reviews, all at once, and is killed with SIGKILL at seeded moments;
//! after every kill the store is reopened and checked.
//!
//! ## The load
//! The store starts with the demo city (179 villages, 2016, its policy, its sealed review and its
//! corrections), appended on a system-clock store. Each round a child process opens it and runs:
//! - six recorders (`workload.rs`), each keeping the books of villages it founds that round
//!   (postings, commitments, projects, pledges and receipts, evaluations, inspections,
//!   attendance, spot checks, now and then a receipt retracted and entered again or a pledge
//!   moved to another village) and classifying demo villages for a new year with the
//!   `expected_version` it reads from the log, in batches of 1 to 60 events, with
//!   `expected_version` wherever a stream is created or advanced by the one writer that owns it;
//! - before them, a client retrying with the same event ids every batch an earlier child tried
//!   and got no answer for;
//! - an auditor signing a checkpoint every few milliseconds;
//! - a committee sealing reviews of four periods one after another as `reviews::seal` does
//!   (`reviews::seal_event`, then `Log::seal`, reporting each step). Under this load the log
//!   always moves while a review is computed, so after one attempt the committee holds appends
//!   (`Log::hold_appends`, a "quiet moment": those in flight are answered, the recorders' next
//!   ones wait) until its seal is answered; checkpoints go on being signed (`child.rs`,
//!   `sealer`).
//!
//! The child prints every attempt before making it and every answer after, a JSON object a line.
//! The parent kills it with SIGKILL at a moment chosen from the seed: 0–250 ms after starting it
//! (often while it replays the store), 0–300 ms after it opened the store, 0–1.5 ms after it
//! handed a seal to the log's writer in a quiet moment (the writer's part of a seal, three
//! fsyncs, takes about 1 ms here), or 0–1 ms after its n-th checkpoint request. The totals
//! printed at the end count the kills that landed inside a seal or a signature (an attempt
//! without its answer) and what each left.
//!
//! ## What is checked after every kill
//! - The store opens (open checks gapless positions and stream versions, every record's
//!   checksum, the stored tree against the records and the last checkpoint against the tree).
//! - From one read of the whole log: positions are 0..size in order, every stream's versions go
//!   0, 1, 2… with no gap, every stored leaf hash is the one recomputed from the event, and no
//!   event id appears twice.
//! - Every acknowledged event, of this round and every earlier one, is at its acknowledged
//!   position, stream and version. Every attempted batch is whole (all its events, at
//!   consecutive positions in batch order) or absent. A retried batch is answered "nothing
//!   written" exactly when the last check found it in the log, and is written whole otherwise.
//! - Every checkpoint the child reported signed is still stored, byte for byte; its signature
//!   verifies with the log's verifier key; its root is the root of the tree recomputed from the
//!   events at its size; and the log's consistency proof from it to the current size verifies
//!   against that checkpoint's root and the recomputed current root. Every other stored
//!   checkpoint is checked the same way once, when first seen.
//! - Seals. Sealing writes three things, each durable before the next (docs/choices.md): a
//!   checkpoint at the reviewed size N, the `ReviewSealed` at position N, a checkpoint at N + 1.
//!   A kill can stop it between any two, so after a restart an unacknowledged seal may be
//!   absent, or absent with the checkpoint at N stored, or present without the checkpoint at
//!   N + 1 (the state `SealError::SealedWithoutCheckpoint` reports; the next signature covers
//!   it), or whole. What may never be: a `ReviewSealed` whose `tree_size` is not its own
//!   position, or with no stored checkpoint at that size, or whose root differs from that
//!   checkpoint's and the tree's. That is asserted for every seal in the log, acknowledged or
//!   not; an acknowledged seal must moreover be at its receipt's position with both receipt
//!   checkpoints stored byte for byte, and recomputing every seal's review from the log prefix
//!   it names (`reviews::verify`, what `taizhang review verify` runs) gives the hash it sealed
//!   (and, when acknowledged, the hash the child computed).
//! - `ops::verify` passes, with the recomputed root and every stored checkpoint.
//! - Projections rebuilt equal projections restored. The store keeps no projection on disk:
//!   what it restores at open is the validation state (replayed from the records) and the
//!   village index built from it, and these are what later appends and a village's ledgers rely
//!   on. So, as an inspector would ask it:
//!   1. every village's page as the reopened store serves it through its village index
//!      (`reviews::village_ledgers`) equals that village's page of the full fold of every event;
//!   2. a fresh store rebuilt by re-appending the export line by line (same ids, actors,
//!      `recorded_at`, with each event's stream version as its `expected_version`) accepts every
//!      event again through the writer's incremental validation, and ends with the same root;
//!      its full ledgers and its 2016 review equal the reopened store's;
//!   3. the reopened store's restored validation state and the rebuilt store's answer the same
//!      probes the same way: a second registration or posting in a village, a receipt over a
//!      pledge, progress on a fulfilled commitment, a second start of a project. Each must be
//!      refused with the same field and reason by both, and leave both logs unchanged.
//!
//!   The next round's recorders then append on top of the restored state, with the expected
//!   versions they read from the log; any refusal fails the test.
//!
//! Rounds: `TAIZHANG_CRASH_ROUNDS` (default 50); seed: `TAIZHANG_CRASH_SEED` (printed) replays
//! a run's workload and aims, though where a kill lands still depends on timing;
//! `TAIZHANG_CRASH_VERBOSE=1` prints each round's aim and where its checks spent their time.
//! This binary has no libtest harness (`harness = false`): run without
//! `TAIZHANG_CRASH_CHILD` it is the test, with it the child.

mod child;
mod workload;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use events::import::parse_line;
use events::payload::ReviewSealed;
use events::{Date, EventId, Payload, ProposedEvent, Timestamp};
use projections::ledgers::{CommitmentStatus, ProjectStatus, VillagePage};
use serde_json::{json, Value};
use taizhang::checkpoint::{parse_signed_note, VerifierKey};
use taizhang::demo::{city, DemoStep};
use taizhang::merkle::{self, MemoryTree};
use taizhang::reviews;
use taizhang::store::{Log, SledLog, Source};

use workload::Rng;

const TEST_NAME: &str = "killed_under_load_loses_nothing_acknowledged";
const CHILD_ENV: &str = "TAIZHANG_CRASH_CHILD";
const ORIGIN: &str = "crash.test/taizhang";
const CITY_SEED: u64 = 2016;
/// How long the parent waits for the line a kill is aimed at before killing anyway.
const AIM_WAIT_MAX: Duration = Duration::from_secs(5);
/// How long a child may take to open the store.
const READY_WAIT_MAX: Duration = Duration::from_secs(60);

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
        child::run(child::Spec {
            dir: PathBuf::from(dir),
            round: var("TAIZHANG_CRASH_CHILD_ROUND").parse().expect("a round"),
            seed: var("TAIZHANG_CRASH_CHILD_SEED").parse().expect("a seed"),
            villages_file: PathBuf::from(var("TAIZHANG_CRASH_CHILD_VILLAGES")),
            retries_file: PathBuf::from(var("TAIZHANG_CRASH_CHILD_RETRIES")),
        });
        return;
    }
    // Enough of libtest's command line that `cargo test` filters, `--list` and `--ignored`
    // behave as they do for the other test binaries.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{TEST_NAME}: test");
        return;
    }
    if !selected(&args) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");
    let started = Instant::now();
    run_test();
    println!(
        "test {TEST_NAME} ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
}

/// Whether libtest's arguments select this test.
fn selected(args: &[String]) -> bool {
    let (mut filters, mut skips, mut exact, mut ignored_only) =
        (Vec::new(), Vec::new(), false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exact" => exact = true,
            "--ignored" => ignored_only = true,
            "--skip" => skips.extend(it.next().cloned()),
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--shuffle-seed" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_string()),
        }
    }
    let matches = |f: &String| {
        if exact {
            TEST_NAME == f
        } else {
            TEST_NAME.contains(f.as_str())
        }
    };
    !ignored_only
        && (filters.is_empty() || filters.iter().any(matches))
        && !skips.iter().any(|s| {
            if exact {
                TEST_NAME == s
            } else {
                TEST_NAME.contains(s.as_str())
            }
        })
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number, not {s:?}"))
        })
        .unwrap_or(default)
}

/// Where each kill was aimed.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// A while after the child was started: often while it opens (replays) the store.
    Spawn(Duration),
    /// A while after the child opened the store.
    Time(Duration),
    /// A delay after the `nth` line of a kind (`seal-send-quiet`: a seal handed over in a quiet
    /// moment; `cp-try`).
    After {
        kind: &'static str,
        nth: u32,
        delay: Duration,
    },
}

impl Aim {
    fn choose(rng: &mut Rng) -> Aim {
        match rng.below(10) {
            0 => Aim::Spawn(Duration::from_millis(rng.below(250))),
            1..=3 => Aim::Time(Duration::from_millis(rng.below(300))),
            4..=6 => Aim::After {
                kind: "seal-send-quiet",
                nth: 1,
                delay: Duration::from_micros(rng.below(1500)),
            },
            _ => Aim::After {
                kind: "cp-try",
                nth: 1 + rng.below(6) as u32,
                delay: Duration::from_micros(rng.below(1000)),
            },
        }
    }
}

/// Everything the runs add up to.
#[derive(Default)]
struct Totals {
    rounds: u64,
    aimed_at_spawn: u64,
    kills_while_opening: u64,
    aimed_at_time: u64,
    aimed_at_seal: u64,
    aimed_at_checkpoint: u64,
    aim_missed: u64,
    batches_acked: u64,
    events_acked: u64,
    batches_unacked_present: u64,
    retries_written: u64,
    retries_found: u64,
    batches_unacked_absent: u64,
    checkpoints_acked: u64,
    seals_acked: u64,
    seal_moved: u64,
    seal_quiet: u64,
    seals_acked_under_load: u64,
    kills_computing_seal: u64,
    kills_mid_seal: u64,
    mid_seal_absent: u64,
    mid_seal_checkpoint_only: u64,
    mid_seal_without_second_checkpoint: u64,
    mid_seal_whole: u64,
    kills_mid_checkpoint: u64,
    probes: u64,
    villages_compared: u64,
}

/// What the parent knows across rounds: everything acknowledged, everything checked.
struct Ledger {
    /// Every acknowledged event: id → (position, stream, version).
    acked: HashMap<EventId, (u64, String, u64)>,
    /// Every acknowledged checkpoint: size → note.
    checkpoints_acked: BTreeMap<u64, String>,
    /// Every stored checkpoint checked once: size → note.
    checkpoints_checked: BTreeMap<u64, String>,
    /// Every acknowledged seal: review id → (position, event id).
    seals_acked: BTreeMap<String, (u64, EventId)>,
    /// Seals whose review was recomputed.
    seals_verified: HashSet<String>,
    /// Batches tried and never answered, retried by the next child in this order.
    unanswered: Vec<Unanswered>,
    /// The store rebuilt from the export, extended after every round.
    rebuilt: SledLog,
    totals: Totals,
}

/// A batch a child tried and got no answer for: the next child retries it first.
#[derive(Clone)]
struct Unanswered {
    actor: String,
    lines: Vec<Value>,
    ids: Vec<EventId>,
    /// Whether the log held it at the last check (then a retry must write nothing).
    present: bool,
}

/// What the log answered for one event: position, id, stream, version, written.
type Answer = (u64, EventId, String, u64, bool);

/// One child's report, parsed.
#[derive(Default)]
struct ChildReport {
    /// Every batch tried (retries included), by its event ids.
    tries: Vec<Vec<EventId>>,
    /// Every batch answered; `Some(i)` for the retry of `Ledger::unanswered[i]`.
    acks: Vec<(Option<usize>, Vec<Answer>)>,
    /// The writers' batches tried and not answered.
    unanswered: Vec<Unanswered>,
    checkpoints: Vec<String>,
    /// Per seal: its last hand-over (review, size, result hash, whether in a quiet moment).
    seal_sends: HashMap<u64, (String, u64, String, bool)>,
    seals: Vec<(u64, String, u64, EventId, String, String)>,
    seal_moved: u64,
    seal_quiet: u64,
    /// The seal handed to the writer and not answered when the kill came: (review, size).
    seal_in_flight: Option<(String, u64)>,
    seal_computing: bool,
    checkpoint_in_flight: bool,
}

fn run_test() {
    let rounds = env_u64("TAIZHANG_CRASH_ROUNDS", 50);
    let seed = env_u64("TAIZHANG_CRASH_SEED", 0x7a1_2016);
    eprintln!("crash test: seed {seed}, {rounds} rounds (TAIZHANG_CRASH_SEED={seed} replays it)");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let villages_file = dir.path().join("demo-villages.txt");
    let retries_file = dir.path().join("retries.jsonl");
    // The rebuilt store is never killed, and its thousands of small appends each wait for an
    // fdatasync: in memory where the machine has it.
    let shm = Path::new("/dev/shm");
    let rebuilt_dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();

    // The demo city, appended as its recorders would have on a system-clock store.
    let log = SledLog::init(&data, ORIGIN, false).unwrap();
    for step in city(CITY_SEED) {
        match step {
            DemoStep::Append(b) => {
                log.append(b.events, &b.actor, Source::Client, None)
                    .expect("the demo city appends");
            }
            DemoStep::SealReview {
                review_id,
                start,
                end,
                ..
            } => {
                reviews::seal(&log, &review_id, start, end, "committee", None)
                    .expect("the demo review seals");
            }
        }
    }
    let size = log.size();
    let report = reviews::ledgers(&log, size).unwrap().report(None);
    let demo_villages: Vec<String> = report
        .villages
        .iter()
        .map(|v| v.village_id.to_string())
        .collect();
    assert_eq!(demo_villages.len(), 179);
    std::fs::write(&villages_file, demo_villages.join("\n")).unwrap();
    let mut ledger = Ledger {
        acked: HashMap::new(),
        checkpoints_acked: BTreeMap::new(),
        checkpoints_checked: BTreeMap::new(),
        seals_acked: BTreeMap::new(),
        seals_verified: HashSet::new(),
        unanswered: Vec::new(),
        rebuilt: SledLog::init(&rebuilt_dir.path().join("rebuilt"), ORIGIN, true).unwrap(),
        totals: Totals::default(),
    };
    for rec in log.read(0, size) {
        let ev = rec.unwrap().event;
        ledger
            .acked
            .insert(ev.event_id, (ev.position, ev.stream, ev.stream_version));
    }
    drop(log);
    eprintln!(
        "crash test: the demo city holds {size} events ({:.1}s)",
        started.elapsed().as_secs_f64()
    );

    for round in 0..rounds {
        let round_started = Instant::now();
        let aim = Aim::choose(&mut rng);
        let stderr_path = dir.path().join("child.stderr");
        let retries: Vec<String> = ledger
            .unanswered
            .iter()
            .map(|u| json!({"actor": u.actor, "lines": u.lines}).to_string())
            .collect();
        std::fs::write(&retries_file, retries.join("\n")).unwrap();
        let lines = run_child(
            &data,
            &villages_file,
            &retries_file,
            &stderr_path,
            round,
            seed,
            aim,
            &mut ledger.totals,
        );
        let child_time = round_started.elapsed();
        let ctx = Ctx {
            seed,
            round,
            stderr: stderr_path,
        };
        let report = parse_report(&ctx, &lines);
        check_round(&ctx, &data, &report, &demo_villages, &mut rng, &mut ledger);
        ledger.totals.rounds += 1;
        if std::env::var_os("TAIZHANG_CRASH_VERBOSE").is_some() {
            eprintln!(
                "round {round}: {aim:?}, {} lines, child {:.2}s, round {:.2}s",
                lines.len(),
                child_time.as_secs_f64(),
                round_started.elapsed().as_secs_f64()
            );
        }
    }

    let t = &ledger.totals;
    let log = SledLog::open(&data).unwrap();
    eprintln!(
        "crash test: seed {seed}, {} rounds in {:.1}s, log {} events; kills aimed at a time after the start {} ({} before the store was open), after the store opened {}, after a seal was handed over {}, after a checkpoint was asked {} ({} aims missed)\n\
         acknowledged: {} batches, {} events, {} checkpoints, {} seals ({} of them while the recorders appended; {} seal attempts found the log moved, {} seals waited for a quiet moment)\n\
         unacknowledged batches found whole {}, absent {}; retried with the same ids: found in the log {}, written {}\n\
         kills while a seal was computed {}; kills mid-seal (handed to the writer, unanswered) {}: absent {}, checkpoint at the reviewed size only {}, sealed without the second checkpoint {}, whole {}\n\
         kills mid-checkpoint (asked, unanswered) {}\n\
         village pages compared {}, validation probes {}",
        t.rounds, started.elapsed().as_secs_f64(), log.size(), t.aimed_at_spawn, t.kills_while_opening, t.aimed_at_time, t.aimed_at_seal, t.aimed_at_checkpoint, t.aim_missed,
        t.batches_acked, t.events_acked, t.checkpoints_acked, t.seals_acked, t.seals_acked_under_load, t.seal_moved, t.seal_quiet,
        t.batches_unacked_present, t.batches_unacked_absent, t.retries_found, t.retries_written,
        t.kills_computing_seal, t.kills_mid_seal, t.mid_seal_absent, t.mid_seal_checkpoint_only, t.mid_seal_without_second_checkpoint, t.mid_seal_whole,
        t.kills_mid_checkpoint, t.villages_compared, t.probes,
    );
    // A run that acknowledged little, or never killed inside a seal or a signature, proved little.
    // Seals get rarer as the log grows (each folds the whole log while the recorders wait): 25
    // in the 200 rounds recorded in docs/reliability.md, 7 to 21 in 50.
    assert!(
        t.batches_acked >= rounds,
        "the children acknowledged too few batches ({})",
        t.batches_acked
    );
    assert!(
        t.checkpoints_acked >= rounds / 2,
        "too few checkpoints acknowledged ({})",
        t.checkpoints_acked
    );
    assert!(
        t.seals_acked >= rounds / 20,
        "too few seals acknowledged ({})",
        t.seals_acked
    );
    if rounds >= 20 {
        assert!(t.kills_mid_seal > 0, "no kill landed inside a seal");
        assert!(
            t.kills_mid_checkpoint > 0,
            "no kill landed inside a checkpoint signature"
        );
    }
}

/// Names the round in every failure, with the child's stderr.
struct Ctx {
    seed: u64,
    round: u64,
    stderr: PathBuf,
}

impl Ctx {
    fn fail(&self, what: impl std::fmt::Display) -> ! {
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        panic!(
            "seed {} round {}: {what}\n(TAIZHANG_CRASH_SEED={} replays it)\nthe child's stderr:\n{stderr}",
            self.seed, self.round, self.seed
        )
    }
    fn check(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fail(what())
        }
    }
}

/// Runs one child and kills it where `aim` says; returns every line it printed.
#[allow(clippy::too_many_arguments)]
fn run_child(
    data: &Path,
    villages_file: &Path,
    retries_file: &Path,
    stderr_path: &Path,
    round: u64,
    seed: u64,
    aim: Aim,
    totals: &mut Totals,
) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, data)
        .env("TAIZHANG_CRASH_CHILD_ROUND", round.to_string())
        .env(
            "TAIZHANG_CRASH_CHILD_SEED",
            (seed ^ round.wrapping_mul(0x9e37_79b9)).to_string(),
        )
        .env("TAIZHANG_CRASH_CHILD_VILLAGES", villages_file)
        .env("TAIZHANG_CRASH_CHILD_RETRIES", retries_file)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut buf = Vec::new();
        // Bytes, not lines of text: the kill may cut a line inside a character.
        while out.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches('\n')
                .to_string();
            buf.clear();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let spawned = Instant::now();
    let mut ready: Option<Instant> = None;
    let mut seen = 0u32;
    let mut deadline: Option<Instant> = match aim {
        Aim::Spawn(after) => Some(spawned + after),
        _ => None,
    };
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let wait = match deadline {
            Some(d) => d - now,
            None => Duration::from_millis(50),
        };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                let v: Value = serde_json::from_str(&line).unwrap_or_default();
                // A seal is aimed at once it is handed over in a quiet moment: the attempts under
                // load are answered "moved" at once.
                let kind = match v["t"].as_str().unwrap_or_default() {
                    "seal-send" if v["quiet"] == true => "seal-send-quiet",
                    other => other,
                };
                if ready.is_none() && kind == "ready" {
                    ready = Some(Instant::now());
                    match aim {
                        Aim::Spawn(_) => {}
                        Aim::Time(after) => deadline = Some(Instant::now() + after),
                        Aim::After { .. } => deadline = Some(Instant::now() + AIM_WAIT_MAX),
                    }
                }
                if let Aim::After {
                    kind: aimed,
                    nth,
                    delay,
                } = aim
                {
                    if kind == aimed {
                        seen += 1;
                        if seen == nth {
                            deadline = Some(Instant::now() + delay);
                        }
                    }
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ready.is_none() && spawned.elapsed() > READY_WAIT_MAX {
                    let _ = child.kill();
                    panic!("round {round}: the child did not open the store in {READY_WAIT_MAX:?}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
                panic!("round {round}: the child exited by itself ({status}) before the kill\n{}\nstderr:\n{stderr}", lines.join("\n"));
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines.extend(rx.iter());
    reader.join().unwrap();
    match aim {
        Aim::Spawn(_) => {
            totals.aimed_at_spawn += 1;
            if ready.is_none() {
                totals.kills_while_opening += 1;
            }
        }
        Aim::Time(_) => totals.aimed_at_time += 1,
        Aim::After { kind, nth, .. } => {
            if kind == "seal-send-quiet" {
                totals.aimed_at_seal += 1;
            } else {
                totals.aimed_at_checkpoint += 1;
            }
            if seen < nth {
                totals.aim_missed += 1;
            }
        }
    }
    lines
}

fn parse_report(ctx: &Ctx, lines: &[String]) -> ChildReport {
    let mut r = ChildReport::default();
    let mut checkpoint_pending = false;
    // Each writer's batch tried and not yet answered.
    let mut writer_pending: BTreeMap<u64, Unanswered> = BTreeMap::new();
    // The seal being worked on: computing (no size yet) or handed over (its review and size).
    let mut seal: Option<Option<(String, u64)>> = None;
    for (i, line) in lines.iter().enumerate() {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            // The kill may cut the last line short; every other line is whole.
            Err(_) if i + 1 == lines.len() => break,
            Err(e) => ctx.fail(format!("line {i} of the child is not JSON ({e}): {line}")),
        };
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| ctx.fail(format!("{k} in {line}")))
                .to_string()
        };
        let n = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| ctx.fail(format!("{k} in {line}")))
        };
        let id =
            |s: &str| EventId::parse(s).unwrap_or_else(|e| ctx.fail(format!("event id {s}: {e}")));
        match v["t"].as_str().unwrap_or_default() {
            "ready" => {}
            "try" | "retry-try" => {
                let ids: Vec<EventId> = v["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| id(x.as_str().unwrap()))
                    .collect();
                if v["t"] == "try" {
                    writer_pending.insert(
                        n("w"),
                        Unanswered {
                            actor: s("actor"),
                            lines: v["lines"].as_array().unwrap().clone(),
                            ids: ids.clone(),
                            present: false,
                        },
                    );
                }
                r.tries.push(ids);
            }
            "ack" | "retry-ack" => {
                let answers: Vec<Answer> = v["at"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| {
                        (
                            a[0].as_u64().unwrap(),
                            id(a[1].as_str().unwrap()),
                            a[2].as_str().unwrap().to_string(),
                            a[3].as_u64().unwrap(),
                            a[4].as_bool().unwrap(),
                        )
                    })
                    .collect();
                if v["t"] == "ack" {
                    writer_pending.remove(&n("w"));
                    r.acks.push((None, answers));
                } else {
                    r.acks.push((Some(n("i") as usize), answers));
                }
            }
            "cp-try" => checkpoint_pending = true,
            "cp" => {
                checkpoint_pending = false;
                r.checkpoints.push(s("note"));
            }
            "seal-try" => seal = Some(None),
            "seal-send" => {
                r.seal_sends.insert(
                    n("k"),
                    (
                        s("review"),
                        n("size"),
                        s("result_sha256"),
                        v["quiet"] == true,
                    ),
                );
                seal = Some(Some((s("review"), n("size"))));
            }
            "seal-quiet" => r.seal_quiet += 1,
            "seal-moved" => {
                r.seal_moved += 1;
                seal = Some(None);
            }
            "seal" => {
                r.seals.push((
                    n("k"),
                    s("review"),
                    n("position"),
                    id(&s("event_id")),
                    s("checkpoint_at_review"),
                    s("checkpoint_with_seal"),
                ));
                seal = None;
            }
            "err" | "cp-err" | "seal-err" => {
                ctx.fail(format!("the child was refused or failed: {line}"))
            }
            other => ctx.fail(format!("unknown line {other:?}: {line}")),
        }
    }
    r.checkpoint_in_flight = checkpoint_pending;
    r.unanswered = writer_pending.into_values().collect();
    match seal {
        Some(Some(sent)) => r.seal_in_flight = Some(sent),
        Some(None) => r.seal_computing = true,
        None => {}
    }
    r
}

/// What one read of the whole log shows.
struct Scan {
    size: u64,
    tree: MemoryTree,
    /// Per position: id, stream, version.
    at: Vec<(EventId, String, u64)>,
    by_id: HashMap<EventId, u64>,
    seals: Vec<(u64, ReviewSealed)>,
    last_recorded_at: Timestamp,
}

fn scan(ctx: &Ctx, log: &SledLog) -> Scan {
    let size = log.size();
    let mut s = Scan {
        size,
        tree: MemoryTree::new(),
        at: Vec::with_capacity(size as usize),
        by_id: HashMap::with_capacity(size as usize),
        seals: Vec::new(),
        last_recorded_at: Timestamp::from_micros(0),
    };
    let mut heads: HashMap<String, u64> = HashMap::new();
    for (i, rec) in log.read(0, size).enumerate() {
        let rec = rec.unwrap_or_else(|e| ctx.fail(format!("reading the log: {e}")));
        let ev = rec.event;
        let i = i as u64;
        ctx.check(ev.position == i, || {
            format!("record {i} says position {}", ev.position)
        });
        // The stored leaf hash: `verify` recomputes each from the event, and its root must be
        // this tree's.
        s.tree.push(rec.leaf_sha256.0);
        let head = heads.entry(ev.stream.clone()).or_insert(0);
        ctx.check(ev.stream_version == *head, || {
            format!(
                "position {i}: stream {} version {} where {} was next",
                ev.stream, ev.stream_version, head
            )
        });
        *head += 1;
        if let Some(prev) = s.by_id.insert(ev.event_id, i) {
            ctx.fail(format!(
                "event {} is at positions {prev} and {i}",
                ev.event_id
            ));
        }
        if let Payload::ReviewSealed(seal) = &ev.payload {
            s.seals.push((i, seal.clone()));
        }
        s.last_recorded_at = ev.recorded_at;
        s.at.push((ev.event_id, ev.stream, ev.stream_version));
    }
    s
}

fn check_round(
    ctx: &Ctx,
    data: &Path,
    r: &ChildReport,
    demo_villages: &[String],
    rng: &mut Rng,
    ledger: &mut Ledger,
) {
    let mut phase = Phases::new();
    let log = SledLog::open(data).unwrap_or_else(|e| ctx.fail(format!("reopen failed: {e}")));
    phase.mark("open");
    let s = scan(ctx, &log);
    let size = s.size;
    phase.mark("scan");
    let t = &mut ledger.totals;

    // Events: every acknowledged one where it was acknowledged; batches whole or absent.
    for (retry, answers) in &r.acks {
        t.batches_acked += 1;
        for (position, id, stream, version, written) in answers {
            // A retry writes nothing if the log kept the batch, and all of it if not.
            let kept = retry.map(|i| ledger.unanswered[i].present);
            ctx.check(*written == (kept != Some(true)), || {
                format!("event {id} answered written: {written}, but the retried batch was kept: {kept:?}")
            });
            ledger
                .acked
                .insert(*id, (*position, stream.clone(), *version));
            t.events_acked += 1;
        }
        match retry {
            Some(i) if ledger.unanswered[*i].present => t.retries_found += 1,
            Some(_) => t.retries_written += 1,
            None => {}
        }
    }
    // What is still unanswered goes to the next child, with whether the log holds it now.
    let retried: HashSet<usize> = r.acks.iter().filter_map(|(i, _)| *i).collect();
    let mut unanswered: Vec<Unanswered> = std::mem::take(&mut ledger.unanswered)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !retried.contains(i))
        .map(|(_, u)| u)
        .chain(r.unanswered.iter().cloned())
        .collect();
    for u in &mut unanswered {
        u.present = u.ids.iter().all(|id| s.by_id.contains_key(id));
    }
    ledger.unanswered = unanswered;
    for (id, (position, stream, version)) in &ledger.acked {
        let found = s
            .by_id
            .get(id)
            .map(|&p| (p, &s.at[p as usize].1, s.at[p as usize].2));
        ctx.check(found == Some((*position, stream, *version)), || {
            format!("acknowledged event {id} at {position} ({stream} v{version}) is {found:?}")
        });
    }
    let acked_in_round: HashSet<EventId> =
        r.acks.iter().flat_map(|(_, a)| a).map(|a| a.1).collect();
    for ids in &r.tries {
        let positions: Vec<Option<u64>> = ids.iter().map(|id| s.by_id.get(id).copied()).collect();
        if positions.iter().all(Option::is_none) {
            t.batches_unacked_absent += 1;
            continue;
        }
        let first = positions[0];
        let whole = first.is_some()
            && positions
                .iter()
                .enumerate()
                .all(|(k, p)| *p == first.map(|f| f + k as u64));
        ctx.check(whole, || {
            format!(
                "a batch of {} events is not whole at consecutive positions: {positions:?}",
                ids.len()
            )
        });
        if !acked_in_round.contains(&ids[0]) {
            t.batches_unacked_present += 1;
        }
    }

    phase.mark("events");
    // Checkpoints.
    let verifier = VerifierKey::parse(&log.verifier_key()).unwrap();
    let stored: BTreeMap<u64, String> = log.checkpoints().unwrap().into_iter().collect();
    let root = s.tree.root();
    let check_checkpoint = |cp_size: u64, note: &str| {
        let cp = parse_signed_note(note, &verifier)
            .unwrap_or_else(|e| ctx.fail(format!("checkpoint at {cp_size} does not verify: {e}")));
        ctx.check(cp.size() == cp_size, || {
            format!("checkpoint stored at {cp_size} says {}", cp.size())
        });
        let tree_root = merkle::root_at(&s.tree, cp_size).unwrap();
        ctx.check(cp.root() == tree_root, || {
            format!("checkpoint at {cp_size}: its root is not the tree's")
        });
        let proof = log
            .consistency_proof(cp_size, size)
            .unwrap_or_else(|e| ctx.fail(format!("consistency proof {cp_size}..{size}: {e}")));
        merkle::verify_consistency(cp_size, size, &cp.root(), &root, &proof.path).unwrap_or_else(
            |e| ctx.fail(format!("consistency proof {cp_size}..{size} fails: {e}")),
        );
    };
    for note in &r.checkpoints {
        let cp = parse_signed_note(note, &verifier).unwrap_or_else(|e| {
            ctx.fail(format!("an acknowledged checkpoint does not verify: {e}"))
        });
        match ledger.checkpoints_acked.insert(cp.size(), note.clone()) {
            None => t.checkpoints_acked += 1,
            Some(other) => ctx.check(other == *note, || {
                format!("two different checkpoints acknowledged at {}", cp.size())
            }),
        }
    }
    for (cp_size, note) in &ledger.checkpoints_acked {
        ctx.check(stored.get(cp_size) == Some(note), || {
            format!("the acknowledged checkpoint at {cp_size} is gone or changed")
        });
        check_checkpoint(*cp_size, note);
    }
    for (cp_size, note) in &stored {
        match ledger.checkpoints_checked.get(cp_size) {
            Some(seen) => ctx.check(seen == note, || {
                format!("the checkpoint at {cp_size} changed")
            }),
            None => {
                check_checkpoint(*cp_size, note);
                ledger.checkpoints_checked.insert(*cp_size, note.clone());
            }
        }
    }
    ctx.check(ledger.checkpoints_checked.len() == stored.len(), || {
        "a stored checkpoint vanished".into()
    });
    if r.checkpoint_in_flight {
        t.kills_mid_checkpoint += 1;
    }

    phase.mark("checkpoints");
    // Seals.
    let mut seal_at: HashMap<String, u64> = HashMap::new();
    for (position, seal) in &s.seals {
        let review = seal.review_id.to_string();
        seal_at.insert(review.clone(), *position);
        ctx.check(seal.tree_size == *position, || {
            format!(
                "seal {review} at {position} names tree size {}",
                seal.tree_size
            )
        });
        let cp = stored
            .get(position)
            .map(|note| parse_signed_note(note, &verifier).unwrap())
            .unwrap_or_else(|| {
                ctx.fail(format!(
                    "seal {review} at {position} has no checkpoint at its size"
                ))
            });
        ctx.check(cp.root() == seal.root.0, || {
            format!("seal {review}: its root is not its checkpoint's")
        });
        if ledger.seals_verified.insert(review.clone()) {
            let v = reviews::verify(&log, &review)
                .unwrap_or_else(|e| ctx.fail(format!("review verify {review}: {e:#}")));
            ctx.check(v.result.result_sha256() == seal.result_sha256, || {
                format!("seal {review}: recomputed hash differs")
            });
        }
    }
    for (k, review, position, event_id, at_review, with_seal) in &r.seals {
        t.seals_acked += 1;
        ctx.check(seal_at.get(review) == Some(position), || {
            format!("acknowledged seal {review} at {position} is not there")
        });
        ctx.check(s.at[*position as usize].0 == *event_id, || {
            format!("seal {review}: another event at {position}")
        });
        ctx.check(stored.get(position) == Some(at_review), || {
            format!("seal {review}: the checkpoint at the reviewed size is not the receipt's")
        });
        ctx.check(stored.get(&(position + 1)) == Some(with_seal), || {
            format!("seal {review}: the checkpoint after the seal is not the receipt's")
        });
        let sealed = &s.seals.iter().find(|(p, _)| p == position).unwrap().1;
        let (_, sent_size, sent_hash, quiet) = &r.seal_sends[k];
        if !quiet {
            t.seals_acked_under_load += 1;
        }
        ctx.check(*sent_size == *position && sealed.result_sha256.to_hex() == *sent_hash, || {
            format!("seal {review}: sealed {} at {position}, the child computed {sent_hash} at {sent_size}", sealed.result_sha256)
        });
        ledger
            .seals_acked
            .insert(review.clone(), (*position, *event_id));
        for (cp_size, note) in [(*position, at_review), (position + 1, with_seal)] {
            if let Some(other) = ledger.checkpoints_acked.insert(cp_size, note.clone()) {
                ctx.check(other == *note, || {
                    format!("two different checkpoints acknowledged at {cp_size}")
                });
            }
        }
    }
    for (review, (position, event_id)) in &ledger.seals_acked {
        ctx.check(
            s.by_id.get(event_id) == Some(position) && seal_at.get(review) == Some(position),
            || format!("acknowledged seal {review} at {position} is gone"),
        );
    }
    t.seal_moved += r.seal_moved;
    t.seal_quiet += r.seal_quiet;
    if r.seal_computing {
        t.kills_computing_seal += 1;
    }
    if let Some((review, sent_size)) = &r.seal_in_flight {
        t.kills_mid_seal += 1;
        match seal_at.get(review) {
            Some(p) => {
                ctx.check(p == sent_size, || {
                    format!("unacknowledged seal {review} at {p}, handed over for {sent_size}")
                });
                if stored.contains_key(&(sent_size + 1)) {
                    t.mid_seal_whole += 1;
                } else {
                    t.mid_seal_without_second_checkpoint += 1;
                }
            }
            None if stored.contains_key(sent_size) => t.mid_seal_checkpoint_only += 1,
            None => t.mid_seal_absent += 1,
        }
    }

    phase.mark("seals");
    // The whole log.
    let verified =
        taizhang::ops::verify(&log, |_| {}).unwrap_or_else(|e| ctx.fail(format!("verify: {e}")));
    ctx.check(
        verified.size == size && verified.root == root && verified.checkpoints == stored.len(),
        || {
            format!(
                "verify checked {} events and {} checkpoints, the log holds {size} and {}",
                verified.size,
                verified.checkpoints,
                stored.len()
            )
        },
    );

    phase.mark("verify");
    // Projections: restored (village index, validation state) against rebuilt (full folds, a
    // store rebuilt from the export).
    let folded = reviews::ledgers(&log, size).unwrap();
    let full = folded.report(None);
    let pages: BTreeMap<String, VillagePage> = full
        .villages
        .iter()
        .map(|v| {
            (
                v.village_id.to_string(),
                full.village_page(v.village_id.as_str()),
            )
        })
        .collect();
    phase.mark("full pages");
    for (village, page) in &pages {
        let (ledgers, reference) = reviews::village_ledgers(&log, size, village).unwrap();
        let from_index = ledgers.report(reference).village_page(village);
        ctx.check(from_index == *page, || format!("village {village}: its page through the village index differs from the full fold's"));
        t.villages_compared += 1;
    }
    phase.mark("village pages");
    extend_rebuilt(ctx, &ledger.rebuilt, &log, &s);
    phase.mark("rebuilt store");
    let rebuilt = &ledger.rebuilt;
    ctx.check(
        rebuilt.size() == size && rebuilt.root(size).unwrap() == root,
        || "the rebuilt store's root differs".into(),
    );
    let rebuilt_folded = reviews::ledgers(rebuilt, size).unwrap();
    ctx.check(rebuilt_folded.report(None) == full, || {
        "the rebuilt store's ledgers differ from the reopened store's".into()
    });
    let (start, end): (Date, Date) = ("2016-01-01".parse().unwrap(), "2016-12-31".parse().unwrap());
    let root_hex = hex::encode(root);
    let review = projections::review::review_of(&folded, start, end, size, &root_hex, None);
    let rebuilt_review =
        projections::review::review_of(&rebuilt_folded, start, end, size, &root_hex, None);
    ctx.check(review.to_jcs() == rebuilt_review.to_jcs(), || {
        "the 2016 review differs between the reopened and the rebuilt store".into()
    });
    ctx.check(!review.postings.is_empty(), || {
        "the 2016 review grades nobody".into()
    });

    phase.mark("rebuilt folds");
    // The validation state: the same probes refused the same way by both.
    let probes = probes(ctx, &pages, demo_villages, rng);
    for probe in probes {
        let restored = log.append(vec![probe.clone()], "probe", Source::Client, None);
        let rebuilt_answer = rebuilt.append(
            vec![probe.clone()],
            "probe",
            Source::Client,
            Some(s.last_recorded_at),
        );
        ctx.check(restored.is_err() && restored == rebuilt_answer, || {
            format!("probe {probe:?}: the reopened store answers {restored:?}, the rebuilt one {rebuilt_answer:?}")
        });
        t.probes += 1;
    }
    ctx.check(log.size() == size && rebuilt.size() == size, || {
        "a refused probe left a trace".into()
    });
    phase.mark("probes");
    phase.report(ctx.round);
}

/// Where a round's checks spend their time (printed with TAIZHANG_CRASH_VERBOSE).
struct Phases(Instant, Vec<(&'static str, Duration)>);

impl Phases {
    fn new() -> Phases {
        Phases(Instant::now(), Vec::new())
    }
    fn mark(&mut self, name: &'static str) {
        self.1.push((name, self.0.elapsed()));
        self.0 = Instant::now();
    }
    fn report(&self, round: u64) {
        if std::env::var_os("TAIZHANG_CRASH_VERBOSE").is_some() {
            let parts: Vec<String> = self
                .1
                .iter()
                .map(|(n, d)| format!("{n} {:.0}ms", d.as_secs_f64() * 1e3))
                .collect();
            eprintln!("round {round} checks: {}", parts.join(", "));
        }
    }
}

/// Appends to the rebuilt store what the log holds beyond it, from the export lines: each run of
/// events recorded at one moment by one actor is one batch, with the original `recorded_at`, and
/// each event's stream version as its `expected_version`.
fn extend_rebuilt(ctx: &Ctx, rebuilt: &SledLog, log: &SledLog, s: &Scan) {
    let from = rebuilt.size();
    let mut group: Vec<ProposedEvent> = Vec::new();
    let mut group_key: Option<(Timestamp, String, Source)> = None;
    let flush = |group: &mut Vec<ProposedEvent>, key: &Option<(Timestamp, String, Source)>| {
        if let Some((at, actor, source)) = key {
            let batch = std::mem::take(group);
            let n = batch.len();
            let appended = rebuilt
                .append(batch, actor, *source, Some(*at))
                .unwrap_or_else(|e| {
                    ctx.fail(format!("the rebuilt store refuses what the log holds: {e}"))
                });
            ctx.check(
                appended.len() == n && appended.iter().all(|a| a.written),
                || "the rebuilt store wrote a different batch".into(),
            );
        }
    };
    for rec in log.read(from, s.size) {
        let line: Value = serde_json::from_str(&rec.unwrap().event.export_line()).unwrap();
        let import = json!({
            "type": line["type"], "occurred_on": line["occurred_on"], "payload": line["payload"],
            "event_id": line["event_id"], "expected_version": line["stream_version"],
        });
        let event = parse_line(&import.to_string())
            .unwrap_or_else(|e| ctx.fail(format!("export line {line}: {e}")))
            .event;
        let at: Timestamp = line["recorded_at"].as_str().unwrap().parse().unwrap();
        let source = if line["type"] == "ReviewSealed" {
            Source::Log
        } else {
            Source::Client
        };
        let key = Some((at, line["actor"].as_str().unwrap().to_string(), source));
        if key != group_key {
            flush(&mut group, &group_key);
            group_key = key;
        }
        group.push(event);
    }
    flush(&mut group, &group_key);
}

/// Appends the log must refuse, whatever kill came before: they ask the validation state about
/// villages, postings, pledges, commitments and projects. For this round's villages (those the
/// log holds), and a sample of earlier ones and of the demo city's.
fn probes(
    ctx: &Ctx,
    pages: &BTreeMap<String, VillagePage>,
    demo_villages: &[String],
    rng: &mut Rng,
) -> Vec<ProposedEvent> {
    let round_prefix = format!("CR{}-", ctx.round);
    let mut villages: Vec<&String> = pages
        .keys()
        .filter(|v| v.starts_with(&round_prefix))
        .collect();
    let earlier: Vec<&String> = pages
        .keys()
        .filter(|v| v.starts_with("CR") && !v.starts_with(&round_prefix))
        .collect();
    for _ in 0..8.min(earlier.len()) {
        villages.push(earlier[rng.below(earlier.len() as u64) as usize]);
    }
    for _ in 0..4 {
        villages.push(&demo_villages[rng.below(demo_villages.len() as u64) as usize]);
    }
    villages.sort();
    villages.dedup();
    let line = |v: Value| {
        parse_line(&v.to_string())
            .unwrap_or_else(|e| ctx.fail(format!("probe {v}: {e}")))
            .event
    };
    let mut out = Vec::new();
    for village in villages {
        let page = &pages[village];
        out.push(line(json!({"type": "VillageRegistered", "occurred_on": "2016-01-04",
            "payload": {"village_id": village, "name": "重复村", "county": "岑溪市", "township": "波塘镇"}})));
        if village.starts_with("CR") {
            // The workload's postings never end: a second one overlaps.
            out.push(line(json!({"type": "SecretaryPosted", "occurred_on": "2016-06-01",
                "payload": {"posting_id": format!("P2-{village}"), "person_id": "CAD-X", "person_name": "王五",
                            "village_id": village, "sending_unit": "岑溪市委组织部", "probation": false}})));
        }
        for pledge in &page.pledges {
            out.push(line(json!({"type": "DonationReceived", "occurred_on": "2016-12-30",
                "payload": {"pledge_id": pledge.pledge_id, "amount_fen": pledge.pledged_fen + 1, "receipt_no": "PROBE"}})));
        }
        for c in &page.commitments {
            if matches!(
                c.status,
                CommitmentStatus::FulfilledOnTime
                    | CommitmentStatus::FulfilledLate
                    | CommitmentStatus::Withdrawn
            ) {
                out.push(line(
                    json!({"type": "CommitmentProgressed", "occurred_on": "2016-12-30",
                    "payload": {"commitment_id": c.commitment_id, "percent": 100, "note": ""}}),
                ));
            }
        }
        for p in &page.projects {
            if p.status != ProjectStatus::Planned {
                out.push(line(
                    json!({"type": "ProjectStarted", "occurred_on": "2016-12-30",
                    "payload": {"project_id": p.project_id}}),
                ));
            }
        }
    }
    out
}

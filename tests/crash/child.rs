//! The child process: opens the store, then appends, signs checkpoints and seals reviews from
//! several threads until it is killed. It reports every attempt before making it and every
//! answer after receiving it, one JSON object a line on stdout, flushed line by line, so the
//! parent knows what was acknowledged when the kill came.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events::{Date, Id};
use serde_json::{json, Value};
use taizhang::reviews;
use taizhang::store::{Log, SealError, SledLog, Source};

use crate::workload::{Books, Rng};

/// Writer threads: recorders appending batches.
pub const WRITERS: usize = 6;
/// The periods the sealing thread reviews, in turn.
pub const PERIODS: [(&str, &str); 4] = [
    ("2016-01-01", "2016-12-31"),
    ("2016-01-01", "2016-06-30"),
    ("2016-07-01", "2016-12-31"),
    ("2016-04-01", "2016-09-30"),
];

/// Seal attempts made while the recorders append freely; then the committee holds appends, as
/// `reviews::seal` does (see `sealer`).
pub const SEAL_ATTEMPTS_UNDER_LOAD: u32 = 1;

/// What the parent tells the child, through the environment.
pub struct Spec {
    /// The store.
    pub dir: PathBuf,
    /// The round (part of every id the child makes).
    pub round: u64,
    /// The child's seed.
    pub seed: u64,
    /// The demo villages, one a line: writer `w` classifies those at indexes `w`, `w + WRITERS`…
    pub villages_file: PathBuf,
    /// The batches earlier children tried and got no answer for, one JSON array of import
    /// lines a line: a client retries them with the same event ids before anything else.
    pub retries_file: PathBuf,
}

/// Stdout, one whole line at a time.
#[derive(Clone)]
struct Report(Arc<Mutex<std::io::Stdout>>);

impl Report {
    fn line(&self, v: Value) {
        let mut text = v.to_string();
        text.push('\n');
        let mut out = self.0.lock().expect("stdout lock");
        out.write_all(text.as_bytes())
            .expect("writing to the parent");
        out.flush().expect("writing to the parent");
    }
}

/// Runs until killed (or until every thread stopped on an error it reported).
pub fn run(spec: Spec) {
    let log = Arc::new(SledLog::open(&spec.dir).expect("the child opens the store"));
    let report = Report(Arc::new(Mutex::new(std::io::stdout())));
    report.line(json!({"t": "ready", "size": log.size()}));
    retry(&log, &report, &spec.retries_file);
    let villages: Vec<String> = std::fs::read_to_string(&spec.villages_file)
        .expect("the demo villages file")
        .lines()
        .map(str::to_string)
        .collect();
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (log, report) = (log.clone(), report.clone());
        let mine: Vec<String> = villages.iter().skip(w).step_by(WRITERS).cloned().collect();
        let rng = Rng::new(spec.seed ^ (w as u64 + 1).wrapping_mul(0x51_7cc1_b727_220a));
        let round = spec.round;
        threads.push(std::thread::spawn(move || {
            writer(&log, &report, round, w, rng, mine)
        }));
    }
    {
        let (log, report) = (log.clone(), report.clone());
        let rng = Rng::new(spec.seed ^ 0xc4ec_c0de);
        threads.push(std::thread::spawn(move || checkpointer(&log, &report, rng)));
    }
    {
        let (log, report) = (log.clone(), report.clone());
        let round = spec.round;
        threads.push(std::thread::spawn(move || sealer(&log, &report, round)));
    }
    for t in threads {
        t.join().expect("a child thread panicked");
    }
}

/// Sends again, with the same event ids, the batches a kill left unanswered: each is written
/// now if the kill lost it, or answered from the log (`written: false`) if it was kept.
fn retry(log: &SledLog, report: &Report, retries_file: &std::path::Path) {
    let text = std::fs::read_to_string(retries_file).unwrap_or_default();
    for (i, batch) in text.lines().enumerate() {
        let batch: Value = serde_json::from_str(batch).expect("a retry batch");
        let events: Vec<_> = batch["lines"]
            .as_array()
            .expect("the batch's import lines")
            .iter()
            .map(|l| {
                events::import::parse_line(&l.to_string())
                    .expect("a retried line")
                    .event
            })
            .collect();
        let ids: Vec<String> = events
            .iter()
            .map(|e| e.event_id.expect("retried events have ids").to_string())
            .collect();
        report.line(json!({"t": "retry-try", "i": i, "ids": ids}));
        let actor = batch["actor"].as_str().expect("the batch's actor");
        match log.append(events, actor, Source::Client, None) {
            Ok(appended) => {
                report.line(json!({"t": "retry-ack", "i": i, "at": answers(&appended)}))
            }
            Err(e) => report.line(json!({"t": "err", "i": i, "error": e.to_string()})),
        }
    }
}

/// What the log answered for each event of a batch.
fn answers(appended: &[taizhang::store::Appended]) -> Vec<Value> {
    appended
        .iter()
        .map(|a| {
            json!([
                a.position,
                a.event_id.to_string(),
                a.stream,
                a.stream_version,
                a.written
            ])
        })
        .collect()
}

/// A recorder: batches of varied sizes, one after another, each built on the acknowledged
/// state of the ones before.
fn writer(log: &SledLog, report: &Report, round: u64, w: usize, mut rng: Rng, mine: Vec<String>) {
    let mut books = Books::new(round, w, mine);
    let actor = format!("recorder-{w}");
    for n in 0u64.. {
        let mut next = books.clone();
        let (batch, lines) = next.next_batch(&mut rng, log);
        let ids: Vec<String> = batch
            .iter()
            .map(|e| e.event_id.expect("workload events have ids").to_string())
            .collect();
        report
            .line(json!({"t": "try", "w": w, "n": n, "ids": ids, "actor": actor, "lines": lines}));
        match log.append(batch, &actor, Source::Client, None) {
            Ok(appended) => {
                report.line(json!({"t": "ack", "w": w, "n": n, "at": answers(&appended)}));
                books = next;
            }
            Err(e) => {
                report.line(json!({"t": "err", "w": w, "n": n, "error": e.to_string()}));
                return;
            }
        }
    }
}

/// An auditor signing checkpoints every few milliseconds.
fn checkpointer(log: &SledLog, report: &Report, mut rng: Rng) {
    for k in 0u64.. {
        report.line(json!({"t": "cp-try", "k": k}));
        match log.sign_checkpoint() {
            Ok(note) => report.line(json!({"t": "cp", "k": k, "note": note})),
            Err(e) => {
                report.line(json!({"t": "cp-err", "k": k, "error": e.to_string()}));
                return;
            }
        }
        // A pace, not a synchronisation: signatures come at random moments between appends.
        std::thread::sleep(Duration::from_millis(1 + rng.below(15)));
    }
}

/// A review committee sealing reviews one after another: each is computed over the log as it
/// stands, then handed to the log's writer, which refuses it if the log moved meanwhile (then it
/// is computed again), as `reviews::seal` does. With six recorders appending without pause the
/// log nearly always moves while a review is computed (the totals count how often), so after
/// `SEAL_ATTEMPTS_UNDER_LOAD` attempts the committee does what `reviews::seal` does and holds
/// appends (`Log::hold_appends`): the appends in flight are answered and no new one starts
/// until the seal is answered. Checkpoints are still signed meanwhile.
fn sealer(log: &SledLog, report: &Report, round: u64) {
    for k in 0u64.. {
        let review = format!("crash-{round}-{k}");
        let review_id = Id::new(&review).expect("a valid review id");
        let (start, end) = PERIODS[(k % PERIODS.len() as u64) as usize];
        let (start, end): (Date, Date) =
            (start.parse().expect("a date"), end.parse().expect("a date"));
        report.line(json!({"t": "seal-try", "k": k, "review": review}));
        let mut quiet = None;
        for attempt in 1.. {
            if attempt > SEAL_ATTEMPTS_UNDER_LOAD && quiet.is_none() {
                quiet = Some(log.hold_appends().expect("appends held"));
                report.line(json!({"t": "seal-quiet", "k": k}));
            }
            let size = log.size();
            let (result, event) = match reviews::seal_event(log, size, &review_id, start, end, None)
            {
                Ok(x) => x,
                Err(e) => {
                    report.line(json!({"t": "seal-err", "k": k, "error": format!("{e:#}")}));
                    return;
                }
            };
            report.line(json!({"t": "seal-send", "k": k, "review": review, "size": size,
                               "result_sha256": result.result_sha256().to_hex(), "quiet": quiet.is_some()}));
            match log.seal(size, event, "committee", None) {
                Ok(receipt) => {
                    report.line(json!({"t": "seal", "k": k, "review": review,
                        "position": receipt.appended.position,
                        "event_id": receipt.appended.event_id.to_string(),
                        "checkpoint_at_review": receipt.checkpoint_at_review,
                        "checkpoint_with_seal": receipt.checkpoint_with_seal}));
                    break;
                }
                Err(SealError::Moved { actual, .. }) => {
                    report.line(json!({"t": "seal-moved", "k": k, "actual": actual}));
                }
                Err(e) => {
                    report.line(json!({"t": "seal-err", "k": k, "error": e.to_string()}));
                    return;
                }
            }
        }
    }
}

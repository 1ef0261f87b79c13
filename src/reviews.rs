//! Reviews over the log: computing one over any prefix, sealing it into the log, checking a
//! seal against the log, and bundling a sealed review for an auditor. Also the two ways of
//! naming a prefix: a size, or an instant (every event recorded up to then).

use anyhow::{anyhow, bail, Context, Result};
use events::payload::ReviewSealed;
use events::{Date, Id, Payload, Policy, ProposedEvent, RecordedEvent, Sha256, Timestamp};
use projections::audit::{AuditFold, AuditViews};
use projections::counted::Retractions;
use projections::ledgers::Ledgers;
use projections::review::ReviewResult;
use projections::timeline::{Timeline, TimelineEntry};
use serde_json::{json, Value};

use crate::store::{Log, SealError, SealReceipt};

/// How many times sealing recomputes the review when appends keep moving the log.
pub const SEAL_ATTEMPTS_MAX: usize = 20;

/// The first `size` events of the log, checked, in memory (for small logs and tests; the
/// folds below stream instead).
pub fn prefix(log: &dyn Log, size: u64) -> Result<Vec<RecordedEvent>> {
    check_size(log, size)?;
    log.read(0, size)
        .map(|r| r.map(|r| r.event).map_err(anyhow::Error::from))
        .collect()
}

fn check_size(log: &dyn Log, size: u64) -> Result<()> {
    if size > log.size() {
        bail!("size {size} is beyond the log's {} events", log.size());
    }
    Ok(())
}

/// Streams the first `size` events through `f`, each checked as it is read.
fn each(log: &dyn Log, size: u64, mut f: impl FnMut(&RecordedEvent)) -> Result<()> {
    check_size(log, size)?;
    if size < PIPELINE_MIN_EVENTS {
        for rec in log.read(0, size) {
            f(&rec?.event);
        }
        return Ok(());
    }
    // Reading and checking records (sled, CRC, bincode) and folding them take about as long
    // each: a reader thread decodes chunks while this one folds, on two cores.
    std::thread::scope(|scope| {
        let (tx, rx) =
            crossbeam_channel::bounded::<Result<Vec<RecordedEvent>>>(PIPELINE_CHUNKS_IN_FLIGHT);
        scope.spawn(move || {
            let mut chunk = Vec::with_capacity(PIPELINE_CHUNK_EVENTS);
            for rec in log.read(0, size) {
                match rec {
                    Ok(r) => chunk.push(r.event),
                    Err(e) => {
                        let _ = tx.send(Err(e.into()));
                        return;
                    }
                }
                if chunk.len() == PIPELINE_CHUNK_EVENTS
                    && tx
                        .send(Ok(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(PIPELINE_CHUNK_EVENTS),
                        )))
                        .is_err()
                {
                    return;
                }
            }
            let _ = tx.send(Ok(chunk));
        });
        for chunk in rx {
            for e in &chunk? {
                f(e);
            }
        }
        Ok(())
    })
}

/// Below this many events a fold reads on its own thread (a thread costs more than it saves).
const PIPELINE_MIN_EVENTS: u64 = 20_000;
/// Events decoded per chunk handed from the reader thread to the fold.
const PIPELINE_CHUNK_EVENTS: usize = 1024;
/// Chunks decoded ahead of the fold at most (bounds the memory the pipeline adds).
const PIPELINE_CHUNKS_IN_FLIGHT: usize = 4;

/// The retractions among the first `size` events: the first pass of every rebuild.
pub fn retractions(log: &dyn Log, size: u64) -> Result<Retractions> {
    check_size(log, size)?;
    let mut r = Retractions::new();
    for e in log.retractions(size)? {
        r.note(&e);
    }
    Ok(r)
}

/// Every ledger as of the first `size` events: two streaming passes, memory bounded by the
/// number of entities, not of events.
pub fn ledgers(log: &dyn Log, size: u64) -> Result<Ledgers> {
    let mut ledgers = Ledgers::new(retractions(log, size)?);
    each(log, size, |e| {
        // Every retraction is known beforehand: no refold is ever asked for.
        let _ = ledgers.apply(e);
    })?;
    Ok(ledgers)
}

/// The ledgers of one village as of the first `size` events, read from that village's events
/// alone (retractions of them included): what the full ledgers show for the village, at the cost
/// of its own events. Calendar statuses are judged on the same default reference date as the
/// full ledgers (the last event of the prefix), returned beside.
pub fn village_ledgers(log: &dyn Log, size: u64, village: &str) -> Result<(Ledgers, Option<Date>)> {
    check_size(log, size)?;
    let Some(positions) = log.village_positions(village, size)? else {
        // The index cannot place every event as of this size: fold the whole prefix.
        let ledgers = ledgers(log, size)?;
        let reference = ledgers.default_reference_date();
        return Ok((ledgers, reference));
    };
    let mut events = Vec::with_capacity(positions.len());
    for position in positions {
        let rec = log
            .read(position, position + 1)
            .next()
            .ok_or_else(|| anyhow!("record {position} is missing"))??;
        events.push(rec.event);
    }
    // The village's positions hold every retraction of its events (`Log::village_positions`),
    // and no other retraction changes its ledgers: the first pass needs no other record.
    let mut ledgers = Ledgers::new(Retractions::collect(&events));
    for e in &events {
        let _ = ledgers.apply(e);
    }
    let reference = match size {
        0 => None,
        n => Some(
            log.read(n - 1, n)
                .next()
                .ok_or_else(|| anyhow!("record {} is missing", n - 1))??
                .event
                .recorded_at
                .cst_date(),
        ),
    };
    Ok((ledgers, reference))
}

/// The audit views as of the first `size` events.
pub fn audit(log: &dyn Log, size: u64, late_after_days: i64) -> Result<AuditViews> {
    let r = retractions(log, size)?;
    let mut ledgers = Ledgers::new(r.clone());
    let mut fold = AuditFold::new(r, late_after_days);
    each(log, size, |e| {
        let _ = ledgers.apply(e);
        fold.apply(e);
    })?;
    Ok(fold.finish(&ledgers))
}

/// A subject's timeline as of the first `size` events.
pub fn timeline(log: &dyn Log, size: u64, subject: &str) -> Result<Vec<TimelineEntry>> {
    let mut t = Timeline::new(subject, retractions(log, size)?);
    each(log, size, |e| t.apply(e))?;
    Ok(t.finish())
}

/// The number of events recorded up to `instant` (inclusive): `recorded_at` never decreases
/// along positions, so they are a prefix, found by binary search in O(log n) reads.
pub fn size_at(log: &dyn Log, instant: Timestamp) -> Result<u64> {
    let (mut lo, mut hi) = (0u64, log.size());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let rec = log
            .read(mid, mid + 1)
            .next()
            .ok_or_else(|| anyhow!("record {mid} is missing"))??;
        if rec.event.recorded_at <= instant {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// A prefix named by `--size` or `--as-of`, or the whole log.
pub fn resolve_size(log: &dyn Log, size: Option<u64>, as_of: Option<Timestamp>) -> Result<u64> {
    match (size, as_of) {
        (Some(_), Some(_)) => bail!("give --size or --as-of, not both"),
        (Some(n), None) if n > log.size() => {
            bail!("--size {n} is beyond the log's {} events", log.size())
        }
        (Some(n), None) => Ok(n),
        (None, Some(t)) => size_at(log, t),
        (None, None) => Ok(log.size()),
    }
}

/// The review of `[start, end]` over the first `size` events.
pub fn compute(
    log: &dyn Log,
    size: u64,
    start: Date,
    end: Date,
    policy: Option<(String, Policy)>,
) -> Result<ReviewResult> {
    if start > end {
        bail!("the period starts ({start}) after it ends ({end})");
    }
    let folded = ledgers(log, size)?;
    let root = log.root(size)?;
    Ok(projections::review::review_of(
        &folded,
        start,
        end,
        size,
        &hex::encode(root),
        policy,
    ))
}

/// Computes the review of `[start, end]` over the whole log and seals it: a `ReviewSealed`
/// appended by the log itself, with checkpoints signed at the reviewed size and after the seal.
/// `recorded_at` is for simulated-clock stores only.
pub fn seal(
    log: &dyn Log,
    review_id: &str,
    start: Date,
    end: Date,
    actor: &str,
    recorded_at: Option<Timestamp>,
) -> Result<(ReviewResult, SealReceipt)> {
    let review_id = Id::new(review_id).map_err(|e| anyhow!("review id: {e}"))?;
    for attempt in 0..SEAL_ATTEMPTS_MAX {
        // The first attempt lets appends go on. On a busy log they nearly always move it while
        // the review is computed (a fold of the whole log), so later attempts hold appends:
        // those in flight are answered, new ones wait for the seal (docs/choices.md, "Seals").
        let _hold = if attempt == 0 {
            None
        } else {
            Some(
                log.hold_appends()
                    .with_context(|| format!("sealing review {review_id}"))?,
            )
        };
        let size = log.size();
        let (result, event) = seal_event(log, size, &review_id, start, end, recorded_at)?;
        match log.seal(size, event, actor, recorded_at) {
            Ok(receipt) => return Ok((result, receipt)),
            // Appends (first attempt) or another seal moved the log.
            Err(SealError::Moved { .. }) => continue,
            Err(e) => return Err(e).with_context(|| format!("sealing review {review_id}")),
        }
    }
    bail!("other reviews kept being sealed while review {review_id} was computed ({SEAL_ATTEMPTS_MAX} attempts); try again")
}

/// One attempt of [`seal`]: the review of `[start, end]` over the first `size` events and the
/// `ReviewSealed` that seals it, to hand to [`Log::seal`] with `size` (which answers
/// [`SealError::Moved`] if the log grew meanwhile).
pub fn seal_event(
    log: &dyn Log,
    size: u64,
    review_id: &Id,
    start: Date,
    end: Date,
    recorded_at: Option<Timestamp>,
) -> Result<(ReviewResult, ProposedEvent)> {
    let result = compute(log, size, start, end, None)?;
    let occurred_on = recorded_at
        .unwrap_or_else(crate::store::system_now)
        .cst_date();
    let payload = ReviewSealed {
        review_id: review_id.clone(),
        period_start: start,
        period_end: end,
        tree_size: size,
        root: Sha256::parse_hex(&result.root).map_err(|e| anyhow!("root: {e}"))?,
        policy_sha256: Sha256::parse_hex(&result.policy_sha256)
            .map_err(|e| anyhow!("policy_sha256: {e}"))?,
        result_sha256: result.result_sha256(),
    };
    let event = ProposedEvent {
        occurred_on,
        payload: Payload::ReviewSealed(payload),
        event_id: None,
        expected_version: Some(0),
    };
    Ok((result, event))
}

/// The `ReviewSealed` event of a review id.
pub fn find_seal(log: &dyn Log, review_id: &str) -> Result<(RecordedEvent, ReviewSealed)> {
    let events = log.read_stream(&format!("review/{review_id}"), 0, 1)?;
    let ev = events
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no review {review_id:?} is sealed in this log"))?;
    match &ev.payload {
        Payload::ReviewSealed(s) => {
            let s = s.clone();
            Ok((ev, s))
        }
        other => bail!(
            "stream review/{review_id} starts with {}, not ReviewSealed",
            other.event_type()
        ),
    }
}

/// What `review verify` checked.
#[derive(Debug, Clone)]
pub struct ReviewVerified {
    /// The seal.
    pub seal: ReviewSealed,
    /// Its position.
    pub position: u64,
    /// The rebuilt result.
    pub result: ReviewResult,
}

/// Rebuilds a sealed review from the log prefix its seal names, and checks the root, the
/// policy hash and the result hash against the seal. Later appends do not matter.
pub fn verify(log: &dyn Log, review_id: &str) -> Result<ReviewVerified> {
    let (ev, seal) = find_seal(log, review_id)?;
    if seal.tree_size > ev.position {
        bail!(
            "the seal at position {} names tree size {}, beyond its own position",
            ev.position,
            seal.tree_size
        );
    }
    let root = log.root(seal.tree_size)?;
    if root != seal.root.0 {
        bail!(
            "the log's root at size {} is {}, the seal says {}",
            seal.tree_size,
            hex::encode(root),
            seal.root
        );
    }
    let result = compute(
        log,
        seal.tree_size,
        seal.period_start,
        seal.period_end,
        None,
    )?;
    if result.policy_sha256 != seal.policy_sha256.to_hex() {
        bail!(
            "the policy in force hashes to {}, the seal says {}",
            result.policy_sha256,
            seal.policy_sha256
        );
    }
    let got = result.result_sha256();
    if got != seal.result_sha256 {
        bail!(
            "the rebuilt review hashes to {got}, the seal says {}",
            seal.result_sha256
        );
    }
    Ok(ReviewVerified {
        seal,
        position: ev.position,
        result,
    })
}

/// A self-contained bundle for an auditor: the result document, the seal event (as an export
/// line), the latest signed checkpoint, the inclusion proof of the seal in it, and the
/// verifier key. Everything in it checks with SHA-256, Ed25519 and a JSON parser.
pub fn bundle(log: &dyn Log, review_id: &str) -> Result<Value> {
    let verified = verify(log, review_id)?;
    let checkpoints = log.checkpoints()?;
    let (size, note) = checkpoints
        .into_iter()
        .rev()
        .find(|(size, _)| *size > verified.position)
        .ok_or_else(|| {
            anyhow!(
                "no signed checkpoint includes the seal at position {}; run `taizhang checkpoint`",
                verified.position
            )
        })?;
    let seal_event = log
        .read(verified.position, verified.position + 1)
        .next()
        .ok_or_else(|| anyhow!("seal record missing"))??
        .event;
    let proof = log.inclusion_proof(verified.position, size)?;
    let result: Value = serde_json::from_str(&verified.result.to_jcs())?;
    let seal_line: Value = serde_json::from_str(&seal_event.export_line())?;
    Ok(json!({
        "review_id": review_id,
        "result": result,
        "result_sha256": verified.result.result_sha256().to_hex(),
        "seal": seal_line,
        "checkpoint": note,
        "inclusion_proof": serde_json::to_value(&proof)?,
        "verifier_key": log.verifier_key(),
    }))
}

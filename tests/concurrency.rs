//! Many writers on the same few streams with expected versions: no update is lost, every
//! conflict is a `VersionConflict` naming the stream with the right numbers, and the final
//! state equals the accepted batches replayed one by one in position order; and concurrent
//! retries of the same event ids write one copy, every sender getting the same positions.

#[path = "../projections/tests/validation_common/mod.rs"]
mod validation_common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Barrier, Mutex};

use events::{EventId, ProposedEvent, Timestamp};
use taizhang::store::{AppendError, Appended, Log, SledLog, Source};
use validation_common::*;

const WRITERS: usize = 16;
const BATCHES_PER_WRITER: usize = 12;
/// Few streams, so that writers collide: two commitments (whose ledger rows show the last
/// progress in log order, so the order of batches shows) and a village (team members).
const STREAMS: [&str; 3] = ["commitment/C0", "commitment/C1", "village/V"];

fn parse(line: &str) -> ProposedEvent {
    events::import::parse_line(line).unwrap().event
}

/// A store holding village V, posting P and commitments C0 and C1; with a simulated clock,
/// its events are recorded at `at`.
fn store(dir: &Path, simulated: Option<Timestamp>) -> SledLog {
    let log = SledLog::init(dir, "concurrency.test/taizhang", simulated.is_some()).unwrap();
    let setup = vec![
        parse(&village("V", "2016-01-01")),
        parse(&posted("P", "V", "2016-01-15")),
        parse(&made("C0", "P", "V", "2016-02-01", "2016-09-30")),
        parse(&made("C1", "P", "V", "2016-02-01", "2016-09-30")),
    ];
    let mut setup = setup;
    for (i, ev) in setup.iter_mut().enumerate() {
        ev.event_id = Some(eid(i as u64));
    }
    log.append(setup, "cli", Source::Client, simulated).unwrap();
    log
}

/// The event writer `w` proposes for `stream` in its `n`th batch, expecting `version`. Its id
/// depends on (w, n, stream) only, so a retry after a conflict sends the same event.
fn event(stream: &str, w: usize, n: usize, version: u64) -> ProposedEvent {
    let line = match stream {
        "village/V" => joined("V", &format!("M-{w}-{n}"), "2016-06-01"),
        "commitment/C0" => progressed("C0", ((w * 7 + n * 13) % 101) as u64, "2016-06-01"),
        "commitment/C1" => progressed("C1", ((w * 11 + n * 3) % 101) as u64, "2016-06-01"),
        other => unreachable!("{other}"),
    };
    let mut ev = parse(&line);
    let s = STREAMS.iter().position(|x| *x == stream).unwrap();
    ev.event_id =
        Some(EventId::parse(&format!("00000000-0000-4000-9000-{w:04x}{n:04x}{s:04x}")).unwrap());
    ev.expected_version = Some(version);
    ev
}

/// What one writer saw.
#[derive(Default)]
struct Seen {
    /// (batch as sent, what the log answered, actor).
    accepted: Vec<(Vec<ProposedEvent>, Vec<Appended>, String)>,
    conflicts: usize,
}

#[test]
fn writers_with_expected_versions_lose_nothing_and_equal_a_serial_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = store(&dir.path().join("store"), None);
    let setup_size = log.size();
    let start = Barrier::new(WRITERS);
    let seen = Mutex::new(Seen::default());
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (log, start, seen) = (&log, &start, &seen);
            scope.spawn(move || {
                let actor = format!("writer-{w}");
                let mut mine = Seen::default();
                for n in 0..BATCHES_PER_WRITER {
                    // Two streams per batch, so that batches also collide on their second event.
                    let streams = [STREAMS[(w + n) % 3], STREAMS[(w + n + 1) % 3]];
                    let mut first = true;
                    loop {
                        let batch: Vec<ProposedEvent> = streams
                            .iter()
                            .map(|s| event(s, w, n, log.stream_len(s).unwrap()))
                            .collect();
                        if n == 0 && first {
                            // Every writer has read the same versions before anyone appends:
                            // all but one of these first batches must conflict.
                            start.wait();
                        }
                        first = false;
                        match log.append(batch.clone(), &actor, Source::Client, None) {
                            Ok(appended) => {
                                mine.accepted.push((batch, appended, actor.clone()));
                                break;
                            }
                            Err(AppendError::VersionConflict {
                                index,
                                stream,
                                expected,
                                actual,
                            }) => {
                                assert_eq!(stream, streams[index], "the conflict names its stream");
                                assert_eq!(Some(expected), batch[index].expected_version);
                                // Streams only grow: what it held then is more than was read,
                                // and no more than it holds now.
                                assert!(actual > expected, "{stream}: {actual} vs {expected}");
                                assert!(actual <= log.stream_len(&stream).unwrap());
                                mine.conflicts += 1;
                            }
                            Err(e) => panic!("writer {w}: {e}"),
                        }
                    }
                }
                let mut all = seen.lock().unwrap();
                all.accepted.append(&mut mine.accepted);
                all.conflicts += mine.conflicts;
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.accepted.len(), WRITERS * BATCHES_PER_WRITER);
    assert!(
        seen.conflicts >= WRITERS - 1,
        "the first round alone conflicts {} times at least, saw {}",
        WRITERS - 1,
        seen.conflicts
    );

    // No lost update: every accepted event is in the log once, where its answer said, at the
    // version it expected; and the log holds nothing else.
    let mut accepted = seen.accepted;
    accepted.sort_by_key(|(_, appended, _)| appended[0].position);
    let mut next = setup_size;
    let mut ids = HashSet::new();
    for (batch, appended, _) in &accepted {
        assert_eq!(batch.len(), appended.len());
        for (sent, got) in batch.iter().zip(appended) {
            assert!(got.written);
            assert_eq!(
                got.position, next,
                "a batch is appended whole, in one run of positions"
            );
            next += 1;
            assert_eq!(Some(got.event_id), sent.event_id);
            assert_eq!(Some(got.stream_version), sent.expected_version);
            assert_eq!(
                got.recorded_at, appended[0].recorded_at,
                "one batch, one instant"
            );
            assert!(ids.insert(got.event_id), "{} answered twice", got.event_id);
            let stored = log
                .read(got.position, got.position + 1)
                .next()
                .unwrap()
                .unwrap();
            assert_eq!(stored.event.event_id, got.event_id);
            assert_eq!(stored.event.payload, sent.payload);
            assert_eq!(
                log.event(got.event_id).unwrap().unwrap().position,
                got.position
            );
        }
    }
    assert_eq!(
        log.size(),
        next,
        "the log holds exactly the accepted events"
    );
    taizhang::ops::verify(&log, |_| {}).unwrap();

    // Some serial order: the accepted batches replayed one at a time, in position order, into
    // a fresh store that records them at the same instants, each with its expected versions.
    let replay_dir = tempfile::tempdir().unwrap();
    let first_recorded = log.read(0, 1).next().unwrap().unwrap().event.recorded_at;
    let replay = store(&replay_dir.path().join("store"), Some(first_recorded));
    for (batch, appended, actor) in &accepted {
        let again = replay
            .append(
                batch.clone(),
                actor,
                Source::Client,
                Some(appended[0].recorded_at),
            )
            .unwrap();
        assert_eq!(&again, appended);
    }
    assert_eq!(replay.size(), log.size());
    for s in STREAMS.iter().copied().chain(["posting/P"]) {
        let len = log.stream_len(s).unwrap();
        assert_eq!(replay.stream_len(s).unwrap(), len, "{s}");
        assert_eq!(
            replay.read_stream(s, 0, len).unwrap(),
            log.read_stream(s, 0, len).unwrap(),
            "{s}"
        );
    }
    let ledgers = |l: &SledLog| {
        let report = taizhang::reviews::ledgers(l, l.size())
            .unwrap()
            .report(None);
        serde_json::to_value(report).unwrap()
    };
    let (original, replayed) = (ledgers(&log), ledgers(&replay));
    assert_eq!(original, replayed);
    // The ledgers do show the order: C0's progress is that of its last accepted event.
    let last_c0 = accepted
        .iter()
        .flat_map(|(b, _, _)| b)
        .rev()
        .find(|e| e.payload.stream().as_deref() == Some("commitment/C0"))
        .unwrap();
    let events::Payload::CommitmentProgressed(p) = &last_c0.payload else {
        unreachable!()
    };
    let row = original["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["commitment_id"] == "C0")
        .unwrap();
    assert_eq!(row["progress_percent"], p.percent, "{row}");
    assert_eq!(
        replay.root(replay.size()).unwrap(),
        log.root(log.size()).unwrap()
    );
}

#[test]
fn concurrent_retries_of_the_same_events_write_one_copy() {
    const SENDERS: usize = 8;
    const ROUNDS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let log = store(&dir.path().join("store"), None);
    for round in 0..ROUNDS {
        let size = log.size();
        // Expected versions as read before the round: once one copy is written, the others'
        // would conflict, but a retry succeeds whatever its expected_version (formats.md §2).
        let batch = vec![
            event(
                "village/V",
                100,
                round,
                log.stream_len("village/V").unwrap(),
            ),
            event(
                "commitment/C0",
                100,
                round,
                log.stream_len("commitment/C0").unwrap(),
            ),
        ];
        let start = Barrier::new(SENDERS);
        let answers: Vec<Vec<Appended>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..SENDERS)
                .map(|_| {
                    let (log, start, batch) = (&log, &start, batch.clone());
                    scope.spawn(move || {
                        start.wait();
                        log.append(batch, "retrier", Source::Client, None).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(log.size(), size + 2, "round {round}: one copy of the batch");
        // Everyone got the same answer, but for who wrote it.
        let key = |a: &[Appended]| -> Vec<(u64, EventId, String, u64, Timestamp)> {
            a.iter()
                .map(|x| {
                    (
                        x.position,
                        x.event_id,
                        x.stream.clone(),
                        x.stream_version,
                        x.recorded_at,
                    )
                })
                .collect()
        };
        for a in &answers {
            assert_eq!(key(a), key(&answers[0]), "round {round}");
        }
        assert_eq!(answers[0][0].position, size);
        for i in 0..2 {
            let writers = answers.iter().filter(|a| a[i].written).count();
            assert_eq!(
                writers, 1,
                "round {round}, event {i}: written by {writers} senders"
            );
        }
    }
    // Each id once in the log.
    let mut count: BTreeMap<EventId, usize> = BTreeMap::new();
    for r in log.read(0, log.size()) {
        *count.entry(r.unwrap().event.event_id).or_default() += 1;
    }
    assert!(count.values().all(|&n| n == 1));
    assert_eq!(count.len() as u64, log.size());
    taizhang::ops::verify(&log, |_| {}).unwrap();
}

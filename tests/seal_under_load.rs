//! Sealing a review while recorders keep appending: `reviews::seal` must get through.
//!
//! Computing a review folds the whole log, which takes longer than the gap between two appends
//! on a busy log, so a seal that only retries when the log moved would never be written (the
//! crash test under load found this: 96 attempts, none through). Sealing now holds appends
//! after its first attempt (`Log::hold_appends`): appends in flight are answered, new ones
//! wait for the seal, none is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::import::parse_line;
use events::ProposedEvent;
use taizhang::demo::{city, DemoStep};
use taizhang::reviews;
use taizhang::store::{Log, SledLog, Source};

const RECORDERS: usize = 4;
const SEALS: usize = 3;

/// A store holding the demo city (17 000 events: a review of it takes tens of milliseconds,
/// far longer than the gap between two appends).
fn demo_store(dir: &std::path::Path) -> SledLog {
    let log = SledLog::init(dir, "seal.test/taizhang", false).unwrap();
    for step in city(2016) {
        if let DemoStep::Append(b) = step {
            log.append(b.events, &b.actor, Source::Client, None)
                .expect("the demo city appends");
        }
    }
    log
}

/// A new village and its classification: valid whatever else is in the log.
fn batch(recorder: usize, n: u64) -> Vec<ProposedEvent> {
    let village = format!("LOAD-{recorder}-{n}");
    [
        format!(
            r#"{{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{{"village_id":"{village}","name":"新村","county":"岑溪市","township":"波塘镇"}}}}"#
        ),
        format!(
            r#"{{"type":"VillageClassified","occurred_on":"2016-01-10","payload":{{"village_id":"{village}","year":2016,"obstacle":"industry"}}}}"#
        ),
    ]
    .iter()
    .map(|l| parse_line(l).unwrap().event)
    .collect()
}

#[test]
fn reviews_are_sealed_while_recorders_keep_appending() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(demo_store(&dir.path().join("store")));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let recorders: Vec<_> = (0..RECORDERS)
        .map(|r| {
            let (log, stop, acked) = (log.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    log.append(batch(r, n), "recorder", Source::Client, None)
                        .expect("no append is refused while a seal holds appends");
                    acked.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Let the recorders get going.
    while acked.load(Ordering::Relaxed) < 50 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let start = "2016-01-01".parse().unwrap();
    let end = "2016-12-31".parse().unwrap();
    let mut moved_during_seals = 0;
    for k in 0..SEALS {
        let before = acked.load(Ordering::Relaxed);
        let id = format!("under-load-{k}");
        let (result, receipt) = reviews::seal(&*log, &id, start, end, "committee", None)
            .unwrap_or_else(|e| panic!("seal {k} under load: {e:#}"));
        moved_during_seals += acked.load(Ordering::Relaxed) - before;
        // The seal is at the size it reviewed, between its two checkpoints.
        let events::Payload::ReviewSealed(p) = &log
            .event(receipt.appended.event_id)
            .unwrap()
            .expect("the seal is in the log")
            .payload
        else {
            panic!("not a seal")
        };
        assert_eq!(p.tree_size, receipt.appended.position);
        assert_eq!(p.result_sha256, result.result_sha256());
        let verified = reviews::verify(&*log, &id).unwrap();
        assert_eq!(verified.position, receipt.appended.position);
        assert_eq!(verified.result.result_sha256(), result.result_sha256());
    }
    stop.store(true, Ordering::Relaxed);
    let appended: u64 = recorders.into_iter().map(|t| t.join().unwrap()).sum();
    // The recorders really were appending while the reviews were sealed.
    assert!(
        moved_during_seals > 0,
        "no append went through while the reviews were sealed: the test saw no load"
    );
    assert_eq!(appended, acked.load(Ordering::Relaxed));
    eprintln!(
        "{SEALS} seals under load; {moved_during_seals} batches acknowledged while sealing, {appended} in all"
    );
    taizhang::ops::verify(&*log, |_| {}).unwrap();
}

#[test]
fn a_hold_lets_appends_in_flight_finish_and_makes_new_ones_wait() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        Arc::new(SledLog::init(&dir.path().join("store"), "seal.test/taizhang", false).unwrap());
    log.append(batch(0, 0), "recorder", Source::Client, None)
        .unwrap();
    let hold = log.hold_appends().unwrap();
    let size_held = log.size();
    let done = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let r = log.append(batch(0, 1), "recorder", Source::Client, None);
            done.store(true, Ordering::SeqCst);
            r
        })
    };
    // Checkpoints go on while appends are held.
    let note = log.sign_checkpoint().unwrap();
    assert!(note.contains(&format!("\n{size_held}\n")), "{note}");
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_millis(200) {
        assert!(
            !done.load(Ordering::SeqCst),
            "an append went through while appends were held"
        );
        assert_eq!(log.size(), size_held);
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(hold);
    let appended = waiter
        .join()
        .unwrap()
        .expect("the held append goes through after");
    assert_eq!(appended[0].position, size_held);
    assert_eq!(log.size(), size_held + 2);
}

//! A village's ledgers read through the village index (its events alone) equal the village's
//! page of the full ledgers, for every village of the demo city at several sizes, before and
//! after the seal and its corrections.

use taizhang::demo::{city, DemoStep};
use taizhang::reviews;
use taizhang::store::{Log, SledLog, Source};

#[test]
fn every_village_page_from_the_index_equals_the_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::init(&dir.path().join("demo"), "village.test/taizhang", true).unwrap();
    for step in city(11) {
        match step {
            DemoStep::Append(b) => {
                log.append(b.events, &b.actor, Source::Client, Some(b.recorded_at))
                    .unwrap();
            }
            DemoStep::SealReview {
                review_id,
                start,
                end,
                recorded_at,
            } => {
                reviews::seal(&log, &review_id, start, end, "committee", Some(recorded_at))
                    .unwrap();
            }
        }
    }
    let total = log.size();
    let villages: Vec<String> = reviews::ledgers(&log, total)
        .unwrap()
        .report(None)
        .villages
        .iter()
        .map(|v| v.village_id.to_string())
        .collect();
    assert_eq!(villages.len(), 179);
    for size in [1, total / 7, total / 2, total - 1400, total] {
        let full = reviews::ledgers(&log, size).unwrap().report(None);
        for v in &villages {
            // The index holds the village's own events only (a 179th of the log, give or take).
            let own = log.village_positions(v, size).unwrap().len() as u64;
            assert!(
                own * 40 < size.max(40 * 40),
                "village {v}: {own} of {size} events"
            );
            let (ledgers, reference) = reviews::village_ledgers(&log, size, v).unwrap();
            let fast = ledgers.report(reference).village_page(v);
            assert_eq!(
                serde_json::to_string(&fast).unwrap(),
                serde_json::to_string(&full.village_page(v)).unwrap(),
                "village {v} as of {size}"
            );
        }
    }
    // Reopening rebuilds the index from the log.
    let dir_path = log.dir().to_path_buf();
    drop(log);
    let log = SledLog::open(&dir_path).unwrap();
    let full = reviews::ledgers(&log, total).unwrap().report(None);
    for v in &villages {
        let (ledgers, reference) = reviews::village_ledgers(&log, total, v).unwrap();
        assert_eq!(
            serde_json::to_string(&ledgers.report(reference).village_page(v)).unwrap(),
            serde_json::to_string(&full.village_page(v)).unwrap()
        );
    }
}

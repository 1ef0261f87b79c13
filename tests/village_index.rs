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
            let own = log
                .village_positions(v, size)
                .unwrap()
                .expect("the demo moves nothing between villages")
                .len() as u64;
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

/// A correction that re-enters a pledge in another village moves its receipts with it (domain
/// "Corrections"): the index follows, at every size, and after a reopen.
#[test]
fn a_correction_moving_a_pledge_to_another_village_moves_its_events() {
    use events::import::parse_line;
    let line = |s: &str| parse_line(s).unwrap().event;
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::init(&dir.path().join("s"), "village.test/taizhang", false).unwrap();
    let pledge_a = r#"{"type":"DonationPledged","occurred_on":"2016-03-01","event_id":"0190a5b2-7c4e-7d3a-9b1f-000000000001","payload":{"pledge_id":"D1","donor_id":"HK","donor_name":"香港慈善会","donor_kind":"charity","village_id":"A","amount_fen":680000000,"purpose":"幼儿园","due":"2016-12-31"}}"#;
    for l in [
        r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"A","name":"甲村","county":"藤县","township":"镇"}}"#,
        r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"B","name":"乙村","county":"藤县","township":"镇"}}"#,
        pledge_a,
        r#"{"type":"DonationReceived","occurred_on":"2016-04-01","payload":{"pledge_id":"D1","amount_fen":10000000,"receipt_no":"R1"}}"#,
    ] {
        log.append(vec![line(l)], "recorder", Source::Client, None)
            .unwrap();
    }
    // The pledge was entered under the wrong village: retracted and entered again under B.
    let fix = vec![
        line(
            r#"{"type":"Retracted","occurred_on":"2016-04-02","payload":{"target_event_id":"0190a5b2-7c4e-7d3a-9b1f-000000000001","reason":"wrong village","approved_by":"县委组织部"}}"#,
        ),
        line(
            &pledge_a
                .replace("\"village_id\":\"A\"", "\"village_id\":\"B\"")
                .replace("000000000001", "000000000002"),
        ),
    ];
    log.append(fix, "recorder", Source::Client, None).unwrap();
    let check = |log: &SledLog| {
        for size in 0..=log.size() {
            let full = reviews::ledgers(log, size).unwrap().report(None);
            for v in ["A", "B"] {
                let (ledgers, reference) = reviews::village_ledgers(log, size, v).unwrap();
                assert_eq!(
                    serde_json::to_string(&ledgers.report(reference).village_page(v)).unwrap(),
                    serde_json::to_string(&full.village_page(v)).unwrap(),
                    "village {v} as of {size}"
                );
            }
        }
        let (ledgers, reference) = reviews::village_ledgers(log, log.size(), "B").unwrap();
        let page = ledgers.report(reference).village_page("B");
        assert_eq!(page.pledges.len(), 1);
        assert_eq!(
            page.pledges[0].received_fen, 10000000,
            "the receipt follows its pledge to B"
        );
    };
    check(&log);
    let path = log.dir().to_path_buf();
    drop(log);
    check(&SledLog::open(&path).unwrap());
}

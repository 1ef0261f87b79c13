//! Golden review documents (formats.md §6): the numbers are checked one by one first, then the
//! JCS bytes and their SHA-256 are frozen, so any change to the document's bytes is caught.

mod common;

use common::{d, Log, ROOT};
use projections::review::{review, Cap, Grade, ReviewResult, Status};

const VILLAGE: &str = include_str!("../../examples/village.jsonl");

fn village_log() -> Log {
    let mut log = Log::new();
    for line in VILLAGE.lines().filter(|l| !l.trim().is_empty()) {
        log.import(line);
    }
    log
}

fn village_review() -> ReviewResult {
    let log = village_log();
    review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    )
}

#[test]
fn the_shipped_example_reviews_as_worked_out_by_hand() {
    let r = village_review();
    assert_eq!(r.tree_size, 18);
    assert_eq!(r.postings.len(), 1);
    let p = &r.postings[0];
    assert_eq!(p.posting_id.as_str(), "P-2016-CX-01");
    assert_eq!(
        (p.person_id.as_str(), p.person_name.as_str()),
        ("CAD-0107", "陈明")
    );
    // Window 2016-01-15..2016-12-31: 17 + 29 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 30 + 31 = 352 days.
    assert_eq!(p.service_days, 352);
    assert_eq!(p.status, Status::Graded);
    // One road, due 09-30, completed 09-20, accepted (passed): 2 halves of 2 → rhu(20000, 2) = 10000.
    assert_eq!(p.work_bp, Some(10000));
    // One commitment, due 09-30, fulfilled 09-20: 10000.
    assert_eq!(p.commitments_bp, Some(10000));
    // S=241 B=52 D=9 (3 invalid ignored), S+B+D = 302:
    // evaluation = rhu(100·(100·241 + 60·52), 302) = rhu(2722000, 302) = (5444000 + 302) div 604 = 9013;
    assert_eq!(p.evaluation_bp, Some(9013));
    // satisfaction = rhu(10000·293, 302) = (5860000 + 302) div 604 = 9702.
    assert_eq!(p.satisfaction_bp, Some(9702));
    // The minor finding (08-12) was rectified 08-30, within the window: no deduction.
    assert_eq!(p.deductions_bp, 0);
    // base = rhu(40·10000 + 30·10000 + 30·9013, 100) = rhu(970390, 100) = (1940780 + 100) div 200 = 9704.
    assert_eq!(p.total_bp, Some(9704));
    // 9704 ≥ 9000 is excellent, no cap applies, but the quota is 1 graded × 1500 div 10000 = 0:
    // the only excellent posting becomes competent with excellent_quota.
    assert_eq!(p.grade, Some(Grade::Competent));
    assert_eq!(p.caps, vec![Cap::ExcellentQuota]);
    let s = r.summary;
    assert_eq!((s.active, s.graded, s.excluded), (1, 1, 0));
    assert_eq!(
        (
            s.excellent,
            s.competent,
            s.basically_competent,
            s.incompetent
        ),
        (0, 1, 0, 0)
    );
    // rhu(10000·1, 1) = 10000.
    assert_eq!((s.competent_or_above, s.competent_or_above_bp), (1, 10000));
}

#[test]
fn the_shipped_example_golden_document() {
    let r = village_review();
    let jcs = r.to_jcs();
    assert_eq!(jcs, GOLDEN_VILLAGE_JCS);
    assert_eq!(r.result_sha256().to_hex(), GOLDEN_VILLAGE_SHA256);
    // The document reads back to the same result.
    let back: ReviewResult = serde_json::from_str(&jcs).unwrap();
    assert_eq!(back, r);
}

const GOLDEN_VILLAGE_JCS: &str = concat!(
    r#"{"period":{"end":"2016-12-31","start":"2016-01-01"},"policy_id":"default-v1","policy_sha256":"235152374b8e223ee17d9735c0a774e5859de2b9d3c5d9dbb990162ec92fe577","postings":["#,
    r#"{"caps":["excellent_quota"],"commitments_bp":10000,"deductions_bp":0,"evaluation_bp":9013,"grade":"competent","person_id":"CAD-0107","person_name":"陈明","posting_id":"P-2016-CX-01","reason":null,"satisfaction_bp":9702,"service_days":352,"status":"graded","total_bp":9704,"village_id":"CX-BT-LF","work_bp":10000}],"#,
    r#""root":"0000000000000000000000000000000000000000000000000000000000000000","summary":{"active":1,"basically_competent":0,"competent":1,"competent_or_above":1,"competent_or_above_bp":10000,"excellent":0,"excluded":0,"graded":1,"incompetent":0},"tree_size":18}"#,
);
const GOLDEN_VILLAGE_SHA256: &str =
    "0f8dae0aa8ca0487a4fe78e03d19a65e3aeb45cf841235fc0c43b6de41ef8abf";

/// domain.md §5 case 1: a secretary recalled in July and replaced.
fn recalled_and_replaced() -> Log {
    let mut log = Log::new();
    log.posting("P-OLD", "V1", "2015-03-01");
    log.commitment("C1", "P-OLD", "2015-04-01", "2016-06-30");
    log.fulfil("C1", "2016-06-20");
    // Due after the recall: stays with P-OLD, graded for no one.
    log.commitment("C2", "P-OLD", "2016-03-01", "2016-09-30");
    log.evaluation("E1", "P-OLD", "2016-06-01", 50, 40, 10);
    log.spot_check("P-OLD", "2016-05-10", false, false);
    log.end_posting("P-OLD", "2016-07-15", "recalled");
    log.posting("P-NEW", "V1", "2016-07-20");
    log.evaluation("E2", "P-NEW", "2016-12-01", 90, 0, 0);
    log
}

#[test]
fn recalled_and_replaced_reviews_as_worked_out_by_hand() {
    let log = recalled_and_replaced();
    let r = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    );
    let old = &r.postings[1];
    let new = &r.postings[0];
    assert_eq!(
        (new.posting_id.as_str(), old.posting_id.as_str()),
        ("P-NEW", "P-OLD")
    );
    // P-OLD: 2016-01-01..2016-07-15 = 31 + 29 + 31 + 30 + 31 + 30 + 15 = 197 days.
    assert_eq!(old.service_days, 197);
    // C1 due 06-30 kept 06-20: 2 of 2 → 10000; C2 falls due after the window: not counted.
    assert_eq!(old.commitments_bp, Some(10000));
    // evaluation = rhu(100·(100·50 + 60·40), 100) = 7400; satisfaction = rhu(10000·90, 100) = 9000.
    assert_eq!(
        (old.evaluation_bp, old.satisfaction_bp),
        (Some(7400), Some(9000))
    );
    // base = rhu(30·10000 + 30·7400, 60) = rhu(522000, 60) = 8700: competent.
    assert_eq!(old.total_bp, Some(8700));
    assert_eq!(old.grade, Some(Grade::Competent));
    assert_eq!(old.caps, vec![Cap::Absence1, Cap::Recalled]);
    // P-NEW: 2016-07-20..2016-12-31 = 12 + 31 + 30 + 31 + 30 + 31 = 165 days < 183.
    assert_eq!(new.service_days, 165);
    assert_eq!(new.status, Status::Excluded);
    let s = r.summary;
    assert_eq!((s.active, s.graded, s.excluded, s.competent), (2, 1, 1, 1));
    assert_eq!(s.competent_or_above_bp, 10000);
    assert_eq!(r.to_jcs(), GOLDEN_REPLACED_JCS);
    assert_eq!(r.result_sha256().to_hex(), GOLDEN_REPLACED_SHA256);
}

const GOLDEN_REPLACED_JCS: &str = concat!(
    r#"{"period":{"end":"2016-12-31","start":"2016-01-01"},"policy_id":"default-v1","policy_sha256":"235152374b8e223ee17d9735c0a774e5859de2b9d3c5d9dbb990162ec92fe577","postings":["#,
    r#"{"caps":[],"commitments_bp":null,"deductions_bp":0,"evaluation_bp":null,"grade":null,"person_id":"CAD-P-NEW","person_name":"书记P-NEW","posting_id":"P-NEW","reason":"insufficient_service","satisfaction_bp":null,"service_days":165,"status":"excluded","total_bp":null,"village_id":"V1","work_bp":null},"#,
    r#"{"caps":["absence_1","recalled"],"commitments_bp":10000,"deductions_bp":0,"evaluation_bp":7400,"grade":"competent","person_id":"CAD-P-OLD","person_name":"书记P-OLD","posting_id":"P-OLD","reason":null,"satisfaction_bp":9000,"service_days":197,"status":"graded","total_bp":8700,"village_id":"V1","work_bp":null}],"#,
    r#""root":"0000000000000000000000000000000000000000000000000000000000000000","summary":{"active":2,"basically_competent":0,"competent":1,"competent_or_above":1,"competent_or_above_bp":10000,"excellent":0,"excluded":1,"graded":1,"incompetent":0},"tree_size":10}"#,
);
const GOLDEN_REPLACED_SHA256: &str =
    "55e95305947562e22161bed94337b8b5d1981029569f13c288e5d328e0c41831";

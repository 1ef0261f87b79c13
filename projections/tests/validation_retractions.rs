//! Corrections (domain.md §2 "Corrections", §5 cases 4 and 5): retraction and re-entry in one
//! batch, refused re-entries, anomalies left by a retraction, and the shipped example.

mod validation_common;

use validation_common::*;

const VILLAGE: &str = include_str!("../../examples/village.jsonl");

/// V (0), posting P (1), pledge D of 680万元 (2), receipt of 50万元 (3).
fn typo() -> Log {
    let mut log = Log::new();
    log.ok(&village("V", "2016-01-01"));
    log.ok(&posted("P", "V", "2016-01-15"));
    log.ok(&pledged("D", "V", 680_000_000, "2016-03-01"));
    log.ok(&received("D", 50_000_000, "2016-04-01"));
    log
}

#[test]
fn pledge_typo_retracted_and_re_entered_in_one_batch() {
    let mut log = typo();
    log.try_batch(&[
        retracted(eid(2), "2016-05-01"),
        pledged("D", "V", 68_000_000, "2016-03-01"),
    ])
    .expect("68万 replaces 680万");
    assert!(log.state.is_retracted(&eid(2)));
    assert!(
        log.state.anomalies().is_empty(),
        "{:?}",
        log.state.anomalies()
    );
    // The receipt entered before the fix belongs to the 68万 pledge: 18万 more may come, not 18万 + 1 fen.
    log.ok(&received("D", 18_000_000, "2016-06-01"));
    let r = log.refused(&received("D", 1, "2016-06-02"));
    assert_eq!(r.field, "payload.amount_fen");
    assert!(r.reason.contains("over the 68000000 fen pledged"), "{r}");
    // The retracted pledge's stream still routes retractions of it.
    assert_eq!(log.state.stream_of(&eid(2)), Some("pledge/D"));
}

#[test]
fn re_entry_refused_when_receipts_exceed_the_new_amount() {
    let mut log = typo();
    let size = log.state.len();
    let (i, r) = log
        .try_batch(&[
            retracted(eid(2), "2016-05-01"),
            pledged("D", "V", 40_000_000, "2016-03-01"),
        ])
        .expect_err("receipts of 50万 over a 40万 pledge");
    assert_eq!(i, 1);
    assert_eq!(r.field, "payload.pledge_id");
    assert!(
        r.reason
            .contains("would leave the DonationReceived at position 3"),
        "{r}"
    );
    assert!(r.reason.contains("over the 40000000 fen pledged"), "{r}");
    // Nothing of the batch stays: the pledge is not retracted, 680万 still stands.
    assert_eq!(log.state.len(), size);
    assert!(!log.state.is_retracted(&eid(2)));
    log.ok(&received("D", 600_000_000, "2016-06-01"));
}

#[test]
fn fulfilment_retracted_then_fulfilled_again() {
    let mut log = Log::new();
    log.ok(&village("V", "2016-01-01"));
    log.ok(&posted("P", "V", "2016-01-15"));
    log.ok(&made("C", "P", "V", "2016-02-01", "2016-09-30"));
    let fulfilment = log.ok(&fulfilled("C", "2016-10-20"));
    assert_eq!(
        log.refused(&fulfilled("C", "2016-09-20")).field,
        "payload.commitment_id"
    );
    log.ok(&retracted(fulfilment, "2016-10-21"));
    log.ok(&fulfilled("C", "2016-09-20"));
    assert!(log.state.anomalies().is_empty());
}

#[test]
fn retraction_of_a_retraction_is_refused() {
    let mut log = typo();
    let retraction = log.ok(&retracted(eid(3), "2016-05-01"));
    let r = log.refused(&retracted(retraction, "2016-05-02"));
    assert_eq!(r.field, "payload.target_event_id");
    assert!(r.reason.contains("cannot be retracted"), "{r}");
    // The answer to a wrong retraction: the original fact again, under a new event_id.
    log.ok(&received("D", 50_000_000, "2016-04-01"));
}

#[test]
fn evaluation_entered_twice_second_retracted() {
    let mut log = typo();
    log.ok(&evaluation("E1", "P", "V", "2016-07-05"));
    let twice = log.refused(&evaluation("E1", "P", "V", "2016-07-05"));
    assert_eq!(twice.field, "payload.evaluation_id");
    let second = log.ok(&evaluation("E2", "P", "V", "2016-07-05"));
    log.ok(&retracted(second, "2016-07-06"));
    assert!(log.state.anomalies().is_empty());
}

#[test]
fn anomalies_are_listed_when_a_retraction_leaves_events_invalid() {
    let mut log = typo();
    log.ok(&disbursed("V", Some("D"), 30_000_000, "2016-05-01")); // 4
    log.ok(&retracted(eid(3), "2016-05-02")); // the receipt: the disbursement is now over what was received
    let a = log.state.anomalies();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].position, 4);
    assert_eq!(a[0].event_id, eid(4));
    assert_eq!(a[0].field, "payload.amount_fen");
    assert!(a[0].reason.contains("over the 0 fen received"), "{}", a[0]);
    // The receipt entered again comes after the disbursement in the log: judged in log order the
    // disbursement is still over what had been received, so it stays listed until it too is
    // retracted and entered again.
    log.ok(&received("D", 50_000_000, "2016-04-01")); // 6
    assert_eq!(log.state.anomalies().len(), 1);
    log.try_batch(&[
        retracted(eid(4), "2016-05-03"),
        disbursed("V", Some("D"), 30_000_000, "2016-05-01"),
    ])
    .expect("the disbursement entered again");
    assert!(
        log.state.anomalies().is_empty(),
        "{:?}",
        log.state.anomalies()
    );
}

#[test]
fn anomalies_when_a_creation_is_retracted_and_not_entered_again() {
    let mut log = typo();
    log.ok(&made("C", "P", "V", "2016-02-01", "2016-09-30")); // 4
    log.ok(&progressed("C", 50, "2016-05-01")); // 5
    log.ok(&retracted(eid(2), "2016-05-02")); // the pledge: its receipt (3) is left naming nothing
    log.ok(&retracted(eid(1), "2016-05-02")); // the posting: commitment 4 is left without it
    let positions: Vec<u64> = log.state.anomalies().iter().map(|a| a.position).collect();
    // 5 names commitment C, which exists but is itself an anomaly: it cannot apply either.
    assert_eq!(positions, vec![3, 4, 5], "{:?}", log.state.anomalies());
    // Re-entering the posting heals 4 and 5; the receipt stays an anomaly.
    log.ok(&posted("P", "V", "2016-01-15"));
    let positions: Vec<u64> = log.state.anomalies().iter().map(|a| a.position).collect();
    assert_eq!(positions, vec![3]);
}

#[test]
fn a_wrong_posting_end_is_corrected_although_a_later_posting_exists() {
    let mut log = Log::new();
    log.ok(&village("V", "2016-01-01"));
    log.ok(&posted("P", "V", "2016-01-15"));
    let end = log.ok(&ended("P", "2016-06-10"));
    log.ok(&posted("P2", "V", "2016-06-11"));
    // The end date was a typo for 2016-06-05: retract and enter again in one batch.
    let (i, r) = log
        .try_batch(&[retracted(end, "2016-07-01"), ended("P", "2016-06-11")])
        .expect_err("on the next posting's first day");
    assert_eq!(i, 1);
    assert!(r.reason.contains("which began after this one"), "{r}");
    log.try_batch(&[retracted(end, "2016-07-01"), ended("P", "2016-06-05")])
        .expect("the right date");
    assert!(
        log.state.anomalies().is_empty(),
        "{:?}",
        log.state.anomalies()
    );
    // Retracted alone, the end leaves the next posting overlapping an open one.
    let mut log2 = Log::new();
    log2.ok(&village("V", "2016-01-01"));
    log2.ok(&posted("P", "V", "2016-01-15"));
    let end = log2.ok(&ended("P", "2016-06-10"));
    log2.ok(&posted("P2", "V", "2016-06-11"));
    log2.ok(&retracted(end, "2016-07-01"));
    let a = log2.state.anomalies();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].position, 3);
    assert!(a[0].reason.contains("posting P has not ended"), "{}", a[0]);
}

#[test]
fn every_line_of_the_example_is_accepted_in_order() {
    let mut log = Log::new();
    log.recorded_at = "2016-12-31T00:00:00.000000Z".to_string();
    let mut n = 0;
    for l in VILLAGE.lines().filter(|l| !l.trim().is_empty()) {
        log.ok(l);
        n += 1;
    }
    assert_eq!(n, 18);
    assert_eq!(log.state.len(), 18);
    assert!(log.state.anomalies().is_empty());
    // And the whole file as one batch, on a fresh log, too.
    let mut once = Log::new();
    once.recorded_at = log.recorded_at.clone();
    let lines: Vec<String> = VILLAGE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    once.try_batch(&lines).expect("one batch");
    assert_eq!(format!("{:?}", once.state), format!("{:?}", log.state));
}

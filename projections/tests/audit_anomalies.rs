//! The audit view lists every counted event a retraction left invalid (domain.md §2), not only
//! those a ledger could not apply: here an acceptance whose completion was retracted, and a
//! posting whose predecessor's end was retracted.

mod validation_common;

use validation_common::*;

#[test]
fn events_left_invalid_by_a_retraction_are_anomalies() {
    let mut log = Log::new();
    log.ok(&village("V", "2016-01-04"));
    log.ok(&posted("P", "V", "2016-01-15"));
    log.ok(&planned("X", "V", "P", "2016-02-01"));
    let completed = log.ok(&project("ProjectCompleted", "X", "2016-05-01"));
    let accepted = log.ok(&project("ProjectAccepted", "X", "2016-05-10"));
    log.ok(&retracted(completed, "2016-05-20"));
    let audit = projections::audit::audit(&log.accepted, 30);
    let accepted_at = log
        .accepted
        .iter()
        .find(|e| e.event_id == accepted)
        .unwrap()
        .position;
    let row = audit
        .anomalies
        .iter()
        .find(|a| a.position == accepted_at)
        .unwrap_or_else(|| panic!("no anomaly for the acceptance: {:?}", audit.anomalies));
    assert_eq!(serde_json::to_value(row.code).unwrap(), "now_refused");
    assert!(row.subject.contains("ProjectAccepted"), "{row:?}");

    // A later posting whose predecessor's end is retracted.
    let mut log = Log::new();
    log.ok(&village("V", "2016-01-04"));
    log.ok(&posted("P1", "V", "2016-01-15"));
    let end = log.ok(&ended("P1", "2016-07-15"));
    log.ok(&posted("P2", "V", "2016-07-20"));
    log.ok(&retracted(end, "2016-08-01"));
    let audit = projections::audit::audit(&log.accepted, 30);
    assert!(
        audit.anomalies.iter().any(|a| a.position == 3),
        "{:?}",
        audit.anomalies
    );
    // Nothing else is listed.
    assert_eq!(audit.anomalies.len(), 1, "{:?}", audit.anomalies);
}

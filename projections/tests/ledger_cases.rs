//! The cases an inspector will try (domain.md §5) on the ledgers, timeline and audit views,
//! and the shipped example's ledgers.

mod common;

use common::{d, Log, ROOT};
use projections::audit::{audit, ImplausibleReason, LATE_AFTER_DAYS_DEFAULT};
use projections::ledgers::{
    Acceptance, AnomalyCode, CommitmentStatus, Ledgers, PledgeStatus, ProjectStatus,
};
use projections::review::review;
use projections::timeline::Timeline;
use serde_json::json;

const VILLAGE: &str = include_str!("../../examples/village.jsonl");

#[test]
fn the_shipped_example_ledgers() {
    let mut log = Log::new();
    for line in VILLAGE.lines() {
        log.import(line);
    }
    let ledgers = Ledgers::rebuild(&log.events);
    let r = ledgers.report(None);
    // The last event (FundsDisbursed 2016-10-15) was recorded at CST midnight 2016-10-16.
    assert_eq!(r.reference_date, Some(d("2016-10-16")));
    let c = &r.commitments[0];
    assert_eq!(c.commitment_id.as_str(), "K-CX-01");
    assert_eq!(
        (c.original_due, c.due_in_force),
        (d("2016-09-30"), d("2016-09-30"))
    );
    assert_eq!(c.status, CommitmentStatus::FulfilledOnTime);
    assert_eq!(
        (c.progress_percent, c.fulfilled_on),
        (Some(60), Some(d("2016-09-20")))
    );
    let p = &r.projects[0];
    assert_eq!(
        (p.status, p.acceptance, p.overdue),
        (ProjectStatus::Completed, Acceptance::Passed, false)
    );
    assert_eq!(
        (p.completed_quantity, p.cost_fen),
        (Some(4200), Some(119_500_000))
    );
    let pl = &r.pledges[0];
    // 600万元 pledged, 200万元 received, 150万元 disbursed; due 2016-12-31: open on 2016-10-16.
    assert_eq!(
        (
            pl.pledged_fen,
            pl.received_fen,
            pl.outstanding_fen,
            pl.disbursed_fen
        ),
        (600_000_000, 200_000_000, 400_000_000, 150_000_000)
    );
    assert_eq!(pl.status, PledgeStatus::Open);
    assert_eq!(
        ledgers.report(Some(d("2017-01-01"))).pledges[0].status,
        PledgeStatus::Overdue
    );
    // satisfaction = rhu(10000·293, 302) = 9702.
    assert_eq!(r.evaluations[0].satisfaction_bp, Some(9702));
    assert_eq!(r.findings[0].rectified_on, Some(d("2016-08-30")));
    assert_eq!(
        (r.attendance[0].days_in_village, r.attendance[0].leave_days),
        (23, 2)
    );
    let t = &r.totals;
    // 4200 m = 4.2 km; 200,000,000 fen = 200万元 received, 400万元 pledged only (apart).
    assert_eq!((t.road_m, t.road_km.as_str()), (4200, "4.2"));
    assert_eq!(
        (t.received_fen, t.received_wan_yuan.as_str()),
        (200_000_000, "200.00")
    );
    assert_eq!(t.pledged_only_wan_yuan, "400.00");
    assert!(r.anomalies.is_empty());
    let page = r.village_page("CX-BT-LF");
    assert_eq!(page.village.as_ref().unwrap().name, "六肥村");
    assert_eq!(
        serde_json::to_value(&page.village.as_ref().unwrap().classification).unwrap(),
        json!({"2016": "infrastructure"})
    );
    assert_eq!(page.team[0].name, "黄丽");
    assert_eq!(
        (
            page.postings.len(),
            page.commitments.len(),
            page.pledges.len()
        ),
        (1, 1, 1)
    );
    // The row's field names are the CLI's columns: frozen.
    assert_eq!(
        serde_json::to_string(c).unwrap(),
        r#"{"commitment_id":"K-CX-01","village_id":"CX-BT-LF","posting_id":"P-2016-CX-01","posting_last_day":null,"kind":"practical","content":"修通六肥至波塘镇的村级道路","made_on":"2016-02-01","original_due":"2016-09-30","due_in_force":"2016-09-30","extensions_applied":0,"extensions_ignored":0,"status":"fulfilled_on_time","progress_percent":60,"fulfilled_on":"2016-09-20","withdrawn_on":null}"#
    );
}

/// Case 1: a secretary recalled in June and replaced.
#[test]
fn case_1_recalled_and_replaced() {
    let mut log = Log::new();
    log.posting("P-OLD", "V1", "2015-03-01");
    log.commitment("C1", "P-OLD", "2015-04-01", "2016-06-30");
    log.fulfil("C1", "2016-06-01");
    log.commitment("C2", "P-OLD", "2016-03-01", "2016-09-30");
    log.evaluation("E1", "P-OLD", "2016-05-01", 50, 40, 10);
    log.end_posting("P-OLD", "2016-06-15", "recalled");
    log.posting("P-NEW", "V1", "2016-06-20");
    log.commitment("C3", "P-NEW", "2016-07-01", "2016-12-31");
    log.evaluation("E2", "P-NEW", "2016-12-01", 90, 0, 0);
    let ledgers = Ledgers::rebuild(&log.events);
    let r = ledgers.report(Some(d("2016-08-01")));
    let c2 = r
        .commitments
        .iter()
        .find(|c| c.commitment_id.as_str() == "C2")
        .unwrap();
    // What the first left open shows as open under an ended posting.
    assert_eq!(c2.posting_id.as_str(), "P-OLD");
    assert_eq!(c2.posting_last_day, Some(d("2016-06-15")));
    assert_eq!(c2.status, CommitmentStatus::Open);
    // After its due it is overdue, still under P-OLD.
    assert_eq!(
        ledgers.report(Some(d("2016-10-01"))).commitments[1].status,
        CommitmentStatus::Overdue
    );
    // The village's ledgers run on unbroken: both postings, all commitments and evaluations.
    let page = r.village_page("V1");
    let postings: Vec<_> = page
        .postings
        .iter()
        .map(|p| (p.posting_id.as_str(), p.last_day))
        .collect();
    assert_eq!(
        postings,
        [("P-NEW", None), ("P-OLD", Some(d("2016-06-15")))]
    );
    assert_eq!((page.commitments.len(), page.evaluations.len()), (3, 2));
    // Each posting judged in its own window: C2 falls due after P-OLD ended: graded for no one.
    let rv = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    );
    // P-OLD 2016-01-01..06-15 = 167 days, P-NEW 06-20..12-31 = 195 days.
    let days: Vec<u64> = rv.postings.iter().map(|p| p.service_days).collect();
    assert_eq!(days, [195, 167]);
}

/// Case 2: a pledge never paid.
#[test]
fn case_2_a_pledge_never_paid_is_overdue_and_never_received() {
    let mut log = Log::new();
    log.village("V1", "2016-01-01");
    log.pledge("D-UNPAID", "V1", "2016-02-01", 5_000_000, "2016-06-30");
    log.pledge("D-PAID", "V1", "2016-02-01", 3_000_000, "2016-06-30");
    log.receive("D-PAID", "2016-03-01", 1_000_000);
    log.receive("D-PAID", "2016-04-01", 2_000_000);
    let ledgers = Ledgers::rebuild(&log.events);
    let on_due = ledgers.report(Some(d("2016-06-30")));
    assert_eq!(on_due.pledges[1].pledge_id.as_str(), "D-UNPAID");
    assert_eq!(on_due.pledges[1].status, PledgeStatus::Open);
    let after = ledgers.report(Some(d("2016-07-01")));
    let unpaid = &after.pledges[1];
    assert_eq!(unpaid.status, PledgeStatus::Overdue);
    assert_eq!(
        (unpaid.received_fen, unpaid.outstanding_fen),
        (0, 5_000_000)
    );
    assert_eq!(after.pledges[0].status, PledgeStatus::Paid);
    // Only received money is an achievement: 3,000,000 fen = 3.00万元; 5.00万元 reported apart.
    assert_eq!(
        (
            after.totals.received_fen,
            after.totals.received_wan_yuan.as_str()
        ),
        (3_000_000, "3.00")
    );
    assert_eq!(
        (
            after.totals.pledged_only_fen,
            after.totals.pledged_only_wan_yuan.as_str()
        ),
        (5_000_000, "5.00")
    );
    let v = &after.village_donations[0];
    assert_eq!(
        (v.pledged_fen, v.received_fen, v.pledged_only_fen),
        (8_000_000, 3_000_000, 5_000_000)
    );
    let donor = &after.donors[0];
    assert_eq!(
        (donor.pledges, donor.received_fen, donor.outstanding_fen),
        (2, 3_000_000, 5_000_000)
    );
    // Released: nothing outstanding any more, the unpaid part is shown as released.
    log.add(
        "PledgeReleased",
        "2016-08-01",
        json!({"pledge_id": "D-UNPAID", "reason": "企业经营困难"}),
    );
    let released = Ledgers::rebuild(&log.events).report(None);
    let unpaid = &released.pledges[1];
    assert_eq!(unpaid.status, PledgeStatus::Released);
    assert_eq!(
        (unpaid.outstanding_fen, unpaid.released_unpaid_fen),
        (0, 5_000_000)
    );
    assert_eq!(released.totals.pledged_only_fen, 0);
}

/// Case 3: a deadline extended before it fell due, and one "extended" after it had passed.
#[test]
fn case_3_extensions_before_and_after_the_due() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.commitment("C-BEFORE", "P1", "2016-01-10", "2016-03-31");
    log.extend("C-BEFORE", "2016-03-20", "2016-06-30");
    log.commitment("C-AFTER", "P1", "2016-01-10", "2016-03-31");
    log.extend("C-AFTER", "2016-04-10", "2016-06-30");
    let ledgers = Ledgers::rebuild(&log.events);
    let r = ledgers.report(Some(d("2016-05-01")));
    let (after, before) = (&r.commitments[0], &r.commitments[1]);
    assert_eq!(before.due_in_force, d("2016-06-30"));
    assert_eq!(
        (before.extensions_applied, before.extensions_ignored),
        (1, 0)
    );
    assert_eq!(before.status, CommitmentStatus::Open);
    assert_eq!(after.due_in_force, d("2016-03-31"));
    assert_eq!((after.extensions_applied, after.extensions_ignored), (0, 1));
    assert_eq!(after.status, CommitmentStatus::Overdue);
    let views = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    let x: Vec<_> = views
        .extensions
        .iter()
        .map(|x| (x.commitment_id.as_str(), x.applied, x.why.as_str()))
        .collect();
    assert_eq!(
        x,
        [
            ("C-AFTER", false, "dated 2016-04-10 after the due in force 2016-03-31 had passed: not applied"),
            ("C-BEFORE", true, "dated 2016-03-20 on or before the due in force 2016-03-31: the due becomes 2016-06-30"),
        ]
    );
}

/// Case 4: an evaluation entered twice, the second retracted.
#[test]
fn case_4_an_evaluation_entered_twice_counts_once_and_the_audit_shows_both() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-06-01", 200, 50, 50);
    let dup = log.evaluation("E1-again", "P1", "2016-06-01", 200, 50, 50);
    log.evaluation("E2", "P1", "2016-11-01", 100, 0, 0);
    let before_retraction = log.size();
    // Before the retraction the duplicate looks implausible (same counts for one posting).
    let early = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    let flagged: Vec<_> = early
        .implausible_evaluations
        .iter()
        .map(|e| (e.evaluation_id.as_str(), e.reasons.clone()))
        .collect();
    assert_eq!(
        flagged,
        [
            ("E1", vec![ImplausibleReason::RepeatedCounts]),
            ("E1-again", vec![ImplausibleReason::RepeatedCounts]),
            ("E2", vec![ImplausibleReason::AllSatisfiedFullTurnout]),
        ]
    );
    let retraction = log.retract(dup, "2016-06-05");

    let r = Ledgers::rebuild(&log.events).report(None);
    let ids: Vec<_> = r
        .evaluations
        .iter()
        .map(|e| e.evaluation_id.as_str())
        .collect();
    assert_eq!(ids, ["E1", "E2"]);
    // Counted once: S = 200 + 100 = 300, B = 50, D = 50: rhu(100·(100·300 + 60·50), 400) = 8250.
    let rv = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    );
    assert_eq!(rv.postings[0].evaluation_bp, Some(8250));
    // Twice before the retraction: S = 500, B = 100, D = 100: rhu(100·56000, 700) = 8000.
    let rv = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        before_retraction,
        ROOT,
        None,
    );
    assert_eq!(rv.postings[0].evaluation_bp, Some(8000));

    let views = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    assert_eq!(views.retractions.len(), 1);
    let row = &views.retractions[0];
    assert_eq!((row.event_id, row.target_event_id), (retraction, dup));
    assert_eq!(row.target_type.as_deref(), Some("EvaluationHeld"));
    assert_eq!(row.target_stream.as_deref(), Some("evaluation/E1-again"));
    assert_eq!(
        (row.target_position, row.actor.as_str(), row.effective),
        (Some(3), "clerk", true)
    );
    assert_eq!(row.target_payload.as_ref().unwrap()["satisfied"], 200);
    let flagged: Vec<_> = views
        .implausible_evaluations
        .iter()
        .map(|e| e.evaluation_id.as_str())
        .collect();
    assert_eq!(flagged, ["E2"]);
    // The posting's timeline shows both sessions, the second marked, and the retraction.
    let t = Timeline::build(&log.events, "posting/P1");
    let seen: Vec<_> = t
        .iter()
        .map(|e| (e.event_type.as_str(), e.retracted))
        .collect();
    assert_eq!(
        seen,
        [
            ("SecretaryPosted", false),
            ("EvaluationHeld", false),
            ("EvaluationHeld", true),
            ("EvaluationHeld", false),
            ("Retracted", false),
        ]
    );
    assert_eq!(t[2].retracted_by, Some(retraction));
    // The village's timeline shows it too (the evaluation names the village).
    assert_eq!(Timeline::build(&log.events, "village/V1").len(), 6);
}

/// Case 5: 68万元 typed as 680万元, retracted and re-entered in one batch, after a seal.
#[test]
fn case_5_a_correction_leaves_the_sealed_review_unchanged() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-06-01", 80, 10, 10);
    // 680万元 = 6,800,000 yuan = 680,000,000 fen; 20万元 received.
    let typo = log.pledge("D1", "V1", "2016-03-01", 680_000_000, "2016-12-31");
    log.receive("D1", "2016-04-01", 20_000_000);
    let sealed_size = log.size();
    let sealed = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        sealed_size,
        ROOT,
        None,
    );
    let before = Ledgers::rebuild(&log.events).report(None);
    assert_eq!(before.pledges[0].pledged_fen, 680_000_000);
    log.seal("R2016", "2016-01-01", "2016-12-31", "2017-01-10");
    // The batch: retraction plus the right pledge under the same id.
    log.retract(typo, "2017-01-11");
    log.pledge("D1", "V1", "2016-03-01", 68_000_000, "2016-12-31");
    // And an evaluation of 2016 withdrawn after the seal: the full log's review changes.
    let e = log.events[2].event_id;
    log.retract(e, "2017-01-12");

    let after = Ledgers::rebuild(&log.events).report(None);
    let d1 = &after.pledges[0];
    // The receipt entered before the fix belongs to the re-entered pledge.
    assert_eq!(
        (d1.pledged_fen, d1.received_fen, d1.outstanding_fen),
        (68_000_000, 20_000_000, 48_000_000)
    );
    assert_eq!(after.totals.received_wan_yuan, "20.00");
    assert!(after.anomalies.is_empty());
    // The sealed review rebuilds byte for byte from its own prefix.
    let rebuilt = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        sealed_size,
        ROOT,
        None,
    );
    assert_eq!(rebuilt.to_jcs(), sealed.to_jcs());
    assert_eq!(rebuilt.result_sha256(), sealed.result_sha256());
    let now = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    );
    assert_ne!(now.result_sha256(), sealed.result_sha256());
    assert_eq!(
        now.postings[0].status,
        projections::review::Status::Excluded
    );
    // The audit view lists the retraction of the 680万 pledge with its amount.
    let views = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    assert_eq!(
        views.retractions[0].target_payload.as_ref().unwrap()["amount_fen"],
        680_000_000u64
    );
}

/// Case 6: entries dated in 2016, recorded after the 2016 review was sealed.
#[test]
fn case_6_entries_after_the_seal_are_late_entries() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    // Recorded 75 days late, before any seal: late.
    log.add_recorded_on(
        "SpotCheckRecorded",
        "2016-10-01",
        json!({"posting_id": "P1", "present": true, "excused": false, "inspector": "甲"}),
        "2016-12-15",
    );
    // Exactly 30 days: not late; 31 days: late.
    log.add_recorded_on(
        "SpotCheckRecorded",
        "2016-11-16",
        json!({"posting_id": "P1", "present": true, "excused": false, "inspector": "乙"}),
        "2016-12-16",
    );
    log.add_recorded_on(
        "SpotCheckRecorded",
        "2016-11-15",
        json!({"posting_id": "P1", "present": true, "excused": false, "inspector": "丙"}),
        "2016-12-16",
    );
    log.seal("R2016", "2016-01-01", "2016-12-31", "2017-01-10");
    // After the seal: 23 days (listed for the seal only) and 72 days (both).
    log.add_recorded_on("EvaluationHeld", "2016-12-20", json!({"evaluation_id": "E9", "posting_id": "P1", "village_id": "V1", "electorate": 10, "satisfied": 9, "basically_satisfied": 1, "dissatisfied": 0, "invalid": 0}), "2017-01-12");
    log.add_recorded_on(
        "SpotCheckRecorded",
        "2016-11-01",
        json!({"posting_id": "P1", "present": false, "excused": false, "inspector": "丁"}),
        "2017-01-12",
    );
    // Dated after the sealed period: not listed.
    log.add_recorded_on(
        "SpotCheckRecorded",
        "2017-01-05",
        json!({"posting_id": "P1", "present": true, "excused": false, "inspector": "戊"}),
        "2017-01-12",
    );

    let views = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    let rows: Vec<_> = views
        .late_entries
        .iter()
        .map(|r| {
            (
                r.position,
                r.gap_days,
                r.late,
                r.after_seals
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let sealed = vec!["R2016".to_string()];
    assert_eq!(
        rows,
        [
            (2, 75, true, vec![]),
            (4, 31, true, vec![]),
            (6, 23, false, sealed.clone()),
            (7, 72, true, sealed.clone()),
        ]
    );
    // With a threshold of 100 days only the entries after the seal remain.
    let views = audit(&log.events, 100);
    let positions: Vec<u64> = views.late_entries.iter().map(|r| r.position).collect();
    assert_eq!(positions, [6, 7]);
}

#[test]
fn city_totals_count_completed_works_only() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.project_kind("R1", "P1", "2016-02-01", "2016-12-31", "road", 4200);
    log.complete("R1", "2016-06-01", 4200);
    log.project_kind("R2", "P1", "2016-02-01", "2016-12-31", "road", 1250);
    log.complete("R2", "2016-06-01", 1250);
    // Planned only, cancelled, or whose completion was retracted: not counted.
    log.project_kind("R3", "P1", "2016-02-01", "2016-12-31", "road", 9000);
    log.project_kind("R4", "P1", "2016-02-01", "2016-12-31", "road", 9000);
    log.cancel("R4", "2016-03-01");
    log.project_kind("B1", "P1", "2016-02-01", "2016-12-31", "bridge", 1);
    let wrong = log.complete("B1", "2016-06-01", 1);
    log.retract(wrong, "2016-06-02");
    log.project_kind("B2", "P1", "2016-02-01", "2016-12-31", "bridge", 1);
    log.complete("B2", "2016-06-01", 1);
    for (x, kind) in [
        ("W1", "drinking_water"),
        ("S1", "sanitation"),
        ("G1", "greening"),
        ("K1", "cooperative"),
        ("M1", "demonstration_base"),
    ] {
        log.project_kind(x, "P1", "2016-02-01", "2016-12-31", kind, 1);
        log.complete(x, "2016-07-01", 1);
    }
    let t = Ledgers::rebuild(&log.events).report(None).totals;
    // 4200 + 1250 = 5450 m = 5.45 km, shown half up as 5.5.
    assert_eq!((t.road_m, t.road_km.as_str()), (5450, "5.5"));
    assert_eq!(
        (
            t.bridges,
            t.drinking_water_works,
            t.sanitation_works,
            t.greening_works,
            t.cooperatives,
            t.demonstration_bases
        ),
        (1, 1, 1, 1, 1, 1)
    );
}

#[test]
fn events_left_invalid_by_a_retraction_are_anomalies() {
    let mut log = Log::new();
    log.village("V1", "2016-01-01");
    let pledge = log.pledge("D1", "V1", "2016-02-01", 1_000_000, "2016-12-31");
    log.receive("D1", "2016-03-01", 400_000);
    log.pledge("D2", "V1", "2016-02-01", 1_000_000, "2016-12-31");
    let receipt = log.receive("D2", "2016-03-01", 500_000);
    let disburse = |log: &mut Log, pledge: &str, amount: u64| {
        log.add("FundsDisbursed", "2016-04-01", json!({"village_id": "V1", "pledge_id": pledge, "amount_fen": amount, "purpose": "修路"}))
    };
    disburse(&mut log, "D1", 300_000);
    disburse(&mut log, "D2", 500_000);
    // The pledge D1 retracted and not entered again; D2's receipt retracted.
    log.retract(pledge, "2016-05-01");
    log.retract(receipt, "2016-05-01");
    let r = Ledgers::rebuild(&log.events).report(None);
    let found: Vec<_> = r.anomalies.iter().map(|a| (a.position, a.code)).collect();
    assert_eq!(
        found,
        [
            (2, AnomalyCode::MissingCreation),
            (5, AnomalyCode::UnknownPledge),
            (6, AnomalyCode::DisbursedOverReceived),
        ]
    );
    // Nothing of it counts as received.
    assert_eq!(r.totals.received_fen, 0);
}

#[test]
fn a_retraction_of_a_retraction_or_a_second_retraction_has_no_effect() {
    // The log refuses both; a damaged log must still fold, and the same way on every path.
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    let e1 = log.evaluation("E1", "P1", "2016-06-01", 10, 0, 0);
    let first = log.retract(e1, "2016-06-02");
    let second = log.retract(e1, "2016-06-03");
    let undo = log.retract(first, "2016-06-04");
    let ledgers = Ledgers::rebuild(&log.events);
    assert!(ledgers.evaluations.is_empty());
    let r = ledgers.retractions();
    assert_eq!(r.retraction_of(&e1).map(|x| x.event_id), Some(first));
    assert!(!r.is_retracted(&first));
    let views = audit(&log.events, LATE_AFTER_DAYS_DEFAULT);
    let rows: Vec<_> = views
        .retractions
        .iter()
        .map(|x| (x.event_id, x.effective))
        .collect();
    assert_eq!(rows, [(first, true), (second, false), (undo, false)]);
    assert_eq!(
        views.retractions[2].target_type.as_deref(),
        Some("Retracted")
    );
}

#[test]
fn a_ledger_as_of_an_instant_is_the_prefix_recorded_by_then() {
    let mut log = Log::new();
    log.village("V1", "2016-01-01");
    log.pledge("D1", "V1", "2016-02-01", 1_000_000, "2016-12-31");
    log.receive("D1", "2016-03-01", 400_000);
    // Recorded at CST midnight 2016-02-02: the receipt (recorded 2016-03-02) is not yet there.
    let instant = events::Timestamp::cst_midnight(d("2016-02-02"));
    let prefix: Vec<_> = projections::counted::recorded_until(&log.events, instant)
        .cloned()
        .collect();
    assert_eq!(prefix.len(), 2);
    let r = Ledgers::rebuild(&prefix).report(None);
    assert_eq!(
        (r.pledges[0].received_fen, r.reference_date),
        (0, Some(d("2016-02-02")))
    );
}

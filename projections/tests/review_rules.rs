//! One scenario per rule of domain.md §4, with the expected numbers worked out above each assertion.
//!
//! Unless said otherwise: policy `default-v1`, period 2016-01-01..2016-12-31 (366 days), and
//! `rhu(a, b) = (2a + b) div (2b)`.

mod common;

use common::{d, Log, ROOT};
use events::Policy;
use projections::review::{
    review, Cap, ExclusionReason, Grade, PostingReview, ReviewResult, Status,
};

fn review_2016(log: &Log) -> ReviewResult {
    review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    )
}

fn line<'a>(r: &'a ReviewResult, posting_id: &str) -> &'a PostingReview {
    r.postings
        .iter()
        .find(|p| p.posting_id.as_str() == posting_id)
        .unwrap_or_else(|| panic!("{posting_id} is not in the review"))
}

fn caps(r: &ReviewResult, posting_id: &str) -> Vec<Cap> {
    line(r, posting_id).caps.clone()
}

#[test]
fn insufficient_service_is_judged_on_the_window_both_ends_counting() {
    let mut log = Log::new();
    // 2016-07-02..2016-12-31 = 30 + 31 + 30 + 31 + 30 + 31 = 183 days: enough.
    log.posting("P183", "V1", "2016-07-02");
    log.evaluation("E1", "P183", "2016-09-01", 10, 0, 0);
    // 2016-07-03..2016-12-31 = 182 days < 183: excluded, although it has evidence and a demerit
    // (insufficient_service is the first reason that applies).
    log.posting("P182", "V2", "2016-07-03");
    log.evaluation("E2", "P182", "2016-09-01", 10, 0, 0);
    log.discipline("P182", "2016-10-01", "demerit");
    // Ended 2016-03-31 after starting in 2015: window 2016-01-01..2016-03-31 = 91 days.
    log.posting("PEND", "V3", "2015-01-05");
    log.evaluation("E3", "PEND", "2016-02-01", 10, 0, 0);
    log.end_posting("PEND", "2016-03-31", "term_completed");
    // Ended before the period: not active, not in the review at all.
    log.posting("PGONE", "V4", "2015-01-05");
    log.end_posting("PGONE", "2015-12-31", "term_completed");
    let r = review_2016(&log);

    assert_eq!(line(&r, "P183").service_days, 183);
    assert_eq!(line(&r, "P183").status, Status::Graded);
    assert_eq!(line(&r, "P182").service_days, 182);
    assert_eq!(
        line(&r, "P182").reason,
        Some(ExclusionReason::InsufficientService)
    );
    assert_eq!(line(&r, "PEND").service_days, 91);
    assert_eq!(
        line(&r, "PEND").reason,
        Some(ExclusionReason::InsufficientService)
    );
    assert!(r.postings.iter().all(|p| p.posting_id.as_str() != "PGONE"));
    // Excluded lines carry nulls, deductions 0 and no caps (formats.md §6).
    let x = line(&r, "P182");
    assert_eq!(
        (
            x.work_bp,
            x.commitments_bp,
            x.evaluation_bp,
            x.satisfaction_bp,
            x.total_bp,
            x.grade
        ),
        (None, None, None, None, None, None)
    );
    assert_eq!((x.deductions_bp, x.caps.len()), (0, 0));
    // active 3, graded 1, excluded 2.
    assert_eq!(
        (r.summary.active, r.summary.graded, r.summary.excluded),
        (3, 1, 2)
    );
}

#[test]
fn discipline_excludes_only_when_dated_in_the_window_and_not_a_warning() {
    let mut log = Log::new();
    log.posting("PDEM", "V1", "2016-01-01");
    log.evaluation("E1", "PDEM", "2016-06-01", 10, 0, 0);
    log.discipline("PDEM", "2016-06-02", "demerit");
    log.posting("PDIS", "V2", "2016-01-01");
    log.evaluation("E2", "PDIS", "2016-06-01", 10, 0, 0);
    log.discipline("PDIS", "2016-12-31", "dismissal");
    // A demotion after the period's end is outside the window: graded.
    log.posting("PLATE", "V3", "2016-01-01");
    log.evaluation("E3", "PLATE", "2016-06-01", 10, 0, 0);
    log.discipline("PLATE", "2017-01-01", "demotion");
    // A warning does not exclude (it caps, see below).
    log.posting("PWARN", "V4", "2016-01-01");
    log.evaluation("E4", "PWARN", "2016-06-01", 10, 0, 0);
    log.discipline("PWARN", "2016-06-02", "warning");
    let r = review_2016(&log);
    assert_eq!(line(&r, "PDEM").reason, Some(ExclusionReason::Discipline));
    assert_eq!(line(&r, "PDIS").reason, Some(ExclusionReason::Discipline));
    assert_eq!(line(&r, "PLATE").status, Status::Graded);
    assert_eq!(line(&r, "PWARN").status, Status::Graded);
}

#[test]
fn no_evidence_when_no_component_is_present() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    // A commitment due after the period and a project cancelled in it give nothing to judge.
    log.commitment("C1", "P1", "2016-02-01", "2017-03-01");
    log.project("X1", "P1", "2016-02-01", "2016-06-30");
    log.cancel("X1", "2016-05-01");
    // An evaluation with only invalid votes: S + B + D = 0, absent.
    log.evaluation_full("E1", "P1", "2016-06-01", 50, 0, 0, 0, 7);
    let r = review_2016(&log);
    assert_eq!(line(&r, "P1").reason, Some(ExclusionReason::NoEvidence));
    // Nothing graded: competent_or_above_bp is 0, not a division by zero.
    assert_eq!(r.summary.graded, 0);
    assert_eq!(r.summary.competent_or_above_bp, 0);
}

#[test]
fn work_credit_in_halves_with_acceptance_and_cancellation() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-11-01", 100, 0, 0);
    // X1 completed on its due: 2 halves.
    log.project("X1", "P1", "2016-02-01", "2016-06-30");
    log.complete("X1", "2016-06-30", 1000);
    // X2 completed after its due, within the window: 1.
    log.project("X2", "P1", "2016-02-01", "2016-06-30");
    log.complete("X2", "2016-07-15", 1000);
    // X4 on time but its last acceptance by the window's end failed: 0.
    log.project("X4", "P1", "2016-02-01", "2016-05-31");
    log.complete("X4", "2016-05-01", 1000);
    log.accept("X4", "2016-06-10", false);
    // X5 failed, then passed (the last in log order decides): 2.
    log.project("X5", "P1", "2016-02-01", "2016-05-31");
    log.complete("X5", "2016-05-01", 1000);
    log.accept("X5", "2016-06-10", false);
    log.accept("X5", "2016-06-20", true);
    // X7 cancelled by the window's end: not counted.
    log.project("X7", "P1", "2016-02-01", "2016-09-30");
    log.cancel("X7", "2016-08-01");
    // X9 due after the period: not counted. XO of another posting: not counted.
    log.project("X9", "P1", "2016-02-01", "2017-03-01");
    log.posting("P2", "V2", "2016-01-01");
    log.project("XO", "P2", "2016-02-01", "2016-06-30");
    // X8 cancelled after the window's end: counted, not completed: 0.
    log.project("X8", "P1", "2016-02-01", "2016-10-31");
    // X3 completed after the window: 0.
    log.project("X3", "P1", "2016-02-01", "2016-06-30");
    log.complete("X3", "2017-01-10", 1000);
    log.cancel("X8", "2017-01-11");
    // X6 on time; its failed acceptance is dated after the window's end: keeps 2.
    log.project("X6", "P1", "2016-02-01", "2016-05-31");
    log.complete("X6", "2016-05-01", 1000);
    log.accept("X6", "2017-01-12", false);
    let r = review_2016(&log);
    let p1 = line(&r, "P1");
    // halves X1 2 + X2 1 + X3 0 + X4 0 + X5 2 + X6 2 + X8 0 = 7, n = 7:
    // work = rhu(10000·7, 14) = (140000 + 14) div 28 = 5000.
    assert_eq!(p1.work_bp, Some(5000));
    // evaluation S=100: rhu(100·100·100, 100) = 10000.
    assert_eq!(p1.evaluation_bp, Some(10000));
    // base = rhu(40·5000 + 30·10000, 40 + 30) = rhu(500000, 70) = (1000000 + 70) div 140 = 7143.
    assert_eq!(p1.total_bp, Some(7143));
    assert_eq!(p1.grade, Some(Grade::BasicallyCompetent));
    assert_eq!(p1.commitments_bp, None);
    assert_eq!(p1.caps, vec![]);
    // P2's only project was never completed: work = rhu(0, 2) = 0, no other component.
    assert_eq!(line(&r, "P2").work_bp, Some(0));
    assert_eq!(line(&r, "P2").grade, Some(Grade::Incompetent));
    // P2 has no evaluation: the cap is recorded though the grade is already lower.
    assert_eq!(caps(&r, "P2"), vec![Cap::NoEvaluation]);
}

#[test]
fn commitment_credit_in_halves() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2015-06-01");
    log.evaluation("E1", "P1", "2016-11-01", 100, 0, 0);
    // C1 fulfilled before the window, on time: 2.
    log.commitment("C1", "P1", "2015-07-01", "2016-03-31");
    log.fulfil("C1", "2015-12-20");
    // C4 due before the window: not counted.
    log.commitment("C4", "P1", "2015-07-01", "2015-12-31");
    // C2 fulfilled late within the window: 1.
    log.commitment("C2", "P1", "2016-01-05", "2016-06-30");
    log.fulfil("C2", "2016-08-01");
    // C3 never fulfilled: 0.
    log.commitment("C3", "P1", "2016-01-05", "2016-06-30");
    // C5 withdrawn by the window's end: not counted.
    log.commitment("C5", "P1", "2016-01-05", "2016-09-30");
    log.withdraw("C5", "2016-09-01");
    // C6 withdrawn after the window's end: counted, 0.
    log.commitment("C6", "P1", "2016-01-05", "2016-09-30");
    log.withdraw("C6", "2017-01-02");
    let r = review_2016(&log);
    let p1 = line(&r, "P1");
    // halves 2 + 1 + 0 + 0 = 3, n = 4: rhu(30000, 8) = (60000 + 8) div 16 = 3750.
    assert_eq!(p1.commitments_bp, Some(3750));
    // base = rhu(30·3750 + 30·10000, 60) = rhu(412500, 60) = (825000 + 60) div 120 = 6875.
    assert_eq!(p1.total_bp, Some(6875));
    assert_eq!(p1.grade, Some(Grade::Incompetent));
    // C3 and C6 got 0 halves.
    assert_eq!(p1.caps, vec![Cap::UnfulfilledCommitment]);
}

#[test]
fn deadline_extensions_apply_only_before_the_due_in_force() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-11-01", 100, 0, 0);
    // C1 extended before it fell due (03-20 ≤ 03-31): due in force 06-30, fulfilled 06-15: 2.
    log.commitment("C1", "P1", "2016-01-10", "2016-03-31");
    log.extend("C1", "2016-03-20", "2016-06-30");
    log.fulfil("C1", "2016-06-15");
    // C2 "extended" after it had passed (04-10 > 03-31): ignored; fulfilled 06-15 is late: 1.
    log.commitment("C2", "P1", "2016-01-10", "2016-03-31");
    log.extend("C2", "2016-04-10", "2016-06-30");
    log.fulfil("C2", "2016-06-15");
    // C3 chained: 03-01 ≤ 03-31 → 05-31; 05-20 ≤ 05-31 → 08-31; 09-10 > 08-31 ignored.
    // Fulfilled 09-15 against 08-31: late: 1.
    log.commitment("C3", "P1", "2016-01-10", "2016-03-31");
    log.extend("C3", "2016-03-01", "2016-05-31");
    log.extend("C3", "2016-05-20", "2016-08-31");
    log.extend("C3", "2016-09-10", "2016-10-31");
    log.fulfil("C3", "2016-09-15");
    // C4's extension moves its due in force out of the period: not counted.
    log.commitment("C4", "P1", "2016-01-10", "2016-11-30");
    log.extend("C4", "2016-11-01", "2017-03-31");
    let r = review_2016(&log);
    let p1 = line(&r, "P1");
    // halves 2 + 1 + 1 = 4, n = 3: rhu(40000, 6) = (80000 + 6) div 12 = 6667.
    assert_eq!(p1.commitments_bp, Some(6667));
    // base = rhu(30·6667 + 30·10000, 60) = rhu(500010, 60): exactly 8333.5, rounded half up:
    // (1000020 + 60) div 120 = 8334.
    assert_eq!(p1.total_bp, Some(8334));
    assert_eq!(p1.grade, Some(Grade::Competent));
    assert_eq!(p1.caps, vec![]);
}

#[test]
fn deductions_for_findings_unrectified_by_the_window_end() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-11-01", 100, 0, 0);
    // I1: F1 serious rectified in the window (no deduction), F2 minor rectified after it (100).
    log.inspection(
        "I1",
        "P1",
        true,
        "2016-03-01",
        &[("F1", "serious"), ("F2", "minor")],
    );
    log.rectify("I1", "F1", "2016-04-01");
    // I2: a serious finding never rectified (500).
    log.inspection("I2", "P1", true, "2016-05-01", &[("F1", "serious")]);
    // I3 inspects the village alone: no deduction for the posting.
    log.inspection("I3", "P1", false, "2016-05-02", &[("F1", "serious")]);
    // I4 is dated after the window: no deduction.
    log.inspection("I4", "P1", true, "2017-01-03", &[("F1", "serious")]);
    log.rectify("I1", "F2", "2017-01-05");
    // P2: evaluation S=0 B=0 D=10 → 0; a serious finding → total max(0, 0 − 500) = 0.
    log.posting("P2", "V2", "2016-01-01");
    log.evaluation("E2", "P2", "2016-11-01", 0, 0, 10);
    log.inspection("I5", "P2", true, "2016-05-01", &[("F1", "serious")]);
    let r = review_2016(&log);
    let p1 = line(&r, "P1");
    // 100 + 500 = 600; total = 10000 − 600 = 9400.
    assert_eq!(p1.deductions_bp, 600);
    assert_eq!(p1.total_bp, Some(9400));
    // 9400 ≥ 9000 is excellent, but quota = 2 graded × 1500 div 10000 = 0.
    assert_eq!(p1.grade, Some(Grade::Competent));
    assert_eq!(p1.caps, vec![Cap::ExcellentQuota]);
    let p2 = line(&r, "P2");
    assert_eq!((p2.evaluation_bp, p2.satisfaction_bp), (Some(0), Some(0)));
    assert_eq!((p2.deductions_bp, p2.total_bp), (500, Some(0)));
    assert_eq!(p2.grade, Some(Grade::Incompetent));
    assert_eq!(p2.caps, vec![Cap::LowSatisfaction]);
}

#[test]
fn every_cap_is_recorded_and_lowers_the_grade() {
    let mut log = Log::new();
    // Every posting but PNE has an evaluation S=100 → 10000; total 10000 before caps.
    let ids = ["PA1", "PA2", "PA3", "PW", "PR", "PR2", "PU", "PX"];
    for (i, p) in ids.iter().enumerate() {
        log.posting(p, &format!("V{i}"), "2016-01-01");
        log.evaluation(&format!("E{p}"), p, "2016-06-01", 100, 0, 0);
    }
    // One unexcused absence; an excused one, a present one and one after the period do not count.
    log.spot_check("PA1", "2016-03-01", false, false);
    log.spot_check("PA1", "2016-03-02", false, true);
    log.spot_check("PA1", "2016-03-03", true, false);
    log.spot_check("PA1", "2017-01-02", false, false);
    for day in ["2016-03-01", "2016-04-01"] {
        log.spot_check("PA2", day, false, false);
    }
    for day in ["2016-03-01", "2016-04-01", "2016-05-01", "2016-06-01"] {
        log.spot_check("PA3", day, false, false);
    }
    log.discipline("PW", "2016-05-01", "warning");
    // Recalled 2016-08-31: window 01-01..08-31 = 244 days, recall dated in it.
    log.end_posting("PR", "2016-08-31", "recalled");
    // Recalled after the period: not in the window, no cap.
    log.end_posting("PR2", "2017-02-01", "recalled");
    log.commitment("CU", "PU", "2016-02-01", "2016-06-30");
    // Low satisfaction: S=60 B=9 D=31: satisfaction = rhu(10000·69, 100) = 6900 < 7000;
    // evaluation = rhu(100·(100·60 + 60·9), 100) = 6540.
    log.posting("PLS", "VLS", "2016-01-01");
    log.evaluation("ELS", "PLS", "2016-06-01", 60, 9, 31);
    // No evaluation: a commitment kept gives total 10000.
    log.posting("PNE", "VNE", "2016-01-01");
    log.commitment("CNE", "PNE", "2016-02-01", "2016-06-30");
    log.fulfil("CNE", "2016-06-01");
    let r = review_2016(&log);

    assert_eq!(caps(&r, "PA1"), vec![Cap::Absence1]);
    assert_eq!(line(&r, "PA1").grade, Some(Grade::Competent));
    assert_eq!(caps(&r, "PA2"), vec![Cap::Absence2]);
    assert_eq!(line(&r, "PA2").grade, Some(Grade::BasicallyCompetent));
    assert_eq!(caps(&r, "PA3"), vec![Cap::Absence3Plus]);
    assert_eq!(line(&r, "PA3").grade, Some(Grade::Incompetent));
    assert_eq!(caps(&r, "PW"), vec![Cap::Warning]);
    assert_eq!(line(&r, "PW").grade, Some(Grade::Competent));
    assert_eq!(line(&r, "PR").service_days, 244);
    assert_eq!(caps(&r, "PR"), vec![Cap::Recalled]);
    assert_eq!(line(&r, "PR").grade, Some(Grade::Competent));
    // CU got 0 halves: commitments = rhu(0, 2) = 0; base = rhu(30·0 + 30·10000, 60) = 5000.
    assert_eq!(caps(&r, "PU"), vec![Cap::UnfulfilledCommitment]);
    assert_eq!(line(&r, "PU").total_bp, Some(5000));
    assert_eq!(line(&r, "PU").grade, Some(Grade::Incompetent));
    let pls = line(&r, "PLS");
    assert_eq!(
        (pls.satisfaction_bp, pls.evaluation_bp),
        (Some(6900), Some(6540))
    );
    // Already below basically competent: the code is recorded all the same.
    assert_eq!(pls.grade, Some(Grade::Incompetent));
    assert_eq!(pls.caps, vec![Cap::LowSatisfaction]);
    let pne = line(&r, "PNE");
    assert_eq!((pne.total_bp, pne.satisfaction_bp), (Some(10000), None));
    assert_eq!(pne.caps, vec![Cap::NoEvaluation]);
    assert_eq!(pne.grade, Some(Grade::Competent));
    // PR2 and PX are uncapped excellent: graded 10, quota = 10 × 1500 div 10000 = 1.
    // Both total 10000 with commitments absent: posting_id decides, PR2 < PX.
    assert_eq!(line(&r, "PR2").grade, Some(Grade::Excellent));
    assert_eq!(caps(&r, "PR2"), vec![]);
    assert_eq!(line(&r, "PX").grade, Some(Grade::Competent));
    assert_eq!(caps(&r, "PX"), vec![Cap::ExcellentQuota]);
    // Competent: PA1 PW PR PNE PX = 5; basically: PA2 = 1; incompetent: PA3 PU PLS = 3.
    let s = r.summary;
    assert_eq!(
        (
            s.graded,
            s.excellent,
            s.competent,
            s.basically_competent,
            s.incompetent
        ),
        (10, 1, 5, 1, 3)
    );
    // competent_or_above = 6: rhu(60000, 10) = 6000.
    assert_eq!((s.competent_or_above, s.competent_or_above_bp), (6, 6000));
}

/// Eight postings, seven of them excellent before the quota:
/// Q4 10000 · Q3 9500 (commitments 10000) · Q1, Q2 9500 (absent) · Q5 9250 (commitments 7500)
/// · Q6 9250 (absent) · Q7 9000 — and Q8 8000 competent.
fn quota_log() -> Log {
    let mut log = Log::new();
    // Q1, Q2: evaluation S=19 D=1 → rhu(100·1900, 20) = 9500 (satisfaction 9500).
    for p in ["Q1", "Q2"] {
        log.posting(p, &format!("V{p}"), "2016-01-01");
        log.evaluation(&format!("E{p}"), p, "2016-06-01", 19, 0, 1);
    }
    // Q3: commitments 10000, evaluation 10000 → base 10000; a serious finding: total 9500.
    log.posting("Q3", "VQ3", "2016-01-01");
    log.evaluation("EQ3", "Q3", "2016-06-01", 10, 0, 0);
    log.commitment("CQ3", "Q3", "2016-02-01", "2016-06-30");
    log.fulfil("CQ3", "2016-06-01");
    log.inspection("IQ3", "Q3", true, "2016-07-01", &[("F1", "serious")]);
    // Q4: commitments 10000, evaluation 10000 → 10000.
    log.posting("Q4", "VQ4", "2016-01-01");
    log.evaluation("EQ4", "Q4", "2016-06-01", 10, 0, 0);
    log.commitment("CQ4", "Q4", "2016-02-01", "2016-06-30");
    log.fulfil("CQ4", "2016-06-01");
    // Q5: work 10000; commitments halves 2 + 1 → rhu(30000, 4) = 7500; evaluation 10000:
    // base = rhu(40·10000 + 30·7500 + 30·10000, 100) = rhu(925000, 100) = 9250.
    log.posting("Q5", "VQ5", "2016-01-01");
    log.evaluation("EQ5", "Q5", "2016-06-01", 10, 0, 0);
    log.project("XQ5", "Q5", "2016-02-01", "2016-06-30");
    log.complete("XQ5", "2016-06-01", 1000);
    log.commitment("CQ5a", "Q5", "2016-02-01", "2016-06-30");
    log.fulfil("CQ5a", "2016-06-01");
    log.commitment("CQ5b", "Q5", "2016-02-01", "2016-06-30");
    log.fulfil("CQ5b", "2016-07-01");
    // Q6: evaluation S=37 D=3 → rhu(100·3700, 40) = 9250 (satisfaction 9250).
    log.posting("Q6", "VQ6", "2016-01-01");
    log.evaluation("EQ6", "Q6", "2016-06-01", 37, 0, 3);
    // Q7: evaluation S=9 D=1 → 9000: excellent (≥ 9000).
    log.posting("Q7", "VQ7", "2016-01-01");
    log.evaluation("EQ7", "Q7", "2016-06-01", 9, 0, 1);
    // Q8: evaluation S=8 D=2 → 8000: competent.
    log.posting("Q8", "VQ8", "2016-01-01");
    log.evaluation("EQ8", "Q8", "2016-06-01", 8, 0, 2);
    log
}

fn excellent_with_quota(log: &Log, quota_bp: Option<u64>) -> Vec<String> {
    let policy = quota_bp.map(|q| {
        (
            "quota-test".to_string(),
            Policy {
                excellent_quota_bp: q,
                ..Policy::DEFAULT_V1
            },
        )
    });
    let r = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        policy,
    );
    for p in &r.postings {
        let quota_cut = p.caps.contains(&Cap::ExcellentQuota);
        assert_eq!(
            quota_cut,
            p.grade == Some(Grade::Competent) && p.total_bp >= Some(9000)
        );
    }
    r.postings
        .iter()
        .filter(|p| p.grade == Some(Grade::Excellent))
        .map(|p| p.posting_id.to_string())
        .collect()
}

#[test]
fn quota_orders_by_total_then_commitments_then_posting_id() {
    let log = quota_log();
    let r = review_2016(&log);
    let totals: Vec<Option<u64>> = r.postings.iter().map(|p| p.total_bp).collect();
    assert_eq!(
        totals,
        [9500, 9500, 9500, 10000, 9250, 9250, 9000, 8000]
            .map(Some)
            .to_vec()
    );
    // default-v1: quota = 8 × 1500 div 10000 = 1: the highest total alone (Q4, 10000).
    assert_eq!(excellent_with_quota(&log, None), ["Q4"]);
    // quota = 8 × 2500 div 10000 = 2: at 9500, Q3 (commitments 10000) goes before Q1 and Q2
    // (commitments absent), whatever their ids.
    assert_eq!(excellent_with_quota(&log, Some(2500)), ["Q3", "Q4"]);
    // quota = 8 × 3750 div 10000 = 3: Q1 and Q2 tie on total and commitments: Q1 < Q2 by bytes.
    assert_eq!(excellent_with_quota(&log, Some(3750)), ["Q1", "Q3", "Q4"]);
    // quota = 8 × 6250 div 10000 = 5: at 9250, Q5 (commitments 7500) before Q6 (absent).
    assert_eq!(
        excellent_with_quota(&log, Some(6250)),
        ["Q1", "Q2", "Q3", "Q4", "Q5"]
    );
    // quota = 8 × 10000 div 10000 = 8: everyone excellent stays so, Q8 stays competent.
    assert_eq!(
        excellent_with_quota(&log, Some(10000)),
        ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7"]
    );
    // quota = 8 × 1249 div 10000 = 0 (0.9992 rounds down): nobody.
    assert!(excellent_with_quota(&log, Some(1249)).is_empty());
    // Summary under default-v1: 1 excellent, 7 competent: rhu(10000·8, 8) = 10000.
    let s = r.summary;
    assert_eq!(
        (s.excellent, s.competent, s.competent_or_above_bp),
        (1, 7, 10000)
    );
}

#[test]
fn a_retraction_counts_by_position_and_the_event_counts_once() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-06-01", 40, 0, 10);
    // The same session typed in twice, under another id.
    let dup = log.evaluation("E1-dup", "P1", "2016-06-01", 40, 0, 10);
    log.evaluation("E3", "P1", "2016-10-01", 10, 0, 40);
    let before = log.size();
    // Retracted in 2017: its date does not matter, only its position.
    log.retract(dup, "2017-02-01");
    // A fulfilment retracted and entered again later: the later one counts (late).
    log.commitment("C1", "P1", "2016-02-01", "2016-06-30");
    let f = log.fulfil("C1", "2016-06-01");
    log.retract(f, "2017-02-02");
    log.fulfil("C1", "2016-08-01");

    let r = review_2016(&log);
    // Counted: S = 40 + 10 = 50, D = 10 + 40 = 50: rhu(100·100·50, 100) = 5000.
    assert_eq!(line(&r, "P1").evaluation_bp, Some(5000));
    // The re-entered fulfilment is late: 1 half of 2: rhu(10000, 2) = 5000.
    assert_eq!(line(&r, "P1").commitments_bp, Some(5000));
    // The prefix before the retraction counts both copies: S = 90, D = 60:
    // rhu(100·100·90, 150) = 6000.
    let early = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        before,
        ROOT,
        None,
    );
    assert_eq!(line(&early, "P1").evaluation_bp, Some(6000));
    assert_eq!(early.tree_size, before);
}

#[test]
fn policy_selection() {
    let custom = |n: u64| Policy {
        low_satisfaction_bp: n,
        ..Policy::DEFAULT_V1
    };
    let mut log = Log::new();
    log.posting("P1", "V1", "2015-06-01");
    log.evaluation("E1", "P1", "2016-06-01", 10, 0, 0);
    // None adopted: default-v1 and its published hash.
    let r = review_2016(&log);
    assert_eq!(r.policy_id, "default-v1");
    assert_eq!(
        r.policy_sha256,
        "235152374b8e223ee17d9735c0a774e5859de2b9d3c5d9dbb990162ec92fe577"
    );
    log.policy("A", "2015-06-01", custom(6000), "2015-06-01");
    log.policy("B", "2015-12-01", custom(6100), "2015-11-01");
    let c = log.policy("C", "2015-12-01", custom(6200), "2015-11-02");
    // Effective after the period's start: ignored for a period starting 2016-01-01.
    log.policy("D", "2016-01-02", custom(6300), "2015-11-03");
    // B and C share the latest effective_from ≤ start: the later position (C) wins.
    let r = review_2016(&log);
    assert_eq!(r.policy_id, "C");
    assert_eq!(r.policy_sha256, custom(6200).sha256().to_hex());
    // A period starting 2016-01-02 selects D.
    let r = review(
        &log.events,
        d("2016-01-02"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        None,
    );
    assert_eq!(r.policy_id, "D");
    // C retracted: B.
    log.retract(c, "2016-01-05");
    assert_eq!(review_2016(&log).policy_id, "B");
    // An explicit policy replaces the selection.
    let r = review(
        &log.events,
        d("2016-01-01"),
        d("2016-12-31"),
        log.size(),
        ROOT,
        Some(("what-if".into(), custom(9000))),
    );
    assert_eq!(r.policy_id, "what-if");
    assert_eq!(r.policy_sha256, custom(9000).sha256().to_hex());
}

#[test]
fn a_policy_changes_the_numbers_it_governs() {
    let mut log = Log::new();
    log.posting("P1", "V1", "2016-01-01");
    log.evaluation("E1", "P1", "2016-06-01", 60, 30, 10);
    log.commitment("C1", "P1", "2016-02-01", "2016-06-30");
    log.fulfil("C1", "2016-07-01");
    let mut policy = Policy::DEFAULT_V1;
    policy.weights.commitments = 10;
    policy.weights.evaluation = 90;
    policy.evaluation_weights.basically_satisfied = 50;
    policy.min_service_days = 366;
    log.policy("STRICT", "2016-01-01", policy, "2016-01-01");
    let r = review_2016(&log);
    let p1 = line(&r, "P1");
    // evaluation = rhu(100·(100·60 + 50·30 + 0·10), 100) = 7500;
    // commitments = rhu(10000·1, 2) = 5000; base = rhu(10·5000 + 90·7500, 100) = 7250.
    assert_eq!(
        (p1.evaluation_bp, p1.commitments_bp, p1.total_bp),
        (Some(7500), Some(5000), Some(7250))
    );
    // min_service_days 366: 2016 has 366 days, so the full year is enough.
    assert_eq!(p1.status, Status::Graded);
}

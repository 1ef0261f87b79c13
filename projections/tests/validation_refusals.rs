//! One accepted and one refused case for every state-dependent refusal of domain.md §2 "What
//! the log refuses", each asserting the field and a fragment of the reason.

mod validation_common;

use validation_common::*;

/// Village V (position 0) and W (1), posting P in V (2) and Q in W (3), both from 2016-01-15.
fn base() -> Vec<String> {
    vec![
        village("V", "2016-01-01"),
        village("W", "2016-01-01"),
        posted("P", "V", "2016-01-15"),
        posted("Q", "W", "2016-01-15"),
    ]
}

fn with(extra: &[String]) -> Vec<String> {
    let mut v = base();
    v.extend_from_slice(extra);
    v
}

struct Case {
    name: &'static str,
    setup: Vec<String>,
    /// Appended after the setup, one batch each; all accepted.
    good: Vec<String>,
    /// Appended after the setup, one batch each; all accepted but the last, which is refused.
    bad: Vec<String>,
    field: &'static str,
    fragment: &'static str,
}

fn case(
    name: &'static str,
    setup: Vec<String>,
    good: &[String],
    bad: &[String],
    field: &'static str,
    fragment: &'static str,
) -> Case {
    Case {
        name,
        setup,
        good: good.to_vec(),
        bad: bad.to_vec(),
        field,
        fragment,
    }
}

fn run(c: &Case) {
    let mut log = Log::new();
    for l in &c.setup {
        log.ok(l);
    }
    for l in &c.good {
        log.ok(l);
    }
    let mut log = Log::new();
    for l in &c.setup {
        log.ok(l);
    }
    let (last, before) = c.bad.split_last().expect("a bad case has an event");
    for l in before {
        log.ok(l);
    }
    let size = log.state.len();
    let r = log.refused(last);
    assert_eq!(r.field, c.field, "{}: {r}", c.name);
    assert!(
        r.reason.contains(c.fragment),
        "{}: reason {:?} lacks {:?}",
        c.name,
        r.reason,
        c.fragment
    );
    assert_eq!(
        log.state.len(),
        size,
        "{}: a refused event is not folded",
        c.name
    );
}

fn run_all(cases: &[Case]) {
    for c in cases {
        run(c);
    }
}

#[test]
fn existence() {
    let inspected = with(&[inspection("I", "V", Some("P"), &["F1"], "2016-03-01")]);
    run_all(&[
        case(
            "fulfilment of an unknown commitment",
            with(&[made("C", "P", "V", "2016-02-01", "2016-09-30")]),
            &[fulfilled("C", "2016-03-01")],
            &[fulfilled("C-X", "2016-03-01")],
            "payload.commitment_id",
            "does not exist",
        ),
        case(
            "a posting in an unknown village",
            with(&[village("U", "2016-01-01")]),
            &[posted("P-U", "U", "2016-02-01")],
            &[posted("P-U", "NOPE", "2016-02-01")],
            "payload.village_id",
            "not registered",
        ),
        case(
            "a rectification of a finding its inspection does not have",
            inspected.clone(),
            &[rectified("I", "F1", "2016-03-05")],
            &[rectified("I", "F9", "2016-03-05")],
            "payload.finding_id",
            "has no finding F9",
        ),
        case(
            "a rectification of an unknown inspection",
            inspected,
            &[rectified("I", "F1", "2016-03-05")],
            &[rectified("I-X", "F1", "2016-03-05")],
            "payload.inspection_id",
            "does not exist",
        ),
        case(
            "a second creation of an existing id",
            with(&[pledged("D", "V", 100, "2016-03-01")]),
            &[pledged("D2", "V", 100, "2016-03-01")],
            &[pledged("D", "W", 100, "2016-03-01")],
            "payload.pledge_id",
            "already exists",
        ),
        case(
            "a second posting with the same id",
            with(&[ended("P", "2016-05-31")]),
            &[posted("P2", "V", "2016-06-01")],
            &[posted("P", "V", "2016-06-01")],
            "payload.posting_id",
            "already exists",
        ),
        case(
            "a second policy with the same id",
            vec![policy("strict-2017", "2016-12-01")],
            &[policy("strict-2018", "2016-12-01")],
            &[policy("strict-2017", "2016-12-01")],
            "payload.policy_id",
            "already exists",
        ),
        case(
            "a project of an unknown posting",
            base(),
            &[planned("R", "V", "P", "2016-02-01")],
            &[planned("R", "V", "P-X", "2016-02-01")],
            "payload.posting_id",
            "does not exist",
        ),
    ]);
}

#[test]
fn default_v1_is_reserved_by_the_syntax_layer() {
    let e = events::import::parse_line(&policy("default-v1", "2016-12-01")).expect_err("reserved");
    assert_eq!(e.field, "payload.policy_id");
}

#[test]
fn time() {
    // Recorded at 16:30 UTC on 2016-06-01, which is 00:30 on 2016-06-02 in China Standard Time.
    let mut log = Log::new();
    log.recorded_at = "2016-06-01T16:30:00.000000Z".to_string();
    log.ok(&village("V", "2016-06-02"));
    let r = log.refused(&village("W", "2016-06-03"));
    assert_eq!(r.field, "occurred_on");
    assert!(
        r.reason
            .contains("after 2016-06-02, the day it was recorded"),
        "{r}"
    );
    // 15:59 UTC is still the same CST day.
    log.recorded_at = "2016-06-02T15:59:59.999999Z".to_string();
    log.ok(&village("W", "2016-06-02"));
    assert_eq!(
        log.refused(&village("X", "2016-06-03")).field,
        "occurred_on"
    );

    let pledge = with(&[pledged("D", "V", 100, "2016-03-01")]);
    let commitment = with(&[made("C", "P", "V", "2016-02-01", "2016-09-30")]);
    run_all(&[
        case(
            "a receipt before its pledge",
            pledge.clone(),
            &[received("D", 50, "2016-03-01")],
            &[received("D", 50, "2016-02-28")],
            "occurred_on",
            "before pledge D was made",
        ),
        case(
            "a fulfilment before its commitment was made",
            commitment.clone(),
            &[fulfilled("C", "2016-02-01")],
            &[fulfilled("C", "2016-01-31")],
            "occurred_on",
            "before commitment C was made",
        ),
        case(
            "a classification before the village's registration",
            base(),
            &[classified("V", 2016, "2016-01-01")],
            &[classified("V", 2016, "2015-12-31")],
            "occurred_on",
            "before village V was registered",
        ),
        case(
            "a disbursement before its pledge",
            with(&[
                pledged("D", "V", 100, "2016-03-01"),
                received("D", 100, "2016-03-02"),
            ]),
            &[disbursed("V", Some("D"), 50, "2016-03-02")],
            &[disbursed("V", Some("D"), 50, "2016-02-28")],
            "occurred_on",
            "before pledge D was made",
        ),
        case(
            "a discipline before the posting's first day (after its end is fine)",
            with(&[ended("P", "2016-05-31")]),
            &[discipline("P", "2016-07-01")],
            &[discipline("P", "2016-01-14")],
            "occurred_on",
            "before posting P's first day",
        ),
        case(
            "a member leaving before joining",
            with(&[joined("V", "M1", "2016-03-01")]),
            &[left("V", "M1", "2016-03-01")],
            &[left("V", "M1", "2016-02-28")],
            "occurred_on",
            "before M1 joined",
        ),
        case(
            "progress after the due date is allowed; before the commitment is not",
            commitment,
            &[progressed("C", 50, "2016-12-01")],
            &[progressed("C", 50, "2016-01-20")],
            "occurred_on",
            "before commitment C was made",
        ),
        case(
            "a receipt after the pledge's due is allowed; before the pledge is not",
            pledge,
            &[received("D", 50, "2017-06-01")],
            &[received("D", 50, "2016-01-01")],
            "occurred_on",
            "before pledge D was made",
        ),
    ]);
}

#[test]
fn postings() {
    let ended_p = with(&[ended("P", "2016-05-31")]);
    let ending_retracted_after_p2 = {
        // P ended, P2 began, then P's end was retracted: P is open again, P2 began after it.
        let mut v = ended_p.clone();
        v.push(posted("P2", "V", "2016-06-01"));
        v.push(retracted(eid(4), "2016-06-02"));
        v
    };
    run_all(&[
        case(
            "a SecretaryPosted in a village whose current posting has not ended",
            base(),
            &[ended("P", "2016-05-31"), posted("P2", "V", "2016-06-01")],
            &[posted("P2", "V", "2016-06-01")],
            "payload.village_id",
            "current posting P has not ended",
        ),
        case(
            "a SecretaryPosted on or before the last day of another posting",
            ended_p.clone(),
            &[posted("P2", "V", "2016-06-01")],
            &[posted("P2", "V", "2016-05-31")],
            "occurred_on",
            "on or before 2016-05-31, the last day of posting P",
        ),
        case(
            "a second PostingEnded",
            base(),
            &[ended("P", "2016-05-31")],
            &[ended("P", "2016-05-31"), ended("P", "2016-06-30")],
            "payload.posting_id",
            "already ended",
        ),
        case(
            "a PostingEnded before its first day (on it is fine)",
            base(),
            &[ended("P", "2016-01-15")],
            &[ended("P", "2016-01-14")],
            "occurred_on",
            "before posting P's first day",
        ),
        case(
            "a PostingEnded before an event that must lie in the service",
            with(&[spot_check("P", "2016-03-01")]),
            &[ended("P", "2016-03-01")],
            &[ended("P", "2016-02-29")],
            "occurred_on",
            "must lie in its service",
        ),
        case(
            "a PostingEnded before a commitment of the posting",
            with(&[made("C", "P", "V", "2016-04-01", "2016-09-30")]),
            &[ended("P", "2016-04-01")],
            &[ended("P", "2016-03-31")],
            "occurred_on",
            "must lie in its service",
        ),
        case(
            "a PostingEnded before the first day of a month reported",
            with(&[attendance("P", "2016-04", "2016-05-03")]),
            &[ended("P", "2016-04-01")],
            &[ended("P", "2016-03-31")],
            "occurred_on",
            "first day of 2016-04",
        ),
        case(
            "a PostingEnded on or after the first day of a later posting of the village",
            ending_retracted_after_p2,
            &[ended("P", "2016-05-31")],
            &[ended("P", "2016-06-01")],
            "occurred_on",
            "which began after this one",
        ),
        case(
            "a spot check before the posting's first day",
            base(),
            &[spot_check("P", "2016-01-15")],
            &[spot_check("P", "2016-01-14")],
            "occurred_on",
            "before posting P's first day",
        ),
        case(
            "a spot check after the posting's last day",
            ended_p.clone(),
            &[spot_check("P", "2016-05-31")],
            &[spot_check("P", "2016-06-01")],
            "occurred_on",
            "after posting P's last day",
        ),
        case(
            "a commitment made after the posting's last day",
            ended_p.clone(),
            &[made("C", "P", "V", "2016-05-31", "2016-09-30")],
            &[made("C", "P", "V", "2016-06-01", "2016-09-30")],
            "occurred_on",
            "after posting P's last day",
        ),
        case(
            "a commitment naming a village that is not the posting's",
            base(),
            &[made("C", "P", "V", "2016-02-01", "2016-09-30")],
            &[made("C", "P", "W", "2016-02-01", "2016-09-30")],
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        case(
            "a project planned before the posting's first day",
            base(),
            &[planned("R", "V", "P", "2016-01-15")],
            &[planned("R", "V", "P", "2016-01-10")],
            "occurred_on",
            "before posting P's first day",
        ),
        case(
            "a project naming a village that is not the posting's",
            base(),
            &[planned("R", "W", "Q", "2016-02-01")],
            &[planned("R", "W", "P", "2016-02-01")],
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        case(
            "an evaluation after the posting's last day",
            ended_p.clone(),
            &[evaluation("E", "P", "V", "2016-05-01")],
            &[evaluation("E", "P", "V", "2016-07-01")],
            "occurred_on",
            "after posting P's last day",
        ),
        case(
            "an evaluation naming a village that is not the posting's",
            base(),
            &[evaluation("E", "Q", "W", "2016-05-01")],
            &[evaluation("E", "Q", "V", "2016-05-01")],
            "payload.village_id",
            "posting Q is a posting of village W",
        ),
        case(
            "an inspection of a posting before its first day (of the village alone, fine)",
            base(),
            &[inspection("I", "V", None, &[], "2016-01-02"), inspection("I2", "V", Some("P"), &[], "2016-01-15")],
            &[inspection("I2", "V", Some("P"), &[], "2016-01-14")],
            "occurred_on",
            "before posting P's first day",
        ),
        case(
            "an inspection naming a village that is not the posting's",
            base(),
            &[inspection("I", "V", Some("P"), &["F1"], "2016-03-01")],
            &[inspection("I", "W", Some("P"), &["F1"], "2016-03-01")],
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        case(
            "attendance for a month that does not overlap the service (dated after it ended is fine)",
            ended_p.clone(),
            &[attendance("P", "2016-01", "2016-02-01"), attendance("P", "2016-05", "2016-07-01")],
            &[attendance("P", "2016-06", "2016-07-01")],
            "payload.month",
            "does not overlap",
        ),
        case(
            "attendance for a month before the first day",
            base(),
            &[attendance("P", "2016-01", "2016-02-01")],
            &[attendance("P", "2015-12", "2016-02-01")],
            "payload.month",
            "does not overlap",
        ),
        case(
            "a second attendance report for the same month",
            base(),
            &[attendance("P", "2016-02", "2016-03-01"), attendance("P", "2016-03", "2016-04-01")],
            &[attendance("P", "2016-02", "2016-03-01"), attendance("P", "2016-02", "2016-03-02")],
            "payload.month",
            "already reported attendance for 2016-02",
        ),
        case(
            "a discipline after the posting ended is fine; of an unknown posting is not",
            ended_p,
            &[discipline("P", "2016-08-01")],
            &[discipline("P-X", "2016-08-01")],
            "payload.posting_id",
            "does not exist",
        ),
    ]);
}

#[test]
fn spot_check_present_and_excused_is_syntax() {
    let bad = spot_check("P", "2016-03-01").replace(r#""excused":false"#, r#""excused":true"#);
    let e = events::import::parse_line(&bad).expect_err("present and excused");
    assert_eq!(e.field, "payload.excused");
}

#[test]
fn team() {
    run_all(&[
        case(
            "joining a village one is already a member of",
            with(&[joined("V", "M1", "2016-02-01")]),
            &[
                joined("W", "M1", "2016-02-01"),
                left("V", "M1", "2016-03-01"),
                joined("V", "M1", "2016-04-01"),
            ],
            &[joined("V", "M1", "2016-03-01")],
            "payload.person_id",
            "already a member of village V",
        ),
        case(
            "leaving a village one is not a member of",
            with(&[joined("V", "M1", "2016-02-01")]),
            &[left("V", "M1", "2016-03-01")],
            &[left("W", "M1", "2016-03-01")],
            "payload.person_id",
            "not a member of village W",
        ),
        case(
            "leaving twice",
            with(&[joined("V", "M1", "2016-02-01")]),
            &[left("V", "M1", "2016-03-01")],
            &[left("V", "M1", "2016-03-01"), left("V", "M1", "2016-03-02")],
            "payload.person_id",
            "not a member",
        ),
    ]);
}

#[test]
fn commitments() {
    let c = with(&[made("C", "P", "V", "2016-02-01", "2016-09-30")]);
    let done = |close: String| {
        let mut v = c.clone();
        v.push(close);
        v
    };
    run_all(&[
        case(
            "progressing a fulfilled commitment",
            done(fulfilled("C", "2016-05-01")),
            &[],
            &[progressed("C", 80, "2016-05-02")],
            "payload.commitment_id",
            "already fulfilled",
        ),
        case(
            "fulfilling a fulfilled commitment",
            c.clone(),
            &[
                progressed("C", 100, "2016-05-01"),
                fulfilled("C", "2016-05-01"),
            ],
            &[fulfilled("C", "2016-05-01"), fulfilled("C", "2016-05-02")],
            "payload.commitment_id",
            "already fulfilled",
        ),
        case(
            "withdrawing a fulfilled commitment",
            done(fulfilled("C", "2016-05-01")),
            &[],
            &[withdrawn("C", "2016-05-02")],
            "payload.commitment_id",
            "already fulfilled",
        ),
        case(
            "extending a withdrawn commitment",
            c.clone(),
            &[
                extended("C", "2016-10-31", "2016-05-01"),
                withdrawn("C", "2016-05-02"),
            ],
            &[
                withdrawn("C", "2016-05-02"),
                extended("C", "2016-10-31", "2016-05-03"),
            ],
            "payload.commitment_id",
            "already withdrawn",
        ),
        case(
            "fulfilling a withdrawn commitment",
            done(withdrawn("C", "2016-05-01")),
            &[],
            &[fulfilled("C", "2016-05-02")],
            "payload.commitment_id",
            "already withdrawn",
        ),
        case(
            "an extension not later than the original due",
            c.clone(),
            &[extended("C", "2016-10-01", "2016-05-01")],
            &[extended("C", "2016-09-30", "2016-05-01")],
            "payload.new_due",
            "not later than 2016-09-30",
        ),
        case(
            "an extension not later than an earlier new_due (even one dated after the due)",
            c,
            &[
                extended("C", "2016-11-30", "2016-12-01"),
                extended("C", "2016-12-31", "2016-12-02"),
            ],
            &[
                extended("C", "2016-11-30", "2016-12-01"),
                extended("C", "2016-11-15", "2016-12-02"),
            ],
            "payload.new_due",
            "not later than 2016-11-30",
        ),
    ]);
}

#[test]
fn percent_over_100_is_syntax() {
    let e = events::import::parse_line(&progressed("C", 101, "2016-05-01")).expect_err("percent");
    assert_eq!(e.field, "payload.percent");
}

#[test]
fn projects() {
    let r = with(&[planned("R", "V", "P", "2016-02-01")]);
    let then = |events: &[&str]| {
        let mut v = r.clone();
        v.extend(events.iter().map(|t| project(t, "R", "2016-03-01")));
        v
    };
    let p = |t: &str| project(t, "R", "2016-04-01");
    run_all(&[
        case(
            "a second ProjectStarted",
            r.clone(),
            &[p("ProjectStarted")],
            &[p("ProjectStarted"), p("ProjectStarted")],
            "payload.project_id",
            "already started",
        ),
        case(
            "a second ProjectCompleted",
            r.clone(),
            &[p("ProjectCompleted")],
            &[p("ProjectCompleted"), p("ProjectCompleted")],
            "payload.project_id",
            "already completed",
        ),
        case(
            "a second ProjectCancelled",
            r.clone(),
            &[p("ProjectCancelled")],
            &[p("ProjectCancelled"), p("ProjectCancelled")],
            "payload.project_id",
            "already cancelled",
        ),
        case(
            "starting a cancelled project",
            then(&["ProjectCancelled"]),
            &[],
            &[p("ProjectStarted")],
            "payload.project_id",
            "is cancelled",
        ),
        case(
            "completing a cancelled project",
            then(&["ProjectStarted", "ProjectCancelled"]),
            &[],
            &[p("ProjectCompleted")],
            "payload.project_id",
            "is cancelled",
        ),
        case(
            "starting a completed project",
            then(&["ProjectCompleted"]),
            &[p("ProjectAccepted")],
            &[p("ProjectStarted")],
            "payload.project_id",
            "is completed",
        ),
        case(
            "cancelling a completed project",
            then(&["ProjectStarted", "ProjectCompleted"]),
            &[p("ProjectAccepted"), p("ProjectAccepted")],
            &[p("ProjectCancelled")],
            "payload.project_id",
            "is completed",
        ),
        case(
            "accepting a project that is not completed",
            then(&["ProjectStarted"]),
            &[p("ProjectCompleted"), p("ProjectAccepted")],
            &[p("ProjectAccepted")],
            "payload.project_id",
            "not completed",
        ),
        case(
            "a project event before the project was planned",
            r,
            &[project("ProjectStarted", "R", "2016-02-01")],
            &[project("ProjectStarted", "R", "2016-01-31")],
            "occurred_on",
            "before project R was planned",
        ),
    ]);
}

#[test]
fn donations() {
    let d = with(&[pledged("D", "V", 1000, "2016-03-01")]);
    let paid = |amount: u64| {
        let mut v = d.clone();
        v.push(received("D", amount, "2016-04-01"));
        v
    };
    run_all(&[
        case(
            "receipts beyond what is pledged",
            d.clone(),
            &[
                received("D", 600, "2016-04-01"),
                received("D", 400, "2016-05-01"),
            ],
            &[
                received("D", 600, "2016-04-01"),
                received("D", 401, "2016-05-01"),
            ],
            "payload.amount_fen",
            "would total 1001 fen, over the 1000 fen pledged",
        ),
        case(
            "a receipt on a released pledge",
            paid(600),
            &[released("D", "2016-05-01")],
            &[
                released("D", "2016-05-01"),
                received("D", 100, "2016-05-02"),
            ],
            "payload.pledge_id",
            "was released",
        ),
        case(
            "releasing a pledge twice",
            d.clone(),
            &[released("D", "2016-05-01")],
            &[released("D", "2016-05-01"), released("D", "2016-05-02")],
            "payload.pledge_id",
            "already released",
        ),
        case(
            "releasing a pledge paid in full",
            paid(999),
            &[released("D", "2016-05-01")],
            &[received("D", 1, "2016-04-02"), released("D", "2016-05-01")],
            "payload.pledge_id",
            "paid in full",
        ),
        case(
            "disbursing from a pledge more than it has received",
            paid(600),
            &[
                disbursed("V", Some("D"), 400, "2016-05-01"),
                disbursed("V", Some("D"), 200, "2016-05-02"),
                disbursed("V", None, 5000, "2016-05-02"),
            ],
            &[
                disbursed("V", Some("D"), 400, "2016-05-01"),
                disbursed("V", Some("D"), 201, "2016-05-02"),
            ],
            "payload.amount_fen",
            "over the 600 fen received",
        ),
        case(
            "disbursing from another village's pledge",
            paid(600),
            &[disbursed("V", Some("D"), 100, "2016-05-01")],
            &[disbursed("W", Some("D"), 100, "2016-05-01")],
            "payload.pledge_id",
            "a pledge of village V, not of W",
        ),
        case(
            "disbursing from an unknown pledge",
            d,
            &[disbursed("V", None, 100, "2016-05-01")],
            &[disbursed("V", Some("D-X"), 100, "2016-05-01")],
            "payload.pledge_id",
            "does not exist",
        ),
    ]);
}

#[test]
fn evaluations_inspections_contracts() {
    let i = with(&[inspection("I", "V", Some("P"), &["F1", "F2"], "2016-03-01")]);
    let k = with(&[contract("K", "V", &["A", "B"], "2016-02-01")]);
    run_all(&[
        case(
            "rectifying a finding twice",
            i,
            &[
                rectified("I", "F1", "2016-04-01"),
                rectified("I", "F2", "2016-04-01"),
            ],
            &[
                rectified("I", "F1", "2016-04-01"),
                rectified("I", "F1", "2016-04-02"),
            ],
            "payload.finding_id",
            "already rectified",
        ),
        case(
            "completing a contract item twice",
            k.clone(),
            &[
                item_completed("K", "A", "2016-04-01"),
                item_completed("K", "B", "2016-04-01"),
            ],
            &[
                item_completed("K", "A", "2016-04-01"),
                item_completed("K", "A", "2016-04-02"),
            ],
            "payload.item_id",
            "already completed",
        ),
        case(
            "completing an item the contract does not have",
            k,
            &[item_completed("K", "B", "2016-04-01")],
            &[item_completed("K", "C", "2016-04-01")],
            "payload.item_id",
            "has no item C",
        ),
        case(
            "a second VillageClassified for the same village and year",
            with(&[classified("V", 2016, "2016-01-10")]),
            &[
                classified("V", 2017, "2017-01-10"),
                classified("W", 2016, "2016-01-10"),
            ],
            &[classified("V", 2016, "2016-06-01")],
            "payload.year",
            "already classified for 2016",
        ),
        case(
            "a second evaluation with the same id",
            with(&[evaluation("E", "P", "V", "2016-07-01")]),
            &[evaluation("E2", "P", "V", "2016-07-01")],
            &[evaluation("E", "P", "V", "2016-07-02")],
            "payload.evaluation_id",
            "already exists",
        ),
    ]);
}

#[test]
fn vote_sum_and_days_of_month_are_syntax() {
    let over = evaluation("E", "P", "V", "2016-07-01")
        .replace(r#""electorate":300"#, r#""electorate":264"#);
    assert_eq!(
        events::import::parse_line(&over).expect_err("votes").field,
        "payload.electorate"
    );
    let days = attendance("P", "2016-02", "2016-03-01")
        .replace(r#""days_in_village":20"#, r#""days_in_village":28"#);
    assert_eq!(
        events::import::parse_line(&days).expect_err("days").field,
        "payload.leave_days"
    );
}

#[test]
fn governance() {
    // Position 4: a pledge; 5: its retraction.
    let d = with(&[pledged("D", "V", 1000, "2016-03-01")]);
    let retracted_d = with(&[
        pledged("D", "V", 1000, "2016-03-01"),
        retracted(eid(4), "2016-03-02"),
    ]);
    let unknown = events::EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c").expect("uuid");
    run_all(&[
        case(
            "a retraction of a retraction",
            retracted_d.clone(),
            &[pledged("D", "V", 100, "2016-03-03")],
            &[retracted(eid(5), "2016-03-03")],
            "payload.target_event_id",
            "is a retraction",
        ),
        case(
            "a retraction of an already retracted event",
            retracted_d,
            &[retracted(eid(0), "2016-03-03")],
            &[retracted(eid(4), "2016-03-03")],
            "payload.target_event_id",
            "already retracted",
        ),
        case(
            "a retraction of an event not in the log",
            d.clone(),
            &[retracted(eid(4), "2016-03-03")],
            &[retracted(unknown, "2016-03-03")],
            "payload.target_event_id",
            "not in the log",
        ),
        case(
            "a retraction of a ReviewSealed",
            with(&[sealed("R-2016", 4, "2016-12-31")]),
            &[retracted(eid(3), "2017-01-01")],
            &[retracted(eid(4), "2017-01-01")],
            "payload.target_event_id",
            "ReviewSealed",
        ),
        case(
            "a ReviewSealed whose tree_size is over its own position",
            d.clone(),
            &[sealed("R-2016", 5, "2016-12-31")],
            &[sealed("R-2016", 6, "2016-12-31")],
            "payload.tree_size",
            "over the seal's own position, 5",
        ),
        case(
            "a second ReviewSealed with the same review_id",
            with(&[sealed("R-2016", 4, "2016-12-31")]),
            &[sealed("R-2017", 5, "2017-12-31")],
            &[sealed("R-2016", 5, "2017-12-31")],
            "payload.review_id",
            "already exists",
        ),
        case(
            "a retraction dated after the day it is recorded",
            d,
            &[retracted(eid(4), "2029-12-31")],
            &[retracted(eid(4), "2030-01-02")],
            "occurred_on",
            "the day it was recorded",
        ),
    ]);
}

#[test]
fn a_retraction_may_target_an_earlier_event_of_its_own_batch_but_not_a_later_one() {
    let mut log = Log::new();
    for l in base() {
        log.ok(&l);
    }
    log.try_batch(&[
        pledged("D", "V", 1000, "2016-03-01"),
        retracted(eid(4), "2016-03-02"),
    ])
    .expect("retraction of an earlier event of the batch");
    assert!(log.state.is_retracted(&eid(4)));
    let (i, r) = log
        .try_batch(&[
            retracted(eid(7), "2016-03-02"),
            pledged("D", "V", 100, "2016-03-01"),
        ])
        .expect_err("the target comes later");
    assert_eq!((i, r.field.as_str()), (0, "payload.target_event_id"));
}

#[test]
fn re_entries() {
    // 4: pledge D of 1000; 5: receipt of 600; 6: retraction of the pledge.
    let setup = with(&[
        pledged("D", "V", 1000, "2016-03-01"),
        received("D", 600, "2016-04-01"),
        retracted(eid(4), "2016-05-01"),
    ]);
    run_all(&[
        case(
            "a re-entered pledge that would leave its receipts over the new amount",
            setup.clone(),
            &[pledged("D", "V", 600, "2016-03-01")],
            &[pledged("D", "V", 599, "2016-03-01")],
            "payload.pledge_id",
            "would leave the DonationReceived at position 5",
        ),
        case(
            "a re-entered pledge dated after its receipts",
            setup.clone(),
            &[pledged("D", "V", 1000, "2016-04-01")],
            &[pledged("D", "V", 1000, "2016-04-02")],
            "payload.pledge_id",
            "before pledge D was made",
        ),
        case(
            "a re-entered pledge in another village takes its receipts along",
            setup,
            &[
                pledged("D", "W", 1000, "2016-03-01"),
                disbursed("W", Some("D"), 600, "2016-06-01"),
            ],
            &[
                pledged("D", "W", 1000, "2016-03-01"),
                disbursed("V", Some("D"), 600, "2016-06-01"),
            ],
            "payload.pledge_id",
            "a pledge of village W, not of V",
        ),
        case(
            "a re-entered posting in another village than the commitments naming it",
            with(&[
                made("C", "P", "V", "2016-02-01", "2016-09-30"),
                retracted(eid(2), "2016-03-01"),
            ]),
            &[posted("P", "V", "2016-01-20")],
            &[posted("P", "W2", "2016-01-20")],
            "payload.village_id",
            "not registered",
        ),
        case(
            "a re-entered posting whose commitments would fall outside its service",
            with(&[
                made("C", "P", "V", "2016-02-01", "2016-09-30"),
                retracted(eid(2), "2016-03-01"),
            ]),
            &[posted("P", "V", "2016-02-01")],
            &[posted("P", "V", "2016-02-02")],
            "payload.posting_id",
            "would leave the CommitmentMade at position 4",
        ),
    ]);
}

#[test]
fn a_re_entry_elsewhere_is_refused_when_an_event_of_another_village_names_it() {
    let mut log = Log::new();
    for l in with(&[
        village("W2", "2016-01-01"),
        made("C", "P", "V", "2016-02-01", "2016-09-30"),
        retracted(eid(2), "2016-03-01"),
    ]) {
        log.ok(&l);
    }
    let r = log.refused(&posted("P", "W2", "2016-01-20"));
    assert_eq!(r.field, "payload.posting_id");
    assert!(
        r.reason.contains("naming a posting of another village"),
        "{r}"
    );
}

#[test]
fn a_re_entry_is_not_refused_for_events_naming_another_retracted_id() {
    // Commitment C names posting P; both creations are retracted. Re-entering P is fine while C's
    // fulfilment still names the retracted C (an anomaly, not a reason to refuse P).
    let mut log = Log::new();
    for l in with(&[
        made("C", "P", "V", "2016-02-01", "2016-09-30"),
        fulfilled("C", "2016-03-01"),
        retracted(eid(4), "2016-04-01"),
        retracted(eid(2), "2016-04-01"),
    ]) {
        log.ok(&l);
    }
    assert_eq!(
        log.state.anomalies().len(),
        1,
        "{:?}",
        log.state.anomalies()
    );
    log.ok(&posted("P", "V", "2016-01-15"));
    assert_eq!(log.state.anomalies().len(), 1);
    assert_eq!(log.state.anomalies()[0].position, 5);
}

#[test]
fn the_exhaustive_list_allows_what_it_does_not_name() {
    let mut log = Log::new();
    for l in with(&[
        made("C", "P", "V", "2016-02-01", "2016-03-31"),
        pledged("D", "V", 1000, "2016-03-01"),
        planned("R", "V", "P", "2016-02-01"),
    ]) {
        log.ok(&l);
    }
    log.ok(&progressed("C", 90, "2016-06-01")); // after its due
    log.ok(&fulfilled("C", "2016-06-02")); // late, still a fulfilment
    log.ok(&received("D", 1000, "2017-03-01")); // after the pledge's due
    log.ok(&project("ProjectCompleted", "R", "2016-05-01")); // never started
    log.ok(&ended("P", "2016-06-30"));
    log.ok(&discipline("P", "2016-08-01")); // after the posting ended
    log.ok(&attendance("P", "2016-06", "2016-08-01")); // dated after the service ended
    log.ok(&inspection("I", "V", None, &[], "2016-08-02")); // the village alone, no posting
    log.ok(&disbursed("V", None, 1, "2016-08-03"));
    assert!(log.state.anomalies().is_empty());
}

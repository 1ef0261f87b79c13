//! Property: rebuilding from scratch and updating event by event give identical state, at every
//! prefix of random histories with retractions (of anything earlier, retractions included).
//!
//! The event-by-event path learns each retraction as it comes and refolds the target's stream;
//! the rebuild collects every retraction first. The histories need not pass the log's validation:
//! a fold must agree with itself on whatever it is given.

mod common;

use common::Log;
use projections::counted::Retractions;
use projections::ledgers::{Applied, Ledgers};
use projections::review::review_of;
use proptest::prelude::*;
use serde_json::{json, Value};

/// One random step of a history.
#[derive(Debug, Clone)]
enum Op {
    Event {
        ty: &'static str,
        day: u16,
        payload: Value,
    },
    /// Retract the event this many positions back (modulo the log's size).
    Retract { back: usize, day: u16 },
}

fn date(day: u16) -> String {
    common::d("2016-01-01").add_days(i32::from(day)).to_string()
}

fn op() -> impl Strategy<Value = Op> {
    let id = |prefix: &'static str| (0..3u8).prop_map(move |n| format!("{prefix}{n}"));
    let day = 0..500u16;
    let posting_village = |n: u8| (format!("P{n}"), format!("V{}", n % 2));
    let event = prop_oneof![
        (id("V"), day.clone()).prop_map(|(v, day)| Op::Event {
            ty: "VillageRegistered",
            day,
            payload: json!({"village_id": v, "name": "村", "county": "县", "township": "镇"})
        }),
        (0..3u8, day.clone(), any::<bool>()).prop_map(move |(n, day, ended)| {
            let (p, v) = posting_village(n);
            if ended {
                Op::Event { ty: "PostingEnded", day, payload: json!({"posting_id": p, "reason": "recalled", "note": ""}) }
            } else {
                Op::Event {
                    ty: "SecretaryPosted",
                    day,
                    payload: json!({"posting_id": p, "person_id": "X", "person_name": "某", "village_id": v, "sending_unit": "单位", "probation": false}),
                }
            }
        }),
        (id("C"), 0..3u8, day.clone(), 0..400u16).prop_map(move |(c, n, day, due)| {
            let (p, v) = posting_village(n);
            Op::Event {
                ty: "CommitmentMade",
                day,
                payload: json!({"commitment_id": c, "posting_id": p, "village_id": v, "kind": "post", "content": "做事", "due": date(due)}),
            }
        }),
        (id("C"), day.clone(), 0..500u16, 0..3u8).prop_map(|(c, day, due, which)| match which {
            0 => Op::Event { ty: "CommitmentFulfilled", day, payload: json!({"commitment_id": c, "evidence": ""}) },
            1 => Op::Event {
                ty: "CommitmentDeadlineExtended",
                day,
                payload: json!({"commitment_id": c, "new_due": date(due), "reason": "", "approved_by": "甲"}),
            },
            _ => Op::Event { ty: "CommitmentWithdrawn", day, payload: json!({"commitment_id": c, "reason": "", "approved_by": "甲"}) },
        }),
        (id("X"), 0..3u8, day.clone(), 0..400u16, 0..4u8).prop_map(move |(x, n, day, due, which)| {
            let (p, v) = posting_village(n);
            match which {
                0 => Op::Event {
                    ty: "ProjectPlanned",
                    day,
                    payload: json!({"project_id": x, "village_id": v, "posting_id": p, "kind": "road", "planned_quantity": 100, "unit": "metre", "budget_fen": 5, "due": date(due)}),
                },
                1 => Op::Event { ty: "ProjectCompleted", day, payload: json!({"project_id": x, "quantity": due, "cost_fen": 3}) },
                2 => Op::Event { ty: "ProjectAccepted", day, payload: json!({"project_id": x, "passed": due % 2 == 0, "inspector": "甲", "note": ""}) },
                _ => Op::Event { ty: "ProjectCancelled", day, payload: json!({"project_id": x, "reason": "", "approved_by": "甲"}) },
            }
        }),
        (id("D"), 0..2u8, day.clone(), 1..1000u64, 0..3u8).prop_map(|(pl, v, day, amount, which)| match which {
            0 => Op::Event {
                ty: "DonationPledged",
                day,
                payload: json!({"pledge_id": pl, "donor_id": "G", "donor_name": "某", "donor_kind": "charity", "village_id": format!("V{v}"), "amount_fen": amount, "purpose": "", "due": date(200)}),
            },
            1 => Op::Event { ty: "DonationReceived", day, payload: json!({"pledge_id": pl, "amount_fen": amount, "receipt_no": "R"}) },
            _ => Op::Event {
                ty: "FundsDisbursed",
                day,
                payload: json!({"village_id": format!("V{v}"), "pledge_id": pl, "amount_fen": amount, "purpose": ""}),
            },
        }),
        (id("E"), 0..3u8, day.clone(), 0..50u64, 0..50u64, 0..50u64).prop_map(move |(e, n, day, s, b, dis)| {
            let (p, v) = posting_village(n);
            Op::Event {
                ty: "EvaluationHeld",
                day,
                payload: json!({"evaluation_id": e, "posting_id": p, "village_id": v, "electorate": s + b + dis, "satisfied": s, "basically_satisfied": b, "dissatisfied": dis, "invalid": 0}),
            }
        }),
        (id("I"), 0..3u8, day.clone(), any::<bool>()).prop_map(move |(i, n, day, rectify)| {
            let (p, v) = posting_village(n);
            if rectify {
                Op::Event { ty: "FindingRectified", day, payload: json!({"inspection_id": i, "finding_id": "F1", "evidence": ""}) }
            } else {
                Op::Event {
                    ty: "InspectionRecorded",
                    day,
                    payload: json!({"inspection_id": i, "village_id": v, "posting_id": p, "inspector": "甲", "findings": [{"finding_id": "F1", "severity": "serious", "text": ""}]}),
                }
            }
        }),
        (0..3u8, day.clone(), any::<bool>()).prop_map(|(n, day, absent)| Op::Event {
            ty: "SpotCheckRecorded",
            day,
            payload: json!({"posting_id": format!("P{n}"), "present": !absent, "excused": false, "inspector": "甲"}),
        }),
        (id("Q"), day.clone(), 0..400u16, 1000..9000u64).prop_map(|(q, day, eff, quota)| {
            let mut policy = events::Policy::DEFAULT_V1;
            policy.excellent_quota_bp = quota;
            Op::Event { ty: "PolicyAdopted", day, payload: json!({"policy_id": q, "effective_from": date(eff), "policy": policy}) }
        }),
    ];
    prop_oneof![4 => event, 1 => (any::<usize>(), day).prop_map(|(back, day)| Op::Retract { back, day })]
}

fn history(ops: &[Op]) -> Log {
    let mut log = Log::new();
    for op in ops {
        match op {
            Op::Event { ty, day, payload } => {
                log.add(ty, &date(*day), payload.clone());
            }
            Op::Retract { back, day } => {
                if log.events.is_empty() {
                    continue;
                }
                let target = log.events[log.events.len() - 1 - back % log.events.len()].event_id;
                log.retract(target, &date(*day));
            }
        }
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rebuild_equals_event_by_event(ops in prop::collection::vec(op(), 1..60)) {
        let log = history(&ops);
        let mut live = Ledgers::new(Retractions::new());
        for k in 0..log.events.len() {
            let prefix = &log.events[..=k];
            if let Applied::Refold(stream) = live.apply(&log.events[k]) {
                live.refold(&stream, prefix);
            }
            let rebuilt = Ledgers::rebuild(prefix);
            prop_assert_eq!(&live, &rebuilt, "state differs after position {}", k);
        }
        // And what is read from them: ledgers and the review.
        let rebuilt = Ledgers::rebuild(&log.events);
        prop_assert_eq!(live.report(None), rebuilt.report(None));
        let start = common::d("2016-01-01");
        let end = common::d("2016-12-31");
        prop_assert_eq!(
            review_of(&live, start, end, log.size(), common::ROOT, None).to_jcs(),
            review_of(&rebuilt, start, end, log.size(), common::ROOT, None).to_jcs()
        );
    }
}

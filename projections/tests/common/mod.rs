//! Test scenarios: a log built in memory the way the store would record it.
//!
//! Each helper appends one event with the next position, a fixed event id, its stream and
//! stream version, and a `recorded_at` of CST midnight the day after it happened (never earlier
//! than the previous event's, as the log guarantees), unless a test names the recording day.

// Each test crate uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use events::payload::Payload;
use events::{Date, EventId, EventType, Policy, RecordedEvent, Timestamp};
use serde_json::{json, Value};

/// A date from its text.
pub fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// The root echoed by test reviews (the tree is the store's business).
pub const ROOT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A log under construction.
#[derive(Default)]
pub struct Log {
    pub events: Vec<RecordedEvent>,
    versions: BTreeMap<String, u64>,
    streams: BTreeMap<EventId, String>,
    village_of: BTreeMap<String, String>,
    villages: BTreeMap<String, ()>,
    last: Option<Timestamp>,
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// Number of events: the tree size of the whole log.
    pub fn size(&self) -> u64 {
        self.events.len() as u64
    }

    /// Appends an event recorded at CST midnight the day after `occurred_on`.
    pub fn add(&mut self, ty: &str, occurred_on: &str, payload: Value) -> EventId {
        let recorded = Timestamp::cst_midnight(d(occurred_on).add_days(1));
        self.add_at(ty, occurred_on, payload, recorded)
    }

    /// Appends an event recorded at CST noon of `recorded_on`.
    pub fn add_recorded_on(
        &mut self,
        ty: &str,
        occurred_on: &str,
        payload: Value,
        recorded_on: &str,
    ) -> EventId {
        let noon = Timestamp::from_micros(
            Timestamp::cst_midnight(d(recorded_on)).micros() + 12 * 3600 * 1_000_000,
        );
        self.add_at(ty, occurred_on, payload, noon)
    }

    fn add_at(&mut self, ty: &str, occurred_on: &str, payload: Value, at: Timestamp) -> EventId {
        let ty = EventType::parse(ty).unwrap_or_else(|| panic!("unknown type {ty}"));
        let payload = Payload::from_json(ty, &payload.to_string())
            .unwrap_or_else(|e| panic!("bad {ty} payload: {e}"));
        payload.check().unwrap();
        self.push(d(occurred_on), payload, at)
    }

    /// Appends the event of an import line (formats.md §5).
    pub fn import(&mut self, line: &str) -> EventId {
        let parsed = events::import::parse_line(line).unwrap();
        let on = parsed.event.occurred_on;
        self.push(
            on,
            parsed.event.payload,
            Timestamp::cst_midnight(on.add_days(1)),
        )
    }

    fn push(&mut self, occurred_on: Date, payload: Payload, at: Timestamp) -> EventId {
        let position = self.events.len() as u64;
        let event_id =
            EventId::parse(&format!("00000000-0000-4000-8000-{:012x}", position + 1)).unwrap();
        let stream = match (&payload, payload.stream()) {
            (_, Some(s)) => s,
            (Payload::Retracted(r), None) => self.streams[&r.target_event_id].clone(),
            _ => unreachable!(),
        };
        let version = self.versions.entry(stream.clone()).or_insert(0);
        let stream_version = *version;
        *version += 1;
        self.streams.insert(event_id, stream.clone());
        let recorded_at = self.last.map_or(at, |l| l.max(at));
        self.last = Some(recorded_at);
        self.events.push(RecordedEvent {
            position,
            event_id,
            stream,
            stream_version,
            schema: 1,
            occurred_on,
            recorded_at,
            actor: "clerk".to_string(),
            payload,
        });
        event_id
    }

    // ---- domain helpers -------------------------------------------------------------------

    pub fn village(&mut self, v: &str, on: &str) -> EventId {
        self.villages.insert(v.to_string(), ());
        self.add(
            "VillageRegistered",
            on,
            json!({"village_id": v, "name": format!("{v}村"), "county": "岑溪市", "township": "波塘镇"}),
        )
    }

    /// Posts `p` in village `v` from `first_day`, registering the village that day if new.
    pub fn posting(&mut self, p: &str, v: &str, first_day: &str) -> EventId {
        if !self.villages.contains_key(v) {
            self.village(v, first_day);
        }
        self.village_of.insert(p.to_string(), v.to_string());
        self.add(
            "SecretaryPosted",
            first_day,
            json!({"posting_id": p, "person_id": format!("CAD-{p}"), "person_name": format!("书记{p}"),
                   "village_id": v, "sending_unit": "市委组织部", "probation": false}),
        )
    }

    pub fn village_of(&self, p: &str) -> String {
        self.village_of[p].clone()
    }

    pub fn end_posting(&mut self, p: &str, on: &str, reason: &str) -> EventId {
        self.add(
            "PostingEnded",
            on,
            json!({"posting_id": p, "reason": reason, "note": ""}),
        )
    }

    pub fn evaluation(&mut self, e: &str, p: &str, on: &str, s: u64, b: u64, dis: u64) -> EventId {
        self.evaluation_full(e, p, on, s + b + dis, s, b, dis, 0)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn evaluation_full(
        &mut self,
        e: &str,
        p: &str,
        on: &str,
        electorate: u64,
        s: u64,
        b: u64,
        dis: u64,
        invalid: u64,
    ) -> EventId {
        let v = self.village_of(p);
        self.add(
            "EvaluationHeld",
            on,
            json!({"evaluation_id": e, "posting_id": p, "village_id": v, "electorate": electorate,
                   "satisfied": s, "basically_satisfied": b, "dissatisfied": dis, "invalid": invalid}),
        )
    }

    pub fn commitment(&mut self, c: &str, p: &str, on: &str, due: &str) -> EventId {
        let v = self.village_of(p);
        self.add(
            "CommitmentMade",
            on,
            json!({"commitment_id": c, "posting_id": p, "village_id": v, "kind": "practical",
                   "content": format!("承诺{c}"), "due": due}),
        )
    }

    pub fn fulfil(&mut self, c: &str, on: &str) -> EventId {
        self.add(
            "CommitmentFulfilled",
            on,
            json!({"commitment_id": c, "evidence": "验收单"}),
        )
    }

    pub fn extend(&mut self, c: &str, on: &str, new_due: &str) -> EventId {
        self.add(
            "CommitmentDeadlineExtended",
            on,
            json!({"commitment_id": c, "new_due": new_due, "reason": "雨季", "approved_by": "县委组织部"}),
        )
    }

    pub fn withdraw(&mut self, c: &str, on: &str) -> EventId {
        self.add(
            "CommitmentWithdrawn",
            on,
            json!({"commitment_id": c, "reason": "规划调整", "approved_by": "县委组织部"}),
        )
    }

    pub fn progress(&mut self, c: &str, on: &str, percent: u64) -> EventId {
        self.add(
            "CommitmentProgressed",
            on,
            json!({"commitment_id": c, "percent": percent, "note": ""}),
        )
    }

    pub fn project(&mut self, x: &str, p: &str, on: &str, due: &str) -> EventId {
        self.project_kind(x, p, on, due, "road", 1000)
    }

    pub fn project_kind(
        &mut self,
        x: &str,
        p: &str,
        on: &str,
        due: &str,
        kind: &str,
        quantity: u64,
    ) -> EventId {
        let v = self.village_of(p);
        let unit = if kind == "road" { "metre" } else { "item" };
        self.add(
            "ProjectPlanned",
            on,
            json!({"project_id": x, "village_id": v, "posting_id": p, "kind": kind,
                   "planned_quantity": quantity, "unit": unit, "budget_fen": 100_000_000u64, "due": due}),
        )
    }

    pub fn complete(&mut self, x: &str, on: &str, quantity: u64) -> EventId {
        self.add(
            "ProjectCompleted",
            on,
            json!({"project_id": x, "quantity": quantity, "cost_fen": 90_000_000u64}),
        )
    }

    pub fn accept(&mut self, x: &str, on: &str, passed: bool) -> EventId {
        self.add(
            "ProjectAccepted",
            on,
            json!({"project_id": x, "passed": passed, "inspector": "县交通局", "note": ""}),
        )
    }

    pub fn cancel(&mut self, x: &str, on: &str) -> EventId {
        self.add(
            "ProjectCancelled",
            on,
            json!({"project_id": x, "reason": "规划调整", "approved_by": "县发改局"}),
        )
    }

    pub fn spot_check(&mut self, p: &str, on: &str, present: bool, excused: bool) -> EventId {
        self.add(
            "SpotCheckRecorded",
            on,
            json!({"posting_id": p, "present": present, "excused": excused, "inspector": "市督查组"}),
        )
    }

    pub fn discipline(&mut self, p: &str, on: &str, kind: &str) -> EventId {
        self.add(
            "DisciplineRecorded",
            on,
            json!({"posting_id": p, "kind": kind, "reason": "违反工作纪律"}),
        )
    }

    /// An inspection of `p`'s village (and of `p` unless `of_posting` is false).
    pub fn inspection(
        &mut self,
        i: &str,
        p: &str,
        of_posting: bool,
        on: &str,
        findings: &[(&str, &str)],
    ) -> EventId {
        let v = self.village_of(p);
        let findings: Vec<Value> = findings
            .iter()
            .map(|(f, sev)| json!({"finding_id": f, "severity": sev, "text": "台账未更新"}))
            .collect();
        let posting = if of_posting {
            Value::String(p.to_string())
        } else {
            Value::Null
        };
        self.add(
            "InspectionRecorded",
            on,
            json!({"inspection_id": i, "village_id": v, "posting_id": posting, "inspector": "市督查组",
                   "findings": findings}),
        )
    }

    pub fn rectify(&mut self, i: &str, f: &str, on: &str) -> EventId {
        self.add(
            "FindingRectified",
            on,
            json!({"inspection_id": i, "finding_id": f, "evidence": "已整改"}),
        )
    }

    pub fn policy(&mut self, id: &str, effective_from: &str, policy: Policy, on: &str) -> EventId {
        self.add(
            "PolicyAdopted",
            on,
            json!({"policy_id": id, "effective_from": effective_from, "policy": policy}),
        )
    }

    pub fn pledge(&mut self, id: &str, v: &str, on: &str, amount_fen: u64, due: &str) -> EventId {
        self.add(
            "DonationPledged",
            on,
            json!({"pledge_id": id, "donor_id": "ENT-01", "donor_name": "某企业", "donor_kind": "enterprise",
                   "village_id": v, "amount_fen": amount_fen, "purpose": "村道硬化", "due": due}),
        )
    }

    pub fn receive(&mut self, id: &str, on: &str, amount_fen: u64) -> EventId {
        self.add(
            "DonationReceived",
            on,
            json!({"pledge_id": id, "amount_fen": amount_fen, "receipt_no": format!("R-{on}")}),
        )
    }

    pub fn retract(&mut self, target: EventId, on: &str) -> EventId {
        self.add(
            "Retracted",
            on,
            json!({"target_event_id": target.to_string(), "reason": "录入错误", "approved_by": "县委组织部"}),
        )
    }

    /// A seal of a review (as only the log appends it), recorded on `recorded_on`.
    pub fn seal(&mut self, id: &str, start: &str, end: &str, recorded_on: &str) -> EventId {
        let h = "1".repeat(64);
        let tree_size = self.size();
        self.add_recorded_on(
            "ReviewSealed",
            recorded_on,
            json!({"review_id": id, "period_start": start, "period_end": end, "tree_size": tree_size,
                   "root": h, "policy_sha256": h, "result_sha256": h}),
            recorded_on,
        )
    }
}

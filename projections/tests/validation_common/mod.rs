//! Helpers shared by the validation tests: import lines in, recorded events out, a log to append to.
#![allow(dead_code)] // each test file uses its own subset

use events::import::parse_line;
use events::{EventId, RecordedEvent, Timestamp};
use projections::validation::{LogState, Refusal};
use serde_json::{json, Value};

/// A recording moment well after every business date used in the tests.
pub const LATE: &str = "2030-01-01T00:00:00.000000Z";

/// A deterministic event id for a position.
pub fn eid(position: u64) -> EventId {
    EventId::parse(&format!("00000000-0000-4000-8000-{position:012x}")).expect("well-formed uuid")
}

/// Parses an import line and wraps it as the store would: given position and `recorded_at`,
/// stream from the payload ("unknown" for a retraction, which the store routes).
pub fn recorded(line: &str, position: u64, recorded_at: &str) -> RecordedEvent {
    let parsed = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let payload = parsed.event.payload;
    RecordedEvent {
        position,
        event_id: parsed.event.event_id.unwrap_or_else(|| eid(position)),
        stream: payload.stream().unwrap_or_else(|| "unknown".to_string()),
        stream_version: 0,
        schema: 1,
        occurred_on: parsed.event.occurred_on,
        recorded_at: recorded_at.parse::<Timestamp>().expect("timestamp"),
        actor: "test".to_string(),
        payload,
    }
}

/// An import line.
pub fn line(ty: &str, on: &str, payload: Value) -> String {
    json!({"type": ty, "occurred_on": on, "payload": payload}).to_string()
}

/// A validation state plus the events it accepted.
pub struct Log {
    pub state: LogState,
    pub accepted: Vec<RecordedEvent>,
    pub recorded_at: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            state: LogState::new(),
            accepted: Vec::new(),
            recorded_at: LATE.to_string(),
        }
    }
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// Builds the events of a batch at the next positions.
    pub fn events(&self, lines: &[String]) -> Vec<RecordedEvent> {
        let base = self.state.len();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| recorded(l, base + i as u64, &self.recorded_at))
            .collect()
    }

    pub fn try_batch(&mut self, lines: &[String]) -> Result<Vec<EventId>, (usize, Refusal)> {
        let batch = self.events(lines);
        self.state.apply_batch(&batch)?;
        let ids = batch.iter().map(|e| e.event_id).collect();
        self.accepted.extend(batch);
        Ok(ids)
    }

    /// Appends one event that must be accepted; its id.
    pub fn ok(&mut self, line: &str) -> EventId {
        match self.try_batch(&[line.to_string()]) {
            Ok(ids) => ids[0],
            Err((_, r)) => panic!("refused {line}: {r}"),
        }
    }

    /// Appends one event that must be refused; the refusal.
    pub fn refused(&mut self, line: &str) -> Refusal {
        match self.try_batch(&[line.to_string()]) {
            Ok(_) => panic!("accepted {line}"),
            Err((_, r)) => r,
        }
    }
}

// ----- import lines of each type, with defaults for the fields no rule reads

pub fn village(v: &str, on: &str) -> String {
    line(
        "VillageRegistered",
        on,
        json!({"village_id": v, "name": "六肥村", "county": "岑溪市", "township": "波塘镇"}),
    )
}
pub fn classified(v: &str, year: u64, on: &str) -> String {
    line(
        "VillageClassified",
        on,
        json!({"village_id": v, "year": year, "obstacle": "infrastructure"}),
    )
}
pub fn posted(p: &str, v: &str, on: &str) -> String {
    line(
        "SecretaryPosted",
        on,
        json!({"posting_id": p, "person_id": format!("person-{p}"), "person_name": "陈明", "village_id": v, "sending_unit": "市委组织部", "probation": false}),
    )
}
pub fn ended(p: &str, on: &str) -> String {
    line(
        "PostingEnded",
        on,
        json!({"posting_id": p, "reason": "term_completed", "note": ""}),
    )
}
pub fn joined(v: &str, person: &str, on: &str) -> String {
    line(
        "TeamMemberJoined",
        on,
        json!({"village_id": v, "person_id": person, "name": "黄丽", "role": "instructor"}),
    )
}
pub fn left(v: &str, person: &str, on: &str) -> String {
    line(
        "TeamMemberLeft",
        on,
        json!({"village_id": v, "person_id": person}),
    )
}
pub fn attendance(p: &str, month: &str, on: &str) -> String {
    line(
        "AttendanceReported",
        on,
        json!({"posting_id": p, "month": month, "days_in_village": 20, "leave_days": 2}),
    )
}
pub fn spot_check(p: &str, on: &str) -> String {
    line(
        "SpotCheckRecorded",
        on,
        json!({"posting_id": p, "present": true, "excused": false, "inspector": "督查组"}),
    )
}
pub fn discipline(p: &str, on: &str) -> String {
    line(
        "DisciplineRecorded",
        on,
        json!({"posting_id": p, "kind": "warning", "reason": "迟到"}),
    )
}
pub fn made(c: &str, p: &str, v: &str, on: &str, due: &str) -> String {
    line(
        "CommitmentMade",
        on,
        json!({"commitment_id": c, "posting_id": p, "village_id": v, "kind": "practical", "content": "修路", "due": due}),
    )
}
pub fn progressed(c: &str, percent: u64, on: &str) -> String {
    line(
        "CommitmentProgressed",
        on,
        json!({"commitment_id": c, "percent": percent, "note": ""}),
    )
}
pub fn extended(c: &str, new_due: &str, on: &str) -> String {
    line(
        "CommitmentDeadlineExtended",
        on,
        json!({"commitment_id": c, "new_due": new_due, "reason": "雨季", "approved_by": "县委"}),
    )
}
pub fn fulfilled(c: &str, on: &str) -> String {
    line(
        "CommitmentFulfilled",
        on,
        json!({"commitment_id": c, "evidence": "验收单"}),
    )
}
pub fn withdrawn(c: &str, on: &str) -> String {
    line(
        "CommitmentWithdrawn",
        on,
        json!({"commitment_id": c, "reason": "改期", "approved_by": "县委"}),
    )
}
pub fn planned(pr: &str, v: &str, p: &str, on: &str) -> String {
    line(
        "ProjectPlanned",
        on,
        json!({"project_id": pr, "village_id": v, "posting_id": p, "kind": "road", "planned_quantity": 4200, "unit": "metre", "budget_fen": 1000, "due": "2016-09-30"}),
    )
}
pub fn project(ty: &str, pr: &str, on: &str) -> String {
    let payload = match ty {
        "ProjectStarted" => json!({"project_id": pr}),
        "ProjectCompleted" => json!({"project_id": pr, "quantity": 4200, "cost_fen": 900}),
        "ProjectAccepted" => {
            json!({"project_id": pr, "passed": true, "inspector": "县交通局", "note": ""})
        }
        "ProjectCancelled" => json!({"project_id": pr, "reason": "", "approved_by": "县委"}),
        other => panic!("not a project event: {other}"),
    };
    line(ty, on, payload)
}
pub fn pledged(d: &str, v: &str, amount_fen: u64, on: &str) -> String {
    line(
        "DonationPledged",
        on,
        json!({"pledge_id": d, "donor_id": "ADV-09", "donor_name": "梁先生", "donor_kind": "adviser", "village_id": v, "amount_fen": amount_fen, "purpose": "", "due": "2016-12-31"}),
    )
}
pub fn received(d: &str, amount_fen: u64, on: &str) -> String {
    line(
        "DonationReceived",
        on,
        json!({"pledge_id": d, "amount_fen": amount_fen, "receipt_no": "R-1"}),
    )
}
pub fn released(d: &str, on: &str) -> String {
    line("PledgeReleased", on, json!({"pledge_id": d, "reason": ""}))
}
pub fn disbursed(v: &str, d: Option<&str>, amount_fen: u64, on: &str) -> String {
    line(
        "FundsDisbursed",
        on,
        json!({"village_id": v, "pledge_id": d, "amount_fen": amount_fen, "purpose": ""}),
    )
}
pub fn evaluation(e: &str, p: &str, v: &str, on: &str) -> String {
    line(
        "EvaluationHeld",
        on,
        json!({"evaluation_id": e, "posting_id": p, "village_id": v, "electorate": 300, "satisfied": 200, "basically_satisfied": 50, "dissatisfied": 10, "invalid": 5}),
    )
}
pub fn inspection(i: &str, v: &str, p: Option<&str>, findings: &[&str], on: &str) -> String {
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| json!({"finding_id": f, "severity": "minor", "text": ""}))
        .collect();
    line(
        "InspectionRecorded",
        on,
        json!({"inspection_id": i, "village_id": v, "posting_id": p, "inspector": "市督查组", "findings": findings}),
    )
}
pub fn rectified(i: &str, f: &str, on: &str) -> String {
    line(
        "FindingRectified",
        on,
        json!({"inspection_id": i, "finding_id": f, "evidence": ""}),
    )
}
pub fn contract(c: &str, v: &str, items: &[&str], on: &str) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({"item_id": i, "text": "", "due": "2016-12-31"}))
        .collect();
    line(
        "ContractSigned",
        on,
        json!({"contract_id": c, "station": "保障站", "lead_unit": "后盾单位", "village_id": v, "items": items}),
    )
}
pub fn item_completed(c: &str, item: &str, on: &str) -> String {
    line(
        "ContractItemCompleted",
        on,
        json!({"contract_id": c, "item_id": item}),
    )
}
pub fn policy(id: &str, on: &str) -> String {
    line(
        "PolicyAdopted",
        on,
        json!({"policy_id": id, "effective_from": "2017-01-01", "policy": {
        "min_service_days": 183,
        "weights": {"work": 40, "commitments": 30, "evaluation": 30},
        "evaluation_weights": {"satisfied": 100, "basically_satisfied": 60, "dissatisfied": 0},
        "thresholds_bp": {"excellent": 9000, "competent": 8000, "basically_competent": 7000},
        "deductions_bp": {"serious": 500, "minor": 100},
        "low_satisfaction_bp": 7000,
        "excellent_quota_bp": 1500}}),
    )
}
pub fn retracted(target: EventId, on: &str) -> String {
    line(
        "Retracted",
        on,
        json!({"target_event_id": target.to_string(), "reason": "录入错误", "approved_by": "县委组织部"}),
    )
}
pub fn sealed(review: &str, tree_size: u64, on: &str) -> String {
    let h = "0".repeat(64);
    line(
        "ReviewSealed",
        on,
        json!({"review_id": review, "period_start": "2016-01-01", "period_end": "2016-12-31", "tree_size": tree_size, "root": h, "policy_sha256": h, "result_sha256": h}),
    )
}

//! Audit views (domain.md §3): retractions, late entries, deadline extensions, anomalies and
//! implausible evaluations.
//!
//! Retractions and late entries are read event by event ([`AuditFold`]); extensions, anomalies
//! and implausible evaluations are read from the folded [`Ledgers`]. [`audit`] does both over a
//! prefix in two passes.
//!
//! ## Choices
//! - A late entry is one whose `recorded_at` date in China Standard Time is more than
//!   `late_after_days` (30 by default) calendar days after its `occurred_on`.
//! - "Recorded after a seal" means appended after the `ReviewSealed` event (a later position):
//!   `recorded_at` never decreases along positions, and position settles equal timestamps.
//!   Every such entry dated inside the sealed period is listed, whatever its gap.
//! - Late entries include retracted events (marked): backdating is evidence even when undone.
//!   `ReviewSealed` events themselves are never late entries (the log writes them).
//! - Implausible evaluations are read among counted sessions: all votes satisfied with full
//!   turnout (`satisfied == electorate`, electorate > 0), and the same
//!   (electorate, S, B, D, invalid) counts repeated for one posting. A duplicate that was retracted
//!   shows in the retractions view instead.

use std::collections::BTreeMap;

use serde::Serialize;

use events::payload::Payload;
use events::{Date, EventId, Id, RecordedEvent, Timestamp};

use crate::counted::Retractions;
use crate::ledgers::{due_in_force, AnomalyCode, AnomalyRow, Ledgers};
use crate::validation::LogState;

/// Default threshold of a late entry, in calendar days (domain.md §3).
pub const LATE_AFTER_DAYS_DEFAULT: i64 = 30;

/// One retraction: who, why, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetractionRow {
    /// Position of the `Retracted` event.
    pub position: u64,
    /// Its id.
    pub event_id: EventId,
    /// Who appended it.
    pub actor: String,
    /// Who approved it.
    pub approved_by: String,
    /// Why.
    pub reason: String,
    /// Its business date.
    pub occurred_on: Date,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// The event retracted.
    pub target_event_id: EventId,
    /// Its type (null if not found in the prefix).
    pub target_type: Option<String>,
    /// Its stream.
    pub target_stream: Option<String>,
    /// Its position.
    pub target_position: Option<u64>,
    /// Its business date.
    pub target_occurred_on: Option<Date>,
    /// Its payload, so the view shows what was undone.
    pub target_payload: Option<serde_json::Value>,
    /// False for a retraction with no effect (of a retraction, or of an already retracted event).
    pub effective: bool,
}

/// One entry recorded late, or after a seal of a period containing its date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateEntryRow {
    /// Position.
    pub position: u64,
    /// Id.
    pub event_id: EventId,
    /// Type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Stream.
    pub stream: String,
    /// Who appended it.
    pub actor: String,
    /// Business date.
    pub occurred_on: Date,
    /// When recorded.
    pub recorded_at: Timestamp,
    /// CST date of `recorded_at`.
    pub recorded_on: Date,
    /// Days from `occurred_on` to `recorded_on`.
    pub gap_days: i64,
    /// Whether the gap is over the threshold.
    pub late: bool,
    /// Ids of the sealed reviews whose period contains its date and that were sealed before it.
    pub after_seals: Vec<Id>,
    /// Whether it is retracted.
    pub retracted: bool,
}

/// One deadline extension, applied or not, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionRow {
    /// The commitment.
    pub commitment_id: Id,
    /// Position of the extension.
    pub position: u64,
    /// Its date.
    pub occurred_on: Date,
    /// The due in force when it came.
    pub due_before: Date,
    /// The due it asked for.
    pub new_due: Date,
    /// Whether it applies.
    pub applied: bool,
    /// Why, for a reader.
    pub why: String,
    /// The reason given.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
}

/// Why an evaluation looks implausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplausibleReason {
    /// Every elector voted and every vote was "satisfied".
    AllSatisfiedFullTurnout,
    /// The same counts were entered for another session of the posting.
    RepeatedCounts,
}

/// One implausible evaluation session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImplausibleEvaluationRow {
    /// The session.
    pub evaluation_id: Id,
    /// The posting.
    pub posting_id: Id,
    /// Date held.
    pub held_on: Date,
    /// Electorate.
    pub electorate: u64,
    /// Satisfied.
    pub satisfied: u64,
    /// Basically satisfied.
    pub basically_satisfied: u64,
    /// Dissatisfied.
    pub dissatisfied: u64,
    /// Invalid.
    pub invalid: u64,
    /// Why, sorted.
    pub reasons: Vec<ImplausibleReason>,
    /// Other sessions of the posting with the same counts.
    pub same_counts_as: Vec<Id>,
}

/// Every audit view of a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditViews {
    /// Retractions, in log order.
    pub retractions: Vec<RetractionRow>,
    /// Late entries and entries after a seal, in log order.
    pub late_entries: Vec<LateEntryRow>,
    /// Deadline extensions, by commitment then log order.
    pub extensions: Vec<ExtensionRow>,
    /// Counted events a retraction left invalid.
    pub anomalies: Vec<AnomalyRow>,
    /// Implausible evaluations.
    pub implausible_evaluations: Vec<ImplausibleEvaluationRow>,
}

struct SealSeen {
    review_id: Id,
    start: Date,
    end: Date,
}

struct TargetSeen {
    event_type: String,
    stream: String,
    position: u64,
    occurred_on: Date,
    payload: serde_json::Value,
}

/// The event-by-event part of the audit views (second pass).
pub struct AuditFold {
    retractions: Retractions,
    late_after_days: i64,
    targets: BTreeMap<EventId, TargetSeen>,
    seals: Vec<SealSeen>,
    retraction_rows: Vec<RetractionRow>,
    late_entries: Vec<LateEntryRow>,
    /// The log's own validation, replayed: it knows every event a retraction left invalid.
    validation: LogState,
}

impl AuditFold {
    /// A fold knowing the prefix's retractions; entries more than `late_after_days` late are late.
    pub fn new(retractions: Retractions, late_after_days: i64) -> AuditFold {
        AuditFold {
            retractions,
            late_after_days,
            targets: BTreeMap::new(),
            seals: Vec::new(),
            retraction_rows: Vec::new(),
            late_entries: Vec::new(),
            validation: LogState::new(),
        }
    }

    /// Folds the next event.
    pub fn apply(&mut self, e: &RecordedEvent) {
        self.validation.replay(e);
        // Remember what a retraction may name: every effectively retracted event, and every
        // retraction (the target of a refused retraction of a retraction). Both are few.
        let retraction = self.retractions.retraction_of(&e.event_id);
        if retraction.is_some() || matches!(e.payload, Payload::Retracted(_)) {
            self.targets.insert(
                e.event_id,
                TargetSeen {
                    event_type: e.event_type().as_str().to_string(),
                    stream: e.stream.clone(),
                    position: e.position,
                    occurred_on: e.occurred_on,
                    payload: e.payload.to_json_value(),
                },
            );
        }
        match &e.payload {
            Payload::Retracted(r) => {
                let target = self.targets.get(&r.target_event_id);
                let effective = self
                    .retractions
                    .retraction_of(&r.target_event_id)
                    .is_some_and(|x| x.event_id == e.event_id);
                self.retraction_rows.push(RetractionRow {
                    position: e.position,
                    event_id: e.event_id,
                    actor: e.actor.clone(),
                    approved_by: r.approved_by.clone(),
                    reason: r.reason.clone(),
                    occurred_on: e.occurred_on,
                    recorded_at: e.recorded_at,
                    target_event_id: r.target_event_id,
                    target_type: target.map(|t| t.event_type.clone()),
                    target_stream: target.map(|t| t.stream.clone()),
                    target_position: target.map(|t| t.position),
                    target_occurred_on: target.map(|t| t.occurred_on),
                    target_payload: target.map(|t| t.payload.clone()),
                    effective,
                });
            }
            Payload::ReviewSealed(s) => {
                self.seals.push(SealSeen {
                    review_id: s.review_id.clone(),
                    start: s.period_start,
                    end: s.period_end,
                });
                return;
            }
            _ => {}
        }
        let recorded_on = e.recorded_at.cst_date();
        let gap_days = e.occurred_on.days_until(recorded_on);
        let late = gap_days > self.late_after_days;
        let after_seals: Vec<Id> = self
            .seals
            .iter()
            .filter(|s| s.start <= e.occurred_on && e.occurred_on <= s.end)
            .map(|s| s.review_id.clone())
            .collect();
        if late || !after_seals.is_empty() {
            self.late_entries.push(LateEntryRow {
                position: e.position,
                event_id: e.event_id,
                event_type: e.event_type().as_str().to_string(),
                stream: e.stream.clone(),
                actor: e.actor.clone(),
                occurred_on: e.occurred_on,
                recorded_at: e.recorded_at,
                recorded_on,
                gap_days,
                late,
                after_seals,
                retracted: retraction.is_some(),
            });
        }
    }

    /// The audit views, completing the event-by-event part with what `ledgers` folded.
    pub fn finish(self, ledgers: &Ledgers) -> AuditViews {
        // The ledgers' own anomalies say what each ledger could not apply; the validation's
        // name every other counted event the log would now refuse. One row per event.
        let mut anomalies = ledgers.report(None).anomalies;
        let listed: std::collections::BTreeSet<u64> =
            anomalies.iter().map(|a| a.position).collect();
        for a in self.validation.anomalies() {
            if !listed.contains(&a.position) {
                anomalies.push(AnomalyRow {
                    position: a.position,
                    code: AnomalyCode::NowRefused,
                    subject: format!("{} at position {}", a.event_type, a.position),
                    detail: format!("{}: {}", a.field, a.reason),
                });
            }
        }
        anomalies.sort_by_key(|a| a.position);
        AuditViews {
            retractions: self.retraction_rows,
            late_entries: self.late_entries,
            extensions: extensions(ledgers),
            anomalies,
            implausible_evaluations: implausible_evaluations(ledgers),
        }
    }
}

/// Every audit view over a prefix in position order: two passes over `events`.
pub fn audit<'a, I>(events: I, late_after_days: i64) -> AuditViews
where
    I: IntoIterator<Item = &'a RecordedEvent> + Clone,
{
    let retractions = Retractions::collect(events.clone());
    let mut ledgers = Ledgers::new(retractions.clone());
    let mut fold = AuditFold::new(retractions, late_after_days);
    for e in events {
        let _ = ledgers.apply(e);
        fold.apply(e);
    }
    fold.finish(&ledgers)
}

/// Every counted extension of every counted commitment, judged as the review judges it.
pub fn extensions(ledgers: &Ledgers) -> Vec<ExtensionRow> {
    let mut rows = Vec::new();
    for (id, f) in &ledgers.commitments {
        let Some(made) = &f.made else { continue };
        let (_, judged) = due_in_force(made.value.due, &f.extensions);
        for (j, x) in judged.iter().zip(&f.extensions) {
            let why = if j.applied {
                format!(
                    "dated {} on or before the due in force {}: the due becomes {}",
                    j.occurred_on, j.due_before, j.new_due
                )
            } else {
                format!(
                    "dated {} after the due in force {} had passed: not applied",
                    j.occurred_on, j.due_before
                )
            };
            rows.push(ExtensionRow {
                commitment_id: id.clone(),
                position: j.position,
                occurred_on: j.occurred_on,
                due_before: j.due_before,
                new_due: j.new_due,
                applied: j.applied,
                why,
                reason: x.value.reason.clone(),
                approved_by: x.value.approved_by.clone(),
            });
        }
    }
    rows
}

/// Counted sessions with all votes satisfied at full turnout, or counts repeated for a posting.
pub fn implausible_evaluations(ledgers: &Ledgers) -> Vec<ImplausibleEvaluationRow> {
    type Counts = (u64, u64, u64, u64, u64);
    let mut by_counts: BTreeMap<(&Id, Counts), Vec<&Id>> = BTreeMap::new();
    for (id, e) in &ledgers.evaluations {
        let v = &e.value;
        let counts = (
            v.electorate,
            v.satisfied,
            v.basically_satisfied,
            v.dissatisfied,
            v.invalid,
        );
        by_counts
            .entry((&v.posting_id, counts))
            .or_default()
            .push(id);
    }
    let mut rows = Vec::new();
    for (id, e) in &ledgers.evaluations {
        let v = &e.value;
        let counts = (
            v.electorate,
            v.satisfied,
            v.basically_satisfied,
            v.dissatisfied,
            v.invalid,
        );
        let same: Vec<Id> = by_counts[&(&v.posting_id, counts)]
            .iter()
            .filter(|other| **other != id)
            .map(|other| (*other).clone())
            .collect();
        let mut reasons = Vec::new();
        if v.electorate > 0 && v.satisfied == v.electorate {
            reasons.push(ImplausibleReason::AllSatisfiedFullTurnout);
        }
        if !same.is_empty() {
            reasons.push(ImplausibleReason::RepeatedCounts);
        }
        if !reasons.is_empty() {
            rows.push(ImplausibleEvaluationRow {
                evaluation_id: id.clone(),
                posting_id: v.posting_id.clone(),
                held_on: e.occurred_on,
                electorate: v.electorate,
                satisfied: v.satisfied,
                basically_satisfied: v.basically_satisfied,
                dissatisfied: v.dissatisfied,
                invalid: v.invalid,
                reasons,
                same_counts_as: same,
            });
        }
    }
    rows
}

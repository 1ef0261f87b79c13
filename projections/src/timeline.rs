//! The timeline of one subject: every event naming it, in log order, retracted ones marked.
//!
//! A subject is written as its stream is (`village/V`, `posting/P`, `commitment/C`, `project/X`,
//! `pledge/D`, `evaluation/E`, `inspection/I`, `contract/K`, `policy/..`, `review/..`), plus
//! `person/..` and `donor/..` for people and donors, who have no stream of their own.
//!
//! ## Choices
//! - An event names every id it carries: a `CommitmentMade` is on the timelines of its
//!   commitment, its posting and its village.
//! - A retraction names what its target names, so retracting a village's commitment shows on the
//!   village's timeline too. Targets are known from the first pass, so this costs one small
//!   record per retraction.
//! - Retracted events stay on the timeline (`retracted: true`, with the retraction's id and
//!   position): the timeline shows what was written, the ledgers what counts.

use std::collections::BTreeMap;

use serde::Serialize;

use events::payload::Payload;
use events::{Date, EventId, RecordedEvent, Timestamp};

use crate::counted::Retractions;

/// Every subject an event names, as `kind/id` (a retraction: see [`Timeline`]).
pub fn subjects(payload: &Payload) -> Vec<String> {
    use Payload as P;
    let mut out: Vec<String> = Vec::new();
    let mut add = |kind: &str, id: &str| {
        let s = format!("{kind}/{id}");
        if !out.contains(&s) {
            out.push(s);
        }
    };
    if let Some(stream) = payload.stream() {
        if let Some((kind, id)) = stream.split_once('/') {
            add(kind, id);
        }
    }
    match payload {
        P::SecretaryPosted(x) => {
            add("village", &x.village_id);
            add("person", &x.person_id);
        }
        P::TeamMemberJoined(x) => add("person", &x.person_id),
        P::TeamMemberLeft(x) => add("person", &x.person_id),
        P::CommitmentMade(x) => {
            add("posting", &x.posting_id);
            add("village", &x.village_id);
        }
        P::ProjectPlanned(x) => {
            add("posting", &x.posting_id);
            add("village", &x.village_id);
        }
        P::DonationPledged(x) => {
            add("village", &x.village_id);
            add("donor", &x.donor_id);
        }
        P::FundsDisbursed(x) => {
            if let Some(p) = &x.pledge_id {
                add("pledge", p);
            }
        }
        P::EvaluationHeld(x) => {
            add("posting", &x.posting_id);
            add("village", &x.village_id);
        }
        P::InspectionRecorded(x) => {
            add("village", &x.village_id);
            if let Some(p) = &x.posting_id {
                add("posting", p);
            }
        }
        P::ContractSigned(x) => add("village", &x.village_id),
        _ => {}
    }
    out
}

/// One event on a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Position in the log.
    pub position: u64,
    /// The event's id.
    pub event_id: EventId,
    /// Its type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Its stream.
    pub stream: String,
    /// Business date.
    pub occurred_on: Date,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// Who appended it.
    pub actor: String,
    /// Its payload.
    pub payload: serde_json::Value,
    /// Whether a counted retraction targets it.
    pub retracted: bool,
    /// That retraction's id.
    pub retracted_by: Option<EventId>,
    /// That retraction's position.
    pub retracted_at_position: Option<u64>,
}

/// The timeline fold of one subject (second pass; the retractions come from the first).
#[derive(Debug, Clone)]
pub struct Timeline {
    subject: String,
    retractions: Retractions,
    /// Subjects named by each retraction target seen so far (one entry per retraction).
    target_subjects: BTreeMap<EventId, Vec<String>>,
    entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// A timeline of `subject` (`kind/id`).
    pub fn new(subject: impl Into<String>, retractions: Retractions) -> Timeline {
        Timeline {
            subject: subject.into(),
            retractions,
            target_subjects: BTreeMap::new(),
            entries: Vec::new(),
        }
    }

    /// The timeline of `subject` over a prefix: two passes over `events`.
    pub fn build<'a, I>(events: I, subject: &str) -> Vec<TimelineEntry>
    where
        I: IntoIterator<Item = &'a RecordedEvent> + Clone,
    {
        let mut t = Timeline::new(subject, Retractions::collect(events.clone()));
        for e in events {
            t.apply(e);
        }
        t.finish()
    }

    /// Folds the next event.
    pub fn apply(&mut self, e: &RecordedEvent) {
        let named = match &e.payload {
            Payload::Retracted(r) => {
                let mut s = self
                    .target_subjects
                    .get(&r.target_event_id)
                    .cloned()
                    .unwrap_or_default();
                if !s.contains(&e.stream) {
                    s.insert(0, e.stream.clone());
                }
                s
            }
            p => subjects(p),
        };
        let retraction = self.retractions.retraction_of(&e.event_id);
        if retraction.is_some() {
            self.target_subjects.insert(e.event_id, named.clone());
        }
        if !named.contains(&self.subject) {
            return;
        }
        self.entries.push(TimelineEntry {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type().as_str().to_string(),
            stream: e.stream.clone(),
            occurred_on: e.occurred_on,
            recorded_at: e.recorded_at,
            actor: e.actor.clone(),
            payload: e.payload.to_json_value(),
            retracted: retraction.is_some(),
            retracted_by: retraction.map(|r| r.event_id),
            retracted_at_position: retraction.map(|r| r.position),
        });
    }

    /// The entries, in log order.
    pub fn finish(self) -> Vec<TimelineEntry> {
        self.entries
    }
}

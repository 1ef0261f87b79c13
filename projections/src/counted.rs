//! Which events *count* (domain.md §4): those in the prefix that no `Retracted` in the prefix targets.
//!
//! The set of retractions is small (one entry per retraction), so a full rebuild collects it in a
//! first pass over the prefix and folds in a second pass; the fold then skips retracted events as
//! if they had never been appended.
//! The retraction's position matters, not its date: a retraction counts from its position on.
//!
//! ## Choices
//! - A retraction of a retraction is refused by the log. Should one appear anyway (a damaged log),
//!   it has no effect: its target stays a counted retraction. The same holds for a second
//!   retraction of an already retracted event: the first one is the one reported.
//!   Both rebuild and event-by-event folding apply this rule, so they agree.

use std::collections::{BTreeMap, BTreeSet};

use events::payload::Payload;
use events::{EventId, RecordedEvent};

/// One effective retraction: which event retracted which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetractionRef {
    /// Position of the `Retracted` event.
    pub position: u64,
    /// Id of the `Retracted` event.
    pub event_id: EventId,
    /// The event it retracts.
    pub target_event_id: EventId,
}

/// The effective retractions of a prefix, by target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retractions {
    by_target: BTreeMap<EventId, RetractionRef>,
    /// Ids of every `Retracted` event seen, to recognise (and ignore) a retraction of a retraction.
    retraction_ids: BTreeSet<EventId>,
}

impl Retractions {
    /// No retraction at all: the starting point of an event-by-event fold.
    pub fn new() -> Retractions {
        Retractions::default()
    }

    /// First pass of a rebuild: the retractions among `events` (a prefix, in position order).
    pub fn collect<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>) -> Retractions {
        let mut r = Retractions::new();
        for e in events {
            r.note(e);
        }
        r
    }

    /// Takes note of `event` if it is a `Retracted`; returns whether it newly retracts its target.
    pub fn note(&mut self, event: &RecordedEvent) -> bool {
        let Payload::Retracted(p) = &event.payload else {
            return false;
        };
        let fresh = self.retraction_ids.insert(event.event_id);
        if !fresh {
            // Already noted (the set was collected beforehand): nothing new.
            return false;
        }
        if self.retraction_ids.contains(&p.target_event_id)
            || self.by_target.contains_key(&p.target_event_id)
        {
            return false;
        }
        self.by_target.insert(
            p.target_event_id,
            RetractionRef {
                position: event.position,
                event_id: event.event_id,
                target_event_id: p.target_event_id,
            },
        );
        true
    }

    /// Whether the event with this id is retracted.
    pub fn is_retracted(&self, event_id: &EventId) -> bool {
        self.by_target.contains_key(event_id)
    }

    /// The retraction of the event with this id, if any.
    pub fn retraction_of(&self, event_id: &EventId) -> Option<&RetractionRef> {
        self.by_target.get(event_id)
    }

    /// Whether `event` counts: it is not retracted.
    pub fn counts(&self, event: &RecordedEvent) -> bool {
        !self.is_retracted(&event.event_id)
    }

    /// Every effective retraction, by target id.
    pub fn iter(&self) -> impl Iterator<Item = &RetractionRef> {
        self.by_target.values()
    }

    /// Number of effective retractions.
    pub fn len(&self) -> usize {
        self.by_target.len()
    }

    /// Whether there is no effective retraction.
    pub fn is_empty(&self) -> bool {
        self.by_target.is_empty()
    }
}

/// The first `n` events of `events` (which are in position order): positions `0 .. n`.
pub fn prefix<'a>(
    events: impl IntoIterator<Item = &'a RecordedEvent>,
    n: u64,
) -> impl Iterator<Item = &'a RecordedEvent> {
    events.into_iter().take_while(move |e| e.position < n)
}

/// The events of `events` (in position order) recorded at or before `instant`: the prefix a
/// ledger "as of an instant" is built from. `recorded_at` never decreases along positions, so
/// this is a prefix, and reading stops at the first later event.
pub fn recorded_until<'a>(
    events: impl IntoIterator<Item = &'a RecordedEvent>,
    instant: events::Timestamp,
) -> impl Iterator<Item = &'a RecordedEvent> {
    events
        .into_iter()
        .take_while(move |e| e.recorded_at <= instant)
}

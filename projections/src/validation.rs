//! The log's validation state: a pure fold the store keeps in memory to refuse, at append, every
//! state-dependent event that domain.md §2 "What the log refuses" lists, with the retraction
//! semantics of "Corrections".
//!
//! Syntax (field formats, ranges, vote sums, days of a month, present-and-excused, unique ids
//! inside a list, policy documents, the reserved `default-v1`) is checked by the `events` crate
//! when a payload is decoded; nothing here repeats it.
//!
//! # Choices where the contract is silent
//!
//! 1. **An id exists while it has a counted creation**, even when that creation is itself an
//!    anomaly (say its village's registration was retracted). A second creation is refused until
//!    the first is retracted, so every id has at most one counted creation and an inspector can
//!    always tell which event an id means.
//! 2. **"In log order, with the re-entry in place"** means: a re-entered creation is checked
//!    twice. First as any event, against the log as it stands (so a re-entered `SecretaryPosted`
//!    must still not overlap the village's other postings). Then its village is folded again with
//!    the re-entry moved to just before the first counted event that names its id (the place
//!    where "events attach to the counted creation whatever their position" needs it); it is
//!    refused if it, or any counted event naming its id, fails there, except an event that fails
//!    only because it names another id with no counted creation.
//! 3. **An event of one village that names a posting or pledge of another** (possible only after
//!    a posting or pledge was retracted and entered again in another village) always blocks that
//!    re-entry: it would be refused as "not the posting's village" / "another village's pledge".
//! 4. **Time rule for ids without a creation event of their own.** A team member is created by
//!    `TeamMemberJoined`, so `TeamMemberLeft` dated before the member joined is refused. An
//!    `AttendanceReported` or `DisciplineRecorded` names its posting, so it may not be dated
//!    before the posting's first day (but may be dated after its last day). `Retracted` names an
//!    event, not an id: only "not after the day it is recorded" applies to it.
//! 5. **"Events of its posting that must lie in the service"** are the counted, valid
//!    `SpotCheckRecorded`, `CommitmentMade`, `ProjectPlanned`, `EvaluationHeld` and
//!    `InspectionRecorded` naming the posting. A `PostingEnded` on the same day as the latest of
//!    them, or as the posting's first day, is accepted (both ends of a service count).
//! 6. **A village's postings are judged on their service intervals, not on log order.** At
//!    append, a `SecretaryPosted` is refused while any other counted posting of the village has
//!    no `PostingEnded` or ends on or after its first day, and a `PostingEnded` is refused on or
//!    after the first day of any other counted posting that began (strictly) later. After a
//!    retraction the same rules are re-judged on the intervals: retracting a wrong
//!    `PostingEnded` flags the next posting as an anomaly ("has not ended"), and appending the
//!    right `PostingEnded` (refused if on or after the next posting's first day) clears it,
//!    although it comes later in the log. Of two events that leave two postings overlapping,
//!    the later in the log is the one listed.
//! 7. **A `ReviewSealed` is a creation of its `review_id`**: a second one with the same id is
//!    refused like any second creation. Telling a client's `ReviewSealed` from the log's own is
//!    the store's job (this fold cannot know who appends); here only `tree_size` ≤ its position.
//! 8. **Retracting an anomaly is allowed** (it is an event in the log and not yet retracted):
//!    that is how an inspector clears one. A retraction may target an earlier event of its own
//!    batch.
//! 9. **An `event_id` already in the log** is refused here as `event_id: is already in the log`;
//!    the store answers an identical retry before calling this fold, so only a conflicting
//!    duplicate inside a batch reaches it.
//! 10. **A deadline extension** must be later than the original due and every earlier counted
//!     `new_due`, whether or not those earlier extensions applied for the review.
//! 11. **Starting a project is not needed to complete it**; accepting needs a counted completion.
//!
//! # Design
//!
//! Every event except `PolicyAdopted`, `ReviewSealed` and `Retracted` belongs to exactly one
//! village: the one it names (`village_id`), or, for an event that only names a subject (a
//! receipt's pledge, an attendance report's posting), the village of that subject's counted
//! creation. Villages never read one another's state, so the state is partitioned per village:
//!
//! - `entries`: one compact `Fact` per event folded, in log order, with its dates, stream and
//!   whether (and by which event) it was retracted. `by_event_id` indexes it.
//! - `entities`: per created id, the events that create it and the events that name it, both
//!   append-only. The counted creation is the first creation not retracted.
//! - `villages`: per village, the events naming it directly (append-only), its `VillageFold` state
//!   and its anomalies.
//!
//! An ordinary append is checked by one `step` of its village's fold: O(log n) map lookups.
//! A retraction, or a re-entered creation, refolds the one village it concerns (two, when a
//! retracted creation leaves a duplicate to take its place) from its own events: O(events of
//! that village), never the whole log. A refold gathers the village's counted events and the
//! counted subject events of the things it created, places each creation no later than the first
//! event naming its id ("events attach to the counted creation, whatever their position"), and
//! folds them; every event that fails is an anomaly and is ignored. Events naming a thing that
//! has no counted creation at all are anomalies too, found from the `attention` set.
//!
//! The definition this implements, and that the tests' naive model recomputes from scratch, is:
//! the state is that refold of every village over the counted events; an append is accepted when
//! it passes `step` at the end of its village (plus rule 2 above for a re-entry); a retraction
//! when it passes the Governance rules.
//!
//! **Batch atomicity**: a journal records, for each village and entity a batch touches, what is
//! needed to put it back (list lengths, the village's fold state and anomalies, retraction
//! marks). The lists only grow, so undoing is truncating; only the touched villages' fold states
//! are cloned, never the whole state. A refused batch leaves the state exactly as before.
//!
//! **Memory** is O(events): one compact fact per event (ids, dates and amounts, no text), plus
//! the per-village and per-id lists of positions, plus each village's fold state.

mod fact;
mod fold;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use events::{Date, EventId, EventType, Id, RecordedEvent};

use fact::{Fact, Key, Kind};
use fold::{check_recorded_day, Failure, VillageFold};

/// Why an event was refused: the field at fault and the reason, as in domain.md §2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The field, such as `payload.commitment_id`, `occurred_on` or `payload.target_event_id`.
    pub field: String,
    /// Why, in words an operator can act on.
    pub reason: String,
}

impl Refusal {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Refusal {}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Refusal {
        Refusal::new(f.field, f.reason)
    }
}

/// A counted event that the log would now refuse, usually because a retraction left it
/// depending on something no longer counted. Shown in the audit views; ignored by the folds
/// where it cannot apply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Anomaly {
    /// Position of the event left invalid.
    pub position: u64,
    /// Its id.
    pub event_id: EventId,
    /// Its type.
    pub event_type: EventType,
    /// The field that would be refused.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "position {} ({} {}): {}: {}",
            self.position, self.event_type, self.event_id, self.field, self.reason
        )
    }
}

/// One event as validation keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    position: u64,
    event_id: EventId,
    event_type: EventType,
    stream: Box<str>,
    pub(crate) occurred_on: Date,
    /// The date of `recorded_at` in China Standard Time.
    pub(crate) recorded_on: Date,
    /// Index of the effective retraction that targets it.
    retracted_by: Option<usize>,
    pub(crate) fact: Fact,
}

impl Entry {
    fn counted(&self) -> bool {
        self.retracted_by.is_none()
    }
}

/// Events that create an id and events that name it, as indices into `entries`; append-only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entity {
    creations: Vec<usize>,
    refs: Vec<usize>,
}

/// An anomaly found inside a village's fold, before it is made public.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flagged {
    index: usize,
    failure: Failure,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Village {
    /// Events naming the village themselves, in log order, retracted ones too; append-only.
    direct: Vec<usize>,
    fold: VillageFold,
    anomalies: Vec<Flagged>,
    /// Events leaving two postings overlapping, recomputed from the service intervals.
    overlaps: Vec<Flagged>,
}

impl Village {
    /// Recomputes `overlaps`; whether they changed.
    fn recompute_overlaps(&mut self, v: &Id) -> bool {
        let overlaps: Vec<Flagged> = self
            .fold
            .posting_overlaps(v)
            .into_iter()
            .map(|(index, failure)| Flagged { index, failure })
            .collect();
        let changed = overlaps != self.overlaps;
        self.overlaps = overlaps;
        changed
    }
}

/// What a batch saves of a village it touches: the length of its `direct` list (which only
/// grows), its fold state and its anomalies.
type VillageSave = (usize, VillageFold, Vec<Flagged>, Vec<Flagged>);

/// What a batch changed, to put it back if a later event of the batch is refused.
#[derive(Default)]
struct Journal {
    /// Off while replaying: nothing is ever undone there.
    enabled: bool,
    entries_len: usize,
    villages: BTreeMap<Id, Option<VillageSave>>,
    entities: BTreeMap<Key, Option<(usize, usize)>>,
    retracted: Vec<usize>,
    global_anomalies_len: usize,
    attention_added: Vec<Key>,
    /// Something anomalies are computed from changed.
    dirty: bool,
}

/// The log's validation state. See the module docs for what it holds and why.
#[derive(Debug, Default)]
pub struct LogState {
    entries: Vec<Entry>,
    by_event_id: BTreeMap<EventId, usize>,
    entities: BTreeMap<Key, Entity>,
    villages: BTreeMap<Id, Village>,
    /// Anomalies that no retraction can change: refused retractions and review seals found
    /// while replaying.
    global_anomalies: Vec<Flagged>,
    /// Ids that may have events naming them without a counted creation, or several creations.
    attention: BTreeSet<Key>,
    /// Every anomaly, by position; recomputed when something it depends on changed.
    anomalies: Vec<Anomaly>,
}

fn key_of((kind, id): (Kind, &Id)) -> Key {
    (kind, id.clone())
}

impl LogState {
    /// An empty log's state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks a batch of already-enveloped events (positions, stream versions and `recorded_at`
    /// assigned by the store) one after another, each against the state plus the batch's
    /// earlier events. All or nothing: on `Err((index_in_batch, refusal))` the state is exactly
    /// as before, and the store writes nothing.
    pub fn apply_batch(&mut self, batch: &[RecordedEvent]) -> Result<(), (usize, Refusal)> {
        let mut journal = Journal {
            enabled: true,
            entries_len: self.entries.len(),
            global_anomalies_len: self.global_anomalies.len(),
            ..Journal::default()
        };
        for (i, event) in batch.iter().enumerate() {
            if let Err(refusal) = self.admit(event, true, &mut journal) {
                self.undo(journal);
                return Err((i, refusal));
            }
        }
        if journal.dirty {
            self.rebuild_anomalies();
        }
        Ok(())
    }

    /// Checks a batch exactly as [`LogState::apply_batch`] does, and leaves the state as it
    /// was whatever the answer: for a store that must know whether earlier events of a batch
    /// would be refused before it reports a later event's other fault.
    pub fn check_batch(&mut self, batch: &[RecordedEvent]) -> Result<(), (usize, Refusal)> {
        let mut journal = Journal {
            enabled: true,
            entries_len: self.entries.len(),
            global_anomalies_len: self.global_anomalies.len(),
            ..Journal::default()
        };
        let mut result = Ok(());
        for (i, event) in batch.iter().enumerate() {
            if let Err(refusal) = self.admit(event, true, &mut journal) {
                result = Err((i, refusal));
                break;
            }
        }
        self.undo(journal);
        result
    }

    /// Applies an event already in the log (when rebuilding at open). Never fails: an event
    /// that would now be refused is recorded as an anomaly and ignored where it cannot apply.
    pub fn replay(&mut self, event: &RecordedEvent) {
        let mut journal = Journal::default();
        // With `strict` off, `admit` records what it would refuse instead of returning it.
        let _ = self.admit(event, false, &mut journal);
        if journal.dirty {
            self.rebuild_anomalies();
        }
    }

    /// The village an event in the log belongs to: the one it names, else the village of its
    /// subject's creation (counted, else the first), else (a retraction) its target's. `None`
    /// for policies and review seals, which belong to no village.
    pub fn village_of_event(&self, position: u64) -> Option<&Id> {
        let mut index = usize::try_from(position).ok()?;
        // A retraction's target is earlier in the log and is never itself a retraction of a
        // retraction that counts; bound the walk anyway.
        for _ in 0..4 {
            let e = self.entries.get(index)?;
            if let Some(v) = e.fact.village() {
                return Some(v);
            }
            if let Some(subject) = e.fact.subject() {
                let entity = self.entities.get(&key_of(subject))?;
                let creation = entity
                    .creations
                    .iter()
                    .copied()
                    .find(|&c| self.entries[c].counted())
                    .or_else(|| entity.creations.first().copied())?;
                return self.entries[creation].fact.village();
            }
            match &e.fact {
                Fact::Retracted { target, .. } => index = *self.by_event_id.get(target)?,
                _ => return None,
            }
        }
        None
    }

    /// Whether the event at `position` is a creation entered again in another village than an
    /// earlier creation of the same id (a correction that moves the thing, and every event
    /// attached to it, to another village).
    pub fn moved_village(&self, position: u64) -> bool {
        let Some(e) = usize::try_from(position)
            .ok()
            .and_then(|i| self.entries.get(i))
        else {
            return false;
        };
        let (Some(created), Some(village)) = (e.fact.creates(), e.fact.village()) else {
            return false;
        };
        let Some(entity) = self.entities.get(&key_of(created)) else {
            return false;
        };
        entity
            .creations
            .iter()
            .take_while(|&&c| c < position as usize)
            .any(|&c| self.entries[c].fact.village() != Some(village))
    }

    /// The stream of an event in the log, counted or not: where a `Retracted` of it goes.
    pub fn stream_of(&self, id: &EventId) -> Option<&str> {
        self.by_event_id.get(id).map(|&i| &*self.entries[i].stream)
    }

    /// Whether the event is in the log and retracted by a counted retraction.
    pub fn is_retracted(&self, id: &EventId) -> bool {
        self.by_event_id
            .get(id)
            .is_some_and(|&i| !self.entries[i].counted())
    }

    /// Every counted event the log would now refuse, by position.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Number of events folded (the log's size).
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Whether no event was folded yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    // ----- admitting one event

    /// Checks and applies one event. `strict`: refuse (the caller undoes through `journal`);
    /// otherwise record what would be refused as an anomaly and go on.
    fn admit(&mut self, ev: &RecordedEvent, strict: bool, j: &mut Journal) -> Result<(), Refusal> {
        let index = self.entries.len();
        if strict && ev.position != index as u64 {
            return Err(Refusal::new(
                "position",
                format!("is {}, but the log holds {index} events", ev.position),
            ));
        }
        if strict {
            if let Some(&i) = self.by_event_id.get(&ev.event_id) {
                return Err(Refusal::new(
                    "event_id",
                    format!(
                        "is already in the log, at position {}",
                        self.entries[i].position
                    ),
                ));
            }
        }
        let entry = Entry {
            position: ev.position,
            event_id: ev.event_id,
            event_type: ev.event_type(),
            stream: ev.stream.as_str().into(),
            occurred_on: ev.occurred_on,
            recorded_on: ev.recorded_at.cst_date(),
            retracted_by: None,
            fact: Fact::of(&ev.payload),
        };
        match &entry.fact {
            Fact::Retracted { target } => {
                let target = *target;
                let verdict = check_recorded_day(&entry)
                    .map_err(Refusal::from)
                    .and_then(|()| self.check_retraction(&target));
                self.push(entry, j);
                match verdict {
                    Ok(t) => {
                        self.retract(t, index, j);
                        Ok(())
                    }
                    Err(r) => self.refuse_global(index, r, strict, j),
                }
            }
            Fact::PolicyAdopted { .. } | Fact::ReviewSealed { .. } => {
                let verdict = self.check_global_creation(&entry);
                self.push(entry, j);
                match verdict {
                    Ok(()) => Ok(()),
                    Err(r) => self.refuse_global(index, r, strict, j),
                }
            }
            _ => self.admit_village_event(entry, strict, j),
        }
    }

    fn check_retraction(&self, target: &EventId) -> Result<usize, Refusal> {
        let field = "payload.target_event_id";
        let Some(&t) = self.by_event_id.get(target) else {
            return Err(Refusal::new(
                field,
                format!("event {target} is not in the log"),
            ));
        };
        let e = &self.entries[t];
        match e.fact {
            Fact::Retracted { .. } => Err(Refusal::new(
                field,
                format!(
                    "event {target} is a retraction, which cannot be retracted; append the original fact again under a new event_id"
                ),
            )),
            Fact::ReviewSealed { .. } => Err(Refusal::new(
                field,
                format!("event {target} is a ReviewSealed, which cannot be retracted"),
            )),
            _ => match e.retracted_by {
                Some(r) => Err(Refusal::new(
                    field,
                    format!(
                        "event {target} was already retracted by event {} at position {}",
                        self.entries[r].event_id, self.entries[r].position
                    ),
                )),
                None => Ok(t),
            },
        }
    }

    fn check_global_creation(&self, entry: &Entry) -> Result<(), Refusal> {
        check_recorded_day(entry)?;
        if let Fact::ReviewSealed { tree_size, .. } = entry.fact {
            if tree_size > entry.position {
                return Err(Refusal::new(
                    "payload.tree_size",
                    format!(
                        "{tree_size} is over the seal's own position, {}",
                        entry.position
                    ),
                ));
            }
        }
        if let Some(k) = entry.fact.creates() {
            self.check_not_existing(k)?;
        }
        Ok(())
    }

    /// A refused global event: the refusal when strict, else a permanent anomaly.
    fn refuse_global(
        &mut self,
        index: usize,
        r: Refusal,
        strict: bool,
        j: &mut Journal,
    ) -> Result<(), Refusal> {
        if strict {
            return Err(r);
        }
        self.global_anomalies.push(Flagged {
            index,
            failure: Failure::new(r.field, r.reason),
        });
        j.dirty = true;
        Ok(())
    }

    fn check_not_existing(&self, (kind, id): (Kind, &Id)) -> Result<(), Refusal> {
        if let Some(c) = self.counted_creation(&key_of((kind, id))) {
            return Err(Refusal::new(
                kind.field(),
                format!(
                    "{} {id} already exists (created at position {})",
                    kind.noun(),
                    self.entries[c].position
                ),
            ));
        }
        Ok(())
    }

    fn counted_creation(&self, key: &Key) -> Option<usize> {
        let entity = self.entities.get(key)?;
        entity
            .creations
            .iter()
            .copied()
            .find(|&c| self.entries[c].counted())
    }

    /// The village of a thing's counted creation.
    fn village_of(&self, key: &Key) -> Option<&Id> {
        self.counted_creation(key)
            .and_then(|c| self.entries[c].fact.village())
    }

    fn missing(&self, (kind, id): (Kind, &Id)) -> Refusal {
        let retracted = self
            .entities
            .get(&key_of((kind, id)))
            .is_some_and(|e| !e.creations.is_empty());
        let why = if retracted {
            " (its creation was retracted)"
        } else {
            ""
        };
        Refusal::new(
            kind.field(),
            format!("{} {id} does not exist{why}", kind.noun()),
        )
    }

    /// An event that belongs to a village, directly or through its subject.
    fn admit_village_event(
        &mut self,
        entry: Entry,
        strict: bool,
        j: &mut Journal,
    ) -> Result<(), Refusal> {
        let index = self.entries.len();
        if strict {
            check_recorded_day(&entry)?;
        }
        let village: Option<Id> = match (entry.fact.village(), entry.fact.subject()) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(subject)) => self.village_of(&key_of(subject)).cloned(),
            (None, None) => None,
        };
        let Some(village) = village else {
            // A subject without a counted creation: refused, or an orphan anomaly.
            if strict {
                let subject = entry.fact.subject().map(|(k, id)| (k, id.clone()));
                return Err(match subject {
                    Some((k, id)) => self.missing((k, &id)),
                    None => Refusal::new("payload", "names no village"),
                });
            }
            if let Some(s) = entry.fact.subject() {
                self.mark_attention(key_of(s), j);
            }
            self.push(entry, j);
            return Ok(());
        };

        let created = entry.fact.creates().map(key_of);
        if let Some(key) = &created {
            if let Err(r) = self.check_not_existing((key.0, &key.1)) {
                if strict {
                    return Err(r);
                }
                // A duplicate creation: kept, skipped by the folds, listed as an anomaly.
                self.mark_attention(key.clone(), j);
                self.push(entry, j);
                return Ok(());
            }
        }
        if strict {
            self.check_cross_village(&entry.fact, &village)?;
        }
        // A creation whose id counted events already name: a re-entry after a retraction.
        // A village's events are its `direct` list rather than `refs`.
        let reentry = created.as_ref().is_some_and(|key| {
            let named_by = match key.0 {
                Kind::Village => self.villages.get(&key.1).map(|v| &v.direct),
                _ => self.entities.get(key).map(|e| &e.refs),
            };
            named_by.is_some_and(|list| list.iter().any(|&r| self.entries[r].counted()))
        });

        let about_postings = matches!(
            entry.fact,
            Fact::SecretaryPosted { .. } | Fact::PostingEnded { .. }
        );
        if strict && about_postings {
            if let Some(v) = self.villages.get(&village) {
                v.fold.check_posting_overlap(&village, &entry)?;
            }
        }
        if !reentry {
            self.touch_village(&village, j);
            let result = match self.villages.get_mut(&village) {
                Some(v) => {
                    let result = v.fold.step(&village, index, &entry);
                    if about_postings && v.recompute_overlaps(&village) {
                        j.dirty = true;
                    }
                    result
                }
                None => Ok(()),
            };
            self.push(entry, j);
            if let Err(failure) = result {
                if strict {
                    return Err(failure.into());
                }
                if let Some(v) = self.villages.get_mut(&village) {
                    v.anomalies.push(Flagged { index, failure });
                }
                j.dirty = true;
            }
            return Ok(());
        }

        // A re-entered creation: first checked as any event, at the end of the log…
        if strict {
            let mut scratch = self
                .villages
                .get(&village)
                .map(|v| v.fold.clone())
                .unwrap_or_default();
            scratch.step(&village, index, &entry)?;
        }
        let key = created.unwrap_or((Kind::Village, village.clone()));
        // …then every event naming its id, again in log order with it in place.
        if strict {
            self.check_reentry_villages(&key, &village)?;
        }
        self.push(entry, j);
        self.refold(&village, j);
        if strict {
            self.check_reentry_refold(&key, &village, index)?;
        }
        Ok(())
    }

    /// A village event naming a posting or pledge: it must exist, in the event's own village.
    /// The fold would refuse these too; this gives the precise reason.
    fn check_cross_village(&self, fact: &Fact, village: &Id) -> Result<(), Refusal> {
        for (kind, id) in fact.names() {
            if !matches!(kind, Kind::Posting | Kind::Pledge) || fact.village().is_none() {
                continue;
            }
            match self.village_of(&key_of((kind, id))) {
                None => return Err(self.missing((kind, id))),
                Some(w) if w != village => {
                    return Err(match kind {
                        Kind::Posting => Refusal::new(
                            "payload.village_id",
                            format!("is {village}, but posting {id} is a posting of village {w}"),
                        ),
                        _ => Refusal::new(
                            "payload.pledge_id",
                            format!("pledge {id} is a pledge of village {w}, not of {village}"),
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A re-entry in `village` leaves every counted event of another village naming it invalid.
    fn check_reentry_villages(&self, key: &Key, village: &Id) -> Result<(), Refusal> {
        let Some(entity) = self.entities.get(key) else {
            return Ok(());
        };
        for &r in &entity.refs {
            let e = &self.entries[r];
            if !e.counted() {
                continue;
            }
            if let Some(w) = e.fact.village().filter(|w| *w != village) {
                return Err(Refusal::new(
                    key.0.field(),
                    format!(
                        "re-entering {} {} in village {village} would leave the {} at position {} (event {}), of village {w}, naming a {} of another village",
                        key.0.noun(),
                        key.1,
                        e.event_type,
                        e.position,
                        e.event_id,
                        key.0.noun()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// After the refold with the re-entry at `index` in place: it and every event naming its id
    /// must have passed, except events failing only for another id without a counted creation.
    fn check_reentry_refold(&self, key: &Key, village: &Id, index: usize) -> Result<(), Refusal> {
        let Some(v) = self.villages.get(village) else {
            return Ok(());
        };
        let flagged = || v.anomalies.iter().chain(&v.overlaps);
        if let Some(own) = flagged().find(|a| a.index == index) {
            return Err(Refusal::new(
                own.failure.field.clone(),
                format!(
                    "checked where the re-entered {} {} takes effect (before the first event naming it): {}",
                    key.0.noun(),
                    key.1,
                    own.failure.reason
                ),
            ));
        }
        for a in flagged() {
            let e = &self.entries[a.index];
            let names_it = e
                .fact
                .names()
                .into_iter()
                .any(|n| n.0 == key.0 && *n.1 == key.1);
            let other_missing = a.failure.missing.as_ref().is_some_and(|m| m != key);
            if names_it && !other_missing {
                return Err(Refusal::new(
                    key.0.field(),
                    format!(
                        "re-entering {} {} would leave the {} at position {} (event {}) refused: {}: {}",
                        key.0.noun(),
                        key.1,
                        e.event_type,
                        e.position,
                        e.event_id,
                        a.failure.field,
                        a.failure.reason
                    ),
                ));
            }
        }
        Ok(())
    }

    // ----- retraction and refold

    /// Marks `t` retracted by `by` and refolds what depended on it.
    fn retract(&mut self, t: usize, by: usize, j: &mut Journal) {
        self.entries[t].retracted_by = Some(by);
        j.retracted.push(t);
        j.dirty = true;
        let fact = self.entries[t].fact.clone();
        let mut refold: BTreeSet<Id> = BTreeSet::new();
        if let Some(k) = fact.creates() {
            let key = key_of(k);
            if let Some(v) = fact.village() {
                refold.insert(v.clone());
            }
            // A duplicate creation, kept from a replayed log, may now be the counted one.
            if let Some(v) = self.village_of(&key) {
                refold.insert(v.clone());
            }
            self.mark_attention(key, j);
        } else if let Some(v) = fact.village() {
            refold.insert(v.clone());
        } else if let Some(s) = fact.subject() {
            let key = key_of(s);
            match self.village_of(&key) {
                Some(v) => {
                    refold.insert(v.clone());
                }
                None => self.mark_attention(key, j),
            }
        }
        for v in refold {
            self.refold(&v, j);
        }
    }

    /// Folds a village again from its counted events (module docs, "Design").
    fn refold(&mut self, village: &Id, j: &mut Journal) {
        self.touch_village(village, j);
        j.dirty = true;
        let Some(v) = self.villages.get(village) else {
            return;
        };
        let mut items: Vec<usize> = Vec::new();
        let mut creation_of: BTreeMap<Key, usize> = BTreeMap::new();
        for &i in &v.direct {
            let e = &self.entries[i];
            if !e.counted() {
                continue;
            }
            if let Some(k) = e.fact.creates() {
                let key = key_of(k);
                if self.counted_creation(&key) != Some(i) {
                    continue; // a duplicate, listed through `attention`
                }
                if let Some(entity) = self.entities.get(&key) {
                    items.extend(entity.refs.iter().copied().filter(|&r| {
                        let re = &self.entries[r];
                        re.counted() && re.fact.village().is_none()
                    }));
                }
                creation_of.insert(key, i);
            }
            items.push(i);
        }
        // Each creation takes effect no later than the first event naming its id.
        let mut place: BTreeMap<usize, usize> = items.iter().map(|&i| (i, i)).collect();
        loop {
            let mut changed = false;
            for &i in &items {
                let at = place[&i];
                for n in self.entries[i].fact.names() {
                    if let Some(&c) = creation_of.get(&key_of(n)) {
                        if let Some(pc) = place.get_mut(&c) {
                            if *pc > at {
                                *pc = at;
                                changed = true;
                            }
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        items.sort_by_key(|&i| (place[&i], self.entries[i].fact.level(), i));
        let mut fold = VillageFold::default();
        let mut anomalies = Vec::new();
        for i in items {
            if let Err(failure) = fold.step(village, i, &self.entries[i]) {
                anomalies.push(Flagged { index: i, failure });
            }
        }
        anomalies.sort_by_key(|a| a.index);
        if let Some(v) = self.villages.get_mut(village) {
            v.fold = fold;
            v.anomalies = anomalies;
            v.recompute_overlaps(village);
        }
    }

    // ----- bookkeeping and the journal

    /// Adds an event to the log and to the lists of what it names.
    fn push(&mut self, entry: Entry, j: &mut Journal) {
        let index = self.entries.len();
        self.by_event_id.entry(entry.event_id).or_insert(index);
        if let Some(v) = entry.fact.village().cloned() {
            self.touch_village(&v, j);
            if let Some(village) = self.villages.get_mut(&v) {
                village.direct.push(index);
            }
        }
        if let Some(k) = entry.fact.creates() {
            let key = key_of(k);
            self.touch_entity(&key, j);
            self.entities.entry(key).or_default().creations.push(index);
        }
        for n in entry.fact.names() {
            if n.0 == Kind::Village {
                continue; // a village's events are its `direct` list
            }
            let key = key_of(n);
            self.touch_entity(&key, j);
            self.entities.entry(key).or_default().refs.push(index);
        }
        self.entries.push(entry);
    }

    fn mark_attention(&mut self, key: Key, j: &mut Journal) {
        if self.attention.insert(key.clone()) && j.enabled {
            j.attention_added.push(key);
        }
        j.dirty = true;
    }

    fn touch_village(&mut self, v: &Id, j: &mut Journal) {
        if j.enabled && !j.villages.contains_key(v) {
            let saved = self.villages.get(v).map(|x| {
                (
                    x.direct.len(),
                    x.fold.clone(),
                    x.anomalies.clone(),
                    x.overlaps.clone(),
                )
            });
            j.villages.insert(v.clone(), saved);
        }
        if !self.villages.contains_key(v) {
            self.villages.insert(v.clone(), Village::default());
        }
    }

    fn touch_entity(&mut self, key: &Key, j: &mut Journal) {
        if j.enabled && !j.entities.contains_key(key) {
            let saved = self
                .entities
                .get(key)
                .map(|e| (e.creations.len(), e.refs.len()));
            j.entities.insert(key.clone(), saved);
        }
    }

    fn undo(&mut self, j: Journal) {
        for (i, e) in self.entries.iter().enumerate().skip(j.entries_len) {
            if self.by_event_id.get(&e.event_id) == Some(&i) {
                self.by_event_id.remove(&e.event_id);
            }
        }
        self.entries.truncate(j.entries_len);
        for t in j.retracted {
            if let Some(e) = self.entries.get_mut(t) {
                e.retracted_by = None;
            }
        }
        for (v, saved) in j.villages {
            match saved {
                None => {
                    self.villages.remove(&v);
                }
                Some((direct_len, fold, anomalies, overlaps)) => {
                    if let Some(village) = self.villages.get_mut(&v) {
                        village.direct.truncate(direct_len);
                        village.fold = fold;
                        village.anomalies = anomalies;
                        village.overlaps = overlaps;
                    }
                }
            }
        }
        for (key, saved) in j.entities {
            match saved {
                None => {
                    self.entities.remove(&key);
                }
                Some((creations, refs)) => {
                    if let Some(e) = self.entities.get_mut(&key) {
                        e.creations.truncate(creations);
                        e.refs.truncate(refs);
                    }
                }
            }
        }
        self.global_anomalies.truncate(j.global_anomalies_len);
        for key in j.attention_added {
            self.attention.remove(&key);
        }
    }

    fn public(&self, index: usize, failure: &Failure) -> Anomaly {
        let e = &self.entries[index];
        Anomaly {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type,
            field: failure.field.clone(),
            reason: failure.reason.clone(),
        }
    }

    fn rebuild_anomalies(&mut self) {
        let mut all: Vec<Anomaly> = Vec::new();
        for v in self.villages.values() {
            all.extend(
                v.anomalies
                    .iter()
                    .chain(&v.overlaps)
                    .map(|a| self.public(a.index, &a.failure)),
            );
        }
        all.extend(
            self.global_anomalies
                .iter()
                .map(|a| self.public(a.index, &a.failure)),
        );
        for key in &self.attention {
            let Some(entity) = self.entities.get(key) else {
                continue;
            };
            let (kind, id) = (key.0, &key.1);
            let counted = self.counted_creation(key);
            for &c in &entity.creations {
                if self.entries[c].counted() && Some(c) != counted {
                    let first = counted.map_or(0, |f| self.entries[f].position);
                    let failure = Failure::new(
                        kind.field(),
                        format!(
                            "{} {id} already exists (created at position {first})",
                            kind.noun()
                        ),
                    );
                    all.push(self.public(c, &failure));
                }
            }
            if counted.is_none() {
                for &r in &entity.refs {
                    let e = &self.entries[r];
                    if e.counted() && e.fact.village().is_none() {
                        let failure = Failure::new(
                            kind.field(),
                            format!(
                                "{} {id} has no counted creation (it was retracted, or never made)",
                                kind.noun()
                            ),
                        );
                        all.push(self.public(r, &failure));
                    }
                }
            }
        }
        all.sort_by(|a, b| (a.position, &a.field).cmp(&(b.position, &b.field)));
        self.anomalies = all;
    }
}

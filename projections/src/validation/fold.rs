//! The fold of one village's counted events: the state every village rule of domain.md §2 reads,
//! and `step`, which checks one event against it and applies it.
//!
//! `step` checks everything before it changes anything, so a refused event leaves the state as
//! it was; that is what lets a refold skip an anomaly and carry on.

// Persistent maps: cloning a village (to undo a refused batch) is O(1), not O(its entities).
use imbl::{OrdMap as BTreeMap, OrdSet as BTreeSet};

use events::{Date, Id, Month};

use super::fact::{Fact, Key, Kind};
use super::Entry;

/// Why `step` refused an event; `missing` names the thing it named that does not exist here,
/// because a re-entry is not refused for events that fail only for naming another retracted id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) field: String,
    pub(crate) reason: String,
    pub(crate) missing: Option<Key>,
}

impl Failure {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Failure {
        Failure {
            field: field.into(),
            reason: reason.into(),
            missing: None,
        }
    }

    fn missing(kind: Kind, id: &Id, reason: String) -> Failure {
        Failure {
            field: kind.field().to_string(),
            reason,
            missing: Some((kind, id.clone())),
        }
    }
}

fn refuse<T>(field: &str, reason: String) -> Result<T, Failure> {
    Err(Failure::new(field, reason))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PostingState {
    /// Index of the `SecretaryPosted`.
    created: usize,
    first_day: Date,
    last_day: Option<Date>,
    /// Index of the `PostingEnded`.
    ended: Option<usize>,
    /// Latest date of an event of the posting that must lie in its service.
    latest_service_event: Option<Date>,
    months_reported: BTreeSet<Month>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CommitmentState {
    made_on: Date,
    /// The latest of the original due and every earlier `new_due`.
    latest_due: Date,
    closed: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProjectState {
    planned_on: Date,
    started: bool,
    completed: bool,
    cancelled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PledgeState {
    pledged_on: Date,
    amount_fen: u64,
    received_fen: u64,
    disbursed_fen: u64,
    released: bool,
}

/// An inspection's findings or a contract's items, each done (rectified, completed) or not.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemsState {
    created_on: Date,
    done: BTreeMap<Id, bool>,
}

/// The state of one village after folding some of its counted events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VillageFold {
    registered_on: Option<Date>,
    classified_years: BTreeSet<u64>,
    /// Current team members and the day each joined.
    team: BTreeMap<Id, Date>,
    postings: BTreeMap<Id, PostingState>,
    commitments: BTreeMap<Id, CommitmentState>,
    projects: BTreeMap<Id, ProjectState>,
    pledges: BTreeMap<Id, PledgeState>,
    evaluations: BTreeSet<Id>,
    inspections: BTreeMap<Id, ItemsState>,
    contracts: BTreeMap<Id, ItemsState>,
}

impl VillageFold {
    /// The rules that keep a village's postings from overlapping, for an event about to be
    /// appended: a `SecretaryPosted` while another posting has not ended or on or before its last
    /// day; a `PostingEnded` on or after the first day of a posting that began after its own.
    pub(crate) fn check_posting_overlap(&self, v: &Id, e: &Entry) -> Result<(), Failure> {
        let on = e.occurred_on;
        match &e.fact {
            Fact::SecretaryPosted { posting, .. } => {
                for (other, s) in self.postings.iter().filter(|(o, _)| *o != posting) {
                    match s.last_day {
                        None => {
                            return refuse(
                                "payload.village_id",
                                format!("village {v}'s current posting {other} has not ended"),
                            )
                        }
                        Some(last) if on <= last => {
                            return refuse("occurred_on", overlap_before(on, last, other, v))
                        }
                        Some(_) => {}
                    }
                }
            }
            Fact::PostingEnded { posting } => {
                let Some(first) = self.postings.get(posting).map(|s| s.first_day) else {
                    return Ok(());
                };
                for (other, o) in &self.postings {
                    if other != posting && o.first_day > first && on >= o.first_day {
                        return refuse("occurred_on", overlap_after(on, o.first_day, other, v));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Every event that leaves two postings of the village overlapping, judged on the service
    /// intervals whatever the log order: a retracted and re-entered `PostingEnded` is judged
    /// against the postings that began after it, and cures them once it is right again.
    /// Of two events that overlap, the later in the log is the one flagged, as the log would
    /// have refused it.
    pub(crate) fn posting_overlaps(&self, v: &Id) -> Vec<(usize, Failure)> {
        let mut by_start: Vec<(&Id, &PostingState)> = self.postings.iter().collect();
        by_start.sort_by_key(|(_, s)| (s.first_day, s.created));
        let mut out: Vec<(usize, Failure)> = Vec::new();
        for (i, (earlier, y)) in by_start.iter().enumerate() {
            for (later, x) in &by_start[i + 1..] {
                let overlapping = y.last_day.is_none_or(|last| last >= x.first_day);
                if !overlapping {
                    continue;
                }
                // The latest of the events that make the pair overlap is the one the log would
                // have refused.
                let latest = [Some(y.created), Some(x.created), y.ended]
                    .into_iter()
                    .flatten()
                    .max();
                let flagged = match (latest, y.last_day) {
                    (Some(i), Some(last)) if Some(i) == y.ended => (
                        i,
                        Failure::new("occurred_on", overlap_after(last, x.first_day, later, v)),
                    ),
                    (Some(i), Some(last)) if i == x.created => (
                        i,
                        Failure::new("occurred_on", overlap_before(x.first_day, last, earlier, v)),
                    ),
                    (Some(i), None) if i == x.created => (
                        i,
                        Failure::new(
                            "payload.village_id",
                            format!("village {v}'s current posting {earlier} has not ended"),
                        ),
                    ),
                    (Some(i), _) => {
                        // The earlier-starting posting was entered last: it overlaps the other.
                        let reason = match x.last_day {
                            Some(l) => overlap_before(y.first_day, l, later, v),
                            None => format!("village {v}'s current posting {later} has not ended"),
                        };
                        (i, Failure::new("occurred_on", reason))
                    }
                    (None, _) => continue,
                };
                if !out.iter().any(|(index, _)| *index == flagged.0) {
                    out.push(flagged);
                }
            }
        }
        out.sort_by_key(|(index, _)| *index);
        out
    }
}

fn overlap_before(on: Date, last: Date, other: &Id, v: &Id) -> String {
    format!("{on} is on or before {last}, the last day of posting {other} of village {v}; a village's postings never overlap")
}

fn overlap_after(on: Date, first: Date, other: &Id, v: &Id) -> String {
    format!("{on} is on or after {first}, the first day of posting {other} of village {v}, which began after this one")
}

/// The time rule every event obeys, whatever it names.
pub(crate) fn check_recorded_day(e: &Entry) -> Result<(), Failure> {
    if e.occurred_on > e.recorded_on {
        return refuse(
            "occurred_on",
            format!(
                "{} is after {}, the day it was recorded (China Standard Time)",
                e.occurred_on, e.recorded_on
            ),
        );
    }
    Ok(())
}

fn not_before(on: Date, created_on: Date, what: String) -> Result<(), Failure> {
    if on < created_on {
        return refuse(
            "occurred_on",
            format!("{on} is before {what}, on {created_on}"),
        );
    }
    Ok(())
}

impl VillageFold {
    fn need_village(&self, v: &Id, on: Date) -> Result<(), Failure> {
        match self.registered_on {
            None => Err(Failure::missing(
                Kind::Village,
                v,
                format!("village {v} is not registered"),
            )),
            Some(d) => not_before(on, d, format!("village {v} was registered")),
        }
    }

    fn posting(&self, p: &Id, v: &Id) -> Result<&PostingState, Failure> {
        self.postings.get(p).ok_or_else(|| {
            Failure::missing(
                Kind::Posting,
                p,
                format!("posting {p} does not exist in village {v}"),
            )
        })
    }

    /// A posting named by an event that must lie in its service.
    fn posting_in_service(&self, p: &Id, v: &Id, on: Date) -> Result<(), Failure> {
        let s = self.posting(p, v)?;
        if on < s.first_day {
            return refuse(
                "occurred_on",
                format!("{on} is before posting {p}'s first day, {}", s.first_day),
            );
        }
        if let Some(last) = s.last_day {
            if on > last {
                return refuse(
                    "occurred_on",
                    format!("{on} is after posting {p}'s last day, {last}"),
                );
            }
        }
        Ok(())
    }

    fn note_service_event(&mut self, p: &Id, on: Date) {
        if let Some(s) = self.postings.get_mut(p) {
            s.latest_service_event = Some(s.latest_service_event.map_or(on, |d| d.max(on)));
        }
    }

    fn commitment(&self, c: &Id, on: Date) -> Result<&CommitmentState, Failure> {
        let s = self.commitments.get(c).ok_or_else(|| {
            Failure::missing(
                Kind::Commitment,
                c,
                format!("commitment {c} does not exist"),
            )
        })?;
        not_before(on, s.made_on, format!("commitment {c} was made"))?;
        if let Some(how) = s.closed {
            return refuse(
                "payload.commitment_id",
                format!("commitment {c} was already {how}"),
            );
        }
        Ok(s)
    }

    fn project(&self, p: &Id, on: Date) -> Result<&ProjectState, Failure> {
        let s = self.projects.get(p).ok_or_else(|| {
            Failure::missing(Kind::Project, p, format!("project {p} does not exist"))
        })?;
        not_before(on, s.planned_on, format!("project {p} was planned"))?;
        Ok(s)
    }

    fn pledge(&self, p: &Id, v: &Id, on: Date) -> Result<&PledgeState, Failure> {
        let s = self.pledges.get(p).ok_or_else(|| {
            Failure::missing(
                Kind::Pledge,
                p,
                format!("pledge {p} does not exist in village {v}"),
            )
        })?;
        not_before(on, s.pledged_on, format!("pledge {p} was made"))?;
        Ok(s)
    }

    fn items(
        map: &BTreeMap<Id, ItemsState>,
        kind: Kind,
        id: &Id,
        item: &Id,
        on: Date,
    ) -> Result<(), Failure> {
        let noun = kind.noun();
        let (item_field, item_noun, done) = match kind {
            Kind::Inspection => ("payload.finding_id", "finding", "rectified"),
            _ => ("payload.item_id", "item", "completed"),
        };
        let s = map
            .get(id)
            .ok_or_else(|| Failure::missing(kind, id, format!("{noun} {id} does not exist")))?;
        not_before(on, s.created_on, format!("{noun} {id} was recorded"))?;
        match s.done.get(item) {
            None => refuse(item_field, format!("{noun} {id} has no {item_noun} {item}")),
            Some(true) => refuse(
                item_field,
                format!("{item_noun} {item} of {noun} {id} was already {done}"),
            ),
            Some(false) => Ok(()),
        }
    }

    /// Checks `e`, an event of village `v`, against the state; applies it if it passes.
    pub(crate) fn step(&mut self, v: &Id, index: usize, e: &Entry) -> Result<(), Failure> {
        check_recorded_day(e)?;
        let on = e.occurred_on;
        match &e.fact {
            Fact::VillageRegistered { .. } => {
                if let Some(d) = self.registered_on {
                    return refuse(
                        "payload.village_id",
                        format!("village {v} is already registered (on {d})"),
                    );
                }
                self.registered_on = Some(on);
            }
            Fact::VillageClassified { year, .. } => {
                self.need_village(v, on)?;
                if self.classified_years.contains(year) {
                    return refuse(
                        "payload.year",
                        format!("village {v} is already classified for {year}"),
                    );
                }
                self.classified_years.insert(*year);
            }
            Fact::SecretaryPosted { posting, .. } => {
                self.need_village(v, on)?;
                if self.postings.contains_key(posting) {
                    return refuse(
                        "payload.posting_id",
                        format!("posting {posting} already exists"),
                    );
                }
                // Overlap with the village's other postings is judged on service intervals, by
                // `check_posting_overlap` at append and `posting_overlaps` after every fold.
                self.postings.insert(
                    posting.clone(),
                    PostingState {
                        created: index,
                        first_day: on,
                        last_day: None,
                        ended: None,
                        latest_service_event: None,
                        months_reported: BTreeSet::new(),
                    },
                );
            }
            Fact::PostingEnded { posting } => {
                let s = self.posting(posting, v)?;
                if let Some(last) = s.last_day {
                    return refuse(
                        "payload.posting_id",
                        format!("posting {posting} already ended, on {last}"),
                    );
                }
                if on < s.first_day {
                    return refuse(
                        "occurred_on",
                        format!(
                            "{on} is before posting {posting}'s first day, {}",
                            s.first_day
                        ),
                    );
                }
                if let Some(d) = s.latest_service_event.filter(|d| on < *d) {
                    return refuse(
                        "occurred_on",
                        format!("{on} is before {d}, the date of an event of posting {posting} that must lie in its service"),
                    );
                }
                if let Some(m) = s.months_reported.get_max().filter(|m| on < m.first_day()) {
                    return refuse(
                        "occurred_on",
                        format!("{on} is before the first day of {m}, a month posting {posting} reported attendance for"),
                    );
                }
                if let Some(s) = self.postings.get_mut(posting) {
                    s.last_day = Some(on);
                    s.ended = Some(index);
                }
            }
            Fact::TeamMemberJoined { person, .. } => {
                self.need_village(v, on)?;
                if let Some(since) = self.team.get(person) {
                    return refuse(
                        "payload.person_id",
                        format!(
                            "{person} is already a member of village {v}'s team (since {since})"
                        ),
                    );
                }
                self.team.insert(person.clone(), on);
            }
            Fact::TeamMemberLeft { person, .. } => {
                self.need_village(v, on)?;
                let Some(joined) = self.team.get(person) else {
                    return refuse(
                        "payload.person_id",
                        format!("{person} is not a member of village {v}'s team"),
                    );
                };
                not_before(on, *joined, format!("{person} joined village {v}'s team"))?;
                self.team.remove(person);
            }
            Fact::AttendanceReported { posting, month } => {
                let s = self.posting(posting, v)?;
                not_before(on, s.first_day, format!("posting {posting}'s first day"))?;
                let ended_before = s.last_day.is_some_and(|last| month.first_day() > last);
                if month.last_day() < s.first_day || ended_before {
                    let last = s.last_day.map_or("its end".to_string(), |d| d.to_string());
                    return refuse(
                        "payload.month",
                        format!(
                            "{month} does not overlap posting {posting}'s service ({} to {last})",
                            s.first_day
                        ),
                    );
                }
                if s.months_reported.contains(month) {
                    return refuse(
                        "payload.month",
                        format!("posting {posting} already reported attendance for {month}"),
                    );
                }
                if let Some(s) = self.postings.get_mut(posting) {
                    s.months_reported.insert(*month);
                }
            }
            Fact::SpotCheckRecorded { posting } => {
                self.posting_in_service(posting, v, on)?;
                self.note_service_event(posting, on);
            }
            Fact::DisciplineRecorded { posting } => {
                let s = self.posting(posting, v)?;
                not_before(on, s.first_day, format!("posting {posting}'s first day"))?;
            }
            Fact::CommitmentMade {
                commitment,
                posting,
                due,
                ..
            } => {
                self.need_village(v, on)?;
                self.posting_in_service(posting, v, on)?;
                if self.commitments.contains_key(commitment) {
                    return refuse(
                        "payload.commitment_id",
                        format!("commitment {commitment} already exists"),
                    );
                }
                self.commitments.insert(
                    commitment.clone(),
                    CommitmentState {
                        made_on: on,
                        latest_due: *due,
                        closed: None,
                    },
                );
                self.note_service_event(posting, on);
            }
            Fact::CommitmentProgressed { commitment } => {
                self.commitment(commitment, on)?;
            }
            Fact::CommitmentDeadlineExtended {
                commitment,
                new_due,
            } => {
                let s = self.commitment(commitment, on)?;
                if *new_due <= s.latest_due {
                    return refuse(
                        "payload.new_due",
                        format!(
                            "{new_due} is not later than {}, the latest of the original due and every earlier new_due",
                            s.latest_due
                        ),
                    );
                }
                if let Some(s) = self.commitments.get_mut(commitment) {
                    s.latest_due = *new_due;
                }
            }
            Fact::CommitmentFulfilled { commitment } | Fact::CommitmentWithdrawn { commitment } => {
                self.commitment(commitment, on)?;
                let how = if matches!(e.fact, Fact::CommitmentFulfilled { .. }) {
                    "fulfilled"
                } else {
                    "withdrawn"
                };
                if let Some(s) = self.commitments.get_mut(commitment) {
                    s.closed = Some(how);
                }
            }
            Fact::ProjectPlanned {
                project, posting, ..
            } => {
                self.need_village(v, on)?;
                self.posting_in_service(posting, v, on)?;
                if self.projects.contains_key(project) {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} already exists"),
                    );
                }
                self.projects.insert(
                    project.clone(),
                    ProjectState {
                        planned_on: on,
                        started: false,
                        completed: false,
                        cancelled: false,
                    },
                );
                self.note_service_event(posting, on);
            }
            Fact::ProjectStarted { project } => {
                let s = self.project(project, on)?;
                if s.started {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} was already started"),
                    );
                }
                if s.cancelled {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} is cancelled"),
                    );
                }
                if s.completed {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} is completed"),
                    );
                }
                if let Some(s) = self.projects.get_mut(project) {
                    s.started = true;
                }
            }
            Fact::ProjectCompleted { project } => {
                let s = self.project(project, on)?;
                if s.completed {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} was already completed"),
                    );
                }
                if s.cancelled {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} is cancelled"),
                    );
                }
                if let Some(s) = self.projects.get_mut(project) {
                    s.completed = true;
                }
            }
            Fact::ProjectCancelled { project } => {
                let s = self.project(project, on)?;
                if s.cancelled {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} was already cancelled"),
                    );
                }
                if s.completed {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} is completed"),
                    );
                }
                if let Some(s) = self.projects.get_mut(project) {
                    s.cancelled = true;
                }
            }
            Fact::ProjectAccepted { project } => {
                let s = self.project(project, on)?;
                if !s.completed {
                    return refuse(
                        "payload.project_id",
                        format!("project {project} is not completed"),
                    );
                }
            }
            Fact::DonationPledged {
                pledge, amount_fen, ..
            } => {
                self.need_village(v, on)?;
                if self.pledges.contains_key(pledge) {
                    return refuse(
                        "payload.pledge_id",
                        format!("pledge {pledge} already exists"),
                    );
                }
                self.pledges.insert(
                    pledge.clone(),
                    PledgeState {
                        pledged_on: on,
                        amount_fen: *amount_fen,
                        received_fen: 0,
                        disbursed_fen: 0,
                        released: false,
                    },
                );
            }
            Fact::DonationReceived { pledge, amount_fen } => {
                let s = self.pledge(pledge, v, on)?;
                if s.released {
                    return refuse("payload.pledge_id", format!("pledge {pledge} was released"));
                }
                let total = s.received_fen.saturating_add(*amount_fen);
                if total > s.amount_fen {
                    return refuse(
                        "payload.amount_fen",
                        format!(
                            "receipts of pledge {pledge} would total {total} fen, over the {} fen pledged",
                            s.amount_fen
                        ),
                    );
                }
                if let Some(s) = self.pledges.get_mut(pledge) {
                    s.received_fen = total;
                }
            }
            Fact::PledgeReleased { pledge } => {
                let s = self.pledge(pledge, v, on)?;
                if s.released {
                    return refuse(
                        "payload.pledge_id",
                        format!("pledge {pledge} was already released"),
                    );
                }
                if s.received_fen >= s.amount_fen {
                    return refuse(
                        "payload.pledge_id",
                        format!(
                            "pledge {pledge} is paid in full ({} of {} fen received)",
                            s.received_fen, s.amount_fen
                        ),
                    );
                }
                if let Some(s) = self.pledges.get_mut(pledge) {
                    s.released = true;
                }
            }
            Fact::FundsDisbursed {
                pledge, amount_fen, ..
            } => {
                self.need_village(v, on)?;
                if let Some(pledge) = pledge {
                    let s = self.pledge(pledge, v, on)?;
                    let total = s.disbursed_fen.saturating_add(*amount_fen);
                    if total > s.received_fen {
                        return refuse(
                            "payload.amount_fen",
                            format!(
                                "disbursements from pledge {pledge} would total {total} fen, over the {} fen received",
                                s.received_fen
                            ),
                        );
                    }
                    if let Some(s) = self.pledges.get_mut(pledge) {
                        s.disbursed_fen = total;
                    }
                }
            }
            Fact::EvaluationHeld {
                evaluation,
                posting,
                ..
            } => {
                self.need_village(v, on)?;
                self.posting_in_service(posting, v, on)?;
                if self.evaluations.contains(evaluation) {
                    return refuse(
                        "payload.evaluation_id",
                        format!("evaluation {evaluation} already exists"),
                    );
                }
                self.evaluations.insert(evaluation.clone());
                self.note_service_event(posting, on);
            }
            Fact::InspectionRecorded {
                inspection,
                posting,
                findings,
                ..
            } => {
                self.need_village(v, on)?;
                if let Some(posting) = posting {
                    self.posting_in_service(posting, v, on)?;
                }
                if self.inspections.contains_key(inspection) {
                    return refuse(
                        "payload.inspection_id",
                        format!("inspection {inspection} already exists"),
                    );
                }
                self.inspections.insert(
                    inspection.clone(),
                    ItemsState {
                        created_on: on,
                        done: findings.iter().map(|f| (f.clone(), false)).collect(),
                    },
                );
                if let Some(posting) = posting {
                    self.note_service_event(posting, on);
                }
            }
            Fact::FindingRectified {
                inspection,
                finding,
            } => {
                Self::items(&self.inspections, Kind::Inspection, inspection, finding, on)?;
                if let Some(done) = self
                    .inspections
                    .get_mut(inspection)
                    .and_then(|s| s.done.get_mut(finding))
                {
                    *done = true;
                }
            }
            Fact::ContractSigned {
                contract, items, ..
            } => {
                self.need_village(v, on)?;
                if self.contracts.contains_key(contract) {
                    return refuse(
                        "payload.contract_id",
                        format!("contract {contract} already exists"),
                    );
                }
                self.contracts.insert(
                    contract.clone(),
                    ItemsState {
                        created_on: on,
                        done: items.iter().map(|i| (i.clone(), false)).collect(),
                    },
                );
            }
            Fact::ContractItemCompleted { contract, item } => {
                Self::items(&self.contracts, Kind::Contract, contract, item, on)?;
                if let Some(done) = self
                    .contracts
                    .get_mut(contract)
                    .and_then(|s| s.done.get_mut(item))
                {
                    *done = true;
                }
            }
            // Global events are never routed to a village.
            Fact::PolicyAdopted { .. } | Fact::Retracted { .. } | Fact::ReviewSealed { .. } => {}
        }
        Ok(())
    }
}

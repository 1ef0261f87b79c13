//! The ledgers (台账, domain.md §3): one fold of the counted events into per-entity facts, from
//! which every ledger, the review and the audit views are read.
//!
//! [`Ledgers`] keeps, for each entity (village, posting, commitment, project, pledge, evaluation,
//! inspection, contract, policy), the counted events of that entity's stream, reduced to what the
//! ledgers and the review need. Every event changes only the entity of its own stream
//! (formats.md §2), so a retraction arriving after its target is undone by refolding one stream
//! ([`Ledgers::refold`]); a full rebuild collects the retractions first and never needs that.
//! Rows are derived on demand ([`Ledgers::report`]): statuses that depend on the calendar are judged
//! on a reference date, never on the machine's clock.
//!
//! ## Choices
//! - The default reference date is the China-Standard-Time date of the `recorded_at` of the last
//!   event of the prefix. That event always counts: a retraction is never retracted, and nothing
//!   later in the prefix can retract the last event.
//! - Events attach to the counted creation with the same id, whatever their position (domain.md §2):
//!   receipts entered before a pledge was retracted and re-entered belong to the re-entered pledge.
//!   Events whose creation is not counted are kept aside and listed as anomalies, never applied.
//! - Where the log allows one counted event of a kind per entity (a fulfilment, an end of posting,
//!   a start, a completion), the first counted one in log order is the one used.
//! - Memory: one record per entity, plus lists of the events that a ledger shows one by one
//!   (receipts, disbursements, spot checks, attendance months, extensions, acceptances).

mod rows;

pub use rows::*;

use std::collections::BTreeMap;

use events::payload::{self as p, Payload};
use events::{Date, Id, RecordedEvent, Timestamp};

use crate::counted::Retractions;

/// A counted event's payload (or part of it), with where and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    /// Position of the event in the log.
    pub position: u64,
    /// Its business date.
    pub occurred_on: Date,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// What it says.
    pub value: T,
}

fn at<T>(e: &RecordedEvent, value: T) -> At<T> {
    At {
        position: e.position,
        occurred_on: e.occurred_on,
        recorded_at: e.recorded_at,
        value,
    }
}

/// A team member joining or leaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamChange {
    /// `TeamMemberJoined`.
    Joined(p::TeamMemberJoined),
    /// `TeamMemberLeft`.
    Left(p::TeamMemberLeft),
}

/// Counted facts of one village's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VillageFacts {
    /// Its `VillageRegistered`.
    pub registered: Option<At<p::VillageRegistered>>,
    /// Its classifications, by year.
    pub classified: BTreeMap<u64, At<p::Obstacle>>,
    /// Team changes in log order.
    pub team: Vec<At<TeamChange>>,
    /// Disbursements in log order.
    pub disbursements: Vec<At<p::FundsDisbursed>>,
}

/// Counted facts of one posting's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostingFacts {
    /// Its `SecretaryPosted`: the first day of service is its date.
    pub posted: Option<At<p::SecretaryPosted>>,
    /// Its first counted `PostingEnded`: the last day of service is its date.
    pub ended: Option<At<p::PostingEnded>>,
    /// Attendance reports in log order.
    pub attendance: Vec<At<p::AttendanceReported>>,
    /// Spot checks in log order.
    pub spot_checks: Vec<At<p::SpotCheckRecorded>>,
    /// Disciplinary measures in log order.
    pub discipline: Vec<At<p::DisciplineRecorded>>,
}

/// Counted facts of one commitment's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentFacts {
    /// Its `CommitmentMade`.
    pub made: Option<At<p::CommitmentMade>>,
    /// Progress reports in log order.
    pub progress: Vec<At<p::CommitmentProgressed>>,
    /// Deadline extensions in log order (applied or not: see [`due_in_force`]).
    pub extensions: Vec<At<p::CommitmentDeadlineExtended>>,
    /// Its first counted fulfilment.
    pub fulfilled: Option<At<p::CommitmentFulfilled>>,
    /// Its first counted withdrawal.
    pub withdrawn: Option<At<p::CommitmentWithdrawn>>,
}

/// Counted facts of one project's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFacts {
    /// Its `ProjectPlanned`.
    pub planned: Option<At<p::ProjectPlanned>>,
    /// Its first counted start.
    pub started: Option<At<p::ProjectStarted>>,
    /// Its first counted completion.
    pub completed: Option<At<p::ProjectCompleted>>,
    /// Acceptance inspections in log order.
    pub accepted: Vec<At<p::ProjectAccepted>>,
    /// Its first counted cancellation.
    pub cancelled: Option<At<p::ProjectCancelled>>,
}

/// Counted facts of one pledge's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PledgeFacts {
    /// Its `DonationPledged`.
    pub pledged: Option<At<p::DonationPledged>>,
    /// Receipts in log order.
    pub receipts: Vec<At<p::DonationReceived>>,
    /// Its first counted release.
    pub released: Option<At<p::PledgeReleased>>,
}

/// Counted facts of one inspection's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectionFacts {
    /// Its `InspectionRecorded`.
    pub recorded: Option<At<p::InspectionRecorded>>,
    /// Rectifications in log order.
    pub rectified: Vec<At<p::FindingRectified>>,
}

impl InspectionFacts {
    /// The date of the first counted rectification of `finding_id`, if any.
    pub fn rectified_on(&self, finding_id: &str) -> Option<Date> {
        self.rectified
            .iter()
            .find(|r| r.value.finding_id.as_str() == finding_id)
            .map(|r| r.occurred_on)
    }
}

/// Counted facts of one responsibility contract's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractFacts {
    /// Its `ContractSigned`.
    pub signed: Option<At<p::ContractSigned>>,
    /// Item completions in log order.
    pub completed: Vec<At<p::ContractItemCompleted>>,
}

/// What the caller must do after [`Ledgers::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Applied {
    /// Nothing more.
    Done,
    /// A retraction arrived after its target: call [`Ledgers::refold`] with this stream's events.
    Refold(String),
}

/// The fold of a log prefix into per-entity facts; the source of every ledger and of the review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledgers {
    retractions: Retractions,
    size: u64,
    last_recorded_at: Option<Timestamp>,
    /// Villages by id.
    pub villages: BTreeMap<Id, VillageFacts>,
    /// Postings by id.
    pub postings: BTreeMap<Id, PostingFacts>,
    /// Commitments by id.
    pub commitments: BTreeMap<Id, CommitmentFacts>,
    /// Projects by id.
    pub projects: BTreeMap<Id, ProjectFacts>,
    /// Pledges by id.
    pub pledges: BTreeMap<Id, PledgeFacts>,
    /// Evaluation sessions by id.
    pub evaluations: BTreeMap<Id, At<p::EvaluationHeld>>,
    /// Inspections by id.
    pub inspections: BTreeMap<Id, InspectionFacts>,
    /// Responsibility contracts by id.
    pub contracts: BTreeMap<Id, ContractFacts>,
    /// Adopted policies by id.
    pub policies: BTreeMap<Id, At<p::PolicyAdopted>>,
    /// Sealed reviews in log order (they cannot be retracted).
    pub seals: Vec<At<p::ReviewSealed>>,
}

impl Ledgers {
    /// A fold that skips the events `retractions` retracts (second pass of a rebuild), or, with
    /// [`Retractions::new`], a fold fed event by event that learns retractions as they come.
    pub fn new(retractions: Retractions) -> Ledgers {
        Ledgers {
            retractions,
            ..Ledgers::default()
        }
    }

    /// Rebuilds from scratch over a prefix in position order: two passes over `events`.
    pub fn rebuild<'a, I>(events: I) -> Ledgers
    where
        I: IntoIterator<Item = &'a RecordedEvent> + Clone,
    {
        let mut l = Ledgers::new(Retractions::collect(events.clone()));
        for e in events {
            // With every retraction known beforehand, no refold is ever asked for.
            let _ = l.apply(e);
        }
        l
    }

    /// The retractions known to this fold.
    pub fn retractions(&self) -> &Retractions {
        &self.retractions
    }

    /// Number of events folded so far (the prefix's size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// When the last event of the prefix was recorded.
    pub fn last_recorded_at(&self) -> Option<Timestamp> {
        self.last_recorded_at
    }

    /// The default reference date: the CST date of the last event's `recorded_at`.
    pub fn default_reference_date(&self) -> Option<Date> {
        self.last_recorded_at.map(Timestamp::cst_date)
    }

    /// Folds the next event of the log (position order).
    pub fn apply(&mut self, event: &RecordedEvent) -> Applied {
        self.size = self.size.max(event.position + 1);
        self.last_recorded_at = Some(event.recorded_at);
        if let Payload::Retracted(_) = &event.payload {
            if self.retractions.note(event) {
                // Newly learned: its target, earlier in the log, was folded as counted.
                return Applied::Refold(event.stream.clone());
            }
            return Applied::Done;
        }
        if self.retractions.counts(event) {
            self.fold_counted(event);
        }
        Applied::Done
    }

    /// Forgets everything of `stream` and folds its counted events again: `events` are the events
    /// of the prefix (of any stream; others are skipped), in position order.
    pub fn refold<'a>(
        &mut self,
        stream: &str,
        events: impl IntoIterator<Item = &'a RecordedEvent>,
    ) {
        let Some((kind, id)) = stream.split_once('/') else {
            return;
        };
        match kind {
            "village" => drop(self.villages.remove(id)),
            "posting" => drop(self.postings.remove(id)),
            "commitment" => drop(self.commitments.remove(id)),
            "project" => drop(self.projects.remove(id)),
            "pledge" => drop(self.pledges.remove(id)),
            "evaluation" => drop(self.evaluations.remove(id)),
            "inspection" => drop(self.inspections.remove(id)),
            "contract" => drop(self.contracts.remove(id)),
            "policy" => drop(self.policies.remove(id)),
            "review" => self.seals.retain(|s| s.value.review_id.as_str() != id),
            _ => return,
        }
        for e in events {
            if e.position < self.size
                && e.stream == stream
                && !matches!(e.payload, Payload::Retracted(_))
                && self.retractions.counts(e)
            {
                self.fold_counted(e);
            }
        }
    }

    fn fold_counted(&mut self, e: &RecordedEvent) {
        use Payload as P;
        match &e.payload {
            P::VillageRegistered(x) => {
                let v = self.villages.entry(x.village_id.clone()).or_default();
                v.registered.get_or_insert_with(|| at(e, x.clone()));
            }
            P::VillageClassified(x) => {
                let v = self.villages.entry(x.village_id.clone()).or_default();
                v.classified
                    .entry(x.year)
                    .or_insert_with(|| at(e, x.obstacle));
            }
            P::TeamMemberJoined(x) => self
                .villages
                .entry(x.village_id.clone())
                .or_default()
                .team
                .push(at(e, TeamChange::Joined(x.clone()))),
            P::TeamMemberLeft(x) => self
                .villages
                .entry(x.village_id.clone())
                .or_default()
                .team
                .push(at(e, TeamChange::Left(x.clone()))),
            P::FundsDisbursed(x) => self
                .villages
                .entry(x.village_id.clone())
                .or_default()
                .disbursements
                .push(at(e, x.clone())),
            P::SecretaryPosted(x) => {
                let f = self.postings.entry(x.posting_id.clone()).or_default();
                f.posted.get_or_insert_with(|| at(e, x.clone()));
            }
            P::PostingEnded(x) => {
                let f = self.postings.entry(x.posting_id.clone()).or_default();
                f.ended.get_or_insert_with(|| at(e, x.clone()));
            }
            P::AttendanceReported(x) => self
                .postings
                .entry(x.posting_id.clone())
                .or_default()
                .attendance
                .push(at(e, x.clone())),
            P::SpotCheckRecorded(x) => self
                .postings
                .entry(x.posting_id.clone())
                .or_default()
                .spot_checks
                .push(at(e, x.clone())),
            P::DisciplineRecorded(x) => self
                .postings
                .entry(x.posting_id.clone())
                .or_default()
                .discipline
                .push(at(e, x.clone())),
            P::CommitmentMade(x) => {
                let f = self.commitments.entry(x.commitment_id.clone()).or_default();
                f.made.get_or_insert_with(|| at(e, x.clone()));
            }
            P::CommitmentProgressed(x) => self
                .commitments
                .entry(x.commitment_id.clone())
                .or_default()
                .progress
                .push(at(e, x.clone())),
            P::CommitmentDeadlineExtended(x) => self
                .commitments
                .entry(x.commitment_id.clone())
                .or_default()
                .extensions
                .push(at(e, x.clone())),
            P::CommitmentFulfilled(x) => {
                let f = self.commitments.entry(x.commitment_id.clone()).or_default();
                f.fulfilled.get_or_insert_with(|| at(e, x.clone()));
            }
            P::CommitmentWithdrawn(x) => {
                let f = self.commitments.entry(x.commitment_id.clone()).or_default();
                f.withdrawn.get_or_insert_with(|| at(e, x.clone()));
            }
            P::ProjectPlanned(x) => {
                let f = self.projects.entry(x.project_id.clone()).or_default();
                f.planned.get_or_insert_with(|| at(e, x.clone()));
            }
            P::ProjectStarted(x) => {
                let f = self.projects.entry(x.project_id.clone()).or_default();
                f.started.get_or_insert_with(|| at(e, x.clone()));
            }
            P::ProjectCompleted(x) => {
                let f = self.projects.entry(x.project_id.clone()).or_default();
                f.completed.get_or_insert_with(|| at(e, x.clone()));
            }
            P::ProjectAccepted(x) => self
                .projects
                .entry(x.project_id.clone())
                .or_default()
                .accepted
                .push(at(e, x.clone())),
            P::ProjectCancelled(x) => {
                let f = self.projects.entry(x.project_id.clone()).or_default();
                f.cancelled.get_or_insert_with(|| at(e, x.clone()));
            }
            P::DonationPledged(x) => {
                let f = self.pledges.entry(x.pledge_id.clone()).or_default();
                f.pledged.get_or_insert_with(|| at(e, x.clone()));
            }
            P::DonationReceived(x) => self
                .pledges
                .entry(x.pledge_id.clone())
                .or_default()
                .receipts
                .push(at(e, x.clone())),
            P::PledgeReleased(x) => {
                let f = self.pledges.entry(x.pledge_id.clone()).or_default();
                f.released.get_or_insert_with(|| at(e, x.clone()));
            }
            P::EvaluationHeld(x) => {
                self.evaluations
                    .entry(x.evaluation_id.clone())
                    .or_insert_with(|| at(e, x.clone()));
            }
            P::InspectionRecorded(x) => {
                let f = self.inspections.entry(x.inspection_id.clone()).or_default();
                f.recorded.get_or_insert_with(|| at(e, x.clone()));
            }
            P::FindingRectified(x) => self
                .inspections
                .entry(x.inspection_id.clone())
                .or_default()
                .rectified
                .push(at(e, x.clone())),
            P::ContractSigned(x) => {
                let f = self.contracts.entry(x.contract_id.clone()).or_default();
                f.signed.get_or_insert_with(|| at(e, x.clone()));
            }
            P::ContractItemCompleted(x) => self
                .contracts
                .entry(x.contract_id.clone())
                .or_default()
                .completed
                .push(at(e, x.clone())),
            P::PolicyAdopted(x) => {
                self.policies
                    .entry(x.policy_id.clone())
                    .or_insert_with(|| at(e, x.clone()));
            }
            P::ReviewSealed(x) => self.seals.push(at(e, x.clone())),
            P::Retracted(_) => {}
        }
    }
}

/// How one deadline extension was judged (domain.md §4 "due in force").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionJudged {
    /// Position of the extension.
    pub position: u64,
    /// Its date.
    pub occurred_on: Date,
    /// The due it asked for.
    pub new_due: Date,
    /// The due in force when it came (in log order).
    pub due_before: Date,
    /// Whether it applies: dated on or before the due in force at that moment.
    pub applied: bool,
}

/// The due in force of a commitment: start from `due`, go through the counted extensions in log
/// order; one applies when its date is on or before the due in force at that moment.
/// Returns the due in force and how each extension was judged.
pub fn due_in_force(
    due: Date,
    extensions: &[At<p::CommitmentDeadlineExtended>],
) -> (Date, Vec<ExtensionJudged>) {
    let mut in_force = due;
    let mut judged = Vec::with_capacity(extensions.len());
    for x in extensions {
        let applied = x.occurred_on <= in_force;
        judged.push(ExtensionJudged {
            position: x.position,
            occurred_on: x.occurred_on,
            new_due: x.value.new_due,
            due_before: in_force,
            applied,
        });
        if applied {
            in_force = x.value.new_due;
        }
    }
    (in_force, judged)
}

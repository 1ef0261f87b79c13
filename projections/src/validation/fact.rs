//! The compact form of an event that validation keeps: the ids, dates and amounts the rules of
//! domain.md §2 read, without names or free text, so that O(events) memory stays small.

use events::{Date, EventId, Id, Month, Payload};

/// The kinds of thing that are created by an event and then named by others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Village,
    Posting,
    Commitment,
    Project,
    Pledge,
    Evaluation,
    Inspection,
    Contract,
    Policy,
    Review,
}

impl Kind {
    /// The word used in refusals ("posting P-1 does not exist").
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Village => "village",
            Kind::Posting => "posting",
            Kind::Commitment => "commitment",
            Kind::Project => "project",
            Kind::Pledge => "pledge",
            Kind::Evaluation => "evaluation",
            Kind::Inspection => "inspection",
            Kind::Contract => "contract",
            Kind::Policy => "policy",
            Kind::Review => "review",
        }
    }

    /// The payload field that carries an id of this kind.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Kind::Village => "payload.village_id",
            Kind::Posting => "payload.posting_id",
            Kind::Commitment => "payload.commitment_id",
            Kind::Project => "payload.project_id",
            Kind::Pledge => "payload.pledge_id",
            Kind::Evaluation => "payload.evaluation_id",
            Kind::Inspection => "payload.inspection_id",
            Kind::Contract => "payload.contract_id",
            Kind::Policy => "payload.policy_id",
            Kind::Review => "payload.review_id",
        }
    }
}

/// A created thing: its kind and id.
pub(crate) type Key = (Kind, Id);

/// What validation remembers of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fact {
    VillageRegistered {
        village: Id,
    },
    VillageClassified {
        village: Id,
        year: u64,
    },
    SecretaryPosted {
        posting: Id,
        village: Id,
    },
    PostingEnded {
        posting: Id,
    },
    TeamMemberJoined {
        village: Id,
        person: Id,
    },
    TeamMemberLeft {
        village: Id,
        person: Id,
    },
    AttendanceReported {
        posting: Id,
        month: Month,
    },
    SpotCheckRecorded {
        posting: Id,
    },
    CommitmentMade {
        commitment: Id,
        posting: Id,
        village: Id,
        due: Date,
    },
    CommitmentProgressed {
        commitment: Id,
    },
    CommitmentDeadlineExtended {
        commitment: Id,
        new_due: Date,
    },
    CommitmentFulfilled {
        commitment: Id,
    },
    CommitmentWithdrawn {
        commitment: Id,
    },
    ProjectPlanned {
        project: Id,
        village: Id,
        posting: Id,
    },
    ProjectStarted {
        project: Id,
    },
    ProjectCompleted {
        project: Id,
    },
    ProjectAccepted {
        project: Id,
    },
    ProjectCancelled {
        project: Id,
    },
    DonationPledged {
        pledge: Id,
        village: Id,
        amount_fen: u64,
    },
    DonationReceived {
        pledge: Id,
        amount_fen: u64,
    },
    PledgeReleased {
        pledge: Id,
    },
    FundsDisbursed {
        village: Id,
        pledge: Option<Id>,
        amount_fen: u64,
    },
    EvaluationHeld {
        evaluation: Id,
        posting: Id,
        village: Id,
    },
    InspectionRecorded {
        inspection: Id,
        village: Id,
        posting: Option<Id>,
        findings: Box<[Id]>,
    },
    FindingRectified {
        inspection: Id,
        finding: Id,
    },
    DisciplineRecorded {
        posting: Id,
    },
    ContractSigned {
        contract: Id,
        village: Id,
        items: Box<[Id]>,
    },
    ContractItemCompleted {
        contract: Id,
        item: Id,
    },
    PolicyAdopted {
        policy: Id,
    },
    Retracted {
        target: EventId,
    },
    ReviewSealed {
        review: Id,
        tree_size: u64,
    },
}

impl Fact {
    /// The compact form of a payload.
    pub(crate) fn of(payload: &Payload) -> Fact {
        use Payload as P;
        match payload {
            P::VillageRegistered(p) => Fact::VillageRegistered {
                village: p.village_id.clone(),
            },
            P::VillageClassified(p) => Fact::VillageClassified {
                village: p.village_id.clone(),
                year: p.year,
            },
            P::SecretaryPosted(p) => Fact::SecretaryPosted {
                posting: p.posting_id.clone(),
                village: p.village_id.clone(),
            },
            P::PostingEnded(p) => Fact::PostingEnded {
                posting: p.posting_id.clone(),
            },
            P::TeamMemberJoined(p) => Fact::TeamMemberJoined {
                village: p.village_id.clone(),
                person: p.person_id.clone(),
            },
            P::TeamMemberLeft(p) => Fact::TeamMemberLeft {
                village: p.village_id.clone(),
                person: p.person_id.clone(),
            },
            P::AttendanceReported(p) => Fact::AttendanceReported {
                posting: p.posting_id.clone(),
                month: p.month,
            },
            P::SpotCheckRecorded(p) => Fact::SpotCheckRecorded {
                posting: p.posting_id.clone(),
            },
            P::CommitmentMade(p) => Fact::CommitmentMade {
                commitment: p.commitment_id.clone(),
                posting: p.posting_id.clone(),
                village: p.village_id.clone(),
                due: p.due,
            },
            P::CommitmentProgressed(p) => Fact::CommitmentProgressed {
                commitment: p.commitment_id.clone(),
            },
            P::CommitmentDeadlineExtended(p) => Fact::CommitmentDeadlineExtended {
                commitment: p.commitment_id.clone(),
                new_due: p.new_due,
            },
            P::CommitmentFulfilled(p) => Fact::CommitmentFulfilled {
                commitment: p.commitment_id.clone(),
            },
            P::CommitmentWithdrawn(p) => Fact::CommitmentWithdrawn {
                commitment: p.commitment_id.clone(),
            },
            P::ProjectPlanned(p) => Fact::ProjectPlanned {
                project: p.project_id.clone(),
                village: p.village_id.clone(),
                posting: p.posting_id.clone(),
            },
            P::ProjectStarted(p) => Fact::ProjectStarted {
                project: p.project_id.clone(),
            },
            P::ProjectCompleted(p) => Fact::ProjectCompleted {
                project: p.project_id.clone(),
            },
            P::ProjectAccepted(p) => Fact::ProjectAccepted {
                project: p.project_id.clone(),
            },
            P::ProjectCancelled(p) => Fact::ProjectCancelled {
                project: p.project_id.clone(),
            },
            P::DonationPledged(p) => Fact::DonationPledged {
                pledge: p.pledge_id.clone(),
                village: p.village_id.clone(),
                amount_fen: p.amount_fen,
            },
            P::DonationReceived(p) => Fact::DonationReceived {
                pledge: p.pledge_id.clone(),
                amount_fen: p.amount_fen,
            },
            P::PledgeReleased(p) => Fact::PledgeReleased {
                pledge: p.pledge_id.clone(),
            },
            P::FundsDisbursed(p) => Fact::FundsDisbursed {
                village: p.village_id.clone(),
                pledge: p.pledge_id.clone(),
                amount_fen: p.amount_fen,
            },
            P::EvaluationHeld(p) => Fact::EvaluationHeld {
                evaluation: p.evaluation_id.clone(),
                posting: p.posting_id.clone(),
                village: p.village_id.clone(),
            },
            P::InspectionRecorded(p) => Fact::InspectionRecorded {
                inspection: p.inspection_id.clone(),
                village: p.village_id.clone(),
                posting: p.posting_id.clone(),
                findings: p.findings.iter().map(|f| f.finding_id.clone()).collect(),
            },
            P::FindingRectified(p) => Fact::FindingRectified {
                inspection: p.inspection_id.clone(),
                finding: p.finding_id.clone(),
            },
            P::DisciplineRecorded(p) => Fact::DisciplineRecorded {
                posting: p.posting_id.clone(),
            },
            P::ContractSigned(p) => Fact::ContractSigned {
                contract: p.contract_id.clone(),
                village: p.village_id.clone(),
                items: p.items.iter().map(|i| i.item_id.clone()).collect(),
            },
            P::ContractItemCompleted(p) => Fact::ContractItemCompleted {
                contract: p.contract_id.clone(),
                item: p.item_id.clone(),
            },
            P::PolicyAdopted(p) => Fact::PolicyAdopted {
                policy: p.policy_id.clone(),
            },
            P::Retracted(p) => Fact::Retracted {
                target: p.target_event_id,
            },
            P::ReviewSealed(p) => Fact::ReviewSealed {
                review: p.review_id.clone(),
                tree_size: p.tree_size,
            },
        }
    }

    /// The thing this event creates, if it is a creation.
    pub(crate) fn creates(&self) -> Option<(Kind, &Id)> {
        Some(match self {
            Fact::VillageRegistered { village } => (Kind::Village, village),
            Fact::SecretaryPosted { posting, .. } => (Kind::Posting, posting),
            Fact::CommitmentMade { commitment, .. } => (Kind::Commitment, commitment),
            Fact::ProjectPlanned { project, .. } => (Kind::Project, project),
            Fact::DonationPledged { pledge, .. } => (Kind::Pledge, pledge),
            Fact::EvaluationHeld { evaluation, .. } => (Kind::Evaluation, evaluation),
            Fact::InspectionRecorded { inspection, .. } => (Kind::Inspection, inspection),
            Fact::ContractSigned { contract, .. } => (Kind::Contract, contract),
            Fact::PolicyAdopted { policy } => (Kind::Policy, policy),
            Fact::ReviewSealed { review, .. } => (Kind::Review, review),
            _ => return None,
        })
    }

    /// The village an event names itself, if it does (creations of village things included).
    pub(crate) fn village(&self) -> Option<&Id> {
        match self {
            Fact::VillageRegistered { village }
            | Fact::VillageClassified { village, .. }
            | Fact::SecretaryPosted { village, .. }
            | Fact::TeamMemberJoined { village, .. }
            | Fact::TeamMemberLeft { village, .. }
            | Fact::CommitmentMade { village, .. }
            | Fact::ProjectPlanned { village, .. }
            | Fact::DonationPledged { village, .. }
            | Fact::FundsDisbursed { village, .. }
            | Fact::EvaluationHeld { village, .. }
            | Fact::InspectionRecorded { village, .. }
            | Fact::ContractSigned { village, .. } => Some(village),
            _ => None,
        }
    }

    /// Every created thing the event names without creating it: its village, its posting, the
    /// subject it updates.
    pub(crate) fn names(&self) -> Vec<(Kind, &Id)> {
        let mut out = Vec::with_capacity(2);
        if let Some(v) = self.village() {
            if !matches!(self, Fact::VillageRegistered { .. }) {
                out.push((Kind::Village, v));
            }
        }
        match self {
            Fact::CommitmentMade { posting, .. }
            | Fact::ProjectPlanned { posting, .. }
            | Fact::EvaluationHeld { posting, .. }
            | Fact::InspectionRecorded {
                posting: Some(posting),
                ..
            } => out.push((Kind::Posting, posting)),
            Fact::FundsDisbursed {
                pledge: Some(pledge),
                ..
            } => out.push((Kind::Pledge, pledge)),
            _ => {}
        }
        if let Some(subject) = self.subject() {
            out.push(subject);
        }
        out
    }

    /// The thing an event updates when it names no village of its own (an attendance report's
    /// posting, a receipt's pledge); such an event belongs wherever that thing was created.
    pub(crate) fn subject(&self) -> Option<(Kind, &Id)> {
        Some(match self {
            Fact::PostingEnded { posting }
            | Fact::AttendanceReported { posting, .. }
            | Fact::SpotCheckRecorded { posting }
            | Fact::DisciplineRecorded { posting } => (Kind::Posting, posting),
            Fact::CommitmentProgressed { commitment }
            | Fact::CommitmentDeadlineExtended { commitment, .. }
            | Fact::CommitmentFulfilled { commitment }
            | Fact::CommitmentWithdrawn { commitment } => (Kind::Commitment, commitment),
            Fact::ProjectStarted { project }
            | Fact::ProjectCompleted { project }
            | Fact::ProjectAccepted { project }
            | Fact::ProjectCancelled { project } => (Kind::Project, project),
            Fact::DonationReceived { pledge, .. } | Fact::PledgeReleased { pledge } => {
                (Kind::Pledge, pledge)
            }
            Fact::FindingRectified { inspection, .. } => (Kind::Inspection, inspection),
            Fact::ContractItemCompleted { contract, .. } => (Kind::Contract, contract),
            _ => return None,
        })
    }

    /// Order among events placed at the same point of a refold: a village before its postings,
    /// postings before what they create, creations before the events that name them.
    pub(crate) fn level(&self) -> u8 {
        match self {
            Fact::VillageRegistered { .. } => 0,
            Fact::SecretaryPosted { .. } => 1,
            f if f.creates().is_some() => 2,
            _ => 3,
        }
    }
}

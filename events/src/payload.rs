//! Event payloads of schema 1 (domain.md §2): one struct per event type, with the contract's
//! exact JSON field names and enum spellings.
//!
//! Every field validates itself on deserialization (see `fields`); rules that involve several
//! fields of one payload are checked by [`Payload::check`]. Rules that need the log's state
//! live in the `projections` crate.
//!
//! The order of [`Payload`]'s variants is part of the stored record format (bincode writes the
//! variant index): append new variants at the end, never reorder or remove one.

use serde::{Deserialize, Serialize};

use crate::fields::{self, EventId, Id, Sha256};
use crate::policy::Policy;
use crate::time::{Date, Month};

macro_rules! lower_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),* }
        impl $name {
            /// The contract's spelling.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),* } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

lower_enum!(
    /// A village's key obstacle to leaving poverty.
    Obstacle { #[allow(missing_docs)] Infrastructure = "infrastructure", #[allow(missing_docs)] Industry = "industry", #[allow(missing_docs)] Education = "education", #[allow(missing_docs)] Health = "health", #[allow(missing_docs)] Labour = "labour", #[allow(missing_docs)] Other = "other" }
);
lower_enum!(
    /// Why a posting ended.
    EndReason { #[allow(missing_docs)] TermCompleted = "term_completed", #[allow(missing_docs)] Recalled = "recalled", #[allow(missing_docs)] Replaced = "replaced" }
);
lower_enum!(
    /// A team member's role in the village.
    TeamRole { #[allow(missing_docs)] Instructor = "instructor", #[allow(missing_docs)] Commissioner = "commissioner", #[allow(missing_docs)] ContactCadre = "contact_cadre", #[allow(missing_docs)] GraduateOfficial = "graduate_official", #[allow(missing_docs)] Other = "other" }
);
lower_enum!(
    /// Kind of commitment (共性 · 岗位 · 实事).
    CommitmentKind { #[allow(missing_docs)] Common = "common", #[allow(missing_docs)] Post = "post", #[allow(missing_docs)] Practical = "practical" }
);
lower_enum!(
    /// Kind of project.
    ProjectKind { #[allow(missing_docs)] Road = "road", #[allow(missing_docs)] Bridge = "bridge", #[allow(missing_docs)] DrinkingWater = "drinking_water", #[allow(missing_docs)] Sanitation = "sanitation", #[allow(missing_docs)] Greening = "greening", #[allow(missing_docs)] School = "school", #[allow(missing_docs)] Cooperative = "cooperative", #[allow(missing_docs)] DemonstrationBase = "demonstration_base", #[allow(missing_docs)] Other = "other" }
);
lower_enum!(
    /// Unit of a project's quantity.
    Unit { #[allow(missing_docs)] Metre = "metre", #[allow(missing_docs)] Item = "item" }
);
lower_enum!(
    /// Kind of donor.
    DonorKind { #[allow(missing_docs)] Enterprise = "enterprise", #[allow(missing_docs)] Adviser = "adviser", #[allow(missing_docs)] Charity = "charity", #[allow(missing_docs)] Individual = "individual", #[allow(missing_docs)] Organisation = "organisation" }
);
lower_enum!(
    /// Severity of an inspection finding.
    Severity { #[allow(missing_docs)] Minor = "minor", #[allow(missing_docs)] Serious = "serious" }
);
lower_enum!(
    /// Kind of disciplinary measure.
    DisciplineKind { #[allow(missing_docs)] Warning = "warning", #[allow(missing_docs)] Demerit = "demerit", #[allow(missing_docs)] MajorDemerit = "major_demerit", #[allow(missing_docs)] Demotion = "demotion", #[allow(missing_docs)] Dismissal = "dismissal" }
);

/// Declares payload structs: `deny_unknown_fields`, every field documented by the contract.
macro_rules! payload_struct {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(missing_docs)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

payload_struct!(/// A village enters the registry.
VillageRegistered { village_id: Id, #[serde(deserialize_with = "fields::name")] name: String, #[serde(deserialize_with = "fields::name")] county: String, #[serde(deserialize_with = "fields::name")] township: String });
payload_struct!(/// A village's key obstacle for a year.
VillageClassified { village_id: Id, #[serde(deserialize_with = "fields::int")] year: u64, obstacle: Obstacle });
payload_struct!(/// A first secretary starts a posting; its first day is the event's `occurred_on`.
SecretaryPosted { posting_id: Id, person_id: Id, #[serde(deserialize_with = "fields::name")] person_name: String, village_id: Id, #[serde(deserialize_with = "fields::name")] sending_unit: String, probation: bool });
payload_struct!(/// A posting ends; its last day is the event's `occurred_on`.
PostingEnded { posting_id: Id, reason: EndReason, #[serde(deserialize_with = "fields::text")] note: String });
payload_struct!(/// A team member is stationed in a village.
TeamMemberJoined { village_id: Id, person_id: Id, #[serde(deserialize_with = "fields::name")] name: String, role: TeamRole });
payload_struct!(/// A team member leaves a village.
TeamMemberLeft { village_id: Id, person_id: Id });
payload_struct!(/// A posting's monthly attendance report.
AttendanceReported { posting_id: Id, month: Month, #[serde(deserialize_with = "fields::int")] days_in_village: u64, #[serde(deserialize_with = "fields::int")] leave_days: u64 });
payload_struct!(/// An unannounced presence check of a posting.
SpotCheckRecorded { posting_id: Id, present: bool, excused: bool, #[serde(deserialize_with = "fields::name")] inspector: String });
payload_struct!(/// A commitment made and published (承诺).
CommitmentMade { commitment_id: Id, posting_id: Id, village_id: Id, kind: CommitmentKind, #[serde(deserialize_with = "fields::content")] content: String, due: Date });
payload_struct!(/// Progress on a commitment.
CommitmentProgressed { commitment_id: Id, #[serde(deserialize_with = "fields::percent")] percent: u64, #[serde(deserialize_with = "fields::text")] note: String });
payload_struct!(/// A commitment's deadline extended.
CommitmentDeadlineExtended { commitment_id: Id, new_due: Date, #[serde(deserialize_with = "fields::text")] reason: String, #[serde(deserialize_with = "fields::name")] approved_by: String });
payload_struct!(/// A commitment carried out (践诺), on the event's `occurred_on`.
CommitmentFulfilled { commitment_id: Id, #[serde(deserialize_with = "fields::text")] evidence: String });
payload_struct!(/// A commitment withdrawn with approval.
CommitmentWithdrawn { commitment_id: Id, #[serde(deserialize_with = "fields::text")] reason: String, #[serde(deserialize_with = "fields::name")] approved_by: String });
payload_struct!(/// A project planned.
ProjectPlanned { project_id: Id, village_id: Id, posting_id: Id, kind: ProjectKind, #[serde(deserialize_with = "fields::int")] planned_quantity: u64, unit: Unit, #[serde(deserialize_with = "fields::int")] budget_fen: u64, due: Date });
payload_struct!(/// A project started.
ProjectStarted { project_id: Id });
payload_struct!(/// A project completed, on the event's `occurred_on`.
ProjectCompleted { project_id: Id, #[serde(deserialize_with = "fields::int")] quantity: u64, #[serde(deserialize_with = "fields::int")] cost_fen: u64 });
payload_struct!(/// An acceptance inspection (验收) of a completed project.
ProjectAccepted { project_id: Id, passed: bool, #[serde(deserialize_with = "fields::name")] inspector: String, #[serde(deserialize_with = "fields::text")] note: String });
payload_struct!(/// A project cancelled with approval.
ProjectCancelled { project_id: Id, #[serde(deserialize_with = "fields::text")] reason: String, #[serde(deserialize_with = "fields::name")] approved_by: String });
payload_struct!(/// A donor's promise of money to a village.
DonationPledged { pledge_id: Id, donor_id: Id, #[serde(deserialize_with = "fields::name")] donor_name: String, donor_kind: DonorKind, village_id: Id, #[serde(deserialize_with = "fields::int")] amount_fen: u64, #[serde(deserialize_with = "fields::text")] purpose: String, due: Date });
payload_struct!(/// Money received against a pledge.
DonationReceived { pledge_id: Id, #[serde(deserialize_with = "fields::int")] amount_fen: u64, #[serde(deserialize_with = "fields::name")] receipt_no: String });
payload_struct!(/// A pledge released: what was not paid will not be.
PledgeReleased { pledge_id: Id, #[serde(deserialize_with = "fields::text")] reason: String });
payload_struct!(/// Money spent by a village, from a pledge's receipts or not.
FundsDisbursed { village_id: Id, #[serde(default)] pledge_id: Option<Id>, #[serde(deserialize_with = "fields::int")] amount_fen: u64, #[serde(deserialize_with = "fields::text")] purpose: String });
payload_struct!(/// A residents' evaluation session (群众评议) of a posting.
EvaluationHeld { evaluation_id: Id, posting_id: Id, village_id: Id, #[serde(deserialize_with = "fields::int")] electorate: u64, #[serde(deserialize_with = "fields::int")] satisfied: u64, #[serde(deserialize_with = "fields::int")] basically_satisfied: u64, #[serde(deserialize_with = "fields::int")] dissatisfied: u64, #[serde(deserialize_with = "fields::int")] invalid: u64 });
payload_struct!(/// One finding of an inspection.
Finding { finding_id: Id, severity: Severity, #[serde(deserialize_with = "fields::text")] text: String });
payload_struct!(/// A supervisory inspection (督查) of a village, and of its posting unless `posting_id` is null.
InspectionRecorded { inspection_id: Id, village_id: Id, #[serde(default)] posting_id: Option<Id>, #[serde(deserialize_with = "fields::name")] inspector: String, findings: Vec<Finding> });
payload_struct!(/// A finding rectified (整改).
FindingRectified { inspection_id: Id, finding_id: Id, #[serde(deserialize_with = "fields::text")] evidence: String });
payload_struct!(/// A disciplinary measure against a posting.
DisciplineRecorded { posting_id: Id, kind: DisciplineKind, #[serde(deserialize_with = "fields::text")] reason: String });
payload_struct!(/// One item of a responsibility contract.
ContractItem { item_id: Id, #[serde(deserialize_with = "fields::text")] text: String, due: Date });
payload_struct!(/// A responsibility contract (责任状) between a guarantee station and a lead backup unit.
ContractSigned { contract_id: Id, #[serde(deserialize_with = "fields::name")] station: String, #[serde(deserialize_with = "fields::name")] lead_unit: String, village_id: Id, items: Vec<ContractItem> });
payload_struct!(/// A contract item completed.
ContractItemCompleted { contract_id: Id, item_id: Id });
payload_struct!(/// A scoring policy adopted from a date on.
PolicyAdopted { policy_id: Id, effective_from: Date, policy: Policy });
payload_struct!(/// The undoing of a wrong entry.
Retracted { target_event_id: EventId, #[serde(deserialize_with = "fields::text")] reason: String, #[serde(deserialize_with = "fields::name")] approved_by: String });
payload_struct!(/// A review snapshot made from the first `tree_size` events; appended only by the log itself.
ReviewSealed { review_id: Id, period_start: Date, period_end: Date, #[serde(deserialize_with = "fields::int")] tree_size: u64, root: Sha256, policy_sha256: Sha256, result_sha256: Sha256 });

/// A field of a payload was refused, by a rule that involves more than the field alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Path of the field, such as `payload.findings[2].finding_id`.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

macro_rules! payloads {
    ($($v:ident),* $(,)?) => {
        /// Any event's payload, schema 1. Variant order is stored: append only.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum Payload { $($v($v)),* }

        /// The event types of domain.md §2.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum EventType { $($v),* }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$v),*];
            /// The type's name as written in events.
            pub fn as_str(self) -> &'static str { match self { $(EventType::$v => stringify!($v)),* } }
            /// The type of this name, if any.
            pub fn parse(s: &str) -> Option<EventType> { match s { $(stringify!($v) => Some(EventType::$v),)* _ => None } }
        }

        impl Payload {
            /// The payload's event type.
            pub fn event_type(&self) -> EventType { match self { $(Payload::$v(_) => EventType::$v),* } }

            /// The payload as a JSON value (optional fields present as null).
            pub fn to_json_value(&self) -> serde_json::Value {
                let v = match self { $(Payload::$v(p) => serde_json::to_value(p)),* };
                v.expect("payload types serialize to JSON infallibly")
            }

            /// Decodes the payload of an event of type `ty` from JSON text, checking every field.
            /// Errors name the field path under `payload`.
            pub fn from_json(ty: EventType, json: &str) -> Result<Payload, FieldError> {
                let payload = match ty {
                    $(EventType::$v => decode::<$v>(json).map(Payload::$v)?,)*
                };
                // Only an array can stand where an object was expected.
                if json.contains('[') {
                    let raw: serde_json::Value = serde_json::from_str(json)
                        .map_err(|e| FieldError::new("payload", strip_position(&e.to_string())))?;
                    if let Some(path) = crate::canonical::array_for_object(&payload.to_json_value(), &raw) {
                        return Err(FieldError::new(
                            format!("payload{path}"),
                            "must be a JSON object, not an array",
                        ));
                    }
                }
                Ok(payload)
            }
        }
    };
}

payloads!(
    VillageRegistered,
    VillageClassified,
    SecretaryPosted,
    PostingEnded,
    TeamMemberJoined,
    TeamMemberLeft,
    AttendanceReported,
    SpotCheckRecorded,
    CommitmentMade,
    CommitmentProgressed,
    CommitmentDeadlineExtended,
    CommitmentFulfilled,
    CommitmentWithdrawn,
    ProjectPlanned,
    ProjectStarted,
    ProjectCompleted,
    ProjectAccepted,
    ProjectCancelled,
    DonationPledged,
    DonationReceived,
    PledgeReleased,
    FundsDisbursed,
    EvaluationHeld,
    InspectionRecorded,
    FindingRectified,
    DisciplineRecorded,
    ContractSigned,
    ContractItemCompleted,
    PolicyAdopted,
    Retracted,
    ReviewSealed,
);

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Turns serde's message into the contract's reason ("missing field `x`" → field x: "is missing").
fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = strip_position(&inner.to_string());
        // serde reports a missing field at its parent; name the field itself.
        if let Some(name) = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            return FieldError::new(join_path(&path, name), "is missing");
        }
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            return FieldError::new(join_path(&path, name), "is not a field of this event type");
        }
        if let Some(rest) = msg.strip_prefix("duplicate field `") {
            let name = rest.split('`').next().unwrap_or("");
            return FieldError::new(join_path(&path, name), "appears twice");
        }
        let field = if path == "." {
            "payload".to_string()
        } else {
            format!("payload.{path}")
        };
        FieldError::new(field, msg)
    })?;
    de.end()
        .map_err(|e| FieldError::new("payload", strip_position(&e.to_string())))?;
    Ok(value)
}

fn join_path(parent: &str, name: &str) -> String {
    // serde_path_to_error includes an unknown field's own name in its path, not a missing one's.
    if parent == name || parent.ends_with(&format!(".{name}")) {
        return format!("payload.{parent}");
    }
    if parent == "." || parent.is_empty() {
        format!("payload.{name}")
    } else {
        format!("payload.{parent}.{name}")
    }
}

/// serde_json appends " at line L column C", which means nothing inside a payload.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl Payload {
    /// The stream this payload belongs to (formats.md §2); `None` for a retraction, which goes
    /// to its target's stream (only the log knows it).
    pub fn stream(&self) -> Option<String> {
        use Payload::*;
        let (kind, id): (&str, &Id) = match self {
            VillageRegistered(p) => ("village", &p.village_id),
            VillageClassified(p) => ("village", &p.village_id),
            SecretaryPosted(p) => ("posting", &p.posting_id),
            PostingEnded(p) => ("posting", &p.posting_id),
            TeamMemberJoined(p) => ("village", &p.village_id),
            TeamMemberLeft(p) => ("village", &p.village_id),
            AttendanceReported(p) => ("posting", &p.posting_id),
            SpotCheckRecorded(p) => ("posting", &p.posting_id),
            CommitmentMade(p) => ("commitment", &p.commitment_id),
            CommitmentProgressed(p) => ("commitment", &p.commitment_id),
            CommitmentDeadlineExtended(p) => ("commitment", &p.commitment_id),
            CommitmentFulfilled(p) => ("commitment", &p.commitment_id),
            CommitmentWithdrawn(p) => ("commitment", &p.commitment_id),
            ProjectPlanned(p) => ("project", &p.project_id),
            ProjectStarted(p) => ("project", &p.project_id),
            ProjectCompleted(p) => ("project", &p.project_id),
            ProjectAccepted(p) => ("project", &p.project_id),
            ProjectCancelled(p) => ("project", &p.project_id),
            DonationPledged(p) => ("pledge", &p.pledge_id),
            DonationReceived(p) => ("pledge", &p.pledge_id),
            PledgeReleased(p) => ("pledge", &p.pledge_id),
            FundsDisbursed(p) => ("village", &p.village_id),
            EvaluationHeld(p) => ("evaluation", &p.evaluation_id),
            InspectionRecorded(p) => ("inspection", &p.inspection_id),
            FindingRectified(p) => ("inspection", &p.inspection_id),
            DisciplineRecorded(p) => ("posting", &p.posting_id),
            ContractSigned(p) => ("contract", &p.contract_id),
            ContractItemCompleted(p) => ("contract", &p.contract_id),
            PolicyAdopted(p) => ("policy", &p.policy_id),
            Retracted(_) => return None,
            ReviewSealed(p) => ("review", &p.review_id),
        };
        Some(format!("{kind}/{id}"))
    }

    /// Checks the rules that involve several fields of this payload alone (domain.md §2), and
    /// the size of its canonical form. Rules that need the log live in `projections`.
    pub fn check(&self) -> Result<(), FieldError> {
        use Payload::*;
        match self {
            AttendanceReported(p) => {
                let days = u64::from(p.month.days());
                if p.days_in_village + p.leave_days > days {
                    return Err(FieldError::new(
                        "payload.leave_days",
                        format!(
                            "days_in_village + leave_days = {} is over the {days} days of {}",
                            p.days_in_village + p.leave_days,
                            p.month
                        ),
                    ));
                }
            }
            SpotCheckRecorded(p) if p.present && p.excused => {
                return Err(FieldError::new(
                    "payload.excused",
                    "a spot check cannot be both present and excused",
                ));
            }
            EvaluationHeld(p) => {
                let votes = p.satisfied + p.basically_satisfied + p.dissatisfied + p.invalid;
                if votes > p.electorate {
                    return Err(FieldError::new(
                        "payload.electorate",
                        format!("satisfied + basically_satisfied + dissatisfied + invalid = {votes} is over the electorate {}", p.electorate),
                    ));
                }
            }
            InspectionRecorded(p) => {
                if p.findings.len() > fields::FINDINGS_MAX {
                    return Err(FieldError::new(
                        "payload.findings",
                        format!(
                            "has {} entries, at most {} allowed",
                            p.findings.len(),
                            fields::FINDINGS_MAX
                        ),
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                for (i, f) in p.findings.iter().enumerate() {
                    if !seen.insert(f.finding_id.as_str()) {
                        return Err(FieldError::new(
                            format!("payload.findings[{i}].finding_id"),
                            format!("{} appears twice in this inspection", f.finding_id),
                        ));
                    }
                }
            }
            ContractSigned(p) => {
                if p.items.is_empty() || p.items.len() > fields::CONTRACT_ITEMS_MAX {
                    return Err(FieldError::new(
                        "payload.items",
                        format!(
                            "has {} entries, must have 1-{}",
                            p.items.len(),
                            fields::CONTRACT_ITEMS_MAX
                        ),
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                for (i, it) in p.items.iter().enumerate() {
                    if !seen.insert(it.item_id.as_str()) {
                        return Err(FieldError::new(
                            format!("payload.items[{i}].item_id"),
                            format!("{} appears twice in this contract", it.item_id),
                        ));
                    }
                }
            }
            PolicyAdopted(p) => {
                if p.policy_id.as_str() == crate::policy::DEFAULT_POLICY_ID {
                    return Err(FieldError::new(
                        "payload.policy_id",
                        "default-v1 is reserved for the built-in policy",
                    ));
                }
                p.policy.check().map_err(|e| {
                    FieldError::new(format!("payload.policy.{}", e.field), e.reason)
                })?;
            }
            _ => {}
        }
        let size = crate::canonical::to_jcs(&self.to_json_value()).len();
        if size > fields::PAYLOAD_JCS_BYTES_MAX {
            return Err(FieldError::new(
                "payload",
                format!(
                    "its canonical JSON is {size} bytes, over the limit of {}",
                    fields::PAYLOAD_JCS_BYTES_MAX
                ),
            ));
        }
        Ok(())
    }
}

//! Ledger rows (domain.md §3): flat, serde-serializable records with stable snake_case field
//! names, so that the CLI can print them as JSON, CSV or a table.
//!
//! ## Choices
//! - Commitment status: `withdrawn` if a withdrawal counts; else `fulfilled_on_time` /
//!   `fulfilled_late` against the due in force; else `overdue` when the reference date is after the
//!   due in force; else `open`. A commitment falling due after its posting ended stays under that
//!   posting (`posting_last_day` shows it ended).
//! - Pledge status: `released` if released; else `paid` when received ≥ pledged; else `overdue`
//!   when the reference date is after its due; else `open`. A released pledge has nothing
//!   outstanding; what it never paid is shown as `released_unpaid_fen`.
//! - Project status is its furthest counted step (`planned` · `started` · `completed` ·
//!   `cancelled`), with `overdue` beside it (neither completed nor cancelled, reference date after
//!   its due) and `acceptance` from its last counted acceptance in log order.
//! - City totals count completed projects (a counted completion, no counted cancellation).
//!   Road length sums the completed quantity of road projects measured in metres; km are shown
//!   with one decimal rounded half up. Money received sums counted receipts of counted pledges;
//!   万元 (1,000,000 fen) are shown with two decimals rounded half up.
//! - Only money received counts as an achievement: `pledged_only_fen` (outstanding on open or
//!   overdue pledges) is reported apart, never added to received money.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use events::payload::{
    CommitmentKind, DisciplineKind, DonorKind, EndReason, Obstacle, ProjectKind, Severity,
    TeamRole, Unit,
};
use events::{Date, Id, Month};

use super::{due_in_force, Ledgers, TeamChange};
use crate::arith::{rhu, rhu_u64};

/// Status of a commitment on the reference date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentStatus {
    /// Not fulfilled, due in force not passed.
    Open,
    /// Fulfilled on or before the due in force.
    FulfilledOnTime,
    /// Fulfilled after the due in force.
    FulfilledLate,
    /// Not fulfilled, due in force passed.
    Overdue,
    /// Withdrawn with approval.
    Withdrawn,
}

/// One row of the commitment ledger (承诺台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitmentRow {
    /// The commitment.
    pub commitment_id: Id,
    /// Its village.
    pub village_id: Id,
    /// The posting that made it.
    pub posting_id: Id,
    /// The posting's last day, if it has ended.
    pub posting_last_day: Option<Date>,
    /// common · post · practical.
    pub kind: CommitmentKind,
    /// What was promised.
    pub content: String,
    /// Date made.
    pub made_on: Date,
    /// Due as made.
    pub original_due: Date,
    /// Due after the extensions that apply.
    pub due_in_force: Date,
    /// Extensions that applied.
    pub extensions_applied: u64,
    /// Extensions dated after the due in force had passed (ignored).
    pub extensions_ignored: u64,
    /// Status on the reference date.
    pub status: CommitmentStatus,
    /// Latest counted progress report, percent.
    pub progress_percent: Option<u64>,
    /// Date fulfilled.
    pub fulfilled_on: Option<Date>,
    /// Date withdrawn.
    pub withdrawn_on: Option<Date>,
}

/// A project's furthest counted step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Planned only.
    Planned,
    /// Started.
    Started,
    /// Completed.
    Completed,
    /// Cancelled.
    Cancelled,
}

/// Outcome of a project's last counted acceptance inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acceptance {
    /// Not inspected.
    None,
    /// Passed.
    Passed,
    /// Failed.
    Failed,
}

/// One row of the project ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRow {
    /// The project.
    pub project_id: Id,
    /// Its village.
    pub village_id: Id,
    /// The posting responsible.
    pub posting_id: Id,
    /// Kind of project.
    pub kind: ProjectKind,
    /// Unit of quantities.
    pub unit: Unit,
    /// Planned quantity.
    pub planned_quantity: u64,
    /// Completed quantity.
    pub completed_quantity: Option<u64>,
    /// Budget, fen.
    pub budget_fen: u64,
    /// Cost, fen.
    pub cost_fen: Option<u64>,
    /// Date planned.
    pub planned_on: Date,
    /// Due date.
    pub due: Date,
    /// Date started.
    pub started_on: Option<Date>,
    /// Date completed.
    pub completed_on: Option<Date>,
    /// Date cancelled.
    pub cancelled_on: Option<Date>,
    /// Furthest step.
    pub status: ProjectStatus,
    /// Neither completed nor cancelled and past due on the reference date.
    pub overdue: bool,
    /// Last acceptance outcome.
    pub acceptance: Acceptance,
    /// Date of the last acceptance.
    pub accepted_on: Option<Date>,
}

/// Status of a pledge on the reference date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PledgeStatus {
    /// Not fully paid, not yet due.
    Open,
    /// Fully paid.
    Paid,
    /// Not fully paid, past due.
    Overdue,
    /// Released: what was not paid will not be.
    Released,
}

/// One row of the donation ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PledgeRow {
    /// The pledge.
    pub pledge_id: Id,
    /// The donor.
    pub donor_id: Id,
    /// Donor's name.
    pub donor_name: String,
    /// Kind of donor.
    pub donor_kind: DonorKind,
    /// The village.
    pub village_id: Id,
    /// What the money is for.
    pub purpose: String,
    /// Date pledged.
    pub pledged_on: Date,
    /// Due date.
    pub due: Date,
    /// Amount pledged, fen.
    pub pledged_fen: u64,
    /// Amount received, fen.
    pub received_fen: u64,
    /// Still expected, fen (0 once released).
    pub outstanding_fen: u64,
    /// Never paid because the pledge was released, fen.
    pub released_unpaid_fen: u64,
    /// Disbursed from this pledge by its village, fen.
    pub disbursed_fen: u64,
    /// Number of receipts.
    pub receipts: u64,
    /// Status on the reference date.
    pub status: PledgeStatus,
    /// Date released.
    pub released_on: Option<Date>,
}

/// Donation totals of one donor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DonorTotalRow {
    /// The donor.
    pub donor_id: Id,
    /// Donor's name (from its first pledge).
    pub donor_name: String,
    /// Number of pledges.
    pub pledges: u64,
    /// Pledged, fen.
    pub pledged_fen: u64,
    /// Received, fen.
    pub received_fen: u64,
    /// Outstanding, fen.
    pub outstanding_fen: u64,
}

/// Donation totals of one village.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VillageDonationRow {
    /// The village.
    pub village_id: Id,
    /// Number of pledges.
    pub pledges: u64,
    /// Pledged, fen.
    pub pledged_fen: u64,
    /// Received, fen: the achievement.
    pub received_fen: u64,
    /// Pledged but not received on open or overdue pledges, fen: reported apart.
    pub pledged_only_fen: u64,
    /// Disbursed by the village (from pledges or not), fen.
    pub disbursed_fen: u64,
}

/// One disbursement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisbursementRow {
    /// Position of the event.
    pub position: u64,
    /// The village.
    pub village_id: Id,
    /// The pledge it was paid from, if any.
    pub pledge_id: Option<Id>,
    /// Amount, fen.
    pub amount_fen: u64,
    /// Purpose.
    pub purpose: String,
    /// Date.
    pub disbursed_on: Date,
}

/// One evaluation session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationRow {
    /// The session.
    pub evaluation_id: Id,
    /// The posting evaluated.
    pub posting_id: Id,
    /// The village.
    pub village_id: Id,
    /// Date held.
    pub held_on: Date,
    /// Residents entitled to vote.
    pub electorate: u64,
    /// Satisfied votes.
    pub satisfied: u64,
    /// Basically satisfied votes.
    pub basically_satisfied: u64,
    /// Dissatisfied votes.
    pub dissatisfied: u64,
    /// Invalid votes.
    pub invalid: u64,
    /// `rhu(10000 × (S + B), S + B + D)`; null without valid votes.
    pub satisfaction_bp: Option<u64>,
}

/// One inspection finding and its rectification (an inspection without findings: one row with
/// null finding fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// The inspection.
    pub inspection_id: Id,
    /// The village.
    pub village_id: Id,
    /// The posting inspected, if any.
    pub posting_id: Option<Id>,
    /// Who inspected.
    pub inspector: String,
    /// Date inspected.
    pub inspected_on: Date,
    /// The finding.
    pub finding_id: Option<Id>,
    /// Its severity.
    pub severity: Option<Severity>,
    /// What was found.
    pub text: Option<String>,
    /// Date rectified.
    pub rectified_on: Option<Date>,
}

/// One monthly attendance report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttendanceRow {
    /// The posting.
    pub posting_id: Id,
    /// The month.
    pub month: Month,
    /// Days in the village.
    pub days_in_village: u64,
    /// Days of leave.
    pub leave_days: u64,
    /// Date reported.
    pub reported_on: Date,
}

/// One spot check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpotCheckRow {
    /// The posting.
    pub posting_id: Id,
    /// Date checked.
    pub checked_on: Date,
    /// Present.
    pub present: bool,
    /// Absence excused.
    pub excused: bool,
    /// present = false and excused = false.
    pub unexcused_absence: bool,
    /// Who checked.
    pub inspector: String,
}

/// One posting (任职) with its service and attendance summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostingRow {
    /// The posting.
    pub posting_id: Id,
    /// The person.
    pub person_id: Id,
    /// The person's name.
    pub person_name: String,
    /// The village.
    pub village_id: Id,
    /// Sending unit.
    pub sending_unit: String,
    /// On probation.
    pub probation: bool,
    /// First day of service.
    pub first_day: Date,
    /// Last day of service, if ended.
    pub last_day: Option<Date>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// Months reported.
    pub months_reported: u64,
    /// Days in the village over the reported months.
    pub days_in_village: u64,
    /// Leave days over the reported months.
    pub leave_days: u64,
    /// Spot checks.
    pub spot_checks: u64,
    /// Unexcused absences.
    pub unexcused_absences: u64,
    /// Disciplinary measures, in log order.
    pub discipline: Vec<DisciplineKind>,
}

/// One item of a responsibility contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractItemRow {
    /// The contract.
    pub contract_id: Id,
    /// Guarantee station.
    pub station: String,
    /// Lead backup unit.
    pub lead_unit: String,
    /// The village.
    pub village_id: Id,
    /// Date signed.
    pub signed_on: Date,
    /// The item.
    pub item_id: Id,
    /// What is to be done.
    pub text: String,
    /// Due date.
    pub due: Date,
    /// Date completed.
    pub completed_on: Option<Date>,
    /// Not completed and past due on the reference date.
    pub overdue: bool,
}

/// One team member's stint in a village.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamRow {
    /// The village.
    pub village_id: Id,
    /// The person.
    pub person_id: Id,
    /// Name.
    pub name: String,
    /// Role.
    pub role: TeamRole,
    /// Date joined.
    pub joined_on: Date,
    /// Date left.
    pub left_on: Option<Date>,
}

/// A village's registration and yearly classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VillageRow {
    /// The village.
    pub village_id: Id,
    /// Name.
    pub name: String,
    /// County.
    pub county: String,
    /// Township.
    pub township: String,
    /// Date registered.
    pub registered_on: Date,
    /// Key obstacle by year.
    pub classification: BTreeMap<u64, Obstacle>,
}

/// The headline figures for the whole city (domain.md §3 "City totals").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CityTotals {
    /// Villages registered.
    pub villages: u64,
    /// Postings (ever).
    pub postings: u64,
    /// Completed road, metres.
    pub road_m: u64,
    /// Completed road, km with one decimal.
    pub road_km: String,
    /// Completed bridges.
    pub bridges: u64,
    /// Completed drinking-water works.
    pub drinking_water_works: u64,
    /// Completed sanitation works.
    pub sanitation_works: u64,
    /// Completed greening works.
    pub greening_works: u64,
    /// Completed schools.
    pub schools: u64,
    /// Completed cooperatives.
    pub cooperatives: u64,
    /// Completed demonstration bases.
    pub demonstration_bases: u64,
    /// Money received, fen.
    pub received_fen: u64,
    /// Money received, 万元 with two decimals.
    pub received_wan_yuan: String,
    /// Pledged but not received on open or overdue pledges, fen (not an achievement).
    pub pledged_only_fen: u64,
    /// Pledged only, 万元 with two decimals.
    pub pledged_only_wan_yuan: String,
}

/// An event that counts but cannot apply: left invalid by a retraction (domain.md §2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AnomalyRow {
    /// Position of the event.
    pub position: u64,
    /// What is wrong, as a stable code.
    pub code: AnomalyCode,
    /// The entity it concerns, as `kind/id`.
    pub subject: String,
    /// Detail for a reader.
    pub detail: String,
}

/// Kinds of anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyCode {
    /// The entity's creation does not count (retracted, not entered again).
    MissingCreation,
    /// It names a posting whose `SecretaryPosted` does not count.
    UnknownPosting,
    /// It names a village whose `VillageRegistered` does not count.
    UnknownVillage,
    /// It names a pledge whose `DonationPledged` does not count.
    UnknownPledge,
    /// Receipts exceed what is pledged.
    ReceivedOverPledged,
    /// Disbursements from a pledge exceed what it received.
    DisbursedOverReceived,
    /// A rectification of a finding its inspection does not have.
    UnknownFinding,
    /// A completion of an item its contract does not have.
    UnknownContractItem,
    /// Any other counted event the log would now refuse, as the log's validation judges it
    /// after the retractions (e.g. an acceptance whose completion was retracted).
    NowRefused,
}

/// Every ledger of a prefix, judged on one reference date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    /// The date calendar statuses are judged on (null for an empty log).
    pub reference_date: Option<Date>,
    /// Villages.
    pub villages: Vec<VillageRow>,
    /// Team members.
    pub team: Vec<TeamRow>,
    /// Postings.
    pub postings: Vec<PostingRow>,
    /// Commitment ledger.
    pub commitments: Vec<CommitmentRow>,
    /// Project ledger.
    pub projects: Vec<ProjectRow>,
    /// Donation ledger, one row per pledge.
    pub pledges: Vec<PledgeRow>,
    /// Totals per donor.
    pub donors: Vec<DonorTotalRow>,
    /// Donation totals per village.
    pub village_donations: Vec<VillageDonationRow>,
    /// Disbursements.
    pub disbursements: Vec<DisbursementRow>,
    /// Evaluation ledger.
    pub evaluations: Vec<EvaluationRow>,
    /// Inspection findings and rectification.
    pub findings: Vec<FindingRow>,
    /// Attendance reports.
    pub attendance: Vec<AttendanceRow>,
    /// Spot checks.
    pub spot_checks: Vec<SpotCheckRow>,
    /// Responsibility contract items.
    pub contract_items: Vec<ContractItemRow>,
    /// City totals.
    pub totals: CityTotals,
    /// Counted events that cannot apply.
    pub anomalies: Vec<AnomalyRow>,
}

/// One village's page: everything of the village with its classification and team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VillagePage {
    /// The village (null if its registration does not count).
    pub village: Option<VillageRow>,
    /// Its team members.
    pub team: Vec<TeamRow>,
    /// Its postings.
    pub postings: Vec<PostingRow>,
    /// Its commitments.
    pub commitments: Vec<CommitmentRow>,
    /// Its projects.
    pub projects: Vec<ProjectRow>,
    /// Its pledges.
    pub pledges: Vec<PledgeRow>,
    /// Its donation totals.
    pub donations: Option<VillageDonationRow>,
    /// Its disbursements.
    pub disbursements: Vec<DisbursementRow>,
    /// Its evaluations.
    pub evaluations: Vec<EvaluationRow>,
    /// Its inspection findings.
    pub findings: Vec<FindingRow>,
    /// Attendance of its postings.
    pub attendance: Vec<AttendanceRow>,
    /// Spot checks of its postings.
    pub spot_checks: Vec<SpotCheckRow>,
    /// Its responsibility contract items.
    pub contract_items: Vec<ContractItemRow>,
}

/// `n / unit` shown with `decimals` decimals, rounded half up; e.g. metres as km.
fn decimal(n: u64, unit: u64, decimals: u32) -> String {
    let step = 10u64.pow(decimals);
    let scaled = rhu(u128::from(n) * u128::from(step), u128::from(unit));
    let (whole, frac) = (scaled / u128::from(step), scaled % u128::from(step));
    if decimals == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:0width$}", width = decimals as usize)
    }
}

/// Fen in one 万元 (10,000 yuan × 100 fen).
pub const FEN_PER_WAN_YUAN: u64 = 1_000_000;

/// Fen shown as 万元 with two decimals, rounded half up.
pub fn wan_yuan(fen: u64) -> String {
    decimal(fen, FEN_PER_WAN_YUAN, 2)
}

/// Metres shown as km with one decimal, rounded half up.
pub fn km(metres: u64) -> String {
    decimal(metres, 1000, 1)
}

impl Ledgers {
    /// Every ledger, judged on `on` (default: [`Ledgers::default_reference_date`]).
    pub fn report(&self, on: Option<Date>) -> LedgerReport {
        let reference_date = on.or(self.default_reference_date());
        let past = |due: Date| reference_date.is_some_and(|r| r > due);
        let mut anomalies = Vec::new();
        let posting_exists = |p: &Id| self.postings.get(p).is_some_and(|f| f.posted.is_some());
        let village_exists = |v: &Id| self.villages.get(v).is_some_and(|f| f.registered.is_some());
        let mut anomaly = |position: u64, code: AnomalyCode, subject: String, detail: String| {
            anomalies.push(AnomalyRow {
                position,
                code,
                subject,
                detail,
            })
        };
        // Every event attached to a thing whose creation does not count is an anomaly.
        macro_rules! missing_creation {
            ($kind:literal, $id:expr, $creation:literal, $positions:expr) => {
                for position in $positions {
                    anomaly(
                        position,
                        AnomalyCode::MissingCreation,
                        format!(concat!($kind, "/{}"), $id),
                        format!(
                            concat!(
                                $kind,
                                " {} does not exist (its ",
                                $creation,
                                " was retracted)"
                            ),
                            $id
                        ),
                    );
                }
            };
        }

        // Villages and team.
        let mut villages = Vec::new();
        let mut team = Vec::new();
        let mut disbursements = Vec::new();
        for (id, v) in &self.villages {
            let subject = format!("village/{id}");
            match &v.registered {
                Some(r) => villages.push(VillageRow {
                    village_id: id.clone(),
                    name: r.value.name.clone(),
                    county: r.value.county.clone(),
                    township: r.value.township.clone(),
                    registered_on: r.occurred_on,
                    classification: v.classified.iter().map(|(y, o)| (*y, o.value)).collect(),
                }),
                None => {
                    let positions = v
                        .classified
                        .values()
                        .map(|c| c.position)
                        .chain(v.team.iter().map(|t| t.position))
                        .chain(v.disbursements.iter().map(|t| t.position));
                    for position in positions {
                        anomaly(
                            position,
                            AnomalyCode::MissingCreation,
                            subject.clone(),
                            format!(
                                "village {id} is not registered (its registration was retracted)"
                            ),
                        );
                    }
                }
            }
            let mut open: BTreeMap<&Id, usize> = BTreeMap::new();
            for change in &v.team {
                match &change.value {
                    TeamChange::Joined(j) => {
                        open.insert(&j.person_id, team.len());
                        team.push(TeamRow {
                            village_id: id.clone(),
                            person_id: j.person_id.clone(),
                            name: j.name.clone(),
                            role: j.role,
                            joined_on: change.occurred_on,
                            left_on: None,
                        });
                    }
                    TeamChange::Left(l) => {
                        if let Some(i) = open.remove(&l.person_id) {
                            team[i].left_on = Some(change.occurred_on);
                        }
                    }
                }
            }
            for x in &v.disbursements {
                disbursements.push(DisbursementRow {
                    position: x.position,
                    village_id: id.clone(),
                    pledge_id: x.value.pledge_id.clone(),
                    amount_fen: x.value.amount_fen,
                    purpose: x.value.purpose.clone(),
                    disbursed_on: x.occurred_on,
                });
            }
        }

        // Postings, attendance, spot checks.
        let mut postings = Vec::new();
        let mut attendance = Vec::new();
        let mut spot_checks = Vec::new();
        for (id, f) in &self.postings {
            let Some(posted) = &f.posted else {
                let positions = f
                    .ended
                    .iter()
                    .map(|e| e.position)
                    .chain(f.attendance.iter().map(|a| a.position))
                    .chain(f.spot_checks.iter().map(|a| a.position))
                    .chain(f.discipline.iter().map(|a| a.position));
                missing_creation!("posting", id, "SecretaryPosted", positions);
                continue;
            };
            let p = &posted.value;
            if !village_exists(&p.village_id) {
                anomaly(
                    posted.position,
                    AnomalyCode::UnknownVillage,
                    format!("posting/{id}"),
                    format!("names village {} which is not registered", p.village_id),
                );
            }
            for a in &f.attendance {
                attendance.push(AttendanceRow {
                    posting_id: id.clone(),
                    month: a.value.month,
                    days_in_village: a.value.days_in_village,
                    leave_days: a.value.leave_days,
                    reported_on: a.occurred_on,
                });
            }
            for c in &f.spot_checks {
                spot_checks.push(SpotCheckRow {
                    posting_id: id.clone(),
                    checked_on: c.occurred_on,
                    present: c.value.present,
                    excused: c.value.excused,
                    unexcused_absence: !c.value.present && !c.value.excused,
                    inspector: c.value.inspector.clone(),
                });
            }
            postings.push(PostingRow {
                posting_id: id.clone(),
                person_id: p.person_id.clone(),
                person_name: p.person_name.clone(),
                village_id: p.village_id.clone(),
                sending_unit: p.sending_unit.clone(),
                probation: p.probation,
                first_day: posted.occurred_on,
                last_day: f.ended.as_ref().map(|e| e.occurred_on),
                end_reason: f.ended.as_ref().map(|e| e.value.reason),
                months_reported: f.attendance.len() as u64,
                days_in_village: f.attendance.iter().map(|a| a.value.days_in_village).sum(),
                leave_days: f.attendance.iter().map(|a| a.value.leave_days).sum(),
                spot_checks: f.spot_checks.len() as u64,
                unexcused_absences: f
                    .spot_checks
                    .iter()
                    .filter(|c| !c.value.present && !c.value.excused)
                    .count() as u64,
                discipline: f.discipline.iter().map(|x| x.value.kind).collect(),
            });
        }
        let last_day_of = |p: &Id| {
            self.postings
                .get(p)
                .and_then(|f| f.ended.as_ref())
                .map(|e| e.occurred_on)
        };

        // Commitments.
        let mut commitments = Vec::new();
        for (id, f) in &self.commitments {
            let Some(made) = &f.made else {
                let positions = f
                    .progress
                    .iter()
                    .map(|x| x.position)
                    .chain(f.extensions.iter().map(|x| x.position))
                    .chain(f.fulfilled.iter().map(|x| x.position))
                    .chain(f.withdrawn.iter().map(|x| x.position));
                missing_creation!("commitment", id, "CommitmentMade", positions);
                continue;
            };
            let m = &made.value;
            if !posting_exists(&m.posting_id) {
                anomaly(
                    made.position,
                    AnomalyCode::UnknownPosting,
                    format!("commitment/{id}"),
                    format!("names posting {} which does not exist", m.posting_id),
                );
            }
            let (due, judged) = due_in_force(m.due, &f.extensions);
            let applied = judged.iter().filter(|j| j.applied).count() as u64;
            let fulfilled_on = f.fulfilled.as_ref().map(|x| x.occurred_on);
            let withdrawn_on = f.withdrawn.as_ref().map(|x| x.occurred_on);
            let status = match (withdrawn_on, fulfilled_on) {
                (Some(_), _) => CommitmentStatus::Withdrawn,
                (None, Some(on)) if on <= due => CommitmentStatus::FulfilledOnTime,
                (None, Some(_)) => CommitmentStatus::FulfilledLate,
                (None, None) if past(due) => CommitmentStatus::Overdue,
                (None, None) => CommitmentStatus::Open,
            };
            commitments.push(CommitmentRow {
                commitment_id: id.clone(),
                village_id: m.village_id.clone(),
                posting_id: m.posting_id.clone(),
                posting_last_day: last_day_of(&m.posting_id),
                kind: m.kind,
                content: m.content.clone(),
                made_on: made.occurred_on,
                original_due: m.due,
                due_in_force: due,
                extensions_applied: applied,
                extensions_ignored: judged.len() as u64 - applied,
                status,
                progress_percent: f.progress.last().map(|x| x.value.percent),
                fulfilled_on,
                withdrawn_on,
            });
        }

        // Projects and city totals of works.
        let mut projects = Vec::new();
        let mut totals = CityTotals {
            villages: villages.len() as u64,
            postings: postings.len() as u64,
            ..CityTotals::default()
        };
        for (id, f) in &self.projects {
            let Some(planned) = &f.planned else {
                let positions = f
                    .started
                    .iter()
                    .map(|x| x.position)
                    .chain(f.completed.iter().map(|x| x.position))
                    .chain(f.accepted.iter().map(|x| x.position))
                    .chain(f.cancelled.iter().map(|x| x.position));
                missing_creation!("project", id, "ProjectPlanned", positions);
                continue;
            };
            let pl = &planned.value;
            if !posting_exists(&pl.posting_id) {
                anomaly(
                    planned.position,
                    AnomalyCode::UnknownPosting,
                    format!("project/{id}"),
                    format!("names posting {} which does not exist", pl.posting_id),
                );
            }
            let status = if f.cancelled.is_some() {
                ProjectStatus::Cancelled
            } else if f.completed.is_some() {
                ProjectStatus::Completed
            } else if f.started.is_some() {
                ProjectStatus::Started
            } else {
                ProjectStatus::Planned
            };
            let last_acceptance = f.accepted.last();
            if status == ProjectStatus::Completed {
                let quantity = f.completed.as_ref().map_or(0, |c| c.value.quantity);
                match pl.kind {
                    ProjectKind::Road if pl.unit == Unit::Metre => {
                        totals.road_m = totals.road_m.saturating_add(quantity)
                    }
                    ProjectKind::Road | ProjectKind::Other => {}
                    ProjectKind::Bridge => totals.bridges += 1,
                    ProjectKind::DrinkingWater => totals.drinking_water_works += 1,
                    ProjectKind::Sanitation => totals.sanitation_works += 1,
                    ProjectKind::Greening => totals.greening_works += 1,
                    ProjectKind::School => totals.schools += 1,
                    ProjectKind::Cooperative => totals.cooperatives += 1,
                    ProjectKind::DemonstrationBase => totals.demonstration_bases += 1,
                }
            }
            projects.push(ProjectRow {
                project_id: id.clone(),
                village_id: pl.village_id.clone(),
                posting_id: pl.posting_id.clone(),
                kind: pl.kind,
                unit: pl.unit,
                planned_quantity: pl.planned_quantity,
                completed_quantity: f.completed.as_ref().map(|c| c.value.quantity),
                budget_fen: pl.budget_fen,
                cost_fen: f.completed.as_ref().map(|c| c.value.cost_fen),
                planned_on: planned.occurred_on,
                due: pl.due,
                started_on: f.started.as_ref().map(|x| x.occurred_on),
                completed_on: f.completed.as_ref().map(|x| x.occurred_on),
                cancelled_on: f.cancelled.as_ref().map(|x| x.occurred_on),
                status,
                overdue: matches!(status, ProjectStatus::Planned | ProjectStatus::Started)
                    && past(pl.due),
                acceptance: match last_acceptance {
                    None => Acceptance::None,
                    Some(a) if a.value.passed => Acceptance::Passed,
                    Some(_) => Acceptance::Failed,
                },
                accepted_on: last_acceptance.map(|a| a.occurred_on),
            });
        }

        // Pledges, donors, village donation totals, disbursement checks.
        let mut disbursed_by_pledge: BTreeMap<&Id, u64> = BTreeMap::new();
        for (vid, v) in &self.villages {
            for x in &v.disbursements {
                let Some(pid) = &x.value.pledge_id else {
                    continue;
                };
                let total = disbursed_by_pledge.entry(pid).or_default();
                *total = total.saturating_add(x.value.amount_fen);
                let received = self.pledges.get(pid).and_then(|p| {
                    p.pledged
                        .as_ref()
                        .map(|_| p.receipts.iter().map(|r| r.value.amount_fen).sum::<u64>())
                });
                match received {
                    None => anomaly(
                        x.position,
                        AnomalyCode::UnknownPledge,
                        format!("village/{vid}"),
                        format!("disbursed from pledge {pid}, which does not exist"),
                    ),
                    Some(received) if *total > received => anomaly(
                        x.position,
                        AnomalyCode::DisbursedOverReceived,
                        format!("village/{vid}"),
                        format!(
                            "disbursements from pledge {pid} reach {total} fen, over the {received} fen it received"
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        let mut pledges = Vec::new();
        let mut donors: BTreeMap<Id, DonorTotalRow> = BTreeMap::new();
        let mut village_donations: BTreeMap<Id, VillageDonationRow> = BTreeMap::new();
        for (id, f) in &self.pledges {
            let Some(pledged) = &f.pledged else {
                let positions = f
                    .receipts
                    .iter()
                    .map(|x| x.position)
                    .chain(f.released.iter().map(|x| x.position));
                missing_creation!("pledge", id, "DonationPledged", positions);
                continue;
            };
            let pl = &pledged.value;
            let mut received: u64 = 0;
            for r in &f.receipts {
                received = received.saturating_add(r.value.amount_fen);
                if received > pl.amount_fen {
                    anomaly(
                        r.position,
                        AnomalyCode::ReceivedOverPledged,
                        format!("pledge/{id}"),
                        format!(
                            "receipts reach {received} fen, over the {} fen pledged",
                            pl.amount_fen
                        ),
                    );
                }
            }
            let unpaid = pl.amount_fen.saturating_sub(received);
            let status = if f.released.is_some() {
                PledgeStatus::Released
            } else if unpaid == 0 {
                PledgeStatus::Paid
            } else if past(pl.due) {
                PledgeStatus::Overdue
            } else {
                PledgeStatus::Open
            };
            let outstanding = if status == PledgeStatus::Released {
                0
            } else {
                unpaid
            };
            let row = PledgeRow {
                pledge_id: id.clone(),
                donor_id: pl.donor_id.clone(),
                donor_name: pl.donor_name.clone(),
                donor_kind: pl.donor_kind,
                village_id: pl.village_id.clone(),
                purpose: pl.purpose.clone(),
                pledged_on: pledged.occurred_on,
                due: pl.due,
                pledged_fen: pl.amount_fen,
                received_fen: received,
                outstanding_fen: outstanding,
                released_unpaid_fen: if status == PledgeStatus::Released {
                    unpaid
                } else {
                    0
                },
                disbursed_fen: disbursed_by_pledge.get(id).copied().unwrap_or(0),
                receipts: f.receipts.len() as u64,
                status,
                released_on: f.released.as_ref().map(|x| x.occurred_on),
            };
            let donor = donors
                .entry(pl.donor_id.clone())
                .or_insert_with(|| DonorTotalRow {
                    donor_id: pl.donor_id.clone(),
                    donor_name: pl.donor_name.clone(),
                    pledges: 0,
                    pledged_fen: 0,
                    received_fen: 0,
                    outstanding_fen: 0,
                });
            donor.pledges += 1;
            donor.pledged_fen = donor.pledged_fen.saturating_add(row.pledged_fen);
            donor.received_fen = donor.received_fen.saturating_add(row.received_fen);
            donor.outstanding_fen = donor.outstanding_fen.saturating_add(row.outstanding_fen);
            let village = village_donations
                .entry(pl.village_id.clone())
                .or_insert_with(|| VillageDonationRow {
                    village_id: pl.village_id.clone(),
                    pledges: 0,
                    pledged_fen: 0,
                    received_fen: 0,
                    pledged_only_fen: 0,
                    disbursed_fen: 0,
                });
            village.pledges += 1;
            village.pledged_fen = village.pledged_fen.saturating_add(row.pledged_fen);
            village.received_fen = village.received_fen.saturating_add(row.received_fen);
            village.pledged_only_fen = village.pledged_only_fen.saturating_add(row.outstanding_fen);
            totals.received_fen = totals.received_fen.saturating_add(row.received_fen);
            totals.pledged_only_fen = totals.pledged_only_fen.saturating_add(row.outstanding_fen);
            pledges.push(row);
        }
        for d in &disbursements {
            let village = village_donations
                .entry(d.village_id.clone())
                .or_insert_with(|| VillageDonationRow {
                    village_id: d.village_id.clone(),
                    pledges: 0,
                    pledged_fen: 0,
                    received_fen: 0,
                    pledged_only_fen: 0,
                    disbursed_fen: 0,
                });
            village.disbursed_fen = village.disbursed_fen.saturating_add(d.amount_fen);
        }
        totals.road_km = km(totals.road_m);
        totals.received_wan_yuan = wan_yuan(totals.received_fen);
        totals.pledged_only_wan_yuan = wan_yuan(totals.pledged_only_fen);

        // Evaluations.
        let mut evaluations = Vec::new();
        for (id, e) in &self.evaluations {
            let v = &e.value;
            if !posting_exists(&v.posting_id) {
                anomaly(
                    e.position,
                    AnomalyCode::UnknownPosting,
                    format!("evaluation/{id}"),
                    format!("names posting {} which does not exist", v.posting_id),
                );
            }
            let votes = u128::from(v.satisfied)
                + u128::from(v.basically_satisfied)
                + u128::from(v.dissatisfied);
            evaluations.push(EvaluationRow {
                evaluation_id: id.clone(),
                posting_id: v.posting_id.clone(),
                village_id: v.village_id.clone(),
                held_on: e.occurred_on,
                electorate: v.electorate,
                satisfied: v.satisfied,
                basically_satisfied: v.basically_satisfied,
                dissatisfied: v.dissatisfied,
                invalid: v.invalid,
                satisfaction_bp: (votes > 0).then(|| {
                    rhu_u64(
                        10000 * (u128::from(v.satisfied) + u128::from(v.basically_satisfied)),
                        votes,
                    )
                }),
            });
        }

        // Inspections.
        let mut findings = Vec::new();
        for (id, f) in &self.inspections {
            let Some(rec) = &f.recorded else {
                missing_creation!(
                    "inspection",
                    id,
                    "InspectionRecorded",
                    f.rectified.iter().map(|x| x.position)
                );
                continue;
            };
            let ins = &rec.value;
            if let Some(p) = &ins.posting_id {
                if !posting_exists(p) {
                    anomaly(
                        rec.position,
                        AnomalyCode::UnknownPosting,
                        format!("inspection/{id}"),
                        format!("names posting {p} which does not exist"),
                    );
                }
            }
            let known: BTreeSet<&str> =
                ins.findings.iter().map(|x| x.finding_id.as_str()).collect();
            for r in &f.rectified {
                if !known.contains(r.value.finding_id.as_str()) {
                    anomaly(
                        r.position,
                        AnomalyCode::UnknownFinding,
                        format!("inspection/{id}"),
                        format!(
                            "rectifies finding {} which the inspection does not have",
                            r.value.finding_id
                        ),
                    );
                }
            }
            let base = |finding: Option<&events::payload::Finding>| FindingRow {
                inspection_id: id.clone(),
                village_id: ins.village_id.clone(),
                posting_id: ins.posting_id.clone(),
                inspector: ins.inspector.clone(),
                inspected_on: rec.occurred_on,
                finding_id: finding.map(|x| x.finding_id.clone()),
                severity: finding.map(|x| x.severity),
                text: finding.map(|x| x.text.clone()),
                rectified_on: finding.and_then(|x| f.rectified_on(&x.finding_id)),
            };
            if ins.findings.is_empty() {
                findings.push(base(None));
            }
            for finding in &ins.findings {
                findings.push(base(Some(finding)));
            }
        }

        // Contracts.
        let mut contract_items = Vec::new();
        for (id, f) in &self.contracts {
            let Some(signed) = &f.signed else {
                missing_creation!(
                    "contract",
                    id,
                    "ContractSigned",
                    f.completed.iter().map(|x| x.position)
                );
                continue;
            };
            let k = &signed.value;
            for c in &f.completed {
                if !k.items.iter().any(|i| i.item_id == c.value.item_id) {
                    anomaly(
                        c.position,
                        AnomalyCode::UnknownContractItem,
                        format!("contract/{id}"),
                        format!(
                            "completes item {} which the contract does not have",
                            c.value.item_id
                        ),
                    );
                }
            }
            for item in &k.items {
                let completed_on = f
                    .completed
                    .iter()
                    .find(|c| c.value.item_id == item.item_id)
                    .map(|c| c.occurred_on);
                contract_items.push(ContractItemRow {
                    contract_id: id.clone(),
                    station: k.station.clone(),
                    lead_unit: k.lead_unit.clone(),
                    village_id: k.village_id.clone(),
                    signed_on: signed.occurred_on,
                    item_id: item.item_id.clone(),
                    text: item.text.clone(),
                    due: item.due,
                    completed_on,
                    overdue: completed_on.is_none() && past(item.due),
                });
            }
        }

        anomalies.sort();
        LedgerReport {
            reference_date,
            villages,
            team,
            postings,
            commitments,
            projects,
            pledges,
            donors: donors.into_values().collect(),
            village_donations: village_donations.into_values().collect(),
            disbursements,
            evaluations,
            findings,
            attendance,
            spot_checks,
            contract_items,
            totals,
            anomalies,
        }
    }
}

impl LedgerReport {
    /// One village's page, read from this report.
    pub fn village_page(&self, village_id: &str) -> VillagePage {
        let is = |v: &Id| v.as_str() == village_id;
        let postings: Vec<PostingRow> = self
            .postings
            .iter()
            .filter(|p| is(&p.village_id))
            .cloned()
            .collect();
        let of_posting = |p: &Id| postings.iter().any(|x| x.posting_id == *p);
        VillagePage {
            village: self.villages.iter().find(|v| is(&v.village_id)).cloned(),
            team: self
                .team
                .iter()
                .filter(|t| is(&t.village_id))
                .cloned()
                .collect(),
            commitments: self
                .commitments
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            projects: self
                .projects
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            pledges: self
                .pledges
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            donations: self
                .village_donations
                .iter()
                .find(|c| is(&c.village_id))
                .cloned(),
            disbursements: self
                .disbursements
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            evaluations: self
                .evaluations
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            findings: self
                .findings
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            attendance: self
                .attendance
                .iter()
                .filter(|a| of_posting(&a.posting_id))
                .cloned()
                .collect(),
            spot_checks: self
                .spot_checks
                .iter()
                .filter(|a| of_posting(&a.posting_id))
                .cloned()
                .collect(),
            contract_items: self
                .contract_items
                .iter()
                .filter(|c| is(&c.village_id))
                .cloned()
                .collect(),
            postings,
        }
    }
}

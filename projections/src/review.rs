//! The review (考核, domain.md §4): every posting active in a period graded under a scoring
//! policy, as the JSON document of formats.md §6 whose SHA-256 seals it.
//!
//! [`review`] rebuilds from a log prefix; [`review_of`] reads an already built [`Ledgers`].
//! Every number is an integer; `rhu` is [`crate::arith::rhu`].
//!
//! ## Choices
//! - `tree_size` selects the prefix: events at positions `≥ tree_size` are not read, so the
//!   whole log may be passed to review an earlier prefix. `tree_size` and `root` are echoed as
//!   given; computing the root is the store's job.
//! - A posting whose `SecretaryPosted` does not count (retracted, not entered again) is not a
//!   posting: it is not reviewed (the audit views list what named it).
//! - A project or commitment counts for the posting its counted creation names.
//! - `satisfaction_bp` uses fixed weights 1/1/0 for satisfied/basically/dissatisfied as the
//!   contract writes it; only `evaluation_bp` reads the policy's evaluation weights.
//! - An explicit policy (`policy_override`) replaces the selection; its id is reported as given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use events::payload::{self as p, DisciplineKind, EndReason, Severity};
use events::policy::DEFAULT_POLICY_ID;
use events::{Date, Id, Policy, RecordedEvent, Sha256};

use crate::arith::rhu_u64;
use crate::counted::{prefix, Retractions};
use crate::ledgers::{
    due_in_force, At, CommitmentFacts, InspectionFacts, Ledgers, PostingFacts, ProjectFacts,
};

/// The review result document (formats.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewResult {
    /// The period reviewed.
    pub period: Period,
    /// Number of events the review was built from.
    pub tree_size: u64,
    /// Root of the tree of those events, lower-case hex.
    pub root: String,
    /// Id of the policy used (`default-v1` for the built-in one).
    pub policy_id: String,
    /// SHA-256 of JCS(policy document), lower-case hex.
    pub policy_sha256: String,
    /// Every active posting, sorted by `posting_id` bytes.
    pub postings: Vec<PostingReview>,
    /// Counts.
    pub summary: Summary,
}

/// The inclusive period of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub start: Date,
    /// Last day.
    pub end: Date,
}

/// Whether a posting was graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Graded.
    Graded,
    /// Not graded (不定等次); see the reason.
    Excluded,
}

/// Why an active posting was not graded: the first that applies, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    /// Fewer service days in the period than the policy's `min_service_days`.
    InsufficientService,
    /// A demerit, major demerit, demotion or dismissal dated in the window.
    Discipline,
    /// None of work, commitments and evaluation is present.
    NoEvidence,
}

/// A grade; declared lowest first so that `min` applies a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 不称职.
    Incompetent,
    /// 基本称职.
    BasicallyCompetent,
    /// 称职.
    Competent,
    /// 优秀.
    Excellent,
}

/// A cap's code; declared in byte order of the codes, so sorting the enum sorts the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Cap {
    /// One unexcused absence → competent.
    #[serde(rename = "absence_1")]
    Absence1,
    /// Two unexcused absences → basically competent.
    #[serde(rename = "absence_2")]
    Absence2,
    /// Three or more unexcused absences → incompetent.
    #[serde(rename = "absence_3plus")]
    Absence3Plus,
    /// Excellent but beyond the quota → competent.
    #[serde(rename = "excellent_quota")]
    ExcellentQuota,
    /// Satisfaction under the policy's threshold → basically competent.
    #[serde(rename = "low_satisfaction")]
    LowSatisfaction,
    /// No evaluation → competent.
    #[serde(rename = "no_evaluation")]
    NoEvaluation,
    /// Recalled in the window → competent.
    #[serde(rename = "recalled")]
    Recalled,
    /// A commitment of the component got no credit → competent.
    #[serde(rename = "unfulfilled_commitment")]
    UnfulfilledCommitment,
    /// A warning in the window → competent.
    #[serde(rename = "warning")]
    Warning,
}

impl Cap {
    /// The highest grade this cap allows.
    pub fn ceiling(self) -> Grade {
        match self {
            Cap::Absence1
            | Cap::ExcellentQuota
            | Cap::NoEvaluation
            | Cap::Recalled
            | Cap::UnfulfilledCommitment
            | Cap::Warning => Grade::Competent,
            Cap::Absence2 | Cap::LowSatisfaction => Grade::BasicallyCompetent,
            Cap::Absence3Plus => Grade::Incompetent,
        }
    }
}

/// One posting's line of the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingReview {
    /// The posting.
    pub posting_id: Id,
    /// The person posted.
    pub person_id: Id,
    /// The person's name.
    pub person_name: String,
    /// The village.
    pub village_id: Id,
    /// Days of the window (both ends count).
    pub service_days: u64,
    /// Graded or excluded.
    pub status: Status,
    /// Why excluded; null when graded.
    pub reason: Option<ExclusionReason>,
    /// Work score; null when absent or excluded.
    pub work_bp: Option<u64>,
    /// Commitments score; null when absent or excluded.
    pub commitments_bp: Option<u64>,
    /// Evaluation score; null when absent or excluded.
    pub evaluation_bp: Option<u64>,
    /// Share of satisfied and basically satisfied votes; null without evaluation.
    pub satisfaction_bp: Option<u64>,
    /// Sum of deductions for unrectified findings; 0 when excluded.
    pub deductions_bp: u64,
    /// `max(0, base − deductions)`; null when excluded.
    pub total_bp: Option<u64>,
    /// Grade after caps and quota; null when excluded.
    pub grade: Option<Grade>,
    /// Codes of every cap whose condition holds, sorted.
    pub caps: Vec<Cap>,
}

/// The review's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Postings active in the period.
    pub active: u64,
    /// Postings graded.
    pub graded: u64,
    /// Postings excluded.
    pub excluded: u64,
    /// Graded excellent.
    pub excellent: u64,
    /// Graded competent.
    pub competent: u64,
    /// Graded basically competent.
    pub basically_competent: u64,
    /// Graded incompetent.
    pub incompetent: u64,
    /// excellent + competent.
    pub competent_or_above: u64,
    /// `rhu(10000 × competent_or_above, graded)`, 0 when nothing is graded.
    pub competent_or_above_bp: u64,
}

impl ReviewResult {
    /// The document as canonical JSON (JCS): the bytes that are hashed and printed.
    pub fn to_jcs(&self) -> String {
        let value = serde_json::to_value(self).expect("a review result serializes to JSON");
        events::canonical::to_jcs(&value)
    }

    /// SHA-256 of [`ReviewResult::to_jcs`].
    pub fn result_sha256(&self) -> Sha256 {
        Sha256::of(self.to_jcs().as_bytes())
    }
}

/// The policy that applies to a period starting on `start`: the counted `PolicyAdopted` with the
/// latest `effective_from` ≤ `start`, ties broken by later position; else `default-v1`.
pub fn select_policy(ledgers: &Ledgers, start: Date) -> (String, Policy) {
    ledgers
        .policies
        .values()
        .filter(|a| a.value.effective_from <= start)
        .max_by_key(|a| (a.value.effective_from, a.position))
        .map(|a| (a.value.policy_id.to_string(), a.value.policy))
        .unwrap_or_else(|| (DEFAULT_POLICY_ID.to_string(), Policy::DEFAULT_V1))
}

/// Reviews the first `tree_size` events of `events` (in position order) for `[period_start,
/// period_end]`. Reads `events` twice: retractions first, then the fold.
pub fn review<'a, I>(
    events: I,
    period_start: Date,
    period_end: Date,
    tree_size: u64,
    root_hex: &str,
    policy_override: Option<(String, Policy)>,
) -> ReviewResult
where
    I: IntoIterator<Item = &'a RecordedEvent> + Clone,
{
    let retractions = Retractions::collect(prefix(events.clone(), tree_size));
    let mut ledgers = Ledgers::new(retractions);
    for e in prefix(events, tree_size) {
        // Every retraction is known beforehand: no refold is ever asked for.
        let _ = ledgers.apply(e);
    }
    review_of(
        &ledgers,
        period_start,
        period_end,
        tree_size,
        root_hex,
        policy_override,
    )
}

/// The counted entities of each posting, gathered once so that a review is one pass over them.
#[derive(Default)]
struct ByPosting<'a> {
    projects: Vec<&'a ProjectFacts>,
    commitments: Vec<&'a CommitmentFacts>,
    evaluations: Vec<&'a At<p::EvaluationHeld>>,
    inspections: Vec<&'a InspectionFacts>,
}

fn index_by_posting(ledgers: &Ledgers) -> BTreeMap<&Id, ByPosting<'_>> {
    let mut index: BTreeMap<&Id, ByPosting<'_>> = BTreeMap::new();
    for pf in ledgers.projects.values() {
        if let Some(planned) = &pf.planned {
            index
                .entry(&planned.value.posting_id)
                .or_default()
                .projects
                .push(pf);
        }
    }
    for cf in ledgers.commitments.values() {
        if let Some(made) = &cf.made {
            index
                .entry(&made.value.posting_id)
                .or_default()
                .commitments
                .push(cf);
        }
    }
    for ev in ledgers.evaluations.values() {
        index
            .entry(&ev.value.posting_id)
            .or_default()
            .evaluations
            .push(ev);
    }
    for inspection in ledgers.inspections.values() {
        if let Some(posting_id) = inspection
            .recorded
            .as_ref()
            .and_then(|r| r.value.posting_id.as_ref())
        {
            index
                .entry(posting_id)
                .or_default()
                .inspections
                .push(inspection);
        }
    }
    index
}

/// Reviews an already folded prefix (see [`review`]).
pub fn review_of(
    ledgers: &Ledgers,
    period_start: Date,
    period_end: Date,
    tree_size: u64,
    root_hex: &str,
    policy_override: Option<(String, Policy)>,
) -> ReviewResult {
    let (policy_id, policy) =
        policy_override.unwrap_or_else(|| select_policy(ledgers, period_start));
    let index = index_by_posting(ledgers);
    let empty = ByPosting::default();
    let mut lines: Vec<PostingReview> = Vec::new();
    for (posting_id, facts) in &ledgers.postings {
        let Some(posted) = &facts.posted else {
            continue;
        };
        let first_day = posted.occurred_on;
        let last_day = facts.ended.as_ref().map(|e| e.occurred_on);
        let w_start = period_start.max(first_day);
        let w_end = last_day.map_or(period_end, |l| period_end.min(l));
        if w_start > w_end {
            continue;
        }
        let window = Window {
            start: w_start,
            end: w_end,
        };
        let mine = index.get(posting_id).unwrap_or(&empty);
        lines.push(review_posting(facts, mine, &policy, posting_id, window));
    }
    apply_quota(&mut lines, &policy);
    let postings = lines;
    let summary = summarise(&postings);
    ReviewResult {
        period: Period {
            start: period_start,
            end: period_end,
        },
        tree_size,
        root: root_hex.to_string(),
        policy_id,
        policy_sha256: policy.sha256().to_hex(),
        postings,
        summary,
    }
}

/// A posting's service inside the period, both ends inclusive.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Date,
    end: Date,
}

impl Window {
    fn contains(self, d: Date) -> bool {
        self.start <= d && d <= self.end
    }
    fn days(self) -> u64 {
        u64::try_from(self.start.days_until(self.end) + 1).unwrap_or(0)
    }
}

/// Credit in halves: on or before the due → 2; after the due but by the window's end → 1; else 0.
fn halves(done_on: Option<Date>, due: Date, window: Window) -> u64 {
    match done_on {
        Some(d) if d <= due => 2,
        Some(d) if d <= window.end => 1,
        _ => 0,
    }
}

/// Component score from halves: `rhu(10000 × Σhalves, 2n)`; absent when n = 0.
fn component(halves: &[u64]) -> Option<u64> {
    if halves.is_empty() {
        return None;
    }
    let sum: u128 = halves.iter().map(|&h| u128::from(h)).sum();
    Some(rhu_u64(10000 * sum, 2 * halves.len() as u128))
}

fn review_posting(
    facts: &PostingFacts,
    mine: &ByPosting<'_>,
    policy: &Policy,
    posting_id: &Id,
    window: Window,
) -> PostingReview {
    let posted = &facts
        .posted
        .as_ref()
        .expect("only counted postings are reviewed")
        .value;

    // Work: projects of the posting due in the window, less those cancelled by the window's end.
    let mut work_halves = Vec::new();
    for pf in &mine.projects {
        let Some(planned) = &pf.planned else { continue };
        if !window.contains(planned.value.due) {
            continue;
        }
        if pf
            .cancelled
            .as_ref()
            .is_some_and(|c| c.occurred_on <= window.end)
        {
            continue;
        }
        let mut h = halves(
            pf.completed.as_ref().map(|c| c.occurred_on),
            planned.value.due,
            window,
        );
        // The last acceptance in log order dated by the window's end decides; none keeps the credit.
        let last_acceptance = pf
            .accepted
            .iter()
            .filter(|a| a.occurred_on <= window.end)
            .max_by_key(|a| a.position);
        if last_acceptance.is_some_and(|a| !a.value.passed) {
            h = 0;
        }
        work_halves.push(h);
    }
    let work_bp = component(&work_halves);

    // Commitments: due in force in the window, less those withdrawn by the window's end.
    let mut commitment_halves = Vec::new();
    for cf in &mine.commitments {
        let Some(made) = &cf.made else { continue };
        let (due, _) = due_in_force(made.value.due, &cf.extensions);
        if !window.contains(due) {
            continue;
        }
        if cf
            .withdrawn
            .as_ref()
            .is_some_and(|w| w.occurred_on <= window.end)
        {
            continue;
        }
        commitment_halves.push(halves(
            cf.fulfilled.as_ref().map(|f| f.occurred_on),
            due,
            window,
        ));
    }
    let commitments_bp = component(&commitment_halves);

    // Evaluation: sessions of the posting dated in the window; invalid votes are ignored.
    let (mut s, mut b, mut d) = (0u128, 0u128, 0u128);
    for ev in &mine.evaluations {
        if window.contains(ev.occurred_on) {
            s += u128::from(ev.value.satisfied);
            b += u128::from(ev.value.basically_satisfied);
            d += u128::from(ev.value.dissatisfied);
        }
    }
    let votes = s + b + d;
    let (evaluation_bp, satisfaction_bp) = if votes == 0 {
        (None, None)
    } else {
        let w = policy.evaluation_weights;
        let weighted = u128::from(w.satisfied) * s
            + u128::from(w.basically_satisfied) * b
            + u128::from(w.dissatisfied) * d;
        (
            Some(rhu_u64(100 * weighted, votes)),
            Some(rhu_u64(10000 * (s + b), votes)),
        )
    };

    let service_days = window.days();
    let in_window_discipline = |kinds: &dyn Fn(DisciplineKind) -> bool| {
        facts
            .discipline
            .iter()
            .any(|x| kinds(x.value.kind) && window.contains(x.occurred_on))
    };
    let reason = if service_days < policy.min_service_days {
        Some(ExclusionReason::InsufficientService)
    } else if in_window_discipline(&|k| k != DisciplineKind::Warning) {
        Some(ExclusionReason::Discipline)
    } else if work_bp.is_none() && commitments_bp.is_none() && evaluation_bp.is_none() {
        Some(ExclusionReason::NoEvidence)
    } else {
        None
    };
    let mut line = PostingReview {
        posting_id: posting_id.clone(),
        person_id: posted.person_id.clone(),
        person_name: posted.person_name.clone(),
        village_id: posted.village_id.clone(),
        service_days,
        status: Status::Excluded,
        reason,
        work_bp: None,
        commitments_bp: None,
        evaluation_bp: None,
        satisfaction_bp: None,
        deductions_bp: 0,
        total_bp: None,
        grade: None,
        caps: Vec::new(),
    };
    if reason.is_some() {
        return line;
    }

    // Base: weighted mean of the present components.
    let weights = policy.weights;
    let present = [
        (weights.work, work_bp),
        (weights.commitments, commitments_bp),
        (weights.evaluation, evaluation_bp),
    ];
    let (num, den) = present
        .iter()
        .filter_map(|&(w, s)| s.map(|s| (u128::from(w) * u128::from(s), u128::from(w))))
        .fold((0u128, 0u128), |(n, d), (a, b)| (n + a, d + b));
    let base_bp = rhu_u64(num, den);

    // Deductions: findings against the posting, dated in the window, unrectified by its end.
    let mut deductions_bp: u64 = 0;
    for inspection in &mine.inspections {
        let Some(rec) = &inspection.recorded else {
            continue;
        };
        if !window.contains(rec.occurred_on) {
            continue;
        }
        for finding in &rec.value.findings {
            let rectified_in_time = inspection
                .rectified_on(&finding.finding_id)
                .is_some_and(|r| r <= window.end);
            if !rectified_in_time {
                deductions_bp = deductions_bp.saturating_add(match finding.severity {
                    Severity::Serious => policy.deductions_bp.serious,
                    Severity::Minor => policy.deductions_bp.minor,
                });
            }
        }
    }
    // Deductions may be as large as the contract's integers; their sum is kept within them
    // (2^53 − 1) so the result document stays exact in every JSON parser.
    let deductions_bp = deductions_bp.min(events::fields::INT_MAX);
    let total_bp = base_bp.saturating_sub(deductions_bp);

    let t = policy.thresholds_bp;
    let mut grade = if total_bp >= t.excellent {
        Grade::Excellent
    } else if total_bp >= t.competent {
        Grade::Competent
    } else if total_bp >= t.basically_competent {
        Grade::BasicallyCompetent
    } else {
        Grade::Incompetent
    };

    let mut caps = Vec::new();
    let absences = facts
        .spot_checks
        .iter()
        .filter(|c| !c.value.present && !c.value.excused && window.contains(c.occurred_on))
        .count();
    match absences {
        0 => {}
        1 => caps.push(Cap::Absence1),
        2 => caps.push(Cap::Absence2),
        _ => caps.push(Cap::Absence3Plus),
    }
    match satisfaction_bp {
        Some(sat) if sat < policy.low_satisfaction_bp => caps.push(Cap::LowSatisfaction),
        Some(_) => {}
        None => caps.push(Cap::NoEvaluation),
    }
    if in_window_discipline(&|k| k == DisciplineKind::Warning) {
        caps.push(Cap::Warning);
    }
    if facts
        .ended
        .as_ref()
        .is_some_and(|e| e.value.reason == EndReason::Recalled && window.contains(e.occurred_on))
    {
        caps.push(Cap::Recalled);
    }
    if commitment_halves.contains(&0) {
        caps.push(Cap::UnfulfilledCommitment);
    }
    for cap in &caps {
        grade = grade.min(cap.ceiling());
    }
    caps.sort();

    line.status = Status::Graded;
    line.work_bp = work_bp;
    line.commitments_bp = commitments_bp;
    line.evaluation_bp = evaluation_bp;
    line.satisfaction_bp = satisfaction_bp;
    line.deductions_bp = deductions_bp;
    line.total_bp = Some(total_bp);
    line.grade = Some(grade);
    line.caps = caps;
    line
}

/// Keeps the first `quota` excellent postings excellent; the rest become competent with
/// `excellent_quota`. Order: total high first, commitments high first (absent after 0), id bytes.
fn apply_quota(lines: &mut [PostingReview], policy: &Policy) {
    let graded = lines.iter().filter(|s| s.status == Status::Graded).count() as u128;
    let quota = graded * u128::from(policy.excellent_quota_bp) / 10000;
    let mut excellent: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].grade == Some(Grade::Excellent))
        .collect();
    excellent.sort_by(|&a, &b| {
        let (la, lb) = (&lines[a], &lines[b]);
        // Absent commitments sort after 0: map to -1.
        let c = |l: &PostingReview| l.commitments_bp.map_or(-1i64, |v| v as i64);
        lb.total_bp
            .cmp(&la.total_bp)
            .then_with(|| c(lb).cmp(&c(la)))
            .then_with(|| la.posting_id.as_bytes().cmp(lb.posting_id.as_bytes()))
    });
    for (rank, &i) in excellent.iter().enumerate() {
        if rank as u128 >= quota {
            let line = &mut lines[i];
            line.grade = Some(Grade::Competent);
            line.caps.push(Cap::ExcellentQuota);
            line.caps.sort();
        }
    }
}

fn summarise(postings: &[PostingReview]) -> Summary {
    let mut s = Summary {
        active: postings.len() as u64,
        ..Summary::default()
    };
    for p in postings {
        match p.status {
            Status::Excluded => s.excluded += 1,
            Status::Graded => s.graded += 1,
        }
        match p.grade {
            Some(Grade::Excellent) => s.excellent += 1,
            Some(Grade::Competent) => s.competent += 1,
            Some(Grade::BasicallyCompetent) => s.basically_competent += 1,
            Some(Grade::Incompetent) => s.incompetent += 1,
            None => {}
        }
    }
    s.competent_or_above = s.excellent + s.competent;
    s.competent_or_above_bp = if s.graded == 0 {
        0
    } else {
        rhu_u64(
            10000 * u128::from(s.competent_or_above),
            u128::from(s.graded),
        )
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_sort_as_their_codes() {
        let all = [
            Cap::Absence1,
            Cap::Absence2,
            Cap::Absence3Plus,
            Cap::ExcellentQuota,
            Cap::LowSatisfaction,
            Cap::NoEvaluation,
            Cap::Recalled,
            Cap::UnfulfilledCommitment,
            Cap::Warning,
        ];
        let codes: Vec<String> = all
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted);
    }
}

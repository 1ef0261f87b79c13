//! Property tests of the validation state against a naive model that refolds every counted
//! event from scratch for every check: same answers, refused batches change nothing, and the
//! incremental state equals a rebuild by `replay`.

mod validation_common;

use std::collections::{BTreeMap, BTreeSet};

use events::{Date, EventId, Payload, RecordedEvent};
use projections::validation::LogState;
use proptest::prelude::*;
use validation_common::*;

// ----- the naive model: one global state, rebuilt for every check

type Key = (&'static str, String);

#[derive(Clone)]
struct Posting {
    village: String,
    first: Date,
    last: Option<Date>,
    created: usize,
    ended: Option<usize>,
    latest_service: Option<Date>,
}

#[derive(Default, Clone)]
struct Naive {
    villages: BTreeMap<String, Date>,
    postings: BTreeMap<String, Posting>,
    commitments: BTreeMap<String, (Date, bool)>,
    /// village, pledged on, amount, received, disbursed, released
    pledges: BTreeMap<String, (String, Date, u64, u64, u64, bool)>,
}

/// Why the model refuses: `Some(key)` when only because `key` does not exist.
type Fail = Option<Key>;

fn creates(p: &Payload) -> Option<Key> {
    match p {
        Payload::VillageRegistered(x) => Some(("village", x.village_id.to_string())),
        Payload::SecretaryPosted(x) => Some(("posting", x.posting_id.to_string())),
        Payload::CommitmentMade(x) => Some(("commitment", x.commitment_id.to_string())),
        Payload::DonationPledged(x) => Some(("pledge", x.pledge_id.to_string())),
        _ => None,
    }
}

fn names(p: &Payload) -> Vec<Key> {
    let v = |s: &events::Id| ("village", s.to_string());
    match p {
        Payload::SecretaryPosted(x) => vec![v(&x.village_id)],
        Payload::PostingEnded(x) => vec![("posting", x.posting_id.to_string())],
        Payload::CommitmentMade(x) => vec![v(&x.village_id), ("posting", x.posting_id.to_string())],
        Payload::CommitmentFulfilled(x) => vec![("commitment", x.commitment_id.to_string())],
        Payload::DonationPledged(x) => vec![v(&x.village_id)],
        Payload::DonationReceived(x) => vec![("pledge", x.pledge_id.to_string())],
        Payload::PledgeReleased(x) => vec![("pledge", x.pledge_id.to_string())],
        Payload::FundsDisbursed(x) => {
            let mut n = vec![v(&x.village_id)];
            if let Some(d) = &x.pledge_id {
                n.push(("pledge", d.to_string()));
            }
            n
        }
        _ => vec![],
    }
}

fn miss(kind: &'static str, id: &str) -> Fail {
    Some((kind, id.to_string()))
}

impl Naive {
    fn village(&self, v: &str, on: Date) -> Result<(), Fail> {
        match self.villages.get(v) {
            None => Err(miss("village", v)),
            Some(d) if on < *d => Err(None),
            Some(_) => Ok(()),
        }
    }

    /// Checks and applies one event (the posting overlap rules are judged apart).
    fn step(&mut self, i: usize, e: &RecordedEvent) -> Result<(), Fail> {
        let on = e.occurred_on;
        match &e.payload {
            Payload::VillageRegistered(x) => {
                self.villages.insert(x.village_id.to_string(), on);
            }
            Payload::SecretaryPosted(x) => {
                self.village(&x.village_id, on)?;
                let p = Posting {
                    village: x.village_id.to_string(),
                    first: on,
                    last: None,
                    created: i,
                    ended: None,
                    latest_service: None,
                };
                self.postings.insert(x.posting_id.to_string(), p);
            }
            Payload::PostingEnded(x) => {
                let p = self
                    .postings
                    .get_mut(x.posting_id.as_str())
                    .ok_or_else(|| miss("posting", &x.posting_id))?;
                if p.last.is_some() || on < p.first || p.latest_service.is_some_and(|d| on < d) {
                    return Err(None);
                }
                p.last = Some(on);
                p.ended = Some(i);
            }
            Payload::CommitmentMade(x) => {
                self.village(&x.village_id, on)?;
                let p = self
                    .postings
                    .get_mut(x.posting_id.as_str())
                    .ok_or_else(|| miss("posting", &x.posting_id))?;
                if p.village != x.village_id.as_str()
                    || on < p.first
                    || p.last.is_some_and(|l| on > l)
                {
                    return Err(None);
                }
                p.latest_service = Some(p.latest_service.map_or(on, |d| d.max(on)));
                self.commitments
                    .insert(x.commitment_id.to_string(), (on, false));
            }
            Payload::CommitmentFulfilled(x) => {
                let c = self
                    .commitments
                    .get_mut(x.commitment_id.as_str())
                    .ok_or_else(|| miss("commitment", &x.commitment_id))?;
                if on < c.0 || c.1 {
                    return Err(None);
                }
                c.1 = true;
            }
            Payload::DonationPledged(x) => {
                self.village(&x.village_id, on)?;
                self.pledges.insert(
                    x.pledge_id.to_string(),
                    (x.village_id.to_string(), on, x.amount_fen, 0, 0, false),
                );
            }
            Payload::DonationReceived(x) => {
                let d = self
                    .pledges
                    .get_mut(x.pledge_id.as_str())
                    .ok_or_else(|| miss("pledge", &x.pledge_id))?;
                if on < d.1 || d.5 || d.3 + x.amount_fen > d.2 {
                    return Err(None);
                }
                d.3 += x.amount_fen;
            }
            Payload::PledgeReleased(x) => {
                let d = self
                    .pledges
                    .get_mut(x.pledge_id.as_str())
                    .ok_or_else(|| miss("pledge", &x.pledge_id))?;
                if on < d.1 || d.5 || d.3 >= d.2 {
                    return Err(None);
                }
                d.5 = true;
            }
            Payload::FundsDisbursed(x) => {
                self.village(&x.village_id, on)?;
                if let Some(id) = &x.pledge_id {
                    let d = self
                        .pledges
                        .get_mut(id.as_str())
                        .ok_or_else(|| miss("pledge", id))?;
                    if d.0 != x.village_id.as_str() || on < d.1 || d.4 + x.amount_fen > d.3 {
                        return Err(None);
                    }
                    d.4 += x.amount_fen;
                }
            }
            other => panic!("the generator makes no {:?}", other.event_type()),
        }
        Ok(())
    }

    /// Events (log indices) leaving two postings of a village overlapping: the latest of each pair.
    fn overlaps(&self) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for y in self.postings.values() {
            for x in self.postings.values() {
                let before = (y.first, y.created) < (x.first, x.created);
                if y.village == x.village && before && y.last.is_none_or(|l| l >= x.first) {
                    out.extend(
                        [Some(y.created), Some(x.created), y.ended]
                            .into_iter()
                            .flatten()
                            .max(),
                    );
                }
            }
        }
        out
    }
}

/// The counted events of a log: every effective retraction applied, in log order.
fn counted(log: &[RecordedEvent]) -> Vec<usize> {
    let mut retracted = BTreeSet::new();
    for (i, e) in log.iter().enumerate() {
        if let Payload::Retracted(r) = &e.payload {
            if let Some(t) = log[..i]
                .iter()
                .position(|x| x.event_id == r.target_event_id)
            {
                if !matches!(log[t].payload, Payload::Retracted(_)) && !retracted.contains(&t) {
                    retracted.insert(t);
                }
            }
        }
    }
    (0..log.len())
        .filter(|i| !retracted.contains(i) && !matches!(log[*i].payload, Payload::Retracted(_)))
        .collect()
}

/// Folds the counted events, each creation placed no later than the first event naming its id;
/// the failures by log index.
fn fold(log: &[RecordedEvent], counted: &[usize]) -> (Naive, BTreeMap<usize, Fail>) {
    let mut first_creation: BTreeMap<Key, usize> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    let mut items = Vec::new();
    for &i in counted {
        if let Some(k) = creates(&log[i].payload) {
            if first_creation.contains_key(&k) {
                failures.insert(i, None); // a second creation
                continue;
            }
            first_creation.insert(k, i);
        }
        items.push(i);
    }
    let mut place: BTreeMap<usize, usize> = items.iter().map(|&i| (i, i)).collect();
    for _ in 0..4 {
        for &i in &items {
            for n in names(&log[i].payload) {
                if let Some(&c) = first_creation.get(&n) {
                    let at = place[&i];
                    place.entry(c).and_modify(|p| *p = (*p).min(at));
                }
            }
        }
    }
    let level = |i: usize| match &log[i].payload {
        Payload::VillageRegistered(_) => 0,
        Payload::SecretaryPosted(_) => 1,
        p if creates(p).is_some() => 2,
        _ => 3,
    };
    items.sort_by_key(|&i| (place[&i], level(i), i));
    let mut state = Naive::default();
    for i in items {
        if let Err(f) = state.step(i, &log[i]) {
            failures.insert(i, f);
        }
    }
    for i in state.overlaps() {
        failures.entry(i).or_insert(None);
    }
    (state, failures)
}

/// Whether the model accepts `e` appended to `log`.
fn naive_accepts(log: &[RecordedEvent], e: &RecordedEvent) -> bool {
    let counted_now = counted(log);
    if let Payload::Retracted(r) = &e.payload {
        let Some(t) = log.iter().position(|x| x.event_id == r.target_event_id) else {
            return false;
        };
        return !matches!(log[t].payload, Payload::Retracted(_)) && counted_now.contains(&t);
    }
    let created = creates(&e.payload);
    if let Some(k) = &created {
        if counted_now
            .iter()
            .any(|&i| creates(&log[i].payload).as_ref() == Some(k))
        {
            return false;
        }
    }
    // At the end of the log, as any event.
    let (mut state, _) = fold(log, &counted_now);
    if state.step(log.len(), e).is_err() {
        return false;
    }
    let on = e.occurred_on;
    match &e.payload {
        Payload::SecretaryPosted(x) => {
            let others = state.postings.iter().filter(|(id, p)| {
                id.as_str() != x.posting_id.as_str() && p.village == x.village_id.as_str()
            });
            if others.clone().any(|(_, p)| p.last.is_none_or(|l| on <= l)) {
                return false;
            }
        }
        Payload::PostingEnded(x) => {
            let own = &state.postings[x.posting_id.as_str()];
            if state.postings.iter().any(|(id, p)| {
                id.as_str() != x.posting_id.as_str()
                    && p.village == own.village
                    && p.first > own.first
                    && on >= p.first
            }) {
                return false;
            }
        }
        _ => {}
    }
    // A re-entry: again in log order, with it in place.
    let Some(k) = created else { return true };
    if !counted_now
        .iter()
        .any(|&i| names(&log[i].payload).contains(&k))
    {
        return true;
    }
    let mut with = log.to_vec();
    with.push(e.clone());
    let mut counted_with = counted_now;
    counted_with.push(log.len());
    let (_, failures) = fold(&with, &counted_with);
    !failures.iter().any(|(&i, fail)| {
        let concerns = i == log.len() || names(&with[i].payload).contains(&k);
        let other_missing = fail.as_ref().is_some_and(|m| *m != k);
        concerns && !other_missing
    })
}

// ----- the generator

#[derive(Debug, Clone)]
enum Proto {
    Village(u8, u8),
    Posted(u8, u8, u8),
    Ended(u8, u8),
    Made(u8, u8, u8, u8),
    Fulfilled(u8, u8),
    Pledged(u8, u8, u8, u8),
    Received(u8, u8, u8),
    Released(u8, u8),
    Disbursed(u8, Option<u8>, u8, u8),
    /// Retract the n-th accepted event (counting back from the last), or an unknown one.
    Retract(u8, bool),
    /// Retract the n-th creation (counting back) and enter it again, dated and sized anew, in
    /// the same batch: the correction workflow, and the re-entry rule's test bed.
    Reenter(u8, u8, u8),
}

fn day(d: u8) -> String {
    let d = u32::from(d % 60);
    format!("2016-{:02}-{:02}", 1 + d / 20, 1 + d % 20)
}

fn to_lines(p: &Proto, accepted: &[RecordedEvent]) -> Vec<String> {
    let Proto::Reenter(n, amount, d) = *p else {
        return vec![to_line(p, accepted)];
    };
    let creations: Vec<&RecordedEvent> = accepted
        .iter()
        .filter(|e| creates(&e.payload).is_some())
        .collect();
    if creations.is_empty() {
        return vec![to_line(&Proto::Retract(n, false), accepted)];
    }
    let target = creations[creations.len() - 1 - usize::from(n) % creations.len()];
    let mut payload = target.payload.to_json_value();
    if let Some(a) = payload.get_mut("amount_fen") {
        *a = serde_json::json!(u64::from(amount % 4) * 100);
    }
    // Now and then in the other village, which events of the first may still name.
    if amount % 3 == 0 && !matches!(target.payload, Payload::VillageRegistered(_)) {
        if let Some(v) = payload.get_mut("village_id") {
            *v = serde_json::json!(if v == "V0" { "V1" } else { "V0" });
        }
    }
    vec![
        retracted(target.event_id, "2016-03-20"),
        line(target.event_type().as_str(), &day(d), payload),
    ]
}

fn to_line(p: &Proto, accepted: &[RecordedEvent]) -> String {
    let v = |n: u8| format!("V{}", n % 2);
    match *p {
        Proto::Village(a, d) => village(&v(a), &day(d)),
        Proto::Posted(a, b, d) => posted(&format!("P{}", a % 3), &v(b), &day(d)),
        Proto::Ended(a, d) => ended(&format!("P{}", a % 3), &day(d)),
        Proto::Made(a, b, c, d) => made(
            &format!("C{}", a % 2),
            &format!("P{}", b % 3),
            &v(c),
            &day(d),
            "2016-12-31",
        ),
        Proto::Fulfilled(a, d) => fulfilled(&format!("C{}", a % 2), &day(d)),
        Proto::Pledged(a, b, amount, d) => pledged(
            &format!("D{}", a % 2),
            &v(b),
            u64::from(amount % 4) * 100,
            &day(d),
        ),
        Proto::Received(a, amount, d) => {
            received(&format!("D{}", a % 2), u64::from(amount % 3) * 100, &day(d))
        }
        Proto::Released(a, d) => released(&format!("D{}", a % 2), &day(d)),
        Proto::Disbursed(a, b, amount, d) => {
            let pledge = b.map(|b| format!("D{}", b % 2));
            disbursed(
                &v(a),
                pledge.as_deref(),
                u64::from(amount % 3) * 100,
                &day(d),
            )
        }
        Proto::Reenter(..) => unreachable!("expanded by to_lines"),
        Proto::Retract(n, unknown) => {
            let target = match accepted.len() {
                _ if unknown => {
                    EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c").expect("uuid")
                }
                0 => EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1d").expect("uuid"),
                len => accepted[len - 1 - usize::from(n) % len].event_id,
            };
            retracted(target, "2016-03-20")
        }
    }
}

fn proto() -> impl Strategy<Value = Proto> {
    let b = || any::<u8>();
    prop_oneof![
        2 => (b(), b()).prop_map(|(a, d)| Proto::Village(a, d % 5)),
        3 => (b(), b(), b()).prop_map(|(a, c, d)| Proto::Posted(a, c, d)),
        2 => (b(), b()).prop_map(|(a, d)| Proto::Ended(a, d)),
        3 => (b(), b(), b(), b()).prop_map(|(a, p, c, d)| Proto::Made(a, p, c, d)),
        2 => (b(), b()).prop_map(|(a, d)| Proto::Fulfilled(a, d)),
        3 => (b(), b(), b(), b()).prop_map(|(a, c, m, d)| Proto::Pledged(a, c, m, d)),
        3 => (b(), b(), b()).prop_map(|(a, m, d)| Proto::Received(a, m, d)),
        1 => (b(), b()).prop_map(|(a, d)| Proto::Released(a, d)),
        2 => (b(), proptest::option::of(b()), b(), b()).prop_map(|(a, p, m, d)| Proto::Disbursed(a, p, m, d)),
        3 => (b(), proptest::bool::weighted(0.1)).prop_map(|(n, u)| Proto::Retract(n % 6, u)),
        2 => (b(), b(), b()).prop_map(|(n, m, d)| Proto::Reenter(n % 4, m, d)),
    ]
}

fn batches() -> impl Strategy<Value = Vec<Vec<Proto>>> {
    proptest::collection::vec(proptest::collection::vec(proto(), 1..=3), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn validation_agrees_with_a_naive_refold(batches in batches()) {
        let mut log = Log::new();
        for protos in &batches {
            // Build the batch event by event: a retraction may target an earlier event of it.
            let mut lines = Vec::new();
            let mut preview = log.accepted.clone();
            for p in protos {
                for l in to_lines(p, &preview) {
                    preview.push(recorded(&l, preview.len() as u64, LATE));
                    lines.push(l);
                }
            }
            let events = log.events(&lines);
            // The model: each event against the log plus the batch's earlier events.
            let mut expected = Ok(());
            let mut prefix = log.accepted.clone();
            for (i, e) in events.iter().enumerate() {
                if !naive_accepts(&prefix, e) {
                    expected = Err(i);
                    break;
                }
                prefix.push(e.clone());
            }
            let before = format!("{:?}", log.state);
            let got = log.try_batch(&lines);
            match (&got, &expected) {
                (Ok(_), Ok(())) => {}
                (Err((i, _)), Err(j)) if i == j => {
                    prop_assert_eq!(&format!("{:?}", log.state), &before, "a refused batch changed the state");
                }
                _ => prop_assert!(false, "batch {:?}: validation {:?}, model {:?}", lines, got.map(|_| ()), expected),
            }
        }
        let mut rebuilt = LogState::new();
        for e in &log.accepted {
            rebuilt.replay(e);
        }
        prop_assert_eq!(format!("{:?}", rebuilt), format!("{:?}", log.state));
    }
}

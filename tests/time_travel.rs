//! Time travel: for random valid histories and random prefixes N, every ledger, the audit
//! views, a timeline and the review as of N equal those of a store holding only the first N
//! events; and "as of an instant" names the prefix recorded up to then.

use events::import::parse_line;
use events::{Date, ProposedEvent, Timestamp};
use proptest::prelude::*;
use taizhang::reviews;
use taizhang::store::{Log, SledLog, Source};

/// One batch of a history: its events and the simulated moment it is recorded.
struct Batch {
    at: Timestamp,
    events: Vec<ProposedEvent>,
}

/// An event with a stable id (the uuid5 of its line), so two stores hold the same events.
fn line(s: String) -> ProposedEvent {
    let mut ev = parse_line(&s).unwrap_or_else(|e| panic!("{s}: {e}")).event;
    ev.event_id
        .get_or_insert(events::EventId(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            s.as_bytes(),
        )));
    ev
}

fn day(d: i32) -> Date {
    Date::from_ymd(2016, 1, 1).unwrap().add_days(d)
}

/// A small valid history over `villages` villages, driven by `choices`: registrations,
/// postings, commitments (kept, late, extended), projects, pledges and receipts, evaluations,
/// findings, and retractions of evaluations entered twice.
fn history(villages: usize, choices: &[u8]) -> Vec<Batch> {
    let mut by_day: Vec<(i32, ProposedEvent)> = Vec::new();
    let mut c = choices.iter().cycle().copied();
    let mut next = move || c.next().unwrap_or(0);
    for v in 0..villages {
        let vid = format!("V{v}");
        let pid = format!("P{v}");
        by_day.push((0, line(format!(r#"{{"type":"VillageRegistered","occurred_on":"{}","payload":{{"village_id":"{vid}","name":"村{v}","county":"藤县","township":"镇"}}}}"#, day(0)))));
        by_day.push((2, line(format!(r#"{{"type":"SecretaryPosted","occurred_on":"{}","payload":{{"posting_id":"{pid}","person_id":"C{v}","person_name":"书记{v}","village_id":"{vid}","sending_unit":"市委组织部","probation":false}}}}"#, day(2)))));
        for k in 0..(1 + next() % 3) {
            let cid = format!("K{v}-{k}");
            let made = 10 + i32::from(next() % 60);
            let due = made + 60 + i32::from(next() % 120);
            by_day.push((made, line(format!(r#"{{"type":"CommitmentMade","occurred_on":"{}","payload":{{"commitment_id":"{cid}","posting_id":"{pid}","village_id":"{vid}","kind":"practical","content":"修路","due":"{}"}}}}"#, day(made), day(due)))));
            match next() % 4 {
                0 => {
                    let on = due - 5;
                    by_day.push((on, line(format!(r#"{{"type":"CommitmentFulfilled","occurred_on":"{}","payload":{{"commitment_id":"{cid}","evidence":""}}}}"#, day(on)))));
                }
                1 => {
                    let on = due + 10;
                    by_day.push((on, line(format!(r#"{{"type":"CommitmentFulfilled","occurred_on":"{}","payload":{{"commitment_id":"{cid}","evidence":""}}}}"#, day(on)))));
                }
                2 => {
                    let on = due - 1;
                    by_day.push((on, line(format!(r#"{{"type":"CommitmentDeadlineExtended","occurred_on":"{}","payload":{{"commitment_id":"{cid}","new_due":"{}","reason":"雨季","approved_by":"县委"}}}}"#, day(on), day(due + 30)))));
                }
                _ => {}
            }
        }
        let rid = format!("R{v}");
        let planned = 20 + i32::from(next() % 30);
        let due = planned + 100;
        by_day.push((planned, line(format!(r#"{{"type":"ProjectPlanned","occurred_on":"{}","payload":{{"project_id":"{rid}","village_id":"{vid}","posting_id":"{pid}","kind":"road","planned_quantity":{},"unit":"metre","budget_fen":100000,"due":"{}"}}}}"#, day(planned), 1000 + u32::from(next()) * 10, day(due)))));
        if next() % 3 != 0 {
            let on = due - 10 + i32::from(next() % 20);
            by_day.push((on, line(format!(r#"{{"type":"ProjectCompleted","occurred_on":"{}","payload":{{"project_id":"{rid}","quantity":1500,"cost_fen":90000}}}}"#, day(on)))));
        }
        let did = format!("D{v}");
        by_day.push((30, line(format!(r#"{{"type":"DonationPledged","occurred_on":"{}","payload":{{"pledge_id":"{did}","donor_id":"E{v}","donor_name":"企业{v}","donor_kind":"enterprise","village_id":"{vid}","amount_fen":1000000,"purpose":"","due":"{}"}}}}"#, day(30), day(200)))));
        for r in 0..(next() % 3) {
            let on = 40 + i32::from(r) * 50;
            by_day.push((on, line(format!(r#"{{"type":"DonationReceived","occurred_on":"{}","payload":{{"pledge_id":"{did}","amount_fen":300000,"receipt_no":"N{v}-{r}"}}}}"#, day(on)))));
        }
        let on = 150 + i32::from(next() % 100);
        let (s, b, d) = (
            100 + u64::from(next()),
            20 + u64::from(next() % 40),
            u64::from(next() % 30),
        );
        let eval = |id: &str| {
            line(format!(
                r#"{{"type":"EvaluationHeld","occurred_on":"{}","event_id":"{}","payload":{{"evaluation_id":"{id}","posting_id":"{pid}","village_id":"{vid}","electorate":1000,"satisfied":{s},"basically_satisfied":{b},"dissatisfied":{d},"invalid":0}}}}"#,
                day(on),
                uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id.as_bytes())
            ))
        };
        by_day.push((on, eval(&format!("E{v}"))));
        if next() % 2 == 0 {
            // Entered twice; the second is retracted a few days later.
            let twice = format!("E{v}-dup");
            by_day.push((on, eval(&twice)));
            let target = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, twice.as_bytes());
            by_day.push((on + 3, line(format!(r#"{{"type":"Retracted","occurred_on":"{}","payload":{{"target_event_id":"{target}","reason":"entered twice","approved_by":"县委组织部"}}}}"#, day(on + 3)))));
        }
        if next() % 2 == 0 {
            let iid = format!("I{v}");
            let on = 100 + i32::from(next() % 50);
            by_day.push((on, line(format!(r#"{{"type":"InspectionRecorded","occurred_on":"{}","payload":{{"inspection_id":"{iid}","village_id":"{vid}","posting_id":"{pid}","inspector":"督查组","findings":[{{"finding_id":"F1","severity":"minor","text":"台账"}}]}}}}"#, day(on)))));
            if next() % 2 == 0 {
                by_day.push((on + 20, line(format!(r#"{{"type":"FindingRectified","occurred_on":"{}","payload":{{"inspection_id":"{iid}","finding_id":"F1","evidence":""}}}}"#, day(on + 20)))));
            }
        }
    }
    // Record day by day (stable: an event stays after those it depends on within a day).
    by_day.sort_by_key(|(d, _)| *d);
    let mut batches: Vec<Batch> = Vec::new();
    for (d, ev) in by_day {
        let at =
            Timestamp::cst_midnight(day(d)).micros() + 10 * 3_600_000_000 + i64::from(d).max(0);
        match batches.last_mut() {
            Some(b) if b.at.micros() == at => b.events.push(ev),
            _ => batches.push(Batch {
                at: Timestamp::from_micros(at),
                events: vec![ev],
            }),
        }
    }
    batches
}

fn store(dir: &std::path::Path, batches: &[Batch], limit: usize) -> SledLog {
    let log = SledLog::init(dir, "timetravel.test/taizhang", true).unwrap();
    let mut n = 0;
    for b in batches {
        if n >= limit {
            break;
        }
        let take = (limit - n).min(b.events.len());
        log.append(
            b.events[..take].to_vec(),
            "recorder",
            Source::Client,
            Some(b.at),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        n += take;
    }
    log
}

/// Everything the projections show as of `size`, as JSON text.
fn views(log: &SledLog, size: u64) -> String {
    let ledgers = reviews::ledgers(log, size).unwrap();
    let report = serde_json::to_string(&ledgers.report(None)).unwrap();
    let audit = serde_json::to_string(&reviews::audit(log, size, 30).unwrap()).unwrap();
    let timeline =
        serde_json::to_string(&reviews::timeline(log, size, "village/V0").unwrap()).unwrap();
    let review = reviews::compute(log, size, day(0), day(365), None)
        .unwrap()
        .to_jcs();
    format!("{report}\n{audit}\n{timeline}\n{review}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn as_of_n_equals_a_store_of_the_first_n(villages in 1usize..4, choices in proptest::collection::vec(any::<u8>(), 1..40), cut in 0.0f64..1.0) {
        let batches = history(villages, &choices);
        let total: usize = batches.iter().map(|b| b.events.len()).sum();
        let n = ((total as f64) * cut) as usize;
        let dir = tempfile::tempdir().unwrap();
        let full = store(&dir.path().join("full"), &batches, total);
        let part = store(&dir.path().join("part"), &batches, n);
        prop_assert_eq!(part.size(), n as u64);
        prop_assert_eq!(full.root(n as u64).unwrap(), part.root(n as u64).unwrap());
        prop_assert_eq!(views(&full, n as u64), views(&part, n as u64));
        // As of an instant: every batch recorded up to then.
        let mut recorded = 0u64;
        for b in &batches {
            recorded += b.events.len() as u64;
            prop_assert_eq!(reviews::size_at(&full, b.at).unwrap(), recorded);
            prop_assert_eq!(reviews::size_at(&full, Timestamp::from_micros(b.at.micros() - 1)).unwrap(), recorded - b.events.len() as u64);
        }
    }
}

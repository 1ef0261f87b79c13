//! The model-checked fuzz target: operations read from the input run against a `SledLog` in a
//! temporary directory and against a plain model, a `Vec` of recorded events.
//!
//! The model ([`Model`]) judges batches by formats.md §2 idempotency, expected versions, the
//! registry refusals of domain.md §2 and the simulated clock. It is shared with the proptest
//! `tests/model.rs`, which draws its operations from strategies; this target takes them from
//! bytes, so that a coverage-guided fuzzer can steer them and a crash replays from one file.
//! The store runs on a simulated clock so that the model predicts every envelope field except
//! the ids the log assigns itself.

use std::collections::{HashMap, HashSet};

use events::import::parse_line;
use events::{EventId, Payload, ProposedEvent, RecordedEvent, Timestamp};

use crate::checkpoint;
use crate::merkle::{Hash, MemoryTree};
use crate::store::{AppendError, Appended, Log, SledLog, Source};

const ACTOR: &str = "fuzz";
const ORIGIN: &str = "fuzz.example/model";
/// Operations per input: enough to grow, reopen and prove a small log, few enough that one
/// input runs in well under a second.
const OPS_MAX: usize = 48;

/// Reads the input a byte at a time; an exhausted input reads zeros and ends the run.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn index(&mut self) -> usize {
        usize::from(self.next()) << 8 | usize::from(self.next())
    }
}

/// The plain model of the store: the accepted events in order, and what a `Vec` scan gives.
pub struct Model {
    pub events: Vec<RecordedEvent>,
    pub ids: HashMap<EventId, usize>,
    pub villages: Vec<String>,
    /// Never reused, also across refused batches, so that a new name is new.
    pub next_village: u64,
    next_id: u128,
    /// The simulated clock, in microseconds; the caller moves it.
    pub clock_us: i64,
    /// The `recorded_at` of the last batch that wrote something: the store's clock floor.
    last_recorded: Option<Timestamp>,
    /// The actor every append of the run names.
    actor: &'static str,
}

/// What the model expects an event of an accepted batch to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub position: u64,
    /// `None`: the log assigns a fresh id.
    pub event_id: Option<EventId>,
    pub stream: String,
    pub stream_version: u64,
    pub recorded_at: Timestamp,
    pub written: bool,
}

pub fn village_registered(village_id: &str, name: &str) -> ProposedEvent {
    parse_line(&format!(
        r#"{{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{{"village_id":"{village_id}","name":"{name}","county":"岑溪市","township":"波塘镇"}}}}"#
    ))
    .expect("valid line")
    .event
}

pub fn village_classified(village_id: &str, year: u64) -> ProposedEvent {
    parse_line(&format!(
        r#"{{"type":"VillageClassified","occurred_on":"2016-01-10","payload":{{"village_id":"{village_id}","year":{year},"obstacle":"infrastructure"}}}}"#
    ))
    .expect("valid line")
    .event
}

impl Model {
    /// An empty log whose simulated clock starts at midnight (UTC+8) of 2016-06-01.
    pub fn new(actor: &'static str) -> Model {
        Model {
            events: Vec::new(),
            ids: HashMap::new(),
            villages: Vec::new(),
            next_village: 0,
            next_id: 0,
            clock_us: Timestamp::cst_midnight("2016-06-01".parse().expect("a date")).micros(),
            last_recorded: None,
            actor,
        }
    }

    pub fn stream_len(&self, stream: &str) -> u64 {
        self.events.iter().filter(|e| e.stream == stream).count() as u64
    }

    pub fn stream_events(&self, stream: &str) -> Vec<RecordedEvent> {
        self.events
            .iter()
            .filter(|e| e.stream == stream)
            .cloned()
            .collect()
    }

    pub fn streams(&self) -> Vec<String> {
        let mut s: Vec<String> = self.events.iter().map(|e| e.stream.clone()).collect();
        s.sort();
        s.dedup();
        s
    }

    /// A client event id: any UUID (domain.md §2), never a UUIDv7 the log could assign.
    pub fn fresh_id(&mut self) -> EventId {
        self.next_id += 1;
        EventId(uuid::Uuid::from_u128(
            0xf022_0000_0000_0000_0000_0000_0000_0000 | self.next_id,
        ))
    }

    /// A batch of 1–4 events read from the input. Expected versions are those a client would
    /// send: as if every earlier event of the batch were accepted.
    fn build_from(&mut self, input: &mut Bytes) -> Vec<ProposedEvent> {
        let len = 1 + usize::from(input.next() % 4);
        let mut batch: Vec<ProposedEvent> = Vec::new();
        let mut batch_villages: Vec<String> = Vec::new();
        for _ in 0..len {
            let kind = input.next();
            let pick = usize::from(input.next());
            let expect = input.next() % 8;
            let known: Vec<String> = self
                .villages
                .iter()
                .chain(&batch_villages)
                .cloned()
                .collect();
            let mut ev = match kind % 8 {
                0..=2 => {
                    self.next_village += 1;
                    let v = format!("V-{}", self.next_village);
                    batch_villages.push(v.clone());
                    let mut ev = village_registered(&v, "新村");
                    if kind & 0x80 != 0 {
                        ev.event_id = Some(self.fresh_id());
                    }
                    ev
                }
                3 if !known.is_empty() => {
                    village_registered(&known[pick % known.len()], "重复登记")
                }
                4 if !known.is_empty() => {
                    let mut ev =
                        village_classified(&known[pick % known.len()], 2016 + u64::from(kind >> 6));
                    if kind & 0x20 != 0 {
                        ev.event_id = Some(self.fresh_id());
                    }
                    ev
                }
                6 | 7 => {
                    // An earlier event's id again: the same content (a retry) or other content.
                    let earlier: Vec<(EventId, events::Date, Payload)> = self
                        .events
                        .iter()
                        .map(|e| (e.event_id, e.occurred_on, e.payload.clone()))
                        .chain(batch.iter().filter_map(|e| {
                            e.event_id.map(|id| (id, e.occurred_on, e.payload.clone()))
                        }))
                        .collect();
                    if earlier.is_empty() {
                        village_classified("NOBODY", 2017)
                    } else {
                        let (id, on, payload) = earlier[pick % earlier.len()].clone();
                        ProposedEvent {
                            occurred_on: if kind % 8 == 6 { on } else { on.add_days(1) },
                            payload,
                            event_id: Some(id),
                            expected_version: None,
                        }
                    }
                }
                _ => village_classified("NOBODY", 2016),
            };
            let stream = ev.payload.stream().expect("no retractions generated");
            let right = self.stream_len(&stream)
                + batch
                    .iter()
                    .filter(|e| e.payload.stream().as_deref() == Some(stream.as_str()))
                    .count() as u64;
            ev.expected_version = match expect {
                0..=3 => None,
                4..=6 => Some(right),
                _ => Some(right + 1),
            };
            batch.push(ev);
        }
        batch
    }

    /// Judges a batch as domain.md §2 says: one event after another, each against the log
    /// plus the batch's earlier events; the first refused event refuses the batch.
    pub fn judge(
        &self,
        batch: &[ProposedEvent],
        at: Timestamp,
    ) -> Result<Vec<Expected>, AppendError> {
        if self.last_recorded.is_some_and(|last| at < last) {
            return Err(AppendError::Clock(String::new()));
        }
        let mut out: Vec<Expected> = Vec::new();
        let mut accepted: Vec<(EventId, &ProposedEvent, Expected)> = Vec::new();
        let mut heads: HashMap<String, u64> = HashMap::new();
        let mut villages: HashSet<&str> = self.villages.iter().map(String::as_str).collect();
        let mut classified: HashSet<(String, u64)> = self
            .events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::VillageClassified(p) => Some((p.village_id.to_string(), p.year)),
                _ => None,
            })
            .collect();
        let mut position = self.events.len() as u64;
        for (index, ev) in batch.iter().enumerate() {
            let event_type = ev.payload.event_type();
            if let Some(id) = ev.event_id {
                let committed = self.ids.get(&id).map(|&p| {
                    let e = &self.events[p];
                    let x = Expected {
                        position: e.position,
                        event_id: Some(id),
                        stream: e.stream.clone(),
                        stream_version: e.stream_version,
                        recorded_at: e.recorded_at,
                        written: false,
                    };
                    (e.occurred_on, &e.payload, x)
                });
                let in_batch = accepted.iter().find(|(i, _, _)| *i == id).map(|(_, e, x)| {
                    let x = Expected {
                        written: false,
                        ..x.clone()
                    };
                    (e.occurred_on, &e.payload, x)
                });
                if let Some((on, payload, answer)) = committed.or(in_batch) {
                    if on == ev.occurred_on && *payload == ev.payload {
                        out.push(answer);
                        continue;
                    }
                    return Err(AppendError::EventIdConflict {
                        index,
                        event_id: id,
                    });
                }
            }
            let stream = ev.payload.stream().expect("no retractions generated");
            let version = *heads
                .entry(stream.clone())
                .or_insert_with(|| self.stream_len(&stream));
            if let Some(expected) = ev.expected_version {
                if expected != version {
                    return Err(AppendError::VersionConflict {
                        index,
                        stream,
                        expected,
                        actual: version,
                    });
                }
            }
            let refused = |field: &str| AppendError::Refused {
                index,
                event_type,
                field: field.into(),
                reason: String::new(),
            };
            match &ev.payload {
                Payload::VillageRegistered(p) => {
                    if !villages.insert(p.village_id.as_str()) {
                        return Err(refused("payload.village_id"));
                    }
                }
                Payload::VillageClassified(p) => {
                    if !villages.contains(p.village_id.as_str()) {
                        return Err(refused("payload.village_id"));
                    }
                    if !classified.insert((p.village_id.to_string(), p.year)) {
                        return Err(refused("payload.year"));
                    }
                }
                other => unreachable!("not generated: {:?}", other.event_type()),
            }
            heads.insert(stream.clone(), version + 1);
            let x = Expected {
                position,
                event_id: ev.event_id,
                stream,
                stream_version: version,
                recorded_at: at,
                written: true,
            };
            if let Some(id) = ev.event_id {
                accepted.push((id, ev, x.clone()));
            }
            out.push(x);
            position += 1;
        }
        Ok(out)
    }

    /// Takes in an accepted batch, with the ids the log assigned.
    pub fn commit(&mut self, batch: Vec<ProposedEvent>, appended: &[Appended]) {
        for (ev, a) in batch.into_iter().zip(appended) {
            if !a.written {
                continue;
            }
            if let Payload::VillageRegistered(p) = &ev.payload {
                self.villages.push(p.village_id.to_string());
            }
            self.last_recorded = Some(a.recorded_at);
            self.ids.insert(a.event_id, self.events.len());
            self.events.push(RecordedEvent {
                position: a.position,
                event_id: a.event_id,
                stream: a.stream.clone(),
                stream_version: a.stream_version,
                schema: 1,
                occurred_on: ev.occurred_on,
                recorded_at: a.recorded_at,
                actor: self.actor.into(),
                payload: ev.payload,
            });
        }
    }

    pub fn leaves(&self) -> Vec<Hash> {
        self.events.iter().map(|e| e.leaf_sha256().0).collect()
    }
}

/// Whether the store's refusal is the one the model names (the reason's wording is free).
pub fn same_refusal(store: &AppendError, model: &AppendError) -> bool {
    match (store, model) {
        (
            AppendError::Refused {
                index: a,
                event_type: t,
                field: f,
                ..
            },
            AppendError::Refused {
                index: b,
                event_type: u,
                field: g,
                ..
            },
        ) => a == b && t == u && f == g,
        (AppendError::Clock(_), AppendError::Clock(_)) => true,
        (a, b) => a == b,
    }
}

/// Runs the operations the input describes against a fresh store and the model.
pub fn model(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("store");
    let mut log = Some(SledLog::init(&path, ORIGIN, true).expect("init"));
    let mut model = Model::new(ACTOR);
    let mut input = Bytes { data };
    for _ in 0..OPS_MAX {
        if input.data.is_empty() {
            break;
        }
        let l = log.as_ref().expect("open");
        match input.next() % 8 {
            0..=2 => append(l, &mut model, &mut input),
            3 => {
                drop(log.take());
                let reopened = SledLog::open(&path).expect("reopen");
                assert_eq!(reopened.info().size, model.events.len() as u64);
                log = Some(reopened);
            }
            4 => {
                let size = model.events.len();
                let from = input.index() % (size + 2);
                let to = from + input.index() % 40;
                let got: Vec<RecordedEvent> = l
                    .read(from as u64, to as u64)
                    .map(|r| r.expect("read").event)
                    .collect();
                assert_eq!(
                    got,
                    &model.events[from.min(size)..to.min(size)],
                    "read {from}..{to}"
                );
            }
            5 => {
                let streams = model.streams();
                let stream = match streams.get(input.index() % streams.len().max(1)) {
                    Some(s) => s.clone(),
                    None => "village/NOBODY".to_string(),
                };
                let from = u64::from(input.next() % 4);
                let limit = u64::from(input.next() % 6);
                let want: Vec<RecordedEvent> = model
                    .events
                    .iter()
                    .filter(|e| e.stream == stream)
                    .skip(from as usize)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                assert_eq!(
                    l.read_stream(&stream, from, limit).expect("read_stream"),
                    want
                );
                assert_eq!(
                    l.stream_len(&stream).expect("stream_len"),
                    model.stream_len(&stream)
                );
            }
            6 => {
                let pick = input.index();
                if pick % 4 == 0 || model.events.is_empty() {
                    let id = EventId(uuid::Uuid::from_u128(pick as u128));
                    assert_eq!(l.event(id).expect("event"), None);
                } else {
                    let ev = &model.events[pick % model.events.len()];
                    assert_eq!(l.event(ev.event_id).expect("event").as_ref(), Some(ev));
                }
            }
            _ => prove(l, &model, &mut input),
        }
        assert_eq!(
            log.as_ref().expect("open").size(),
            model.events.len() as u64
        );
    }
    let l = log.as_ref().expect("open");
    let size = model.events.len() as u64;
    let read: Vec<RecordedEvent> = l.read(0, size).map(|r| r.expect("read").event).collect();
    assert_eq!(read, model.events, "the log's events");
    let verified = crate::ops::verify(l, |_| {}).expect("verify");
    assert_eq!(verified.size, size);
}

fn append(l: &SledLog, model: &mut Model, input: &mut Bytes) {
    let batch = model.build_from(input);
    let step = input.next();
    // 0xff turns the clock back a second: the simulated clock must refuse a batch that would
    // write, and still answer a pure retry.
    if step == 0xff {
        model.clock_us -= 1_000_000;
    } else {
        model.clock_us += i64::from(step) * 3_600_000_000;
    }
    append_and_compare(l, model, batch);
}

/// Appends `batch` at the model's clock to the store and to the model, and asserts that both
/// give the same answer: the same envelopes (ids the log assigns are fresh UUIDv7s), or the
/// same refusal with nothing written.
pub fn append_and_compare(l: &SledLog, model: &mut Model, batch: Vec<ProposedEvent>) {
    let at = Timestamp::from_micros(model.clock_us);
    let expected = model.judge(&batch, at);
    let size_before = l.size();
    let got = l.append(batch.clone(), model.actor, Source::Client, Some(at));
    match (&got, &expected) {
        (Ok(appended), Ok(expected)) => {
            assert_eq!(appended.len(), expected.len());
            for (a, x) in appended.iter().zip(expected) {
                let id_ok = match x.event_id {
                    Some(id) => a.event_id == id,
                    None => {
                        a.event_id.0.get_version_num() == 7 && !model.ids.contains_key(&a.event_id)
                    }
                };
                assert!(id_ok, "{a:?} vs {x:?}");
                assert_eq!(
                    (
                        a.position,
                        &a.stream,
                        a.stream_version,
                        a.recorded_at,
                        a.written
                    ),
                    (
                        x.position,
                        &x.stream,
                        x.stream_version,
                        x.recorded_at,
                        x.written
                    ),
                    "{batch:?}"
                );
            }
            model.commit(batch, appended);
        }
        (Err(e), Err(x)) => {
            // Events are judged one after another: the first fault is reported.
            assert!(
                same_refusal(e, x),
                "store: {e:?}\nmodel: {x:?}\nbatch: {batch:?}"
            );
            assert_eq!(l.size(), size_before, "a refused batch wrote something");
        }
        _ => panic!("store: {got:?}\nmodel: {expected:?}\nbatch: {batch:?}"),
    }
}

/// Proofs from the store must match the tree of the model's own leaves; the checkpoint the
/// store signs must verify and name that tree.
fn prove(l: &SledLog, model: &Model, input: &mut Bytes) {
    let total = model.events.len();
    if total == 0 {
        assert!(l.inclusion_proof(0, 0).is_err());
        assert!(l.consistency_proof(1, 1).is_err());
        return;
    }
    let n = 1 + input.index() % total;
    let i = input.index() % n;
    let m = 1 + input.index() % n;
    let leaves = model.leaves();
    let root_of = |k: usize| MemoryTree::from_leaves(leaves[..k].iter().copied()).root();
    let p = l
        .inclusion_proof(i as u64, n as u64)
        .expect("inclusion proof");
    assert_eq!(
        (p.leaf_index, p.tree_size, p.leaf_sha256),
        (i as u64, n as u64, leaves[i])
    );
    assert_eq!(p.root, root_of(n));
    p.verify().expect("inclusion proof verifies");
    let c = l
        .consistency_proof(m as u64, n as u64)
        .expect("consistency proof");
    assert_eq!((c.first_root, c.second_root), (root_of(m), root_of(n)));
    c.verify().expect("consistency proof verifies");
    assert!(l.inclusion_proof(n as u64, n as u64).is_err());
    assert!(l.inclusion_proof(0, total as u64 + 1).is_err());
    assert!(l.consistency_proof(0, n as u64).is_err());
    if input.next() % 2 == 0 {
        let note = l.sign_checkpoint().expect("sign");
        let verifier = checkpoint::VerifierKey::parse(&l.verifier_key()).expect("verifier");
        let cp = checkpoint::parse_signed_note(&note, &verifier).expect("our note verifies");
        assert_eq!((cp.size(), cp.root()), (total as u64, root_of(total)));
    }
}

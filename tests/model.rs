//! Property test of the store against a plain model: any sequence of batched appends, reads,
//! lookups, reopens and proofs behaves like a `Vec` of recorded events plus a map of event ids.
//!
//! The model (`taizhang::fuzzing::model::Model`, shared with the model-checked fuzz target)
//! knows the rules an append is judged by (formats.md §2 idempotency, expected versions, and
//! the two registry refusals of domain.md §2 the generated events can hit), and judges each
//! batch one event after another, as domain.md §2 says. The store runs on a
//! simulated clock so that the model predicts every envelope field except the ids the log
//! assigns itself.

use std::collections::BTreeMap;
use std::path::Path;

use events::{EventId, ProposedEvent, RecordedEvent, Timestamp};
use proptest::prelude::*;
use taizhang::fuzzing::model::{append_and_compare, village_classified, village_registered, Model};
use taizhang::merkle::{ConsistencyProof, Hash, InclusionProof, MemoryTree};
use taizhang::store::{AppendError, Log, SledLog, Source};

const ACTOR: &str = "model";

/// How a generated event states `expected_version`.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Absent,
    Right,
    Wrong,
}

/// One generated event, resolved against the model's state when the batch is built.
#[derive(Debug, Clone)]
enum Spec {
    /// A village never registered (valid), with or without a client event id.
    NewVillage { explicit_id: bool, expect: Expect },
    /// A second registration of a known village: refused.
    DuplicateVillage { pick: usize },
    /// A classification of a known village (refused when that year is classified already).
    Classify {
        pick: usize,
        year: u64,
        expect: Expect,
        explicit_id: bool,
    },
    /// A classification of a village nobody registered: refused.
    ClassifyUnknown,
    /// An earlier event's id again: with the same content (a retry) or different content.
    Repeat {
        pick: usize,
        same: bool,
        expect: Expect,
    },
}

#[derive(Debug, Clone)]
enum Op {
    /// `poison_last` adds an event the log refuses at the end: nothing of the batch is written.
    Append {
        specs: Vec<Spec>,
        poison_last: bool,
        clock_step_s: i64,
    },
    ReadRange {
        from: usize,
        len: usize,
    },
    ReadStream {
        pick: usize,
        from: u64,
        limit: u64,
    },
    GetEvent {
        pick: usize,
        unknown: bool,
    },
    Reopen,
    Prove {
        leaf: usize,
        size: usize,
        first: usize,
        byte: usize,
    },
}

// Faults are kept rare enough per event that most batches of up to five are accepted, so the
// log grows and later operations have something to read, repeat and prove.
fn expect_strategy() -> impl Strategy<Value = Expect> {
    prop_oneof![
        8 => Just(Expect::Absent),
        6 => Just(Expect::Right),
        1 => Just(Expect::Wrong),
    ]
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    prop_oneof![
        10 => (any::<bool>(), expect_strategy())
            .prop_map(|(explicit_id, expect)| Spec::NewVillage { explicit_id, expect }),
        1 => any::<usize>().prop_map(|pick| Spec::DuplicateVillage { pick }),
        8 => (any::<usize>(), 2016u64..2026, expect_strategy(), any::<bool>()).prop_map(
            |(pick, year, expect, explicit_id)| Spec::Classify { pick, year, expect, explicit_id }
        ),
        1 => Just(Spec::ClassifyUnknown),
        3 => (any::<usize>(), prop::bool::weighted(0.8), expect_strategy())
            .prop_map(|(pick, same, expect)| Spec::Repeat { pick, same, expect }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (prop::collection::vec(spec_strategy(), 1..=5), prop::bool::weighted(0.1), 0i64..200_000)
            .prop_map(|(specs, poison_last, clock_step_s)| Op::Append { specs, poison_last, clock_step_s }),
        2 => (any::<usize>(), 0usize..40).prop_map(|(from, len)| Op::ReadRange { from, len }),
        2 => (any::<usize>(), 0u64..4, 1u64..6)
            .prop_map(|(pick, from, limit)| Op::ReadStream { pick, from, limit }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, unknown)| Op::GetEvent { pick, unknown }),
        1 => Just(Op::Reopen),
        3 => (any::<usize>(), any::<usize>(), any::<usize>(), 0usize..32)
            .prop_map(|(leaf, size, first, byte)| Op::Prove { leaf, size, first, byte }),
    ]
}

/// Turns generated specs into concrete events. Expected versions are computed as if every
/// earlier event of the batch were accepted — which is what a client would send.
fn build(model: &mut Model, specs: &[Spec], poison_last: bool) -> Vec<ProposedEvent> {
    let mut batch: Vec<ProposedEvent> = Vec::new();
    let mut batch_villages: Vec<String> = Vec::new();
    let version = |model: &Model, batch: &[ProposedEvent], stream: &str| {
        model.stream_len(stream)
            + batch
                .iter()
                .filter(|e| e.payload.stream().as_deref() == Some(stream))
                .count() as u64
    };
    let expected = |e: Expect, right: u64| match e {
        Expect::Absent => None,
        Expect::Right => Some(right),
        Expect::Wrong => Some(right + 1),
    };
    let mut specs: Vec<Spec> = specs.to_vec();
    if poison_last {
        specs.push(Spec::ClassifyUnknown);
    }
    for spec in specs {
        let known: Vec<String> = model
            .villages
            .iter()
            .chain(&batch_villages)
            .cloned()
            .collect();
        let spec = match spec {
            Spec::DuplicateVillage { .. } | Spec::Classify { .. } if known.is_empty() => {
                Spec::NewVillage {
                    explicit_id: false,
                    expect: Expect::Absent,
                }
            }
            Spec::Repeat { .. } if model.events.is_empty() && batch.is_empty() => {
                Spec::NewVillage {
                    explicit_id: true,
                    expect: Expect::Absent,
                }
            }
            s => s,
        };
        let ev = match spec {
            Spec::NewVillage {
                explicit_id,
                expect,
            } => {
                model.next_village += 1;
                let v = format!("V-{}", model.next_village);
                let mut ev = village_registered(&v, "新村");
                ev.expected_version =
                    expected(expect, version(model, &batch, &format!("village/{v}")));
                if explicit_id {
                    ev.event_id = Some(model.fresh_id());
                }
                batch_villages.push(v);
                ev
            }
            Spec::DuplicateVillage { pick } => {
                village_registered(&known[pick % known.len()], "重复登记")
            }
            Spec::Classify {
                pick,
                year,
                expect,
                explicit_id,
            } => {
                let v = &known[pick % known.len()];
                let mut ev = village_classified(v, year);
                ev.expected_version =
                    expected(expect, version(model, &batch, &format!("village/{v}")));
                if explicit_id {
                    ev.event_id = Some(model.fresh_id());
                }
                ev
            }
            Spec::ClassifyUnknown => village_classified("NOBODY", 2016),
            Spec::Repeat { pick, same, expect } => {
                // Repeat a committed event, or one earlier in this batch that has an id.
                let earlier: Vec<(EventId, events::Date, events::Payload)> = model
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
                    let stream = payload.stream().expect("no retractions generated");
                    let right = version(model, &batch, &stream);
                    ProposedEvent {
                        occurred_on: if same { on } else { on.add_days(1) },
                        payload,
                        event_id: Some(id),
                        expected_version: expected(expect, right),
                    }
                }
            }
        };
        batch.push(ev);
    }
    batch
}

/// The store's whole observable state equals the model's.
fn assert_matches(log: &SledLog, model: &Model) {
    let size = model.events.len() as u64;
    assert_eq!(log.size(), size, "size");
    let read: Vec<_> = log.read(0, size).map(|r| r.expect("read")).collect();
    assert_eq!(read.len() as u64, size);
    for (rec, ev) in read.iter().zip(&model.events) {
        assert_eq!(&rec.event, ev, "event at {}", ev.position);
        assert_eq!(rec.leaf_sha256, ev.leaf_sha256(), "leaf at {}", ev.position);
    }
    for stream in model.streams() {
        assert_eq!(
            log.stream_len(&stream).unwrap(),
            model.stream_len(&stream),
            "{stream}"
        );
        assert_eq!(
            log.read_stream(&stream, 0, u64::MAX).unwrap(),
            model.stream_events(&stream),
            "{stream}"
        );
    }
    for (id, &p) in &model.ids {
        assert_eq!(
            log.event(*id).unwrap().as_ref(),
            Some(&model.events[p]),
            "{id}"
        );
    }
}

/// Flips one byte of each hash of a proof in turn; `check` must refuse every one.
fn each_tampered<P: Clone>(
    proof: &P,
    hashes: impl Fn(&mut P) -> Vec<&mut Hash>,
    byte: usize,
    check: impl Fn(&P) -> bool,
) {
    let n = hashes(&mut proof.clone()).len();
    for k in 0..n {
        let mut p = proof.clone();
        hashes(&mut p)[k][byte] ^= 0x01;
        assert!(
            !check(&p),
            "a proof with byte {byte} of hash {k} flipped verifies"
        );
    }
}

fn prove(log: &SledLog, model: &Model, leaf: usize, size: usize, first: usize, byte: usize) {
    let total = model.events.len();
    if total == 0 {
        assert!(log.inclusion_proof(0, 0).is_err());
        assert!(log.consistency_proof(1, 1).is_err());
        return;
    }
    let n = 1 + size % total;
    let i = leaf % n;
    let m = 1 + first % n;
    // The roots an auditor computes from the model's events alone.
    let leaves: Vec<Hash> = model.events.iter().map(|e| e.leaf_sha256().0).collect();
    let root_of = |k: usize| MemoryTree::from_leaves(leaves[..k].iter().copied()).root();

    let p: InclusionProof = log.inclusion_proof(i as u64, n as u64).unwrap();
    assert_eq!((p.leaf_index, p.tree_size), (i as u64, n as u64));
    assert_eq!(p.leaf_sha256, leaves[i]);
    assert_eq!(p.root, log.root(n as u64).unwrap());
    assert_eq!(p.root, root_of(n));
    p.verify().unwrap();
    each_tampered(
        &p,
        |p| {
            let mut v = vec![&mut p.leaf_sha256, &mut p.root];
            v.extend(p.path.iter_mut());
            v
        },
        byte,
        |p| p.verify().is_ok(),
    );

    let c: ConsistencyProof = log.consistency_proof(m as u64, n as u64).unwrap();
    assert_eq!(c.first_root, log.root(m as u64).unwrap());
    assert_eq!(c.second_root, log.root(n as u64).unwrap());
    assert_eq!(c.first_root, root_of(m));
    assert_eq!(c.second_root, root_of(n));
    c.verify().unwrap();
    each_tampered(
        &c,
        |c| {
            let mut v = vec![&mut c.first_root, &mut c.second_root];
            v.extend(c.path.iter_mut());
            v
        },
        byte,
        |c| c.verify().is_ok(),
    );
    // Out of range is refused, not answered.
    assert!(log.inclusion_proof(n as u64, n as u64).is_err());
    assert!(log.inclusion_proof(0, total as u64 + 1).is_err());
    assert!(log.consistency_proof(0, n as u64).is_err());
}

fn run_case(dir: &Path, ops: Vec<Op>) {
    let data = dir.join("store");
    let mut log = Some(SledLog::init(&data, "model.test/taizhang", true).unwrap());
    let mut model = Model::new(ACTOR);
    for op in ops {
        let l = log.as_ref().expect("open");
        match op {
            Op::Append {
                specs,
                poison_last,
                clock_step_s,
            } => {
                let batch = build(&mut model, &specs, poison_last);
                model.clock_us += clock_step_s * 1_000_000;
                append_and_compare(l, &mut model, batch);
            }
            Op::ReadRange { from, len } => {
                let size = model.events.len();
                let from = from % (size + 2);
                let to = from + len;
                let got: Vec<RecordedEvent> = l
                    .read(from as u64, to as u64)
                    .map(|r| r.unwrap().event)
                    .collect();
                let want = &model.events[from.min(size)..to.min(size)];
                assert_eq!(got, want, "read {from}..{to}");
            }
            Op::ReadStream { pick, from, limit } => {
                let streams = model.streams();
                let stream = match streams.get(pick % streams.len().max(1)) {
                    Some(s) => s.clone(),
                    None => "village/NOBODY".to_string(),
                };
                let want: Vec<RecordedEvent> = model
                    .stream_events(&stream)
                    .into_iter()
                    .skip(from as usize)
                    .take(limit as usize)
                    .collect();
                assert_eq!(l.read_stream(&stream, from, limit).unwrap(), want);
            }
            Op::GetEvent { pick, unknown } => {
                if unknown || model.events.is_empty() {
                    let id = EventId(uuid::Uuid::from_u128(pick as u128));
                    assert_eq!(l.event(id).unwrap(), None);
                } else {
                    let ev = &model.events[pick % model.events.len()];
                    assert_eq!(l.event(ev.event_id).unwrap().as_ref(), Some(ev));
                }
            }
            Op::Reopen => {
                drop(log.take());
                let reopened = SledLog::open(&data).unwrap();
                assert_eq!(reopened.info().size, model.events.len() as u64);
                log = Some(reopened);
            }
            Op::Prove {
                leaf,
                size,
                first,
                byte,
            } => prove(l, &model, leaf, size, first, byte),
        }
        assert_matches(log.as_ref().unwrap(), &model);
    }
    let l = log.as_ref().unwrap();
    let verified = taizhang::ops::verify(l, |_| {}).unwrap();
    assert_eq!(verified.size, model.events.len() as u64);
    // Every village stream the model holds has gapless versions 0..len.
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &model.events {
        let v = versions.entry(&e.stream).or_insert(0);
        assert_eq!(e.stream_version, *v);
        *v += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_like_a_vec_of_events(ops in prop::collection::vec(op_strategy(), 8..30)) {
        let dir = tempfile::tempdir().unwrap();
        run_case(dir.path(), ops);
    }
}

/// domain.md §2: "Events of a batch are checked one after another, each against the log plus
/// the batch's earlier events", and the refusal names the event. Here event 0 is refused (the
/// village is registered already), so the batch's error must name event 0 — not a version
/// conflict at event 1, which a client would fix only to be refused again for event 0.
#[test]
fn a_refused_batch_names_its_first_refused_event() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::init(&dir.path().join("store"), "model.test/taizhang", true).unwrap();
    let at = Timestamp::cst_midnight("2016-06-01".parse().unwrap());
    log.append(
        vec![village_registered("V-1", "六肥村")],
        ACTOR,
        Source::Client,
        Some(at),
    )
    .unwrap();
    let mut classify = village_classified("V-1", 2016);
    classify.expected_version = Some(1); // right: the stream holds one event
    let err = log
        .append(
            vec![village_registered("V-1", "重复登记"), classify],
            ACTOR,
            Source::Client,
            Some(at),
        )
        .unwrap_err();
    assert!(
        matches!(&err, AppendError::Refused { index: 0, field, .. } if field == "payload.village_id"),
        "{err:?}"
    );
    assert_eq!(log.size(), 1);
}

//! The bodies of the fuzz targets: one per decoder, and one model-checked store.
//!
//! Each target is a plain `pub fn(&[u8])` that panics when a property it checks fails, so
//! that the same code runs under `cargo fuzz` (`fuzz/fuzz_targets/*.rs` call these) and in the
//! stable smoke test (`tests/fuzz_smoke.rs`), which CI runs without a nightly toolchain.
//! A target never panics on input the decoder refuses: refusing is the decoder's job, and only
//! a panic inside it, or a property broken by what it accepted, is a finding.
//!
//! Not part of the library's interface: hidden from the docs and free to change.

pub mod model;

use events::canonical::to_jcs;
use events::import::{parse_line, ImportLine};
use events::record::{self, StoredRecord};
use events::{Date, EventType, Payload, Policy, ProposedEvent};
use serde_json::{json, Value};

use crate::checkpoint::{self, Checkpoint, SigningKey, VerifierKey};
use crate::merkle::{ConsistencyProof, Hash, InclusionProof, MemoryTree};
use crate::ops;
use crate::server::routes::parse_events;

pub use model::model;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name; the name is the file in `fuzz/fuzz_targets/` and the folder in
/// `fuzz/corpus/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("record", record),
    ("event_json", event_json),
    ("import_line", import_line),
    ("import_file", import_file),
    ("append_input", append_input),
    ("checkpoint_note", checkpoint_note),
    ("verifier_key", verifier_key),
    ("secret_key", secret_key),
    ("proof_json", proof_json),
    ("policy", policy),
    ("http_events", http_events),
    ("model", model),
];

/// The key name the fuzzed notes are signed under.
pub const NOTE_KEY_NAME: &str = "fuzz.example/log";
/// The seed of the key the fuzzed notes are signed with: fixed, so that a note in the corpus
/// stays valid from one run to the next.
pub const NOTE_KEY_SEED: [u8; 32] = [7; 32];

/// The fixed signing key of the checkpoint target.
pub fn note_key() -> SigningKey {
    SigningKey::from_seed(NOTE_KEY_NAME, &NOTE_KEY_SEED).expect("a valid key name")
}

/// Most events the HTTP target lets one body hold: small, so that the limit's refusal is
/// reached by inputs of a few hundred bytes.
pub const HTTP_BATCH_MAX: usize = 8;

/// Stored records (`events::record`): input is a whole record, checksum included.
///
/// A random body almost never carries a matching CRC-32, so the body decoder is also fed the
/// input with its last four bytes replaced by the right checksum; seeds are real records.
pub fn record(data: &[u8]) {
    check_record(data);
    if data.len() >= 5 {
        let mut fixed = data[..data.len() - 4].to_vec();
        let crc = crc32fast::hash(&fixed);
        fixed.extend_from_slice(&crc.to_le_bytes());
        check_record(&fixed);
    }
}

fn check_record(bytes: &[u8]) {
    let leaf = record::leaf_of(bytes);
    let Ok(rec) = record::decode(bytes) else {
        return;
    };
    assert_eq!(
        leaf.ok(),
        Some(rec.leaf_sha256),
        "leaf_of disagrees with decode"
    );
    let again = record::encode(&rec);
    assert_eq!(
        record::decode(&again).expect("a re-encoded record decodes"),
        rec,
        "decode → encode → decode changed the record"
    );
    assert_eq!(record::leaf_of(&again).ok(), Some(rec.leaf_sha256));
    check_recorded(&rec);
}

/// What every reader does with a decoded record must not panic, and the values a decoded
/// record holds must be ones their types allow (a `Date` is a real date in 1900–2999).
fn check_recorded(rec: &StoredRecord) {
    let ev = &rec.event;
    let _ = ev.leaf_sha256();
    let _ = ev.export_line();
    let _ = ev.recorded_at.to_string();
    let _ = ev.recorded_at.cst_date();
    let _ = ev.payload.stream();
    let _ = ev.payload.check();
    check_date(ev.occurred_on);
}

fn check_date(d: Date) {
    let text = d.to_string();
    assert_eq!(
        text.parse::<Date>().ok(),
        Some(d),
        "date {text:?} ({} days) does not read back",
        d.days()
    );
}

/// Event payload JSON (`Payload::from_json`): the first byte picks the event type, the rest
/// is the payload's JSON text.
pub fn event_json(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let ty = EventType::ALL[usize::from(pick) % EventType::ALL.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(payload) = Payload::from_json(ty, text) else {
        return;
    };
    assert_eq!(payload.event_type(), ty);
    let jcs = to_jcs(&payload.to_json_value());
    let again = Payload::from_json(ty, &jcs)
        .unwrap_or_else(|e| panic!("the canonical form {jcs} of an accepted payload: {e}"));
    assert_eq!(again, payload, "payload → JCS → payload changed it");
    assert_eq!(to_jcs(&again.to_json_value()), jcs, "JCS is not stable");
    let _ = payload.check();
    let _ = payload.stream();
}

/// The import line as `taizhang::client` sends it, with the batch when there is one.
fn line_json(line: &ImportLine) -> Value {
    let e = &line.event;
    json!({
        "type": e.payload.event_type().as_str(),
        "occurred_on": e.occurred_on.to_string(),
        "payload": e.payload.to_json_value(),
        "event_id": e.event_id.map(|id| id.to_string()),
        "expected_version": e.expected_version,
        "batch": line.batch,
    })
}

/// One import line (`events::import::parse_line`).
pub fn import_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(line) = parse_line(text) else {
        return;
    };
    check_line_round_trip(&line);
}

fn check_line_round_trip(line: &ImportLine) {
    let text = line_json(line).to_string();
    let again =
        parse_line(&text).unwrap_or_else(|e| panic!("re-serialized line {text} refused: {e}"));
    assert_eq!(&again, line, "line → JSON → line changed it");
}

/// A whole import file (`ops::parse_import`).
pub fn import_file(data: &[u8]) {
    let mut progress = Vec::new();
    let Ok(parsed) = ops::parse_import(data, |p| progress.push(p)) else {
        return;
    };
    assert!(!parsed.events.is_empty());
    assert_eq!(parsed.events.len(), parsed.lines.len());
    assert!(parsed.lines.windows(2).all(|w| w[0] < w[1]), "line numbers");
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress goes back"
    );
    assert!(
        progress.iter().all(|&p| p <= data.len()),
        "progress past end"
    );
    // Each event is its line's, with the file-derived id where the line has none.
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (event, &n) in parsed.events.iter().zip(&parsed.lines) {
        let text = std::str::from_utf8(lines[n - 1]).expect("an accepted line is UTF-8");
        let text = text.strip_suffix('\r').unwrap_or(text);
        let mut own = parse_line(text)
            .expect("an accepted line parses alone")
            .event;
        assert!(event.event_id.is_some(), "line {n} has no event id");
        if own.event_id.is_none() {
            own.event_id = event.event_id;
        }
        assert_eq!(&own, event, "line {n}");
    }
    // The default ids are derived from the file: a second parse gives the same ones.
    let twice = ops::parse_import(data, |_| {}).expect("parses twice");
    assert_eq!(twice.events, parsed.events, "parsing is not deterministic");
}

/// The input of `taizhang append` (`ops::parse_append`): one line or a JSON array.
pub fn append_input(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(events) = ops::parse_append(text) else {
        return;
    };
    assert!(!events.is_empty());
    let array = Value::Array(events.iter().map(|e| line_json(&plain(e))).collect());
    let again = ops::parse_append(&array.to_string()).expect("re-serialized events parse");
    assert_eq!(again, events, "events → JSON array → events changed them");
}

fn plain(event: &ProposedEvent) -> ImportLine {
    ImportLine {
        event: event.clone(),
        batch: None,
    }
}

/// Signed checkpoint notes (`checkpoint::parse_signed_note`), under a fixed key.
///
/// A fuzzer cannot forge a signature, so the input is also signed as a note text: what the
/// signed-note layer then opens must be exactly that text, and what the checkpoint parser
/// accepts must be exactly the canonical body of what it returns.
pub fn checkpoint_note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = note_key();
    let verifier = key.verifier();
    if let Ok(cp) = checkpoint::parse_signed_note(text, &verifier) {
        assert!(
            text.starts_with(&cp.body()),
            "the note's body is not {cp:?}"
        );
        check_checkpoint(&cp, &key);
    }
    let Ok(note) = checkpoint::sign_note(text, &key) else {
        return;
    };
    if note.len() <= checkpoint::MAX_NOTE_BYTES {
        assert_eq!(
            checkpoint::open_note(&note, &verifier),
            Ok(text),
            "a note we signed does not open to its text"
        );
    }
    if let Ok(cp) = checkpoint::parse_signed_note(&note, &verifier) {
        assert_eq!(cp.body(), text, "a non-canonical body was accepted");
        check_checkpoint(&cp, &key);
    }
}

fn check_checkpoint(cp: &Checkpoint, key: &SigningKey) {
    let rebuilt = Checkpoint::new(cp.origin(), cp.size(), cp.root()).expect("origin is valid");
    assert_eq!(&rebuilt, cp);
    let again = checkpoint::parse_signed_note(&cp.sign(key), &key.verifier())
        .expect("a checkpoint we signed parses");
    assert_eq!(&again, cp);
}

/// Verifier keys (`VerifierKey::parse`): each key has one spelling, so an accepted string is
/// exactly what the key displays as.
pub fn verifier_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = VerifierKey::parse(text) else {
        return;
    };
    assert_eq!(key.to_string(), text, "a key with two spellings");
    assert_eq!(VerifierKey::parse(&key.to_string()), Ok(key));
}

/// Secret key strings (`SigningKey::from_secret_string`): one spelling per key, and errors
/// never show the key material.
pub fn secret_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match SigningKey::from_secret_string(text) {
        Ok(key) => {
            let canonical = text.strip_suffix('\n').unwrap_or(text);
            assert_eq!(
                key.to_secret_string(),
                canonical,
                "a key with two spellings"
            );
            let verifier = key.verifier();
            assert_eq!(verifier.name(), key.name());
            assert_eq!(verifier.key_id(), key.key_id());
            let note = checkpoint::sign_note("fuzz\n", &key).expect("a valid note text");
            assert_eq!(checkpoint::open_note(&note, &verifier), Ok("fuzz\n"));
        }
        Err(e) => {
            // PRIVATE+KEY+<name>+<id>+<key>: the key part must not be echoed. Only a part that
            // could be key material counts: base64 without spaces, so that a "key" spelling
            // the error's own words is not taken for a leak (regressions/secret_key/).
            let mut parts = text.splitn(5, '+');
            let name = parts.nth(2).unwrap_or("");
            let secret = parts.nth(1).unwrap_or("").trim_end_matches('\n');
            let base64 = secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            // The name may be shown, escaped, and its escapes may spell the key part
            // (`\0lll…`): look for the key only in what is not the name.
            let shown = e.to_string().replace(&format!("{name:?}"), "");
            if secret.len() >= 16 && base64 {
                assert!(
                    !shown.contains(secret),
                    "the error shows the key material: {e}"
                );
            }
        }
    }
}

/// Proof JSON (`InclusionProof`, `ConsistencyProof`) and their verification. The first byte
/// picks: inclusion JSON, consistency JSON, or proofs made from a tree the input describes.
pub fn proof_json(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            let Ok(p) = serde_json::from_slice::<InclusionProof>(rest) else {
                return;
            };
            let text = serde_json::to_string(&p).expect("serializes");
            assert_eq!(
                serde_json::from_str::<InclusionProof>(&text).ok(),
                Some(p.clone())
            );
            if p.verify().is_ok() {
                inclusion_tamper_fails(&p);
            }
        }
        1 => {
            let Ok(p) = serde_json::from_slice::<ConsistencyProof>(rest) else {
                return;
            };
            let text = serde_json::to_string(&p).expect("serializes");
            assert_eq!(
                serde_json::from_str::<ConsistencyProof>(&text).ok(),
                Some(p.clone())
            );
            if p.verify().is_ok() {
                consistency_tamper_fails(&p);
            }
        }
        _ => made_proofs(rest),
    }
}

/// Flips one bit of each hash in turn: a proof that verified must then fail.
fn inclusion_tamper_fails(p: &InclusionProof) {
    for k in 0..p.path.len() + 2 {
        let mut t = p.clone();
        let h: &mut Hash = match k {
            0 => &mut t.leaf_sha256,
            1 => &mut t.root,
            _ => &mut t.path[k - 2],
        };
        h[k % 32] ^= 1 << (k % 8);
        assert!(t.verify().is_err(), "hash {k} tampered, still verifies");
    }
}

fn consistency_tamper_fails(p: &ConsistencyProof) {
    for k in 0..p.path.len() + 2 {
        let mut t = p.clone();
        let h: &mut Hash = match k {
            0 => &mut t.first_root,
            1 => &mut t.second_root,
            _ => &mut t.path[k - 2],
        };
        h[k % 32] ^= 1 << (k % 8);
        assert!(t.verify().is_err(), "hash {k} tampered, still verifies");
    }
}

/// Proofs the tree makes must verify, survive JSON, and fail once tampered with.
fn made_proofs(data: &[u8]) {
    let byte = |i: usize| usize::from(data.get(i).copied().unwrap_or(0));
    let n = 1 + (byte(0) << 8 | byte(1)) % 600;
    let leaf = (byte(2) << 8 | byte(3)) % n;
    let first = 1 + (byte(4) << 8 | byte(5)) % n;
    let tree = MemoryTree::from_leaves((0..n).map(|i| {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&(i as u64).to_le_bytes());
        h[8] = data.get(6 + i).copied().unwrap_or(0);
        crate::merkle::leaf_hash(&h)
    }));
    let (n, leaf, first) = (n as u64, leaf as u64, first as u64);
    let p = InclusionProof::from_source(&tree, leaf, n).expect("in range");
    p.verify().expect("a proof we made verifies");
    let text = serde_json::to_string(&p).expect("serializes");
    assert_eq!(
        serde_json::from_str::<InclusionProof>(&text).ok(),
        Some(p.clone())
    );
    inclusion_tamper_fails(&p);
    let c = ConsistencyProof::from_source(&tree, first, n).expect("in range");
    c.verify().expect("a proof we made verifies");
    let text = serde_json::to_string(&c).expect("serializes");
    assert_eq!(
        serde_json::from_str::<ConsistencyProof>(&text).ok(),
        Some(c.clone())
    );
    consistency_tamper_fails(&c);
}

/// Scoring policy documents (`Policy::from_json`).
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = Policy::from_json(text) else {
        return;
    };
    p.check().expect("an accepted policy checks");
    let again = serde_json::to_string(&p).expect("serializes");
    assert_eq!(
        Policy::from_json(&again),
        Ok(p),
        "policy → JSON → policy changed it"
    );
    let _ = p.sha256();
}

/// `POST /v1/events` bodies (`server::routes::parse_events`), which must agree with
/// `taizhang append` on what a body means, and turn every refusal into a 4xx answer.
pub fn http_events(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let got = parse_events(text, HTTP_BATCH_MAX);
    match &got {
        Ok(events) => assert!((1..=HTTP_BATCH_MAX).contains(&events.len())),
        Err(e) => {
            use axum::response::IntoResponse;
            let status = e.clone().into_response().status();
            assert!(status.is_client_error(), "{status} for a bad body: {e:?}");
        }
    }
    if let Ok(cli) = ops::parse_append(text) {
        if cli.len() <= HTTP_BATCH_MAX {
            assert_eq!(
                got.as_ref().ok(),
                Some(&cli),
                "the server and the command line read one input differently"
            );
        }
    }
}

//! Tamper evidence: a store damaged behind the log's back, through sled itself, makes the real
//! `taizhang verify` fail, naming the position (or the tree or checkpoint) that gives it away.
//!
//! Each case starts from a copy of one pristine store (the example village imported in two
//! files, a checkpoint signed after each), changes it with sled directly at the key layout of
//! docs/storage.md, then runs the binary as an auditor would.

mod util;

use std::path::{Path, PathBuf};

use events::record::{self, StoredRecord};
use events::Payload;
use taizhang::merkle::Frontier;
use util::{copy_dir, example, ok, run};

/// Key prefixes of docs/storage.md, written out here rather than borrowed from the store, so
/// that a change of layout breaks these tests instead of silently following it.
fn log_key(position: u64) -> Vec<u8> {
    let mut k = vec![b'L'];
    k.extend_from_slice(&position.to_be_bytes());
    k
}

fn node_key(level: u8, index: u64) -> Vec<u8> {
    let mut k = vec![b'N', level];
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn checkpoint_key(size: u64) -> Vec<u8> {
    let mut k = vec![b'C'];
    k.extend_from_slice(&size.to_be_bytes());
    k
}

/// The example village: 18 events, with signed checkpoints at sizes 5 and 18 (two, so that
/// an older checkpoint — which opening a store does not look at — is covered too).
fn pristine(root: &Path) -> PathBuf {
    let data = root.join("pristine");
    ok(&data, &["init", "--origin", "tamper.test/taizhang"]);
    let text = std::fs::read_to_string(example()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 18);
    let head = root.join("head.jsonl");
    let tail = root.join("tail.jsonl");
    std::fs::write(&head, lines[..5].join("\n") + "\n").unwrap();
    std::fs::write(&tail, lines[5..].join("\n") + "\n").unwrap();
    ok(&data, &["import", head.to_str().unwrap()]);
    assert!(ok(&data, &["checkpoint"]).contains("\n5\n"));
    ok(&data, &["import", tail.to_str().unwrap()]);
    assert!(ok(&data, &["checkpoint"]).contains("\n18\n"));
    // The baseline every case departs from: intact, it verifies.
    let verified = ok(&data, &["verify"]);
    assert!(
        verified.starts_with("ok: 18 events") && verified.contains("2 checkpoints"),
        "{verified}"
    );
    data
}

/// A copy of the pristine store, changed by `damage` through sled directly (the store is
/// closed: every process that wrote it has exited).
fn damaged(pristine: &Path, name: &str, damage: impl FnOnce(&sled::Tree)) -> PathBuf {
    let data = pristine.with_file_name(name);
    copy_dir(pristine, &data);
    let db = sled::Config::new().path(data.join("sled")).open().unwrap();
    let tree = db.open_tree("log").unwrap();
    damage(&tree);
    db.flush().unwrap();
    data
}

fn get(tree: &sled::Tree, key: &[u8]) -> Vec<u8> {
    tree.get(key)
        .unwrap()
        .unwrap_or_else(|| panic!("no key {key:?}"))
        .to_vec()
}

/// Runs `verify`, which must fail without claiming success; returns its standard error.
fn verify_fails(data: &Path, case: &str) -> String {
    let out = run(data, &["verify"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{case}: verify succeeded on a damaged store: {stdout}"
    );
    assert_ne!(out.status.code(), Some(0), "{case}");
    assert!(!stdout.contains("ok:"), "{case}: stdout says {stdout}");
    assert!(!stderr.is_empty(), "{case}: verify failed without a word");
    stderr
}

/// Whether `text` names `position p` (and not, say, `position 70` for 7).
fn names_position(text: &str, p: u64) -> bool {
    let needle = format!("position {p}");
    text.match_indices(&needle).any(|(i, _)| {
        !text[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

fn stored(tree: &sled::Tree, position: u64) -> StoredRecord {
    record::decode(&get(tree, &log_key(position))).unwrap()
}

/// The record at 9 is the pledge receipt of 2,000,000 yuan; the forgery makes it 200,000.
const FORGED: u64 = 9;

fn forge_amount(rec: &mut StoredRecord) {
    match &mut rec.event.payload {
        Payload::DonationReceived(p) => {
            assert_eq!(p.amount_fen, 200_000_000);
            p.amount_fen = 20_000_000;
        }
        other => panic!("position {FORGED} holds {:?}", other.event_type()),
    }
}

#[test]
fn a_flipped_byte_anywhere_in_a_record_is_named_by_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let len = {
        let db = sled::Config::new()
            .path(pristine.join("sled"))
            .open()
            .unwrap();
        let tree = db.open_tree("log").unwrap();
        get(&tree, &log_key(7)).len()
    };
    // Record layout (docs/decisions/0001-record-codec.md): format byte, the leaf hash at
    // 1..33, the bincode body, the CRC-32 in the last 4 bytes.
    let offsets = [
        ("format byte", 0),
        ("leaf hash, first byte", 1),
        ("leaf hash, last byte", 32),
        ("body, first byte", 33),
        ("middle", len / 2),
        ("body, last byte", len - 5),
        ("crc", len - 1),
    ];
    for (what, offset) in offsets {
        let data = damaged(&pristine, &format!("flip-{offset}"), |tree| {
            let mut bytes = get(tree, &log_key(7));
            bytes[offset] ^= 0x20;
            tree.insert(log_key(7), bytes).unwrap();
        });
        let err = verify_fails(&data, what);
        assert!(names_position(&err, 7), "{what} (offset {offset}): {err}");
    }
}

#[test]
fn a_removed_record_is_named_by_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    for position in [0, 7] {
        let data = damaged(&pristine, &format!("removed-{position}"), |tree| {
            tree.remove(log_key(position)).unwrap().unwrap();
        });
        let err = verify_fails(&data, &format!("record {position} removed"));
        assert!(names_position(&err, position), "{err}");
    }
    // The last record removed leaves a gapless log of 17: only the checkpoint signed at 18
    // can tell, and it must.
    let data = damaged(&pristine, "removed-17", |tree| {
        tree.remove(log_key(17)).unwrap().unwrap();
    });
    let err = verify_fails(&data, "last record removed");
    assert!(err.contains("18") && err.contains("17"), "{err}");
}

#[test]
fn records_swapped_are_named_by_position() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = damaged(&pristine, "swapped", |tree| {
        let (a, b) = (get(tree, &log_key(7)), get(tree, &log_key(8)));
        tree.insert(log_key(7), b).unwrap();
        tree.insert(log_key(8), a).unwrap();
    });
    let err = verify_fails(&data, "records 7 and 8 swapped");
    assert!(names_position(&err, 7), "{err}");
}

#[test]
fn a_forged_event_with_a_valid_checksum_but_the_old_leaf_is_named_by_position() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = damaged(&pristine, "forged-payload", |tree| {
        let mut rec = stored(tree, FORGED);
        forge_amount(&mut rec);
        // record::encode writes a correct CRC: only the leaf can give the forgery away.
        tree.insert(log_key(FORGED), record::encode(&rec)).unwrap();
    });
    let err = verify_fails(&data, "payload forged, old leaf kept");
    assert!(names_position(&err, FORGED), "{err}");
    assert!(err.contains("leaf"), "{err}");
}

#[test]
fn a_forged_event_with_its_leaf_recomputed_disagrees_with_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = damaged(&pristine, "forged-leaf", |tree| {
        let mut rec = stored(tree, FORGED);
        forge_amount(&mut rec);
        rec.leaf_sha256 = rec.event.leaf_sha256();
        tree.insert(log_key(FORGED), record::encode(&rec)).unwrap();
    });
    let err = verify_fails(&data, "payload and leaf forged");
    assert!(err.contains("root") || err.contains("tree"), "{err}");
}

#[test]
fn a_forged_event_with_the_whole_tree_recomputed_disagrees_with_the_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = damaged(&pristine, "forged-tree", |tree| {
        let mut rec = stored(tree, FORGED);
        forge_amount(&mut rec);
        rec.leaf_sha256 = rec.event.leaf_sha256();
        tree.insert(log_key(FORGED), record::encode(&rec)).unwrap();
        // Rewrite every inner node as the writer would have for the forged history: now the
        // records and the tree agree, and only the signed checkpoint at 18 remembers the truth.
        let mut frontier = Frontier::new();
        for p in 0..18 {
            for (level, index, hash) in frontier.push(stored(tree, p).leaf_sha256.0) {
                if level > 0 {
                    tree.insert(node_key(level, index), &hash[..]).unwrap();
                }
            }
        }
    });
    let err = verify_fails(&data, "payload, leaf and tree forged");
    assert!(err.contains("checkpoint"), "{err}");
}

#[test]
fn an_altered_top_tree_node_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    // The root of 18 leaves is node(level 4, index 0) ‖ node(level 1, index 8).
    for (level, index) in [(4, 0), (1, 8)] {
        let data = damaged(&pristine, &format!("node-{level}-{index}"), |tree| {
            let mut hash = get(tree, &node_key(level, index));
            hash[31] ^= 1;
            tree.insert(node_key(level, index), hash).unwrap();
        });
        let err = verify_fails(&data, &format!("node {level}/{index} altered"));
        assert!(err.contains("tree"), "{err}");
    }
}

#[test]
fn an_altered_inner_tree_node_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    // node(level 1, index 0) = H(leaf 0, leaf 1) is not part of the root's own computation at
    // size 18 (node(4, 0) covers it), but every inclusion proof of leaves 2 and 3 carries it:
    // if verify does not look at it, the log serves proofs that do not verify while `verify`
    // says ok.
    let data = damaged(&pristine, "node-1-0", |tree| {
        let mut hash = get(tree, &node_key(1, 0));
        hash[0] ^= 1;
        tree.insert(node_key(1, 0), hash).unwrap();
    });
    let proof: taizhang::merkle::InclusionProof =
        serde_json::from_str(&ok(&data, &["prove", "inclusion", "--index", "2"])).unwrap();
    let served_proof_verifies = proof.verify().is_ok();
    let out = run(&data, &["verify"], None);
    assert!(
        !out.status.success(),
        "verify passed on a store whose tree node (1, 0) was altered (the served inclusion proof of leaf 2 {}): {}",
        if served_proof_verifies { "still verifies" } else { "no longer verifies" },
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ok:"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tree node level 1 index 0 (over positions 0..=1)"),
        "{err}"
    );
}

#[test]
fn an_altered_checkpoint_note_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    // A changed signature byte in the last checkpoint (which open checks) and in the older
    // one (which only verify reads), and a changed size line the signature no longer covers.
    for (size, what) in [(18, "signature"), (5, "signature"), (18, "body")] {
        let data = damaged(&pristine, &format!("note-{size}-{what}"), |tree| {
            let note = String::from_utf8(get(tree, &checkpoint_key(size))).unwrap();
            let altered = match what {
                "signature" => {
                    // The signature is the last base64 word; change one character of it.
                    let sig_start = note.trim_end().rfind(' ').unwrap() + 1;
                    let mut bytes = note.into_bytes();
                    let i = sig_start + 10;
                    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                    String::from_utf8(bytes).unwrap()
                }
                _ => note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size - 1), 1),
            };
            tree.insert(checkpoint_key(size), altered.as_bytes())
                .unwrap();
        });
        let err = verify_fails(&data, &format!("checkpoint {size} {what} altered"));
        assert!(
            err.contains("checkpoint"),
            "checkpoint {size} {what}: {err}"
        );
    }
}

#[test]
fn a_removed_event_id_index_entry_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    // The `I` index (event id → position) is what `event(id)` and the idempotency of a retry
    // read. With the entry of position 10 gone, the log answers that the event does not exist,
    // and a client's retry of it is refused ("already in the log") instead of acknowledged —
    // while nothing is wrong with the records or the tree. Verify must notice that the index
    // disagrees with the records.
    let data = damaged(&pristine, "id-index", |tree| {
        let id = stored(tree, 10).event.event_id;
        let mut key = vec![b'I'];
        key.extend_from_slice(id.0.as_bytes());
        tree.remove(key).unwrap().unwrap();
    });
    let out = run(&data, &["verify"], None);
    assert!(
        !out.status.success(),
        "verify passed on a store whose id index lost the entry of position 10: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ok:"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("position 10: the event-id index"), "{err}");
}

/// The damage helpers themselves must not damage: a copy changed by nothing still verifies
/// (otherwise every case above could be failing for the copy's sake).
#[test]
fn an_untouched_copy_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = damaged(&pristine, "untouched", |tree| {
        let rec = stored(tree, FORGED);
        // Re-encoding an unchanged record gives the same bytes: the forgeries above differ
        // from the original only where they say.
        assert_eq!(record::encode(&rec), get(tree, &log_key(FORGED)));
    });
    assert!(ok(&data, &["verify"]).starts_with("ok: 18 events"));
}

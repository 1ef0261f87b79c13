//! The command line, driven as a user would: init, import, re-import, a refused file, export,
//! checkpoint, prove, verify.

mod util;

use util::{example, fails, ok, run};

fn size_and_root(data: &std::path::Path) -> String {
    ok(data, &["verify"])
}

#[test]
fn init_import_reimport_export_prove_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let key = ok(&data, &["init", "--origin", "example.test/taizhang"]);
    assert!(key.starts_with("example.test/taizhang+"), "{key}");
    assert_eq!(ok(&data, &["key"]), key);
    assert!(fails(&data, &["init", "--origin", "example.test/taizhang"]).contains("already exists"));

    let first = ok(&data, &["import", example().to_str().unwrap()]);
    assert!(first.contains("18 appended at positions 0..=17"), "{first}");
    let again = ok(&data, &["import", example().to_str().unwrap()]);
    assert!(again.contains("nothing appended"), "{again}");

    let verified = size_and_root(&data);
    assert!(verified.starts_with("ok: 18 events, root "), "{verified}");

    // The export has 18 lines of 12 keys, and its leaf hashes rebuild the root verify printed.
    let export = ok(&data, &["export"]);
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 18);
    assert!(export.ends_with('\n'));
    let mut tree = taizhang::merkle::MemoryTree::new();
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 12);
        assert_eq!(v["position"], i as u64);
        let leaf = taizhang::merkle::parse_hex_hash(v["leaf_sha256"].as_str().unwrap()).unwrap();
        tree.push(leaf);
    }
    let root_hex = hex::encode(tree.root());
    assert!(verified.contains(&root_hex), "{verified} vs {root_hex}");
    let partial = ok(&data, &["export", "--size", "5"]);
    assert_eq!(partial.lines().count(), 5);

    // Checkpoint, then proofs that verify against it.
    let note = ok(&data, &["checkpoint"]);
    assert!(note.starts_with("example.test/taizhang\n18\n"), "{note}");
    let proof: taizhang::merkle::InclusionProof =
        serde_json::from_str(&ok(&data, &["prove", "inclusion", "--index", "7"])).unwrap();
    proof.verify().unwrap();
    assert_eq!(proof.tree_size, 18);
    let proof: taizhang::merkle::ConsistencyProof =
        serde_json::from_str(&ok(&data, &["prove", "consistency", "--first", "5"])).unwrap();
    proof.verify().unwrap();
    assert!(fails(&data, &["prove", "inclusion", "--index", "18"]).contains("index"));

    // log lists events; --json prints export lines.
    let listing = ok(&data, &["log", "--limit", "3"]);
    assert_eq!(listing.lines().count(), 3);
    assert!(listing.contains("VillageRegistered"));
    let stream = ok(&data, &["log", "--stream", "project/R-CX-01", "--json"]);
    assert_eq!(stream.lines().count(), 4);

    let verified = ok(&data, &["verify"]);
    assert!(verified.contains("1 checkpoints"), "{verified}");
}

#[test]
fn a_refused_file_names_the_line_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    ok(&data, &["init", "--origin", "example.test/taizhang"]);
    let text = std::fs::read_to_string(example()).unwrap();
    // Line 15 completes the road; make line 16 fulfil a commitment that does not exist.
    let bad = text.replace(
        r#"{"commitment_id":"K-CX-01","evidence""#,
        r#"{"commitment_id":"K-CX-99","evidence""#,
    );
    assert_ne!(bad, text);
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, &bad).unwrap();
    let err = fails(&data, &["import", file.to_str().unwrap()]);
    assert!(err.contains("line 16: payload.commitment_id"), "{err}");
    assert!(ok(&data, &["verify"]).starts_with("ok: 0 events"));

    // A syntax error is reported by line too.
    let syntax = text.replacen("\"2016-01-10\"", "\"2016-01-32\"", 1);
    std::fs::write(&file, &syntax).unwrap();
    let err = fails(&data, &["import", file.to_str().unwrap()]);
    assert!(err.contains("line 2: occurred_on"), "{err}");
    assert!(ok(&data, &["verify"]).starts_with("ok: 0 events"));
}

#[test]
fn append_takes_a_line_or_an_array_and_is_idempotent_with_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    ok(&data, &["init", "--origin", "example.test/taizhang"]);
    let village = r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","event_id":"0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c","payload":{"village_id":"V1","name":"六肥村","county":"岑溪市","township":"波塘镇"}}"#;
    let out = run(&data, &["append", "-"], Some(village));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
    let out = run(&data, &["append"], Some(village));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0 (already in the log)\n"
    );
    // Same id, other content: a conflict.
    let out = run(
        &data,
        &["append"],
        Some(&village.replace("六肥村", "七肥村")),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in the log with a different"));
    // An array is one atomic batch: the second event is refused, so the first is not written.
    let array = format!(
        "[{},{}]",
        r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"V2","name":"n","county":"c","township":"t"}}"#,
        r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"V2","name":"n","county":"c","township":"t"}}"#
    );
    let out = run(&data, &["append"], Some(&array));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("event 1 (VillageRegistered): payload.village_id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ok(&data, &["verify"]).starts_with("ok: 1 events"));
    // expected_version: the village stream holds 1 event.
    let ev = r#"{"type":"VillageClassified","occurred_on":"2016-01-10","expected_version":0,"payload":{"village_id":"V1","year":2016,"obstacle":"infrastructure"}}"#;
    let out = run(&data, &["append"], Some(ev));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("stream village/V1 holds 1 events, the batch expected 0"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &data,
        &["append", "--json"],
        Some(&ev.replace("\"expected_version\":0", "\"expected_version\":1")),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stream"], "village/V1");
    assert_eq!(v["stream_version"], 1);
    // ReviewSealed cannot come from a client.
    let sealed = r#"{"type":"ReviewSealed","occurred_on":"2016-12-31","payload":{"review_id":"R","period_start":"2016-01-01","period_end":"2016-12-31","tree_size":1,"root":"0000000000000000000000000000000000000000000000000000000000000000","policy_sha256":"0000000000000000000000000000000000000000000000000000000000000000","result_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}"#;
    let out = run(&data, &["append"], Some(sealed));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("type: ReviewSealed is appended only by the log"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn commands_on_a_missing_store_say_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&dir.path().join("nothing"), &["verify"]);
    assert!(err.contains("taizhang init"), "{err}");
}

#[test]
fn an_import_larger_than_a_group_is_one_atomic_append() {
    // Over the writer's group size (20,000) and the server's request limit (10,000): an import
    // file is one batch, up to the store's limit.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    ok(&data, &["init", "--origin", "example.test/taizhang"]);
    let mut text = String::new();
    for i in 0..21_000 {
        text.push_str(&format!(r#"{{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{{"village_id":"V{i}","name":"n","county":"c","township":"t"}}}}"#));
        text.push('\n');
    }
    let file = dir.path().join("big.jsonl");
    std::fs::write(&file, &text).unwrap();
    let out = ok(&data, &["import", file.to_str().unwrap()]);
    assert!(
        out.contains("21000 appended at positions 0..=20999"),
        "{out}"
    );
    // The last line refused: nothing of the 21,000 is appended.
    let dir2 = tempfile::tempdir().unwrap();
    let data2 = dir2.path().join("store");
    ok(&data2, &["init", "--origin", "example.test/taizhang"]);
    text.push_str(r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"V7","name":"n","county":"c","township":"t"}}"#);
    std::fs::write(&file, &text).unwrap();
    let err = fails(&data2, &["import", file.to_str().unwrap()]);
    assert!(err.contains("line 21001: payload.village_id"), "{err}");
    assert!(ok(&data2, &["verify"]).starts_with("ok: 0 events"));
}

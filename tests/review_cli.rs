//! Reviews on the command line: seal, verify after later corrections, bundle, a tampered seal,
//! and time travel by size and by instant.

mod util;

use util::{example, fails, ok, run};

fn store_with_example() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    ok(&data, &["init", "--origin", "example.test/taizhang"]);
    ok(&data, &["import", example().to_str().unwrap()]);
    (dir, data)
}

#[test]
fn a_sealed_review_verifies_after_later_corrections_and_bundles() {
    let (_dir, data) = store_with_example();
    let shown = ok(
        &data,
        &[
            "review",
            "show",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
            "--json",
        ],
    );
    let sealed = ok(
        &data,
        &[
            "review",
            "seal",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
            "--id",
            "2016-annual",
        ],
    );
    assert!(
        sealed.contains("sealed review 2016-annual at position 18: tree size 18"),
        "{sealed}"
    );
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        shown.trim_end_matches('\n').as_bytes(),
    ));
    assert!(
        sealed.contains(&hash),
        "the seal binds the hash of exactly the document `review show --json` printed"
    );
    assert!(ok(&data, &["review", "verify", "--id", "2016-annual"])
        .starts_with("ok: review 2016-annual"));

    // A later correction: the evaluation is retracted. The review now differs, the seal still verifies.
    let evaluation = ok(
        &data,
        &["log", "--stream", "evaluation/E-CX-2016-1", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(evaluation.lines().next().unwrap()).unwrap();
    let retraction = format!(
        r#"{{"type":"Retracted","occurred_on":"2017-01-05","payload":{{"target_event_id":"{}","reason":"entered twice","approved_by":"市委组织部"}}}}"#,
        v["event_id"].as_str().unwrap()
    );
    let out = run(&data, &["append"], Some(&retraction));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now = ok(
        &data,
        &[
            "review",
            "show",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
            "--json",
        ],
    );
    assert_ne!(now, shown);
    assert!(now.contains("\"evaluation_bp\":null"), "{now}");
    assert!(ok(&data, &["review", "verify", "--id", "2016-annual"]).starts_with("ok:"));
    // The review as of the sealed size is the sealed one, byte for byte.
    assert_eq!(
        ok(
            &data,
            &[
                "review",
                "show",
                "--start",
                "2016-01-01",
                "--end",
                "2016-12-31",
                "--size",
                "18",
                "--json"
            ]
        ),
        shown
    );

    // The bundle: result, seal, checkpoint, inclusion proof, verifier key — checked here with
    // nothing but the formats: result hash, the seal's leaf, the proof and the note.
    let bundle: serde_json::Value =
        serde_json::from_str(&ok(&data, &["review", "bundle", "--id", "2016-annual"])).unwrap();
    let result_jcs = events::canonical::to_jcs(&bundle["result"]);
    assert_eq!(result_jcs, shown.trim_end());
    assert_eq!(bundle["result_sha256"], hash);
    assert_eq!(bundle["seal"]["payload"]["result_sha256"], hash);
    let proof: taizhang::merkle::InclusionProof =
        serde_json::from_value(bundle["inclusion_proof"].clone()).unwrap();
    proof.verify().unwrap();
    assert_eq!(
        hex::encode(proof.leaf_sha256),
        bundle["seal"]["leaf_sha256"].as_str().unwrap()
    );
    let verifier =
        taizhang::checkpoint::VerifierKey::parse(bundle["verifier_key"].as_str().unwrap()).unwrap();
    let cp =
        taizhang::checkpoint::parse_signed_note(bundle["checkpoint"].as_str().unwrap(), &verifier)
            .unwrap();
    assert_eq!((cp.size(), cp.root()), (proof.tree_size, proof.root));
}

#[test]
fn review_verify_fails_when_the_seal_was_tampered_with() {
    let (_dir, data) = store_with_example();
    ok(
        &data,
        &[
            "review",
            "seal",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
            "--id",
            "2016-annual",
        ],
    );
    // Rewrite the seal's record through sled with another result hash and a valid checksum.
    {
        let log = taizhang::store::SledLog::open(&data).unwrap();
        let tree = log.raw_tree();
        let key = [&b"L"[..], &18u64.to_be_bytes()].concat();
        let mut rec = events::record::decode(&tree.get(&key).unwrap().unwrap()).unwrap();
        match &mut rec.event.payload {
            events::Payload::ReviewSealed(s) => s.result_sha256.0[0] ^= 1,
            other => panic!("position 18 holds {other:?}"),
        }
        tree.insert(&key, events::record::encode(&rec)).unwrap();
        tree.flush().unwrap();
    }
    let err = fails(&data, &["review", "verify", "--id", "2016-annual"]);
    assert!(
        err.contains("review 2016-annual does not verify") && err.contains("the seal says"),
        "{err}"
    );
    // verify of the whole log catches it too: the stored leaf no longer matches the event.
    assert!(fails(&data, &["verify"]).contains("position 18"));
}

#[test]
fn ledgers_as_of_a_size_or_an_instant() {
    let (_dir, data) = store_with_example();
    // As of 10 events the road is planned and started, not completed.
    let at10 = ok(&data, &["ledger", "projects", "--size", "10", "--json"]);
    assert!(at10.contains("\"status\":\"started\""), "{at10}");
    let all = ok(&data, &["ledger", "projects", "--json"]);
    assert!(all.contains("\"status\":\"completed\""), "{all}");
    // Every event was recorded in one batch: as of a moment before it, nothing; after, all.
    let before = ok(
        &data,
        &[
            "ledger",
            "totals",
            "--json",
            "--as-of",
            "2016-01-01T00:00:00Z",
        ],
    );
    assert!(before.contains("\"villages\":0"), "{before}");
    let after = ok(
        &data,
        &[
            "ledger",
            "totals",
            "--json",
            "--as-of",
            "2999-01-01T00:00:00Z",
        ],
    );
    assert_eq!(after, ok(&data, &["ledger", "totals", "--json"]));
    assert!(
        fails(&data, &["ledger", "totals", "--size", "19"]).contains("beyond the log's 18 events")
    );
    let csv = ok(&data, &["ledger", "commitments", "--csv"]);
    assert!(
        csv.starts_with("commitment_id,village_id,posting_id"),
        "{csv}"
    );
    let timeline = ok(&data, &["timeline", "commitment/K-CX-01", "--json"]);
    assert_eq!(timeline.lines().count(), 3);
}

//! The README's main command: `taizhang demo` builds the demo city, prints the totals and the
//! sealed review, and verifies; `review verify` passes on it and fails once the seal is
//! tampered with; a second run replaces the demo store, and any other store is left alone.

mod util;

use util::{fails, ok};

#[test]
fn demo_prints_totals_review_and_verification_and_its_seal_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = ok(&data, &["demo"]);
    for expected in [
        "villages 179",
        "village roads 935.1 km",
        "== The sealed review 2016-annual",
        "competent or above 称职以上: 155 of 177 graded = 87.57%",
        "insufficient_service",
        "review verify 2016-annual: ok",
        "verify: ok: 17135 events",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // The store says it is a demo store in every output (on standard error).
    let shown = util::run(&data, &["review", "verify", "--id", "2016-annual"], None);
    assert!(shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stderr).contains("simulated clock"));

    // Tamper with the seal's result hash through sled, keeping the record's checksum valid.
    {
        let log = taizhang::store::SledLog::open(&data).unwrap();
        let (ev, _) = taizhang::reviews::find_seal(&log, "2016-annual").unwrap();
        let tree = log.raw_tree();
        let key = [&b"L"[..], &ev.position.to_be_bytes()].concat();
        let mut rec = events::record::decode(&tree.get(&key).unwrap().unwrap()).unwrap();
        let events::Payload::ReviewSealed(s) = &mut rec.event.payload else {
            panic!("not a seal")
        };
        s.result_sha256.0[31] ^= 0x80;
        tree.insert(&key, events::record::encode(&rec)).unwrap();
        tree.flush().unwrap();
    }
    let err = fails(&data, &["review", "verify", "--id", "2016-annual"]);
    assert!(err.contains("does not verify"), "{err}");

    // Running the demo again replaces its own store.
    let again = ok(&data, &["demo", "--seed", "7"]);
    assert!(
        again.contains("(seed 7)") && again.contains("verify: ok"),
        "{again}"
    );
}

#[test]
fn demo_refuses_to_replace_a_store_that_is_not_a_demo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("real");
    ok(&data, &["init", "--origin", "real.test/taizhang"]);
    let err = fails(&data, &["demo"]);
    assert!(err.contains("not a demo store"), "{err}");
    assert!(ok(&data, &["verify"]).starts_with("ok: 0 events"));
}

#[test]
fn a_demo_store_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    ok(&data, &["demo"]);
    let err = fails(&data, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("is a demo store"), "{err}");
}

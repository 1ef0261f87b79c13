//! The fuzz targets on the stable toolchain: each target gets its checked-in corpus, every
//! regression kept under `fuzz/regressions/<target>/`, and a few thousand deterministic
//! mutations of the corpus within a time budget.
//!
//! `cargo fuzz` (nightly, coverage-guided) runs the same target bodies for long runs; this
//! test is what CI can run without nightly. A crash is written to a file named in the failure
//! message: move it to `fuzz/regressions/<target>/` with the fix, so that it replays forever.
//!
//! Knobs, for longer local runs: `TAIZHANG_FUZZ_ITERS` (mutations per target, default 20000),
//! `TAIZHANG_FUZZ_SECS` (time budget per target, default 3), `TAIZHANG_FUZZ_SEED` (mixed into
//! each target's fixed seed). `TAIZHANG_WRITE_SEEDS=1` rewrites the generated seed files.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use events::import::parse_line;
use events::record::{self, StoredRecord};
use events::{EventId, Policy, RecordedEvent, Timestamp};
use taizhang::checkpoint::Checkpoint;
use taizhang::demo::{self, DemoStep};
use taizhang::fuzzing::{self, Target, TARGETS};
use taizhang::merkle::{ConsistencyProof, InclusionProof, MemoryTree};

const EXAMPLE: &str = include_str!("../examples/village.jsonl");

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Seeds: real inputs of every decoder, generated here so that they follow the formats.

/// The example file's events as the log would record them.
fn example_records() -> Vec<StoredRecord> {
    let mut versions = std::collections::HashMap::new();
    EXAMPLE
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let proposed = parse_line(line).expect("the example parses").event;
            let stream = proposed
                .payload
                .stream()
                .expect("no retraction in the example");
            let v = versions.entry(stream.clone()).or_insert(0u64);
            let event = RecordedEvent {
                position: i as u64,
                event_id: EventId(uuid::Uuid::from_u128(0x0190_0000 + i as u128)),
                stream,
                stream_version: *v,
                schema: 1,
                occurred_on: proposed.occurred_on,
                recorded_at: Timestamp::from_micros(1_454_284_800_000_000 + i as i64 * 1_000_000),
                actor: "recorder".into(),
                payload: proposed.payload,
            };
            *v += 1;
            StoredRecord {
                leaf_sha256: event.leaf_sha256(),
                event,
            }
        })
        .collect()
}

/// One import line of each event type the demo city makes, in JCS.
fn demo_lines() -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for step in demo::city(1) {
        let DemoStep::Append(batch) = step else {
            continue;
        };
        for e in batch.events {
            if seen.insert(e.payload.event_type()) {
                let line = serde_json::json!({
                    "type": e.payload.event_type().as_str(),
                    "occurred_on": e.occurred_on.to_string(),
                    "payload": e.payload.to_json_value(),
                });
                out.push(events::canonical::to_jcs(&line));
            }
        }
    }
    out
}

fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| {
        out.push((target, name, bytes));
    };
    let records = example_records();
    let mut lines: Vec<String> = EXAMPLE.lines().map(str::to_string).collect();
    lines.extend(demo_lines());
    for (i, r) in records.iter().enumerate() {
        add("record", format!("seed-example-{i:02}"), record::encode(r));
    }
    for (i, line) in lines.iter().enumerate() {
        let parsed = parse_line(line).expect("seed lines parse").event;
        let ty = events::EventType::ALL
            .iter()
            .position(|&t| t == parsed.payload.event_type())
            .expect("a known type");
        let mut ev = vec![ty as u8];
        ev.extend(events::canonical::to_jcs(&parsed.payload.to_json_value()).into_bytes());
        add("event_json", format!("seed-{i:02}"), ev);
        add(
            "import_line",
            format!("seed-{i:02}"),
            line.clone().into_bytes(),
        );
    }
    add(
        "import_line",
        "seed-envelope".into(),
        r#"{"type":"ProjectStarted","occurred_on":"2016-03-15","payload":{"project_id":"R-CX-01"},"event_id":"0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c","expected_version":1,"batch":"b-1"}"#
        .as_bytes()
        .to_vec(),
    );
    add(
        "import_file",
        "seed-example".into(),
        EXAMPLE.as_bytes().to_vec(),
    );
    add(
        "import_file",
        "seed-crlf-blank".into(),
        format!("{}\r\n\r\n  \n{}\r\n", lines[0], lines[1]).into_bytes(),
    );
    add(
        "append_input",
        "seed-line".into(),
        format!("  {}\n", lines[4]).into_bytes(),
    );
    let array = format!("[{},\n{},{}]", lines[0], lines[1], lines[2]);
    add(
        "append_input",
        "seed-array".into(),
        array.clone().into_bytes(),
    );
    add("http_events", "seed-array".into(), array.into_bytes());
    add(
        "http_events",
        "seed-line".into(),
        format!("\r\n{}\n", lines[7]).into_bytes(),
    );

    let key = fuzzing::note_key();
    let leaves: Vec<[u8; 32]> = records.iter().map(|r| r.leaf_sha256.0).collect();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    let cp = Checkpoint::new(fuzzing::NOTE_KEY_NAME, tree.size(), tree.root()).expect("origin");
    add(
        "checkpoint_note",
        "seed-signed".into(),
        cp.sign(&key).into_bytes(),
    );
    add(
        "checkpoint_note",
        "seed-body".into(),
        cp.body().into_bytes(),
    );
    add(
        "verifier_key",
        "seed-key".into(),
        key.verifier().to_string().into_bytes(),
    );
    // The fuzz key's secret is public by design: it signs nothing but fuzz inputs.
    add(
        "secret_key",
        "seed-key".into(),
        format!("{}\n", key.to_secret_string()).into_bytes(),
    );
    for (leaf, size) in [(5u64, 18u64), (0, 1), (16, 17)] {
        let p = InclusionProof::from_source(&tree, leaf, size).expect("in range");
        let mut b = vec![0];
        b.extend(serde_json::to_vec(&p).expect("serializes"));
        add("proof_json", format!("seed-inclusion-{leaf}-{size}"), b);
    }
    for (first, second) in [(7u64, 18u64), (8, 18), (18, 18)] {
        let p = ConsistencyProof::from_source(&tree, first, second).expect("in range");
        let mut b = vec![1];
        b.extend(serde_json::to_vec(&p).expect("serializes"));
        add(
            "proof_json",
            format!("seed-consistency-{first}-{second}"),
            b,
        );
    }
    add(
        "proof_json",
        "seed-made".into(),
        vec![2, 0, 200, 0, 77, 0, 64, 1, 2, 3],
    );
    let policy = serde_json::to_value(Policy::DEFAULT_V1).expect("serializes");
    add(
        "policy",
        "seed-default".into(),
        policy.to_string().into_bytes(),
    );
    add(
        "policy",
        "seed-pretty".into(),
        serde_json::to_string_pretty(&policy)
            .expect("serializes")
            .into_bytes(),
    );
    // Model scripts: op byte, then its arguments (src/fuzzing/model.rs reads them).
    add(
        "model",
        "seed-grow-reopen-prove".into(),
        vec![
            0, 3, 0, 0, 0, 0x80, 0, 4, 1, 0, 0, 4, 0, 5, 2, //
            1, 1, 6, 0, 0, 7, 0, 0, 2, //
            3, //
            7, 0, 9, 0, 3, 0, 2, 0, //
            4, 0, 0, 0, 9, //
            5, 0, 1, 0, 3, //
            6, 0, 1,
        ],
    );
    add(
        "model",
        "seed-conflicts".into(),
        vec![
            0, 0, 0x80, 0, 0, 1, //
            1, 2, 3, 0, 0, 4, 0, 7, 0xff, //
            2, 1, 7, 0, 0, 6, 0, 0, 2, //
            3, 7, 0, 0, 0, 0, 1,
        ],
    );
    out
}

/// The seed files must be what the formats make today; `TAIZHANG_WRITE_SEEDS=1` rewrites them.
#[test]
fn checked_in_seeds_are_current() {
    let write = std::env::var_os("TAIZHANG_WRITE_SEEDS").is_some();
    let mut stale = Vec::new();
    for (target, name, bytes) in seeds() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        if write {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
            std::fs::write(&path, &bytes).expect("write seed");
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "seed files missing or stale (rerun with TAIZHANG_WRITE_SEEDS=1): {stale:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// Files of `fuzz/<kind>/<target>/`, sorted by name so that runs replay in one order.
fn files(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        // Only the checked-in seeds of the corpus: a local `cargo fuzz` run may have left
        // thousands of its own inputs beside them, which would make this test slow and
        // different from CI's.
        .filter(|p| {
            kind != "corpus"
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

/// splitmix64: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that the decoders give meaning to: a byte-level mutator rarely spells them.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "-1",
    "0",
    "1e3",
    "1.0",
    "9007199254740991",
    "9007199254740992",
    "18446744073709551616",
    "\"\"",
    "\"\\u0000\"",
    "\\ud800",
    "{}",
    "[]",
    ",",
    ":",
    "\n",
    "\r\n",
    "\n\n",
    "+",
    "=",
    "\u{2014} ",
    "\u{feff}",
    "2016-02-29",
    "2015-02-29",
    "1899-12-31",
    "2999-12-31",
    "\"event_id\":",
    "\"expected_version\":",
    "\"batch\":",
    "0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c",
    "村",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = [
                    0, 0xff, 0x7f, 0x80, b'"', b'\\', b'0', b'9', b' ', b'{', b']',
                ][rng.below(11)];
            }
            2 => {
                let i = rng.below(len + 1);
                b.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                b.drain(i..i + n);
            }
            4 => b.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                // Repeat a chunk: long strings, long arrays, deep nesting.
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = b[i..i + n].to_vec();
                for _ in 0..1 + rng.below(8) {
                    b.splice(i..i, chunk.iter().copied());
                }
            }
            6 => {
                // Splice: a prefix of this input and a suffix of another.
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            7 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let i = rng.below(len + 1);
                if rng.below(2) == 0 || len == 0 {
                    b.splice(i..i, t.iter().copied());
                } else {
                    let end = (i + t.len()).min(len);
                    b.splice(i..end, t.iter().copied());
                }
            }
            _ if len > 0 => {
                // Rewrite a run of digits, where sizes, versions and dates live.
                let i = rng.below(len);
                let end = (i + 1 + rng.below(6)).min(len);
                for byte in &mut b[i..end] {
                    *byte = b'0' + rng.below(10) as u8;
                }
            }
            _ => b.push(rng.next() as u8),
        }
    }
    b
}

/// Runs `target` on `input`; on a panic, keeps the input in a file and fails naming it.
fn run_one(name: &str, target: Target, input: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_ok() {
        return;
    }
    let crashes = std::env::temp_dir()
        .join("taizhang-fuzz-crashes")
        .join(name);
    std::fs::create_dir_all(&crashes).expect("mkdir");
    let file = crashes.join(format!("crash-{:016x}", fnv(input)));
    std::fs::write(&file, input).expect("write crash");
    panic!(
        "fuzz target {name} panicked on {origin}; the input is in {} — move it to fuzz/regressions/{name}/ with the fix",
        file.display()
    );
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn smoke(name: &str) {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a target of that name");
    for (path, bytes) in files("regressions", name) {
        run_one(name, target, &bytes, &path.display().to_string());
    }
    let corpus: Vec<Vec<u8>> = files("corpus", name).into_iter().map(|(_, b)| b).collect();
    assert!(
        !corpus.is_empty(),
        "no seeds for {name} in fuzz/corpus/{name}/"
    );
    for (i, bytes) in corpus.iter().enumerate() {
        run_one(name, target, bytes, &format!("seed {i}"));
    }
    let iters = env_u64("TAIZHANG_FUZZ_ITERS", 20_000);
    let budget = Duration::from_secs(env_u64("TAIZHANG_FUZZ_SECS", 3));
    let mut rng = Rng(fnv(name.as_bytes()) ^ env_u64("TAIZHANG_FUZZ_SEED", 0));
    let start = Instant::now();
    let mut done = 0;
    while done < iters && start.elapsed() < budget {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        run_one(name, target, &input, &format!("mutation {done}"));
        done += 1;
    }
    // The target must have run: a harness that stops at once proves nothing.
    assert!(done >= 1, "{name}: no mutation ran");
    eprintln!(
        "{name}: {} regressions, {} seeds, {done} mutations in {:.1?}",
        files("regressions", name).len(),
        corpus.len(),
        start.elapsed()
    );
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { smoke(stringify!($name)); })*

        /// Every target has a smoke test above, and every folder under fuzz/ names a target.
        #[test]
        fn every_target_is_smoked_and_has_a_cargo_fuzz_binary() {
            let smoked = [$(stringify!($name)),*];
            let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, smoked);
            for &name in &names {
                let bin = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
                let text = std::fs::read_to_string(&bin).unwrap_or_else(|_| panic!("{} is missing", bin.display()));
                assert!(text.contains(&format!("taizhang::fuzzing::{name}(")), "{} does not call its target", bin.display());
            }
            for kind in ["corpus", "regressions"] {
                let Ok(dirs) = std::fs::read_dir(fuzz_dir().join(kind)) else { continue };
                for d in dirs {
                    let d = d.expect("entry").file_name();
                    let d = d.to_string_lossy();
                    assert!(names.contains(&d.as_ref()), "fuzz/{kind}/{d} names no target");
                }
            }
        }
    };
}

smoke_tests!(
    record,
    event_json,
    import_line,
    import_file,
    append_input,
    checkpoint_note,
    verifier_key,
    secret_key,
    proof_json,
    policy,
    http_events,
    model,
);

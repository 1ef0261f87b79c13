//! Helpers shared by the server tests: a store with the example village and one token per
//! role, the real binary serving on 127.0.0.1:0, and a minimal Server-Sent Events reader.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use taizhang::store::tokens::{self, Role};
use taizhang::store::{Log, SledLog, Source};

/// The example village shipped with the project.
pub fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/village.jsonl")
}

/// Token names used by the tests, by role; `rec-lf` records for CX-BT-LF only, `rec-other`
/// for another village only.
pub const NAMES: &[(&str, Role, &[&str])] = &[
    ("rec", Role::Recorder, &[]),
    ("rec-lf", Role::Recorder, &["CX-BT-LF"]),
    ("rec-other", Role::Recorder, &["XX-OTHER"]),
    ("insp", Role::Inspector, &[]),
    ("rev", Role::Reviewer, &[]),
    ("aud", Role::Auditor, &[]),
    ("adm", Role::Admin, &[]),
];

/// A fresh store holding the example village (appended by `cli`), with one token per name of
/// [`NAMES`]; returns the tokens by name.
pub fn store_with_example(data: &Path) -> HashMap<&'static str, String> {
    let log = SledLog::init(data, "server.test/taizhang", false).expect("init");
    let parsed = taizhang::ops::parse_import(&std::fs::read(example()).unwrap(), |_| {}).unwrap();
    taizhang::ops::import(&log, parsed, "cli").expect("import example");
    log.close();
    drop(log);
    let mut t = HashMap::new();
    for (name, role, villages) in NAMES {
        let v: Vec<String> = villages.iter().map(|s| s.to_string()).collect();
        t.insert(*name, tokens::add(data, name, *role, &v).expect("token"));
    }
    t
}

/// A `CommitmentMade` import line for the example's posting.
pub fn commitment(id: &str, event_id: Option<&str>) -> String {
    let eid = event_id
        .map(|e| format!(",\"event_id\":\"{e}\""))
        .unwrap_or_default();
    format!(
        r#"{{"type":"CommitmentMade","occurred_on":"2016-03-01","payload":{{"commitment_id":"{id}","posting_id":"P-2016-CX-01","village_id":"CX-BT-LF","kind":"practical","content":"修一座桥","due":"2016-12-31"}}{eid}}}"#
    )
}

/// Appends directly to a store (tests that need events before a server starts).
pub fn append_line(log: &SledLog, line: &str, actor: &str) {
    let ev = events::import::parse_line(line).unwrap().event;
    log.append(vec![ev], actor, Source::Client, None).unwrap();
}

/// The real binary serving `data` on 127.0.0.1:0; returns the child and its URL once it
/// printed where it listens (no polling: the line is written after the bind).
pub fn spawn_server(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_taizhang"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TAIZHANG_LOG", "warn")
        .env_remove("TAIZHANG_SERVER")
        .env_remove("TAIZHANG_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, format!("http://{addr}"))
}

/// Sends SIGTERM and waits; returns the exit status.
pub fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    child.wait().expect("wait server")
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Reads events from an SSE body, skipping comments (keep-alives).
pub struct SseReader<R: BufRead> {
    inner: R,
}

impl<R: BufRead> SseReader<R> {
    pub fn new(inner: R) -> Self {
        SseReader { inner }
    }
    /// The next event, or `None` at the end of the stream.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        let mut ev = SseEvent::default();
        let mut any = false;
        loop {
            let mut line = String::new();
            if self.inner.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if any {
                    return Some(ev);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            any = true;
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            let v = v.strip_prefix(' ').unwrap_or(v);
            match k {
                "id" => ev.id = Some(v.to_string()),
                "event" => ev.event = v.to_string(),
                "data" => ev.data.push_str(v),
                _ => {}
            }
        }
    }
}

/// Appends `n` commitments (`{prefix}-{i}`) straight to a store, in large batches: enough
/// history for streams that outlast a socket's buffers.
pub fn add_commitments(log: &SledLog, prefix: &str, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| commitment(&format!("{prefix}-{i}"), None))
        .collect();
    for chunk in lines.chunks(1_000) {
        let batch = chunk
            .iter()
            .map(|l| events::import::parse_line(l).unwrap().event)
            .collect();
        log.append(batch, "cli", Source::Client, None).unwrap();
    }
}

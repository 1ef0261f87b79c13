//! The refusal matrix: every refusal of domain.md §2 "What the log refuses" and every envelope
//! rule of formats.md §2 and §5, each tried three ways — `taizhang append` (the binary, standard
//! input), `taizhang import` of a file (the setup lines, then the offending line, whose number
//! the error names) and `POST /v1/events` on the in-process router — checking the field and the
//! reason each way, and that the log's size and root did not move.
//!
//! Cases are grouped by the world they are tried against (no events, two villages, a small
//! city holding one entity in each state a rule looks at): a refused event changes nothing, so
//! one store per world serves every case of it. The setup lines carry explicit event ids, so
//! the import file (setup lines + offending line) re-sends them as idempotent retries and its
//! offending line is judged against the same state as the other two ways.

mod util;

#[path = "../projections/tests/validation_common/mod.rs"]
mod validation_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use events::EventId;
use serde_json::{json, Value};
use taizhang::server::{Limits, Server};
use taizhang::store::tokens::{self, Role};
use taizhang::store::{Log, SledLog, Source};
use tower::ServiceExt;
use validation_common::*;

/// What a way of sending must answer: the field named (None: the input as a whole, which has
/// no field, such as an empty file) and a fragment of the reason.
#[derive(Clone, Copy, Debug)]
struct Expect {
    field: Option<&'static str>,
    fragment: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum World {
    /// No event at all.
    Empty,
    /// Villages V and W: syntax cases, and a non-empty file so that line numbers are not 1.
    Small,
    /// One entity in each state a state-dependent rule looks at ([`city`]).
    City,
}

struct Case {
    name: &'static str,
    world: World,
    /// The offending input: one line (bytes, so that it may be invalid UTF-8).
    line: Vec<u8>,
    append: Expect,
    import: Expect,
    /// Status and expectation of `POST /v1/events`.
    http: (StatusCode, Expect),
}

impl Case {
    fn new(
        name: &'static str,
        world: World,
        line: impl Into<Vec<u8>>,
        status: StatusCode,
        field: &'static str,
        fragment: &'static str,
    ) -> Case {
        let e = Expect {
            field: Some(field),
            fragment,
        };
        Case {
            name,
            world,
            line: line.into(),
            append: e,
            import: e,
            http: (status, e),
        }
    }
    fn append(mut self, field: Option<&'static str>, fragment: &'static str) -> Case {
        self.append = Expect { field, fragment };
        self
    }
    fn import(mut self, field: Option<&'static str>, fragment: &'static str) -> Case {
        self.import = Expect { field, fragment };
        self
    }
    fn http(
        mut self,
        status: StatusCode,
        field: Option<&'static str>,
        fragment: &'static str,
    ) -> Case {
        self.http = (status, Expect { field, fragment });
        self
    }
}

/// A syntax refusal (formats.md §5, the table of domain.md §2): 400 over HTTP.
fn syntax(
    name: &'static str,
    line: impl Into<Vec<u8>>,
    field: &'static str,
    fragment: &'static str,
) -> Case {
    Case::new(
        name,
        World::Small,
        line,
        StatusCode::BAD_REQUEST,
        field,
        fragment,
    )
}

/// A refusal by the log's state: 422 over HTTP.
fn refused(
    name: &'static str,
    line: impl Into<Vec<u8>>,
    field: &'static str,
    fragment: &'static str,
) -> Case {
    Case::new(
        name,
        World::City,
        line,
        StatusCode::UNPROCESSABLE_ENTITY,
        field,
        fragment,
    )
}

/// `line` with its first `from` replaced by `to` (which must occur).
fn edit(line: &str, from: &str, to: &str) -> String {
    assert!(line.contains(from), "{from} not in {line}");
    line.replacen(from, to, 1)
}

/// `line` with one envelope key set (or added).
fn envelope(line: &str, key: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    v[key] = value;
    v.to_string()
}

/// `line` without one envelope key.
fn drop_key(line: &str, key: &str) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    assert!(v.as_object_mut().unwrap().remove(key).is_some());
    v.to_string()
}

/// `line` with one payload key set (or added).
fn payload(line: &str, key: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    v["payload"][key] = value;
    v.to_string()
}

/// `line` without one payload key.
fn without(line: &str, key: &str) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    assert!(v["payload"].as_object_mut().unwrap().remove(key).is_some());
    v.to_string()
}

/// A world's events as import lines, with the names the cases use for their event ids.
struct Setup {
    lines: Vec<String>,
    ids: std::collections::HashMap<&'static str, EventId>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            lines: Vec::new(),
            ids: Default::default(),
        }
    }
    /// Adds a line with the explicit id of its position (so a re-import is a retry).
    fn push(&mut self, line: String) -> EventId {
        let id = eid(self.lines.len() as u64);
        self.lines
            .push(envelope(&line, "event_id", json!(id.to_string())));
        id
    }
    fn named(&mut self, name: &'static str, line: String) {
        let id = self.push(line);
        self.ids.insert(name, id);
    }
    fn id(&self, name: &str) -> EventId {
        self.ids[name]
    }
}

fn setup(world: World) -> Setup {
    let mut s = Setup::new();
    match world {
        World::Empty => {}
        World::Small => {
            s.push(village("V", "2016-01-01"));
            s.push(village("W", "2016-01-01"));
        }
        World::City => city(&mut s),
    }
    s
}

/// Villages and postings: P (open) in V; Q in W, ended 2016-05-31; PE in VE with a spot check
/// on 2016-03-01; PA in VA with attendance for 2016-04; PX in VX, whose end was retracted after
/// PX2 began; PR in VR, retracted while its commitment CR stands; VN with no posting.
/// Commitments of P: C (extended to 2016-11-30), CE (due 2016-09-30), CF fulfilled, CW
/// withdrawn. Projects R planned, RS started, RC completed, RX cancelled. Pledges D (1000, 600
/// received), DR released, DP paid in full, DX retracted after a receipt of 600. Inspection I
/// with F1 rectified and F2 open; contract K with item A completed; M1 a member of V; V
/// classified for 2016; evaluation E; policy strict-2017; attendance of P for 2016-02.
fn city(s: &mut Setup) {
    for v in ["V", "W", "VE", "VA", "VX", "VR", "VN"] {
        s.push(village(v, "2016-01-01"));
    }
    s.push(posted("P", "V", "2016-01-15"));
    s.push(posted("Q", "W", "2016-01-15"));
    s.push(ended("Q", "2016-05-31"));
    s.push(posted("PE", "VE", "2016-01-15"));
    s.push(spot_check("PE", "2016-03-01"));
    s.push(posted("PA", "VA", "2016-01-15"));
    s.push(attendance("PA", "2016-04", "2016-05-03"));
    s.push(posted("PX", "VX", "2016-01-15"));
    let px_end = s.push(ended("PX", "2016-05-31"));
    s.push(posted("PX2", "VX", "2016-06-01"));
    s.push(retracted(px_end, "2016-06-02"));
    let pr = s.push(posted("PR", "VR", "2016-01-15"));
    s.push(made("CR", "PR", "VR", "2016-02-01", "2016-09-30"));
    s.push(retracted(pr, "2016-03-01"));
    s.push(made("C", "P", "V", "2016-02-01", "2016-09-30"));
    s.push(extended("C", "2016-11-30", "2016-06-01"));
    s.push(made("CE", "P", "V", "2016-02-01", "2016-09-30"));
    s.push(made("CF", "P", "V", "2016-02-01", "2016-09-30"));
    s.push(fulfilled("CF", "2016-05-01"));
    s.push(made("CW", "P", "V", "2016-02-01", "2016-09-30"));
    s.push(withdrawn("CW", "2016-05-01"));
    for r in ["R", "RS", "RC", "RX"] {
        s.push(planned(r, "V", "P", "2016-02-01"));
    }
    s.push(project("ProjectStarted", "RS", "2016-03-01"));
    s.push(project("ProjectCompleted", "RC", "2016-03-01"));
    s.push(project("ProjectCancelled", "RX", "2016-03-01"));
    s.push(pledged("D", "V", 1000, "2016-03-01"));
    s.push(received("D", 600, "2016-04-01"));
    s.push(pledged("DR", "V", 1000, "2016-03-01"));
    s.push(released("DR", "2016-05-01"));
    s.push(pledged("DP", "V", 1000, "2016-03-01"));
    s.push(received("DP", 1000, "2016-04-01"));
    s.named("DX", pledged("DX", "V", 1000, "2016-03-01"));
    s.push(received("DX", 600, "2016-04-01"));
    let dx = s.id("DX");
    s.named("DX-retraction", retracted(dx, "2016-05-01"));
    s.push(inspection("I", "V", Some("P"), &["F1", "F2"], "2016-03-01"));
    s.push(rectified("I", "F1", "2016-04-01"));
    s.push(contract("K", "V", &["A", "B"], "2016-02-01"));
    s.push(item_completed("K", "A", "2016-04-01"));
    s.push(joined("V", "M1", "2016-02-01"));
    s.push(classified("V", 2016, "2016-01-10"));
    s.push(evaluation("E", "P", "V", "2016-07-01"));
    s.push(policy("strict-2017", "2016-12-01"));
    s.push(attendance("P", "2016-02", "2016-03-01"));
}

/// The city's `ReviewSealed` (sealed by the log after the setup lines): its id and date, put in
/// place of `{SEAL}` and `{SEAL_ON}` in a case's line.
struct Seal {
    id: String,
    on: String,
}

const TOKENS: &[(&str, Role)] = &[
    ("rec", Role::Recorder),
    ("insp", Role::Inspector),
    ("rev", Role::Reviewer),
];

/// Makes a world's store: its setup lines in one batch, a sealed review for the city, and a
/// token per appending role (returned by name).
fn make_store(
    data: &Path,
    world: World,
    s: &Setup,
) -> (Option<Seal>, HashMap<&'static str, String>) {
    let log = SledLog::init(data, "matrix.test/taizhang", false).unwrap();
    if !s.lines.is_empty() {
        let batch = s
            .lines
            .iter()
            .map(|l| events::import::parse_line(l).unwrap().event)
            .collect();
        log.append(batch, "cli", Source::Client, None).unwrap();
    }
    let seal = (world == World::City).then(|| {
        let (_, receipt) = taizhang::reviews::seal(
            &log,
            "R-2016",
            "2016-01-01".parse().unwrap(),
            "2016-12-31".parse().unwrap(),
            "cli",
            None,
        )
        .unwrap();
        let ev = log.event(receipt.appended.event_id).unwrap().unwrap();
        Seal {
            id: ev.event_id.to_string(),
            on: ev.occurred_on.to_string(),
        }
    });
    log.close();
    drop(log);
    let tokens = TOKENS
        .iter()
        .map(|(name, role)| (*name, tokens::add(data, name, *role, &[]).unwrap()))
        .collect();
    (seal, tokens)
}

/// Runs the binary with raw bytes on standard input.
fn run_bytes(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(util::bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("TAIZHANG_DATA")
        .env_remove("TAIZHANG_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn taizhang");
    // A writer thread: a line over the pipe's buffer must not block against the reader.
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may refuse before reading everything: a broken pipe is its answer.
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait taizhang");
    writer.join().unwrap();
    out
}

/// Whether `text` names `field` and then a reason holding the fragment (`… field: reason`,
/// the field preceded by the start, a space or `prefix`); if not, what was expected.
fn names(way: &str, case: &str, text: &str, prefix: &str, e: &Expect) -> Result<(), String> {
    let found = match e.field {
        Some(field) => {
            let needle = format!("{prefix}{field}: ");
            text.match_indices(&needle).any(|(at, _)| {
                let before_ok = at == 0 || text[..at].ends_with([' ', '\n']);
                let rest = &text[at + needle.len()..];
                let rest = rest.lines().next().unwrap_or("");
                before_ok && rest.contains(e.fragment)
            })
        }
        None => text.contains(e.fragment),
    };
    if found {
        Ok(())
    } else {
        Err(format!(
            "{case} ({way}): expected `{prefix}{}: …{}…` in: {text}",
            e.field.unwrap_or("-"),
            e.fragment
        ))
    }
}

fn verify_text(data: &Path) -> String {
    let v = util::ok(data, &["verify"]);
    assert!(v.starts_with("ok: "), "{v}");
    v
}

fn substitute(line: &[u8], seal: &Option<Seal>) -> Vec<u8> {
    match (seal, std::str::from_utf8(line)) {
        (Some(s), Ok(text)) if text.contains("{SEAL") => text
            .replace("{SEAL}", &s.id)
            .replace("{SEAL_ON}", &s.on)
            .into_bytes(),
        _ => line.to_vec(),
    }
}

/// The role whose token sends a line over HTTP: one that may append its type, so that the
/// answer is the log's, not the authorisation's.
fn token_for(line: &[u8]) -> &'static str {
    let ty = serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    match ty.as_str() {
        "InspectionRecorded" | "FindingRectified" | "SpotCheckRecorded" | "ProjectAccepted" => {
            "insp"
        }
        // A reviewer retracts any event (a recorder only its own).
        "PolicyAdopted" | "DisciplineRecorded" | "Retracted" => "rev",
        _ => "rec",
    }
}

fn run_world(world: World, cases: &[&Case]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let s = setup(world);
    let (seal, tokens) = make_store(&data, world, &s);
    let before = verify_text(&data);
    let file = dir.path().join("case.jsonl");
    let mut setup_file = Vec::new();
    for l in &s.lines {
        setup_file.extend_from_slice(l.as_bytes());
        setup_file.push(b'\n');
    }
    let line_no = s.lines.len() + 1;
    // Wrong answers are gathered and reported together; a case that moved the log stops the
    // test at once, since every later case would be judged against another state.
    let mut failures: Vec<String> = Vec::new();

    for c in cases {
        let line = substitute(&c.line, &seal);
        // 1. `taizhang append`, the line on standard input.
        let out = run_bytes(&data, &["append"], &line);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{} (append) was accepted: {}",
            c.name,
            String::from_utf8_lossy(&out.stdout)
        );
        failures.extend(names("append", c.name, &err, "", &c.append).err());
        assert_eq!(
            verify_text(&data),
            before,
            "{} (append) moved the log",
            c.name
        );

        // 2. `taizhang import` of the setup lines (retries) and the offending line.
        let mut bytes = setup_file.clone();
        bytes.extend_from_slice(&line);
        if !line.is_empty() {
            bytes.push(b'\n');
        }
        std::fs::write(&file, &bytes).unwrap();
        let out = util::run(&data, &["import", file.to_str().unwrap()], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} (import) was accepted", c.name);
        assert!(
            err.contains("was not imported, nothing was appended"),
            "{}: {err}",
            c.name
        );
        let prefix = format!("line {line_no}: ");
        let prefix = if c.import.field.is_some() {
            prefix.as_str()
        } else {
            ""
        };
        failures.extend(names("import", c.name, &err, prefix, &c.import).err());
        assert_eq!(
            verify_text(&data),
            before,
            "{} (import) moved the log",
            c.name
        );
    }

    // 3. `POST /v1/events`, in process, against the same store.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    {
        let log = Arc::new(SledLog::open(&data).unwrap());
        let verified = |log: &SledLog| taizhang::ops::verify(log, |_| {}).unwrap();
        let start = verified(&log);
        let server = Server::new(log.clone(), Limits::default()).unwrap();
        let router = server.router();
        for c in cases {
            let line = substitute(&c.line, &seal);
            let who = token_for(&line);
            let answer = rt.block_on(post(&router, &tokens[who], line));
            let (status, expect) = &c.http;
            if answer.0 != *status {
                failures.push(format!(
                    "{} (http): status {} instead of {status}: {}",
                    c.name, answer.0, answer.1
                ));
            }
            let body: Value = serde_json::from_str(&answer.1)
                .unwrap_or_else(|e| panic!("{} (http): not JSON ({e}): {}", c.name, answer.1));
            let e = &body["error"];
            let message = e["message"].as_str().unwrap();
            if let Some(field) = expect.field {
                if e["field"] != field {
                    failures.push(format!(
                        "{} (http): field {} instead of {field}",
                        c.name, e["field"]
                    ));
                }
            }
            // The message reads as on the command line (`field: reason`), except for errors of
            // the body as a whole and authorisation refusals, whose field is given apart.
            let in_message = Expect {
                field: expect
                    .field
                    .filter(|f| *f != "body" && *status != StatusCode::FORBIDDEN),
                fragment: expect.fragment,
            };
            failures.extend(names("http", c.name, message, "", &in_message).err());
            assert_eq!(verified(&log), start, "{} (http) moved the log", c.name);
        }
        drop(router);
        drop(server);
        log.close();
    }
    // And what the binary sees after it all.
    assert_eq!(verify_text(&data), before);
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn post(router: &axum::Router, token: &str, body: Vec<u8>) -> (StatusCode, String) {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/events")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// An import line of a village not in any world.
fn new_village() -> String {
    village("N1", "2016-01-01")
}

/// Formats.md §2 and §5 and the field table of domain.md §2: what is refused whatever the
/// log holds (World::Small, so the import error names line 3).
fn syntax_cases() -> Vec<Case> {
    let v = new_village();
    let classified_n = classified("V", 2016, "2016-01-10");
    let pledge = pledged("D", "V", 1000, "2016-03-01");
    let insp = |findings: Vec<Value>| {
        payload(
            &inspection("I", "V", None, &[], "2016-03-01"),
            "findings",
            json!(findings),
        )
    };
    let finding =
        |id: &str, text: &str| json!({"finding_id": id, "severity": "minor", "text": text});
    let items = |n: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("A{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        contract("K", "V", &ids, "2016-02-01")
    };
    let pol = policy("strict-2018", "2016-12-01");
    let sealed_by_client = sealed("R-2016", 2, "2016-12-31");
    let long_name = "村".repeat(201);
    let big = "a".repeat(events::import::IMPORT_LINE_BYTES_MAX + 1);
    let mut invalid_utf8 = v.clone().into_bytes();
    // The first byte of 六 made 0xFF: the name's UTF-8 no longer decodes.
    let at = invalid_utf8
        .windows(3)
        .position(|w| w == "六".as_bytes())
        .unwrap();
    invalid_utf8[at] = 0xff;
    vec![
        // Envelope: event ids.
        syntax("a bad UUID", envelope(&v, "event_id", json!("not-a-uuid")), "event_id", "is not a lower-case hyphenated UUID"),
        syntax("an upper-case UUID (refused, not normalised)", envelope(&v, "event_id", json!("0190A5B2-7C4E-7D3A-9B1F-2E4D6C8A0B1C")), "event_id", "is not a lower-case hyphenated UUID"),
        syntax("a UUID without hyphens", envelope(&v, "event_id", json!("0190a5b27c4e7d3a9b1f2e4d6c8a0b1c")), "event_id", "is not a lower-case hyphenated UUID"),
        syntax("a UUID in braces", envelope(&v, "event_id", json!("{0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c}")), "event_id", "is not a lower-case hyphenated UUID"),
        syntax("an upper-case target_event_id", payload(&retracted(eid(0), "2016-03-01"), "target_event_id", json!("00000000-0000-4000-8000-00000000000A")), "payload.target_event_id", "is not a lower-case hyphenated UUID"),
        // Envelope: dates.
        syntax("a date that is not in the calendar", envelope(&v, "occurred_on", json!("2016-02-30")), "occurred_on", "is not a real calendar date"),
        syntax("a date not written YYYY-MM-DD", envelope(&v, "occurred_on", json!("2016-1-1")), "occurred_on", "YYYY-MM-DD"),
        syntax("a date with a time", envelope(&v, "occurred_on", json!("2016-01-01T00:00:00Z")), "occurred_on", "YYYY-MM-DD"),
        syntax("a year before 1900", envelope(&v, "occurred_on", json!("1899-12-31")), "occurred_on", "outside 1900-2999"),
        syntax("a year after 2999", envelope(&v, "occurred_on", json!("3000-01-01")), "occurred_on", "outside 1900-2999"),
        syntax("a payload date that is not in the calendar", payload(&made("C", "P", "V", "2016-02-01", "2016-09-30"), "due", json!("2016-13-01")), "payload.due", "\"2016-13-01\" is not a real calendar date"),
        syntax("a month that does not exist", payload(&attendance("P", "2016-02", "2016-03-01"), "month", json!("2016-13")), "payload.month", "\"2016-13\" is not a real calendar date"),
        syntax("a month written with a day", payload(&attendance("P", "2016-02", "2016-03-01"), "month", json!("2016-02-01")), "payload.month", "YYYY-MM"),
        // Envelope: type, keys.
        syntax("an unknown type", envelope(&v, "type", json!("VillageRenamed")), "type", "unknown event type \"VillageRenamed\""),
        syntax("a type in the wrong case", envelope(&v, "type", json!("villageregistered")), "type", "unknown event type"),
        syntax("an unknown envelope key", envelope(&v, "recorded_at", json!("2016-01-01T00:00:00.000000Z")), "recorded_at", "is not a key of an import line"),
        syntax("a missing type", drop_key(&v, "type"), "type", "is missing"),
        syntax("a missing occurred_on", drop_key(&v, "occurred_on"), "occurred_on", "is missing"),
        syntax("a missing payload", r#"{"type":"VillageRegistered","occurred_on":"2016-01-01"}"#, "payload", "is missing"),
        syntax("a null type", envelope(&v, "type", Value::Null), "type", "invalid type: null"),
        syntax("a null occurred_on", envelope(&v, "occurred_on", Value::Null), "occurred_on", "invalid type: null"),
        syntax("a null payload", envelope(&v, "payload", Value::Null), "payload", "invalid type: null"),
        syntax("a negative expected_version", envelope(&v, "expected_version", json!(-1)), "expected_version", "invalid value: integer `-1`"),
        syntax("an expected_version over 2^53-1", envelope(&v, "expected_version", json!(9_007_199_254_740_992u64)), "expected_version", "over the largest integer allowed"),
        syntax("an expected_version with a fraction", edit(&envelope(&v, "expected_version", json!(0)), r#""expected_version":0"#, r#""expected_version":0.0"#), "expected_version", "invalid type: floating point"),
        syntax("an empty batch name", envelope(&v, "batch", json!("")), "batch", "must be 1-200 characters, got 0"),
        syntax("a batch that is not a string", envelope(&v, "batch", json!(7)), "batch", "invalid type: integer `7`"),
        // Payload: fields.
        syntax("an unknown payload field", payload(&v, "mayor", json!("x")), "payload.mayor", "is not a field of this event type"),
        syntax("a missing payload field", without(&v, "township"), "payload.township", "is missing"),
        syntax("a null required field", payload(&v, "name", Value::Null), "payload.name", "invalid type: null"),
        syntax("a null required id", payload(&made("C", "P", "V", "2016-02-01", "2016-09-30"), "posting_id", Value::Null), "payload.posting_id", "invalid type: null"),
        syntax("a wrong enum spelling", payload(&classified_n, "obstacle", json!("Infrastructure")), "payload.obstacle", "unknown variant `Infrastructure`"),
        syntax("an enum value of another field", payload(&pledge, "donor_kind", json!("road")), "payload.donor_kind", "unknown variant `road`"),
        syntax("a wrong posting-end reason", payload(&ended("P", "2016-05-31"), "reason", json!("resigned")), "payload.reason", "unknown variant `resigned`"),
        // Payload: integers.
        syntax("a negative number", payload(&classified_n, "year", json!(-1)), "payload.year", "invalid value: integer `-1`"),
        syntax("a negative amount", payload(&pledge, "amount_fen", json!(-100)), "payload.amount_fen", "invalid value: integer `-100`"),
        syntax("minus zero (a sign is refused)", edit(&classified_n, r#""year":2016"#, r#""year":-0"#), "payload.year", "invalid type: floating point"),
        syntax("a number over 2^53-1", payload(&pledge, "amount_fen", json!(9_007_199_254_740_992u64)), "payload.amount_fen", "9007199254740992 is over the largest integer allowed, 2^53-1"),
        syntax("a number over 2^64", edit(&pledge, r#""amount_fen":1000"#, r#""amount_fen":18446744073709551616"#), "payload.amount_fen", "invalid type: floating point"),
        syntax("a fraction", edit(&pledge, r#""amount_fen":1000"#, r#""amount_fen":1000.5"#), "payload.amount_fen", "invalid type: floating point"),
        syntax("a whole number written with a fraction", edit(&pledge, r#""amount_fen":1000"#, r#""amount_fen":1000.0"#), "payload.amount_fen", "invalid type: floating point"),
        syntax("an exponent", edit(&pledge, r#""amount_fen":1000"#, r#""amount_fen":1e3"#), "payload.amount_fen", "invalid type: floating point"),
        syntax("a percent over 100", progressed("C", 101, "2016-05-01"), "payload.percent", "percent 101 is over 100"),
        // Payload: strings.
        syntax("a name over 200 characters", payload(&v, "name", json!(long_name)), "payload.name", "must be 1-200 characters, got 201"),
        syntax("an empty name", payload(&v, "county", json!("")), "payload.county", "must be 1-200 characters, got 0"),
        syntax("content over 4000 characters", payload(&made("C", "P", "V", "2016-02-01", "2016-09-30"), "content", json!("字".repeat(4001))), "payload.content", "must be 1-4000 characters, got 4001"),
        syntax("empty content", payload(&made("C", "P", "V", "2016-02-01", "2016-09-30"), "content", json!("")), "payload.content", "must be 1-4000 characters, got 0"),
        syntax("free text over 4000 characters", payload(&ended("P", "2016-05-31"), "note", json!("a".repeat(4001))), "payload.note", "must be 0-4000 characters, got 4001"),
        syntax("an id over 64 characters", payload(&v, "village_id", json!("V".repeat(65))), "payload.village_id", "must be 1-64 characters, got 65"),
        syntax("an empty id", payload(&v, "village_id", json!("")), "payload.village_id", "must be 1-64 characters, got 0"),
        syntax("an id with a slash", payload(&v, "village_id", json!("V/1")), "payload.village_id", "character '/' is not allowed"),
        syntax("an id with a space", payload(&v, "village_id", json!("V 1")), "payload.village_id", "character ' ' is not allowed"),
        syntax("an id outside ASCII", payload(&v, "village_id", json!("六肥")), "payload.village_id", "character '六' is not allowed"),
        syntax("a nested id with a bad character", insp(vec![finding("F 1", "")]), "payload.findings[0].finding_id", "character ' ' is not allowed"),
        syntax("a hash that is not 64 lower-case hex digits", payload(&sealed_by_client, "root", json!("AB".repeat(32))), "payload.root", "must be 64 lower-case hex digits"),
        // Payload: JSON types.
        syntax("a string for an integer", payload(&classified_n, "year", json!("2016")), "payload.year", "invalid type: string \"2016\""),
        syntax("a string for a boolean", payload(&spot_check("P", "2016-03-01"), "present", json!("yes")), "payload.present", "invalid type: string \"yes\""),
        syntax("a number for an id", payload(&v, "village_id", json!(5)), "payload.village_id", "invalid type: integer `5`"),
        syntax("a string for the payload", envelope(&v, "payload", json!("V")), "payload", "invalid type: string"),
        syntax("an object for a list", payload(&inspection("I", "V", None, &[], "2016-03-01"), "findings", json!({})), "payload.findings", "invalid type: map"),
        syntax("an array for the payload object", envelope(&v, "payload", json!(["N1", "六肥村", "岑溪市", "波塘镇"])), "payload", "must be a JSON object"),
        syntax("an array for a list entry object", insp(vec![json!(["F1", "minor", ""])]), "payload.findings[0]", "must be a JSON object"),
        syntax("an array for the policy document", payload(&pol, "policy", json!([183, [40, 30, 30], [100, 60, 0], [9000, 8000, 7000], [500, 100], 7000, 1500])), "payload.policy", "must be a JSON object"),
        // `append` and `POST /v1/events` take a line that starts with `[` as a batch: there,
        // the same text is a batch whose first event is a string.
        syntax("an array for the whole line", json!(["VillageRegistered", "2016-01-01", {"village_id": "N1", "name": "n", "county": "c", "township": "t"}]).to_string(), "line", "must be a JSON object, not an array")
            .append(Some("line"), "invalid type: string \"VillageRegistered\"")
            .http(StatusCode::BAD_REQUEST, Some("line"), "invalid type: string \"VillageRegistered\""),
        syntax("an array for one event of a batch", json!([["VillageRegistered", "2016-01-01", {"village_id": "N1", "name": "n", "county": "c", "township": "t"}]]).to_string(), "line", "must be a JSON object, not an array"),
        // Payload: lists.
        syntax("over 100 findings", insp((0..101).map(|i| finding(&format!("F{i}"), "")).collect()), "payload.findings", "has 101 entries, at most 100 allowed"),
        syntax("a finding id twice in an inspection", insp(vec![finding("F1", ""), finding("F1", "")]), "payload.findings[1].finding_id", "F1 appears twice in this inspection"),
        syntax("a contract without items", items(0), "payload.items", "has 0 entries, must have 1-100"),
        syntax("over 100 contract items", items(101), "payload.items", "has 101 entries, must have 1-100"),
        syntax("an item id twice in a contract", edit(&items(2), r#""item_id":"A1""#, r#""item_id":"A0""#), "payload.items[1].item_id", "A0 appears twice in this contract"),
        syntax("a payload over 65,536 bytes in canonical JSON", insp((0..20).map(|i| finding(&format!("F{i}"), &"a".repeat(4000))).collect()), "payload", "over the limit of 65536"),
        // Rules inside one payload.
        syntax("a spot check both present and excused", payload(&spot_check("P", "2016-03-01"), "excused", json!(true)), "payload.excused", "cannot be both present and excused"),
        syntax("votes over the electorate", payload(&evaluation("E", "P", "V", "2016-07-01"), "electorate", json!(264)), "payload.electorate", "= 265 is over the electorate 264"),
        syntax("days in the village and on leave over the days of the month", payload(&attendance("P", "2016-02", "2016-03-01"), "days_in_village", json!(28)), "payload.leave_days", "= 30 is over the 29 days of 2016-02"),
        syntax("the reserved policy id default-v1", policy("default-v1", "2016-12-01"), "payload.policy_id", "default-v1 is reserved"),
        syntax("a policy weight of 0", edit(&pol, r#""work":40"#, r#""work":0"#), "payload.policy.weights.work", "0 is outside 1-100"),
        syntax("policy thresholds out of order", edit(&pol, r#""excellent":9000"#, r#""excellent":7000"#), "payload.policy.thresholds_bp", "must satisfy 10000 >= excellent > competent > basically_competent >= 0, got 7000 8000 7000"),
        syntax("a policy without a key", edit(&pol, r#""low_satisfaction_bp":7000,"#, ""), "payload.policy.low_satisfaction_bp", "is missing"),
        syntax("a policy with an extra key", edit(&pol, r#""low_satisfaction_bp":7000,"#, r#""low_satisfaction_bp":7000,"bonus_bp":1,"#), "payload.policy.bonus_bp", "is not a field"),
        syntax("a policy value with a fraction", edit(&pol, r#""min_service_days":183"#, r#""min_service_days":183.5"#), "payload.policy.min_service_days", "invalid type: floating point"),
        // I-JSON and the line itself.
        syntax("a repeated envelope key", format!(r#"{{"type":"VillageRegistered",{}"#, &v[1..]), "type", "appears twice"),
        syntax("a repeated payload key", edit(&v, r#""village_id":"N1""#, r#""village_id":"N1","village_id":"N2""#), "payload.village_id", "appears twice"),
        syntax("a lone leading surrogate", edit(&v, "六肥村", r"\ud800"), "payload.name", "hex escape"),
        syntax("a lone trailing surrogate", edit(&v, "六肥村", r"\udc00 村"), "payload.name", "surrogate"),
        syntax("a lone surrogate in an envelope string", envelope(&v, "batch", json!("b")).replacen(r#""batch":"b""#, r#""batch":"\ud800 b""#, 1), "batch", "hex escape"),
        syntax("a byte-order mark before a line", format!("\u{feff}{v}"), "line", "starts with a byte-order mark"),
        syntax("invalid UTF-8", invalid_utf8, "line", "is not valid UTF-8")
            // HTTP reads the body as a whole: it names the body, not a line.
            .http(StatusCode::BAD_REQUEST, Some("body"), "is not valid UTF-8"),
        syntax("characters after the object", format!("{v} {{}}"), "line", "trailing characters"),
        syntax("a line that is not JSON", "VillageRegistered 2016-01-01 N1", "line", "expected value"),
        syntax("a line far over the size limit", payload(&v, "name", json!(big)), "line", "over the limit of 524288"),
        // Clients never append a ReviewSealed. The server says so before the log is asked, as
        // an authorisation refusal (403) naming the same field.
        syntax("a ReviewSealed from a client", sealed_by_client.clone(), "type", "ReviewSealed is appended only by the log's own review sealing")
            .http(StatusCode::FORBIDDEN, Some("type"), "ReviewSealed is appended only by the log's own review sealing"),
        // Idempotency and optimistic concurrency (formats.md §2, §5).
        syntax("an event id already in the log with other content", envelope(&village("V", "2016-01-02"), "event_id", json!(eid(0).to_string())), "event_id", "is already in the log with a different type, date or payload")
            .http(StatusCode::CONFLICT, Some("event_id"), "is already in the log with a different type, date or payload"),
        syntax("an expected_version the stream does not have", envelope(&classified_n, "expected_version", json!(0)), "expected_version", "stream village/V holds 1 events")
            .http(StatusCode::CONFLICT, Some("expected_version"), "stream village/V holds 1 events"),
    ]
}

/// Inputs that hold no line to name: an empty or blank input, and a byte-order mark at the
/// very start of a file (World::Empty).
fn file_cases() -> Vec<Case> {
    let empty = |name, line: &str| {
        Case::new(
            name,
            World::Empty,
            line,
            StatusCode::BAD_REQUEST,
            "body",
            "no event given",
        )
        .append(None, "no event given")
        .import(None, "the file holds no event")
    };
    vec![
        empty("an empty file", ""),
        empty("a file of blank lines", " \t\r\n  \r\n\t"),
        Case::new(
            "a byte-order mark at the start of a file",
            World::Empty,
            format!("\u{feff}{}", new_village()),
            StatusCode::BAD_REQUEST,
            "line",
            "starts with a byte-order mark",
        ),
    ]
}

/// Domain.md §2 "What the log refuses", clause by clause, against [`city`].
fn state_cases() -> Vec<Case> {
    let unknown = "0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c";
    let retract = |target: &str, on: &str| {
        line(
            "Retracted",
            on,
            json!({"target_event_id": target, "reason": "录入错误", "approved_by": "县委组织部"}),
        )
    };
    let s = setup(World::City);
    let dx = s.id("DX").to_string();
    let dx_retraction = s.id("DX-retraction").to_string();
    let p = |t: &str, r: &str| project(t, r, "2016-04-01");
    vec![
        // Existence.
        refused(
            "a fulfilment of an unknown commitment",
            fulfilled("C-X", "2016-06-01"),
            "payload.commitment_id",
            "does not exist",
        ),
        refused(
            "a posting in an unknown village",
            posted("P-U", "NOPE", "2016-02-01"),
            "payload.village_id",
            "not registered",
        ),
        refused(
            "a classification of an unknown village",
            classified("NOPE", 2016, "2016-02-01"),
            "payload.village_id",
            "not registered",
        ),
        refused(
            "a rectification of a finding its inspection does not have",
            rectified("I", "F9", "2016-05-01"),
            "payload.finding_id",
            "has no finding F9",
        ),
        refused(
            "a rectification in an unknown inspection",
            rectified("I-X", "F1", "2016-05-01"),
            "payload.inspection_id",
            "does not exist",
        ),
        refused(
            "completing an item the contract does not have",
            item_completed("K", "C", "2016-05-01"),
            "payload.item_id",
            "has no item C",
        ),
        refused(
            "a receipt on an unknown pledge",
            received("D-X", 1, "2016-05-01"),
            "payload.pledge_id",
            "does not exist",
        ),
        refused(
            "a disbursement from an unknown pledge",
            disbursed("V", Some("D-X"), 1, "2016-05-01"),
            "payload.pledge_id",
            "does not exist",
        ),
        refused(
            "a project of an unknown posting",
            planned("R2", "V", "P-X", "2016-02-01"),
            "payload.posting_id",
            "does not exist",
        ),
        refused(
            "a start of an unknown project",
            p("ProjectStarted", "R-X"),
            "payload.project_id",
            "does not exist",
        ),
        refused(
            "a discipline of an unknown posting",
            discipline("P-X", "2016-08-01"),
            "payload.posting_id",
            "does not exist",
        ),
        refused(
            "a second village with the same id",
            village("V", "2016-01-01"),
            "payload.village_id",
            "already exists",
        ),
        refused(
            "a second posting with the same id",
            posted("Q", "VN", "2016-07-01"),
            "payload.posting_id",
            "already exists",
        ),
        refused(
            "a second commitment with the same id",
            made("C", "P", "V", "2016-03-01", "2016-09-30"),
            "payload.commitment_id",
            "already exists",
        ),
        refused(
            "a second project with the same id",
            planned("R", "V", "P", "2016-03-01"),
            "payload.project_id",
            "already exists",
        ),
        refused(
            "a second pledge with the same id",
            pledged("D", "W", 100, "2016-03-01"),
            "payload.pledge_id",
            "already exists",
        ),
        refused(
            "a second evaluation with the same id",
            evaluation("E", "P", "V", "2016-07-02"),
            "payload.evaluation_id",
            "already exists",
        ),
        refused(
            "a second inspection with the same id",
            inspection("I", "V", None, &[], "2016-05-01"),
            "payload.inspection_id",
            "already exists",
        ),
        refused(
            "a second contract with the same id",
            contract("K", "V", &["A"], "2016-05-01"),
            "payload.contract_id",
            "already exists",
        ),
        refused(
            "a second policy with the same id",
            policy("strict-2017", "2016-12-02"),
            "payload.policy_id",
            "already exists",
        ),
        // Time.
        refused(
            "an event dated after the day it is recorded",
            village("VF", "2999-12-31"),
            "occurred_on",
            "the day it was recorded (China Standard Time)",
        ),
        refused(
            "a receipt before its pledge",
            received("D", 50, "2016-02-28"),
            "occurred_on",
            "before pledge D was made",
        ),
        refused(
            "a fulfilment before its commitment was made",
            fulfilled("C", "2016-01-31"),
            "occurred_on",
            "before commitment C was made",
        ),
        refused(
            "a classification before the village's registration",
            classified("W", 2017, "2015-12-31"),
            "occurred_on",
            "before village W was registered",
        ),
        refused(
            "a disbursement before its pledge",
            disbursed("V", Some("D"), 50, "2016-02-28"),
            "occurred_on",
            "before pledge D was made",
        ),
        refused(
            "a project event before the project was planned",
            project("ProjectStarted", "R", "2016-01-31"),
            "occurred_on",
            "before project R was planned",
        ),
        refused(
            "leaving before joining",
            left("V", "M1", "2016-01-31"),
            "occurred_on",
            "before M1 joined",
        ),
        refused(
            "a discipline before the posting's first day",
            discipline("P", "2016-01-14"),
            "occurred_on",
            "before posting P's first day",
        ),
        // Postings.
        refused(
            "a posting in a village whose current posting has not ended",
            posted("P3", "V", "2016-06-01"),
            "payload.village_id",
            "current posting P has not ended",
        ),
        refused(
            "a posting on the last day of another posting of the village",
            posted("Q2", "W", "2016-05-31"),
            "occurred_on",
            "on or before 2016-05-31, the last day of posting Q",
        ),
        refused(
            "a second PostingEnded",
            ended("Q", "2016-06-30"),
            "payload.posting_id",
            "already ended",
        ),
        refused(
            "a PostingEnded before its posting's first day",
            ended("P", "2016-01-14"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "a PostingEnded before an event that must lie in the service",
            ended("PE", "2016-02-29"),
            "occurred_on",
            "must lie in its service",
        ),
        refused(
            "a PostingEnded before the first day of a month reported",
            ended("PA", "2016-03-31"),
            "occurred_on",
            "first day of 2016-04",
        ),
        refused(
            "a PostingEnded on the first day of a later posting of its village",
            ended("PX", "2016-06-01"),
            "occurred_on",
            "which began after this one",
        ),
        refused(
            "a spot check before the posting's first day",
            spot_check("P", "2016-01-14"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "a spot check after the posting's last day",
            spot_check("Q", "2016-06-01"),
            "occurred_on",
            "after posting Q's last day",
        ),
        refused(
            "a commitment before the posting's first day",
            made("C2", "P", "V", "2016-01-14", "2016-09-30"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "a commitment after the posting's last day",
            made("C2", "Q", "W", "2016-06-01", "2016-09-30"),
            "occurred_on",
            "after posting Q's last day",
        ),
        refused(
            "a commitment naming a village that is not the posting's",
            made("C2", "P", "W", "2016-02-01", "2016-09-30"),
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        refused(
            "a project before the posting's first day",
            planned("R2", "V", "P", "2016-01-10"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "a project after the posting's last day",
            planned("R2", "W", "Q", "2016-06-01"),
            "occurred_on",
            "after posting Q's last day",
        ),
        refused(
            "a project naming a village that is not the posting's",
            planned("R2", "W", "P", "2016-02-01"),
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        refused(
            "an evaluation before the posting's first day",
            evaluation("E2", "P", "V", "2016-01-14"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "an evaluation after the posting's last day",
            evaluation("E2", "Q", "W", "2016-07-01"),
            "occurred_on",
            "after posting Q's last day",
        ),
        refused(
            "an evaluation naming a village that is not the posting's",
            evaluation("E2", "P", "W", "2016-05-01"),
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        refused(
            "an inspection before the posting's first day",
            inspection("I2", "V", Some("P"), &[], "2016-01-14"),
            "occurred_on",
            "before posting P's first day",
        ),
        refused(
            "an inspection after the posting's last day",
            inspection("I2", "W", Some("Q"), &[], "2016-06-01"),
            "occurred_on",
            "after posting Q's last day",
        ),
        refused(
            "an inspection naming a village that is not the posting's",
            inspection("I2", "W", Some("P"), &[], "2016-03-01"),
            "payload.village_id",
            "posting P is a posting of village V",
        ),
        refused(
            "attendance for a month after the service",
            attendance("Q", "2016-06", "2016-07-01"),
            "payload.month",
            "does not overlap",
        ),
        refused(
            "attendance for a month before the service",
            attendance("P", "2015-12", "2016-02-01"),
            "payload.month",
            "does not overlap",
        ),
        refused(
            "a second attendance report for a month",
            attendance("P", "2016-02", "2016-03-02"),
            "payload.month",
            "already reported attendance for 2016-02",
        ),
        // Team.
        refused(
            "joining a village one is a member of",
            joined("V", "M1", "2016-03-01"),
            "payload.person_id",
            "already a member of village V",
        ),
        refused(
            "leaving a village one is not a member of",
            left("W", "M1", "2016-03-01"),
            "payload.person_id",
            "not a member of village W",
        ),
        // Commitments: each of four events on a fulfilled and on a withdrawn commitment.
        refused(
            "fulfilling a fulfilled commitment",
            fulfilled("CF", "2016-05-02"),
            "payload.commitment_id",
            "already fulfilled",
        ),
        refused(
            "withdrawing a fulfilled commitment",
            withdrawn("CF", "2016-05-02"),
            "payload.commitment_id",
            "already fulfilled",
        ),
        refused(
            "progressing a fulfilled commitment",
            progressed("CF", 80, "2016-05-02"),
            "payload.commitment_id",
            "already fulfilled",
        ),
        refused(
            "extending a fulfilled commitment",
            extended("CF", "2016-12-31", "2016-05-02"),
            "payload.commitment_id",
            "already fulfilled",
        ),
        refused(
            "fulfilling a withdrawn commitment",
            fulfilled("CW", "2016-05-02"),
            "payload.commitment_id",
            "already withdrawn",
        ),
        refused(
            "withdrawing a withdrawn commitment",
            withdrawn("CW", "2016-05-02"),
            "payload.commitment_id",
            "already withdrawn",
        ),
        refused(
            "progressing a withdrawn commitment",
            progressed("CW", 80, "2016-05-02"),
            "payload.commitment_id",
            "already withdrawn",
        ),
        refused(
            "extending a withdrawn commitment",
            extended("CW", "2016-12-31", "2016-05-02"),
            "payload.commitment_id",
            "already withdrawn",
        ),
        refused(
            "an extension not later than the original due",
            extended("CE", "2016-09-30", "2016-05-01"),
            "payload.new_due",
            "not later than 2016-09-30",
        ),
        refused(
            "an extension not later than an earlier new_due",
            extended("C", "2016-11-15", "2016-07-01"),
            "payload.new_due",
            "not later than 2016-11-30",
        ),
        // Projects.
        refused(
            "a second ProjectStarted",
            p("ProjectStarted", "RS"),
            "payload.project_id",
            "already started",
        ),
        refused(
            "a second ProjectCompleted",
            p("ProjectCompleted", "RC"),
            "payload.project_id",
            "already completed",
        ),
        refused(
            "a second ProjectCancelled",
            p("ProjectCancelled", "RX"),
            "payload.project_id",
            "already cancelled",
        ),
        refused(
            "starting a cancelled project",
            p("ProjectStarted", "RX"),
            "payload.project_id",
            "is cancelled",
        ),
        refused(
            "completing a cancelled project",
            p("ProjectCompleted", "RX"),
            "payload.project_id",
            "is cancelled",
        ),
        refused(
            "starting a completed project",
            p("ProjectStarted", "RC"),
            "payload.project_id",
            "is completed",
        ),
        refused(
            "cancelling a completed project",
            p("ProjectCancelled", "RC"),
            "payload.project_id",
            "is completed",
        ),
        refused(
            "accepting a planned project",
            p("ProjectAccepted", "R"),
            "payload.project_id",
            "not completed",
        ),
        refused(
            "accepting a started project",
            p("ProjectAccepted", "RS"),
            "payload.project_id",
            "not completed",
        ),
        // Donations.
        refused(
            "receipts beyond what is pledged",
            received("D", 401, "2016-05-01"),
            "payload.amount_fen",
            "would total 1001 fen, over the 1000 fen pledged",
        ),
        refused(
            "a receipt on a released pledge",
            received("DR", 100, "2016-05-02"),
            "payload.pledge_id",
            "was released",
        ),
        refused(
            "releasing a pledge twice",
            released("DR", "2016-05-02"),
            "payload.pledge_id",
            "already released",
        ),
        refused(
            "releasing a pledge paid in full",
            released("DP", "2016-05-01"),
            "payload.pledge_id",
            "paid in full",
        ),
        refused(
            "disbursing more than the pledge received",
            disbursed("V", Some("D"), 601, "2016-05-01"),
            "payload.amount_fen",
            "over the 600 fen received",
        ),
        refused(
            "disbursing from another village's pledge",
            disbursed("W", Some("D"), 100, "2016-05-01"),
            "payload.pledge_id",
            "a pledge of village V, not of W",
        ),
        // Evaluations, inspections, contracts.
        refused(
            "rectifying a finding twice",
            rectified("I", "F1", "2016-05-01"),
            "payload.finding_id",
            "already rectified",
        ),
        refused(
            "completing a contract item twice",
            item_completed("K", "A", "2016-05-01"),
            "payload.item_id",
            "already completed",
        ),
        refused(
            "a second classification for the same village and year",
            classified("V", 2016, "2016-06-01"),
            "payload.year",
            "already classified for 2016",
        ),
        // Governance. Two rules of ReviewSealed cannot be sent any of the three ways: its
        // tree_size at most its own position, and a second seal of a review id. Only the log's
        // own sealing appends one (taizhang review seal, POST /v1/reviews), computing both, and
        // a client's is refused first ("a ReviewSealed from a client" among the syntax cases);
        // projections/tests/validation_refusals.rs checks them at the fold.
        refused(
            "a retraction of a retraction",
            retract(&dx_retraction, "2016-06-01"),
            "payload.target_event_id",
            "is a retraction",
        ),
        refused(
            "a retraction of a retracted event",
            retract(&dx, "2016-06-01"),
            "payload.target_event_id",
            "already retracted",
        ),
        refused(
            "a retraction of an event not in the log",
            retract(unknown, "2016-06-01"),
            "payload.target_event_id",
            "is in the log",
        ),
        refused(
            "a retraction of a ReviewSealed",
            retract("{SEAL}", "{SEAL_ON}"),
            "payload.target_event_id",
            "ReviewSealed",
        ),
        // Re-entries.
        refused(
            "a re-entered pledge leaving its receipts over the new amount",
            pledged("DX", "V", 599, "2016-03-01"),
            "payload.pledge_id",
            "would leave the DonationReceived",
        ),
        refused(
            "a re-entered pledge dated after its receipts",
            pledged("DX", "V", 1000, "2016-04-02"),
            "payload.pledge_id",
            "before pledge DX was made",
        ),
        refused(
            "a re-entered posting leaving its commitment outside its service",
            posted("PR", "VR", "2016-02-02"),
            "payload.posting_id",
            "would leave the CommitmentMade",
        ),
        refused(
            "a re-entered posting in another village than its commitment's",
            posted("PR", "VN", "2016-01-20"),
            "payload.posting_id",
            "naming a posting of another village",
        ),
    ]
}

fn run_cases(cases: &[Case]) {
    for world in [World::Empty, World::Small, World::City] {
        let of: Vec<&Case> = cases.iter().filter(|c| c.world == world).collect();
        if !of.is_empty() {
            run_world(world, &of);
        }
    }
}

#[test]
fn syntax_and_envelope_refusals_three_ways() {
    run_cases(&syntax_cases());
}

#[test]
fn inputs_without_a_line_three_ways() {
    run_cases(&file_cases());
}

#[test]
fn state_refusals_three_ways() {
    run_cases(&state_cases());
}

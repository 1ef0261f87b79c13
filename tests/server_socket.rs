//! The server over a real socket on 127.0.0.1: subscriptions (history then live from
//! concurrent writers, in order, no gap or duplicate, across a forced reconnect), a slow
//! subscriber dropped, the connection limit, the command line as a client with the same
//! output as local, `verify --server` catching a rewritten history, and graceful shutdown.

mod serverkit;
mod util;

use std::io::BufReader;
use std::sync::Arc;

use serde_json::Value;
use serverkit::{commitment, spawn_server, store_with_example, terminate, SseReader};
use taizhang::server::{Limits, Server};
use taizhang::store::{Log, SledLog};
use util::copy_dir;

/// A server in this process on 127.0.0.1:0, on its own runtime thread; dropping the guard
/// shuts it down and waits.
struct InProcess {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

fn serve(log: Arc<SledLog>, limits: Limits) -> InProcess {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let server = Server::new(log, limits).unwrap();
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    InProcess {
        url: format!("http://{addr}"),
        stop: Some(stop),
        thread: Some(thread),
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
}

fn subscribe(
    url: &str,
    token: &str,
    last_event_id: Option<u64>,
) -> SseReader<BufReader<reqwest::blocking::Response>> {
    let mut req = http()
        .get(format!("{url}/v1/subscribe?from=0"))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status(), 200);
    SseReader::new(BufReader::new(resp))
}

#[test]
fn a_subscriber_gets_history_then_live_events_in_order_across_a_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let log = Arc::new(SledLog::open(&data).unwrap());
    let history = log.size();
    let server = serve(log.clone(), Limits::default());
    let (writers, per_writer) = (4, 40);
    let total = history + writers * per_writer;

    // The subscriber starts from 0 and will be cut off once, mid-way, then resume.
    let url = server.url.clone();
    let aud = tokens["aud"].clone();
    let (connected_tx, connected_rx) = std::sync::mpsc::channel();
    let subscriber = std::thread::spawn(move || {
        let mut got: Vec<(u64, Value)> = Vec::new();
        let mut reader = subscribe(&url, &aud, None);
        connected_tx.send(()).unwrap();
        let cut_at = total / 2;
        while (got.len() as u64) < total {
            let ev = reader.next_event().expect("stream ended early");
            assert_eq!(ev.event, "event", "{ev:?}");
            let id: u64 = ev.id.as_deref().unwrap().parse().unwrap();
            got.push((id, serde_json::from_str(&ev.data).unwrap()));
            if got.len() as u64 == cut_at {
                drop(reader); // a forced disconnect
                reader = subscribe(&url, &aud, Some(id));
            }
        }
        got
    });
    connected_rx.recv().unwrap();
    // Concurrent writers, while the subscriber reads the history and after.
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let url = server.url.clone();
            let rec = tokens["rec"].clone();
            std::thread::spawn(move || {
                let c = http();
                for i in 0..per_writer {
                    let r = c
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&rec)
                        .body(commitment(&format!("K-S-{w}-{i}"), None))
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let got = subscriber.join().unwrap();
    let positions: Vec<u64> = got.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        (0..total).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
    for (p, line) in &got {
        let ev = log.read(*p, p + 1).next().unwrap().unwrap().event;
        assert_eq!(line["event_id"], ev.event_id.to_string());
        assert_eq!(line["position"], *p);
        assert_eq!(
            serde_json::to_string(line).unwrap(),
            serde_json::to_string(&serde_json::from_str::<Value>(&ev.export_line()).unwrap())
                .unwrap()
        );
    }
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped_with_a_final_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let log = Arc::new(SledLog::open(&data).unwrap());
    let size = log.size();
    let server = serve(
        log.clone(),
        Limits {
            subscriber_lag_events_max: 5,
            ..Limits::default()
        },
    );
    let mut reader = subscribe(&server.url, &tokens["aud"], Some(size - 1));
    // One event, received: the subscriber is live.
    let c = http();
    let r = c
        .post(format!("{}/v1/events", server.url))
        .bearer_auth(&tokens["rec"])
        .body(commitment("K-D-0", None))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let ev = reader.next_event().unwrap();
    assert_eq!(ev.id.as_deref(), Some(size.to_string().as_str()));
    // Twenty at once, one commit: more than the lag allowed.
    let batch: Vec<String> = (1..=20)
        .map(|i| commitment(&format!("K-D-{i}"), None))
        .collect();
    let r = c
        .post(format!("{}/v1/events", server.url))
        .bearer_auth(&tokens["rec"])
        .body(format!("[{}]", batch.join(",")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let last = reader.next_event().unwrap();
    assert_eq!(last.event, "dropped", "{last:?}");
    let v: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(v["resume_from"], size + 1);
    assert!(v["message"].as_str().unwrap().contains("Last-Event-ID"));
    assert!(
        reader.next_event().is_none(),
        "the stream ends after the final message"
    );
}

#[test]
fn connections_beyond_the_limit_get_503_not_a_hang() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let _tokens = store_with_example(&data);
    let log = Arc::new(SledLog::open(&data).unwrap());
    let server = serve(
        log,
        Limits {
            connections_max: 1,
            ..Limits::default()
        },
    );
    let addr = server.url.strip_prefix("http://").unwrap().to_string();
    let mut first = std::net::TcpStream::connect(&addr).unwrap();
    // The first connection is served (and stays open: keep-alive).
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let mut second = std::net::TcpStream::connect(&addr).unwrap();
    let mut answer = String::new();
    second.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["code"], "too_many_connections");
    drop(first);
}

fn run(args: &[&str], data: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("TAIZHANG_SERVER")
        .env_remove("TAIZHANG_TOKEN")
        .output()
        .unwrap()
}

fn ok(args: &[&str], data: &std::path::Path) -> String {
    let o = run(args, data);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_command_line_prints_the_same_through_a_server_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let trust = dir.path().join("trust");
    let (child, url) = spawn_server(&data);
    let remote = |who: &str, args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--server".into(),
            url.clone(),
            "--token".into(),
            tokens[who].clone(),
            "--trust-dir".into(),
            trust.display().to_string(),
        ]);
        v
    };
    let ok_remote = |who: &str, args: &[&str]| -> String {
        let v = remote(who, args);
        ok(&v.iter().map(String::as_str).collect::<Vec<_>>(), &data)
    };

    // A local command on the served store says to use --server.
    let o = run(&["log"], &data);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--server"));

    // Append and import through the server, as a recorder.
    let file = dir.path().join("more.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            commitment("K-C-1", None),
            commitment("K-C-2", None)
        ),
    )
    .unwrap();
    let first = ok_remote("rec", &["import", file.to_str().unwrap()]);
    assert!(first.contains("2 appended at positions 18..=19"), "{first}");
    let again = ok_remote("rec", &["import", file.to_str().unwrap()]);
    assert!(again.contains("nothing appended"), "{again}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{}\n",
            commitment("K-C-3", None),
            commitment("K-C-1", Some("0190a0a0-0000-7000-8000-00000000000f"))
        ),
    )
    .unwrap();
    let v = remote("rec", &["import", bad.to_str().unwrap()]);
    let o = run(&v.iter().map(String::as_str).collect::<Vec<_>>(), &data);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2: payload.commitment_id"), "{err}");

    ok_remote("aud", &["checkpoint"]);
    let seal = ok_remote(
        "rev",
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
        seal.contains("sealed review 2016-annual at position 20"),
        "{seal}"
    );
    let verified = ok_remote("aud", &["verify"]);
    assert!(verified.starts_with("ok: 21 events, root "), "{verified}");

    let commands: Vec<Vec<&str>> = vec![
        vec!["log"],
        vec!["log", "--json", "--from", "3", "--limit", "5"],
        vec!["log", "--stream", "project/R-CX-01"],
        vec!["export"],
        vec!["export", "--size", "7"],
        vec!["ledger", "commitments"],
        vec!["ledger", "villages", "--village", "CX-BT-LF"],
        vec!["ledger", "totals", "--json"],
        vec!["ledger", "projects", "--csv", "--size", "12"],
        vec!["timeline", "project/R-CX-01"],
        vec!["audit", "late"],
        vec![
            "review",
            "show",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
        ],
        vec![
            "review",
            "show",
            "--start",
            "2016-01-01",
            "--end",
            "2016-12-31",
            "--json",
            "--size",
            "15",
        ],
        vec!["review", "verify", "--id", "2016-annual"],
        vec!["review", "bundle", "--id", "2016-annual"],
        vec!["prove", "inclusion", "--index", "3"],
        vec!["prove", "consistency", "--first", "5"],
        vec!["checkpoint"],
        vec!["key"],
        vec!["verify"],
    ];
    let remote_out: Vec<String> = commands
        .iter()
        .map(|c| {
            // `checkpoint` signs: the auditor's; the rest reads.
            ok_remote("aud", c)
        })
        .collect();
    // The recorder may not read.
    let v = remote("rec", &["ledger", "commitments"]);
    let o = run(&v.iter().map(String::as_str).collect::<Vec<_>>(), &data);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("may not read the log"));

    // A subscriber is told of the shutdown; SIGTERM ends the server with status 0.
    let mut reader = subscribe(&url, &tokens["aud"], Some(20));
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
    let last = reader.next_event().unwrap();
    assert_eq!(last.event, "shutdown", "{last:?}");

    // The same commands on the store itself print the same.
    for (c, remote) in commands.iter().zip(&remote_out) {
        assert_eq!(
            &ok(c, &data),
            remote,
            "taizhang {c:?} differs through the server"
        );
    }
}

#[test]
fn verify_through_a_server_catches_a_rewritten_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    // A copy of the store as it is now: same key, same origin, same first 18 events.
    let forged = dir.path().join("forged");
    copy_dir(&data, &forged);
    let trust = dir.path().join("trust");
    let verify = |url: &str| {
        run(
            &[
                "verify",
                "--server",
                url,
                "--token",
                &tokens["aud"],
                "--trust-dir",
                trust.to_str().unwrap(),
            ],
            &data,
        )
    };

    // The honest log grows and is verified: its checkpoint is kept.
    let (child, url) = spawn_server(&data);
    let c = http();
    for i in 0..3 {
        c.post(format!("{url}/v1/events"))
            .bearer_auth(&tokens["rec"])
            .body(commitment(&format!("K-H-{i}"), None))
            .send()
            .unwrap();
    }
    c.post(format!("{url}/v1/checkpoint"))
        .bearer_auth(&tokens["aud"])
        .send()
        .unwrap();
    let o = verify(&url);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("first verification"));
    c.post(format!("{url}/v1/events"))
        .bearer_auth(&tokens["rec"])
        .body(commitment("K-H-9", None))
        .send()
        .unwrap();
    c.post(format!("{url}/v1/checkpoint"))
        .bearer_auth(&tokens["aud"])
        .send()
        .unwrap();
    let o = verify(&url);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("consistent with the one verified before"));
    assert!(terminate(child).success());

    // The forged log: same key, other events after the 18th, a longer, self-consistent,
    // properly signed history. Every check of its own passes; the kept checkpoint does not.
    let (child, url) = spawn_server(&forged);
    for i in 0..6 {
        c.post(format!("{url}/v1/events"))
            .bearer_auth(&tokens["rec"])
            .body(commitment(&format!("K-F-{i}"), None))
            .send()
            .unwrap();
    }
    c.post(format!("{url}/v1/checkpoint"))
        .bearer_auth(&tokens["aud"])
        .send()
        .unwrap();
    let o = verify(&url);
    assert!(
        !o.status.success(),
        "a rewritten history must fail verification"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("history was rewritten"), "{err}");
    assert!(terminate(child).success());
}

/// A connection with a small receive buffer, sending `GET path` and reading only the
/// response's first bytes: a client that stalls.
fn stalled_get(url: &str, path: &str, token: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = url.strip_prefix("http://").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s.connect(addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    let mut stream = stream;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{}", String::from_utf8_lossy(&head));
    stream
}

#[test]
fn a_stalled_export_does_not_hold_shutdown_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let log = SledLog::open(&data).unwrap();
    serverkit::add_commitments(&log, "K-BIG", 8_000);
    let size = log.size();
    log.close();
    drop(log);
    let (mut child, url) = spawn_server(&data);
    let export = stalled_get(&url, "/v1/export", &tokens["aud"]);
    let subscription = stalled_get(&url, "/v1/subscribe?from=0", &tokens["aud"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let asked = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if asked.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the server did not stop within 30 s of SIGTERM while clients stalled");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    drop((export, subscription));
    // The store was closed properly: it opens, with every event.
    let log = SledLog::open(&data).unwrap();
    assert_eq!(log.size(), size);
}

#[test]
fn an_ignored_actor_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let (child, url) = spawn_server(&data);
    let o = run(
        &[
            "append",
            "--actor",
            "someone",
            "--server",
            &url,
            "--token",
            &tokens["rec"],
            "-",
        ],
        &data,
    );
    // (standard input is empty: the append fails, after the note)
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--actor someone is ignored with --server"),
        "{err}"
    );
    assert!(terminate(child).success());
}

#[test]
fn verify_first_use_is_explicit_and_origins_are_compared() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let trust = dir.path().join("trust");
    let key = SledLog::open(&data).unwrap().verifier_key();
    let (child, url) = spawn_server(&data);
    let c = http();
    c.post(format!("{url}/v1/checkpoint"))
        .bearer_auth(&tokens["aud"])
        .send()
        .unwrap();
    let verify = |url: &str, token: &str| {
        run(
            &[
                "verify",
                "--server",
                url,
                "--token",
                token,
                "--trust-dir",
                trust.to_str().unwrap(),
            ],
            &data,
        )
    };
    let o = verify(&url, &tokens["aud"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("now trusted"), "{err}");
    assert!(terminate(child).success());
    assert!(
        err.contains(&key),
        "the verifier key is shown on first use: {err}"
    );

    // Another log whose origin maps to the same trust file: refused, naming both origins.
    let other = dir.path().join("other");
    let log = SledLog::init(&other, "server.test_taizhang", false).unwrap();
    log.close();
    drop(log);
    let aud =
        taizhang::store::tokens::add(&other, "aud", taizhang::store::tokens::Role::Auditor, &[])
            .unwrap();
    let (child, url) = spawn_server(&other);
    c.post(format!("{url}/v1/checkpoint"))
        .bearer_auth(&aud)
        .send()
        .unwrap();
    let o = verify(&url, &aud);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("origin") && err.contains("server.test/taizhang"),
        "{err}"
    );
    assert!(terminate(child).success());
}

#[test]
fn a_stalled_subscriber_is_dropped_and_its_slot_freed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let log = Arc::new(SledLog::open(&data).unwrap());
    serverkit::add_commitments(&log, "K-BIG", 8_000);
    let size = log.size();
    let server = serve(
        log,
        Limits {
            subscribers_max: 1,
            client_stall_max: std::time::Duration::from_secs(1),
            ..Limits::default()
        },
    );
    // A subscriber that reads nothing of the history: the server's writes stall.
    let stalled = stalled_get(&server.url, "/v1/subscribe?from=0", &tokens["aud"]);
    let c = http();
    let started = std::time::Instant::now();
    loop {
        let r = c
            .get(format!("{}/v1/subscribe?from={size}", server.url))
            .bearer_auth(&tokens["aud"])
            .send()
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 429);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the stalled subscriber still holds the only slot"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(stalled);
}

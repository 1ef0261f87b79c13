//! Every request is logged (tracing) with its actor, route, status and duration — auditors'
//! and inspectors' reads too, and refused requests.

mod serverkit;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn get(url: &str, path: &str, token: Option<&str>) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn every_request_is_logged_with_actor_route_status_and_duration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = serverkit::store_with_example(&data);
    let log_file = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_taizhang"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TAIZHANG_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = format!(
        "http://{}",
        line.trim().strip_prefix("listening on ").unwrap()
    );
    assert!(
        get(&url, "/v1/events?from=0&limit=2", Some(&tokens["aud"])).starts_with("HTTP/1.1 200")
    );
    assert!(get(
        &url,
        "/v1/streams/commitment/K-CX-01",
        Some(&tokens["insp"])
    )
    .starts_with("HTTP/1.1 200"));
    assert!(get(&url, "/v1/events?from=0", None).starts_with("HTTP/1.1 401"));
    assert!(get(&url, "/metrics", Some(&tokens["rec"])).starts_with("HTTP/1.1 403"));
    assert!(serverkit::terminate(child).success());
    let text = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("request")).collect();
    let logged = |actor: &str, route: &str, status: &str| {
        lines.iter().any(|l| {
            l.contains(&format!("actor={actor}"))
                && l.contains(route)
                && l.contains(&format!("status={status}"))
                && l.contains("duration_ms=")
        })
    };
    assert!(logged("aud", "/v1/events", "200"), "{text}");
    assert!(
        !logged("aud", "/v1/nothing-here", "200"),
        "the check can fail: {text}"
    );
    assert!(logged("insp", "/v1/streams/", "200"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/v1/events") && l.contains("status=401")),
        "{text}"
    );
    assert!(logged("rec", "/metrics", "403"), "{text}");
}

//! In-process router tests: every route with every role (allowed and refused, 401 and 403
//! naming their rule), appends by role, village and authorship, idempotent retries, refusal
//! texts, limits, token reload, metrics, and the OpenAPI document against the router.

mod serverkit;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use serverkit::{commitment, store_with_example};
use taizhang::server::{Limits, Server};
use taizhang::store::{Faults, Log, OpenOptions, SledLog};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    log: Arc<SledLog>,
    router: Router,
    server: Server,
    tokens: HashMap<&'static str, String>,
    example_ids: Vec<String>,
}

fn fixture(limits: Limits) -> Fixture {
    fixture_with(limits, OpenOptions::default())
}

fn fixture_with(limits: Limits, options: OpenOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let tokens = store_with_example(&data);
    let log = Arc::new(SledLog::open_with(&data, &options).unwrap());
    // A sealed review, for the review routes.
    taizhang::reviews::seal(
        &*log,
        "2016-annual",
        "2016-01-01".parse().unwrap(),
        "2016-12-31".parse().unwrap(),
        "cli",
        None,
    )
    .unwrap();
    let example_ids = log
        .read(0, log.size())
        .map(|r| r.unwrap().event.event_id.to_string())
        .collect();
    let server = Server::new(log.clone(), limits).unwrap();
    let router = server.router();
    Fixture {
        _dir: dir,
        data,
        log,
        router,
        server,
        tokens,
        example_ids,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let streaming = headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    // A subscription never ends: its head is the answer.
    let body = if streaming {
        Vec::new()
    } else {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    };
    Answer {
        status,
        headers,
        body,
    }
}

impl Fixture {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        who: Option<&str>,
        body: Option<String>,
    ) -> Answer {
        let token = who.map(|w| self.tokens.get(w).cloned().unwrap_or_else(|| w.to_string()));
        call(&self.router, method, uri, token.as_deref(), body).await
    }
}

/// Method, URI, body, and the roles allowed (`None`: public).
type Case = (
    &'static str,
    String,
    Option<String>,
    Option<Vec<&'static str>>,
);

const ROLES: &[&str] = &["rec", "insp", "rev", "aud", "adm"];
const READERS: &[&str] = &["insp", "rev", "aud"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_with_every_role() {
    let f = fixture(Limits::default());
    let id = f.example_ids[3].clone();
    // (method, uri, body, roles allowed; None: public)
    let mut cases: Vec<Case> = vec![
        ("GET", "/healthz".into(), None, None),
        ("GET", "/v1/openapi.json".into(), None, None),
        ("GET", "/metrics".into(), None, Some(vec!["adm"])),
        ("GET", "/v1/status".into(), None, Some(vec!["adm"])),
        ("GET", "/v1/info".into(), None, Some(ROLES.to_vec())),
        (
            "GET",
            "/v1/events?from=2&limit=5".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            format!("/v1/events/{id}"),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/streams/project/R-CX-01".into(),
            None,
            Some(vec!["rec", "insp", "rev", "aud"]),
        ),
        (
            "GET",
            "/v1/subscribe?from=0".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/ledgers/commitments".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/ledgers/villages?village=CX-BT-LF".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/timeline/project/R-CX-01".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/audit/retractions".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/review?start=2016-01-01&end=2016-12-31&size=10".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/reviews/2016-annual".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/reviews/2016-annual/verify".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/reviews/2016-annual/bundle".into(),
            None,
            Some(READERS.to_vec()),
        ),
        ("GET", "/v1/checkpoint".into(), None, Some(READERS.to_vec())),
        ("POST", "/v1/checkpoint".into(), None, Some(vec!["aud"])),
        (
            "GET",
            "/v1/checkpoints".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/proof/inclusion?index=3".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/proof/consistency?first=3".into(),
            None,
            Some(READERS.to_vec()),
        ),
        (
            "GET",
            "/v1/export?size=5".into(),
            None,
            Some(READERS.to_vec()),
        ),
    ];
    // Sealing: each role tries its own review id; only the reviewer's goes through.
    for r in ROLES {
        cases.push((
            "POST",
            "/v1/reviews".into(),
            Some(format!(
                r#"{{"id":"r-{r}","start":"2016-01-01","end":"2016-12-31"}}"#
            )),
            Some(vec!["rev"]),
        ));
    }
    for (method, uri, body, allowed) in &cases {
        match allowed {
            None => {
                let a = f.call(method, uri, None, body.clone()).await;
                assert_eq!(
                    a.status,
                    StatusCode::OK,
                    "{method} {uri} public: {}",
                    a.text()
                );
            }
            Some(allowed) => {
                let a = f.call(method, uri, None, body.clone()).await;
                assert_eq!(
                    a.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} without token"
                );
                assert_eq!(a.json()["error"]["rule"], "auth.bearer");
                let a = f
                    .call(method, uri, Some("tzk_not-a-token"), body.clone())
                    .await;
                assert_eq!(
                    a.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} bad token"
                );
                assert_eq!(a.json()["error"]["rule"], "auth.token");
                for r in ROLES {
                    let a = f.call(method, uri, Some(r), body.clone()).await;
                    if allowed.contains(r) {
                        assert!(
                            a.status.is_success(),
                            "{method} {uri} as {r}: {} {}",
                            a.status,
                            a.text()
                        );
                    } else {
                        assert_eq!(
                            a.status,
                            StatusCode::FORBIDDEN,
                            "{method} {uri} as {r}: {}",
                            a.text()
                        );
                        let e = a.json()["error"].clone();
                        assert_eq!(e["code"], "forbidden");
                        assert!(e["rule"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
                        assert!(
                            e["message"]
                                .as_str()
                                .unwrap()
                                .contains(&format!("token {r}")),
                            "{e}"
                        );
                    }
                }
            }
        }
    }
    // What the routes said is right, beyond their status.
    let page = f
        .call("GET", "/v1/events?from=2&limit=5", Some("aud"), None)
        .await
        .json();
    assert_eq!(page["events"].as_array().unwrap().len(), 5);
    assert_eq!(page["events"][0]["position"], 2);
    let export = f
        .call("GET", "/v1/export?size=5", Some("aud"), None)
        .await
        .text();
    assert_eq!(export.lines().count(), 5);
    let mut local = Vec::new();
    taizhang::ops::export(&*f.log, 5, &mut local).unwrap();
    assert_eq!(export.as_bytes(), &local[..]);
    let proof: taizhang::merkle::InclusionProof = serde_json::from_slice(
        &f.call("GET", "/v1/proof/inclusion?index=3", Some("aud"), None)
            .await
            .body,
    )
    .unwrap();
    proof.verify().unwrap();
    let review = f
        .call(
            "GET",
            "/v1/review?start=2016-01-01&end=2016-12-31&size=10",
            Some("rev"),
            None,
        )
        .await
        .text();
    let expected = taizhang::reviews::compute(
        &*f.log,
        10,
        "2016-01-01".parse().unwrap(),
        "2016-12-31".parse().unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(review, expected.to_jcs());
    let v = f
        .call("GET", "/v1/reviews/2016-annual/verify", Some("aud"), None)
        .await
        .json();
    assert_eq!(v["ok"], true);
    let cp = f
        .call("GET", "/v1/checkpoint", Some("insp"), None)
        .await
        .text();
    assert!(cp.starts_with("server.test/taizhang\n"), "{cp}");
    // Every role tried to seal each id; only the reviewer's attempts went through.
    for r in ROLES {
        let seal = f.log.read_stream(&format!("review/r-{r}"), 0, 2).unwrap();
        assert_eq!(seal.len(), 1);
        assert_eq!(seal[0].actor, "rev");
    }
}

async fn post_events(f: &Fixture, who: &str, body: String) -> Answer {
    f.call("POST", "/v1/events", Some(who), Some(body)).await
}

fn line(ty: &str, payload: &str) -> String {
    format!(r#"{{"type":"{ty}","occurred_on":"2016-06-01","payload":{payload}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_follow_roles_villages_and_authorship() {
    let f = fixture(Limits::default());
    // A recorder appends its kinds of events; the actor is the token's name.
    let a = post_events(&f, "rec", commitment("K-NEW-1", None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let pos = a.json()["events"][0]["position"].as_u64().unwrap();
    let ev = f.log.read(pos, pos + 1).next().unwrap().unwrap().event;
    assert_eq!(ev.actor, "rec");
    let own_id = ev.event_id.to_string();

    let spot = line(
        "SpotCheckRecorded",
        r#"{"posting_id":"P-2016-CX-01","present":true,"excused":false,"inspector":"李"}"#,
    );
    let discipline = line(
        "DisciplineRecorded",
        r#"{"posting_id":"P-2016-CX-01","kind":"warning","reason":"迟报"}"#,
    );
    // Each role: what it may append, and what it may not.
    for (who, ok, refused) in [
        ("insp", spot.clone(), commitment("K-NEW-2", None)),
        ("rev", discipline.clone(), spot.clone()),
        ("rec", commitment("K-NEW-3", None), spot.clone()),
    ] {
        let a = post_events(&f, who, ok).await;
        assert_eq!(a.status, StatusCode::OK, "{who}: {}", a.text());
        let a = post_events(&f, who, refused).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{who}: {}", a.text());
        assert_eq!(a.json()["error"]["rule"], "role.append");
        assert_eq!(a.json()["error"]["index"], 0);
    }
    for who in ["aud", "adm"] {
        let a = post_events(&f, who, commitment("K-NEW-4", None)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(a.json()["error"]["rule"], "role.append");
    }
    // ReviewSealed goes only through POST /v1/reviews.
    let a = post_events(&f, "rev", line("ReviewSealed", r#"{"review_id":"x","period_start":"2016-01-01","period_end":"2016-12-31","tree_size":1,"root":"00","policy_sha256":"00","result_sha256":"00"}"#)).await;
    assert!(a.status.is_client_error(), "{}", a.text());

    // Villages: a restricted recorder writes for its village, judged through the entity's
    // creation when the event names only the entity; nobody else's.
    let progress = line(
        "CommitmentProgressed",
        r#"{"commitment_id":"K-NEW-1","percent":50,"note":"半"}"#,
    );
    let a = post_events(&f, "rec-lf", progress.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = post_events(&f, "rec-other", progress).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["error"]["rule"], "recorder.villages");
    let a = post_events(&f, "rec-other", commitment("K-NEW-5", None)).await;
    assert_eq!(a.json()["error"]["rule"], "recorder.villages");
    // In one batch: an entity made, then progressed (its village found earlier in the batch).
    let batch = format!(
        "[{},{}]",
        commitment("K-NEW-6", None),
        line(
            "CommitmentProgressed",
            r#"{"commitment_id":"K-NEW-6","percent":10,"note":"始"}"#
        )
    );
    let a = post_events(&f, "rec-lf", batch).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    // An unknown entity's village is unknown: refused for a restricted recorder.
    let a = post_events(
        &f,
        "rec-lf",
        line(
            "CommitmentProgressed",
            r#"{"commitment_id":"K-NOPE","percent":10,"note":"x"}"#,
        ),
    )
    .await;
    assert_eq!(a.json()["error"]["rule"], "recorder.villages");
    // Streams: a restricted recorder reads its villages' only.
    assert_eq!(
        f.call(
            "GET",
            "/v1/streams/commitment/K-CX-01",
            Some("rec-lf"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        f.call(
            "GET",
            "/v1/streams/commitment/K-CX-01",
            Some("rec-other"),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Retractions: a recorder retracts its own events only; a reviewer any.
    let retract = |target: &str| {
        line(
            "Retracted",
            &format!(r#"{{"target_event_id":"{target}","reason":"录错","approved_by":"王"}}"#),
        )
    };
    let a = post_events(&f, "rec", retract(&f.example_ids[5])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["error"]["rule"], "recorder.retract_own");
    let a = post_events(&f, "rec", retract(&own_id)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = post_events(&f, "insp", retract(&f.example_ids[6])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = post_events(&f, "rev", retract(&f.example_ids[6])).await;
    assert!(
        a.status == StatusCode::OK || a.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        a.text()
    );
    assert_ne!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_answer_the_same_and_refusals_read_as_on_the_command_line() {
    let f = fixture(Limits::default());
    let body = format!(
        "[{},{}]",
        commitment("K-R-1", Some("0190a0a0-0000-7000-8000-000000000001")),
        commitment("K-R-2", Some("0190a0a0-0000-7000-8000-000000000002"))
    );
    let first = post_events(&f, "rec", body.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers["taizhang-written"], "2");
    let size = f.log.size();
    let again = post_events(&f, "rec", body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "a retry gets the same answer");
    assert_eq!(again.headers["taizhang-written"], "0");
    assert_eq!(f.log.size(), size, "a retry writes nothing");

    // The same refusal text as the store gives the command line.
    let bad = line(
        "CommitmentFulfilled",
        r#"{"commitment_id":"K-NOPE","evidence":"x"}"#,
    );
    let a = post_events(&f, "rec", bad.clone()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    let e = a.json()["error"].clone();
    let local = f
        .log
        .append(
            taizhang::ops::parse_append(&bad).unwrap(),
            "cli",
            taizhang::store::Source::Client,
            None,
        )
        .unwrap_err();
    assert_eq!(e["message"], local.to_string());
    assert_eq!(e["code"], "refused");
    assert_eq!(e["field"], "payload.commitment_id");
    assert_eq!(e["index"], 0);
    // A version conflict names the field; a body that does not parse names its field too.
    let mut conflict = commitment("K-R-3", None);
    conflict.insert_str(conflict.len() - 1, r#","expected_version":5"#);
    let a = post_events(&f, "rec", conflict).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.json()["error"]["field"], "expected_version");
    let a = post_events(&f, "rec", "[{\"type\":\"CommitmentMade\"}]".into()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"]["index"], 0);
    assert!(a.json()["error"]["field"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_with_a_status_and_a_body() {
    let small = Limits {
        body_bytes_max: 2_000,
        batch_events_max: 3,
        ..Limits::default()
    };
    let f = fixture(small);
    let big: Vec<String> = (0..20)
        .map(|i| commitment(&format!("K-L-{i}"), None))
        .collect();
    let a = post_events(&f, "rec", format!("[{}]", big.join(","))).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.json()["error"]["code"], "body_too_large");
    let a = post_events(&f, "rec", format!("[{}]", big[..4].join(","))).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.json()["error"]["code"], "batch_too_large");

    let f = fixture(Limits {
        requests_in_flight_max: 0,
        subscribers_max: 0,
        ..Limits::default()
    });
    let a = f.call("GET", "/v1/info", Some("aud"), None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.json()["error"]["code"], "too_many_requests");
    let a = f.call("GET", "/v1/subscribe", Some("aud"), None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.json()["error"]["code"], "too_many_subscribers");

    // A request that cannot be answered in time gets 503: here a body that never comes.
    let f = fixture(Limits {
        request_time_max: std::time::Duration::from_millis(100),
        ..Limits::default()
    });
    let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/events")
        .header("authorization", format!("Bearer {}", f.tokens["rec"]))
        .body(Body::from_stream(never))
        .unwrap();
    let resp = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "timeout");

    let f = fixture(Limits::default());
    let a = f.call("GET", "/v1/nothing", None, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "no_route");
    let a = f.call("DELETE", "/v1/events", Some("aud"), None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_take_effect_without_a_restart_and_metrics_count() {
    let f = fixture(Limits::default());
    let t =
        taizhang::store::tokens::add(&f.data, "late", taizhang::store::tokens::Role::Auditor, &[])
            .unwrap();
    let a = call(&f.router, "GET", "/v1/info", Some(&t), None).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "a token added while serving works at once"
    );
    taizhang::store::tokens::revoke(&f.data, "late").unwrap();
    // Refused within the refresh interval of the token list (a background check).
    tokio::time::sleep(taizhang::server::auth::TOKENS_REFRESH * 3).await;
    let a = call(&f.router, "GET", "/v1/info", Some(&t), None).await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused within the refresh interval"
    );

    post_events(&f, "rec", commitment("K-M-1", None)).await;
    post_events(&f, "aud", commitment("K-M-2", None)).await;
    let m = f.call("GET", "/metrics", Some("adm"), None).await.text();
    for needle in [
        // The fixture's seal, then K-M-1.
        "taizhang_appended_events_total 2",
        "taizhang_fsync_seconds_count",
        "taizhang_group_commit_events_bucket",
        "taizhang_writer_queue_depth",
        "taizhang_subscribers 0",
        "taizhang_http_refused_total{reason=\"forbidden\"} 1",
        "taizhang_http_refused_total{reason=\"unauthenticated\"} 1",
        "taizhang_append_request_events_count 1",
    ] {
        assert!(m.contains(needle), "{needle} missing from\n{m}");
    }
    assert_eq!(f.server.state().metrics.refused("forbidden"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let f = fixture(Limits::default());
    let doc = f.call("GET", "/v1/openapi.json", None, None).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = taizhang::server::routes::table()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, routed,
        "documented routes differ from the router's"
    );
    // And each documented operation is really served (not the router's fallbacks).
    for (method, path) in &documented {
        let uri = path
            .replace("{event_id}", &f.example_ids[0])
            .replace("{kind}", "project")
            .replace("{id}", "2016-annual")
            .replace("{name}", "totals")
            .replace("{view}", "late");
        let a = f.call(method, &uri, Some("aud"), None).await;
        if a.status == StatusCode::NOT_FOUND || a.status == StatusCode::METHOD_NOT_ALLOWED {
            let code = a.json()["error"]["code"].clone();
            assert!(
                code != "no_route" && code != "method_not_allowed",
                "{method} {uri}: {code}"
            );
        }
    }
}

/// A request with a bearer token, answered by the router (the body left unread).
async fn open(router: &Router, uri: &str, token: &str) -> axum::response::Response {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(req).await.unwrap()
}

/// Reads a streamed body until it ends, fails, or `within` passes: the text received and
/// whether the stream ended with an error.
async fn read_body(
    body: &mut axum::body::BodyDataStream,
    within: std::time::Duration,
) -> (String, Option<String>) {
    use futures_util::StreamExt;
    let mut text = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => return (String::from_utf8_lossy(&text).into_owned(), None),
            Ok(None) => return (String::from_utf8_lossy(&text).into_owned(), None),
            Ok(Some(Ok(b))) => text.extend_from_slice(&b),
            Ok(Some(Err(e))) => {
                return (
                    String::from_utf8_lossy(&text).into_owned(),
                    Some(e.to_string()),
                )
            }
        }
    }
}

/// The Server-Sent Events in a text, as (event, data).
fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for l in block.lines() {
                if let Some(v) = l.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = l.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (!event.is_empty()).then_some((event, data))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_ends_its_subscription_and_its_export() {
    let f = fixture(Limits::default());
    // Enough history for several export chunks.
    serverkit::add_commitments(&f.log, "K-BIG", 2_500);
    use taizhang::store::tokens::{add, revoke, Role};
    let t = add(&f.data, "watcher", Role::Auditor, &[]).unwrap();
    let resp = open(&f.router, "/v1/subscribe?from=0", &t).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut sub = resp.into_body().into_data_stream();
    // The history arrives; then the subscription waits, live.
    let (text, _) = read_body(&mut sub, std::time::Duration::from_millis(500)).await;
    assert!(text.contains("event: event"), "{text}");
    revoke(&f.data, "watcher").unwrap();
    let (text, _) = read_body(&mut sub, std::time::Duration::from_secs(5)).await;
    let events = sse_events(&text);
    let last = events.last().expect("a final event after the revocation");
    assert_eq!(last.0, "revoked", "{text}");
    assert!(last.1.contains("revoked"), "{}", last.1);

    // An export: the first chunk, then the token is revoked; the export ends with a final
    // line saying so, short of the whole log.
    let t = add(&f.data, "exporter", Role::Auditor, &[]).unwrap();
    let resp = open(&f.router, "/v1/export", &t).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    use futures_util::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    revoke(&f.data, "exporter").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (rest, error) = read_body(&mut body, std::time::Duration::from_secs(5)).await;
    let text = format!("{}{rest}", String::from_utf8_lossy(&first));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        (lines.len() as u64) < f.log.size(),
        "the export stopped short"
    );
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "token_revoked", "{last}");
    assert!(error.is_some(), "the body ends with an error, not cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_at_the_end_of_the_range_is_refused() {
    let f = fixture(Limits::default());
    let req = Request::builder()
        .uri("/v1/subscribe")
        .header("authorization", format!("Bearer {}", f.tokens["aud"]))
        .header("last-event-id", u64::MAX.to_string())
        .body(Body::empty())
        .unwrap();
    let resp = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["field"], "Last-Event-ID");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("18446744073709551615"),
        "{v}"
    );

    // A subscriber dropped before it received any event is told to start from 0, not to send
    // `Last-Event-ID: 0` (which would skip event 0).
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("empty");
    let log = Arc::new(SledLog::init(&data, "server.test/empty", false).unwrap());
    let aud =
        taizhang::store::tokens::add(&data, "aud", taizhang::store::tokens::Role::Auditor, &[])
            .unwrap();
    let server = Server::new(
        log.clone(),
        Limits {
            subscriber_lag_events_max: 0,
            ..Limits::default()
        },
    )
    .unwrap();
    let resp = open(&server.router(), "/v1/subscribe?from=0", &aud).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut sub = resp.into_body().into_data_stream();
    let _ = read_body(&mut sub, std::time::Duration::from_millis(200)).await;
    let l2 = log.clone();
    tokio::task::spawn_blocking(move || {
        let register = line(
            "VillageRegistered",
            r#"{"village_id":"XX-E","name":"新村","county":"岑溪市","township":"波塘镇"}"#,
        );
        serverkit::append_line(&l2, &register, "cli")
    })
    .await
    .unwrap();
    let (text, _) = read_body(&mut sub, std::time::Duration::from_secs(5)).await;
    let events = sse_events(&text);
    let last = events.last().expect("a final event");
    assert_eq!(last.0, "dropped", "{text}");
    let v: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(v["resume_from"], 0);
    let message = v["message"].as_str().unwrap();
    assert!(!message.contains("Last-Event-ID: 0"), "{message}");
    assert!(message.contains("from=0"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_creation_moves_the_entity_to_its_new_village() {
    let f = fixture(Limits::default());
    let register = line(
        "VillageRegistered",
        r#"{"village_id":"XX-OTHER","name":"他村","county":"岑溪市","township":"波塘镇"}"#,
    );
    let a = post_events(&f, "rec", register).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let pledge = |village: &str| {
        line(
            "DonationPledged",
            &format!(
                r#"{{"pledge_id":"G-B2","donor_id":"D-1","donor_name":"某公司","donor_kind":"enterprise","village_id":"{village}","amount_fen":100000,"purpose":"修路","due":"2016-12-31"}}"#
            ),
        )
    };
    let a = post_events(&f, "rec", pledge("CX-BT-LF")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let first_id = a.json()["events"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The correction: the creation retracted and entered again, for the other village.
    let retract = line(
        "Retracted",
        &format!(r#"{{"target_event_id":"{first_id}","reason":"村填错","approved_by":"王"}}"#),
    );
    let a = post_events(&f, "rec", format!("[{retract},{}]", pledge("XX-OTHER"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let received = line(
        "DonationReceived",
        r#"{"pledge_id":"G-B2","amount_fen":50000,"receipt_no":"R-1"}"#,
    );
    let a = post_events(&f, "rec-lf", received.clone()).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert_eq!(a.json()["error"]["rule"], "recorder.villages");
    assert!(a.text().contains("XX-OTHER"), "{}", a.text());
    let a = post_events(&f, "rec-other", received).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    // The pledge's stream is readable by the new village's recorder, not the old one's.
    let a = f
        .call("GET", "/v1/streams/pledge/G-B2", Some("rec-other"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = f
        .call("GET", "/v1/streams/pledge/G-B2", Some("rec-lf"), None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_a_failed_store_and_internal_errors_keep_their_detail() {
    let f = fixture(Limits::default());
    let a = f.call("GET", "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    // The store stops accepting appends (as after a failed write): health says so.
    f.log.close();
    let a = post_events(&f, "rec", commitment("K-H-1", None)).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    let a = f.call("GET", "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert_eq!(a.json()["error"]["code"], "store_failed", "{}", a.text());

    let e = taizhang::server::error::ApiError::internal("sled: /secret/path/db: corrupt page 7");
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!e.message.contains("/secret/path"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_is_a_503_that_names_it_and_health_reports_it() {
    let plan = Faults::new();
    let f = fixture_with(
        Limits::default(),
        OpenOptions::default().faults(plan.clone()),
    );
    let a = post_events(&f, "rec", commitment("K-F-1", None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let size = f.log.size();
    plan.fail_syncs(libc::EIO, 1);
    for id in ["K-F-2", "K-F-3"] {
        let a = post_events(&f, "rec", commitment(id, None)).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
        let e = &a.json()["error"];
        assert_eq!(e["code"], "store_failed", "{}", a.text());
        let reason = e["detail"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("fdatasync") && reason.contains("Input/output error"),
            "{reason}"
        );
    }
    assert_eq!(plan.syncs_failed(), 1);
    assert_eq!(f.log.size(), size);
    let a = f.call("GET", "/healthz", None, None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert!(a.text().contains("Input/output error"), "{}", a.text());
    // What was acknowledged is still served.
    let a = f
        .call("GET", "/v1/streams/commitment/K-F-1", Some("aud"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_at_once_are_limited() {
    let f = fixture(Limits {
        exports_max: 1,
        ..Limits::default()
    });
    let first = open(&f.router, "/v1/export", &f.tokens["aud"]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let a = f.call("GET", "/v1/export", Some("aud"), None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text());
    assert_eq!(a.json()["error"]["code"], "too_many_exports");
    // Once the first ends, its slot is free.
    let body = axum::body::to_bytes(first.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body).lines().count() as u64,
        f.log.size()
    );
    let a = f.call("GET", "/v1/export", Some("aud"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

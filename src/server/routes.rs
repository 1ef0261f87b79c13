//! The API's handlers. Each one authorises, then calls the synchronous store or the command
//! line's operations (`ops`, `reviews`) from `spawn_blocking`, so appends from every
//! connection meet in the store's writer and share its group commits.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Extension;
use events::{EventId, ProposedEvent};
use serde_json::{json, Value};

use super::auth::{self, Need, Principal, VillageOf};
use super::error::{unprocessable, ApiError};
use super::limits::EVENTS_PAGE_MAX;
use super::AppState;
use crate::reviews;
use crate::store::tokens::Role;
use crate::store::{AppendError, Log, SledLog, Source};

/// Every route: method, path pattern and handler. The router is built from this table, and
/// the OpenAPI document is checked against it in the tests.
pub fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/healthz", get(healthz)),
        (Method::GET, "/metrics", get(metrics)),
        (Method::GET, "/v1/openapi.json", get(openapi)),
        (Method::GET, "/v1/status", get(status)),
        (Method::GET, "/v1/info", get(info)),
        (Method::POST, "/v1/events", post(append)),
        (Method::GET, "/v1/events", get(events_page)),
        (Method::GET, "/v1/events/{event_id}", get(event_by_id)),
        (Method::GET, "/v1/streams/{kind}/{id}", get(stream)),
        (Method::GET, "/v1/subscribe", get(super::sse::subscribe)),
        (Method::GET, "/v1/ledgers/{name}", get(ledger)),
        (Method::GET, "/v1/timeline/{kind}/{id}", get(timeline)),
        (Method::GET, "/v1/audit/{view}", get(audit)),
        (Method::GET, "/v1/review", get(review)),
        (Method::POST, "/v1/reviews", post(seal)),
        (Method::GET, "/v1/reviews/{id}", get(sealed_review)),
        (Method::GET, "/v1/reviews/{id}/verify", get(verify_review)),
        (Method::GET, "/v1/reviews/{id}/bundle", get(bundle)),
        (Method::GET, "/v1/checkpoint", get(checkpoint)),
        (Method::POST, "/v1/checkpoint", post(sign_checkpoint)),
        (Method::GET, "/v1/checkpoints", get(checkpoints)),
        (Method::GET, "/v1/proof/inclusion", get(inclusion)),
        (Method::GET, "/v1/proof/consistency", get(consistency)),
        (Method::GET, "/v1/export", get(export)),
    ]
}

/// Runs store work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Runs `f` on the store on tokio's blocking pool: every store call may block (sled, fsync).
async fn with_log<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&SledLog) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let log = app.log.clone();
    blocking(move || f(&log)).await
}

/// Query parameters, parsed one by one so that an error names its parameter.
pub struct Params(HashMap<String, String>);

impl Params {
    fn get<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e| ApiError::invalid(name, format!("{name}: {v:?}: {e}"))),
        }
    }
    fn required<T: std::str::FromStr>(&self, name: &str) -> Result<T, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)?
            .ok_or_else(|| ApiError::invalid(name, format!("{name} is missing")))
    }
    fn str(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

type Q = Query<HashMap<String, String>>;

fn params(q: Q) -> Params {
    Params(q.0)
}

fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn plain(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// The prefix named by `size` or `as_of` (or the whole log).
fn prefix_size(log: &SledLog, p: &Params) -> Result<u64, ApiError> {
    let size = p.get::<u64>("size")?;
    let as_of = p.get::<events::Timestamp>("as_of")?;
    reviews::resolve_size(log, size, as_of).map_err(unprocessable)
}

/// `ok`, or 503 once the store stopped accepting appends (a failed write, a closed store).
async fn healthz(State(app): State<AppState>) -> Response {
    match app.store_failure() {
        None => "ok\n".into_response(),
        Some(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_failed",
            format!(
                "the store accepts no appends: {why}; restart the server once the disk is fixed"
            ),
        )
        .into_response(),
    }
}

async fn openapi() -> Response {
    json_text(super::openapi::document().to_string())
}

async fn metrics(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    who.require(Need::Status)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(&app.log),
    )
        .into_response())
}

async fn status(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    who.require(Need::Status)?;
    use std::sync::atomic::Ordering::Relaxed;
    Ok(axum::Json(json!({
        "origin": app.log.origin(),
        "size": app.log.size(),
        "uptime_seconds": app.started.elapsed().as_secs(),
        "connections": app.metrics.connections.load(Relaxed),
        "subscribers": app.metrics.subscribers.load(Relaxed),
        "writer_queue_depth": app.log.queue_depth(),
    }))
    .into_response())
}

/// What any token may know: the log's origin, verifier key and size (a client needs them to
/// check what it is given).
async fn info(State(app): State<AppState>, Extension(_who): Extension<Principal>) -> Response {
    axum::Json(json!({
        "origin": app.log.origin(),
        "verifier_key": app.log.verifier_key(),
        "size": app.log.size(),
        "simulated_clock": app.log.info().simulated_clock,
    }))
    .into_response()
}

/// Parses a request body in the import-line format: one object, or an array of them. The
/// messages are those of `taizhang append`.
pub fn parse_events(text: &str, batch_max: usize) -> Result<Vec<ProposedEvent>, ApiError> {
    let trimmed = text.trim_matches([' ', '\t', '\r', '\n']);
    if trimmed.starts_with('[') {
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(trimmed)
            .map_err(|e| ApiError::invalid("body", format!("not a JSON array of events: {e}")))?;
        if items.is_empty() {
            return Err(ApiError::invalid("body", "the array holds no event"));
        }
        if items.len() > batch_max {
            return Err(ApiError::from(AppendError::BatchSize {
                events: items.len(),
            }));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                events::import::parse_line(raw.get())
                    .map(|l| l.event)
                    .map_err(|e| {
                        ApiError::invalid(
                            e.field.clone(),
                            format!("event {i}: {}: {}", e.field, e.reason),
                        )
                        .index(i)
                    })
            })
            .collect()
    } else if trimmed.is_empty() {
        Err(ApiError::invalid("body", "no event given"))
    } else {
        let line = events::import::parse_line(trimmed).map_err(|e| {
            ApiError::invalid(e.field.clone(), format!("{}: {}", e.field, e.reason)).index(0)
        })?;
        Ok(vec![line.event])
    }
}

/// The header telling how many of the answered events this request wrote: the body of a
/// retried request is the same as the first answer's, byte for byte; only this differs.
pub const WRITTEN_HEADER: &str = "taizhang-written";

async fn append(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !matches!(who.role, Role::Recorder | Role::Inspector | Role::Reviewer) {
        return Err(ApiError::forbidden(
            "role.append",
            format!(
                "token {} is a {}, which appends nothing",
                who.name, who.role
            ),
        ));
    }
    let limit = app.limits.body_bytes_max;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is over the limit of {limit} bytes; send fewer events per request"),
        )
        .field("body")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let batch = parse_events(text, app.limits.batch_events_max)?;
    app.metrics.request_events.observe(batch.len() as u64);
    let log = app.log.clone();
    let shared = app.clone();
    let appended = blocking(move || {
        auth::check_batch(&log, &who, &batch)?;
        log.append(batch, &who.name, Source::Client, None)
            .map_err(|e| {
                shared.note_append_error(&e);
                ApiError::from(e)
            })
    })
    .await?;
    let written = appended.iter().filter(|a| a.written).count();
    let rows: Vec<Value> = appended
        .iter()
        .map(|a| {
            json!({
                "position": a.position,
                "event_id": a.event_id.to_string(),
                "stream": a.stream,
                "stream_version": a.stream_version,
                "recorded_at": a.recorded_at.to_string(),
            })
        })
        .collect();
    let mut r = axum::Json(json!({ "events": rows })).into_response();
    r.headers_mut()
        .insert(WRITTEN_HEADER, HeaderValue::from(written as u64));
    Ok(r)
}

fn export_array(events: &[events::RecordedEvent]) -> String {
    let mut s = String::from("[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&e.export_line());
    }
    s.push(']');
    s
}

async fn events_page(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let from = p.get::<u64>("from")?.unwrap_or(0);
    let limit = p.get::<u64>("limit")?.unwrap_or(100);
    if limit > EVENTS_PAGE_MAX {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is at most {EVENTS_PAGE_MAX}"),
        ));
    }
    let text = with_log(&app, move |log| {
        let size = log.size();
        let events: Vec<events::RecordedEvent> = log
            .read(from, from.saturating_add(limit).min(size))
            .map(|r| r.map(|r| r.event))
            .collect::<Result<_, _>>()?;
        Ok(format!(
            "{{\"size\":{size},\"from\":{from},\"events\":{}}}",
            export_array(&events)
        ))
    })
    .await?;
    Ok(json_text(text))
}

async fn event_by_id(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let id =
        EventId::parse(&id).map_err(|e| ApiError::invalid("event_id", format!("event_id: {e}")))?;
    let ev = with_log(&app, move |log| Ok(log.event(id)?)).await?;
    match ev {
        Some(e) => Ok(json_text(e.export_line())),
        None => Err(ApiError::not_found(format!("no event {id} is in the log"))),
    }
}

async fn stream(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((kind, id)): Path<(String, String)>,
    q: Q,
) -> Result<Response, ApiError> {
    let p = params(q);
    let from = p.get::<u64>("from_version")?.unwrap_or(0);
    let limit = p
        .get::<u64>("limit")?
        .unwrap_or(EVENTS_PAGE_MAX)
        .min(EVENTS_PAGE_MAX);
    let name = format!("{kind}/{id}");
    let text = with_log(&app, move |log| {
        // Recorders read the streams of their villages, to know a stream's version before
        // appending with `expected_version`.
        if who.role == Role::Recorder {
            if !who.villages.is_empty() {
                let village = VillageOf::new(log, &[]).of_stream(&name, 0)?;
                if !village.as_ref().is_some_and(|v| who.villages.contains(v)) {
                    return Err(ApiError::forbidden(
                        "recorder.villages",
                        format!(
                            "token {} reads the streams of {} only; {name} is not one of theirs",
                            who.name,
                            who.villages.join(", ")
                        ),
                    ));
                }
            }
        } else {
            who.require(Need::Read)?;
        }
        let events = log.read_stream(&name, from, limit)?;
        Ok(format!(
            "{{\"stream\":{},\"from_version\":{from},\"events\":{}}}",
            Value::from(name.as_str()),
            export_array(&events)
        ))
    })
    .await?;
    Ok(json_text(text))
}

/// The rows of a ledger that belong to a village or posting, when asked (rows without such a
/// field are kept), as `taizhang ledger --village/--posting` keeps them.
fn keep<T: serde::Serialize>(
    rows: &[T],
    village: Option<&str>,
    posting: Option<&str>,
) -> Vec<Value> {
    rows.iter()
        .map(|r| serde_json::to_value(r).expect("rows serialize"))
        .filter(|v| {
            village.is_none_or(|id| v.get("village_id").is_none_or(|x| x == id))
                && posting.is_none_or(|id| v.get("posting_id").is_none_or(|x| x == id))
        })
        .collect()
}

/// The ledgers `taizhang ledger` prints, by the same names.
pub const LEDGERS: &[&str] = &[
    "commitments",
    "projects",
    "donations",
    "donors",
    "disbursements",
    "evaluations",
    "inspections",
    "attendance",
    "spot-checks",
    "contracts",
    "postings",
    "team",
    "villages",
    "totals",
    "anomalies",
];

async fn ledger(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    if !LEDGERS.contains(&name.as_str()) {
        return Err(
            ApiError::not_found(format!("no ledger {name}: {}", LEDGERS.join(", "))).field("name"),
        );
    }
    let p = params(q);
    let on = p.get::<events::Date>("on")?;
    let village = p.str("village");
    let posting = p.str("posting");
    let body = with_log(&app, move |log| {
        let size = prefix_size(log, &p)?;
        let report = reviews::ledgers(log, size).map_err(unprocessable)?.report(on);
        let (v, po) = (village.as_deref(), posting.as_deref());
        let mut body = json!({"ledger": name, "size": size, "reference_date": report.reference_date.map(|d| d.to_string())});
        let rows = match name.as_str() {
            "commitments" => keep(&report.commitments, v, po),
            "projects" => keep(&report.projects, v, po),
            "donations" => keep(&report.pledges, v, po),
            "donors" => keep(&report.donors, v, po),
            "disbursements" => keep(&report.disbursements, v, po),
            "evaluations" => keep(&report.evaluations, v, po),
            "inspections" => keep(&report.findings, v, po),
            "attendance" => keep(&report.attendance, v, po),
            "spot-checks" => keep(&report.spot_checks, v, po),
            "contracts" => keep(&report.contract_items, v, po),
            "postings" => keep(&report.postings, v, po),
            "team" => keep(&report.team, v, po),
            "anomalies" => keep(&report.anomalies, v, po),
            "totals" => vec![serde_json::to_value(&report.totals).map_err(ApiError::internal)?],
            "villages" => match v {
                Some(id) => {
                    let page = report.village_page(id);
                    if page.village.is_none() {
                        return Err(ApiError::not_found(format!("no village {id} in the log (as of this point)")).field("village"));
                    }
                    body["page"] = serde_json::to_value(&page).map_err(ApiError::internal)?;
                    return Ok(body);
                }
                None => keep(&report.villages, None, po),
            },
            _ => unreachable!("checked against LEDGERS"),
        };
        body["rows"] = Value::Array(rows);
        Ok(body)
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

async fn timeline(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((kind, id)): Path<(String, String)>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let subject = format!("{kind}/{id}");
    let body = with_log(&app, move |log| {
        let size = prefix_size(log, &p)?;
        let entries = reviews::timeline(log, size, &subject).map_err(unprocessable)?;
        Ok(json!({"subject": subject, "size": size, "entries": entries}))
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

/// The audit views `taizhang audit` prints, by the same names.
pub const AUDIT_VIEWS: &[&str] = &[
    "retractions",
    "late",
    "extensions",
    "anomalies",
    "evaluations",
];

async fn audit(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(view): Path<String>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    if !AUDIT_VIEWS.contains(&view.as_str()) {
        return Err(ApiError::not_found(format!(
            "no audit view {view}: {}",
            AUDIT_VIEWS.join(", ")
        ))
        .field("view"));
    }
    let p = params(q);
    let late = p
        .get::<i64>("late_after_days")?
        .unwrap_or(projections::audit::LATE_AFTER_DAYS_DEFAULT);
    if late < 0 {
        return Err(ApiError::invalid(
            "late_after_days",
            "late_after_days must be 0 or more",
        ));
    }
    let body = with_log(&app, move |log| {
        let size = prefix_size(log, &p)?;
        let v = reviews::audit(log, size, late).map_err(unprocessable)?;
        let rows = match view.as_str() {
            "retractions" => serde_json::to_value(&v.retractions),
            "late" => serde_json::to_value(&v.late_entries),
            "extensions" => serde_json::to_value(&v.extensions),
            "anomalies" => serde_json::to_value(&v.anomalies),
            _ => serde_json::to_value(&v.implausible_evaluations),
        }
        .map_err(ApiError::internal)?;
        Ok(json!({"view": view, "size": size, "rows": rows}))
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

/// The review document (formats.md §6) as `taizhang review show --json` prints it.
async fn review(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let start = p.required::<events::Date>("start")?;
    let end = p.required::<events::Date>("end")?;
    let text = with_log(&app, move |log| {
        let size = prefix_size(log, &p)?;
        let r = reviews::compute(log, size, start, end, None).map_err(unprocessable)?;
        Ok(r.to_jcs())
    })
    .await?;
    Ok(json_text(text))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealRequest {
    id: String,
    start: events::Date,
    end: events::Date,
}

async fn seal(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Body,
) -> Result<Response, ApiError> {
    who.require(Need::Seal)?;
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "a seal request is a small JSON object",
        )
    })?;
    let req: SealRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("expected {{\"id\", \"start\", \"end\"}}: {e}"),
        )
    })?;
    let body = with_log(&app, move |log| {
        let at = log.info().simulated_clock.then(crate::store::system_now);
        let (result, receipt) = reviews::seal(log, &req.id, req.start, req.end, &who.name, at)
            .map_err(unprocessable)?;
        let doc: Value = serde_json::from_str(&result.to_jcs()).map_err(ApiError::internal)?;
        Ok(json!({
            "review_id": req.id,
            "position": receipt.appended.position,
            "tree_size": result.tree_size,
            "result_sha256": result.result_sha256().to_hex(),
            "checkpoint_at_review": receipt.checkpoint_at_review,
            "checkpoint": receipt.checkpoint_with_seal,
            "result": doc,
        }))
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

async fn sealed_review(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let text = with_log(&app, move |log| {
        let (ev, _) =
            reviews::find_seal(log, &id).map_err(|e| ApiError::not_found(format!("{e:#}")))?;
        Ok(format!(
            "{{\"review_id\":{},\"seal\":{}}}",
            Value::from(id.as_str()),
            ev.export_line()
        ))
    })
    .await?;
    Ok(json_text(text))
}

async fn verify_review(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let body = with_log(&app, move |log| {
        let v = reviews::verify(log, &id).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "review_does_not_verify",
                format!("review {id} does not verify: {e:#}"),
            )
        })?;
        Ok(json!({
            "ok": true,
            "review_id": id,
            "tree_size": v.seal.tree_size,
            "position": v.position,
            "result_sha256": v.seal.result_sha256.to_hex(),
        }))
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

async fn bundle(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let b = with_log(&app, move |log| {
        reviews::bundle(log, &id).map_err(unprocessable)
    })
    .await?;
    Ok(axum::Json(b).into_response())
}

async fn checkpoint(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let last = with_log(&app, move |log| Ok(log.checkpoints()?.pop())).await?;
    match last {
        Some((_, note)) => Ok(plain(note)),
        None => Err(ApiError::not_found(
            "no checkpoint has been signed yet: POST /v1/checkpoint signs one",
        )),
    }
}

async fn sign_checkpoint(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    who.require(Need::SignCheckpoint)?;
    Ok(plain(
        with_log(&app, move |log| Ok(log.sign_checkpoint()?)).await?,
    ))
}

async fn checkpoints(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let all = with_log(&app, move |log| Ok(log.checkpoints()?)).await?;
    let rows: Vec<Value> = all
        .into_iter()
        .map(|(size, note)| json!({"size": size, "note": note}))
        .collect();
    Ok(axum::Json(json!({ "checkpoints": rows })).into_response())
}

async fn inclusion(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let index = p.required::<u64>("index")?;
    let size = p.get::<u64>("size")?;
    let proof = with_log(&app, move |log| {
        Ok(log.inclusion_proof(index, size.unwrap_or(log.size()))?)
    })
    .await?;
    Ok(axum::Json(proof).into_response())
}

async fn consistency(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let first = p.required::<u64>("first")?;
    let second = p.get::<u64>("second")?;
    let proof = with_log(&app, move |log| {
        Ok(log.consistency_proof(first, second.unwrap_or(log.size()))?)
    })
    .await?;
    Ok(axum::Json(proof).into_response())
}

/// How many bytes of export lines go out in one chunk.
const EXPORT_CHUNK_BYTES: usize = 256 * 1024;

/// Where a streamed export stands.
struct Export {
    app: AppState,
    who: Principal,
    next: u64,
    size: u64,
    /// Set once the last chunk (or final line) went out; then the error, if any, follows.
    ended: Option<Option<std::io::Error>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The line that ends an export cut short, and the body error after it.
fn export_end(code: &str, message: String) -> (Vec<u8>, std::io::Error) {
    let mut line = json!({"error": {"code": code, "message": message}}).to_string();
    line.push('\n');
    (line.into_bytes(), std::io::Error::other(message))
}

impl Export {
    /// The next chunk: read only when the client asks for it (nothing is read ahead or held
    /// for a client that stopped reading), after checking that the token is still in force.
    async fn chunk(&mut self) -> Option<Result<Vec<u8>, std::io::Error>> {
        if let Some(end) = &mut self.ended {
            return end.take().map(Err);
        }
        if !self.app.tokens.still_valid(&self.who) {
            let (line, e) = export_end(
                "token_revoked",
                format!(
                    "token {} was revoked: the export stops after {} events",
                    self.who.name, self.next
                ),
            );
            self.ended = Some(Some(e));
            return Some(Ok(line));
        }
        if self.next >= self.size {
            return None;
        }
        let (log, from, to) = (self.app.log.clone(), self.next, self.size);
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(EXPORT_CHUNK_BYTES + 4096);
            let mut next = from;
            for rec in log.read(from, to) {
                let r = rec.map_err(|e| e.to_string())?;
                buf.extend_from_slice(r.event.export_line().as_bytes());
                buf.push(b'\n');
                next += 1;
                if buf.len() >= EXPORT_CHUNK_BYTES {
                    break;
                }
            }
            Ok::<_, String>((buf, next))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match read {
            Ok((buf, next)) => {
                self.next = next;
                Some(Ok(buf))
            }
            Err(e) => {
                tracing::error!(error = %e, "export stopped");
                let (line, e) = export_end(
                    "read_failed",
                    format!(
                        "the export stopped after {} events: the store could not be read",
                        self.next
                    ),
                );
                self.ended = Some(Some(e));
                Some(Ok(line))
            }
        }
    }
}

/// The export (formats.md §5), streamed: records are read chunk by chunk as the client takes
/// them, so memory stays small whatever the log's size and a client that stops reading holds
/// no thread (its connection is dropped after `limits::CLIENT_STALL_MAX`). At most
/// `limits::EXPORTS_MAX` run at once. An export cut short (a read error, a revoked token)
/// ends with a line `{"error": {"code", "message"}}` and then a broken body, so no client
/// takes it for the whole log.
async fn export(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Q,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let p = params(q);
    let current = app.log.size();
    let size = p.get::<u64>("size")?.unwrap_or(current);
    if size > current {
        return Err(unprocessable(anyhow::anyhow!(
            "--size {size} is beyond the log's {current} events"
        ))
        .field("size"));
    }
    let permit = app.exports.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_exports",
            format!(
                "the server streams {} exports at most at once; retry later",
                app.limits.exports_max
            ),
        )
    })?;
    let state = Export {
        app: app.clone(),
        who,
        next: 0,
        size,
        ended: None,
        _permit: permit,
    };
    let stream =
        futures_util::stream::unfold(
            state,
            |mut s| async move { s.chunk().await.map(|c| (c, s)) },
        );
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// For the tests: the shared log behind a state.
pub fn log_of(app: &AppState) -> Arc<SledLog> {
    app.log.clone()
}

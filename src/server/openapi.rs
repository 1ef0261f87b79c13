//! The OpenAPI 3.1 document of the API, written by hand from one table: what each route is
//! for, who may call it and its parameters. A test checks it against the router's table.

use serde_json::{json, Map, Value};

/// One documented operation.
pub struct Operation {
    /// HTTP method, lower-case.
    pub method: &'static str,
    /// Path pattern, `{param}` style.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it (`None`: no token needed).
    pub roles: Option<&'static str>,
    /// Query parameters: name and meaning.
    pub query: &'static [(&'static str, &'static str)],
    /// The response's media type.
    pub produces: &'static str,
}

const JSON: &str = "application/json";
const READ: Option<&str> = Some("inspector, reviewer, auditor");
const AS_OF: [(&str, &str); 2] = [
    ("size", "as of the first N events"),
    (
        "as_of",
        "as of an instant: every event recorded up to then (RFC 3339 UTC)",
    ),
];

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    Operation { method: "get", path: "/healthz", summary: "Liveness: `ok`.", roles: None, query: &[], produces: "text/plain" },
    Operation { method: "get", path: "/metrics", summary: "Prometheus metrics: appends, batch sizes, fsync latency, queue depth, subscribers, refusals by reason.", roles: Some("admin"), query: &[], produces: "text/plain" },
    Operation { method: "get", path: "/v1/openapi.json", summary: "This document.", roles: None, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/status", summary: "Server status: size, uptime, connections, subscribers, writer queue.", roles: Some("admin"), query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/info", summary: "The log's origin, checkpoint verifier key and size.", roles: Some("any token"), query: &[], produces: JSON },
    Operation { method: "post", path: "/v1/events", summary: "Append a batch atomically: one import line (formats.md §5) or a JSON array of them. The token's name is the actor. A retry with the same event ids gets the same body and writes nothing (header taizhang-written: events written).", roles: Some("recorder, inspector, reviewer (each for its event types; recorders for their villages, retracting only their own events)"), query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/events", summary: "A page of events as export lines.", roles: READ, query: &[("from", "first position (default 0)"), ("limit", "most events (default 100, at most 10000)")], produces: JSON },
    Operation { method: "get", path: "/v1/events/{event_id}", summary: "One event by id, as its export line.", roles: READ, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/streams/{kind}/{id}", summary: "The events of one stream.", roles: Some("inspector, reviewer, auditor; recorders for the streams of their villages"), query: &[("from_version", "first stream version (default 0)"), ("limit", "most events (at most 10000)")], produces: JSON },
    Operation { method: "get", path: "/v1/subscribe", summary: "Server-Sent Events: history from a position, then live events; id = position; resume with Last-Event-ID.", roles: READ, query: &[("from", "first position (default 0); Last-Event-ID overrides it")], produces: "text/event-stream" },
    Operation { method: "get", path: "/v1/ledgers/{name}", summary: "A ledger as `taizhang ledger` computes it: commitments, projects, donations, donors, disbursements, evaluations, inspections, attendance, spot-checks, contracts, postings, team, villages, totals, anomalies.", roles: READ, query: &[("village", "only this village (with villages: its page)"), ("posting", "only this posting"), ("on", "judge calendar statuses on this date"), AS_OF[0], AS_OF[1]], produces: JSON },
    Operation { method: "get", path: "/v1/timeline/{kind}/{id}", summary: "Every event of a subject, in log order, retracted ones marked.", roles: READ, query: &AS_OF, produces: JSON },
    Operation { method: "get", path: "/v1/audit/{view}", summary: "An audit view: retractions, late, extensions, anomalies, evaluations.", roles: READ, query: &[("late_after_days", "an entry is late when recorded more than this many days after its date"), AS_OF[0], AS_OF[1]], produces: JSON },
    Operation { method: "get", path: "/v1/review", summary: "The review of a period (formats.md §6), as JCS.", roles: READ, query: &[("start", "first day of the period"), ("end", "last day of the period"), AS_OF[0], AS_OF[1]], produces: JSON },
    Operation { method: "post", path: "/v1/reviews", summary: "Compute the review over the whole log and seal it: body {\"id\", \"start\", \"end\"}.", roles: Some("reviewer"), query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/reviews/{id}", summary: "A sealed review's ReviewSealed event.", roles: READ, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/reviews/{id}/verify", summary: "Rebuild a sealed review from its prefix and check it against its seal.", roles: READ, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/reviews/{id}/bundle", summary: "A self-contained bundle of a sealed review for an auditor.", roles: READ, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/checkpoint", summary: "The latest signed checkpoint (C2SP signed note).", roles: READ, query: &[], produces: "text/plain" },
    Operation { method: "post", path: "/v1/checkpoint", summary: "Sign (or return) the checkpoint of the current size.", roles: Some("auditor"), query: &[], produces: "text/plain" },
    Operation { method: "get", path: "/v1/checkpoints", summary: "Every signed checkpoint, by size.", roles: READ, query: &[], produces: JSON },
    Operation { method: "get", path: "/v1/proof/inclusion", summary: "RFC 9162 inclusion proof (formats.md §3).", roles: READ, query: &[("index", "the event's position"), ("size", "tree size (default: the log's)")], produces: JSON },
    Operation { method: "get", path: "/v1/proof/consistency", summary: "RFC 9162 consistency proof (formats.md §3).", roles: READ, query: &[("first", "the earlier size"), ("second", "the later size (default: the log's)")], produces: JSON },
    Operation { method: "get", path: "/v1/export", summary: "The export (formats.md §5) of the first N events, streamed as JSON Lines.", roles: READ, query: &[("size", "number of events (default: all)")], produces: "application/x-ndjson" },
];

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for (name, description) in op.query {
            parameters.push(json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}}));
        }
        let mut responses = json!({
            "200": {"description": "success", "content": {op.produces: {}}},
            "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        });
        if op.roles.is_some() {
            responses["401"] = json!({"description": "no token or an unknown one", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
            responses["403"] = json!({"description": "the token's role or villages do not allow it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        }
        let mut operation = json!({
            "summary": op.summary,
            "parameters": parameters,
            "responses": responses,
        });
        match op.roles {
            Some(roles) => {
                operation["security"] = json!([{"bearer": []}]);
                operation["x-roles"] = json!(roles);
            }
            None => operation["security"] = json!([]),
        }
        paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item is an object")
            .insert(op.method.to_string(), operation);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "taizhang", "version": env!("CARGO_PKG_VERSION"), "description": "A verifiable, event-sourced work ledger: one log, many offices."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token made with `taizhang token add` on the store's machine"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "field", "index"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": ["string", "null"]}, "index": {"type": ["integer", "null"]},
                "rule": {"type": "string"}, "detail": {"type": "object"}
            }}}}}
        }
    })
}

//! `GET /v1/subscribe`: Server-Sent Events of the log from a position on, history then live.
//!
//! Each event's `id:` is its position and its `data:` its export line, so a client resumes
//! with `Last-Event-ID` (the next position is that id + 1) with no gap and no duplicate.
//! A subscription reads the log at its own pace and is woken by the store's watch of the
//! durable size: nothing is buffered for it, so a slow subscriber never slows writers. One
//! that falls more than the lag limit behind while live gets a final `dropped` event naming
//! where to resume; server shutdown sends a final `shutdown` event; revoking the token ends
//! the subscription with a final `revoked` event. A subscriber that stops reading altogether
//! is dropped by its connection's stall limit (`limits::CLIENT_STALL_MAX`), freeing its slot.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::json;
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::auth::{Need, Principal};
use super::error::ApiError;
use super::routes::blocking;
use super::{AppState, Shared};
use crate::store::Log;

/// Most events read from the store in one step of a subscription.
const SUBSCRIPTION_READ_EVENTS: u64 = 512;

struct Subscription {
    app: Arc<Shared>,
    next: u64,
    live: bool,
    done: bool,
    /// Events read but not yet sent, with their positions.
    queue: VecDeque<(Event, u64)>,
    size: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// Woken when the token list is reloaded.
    tokens: watch::Receiver<u64>,
    /// The token list changed since the token was last checked.
    check_token: bool,
    who: Principal,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.app.metrics.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

fn last(event: &str, data: serde_json::Value) -> Event {
    Event::default().event(event).data(data.to_string())
}

impl Subscription {
    async fn step(&mut self) -> Option<Event> {
        loop {
            // The token is checked whenever the token list changed: a revoked one gets no
            // more events, not even those already read.
            if !self.done && (self.check_token || self.tokens.has_changed().unwrap_or(true)) {
                self.check_token = false;
                self.tokens.borrow_and_update();
                if !self.app.tokens.still_valid(&self.who) {
                    self.done = true;
                    if let Some(first) = self.queue.front() {
                        self.next = first.1;
                    }
                    self.queue.clear();
                    return Some(last(
                        "revoked",
                        json!({"message": format!("token {} was revoked: this subscription ends", self.who.name), "resume_from": self.next}),
                    ));
                }
            }
            if let Some((e, _)) = self.queue.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            if *self.shutdown.borrow() {
                self.done = true;
                return Some(last(
                    "shutdown",
                    json!({"message": "the server is shutting down; resume with Last-Event-ID", "resume_from": self.next}),
                ));
            }
            let size = *self.size.borrow_and_update();
            if self.next < size {
                let lag = size - self.next;
                if self.live && lag > self.app.limits.subscriber_lag_events_max {
                    self.done = true;
                    self.app
                        .metrics
                        .subscribers_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    return Some(last(
                        "dropped",
                        json!({
                            "message": format!("this subscriber fell {lag} events behind the log (the limit is {}) and was dropped; {}", self.app.limits.subscriber_lag_events_max, resume_hint(self.next)),
                            "resume_from": self.next,
                        }),
                    ));
                }
                let (from, to) = (self.next, size.min(self.next + SUBSCRIPTION_READ_EVENTS));
                let log = self.app.log.clone();
                let read = blocking(move || {
                    log.read(from, to)
                        .map(|r| r.map(|r| r.event).map_err(ApiError::from))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await;
                match read {
                    Ok(events) => {
                        for e in events {
                            self.queue.push_back((
                                Event::default()
                                    .id(e.position.to_string())
                                    .event("event")
                                    .data(e.export_line()),
                                e.position,
                            ));
                        }
                        self.next = to;
                        if to == size {
                            self.live = true;
                        }
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(last(
                            "error",
                            json!({"message": e.message, "resume_from": self.next}),
                        ));
                    }
                }
                continue;
            }
            self.live = true;
            tokio::select! {
                changed = self.size.changed() => if changed.is_err() { self.done = true; },
                _ = self.shutdown.changed() => {},
                changed = self.tokens.changed() => match changed {
                    Ok(()) => self.check_token = true,
                    Err(_) => self.done = true,
                },
            }
        }
    }
}

/// How to resume at position `next`: `Last-Event-ID: next-1`, or from the start when
/// nothing was received (there is no id before position 0).
fn resume_hint(next: u64) -> String {
    match next.checked_sub(1) {
        Some(id) => format!("reconnect with Last-Event-ID: {id} to resume"),
        None => "reconnect with ?from=0 (and no Last-Event-ID) to resume".into(),
    }
}

/// `GET /v1/subscribe?from=P` (or `Last-Event-ID: P-1`).
pub async fn subscribe(
    State(app): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    who.require(Need::Read)?;
    let from = match headers.get("last-event-id") {
        Some(v) => {
            let id: u64 = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Last-Event-ID",
                        "Last-Event-ID must be the position of the last event received",
                    )
                })?;
            id.checked_add(1).ok_or_else(|| {
                ApiError::invalid(
                    "Last-Event-ID",
                    format!("Last-Event-ID: {id} is no position this log can reach; send the position of the last event received"),
                )
            })?
        }
        None => match q.get("from").filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse()
                .map_err(|_| ApiError::invalid("from", format!("from: {s:?} is not a position")))?,
            None => 0,
        },
    };
    let permit = app.subscribers.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_subscribers",
            format!(
                "the server serves {} subscriptions at most; retry later",
                app.limits.subscribers_max
            ),
        )
    })?;
    app.metrics.subscribers.fetch_add(1, Ordering::Relaxed);
    let sub = Subscription {
        app: app.0.clone(),
        next: from,
        live: false,
        done: false,
        queue: VecDeque::new(),
        size: app.log.observers().watch_size(),
        shutdown: app.shutdown.clone(),
        tokens: app.tokens.watch(),
        check_token: true,
        who,
        _permit: permit,
    };
    let stream = futures_util::stream::unfold(sub, |mut s| async move {
        s.step().await.map(|e| (Ok::<Event, Infallible>(e), s))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new())
        .into_response())
}

//! `/metrics` in the Prometheus text format: the server's counters (requests, refusals by
//! reason, events per request, connections, subscribers) beside the store writer's
//! (events, batches, group commits and their sizes, fsync latency, queue depth).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::stats::Histogram;
use crate::store::SledLog;

/// Events per `POST /v1/events` request: the bucket bounds.
const REQUEST_EVENTS_BUCKETS: &[u64] = &[1, 2, 5, 10, 50, 100, 500, 1_000, 10_000];
/// Request durations in microseconds: the bucket bounds.
const REQUEST_MICROS_BUCKETS: &[u64] = &[
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

/// The server's own counters.
pub struct Metrics {
    /// Requests answered, by route pattern and status.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Refused requests (4xx, 5xx), by the error code of their body.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Events per append request.
    pub request_events: Histogram,
    /// Time to produce a response's head, in microseconds.
    pub request_micros: Histogram,
    /// Open connections.
    pub connections: Arc<AtomicU64>,
    /// Connections refused at the limit.
    pub connections_refused: Arc<AtomicU64>,
    /// Live subscriptions.
    pub subscribers: AtomicU64,
    /// Subscribers dropped for falling behind.
    pub subscribers_dropped: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            refused: Mutex::default(),
            request_events: Histogram::new(REQUEST_EVENTS_BUCKETS),
            request_micros: Histogram::new(REQUEST_MICROS_BUCKETS),
            connections: Arc::default(),
            connections_refused: Arc::default(),
            subscribers: AtomicU64::new(0),
            subscribers_dropped: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16, refusal: Option<&'static str>, micros: u64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_string(), status))
            .or_default() += 1;
        if let Some(code) = refusal {
            *self
                .refused
                .lock()
                .expect("metrics lock")
                .entry(code)
                .or_default() += 1;
        }
        self.request_micros.observe(micros);
    }

    /// Refusals of one code so far (for tests and status).
    pub fn refused(&self, code: &str) -> u64 {
        self.refused
            .lock()
            .expect("metrics lock")
            .get(code)
            .copied()
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, log: &SledLog) -> String {
        let mut o = String::new();
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let gauge = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let s = &log.observers().stats;
        gauge(
            &mut o,
            "taizhang_log_size",
            "Events in the log (durable).",
            crate::store::Log::size(log),
        );
        counter(
            &mut o,
            "taizhang_appended_events_total",
            "Events written by the store.",
            s.events.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "taizhang_appended_batches_total",
            "Batches acknowledged by the store.",
            s.batches.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "taizhang_group_commits_total",
            "Group commits (one write and fdatasync each).",
            s.groups.load(Ordering::Relaxed),
        );
        histogram(
            &mut o,
            "taizhang_group_commit_events",
            "Events per group commit.",
            &s.group_events,
            1.0,
        );
        histogram(
            &mut o,
            "taizhang_fsync_seconds",
            "Write, flush and fdatasync of one group commit.",
            &s.sync_micros,
            1e-6,
        );
        gauge(
            &mut o,
            "taizhang_writer_queue_depth",
            "Jobs waiting for the store's writer.",
            log.queue_depth() as u64,
        );
        histogram(
            &mut o,
            "taizhang_append_request_events",
            "Events per append request.",
            &self.request_events,
            1.0,
        );
        histogram(
            &mut o,
            "taizhang_http_request_seconds",
            "Time to produce a response's head.",
            &self.request_micros,
            1e-6,
        );
        gauge(
            &mut o,
            "taizhang_http_connections",
            "Open connections.",
            self.connections.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "taizhang_http_connections_refused_total",
            "Connections refused at the connection limit.",
            self.connections_refused.load(Ordering::Relaxed),
        );
        gauge(
            &mut o,
            "taizhang_subscribers",
            "Live subscriptions.",
            self.subscribers.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "taizhang_subscribers_dropped_total",
            "Subscribers dropped for falling behind.",
            self.subscribers_dropped.load(Ordering::Relaxed),
        );
        o.push_str("# HELP taizhang_http_requests_total Requests answered, by route and status.\n# TYPE taizhang_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                o,
                "taizhang_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        o.push_str("# HELP taizhang_http_refused_total Refused requests, by reason.\n# TYPE taizhang_http_refused_total counter\n");
        for (code, n) in self.refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(o, "taizhang_http_refused_total{{reason=\"{code}\"}} {n}");
        }
        o
    }
}

fn histogram(o: &mut String, name: &str, help: &str, h: &Histogram, scale: f64) {
    let (buckets, count, sum) = h.snapshot();
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (le, c) in buckets {
        let _ = writeln!(o, "{name}_bucket{{le=\"{}\"}} {c}", le as f64 * scale);
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(o, "{name}_sum {}", sum as f64 * scale);
    let _ = writeln!(o, "{name}_count {count}");
}

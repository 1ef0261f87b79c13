//! `taizhang bench http`: appends over HTTP to a server on loopback that the bench starts
//! itself on a fresh temporary store, from many concurrent clients, single-event requests
//! then 100-event requests; events per second and request latency percentiles.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bench;
use crate::store::tokens::{self, Role};
use crate::store::Log;

/// One measurement's figures.
#[derive(Debug, Clone)]
pub struct HttpFigures {
    /// Events per request.
    pub batch: usize,
    /// Requests answered 200.
    pub requests: u64,
    /// Events appended.
    pub events: u64,
    /// Requests refused or failed.
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Median request latency.
    pub p50: Duration,
    /// 99th percentile request latency.
    pub p99: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The body of request `n` of client `c`: `batch` commitments with fresh ids.
fn body(c: usize, n: u64, batch: usize) -> String {
    let mut s = String::from("[");
    for i in 0..batch {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"type":"CommitmentMade","occurred_on":"2016-02-01","payload":{{"commitment_id":"K-{c}-{n}-{i}","posting_id":"P-2016-CX-01","village_id":"CX-BT-LF","kind":"practical","content":"修通六肥至波塘镇的村级道路，硬化路面四公里，年底前通车","due":"2016-09-30"}}}}"#
        ));
    }
    s.push(']');
    s
}

async fn measure(
    url: &str,
    token: &str,
    clients: usize,
    batch: usize,
    time: Duration,
) -> HttpFigures {
    let start = Instant::now();
    let deadline = start + time;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = format!("{url}/v1/events");
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            // One connection per client, kept alive, as an office's client would hold it.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("http client");
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let b = body(c, n + (batch as u64) * 1_000_000, batch);
                n += 1;
                let t = Instant::now();
                let ok = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await
                    .map(|r| r.status().is_success());
                match ok {
                    Ok(true) => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    all.sort();
    HttpFigures {
        batch,
        requests: all.len() as u64,
        events: all.len() as u64 * batch as u64,
        errors,
        elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(clients: usize, time: Duration, out: &mut dyn Write) -> Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let data = dir.path().join("store");
    let log = Arc::new(bench::fresh_store(&data));
    let token = tokens::add(&data, "bench", Role::Recorder, &[])?;
    let fsyncs = bench::fdatasync_rate(dir.path(), 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let figures = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = crate::server::Server::new(log.clone(), Default::default())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        let url = format!("http://{addr}");
        let mut figures = Vec::new();
        for batch in [1usize, 100] {
            figures.push(measure(&url, &token, clients, batch, time).await);
        }
        let _ = stop.send(());
        serving.await??;
        anyhow::Ok(figures)
    })?;
    log.close();
    writeln!(out, "taizhang bench http: {clients} clients, {} s per measurement, server on 127.0.0.1 (same machine, {} cores)", time.as_secs(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))?;
    writeln!(
        out,
        "machine: {fsyncs:.0} fdatasync/s (4 KiB write + fdatasync, one thread)"
    )?;
    writeln!(
        out,
        "{:<24} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "measurement", "events/s", "requests/s", "p50 ms", "p99 ms", "errors"
    )?;
    for f in &figures {
        let secs = f.elapsed.as_secs_f64();
        writeln!(
            out,
            "{:<24} {:>12.0} {:>12.0} {:>10.2} {:>10.2} {:>8}",
            format!("{}-event requests", f.batch),
            f.events as f64 / secs,
            f.requests as f64 / secs,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.errors
        )?;
    }
    let s = &log.observers().stats;
    use std::sync::atomic::Ordering::Relaxed;
    let groups = s.groups.load(Relaxed).max(1);
    writeln!(
        out,
        "store: {} events in {} group commits ({:.1} events per fsync); log size {}",
        s.events.load(Relaxed),
        groups,
        s.events.load(Relaxed) as f64 / groups as f64,
        log.size()
    )?;
    Ok(())
}

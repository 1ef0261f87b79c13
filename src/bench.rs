//! The `taizhang bench` measurements: each on a fresh temporary store, each the median of
//! several runs, with the machine's own `fdatasync` rate measured in the same run as the
//! baseline. Also used by the criterion suite in `benches/`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use events::import::parse_line;
use events::ProposedEvent;

use crate::store::{Log, SledLog, Source};

/// What to measure, and how much.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Events appended per measurement of batched appends (and read back).
    pub events: u64,
    /// Runs per measurement; the median is reported.
    pub runs: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            events: 20_000,
            runs: 5,
        }
    }
}

/// The registry events a workload's commitments need: one village and one posting.
pub fn setup_events() -> Vec<ProposedEvent> {
    [
        r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"CX-BT-LF","name":"六肥村","county":"岑溪市","township":"波塘镇"}}"#,
        r#"{"type":"SecretaryPosted","occurred_on":"2016-01-15","payload":{"posting_id":"P-2016-CX-01","person_id":"CAD-0107","person_name":"陈明","village_id":"CX-BT-LF","sending_unit":"岑溪市委组织部","probation":false}}"#,
    ]
    .iter()
    .map(|l| parse_line(l).expect("valid setup line").event)
    .collect()
}

/// A realistic event: a `CommitmentMade` of about 250 bytes of canonical JSON.
pub fn commitment(n: u64) -> ProposedEvent {
    let line = format!(
        r#"{{"type":"CommitmentMade","occurred_on":"2016-02-01","payload":{{"commitment_id":"K-{n:08}","posting_id":"P-2016-CX-01","village_id":"CX-BT-LF","kind":"practical","content":"修通六肥至波塘镇的村级道路，硬化路面四公里，年底前通车","due":"2016-09-30"}}}}"#
    );
    parse_line(&line).expect("valid commitment line").event
}

/// A fresh store in `dir` holding the setup events.
pub fn fresh_store(dir: &Path) -> SledLog {
    let log = SledLog::init(dir, "bench.local/taizhang", false).expect("init bench store");
    log.append(setup_events(), "bench", Source::Client, None)
        .expect("setup");
    log
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The machine's own rate of 4 KiB write + `fdatasync`, per second.
pub fn fdatasync_rate(dir: &Path, n: u64) -> f64 {
    let path = dir.join("fdatasync.probe");
    let mut f = std::fs::File::create(&path).expect("probe file");
    let block = [0x5au8; 4096];
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&block).expect("probe write");
        f.sync_data().expect("probe fdatasync");
    }
    let r = rate(n, t.elapsed());
    let _ = std::fs::remove_file(path);
    r
}

/// Durable appends per second, in batches of `batch` events, `total` events in all.
pub fn append_rate(dir: &Path, batch: u64, total: u64) -> (f64, SledLog) {
    let log = fresh_store(dir);
    let mut n = 0;
    let t = Instant::now();
    while n < total {
        let events: Vec<_> = (n..(n + batch).min(total)).map(commitment).collect();
        n += events.len() as u64;
        log.append(events, "bench", Source::Client, None)
            .expect("append");
    }
    (rate(total, t.elapsed()), log)
}

/// Durable appends per second with `writers` threads each appending single events.
pub fn concurrent_rate(dir: &Path, writers: u64, total: u64) -> f64 {
    let log = std::sync::Arc::new(fresh_store(dir));
    let t = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut n = w;
                while n < total {
                    log.append(vec![commitment(n)], "bench", Source::Client, None)
                        .expect("append");
                    n += writers;
                }
            })
        })
        .collect();
    for th in threads {
        th.join().expect("writer thread");
    }
    rate(total, t.elapsed())
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            total += if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            };
        }
    }
    total
}

/// Runs every measurement, printing one line per figure to `out` as it goes.
pub fn run(cfg: &BenchConfig, out: &mut dyn Write) -> std::io::Result<()> {
    let runs = cfg.runs.max(1);
    let n = cfg.events.max(1000);
    let tmp = tempfile::tempdir()?;
    let mut k = 0;
    let mut fresh = || {
        k += 1;
        tmp.path().join(format!("s{k}"))
    };
    writeln!(out, "# taizhang bench: median of {runs} runs, {n} events per batched measurement, fresh store each run")?;
    let base = median(
        (0..runs)
            .map(|_| fdatasync_rate(tmp.path(), 1000))
            .collect(),
    );
    writeln!(
        out,
        "baseline fdatasync (4 KiB write + fdatasync):  {base:>12.0} /s"
    )?;
    let single_n = (base as u64).clamp(500, 5000);
    let mut sizes = Vec::new();
    for (batch, total) in [(1, single_n), (100, n), (1000, n)] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let dir = fresh();
            let (r, log) = append_rate(&dir, batch, total);
            rates.push(r);
            if batch == 1000 {
                sizes.push((log.size(), dir.clone()));
            }
            drop(log);
        }
        let m = median(rates);
        writeln!(out, "durable appends, batches of {batch:>4}:          {m:>12.0} events/s  ({:.2}x fdatasync)", m / base)?;
    }
    let conc = median(
        (0..runs)
            .map(|_| concurrent_rate(&fresh(), 64, single_n * 4))
            .collect(),
    );
    writeln!(
        out,
        "durable appends, 64 writers x 1 event:       {conc:>12.0} events/s  ({:.2}x fdatasync)",
        conc / base
    )?;

    // Reads, verification, proofs and size on the last batch-1000 store.
    let (size, dir) = sizes.pop().expect("a batch-1000 store");
    let log = SledLog::open(&dir).expect("reopen");
    let read = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let mut c = 0u64;
                for r in log.read(0, size) {
                    r.expect("read");
                    c += 1;
                }
                rate(c, t.elapsed())
            })
            .collect(),
    );
    writeln!(
        out,
        "read all (checked records):                  {read:>12.0} events/s"
    )?;
    let ver = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                crate::ops::verify(&log, |_| {}).expect("verify");
                rate(size, t.elapsed())
            })
            .collect(),
    );
    writeln!(
        out,
        "verify (recompute leaves, root):             {ver:>12.0} events/s"
    )?;
    let mut lat = Vec::new();
    for i in 0..200u64 {
        let idx = (i * 7919) % size;
        let t = Instant::now();
        log.inclusion_proof(idx, size).expect("proof");
        log.consistency_proof(idx.max(1), size).expect("proof");
        lat.push(t.elapsed().as_secs_f64() * 1e6 / 2.0);
    }
    writeln!(
        out,
        "proof generation (inclusion, consistency):   {:>12.1} us median",
        median(lat)
    )?;
    let json_bytes: u64 = log
        .read(0, size)
        .map(|r| r.expect("read").event.export_line().len() as u64)
        .sum();
    drop(log);
    let disk = dir_bytes(&dir);
    writeln!(
        out,
        "bytes on disk per event:                     {:>12.0} B  ({:.2}x the export line, {} events)",
        disk as f64 / size as f64,
        disk as f64 / json_bytes as f64,
        size
    )?;
    Ok(())
}

/// A large generated history: `copies` demo cities side by side (seeds 1, 2, …), their ids
/// prefixed `c<k>.` so the cities are distinct, batch i of every copy recorded at batch i's
/// moment. Each entry is one atomic batch. The review seals of the demo are left out.
pub fn big_history(copies: usize) -> Vec<(events::Timestamp, Vec<ProposedEvent>)> {
    use crate::demo::{city, DemoStep};
    let cities: Vec<Vec<crate::demo::DemoBatch>> = (0..copies)
        .map(|k| {
            city(k as u64 + 1)
                .into_iter()
                .filter_map(|s| match s {
                    DemoStep::Append(b) => Some(b),
                    DemoStep::SealReview { .. } => None,
                })
                .collect()
        })
        .collect();
    let steps = cities.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..steps {
        for (k, c) in cities.iter().enumerate() {
            let Some(b) = c.get(i) else { continue };
            let events = b.events.iter().map(|e| prefixed(e, k)).collect();
            out.push((b.recorded_at, events));
        }
    }
    // The copies' batch i need not share a moment: keep recorded_at non-decreasing.
    let mut last = events::Timestamp::from_micros(i64::MIN);
    for (t, _) in out.iter_mut() {
        last = last.max(*t);
        *t = last;
    }
    out
}

/// The event with every id of its payload prefixed `c<k>.` (event references stay: each copy
/// has its own event ids already).
fn prefixed(e: &ProposedEvent, k: usize) -> ProposedEvent {
    fn walk(v: &mut serde_json::Value, k: usize) {
        match v {
            serde_json::Value::Object(m) => {
                for (key, val) in m.iter_mut() {
                    if key.ends_with("_id") && key != "target_event_id" {
                        if let serde_json::Value::String(s) = val {
                            *s = format!("c{k}.{s}");
                        }
                    } else {
                        walk(val, k);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, k)),
            _ => {}
        }
    }
    let mut json = e.payload.to_json_value();
    walk(&mut json, k);
    let payload = events::Payload::from_json(e.payload.event_type(), &json.to_string())
        .expect("a prefixed demo payload is valid");
    ProposedEvent {
        payload,
        ..e.clone()
    }
}

/// Peak resident memory of this process (VmHWM), bytes; reset by [`reset_peak_rss`].
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident memory to the current one (Linux `clear_refs` 5).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Builds a store holding `history` in `dir` (simulated clock), splitting merged batches at
/// copy boundaries to stay under the batch limit.
pub fn store_of(dir: &Path, history: Vec<(events::Timestamp, Vec<ProposedEvent>)>) -> SledLog {
    let log = SledLog::init(dir, "bench.local/taizhang", true).expect("init bench store");
    let mut chunk: Vec<ProposedEvent> = Vec::new();
    let mut at = None;
    for (t, events) in history {
        if at != Some(t) || chunk.len() + events.len() > crate::store::BATCH_EVENTS_MAX {
            if let Some(a) = at.filter(|_| !chunk.is_empty()) {
                log.append(std::mem::take(&mut chunk), "bench", Source::Client, Some(a))
                    .expect("append history");
            }
            at = Some(t);
        }
        chunk.extend(events);
    }
    if let Some(a) = at.filter(|_| !chunk.is_empty()) {
        log.append(chunk, "bench", Source::Client, Some(a))
            .expect("append history");
    }
    log
}

/// The ledger and review measurements: a full rebuild over a large history, memory, a
/// village ledger and a city review as of random earlier sizes, the demo city's review.
pub fn run_ledgers(min_events: u64, runs: usize, out: &mut dyn Write) -> std::io::Result<()> {
    let runs = runs.max(1);
    let tmp = tempfile::tempdir()?;
    // The demo city's review.
    let demo = store_of(&tmp.path().join("demo"), big_history(1));
    let size = demo.size();
    let start = events::Date::from_ymd(2016, 1, 1).expect("date");
    let end = events::Date::from_ymd(2016, 12, 31).expect("date");
    let t = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                crate::reviews::compute(&demo, size, start, end, None).expect("review");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    writeln!(
        out,
        "review of the demo city ({size} events):      {t:>12.1} ms median"
    )?;
    drop(demo);

    let per_city = size.max(1);
    let copies = min_events.div_ceil(per_city) as usize;
    let t = Instant::now();
    let log = store_of(&tmp.path().join("big"), big_history(copies));
    let size = log.size();
    writeln!(
        out,
        "history: {copies} demo cities side by side, {size} events (built in {:.0} s)",
        t.elapsed().as_secs_f64()
    )?;
    let before = peak_rss();
    let reset = reset_peak_rss();
    let mut rates = Vec::new();
    let mut entities = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let ledgers = crate::reviews::ledgers(&log, size).expect("rebuild");
        let report = ledgers.report(None);
        rates.push(rate(size, t.elapsed()));
        entities = report.commitments.len()
            + report.projects.len()
            + report.pledges.len()
            + report.postings.len()
            + report.villages.len()
            + report.evaluations.len();
    }
    let peak = peak_rss();
    writeln!(
        out,
        "rebuild of every ledger from the store:      {:>12.0} events/s",
        median(rates)
    )?;
    match (before, peak, reset) {
        (Some(b), Some(p), true) => writeln!(out, "peak RSS during the rebuilds:                {:>12.1} MiB (process before: {:.1} MiB; {entities} entities)", p as f64 / 1048576.0, b as f64 / 1048576.0)?,
        _ => writeln!(out, "peak RSS: not measurable here (/proc/self/status or clear_refs unavailable)")?,
    }
    // Random earlier sizes and villages, from a fixed seed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let villages: Vec<String> = crate::reviews::ledgers(&log, size)
        .expect("ledgers")
        .report(None)
        .villages
        .iter()
        .map(|v| v.village_id.to_string())
        .collect();
    let lat: Vec<f64> = (0..50)
        .map(|_| {
            let n = next() % size + 1;
            let v = &villages[(next() % villages.len() as u64) as usize];
            let t = Instant::now();
            let (l, r) = crate::reviews::village_ledgers(&log, n, v).expect("village ledger");
            let _ = l.report(r).village_page(v);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    writeln!(
        out,
        "a village's ledgers as of a random size:     {:>12.2} ms median (p99 {:.2} ms)",
        median(lat.clone()),
        percentile(lat, 0.99)
    )?;
    let lat: Vec<f64> = (0..runs.max(3))
        .map(|_| {
            let n = next() % size + 1;
            let t = Instant::now();
            crate::reviews::compute(&log, n, start, end, None).expect("review");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    writeln!(
        out,
        "the city review as of a random size:         {:>12.0} ms median",
        median(lat)
    )?;
    Ok(())
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

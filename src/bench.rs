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

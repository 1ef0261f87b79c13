//! Criterion benchmarks of the log: durable batched appends, reading and verifying a 20,000-event
//! store, and inclusion proofs. `taizhang bench` measures the same things against the machine's
//! own fdatasync rate; this suite is for comparing one build with another.
//!
//! Sample sizes and measurement times are small on purpose: each append sample is an fsync-bound
//! store, and the whole suite should finish in about two minutes on a shared machine.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use taizhang::bench::{commitment, fresh_store};
use taizhang::store::{Log, SledLog, Source};

/// Events in the store the read, verify and proof benchmarks run on.
const STORE_EVENTS: u64 = 20_000;
/// Events per appended batch.
const BATCH: u64 = 1_000;

/// A store of `STORE_EVENTS` commitments (plus the two setup events) in batches of `BATCH`.
fn filled_store(dir: &std::path::Path) -> SledLog {
    let log = fresh_store(dir);
    for start in (0..STORE_EVENTS).step_by(BATCH as usize) {
        let batch: Vec<_> = (start..start + BATCH).map(commitment).collect();
        log.append(batch, "bench", Source::Client, None)
            .expect("append");
    }
    log
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(BATCH));
    // A fresh store per sample (set up outside the timing), so every sample appends to a
    // store of the same size and the figure does not drift as one store grows.
    group.bench_function(BenchmarkId::new("batch_to_fresh_store", BATCH), |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let log = fresh_store(dir.path());
                let events: Vec<_> = (0..BATCH).map(commitment).collect();
                (dir, log, events)
            },
            |(dir, log, events)| {
                log.append(events, "bench", Source::Client, None)
                    .expect("append");
                // Returned so the store is closed and removed outside the timing.
                (dir, log)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn read_verify_prove(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = filled_store(dir.path());
    let size = log.size();
    assert_eq!(size, STORE_EVENTS + 2);

    let mut group = c.benchmark_group("store_20k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(size));
    group.bench_function("read_all", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for r in log.read(0, size) {
                std::hint::black_box(r.expect("read"));
                n += 1;
            }
            assert_eq!(n, size);
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let v = taizhang::ops::verify(&log, |_| {}).expect("verify");
            assert_eq!(v.size, size);
        })
    });
    // One proof per iteration, over leaves spread across the tree (a prime stride), so that
    // paths of every shape are measured and sled's cache is not flattered by one hot path.
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            i = (i + 7919) % size;
            std::hint::black_box(log.inclusion_proof(i, size).expect("proof"))
        })
    });
    group.finish();
}

criterion_group!(benches, append, read_verify_prove);
criterion_main!(benches);

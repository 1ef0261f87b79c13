//! What only the store's writer knows, for whoever watches it: the durable size as it grows
//! (a `tokio::sync::watch`, so a server can wake live subscribers), and counters of group
//! commits (events, batches, group sizes, write-and-sync latency).
//!
//! The writer updates these after each commit, outside any lock; readers only load atomics.
//! Nothing here changes what the store writes or when it acknowledges.

use std::sync::atomic::{AtomicU64, Ordering};

/// A fixed-bucket histogram of `u64` observations (cumulative on rendering, as Prometheus
/// wants): lock-free, one atomic add per observation.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds (ascending); one more bucket counts the rest.
    pub fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, value: u64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Upper bounds with the cumulative count of observations at or below each, then the
    /// total count (the `+Inf` bucket) and the sum.
    pub fn snapshot(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            buckets.push((*b, cumulative));
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        (buckets, cumulative, self.sum.load(Ordering::Relaxed))
    }
}

/// Events per group commit: the bucket bounds.
pub const GROUP_EVENTS_BUCKETS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 20_000];
/// Write + flush + fdatasync of one group, in microseconds: the bucket bounds.
pub const SYNC_MICROS_BUCKETS: &[u64] = &[
    250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 512_000, 2_000_000,
];

/// Counters of the writer's group commits.
#[derive(Debug)]
pub struct StoreStats {
    /// Events written (idempotent retries, which write nothing, are not counted).
    pub events: AtomicU64,
    /// Batches acknowledged.
    pub batches: AtomicU64,
    /// Group commits (one write and one fdatasync each).
    pub groups: AtomicU64,
    /// Events per group commit.
    pub group_events: Histogram,
    /// Microseconds of write + flush + fdatasync per group commit.
    pub sync_micros: Histogram,
}

impl Default for StoreStats {
    fn default() -> Self {
        StoreStats {
            events: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            groups: AtomicU64::new(0),
            group_events: Histogram::new(GROUP_EVENTS_BUCKETS),
            sync_micros: Histogram::new(SYNC_MICROS_BUCKETS),
        }
    }
}

/// What the writer publishes after each commit: counters, and the durable size.
#[derive(Debug)]
pub struct Observers {
    /// Counters.
    pub stats: StoreStats,
    size: tokio::sync::watch::Sender<u64>,
}

impl Observers {
    /// Observers of a store that holds `size` events.
    pub fn new(size: u64) -> Observers {
        Observers {
            stats: StoreStats::default(),
            size: tokio::sync::watch::Sender::new(size),
        }
    }

    /// Called by the writer once a group is durable and published to readers.
    pub(crate) fn committed(&self, size: u64, batches: u64, events: u64, sync_micros: u64) {
        let s = &self.stats;
        s.events.fetch_add(events, Ordering::Relaxed);
        s.batches.fetch_add(batches, Ordering::Relaxed);
        s.groups.fetch_add(1, Ordering::Relaxed);
        s.group_events.observe(events);
        s.sync_micros.observe(sync_micros);
        // `send_replace` stores the value even when nobody watches yet.
        self.size.send_replace(size);
    }

    /// A receiver of the durable size: woken after every commit that grew the log.
    pub fn watch_size(&self) -> tokio::sync::watch::Receiver<u64> {
        self.size.subscribe()
    }
}

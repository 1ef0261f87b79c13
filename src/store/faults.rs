//! Storage faults injected under the store, for tests: a failed write, a failed sync, a
//! corrupted read.
//!
//! A [`Faults`] plan is handed to [`SledLog::open_with`](super::SledLog::open_with) through
//! [`OpenOptions`]. The store consults it at its own IO calls, and nowhere else:
//! - **write**: just before sled's `flush()` of a group commit or a checkpoint (where sled's
//!   `pwrite`s happen), the call fails with the planned OS error (`ENOSPC`, `EIO`…) instead of
//!   flushing. The group is in sled's memory already (`apply_batch` ran), as it is when a real
//!   write fails, so whether it later reaches the file is not the store's to decide.
//! - **sync**: `Syncer::sync` (the `fdatasync` of sled's `db` and the blob fsyncs) fails with
//!   the planned OS error instead of syncing — the "fsyncgate" case, where the kernel may have
//!   dropped the dirty pages and a later successful fsync proves nothing.
//! - **read**: the bytes sled returns for one record (one position) have one byte flipped
//!   before the store decodes them, wherever the store reads records: `read`, lookups, tree
//!   leaves, the replay at open.
//!
//! Every call through an injection point is counted, so a test can assert, say, that the
//! writer never called the sync again after one failed. A store opened without a plan (every
//! caller but tests) pays one `Option` check per call.
//!
//! Real OS-level faults below sled (a full disk) are tested without this seam, by running the
//! store in a child process under `RLIMIT_FSIZE` or on a small tmpfs (`tests/storage_faults.rs`).

use std::borrow::Cow;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

/// No position: nothing is corrupted.
const NONE: u64 = u64::MAX;

/// One injection point: how many calls went through it, and how many of the next ones fail.
#[derive(Debug, Default)]
struct Point {
    calls: AtomicU64,
    /// Calls still to let through before the failures begin.
    passes_left: AtomicU64,
    /// Calls still to fail (`u64::MAX`: every one from now on).
    failures_left: AtomicU64,
    errno: AtomicI32,
    injected: AtomicU64,
}

impl Point {
    fn arm(&self, errno: i32, passes: u64, times: u64) {
        self.errno.store(errno, Ordering::SeqCst);
        self.passes_left.store(passes, Ordering::SeqCst);
        self.failures_left.store(times, Ordering::SeqCst);
    }

    fn call(&self) -> io::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let passed = self
            .passes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            });
        if passed.is_ok() {
            return Ok(());
        }
        let take = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                0 => None,
                u64::MAX => Some(u64::MAX),
                n => Some(n - 1),
            });
        if take.is_ok() {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(
                self.errno.load(Ordering::SeqCst),
            ));
        }
        Ok(())
    }
}

/// A plan of faults, shared between a test and the store it opened (see the module docs).
#[derive(Debug)]
pub struct Faults {
    write: Point,
    sync: Point,
    corrupt_position: AtomicU64,
    reads: AtomicU64,
    reads_corrupted: AtomicU64,
}

impl Faults {
    /// A plan that injects nothing until told to (it only counts calls).
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults {
            write: Point::default(),
            sync: Point::default(),
            corrupt_position: AtomicU64::new(NONE),
            reads: AtomicU64::new(0),
            reads_corrupted: AtomicU64::new(0),
        })
    }

    /// The next `times` writes (sled flushes) fail with OS error `errno` (`u64::MAX`: all).
    pub fn fail_writes(&self, errno: i32, times: u64) {
        self.write.arm(errno, 0, times);
    }

    /// The next `times` syncs fail with OS error `errno` (`u64::MAX`: all).
    pub fn fail_syncs(&self, errno: i32, times: u64) {
        self.sync.arm(errno, 0, times);
    }

    /// After `passes` more syncs that succeed, the next `times` fail with OS error `errno`
    /// (to fail one step of a sequence, such as the third sync of a review seal).
    pub fn fail_syncs_after(&self, passes: u64, errno: i32, times: u64) {
        self.sync.arm(errno, passes, times);
    }

    /// Every read of the record at `position` returns its bytes with one byte flipped.
    pub fn corrupt_reads_of(&self, position: u64) {
        self.corrupt_position.store(position, Ordering::SeqCst);
    }

    /// Stops injecting anything (counters are kept).
    pub fn heal(&self) {
        self.write.arm(0, 0, 0);
        self.sync.arm(0, 0, 0);
        self.corrupt_position.store(NONE, Ordering::SeqCst);
    }

    /// Writes attempted through the store since the plan was made.
    pub fn write_calls(&self) -> u64 {
        self.write.calls.load(Ordering::SeqCst)
    }

    /// Syncs attempted through the store since the plan was made.
    pub fn sync_calls(&self) -> u64 {
        self.sync.calls.load(Ordering::SeqCst)
    }

    /// Writes made to fail.
    pub fn writes_failed(&self) -> u64 {
        self.write.injected.load(Ordering::SeqCst)
    }

    /// Syncs made to fail.
    pub fn syncs_failed(&self) -> u64 {
        self.sync.injected.load(Ordering::SeqCst)
    }

    /// Record reads seen, and how many of them were corrupted.
    pub fn reads(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.reads_corrupted.load(Ordering::SeqCst),
        )
    }

    /// The write point: `Err` when this write is planned to fail.
    pub(crate) fn on_write(&self) -> io::Result<()> {
        self.write.call()
    }

    /// The sync point: `Err` when this sync is planned to fail.
    pub(crate) fn on_sync(&self) -> io::Result<()> {
        self.sync.call()
    }

    /// The read point: the record bytes of `position` as the store should see them.
    pub(crate) fn on_read<'a>(&self, position: u64, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if position != self.corrupt_position.load(Ordering::SeqCst) || bytes.is_empty() {
            return Cow::Borrowed(bytes);
        }
        self.reads_corrupted.fetch_add(1, Ordering::SeqCst);
        let mut v = bytes.to_vec();
        // The middle of the record: inside the event, where only the checksum can tell.
        let i = v.len() / 2;
        v[i] ^= 0x5a;
        Cow::Owned(v)
    }
}

/// How to open a store; `Default` is how every command opens one.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub(crate) faults: Option<Arc<Faults>>,
}

impl OpenOptions {
    /// Inject the faults of `plan` under the store (tests only).
    pub fn faults(mut self, plan: Arc<Faults>) -> OpenOptions {
        self.faults = Some(plan);
        self
    }
}

/// The record bytes a read sees: as stored, or corrupted by the plan.
pub(crate) fn record_bytes<'a>(
    faults: Option<&Faults>,
    position: u64,
    bytes: &'a [u8],
) -> Cow<'a, [u8]> {
    match faults {
        None => Cow::Borrowed(bytes),
        Some(f) => f.on_read(position, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_fails_as_many_calls_as_planned_and_counts_them_all() {
        let plan = Faults::new();
        assert!(plan.on_sync().is_ok());
        plan.fail_syncs(libc::EIO, 2);
        let e = plan.on_sync().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        assert!(plan.on_sync().is_err());
        assert!(plan.on_sync().is_ok());
        assert_eq!((plan.sync_calls(), plan.syncs_failed()), (4, 2));
        plan.fail_writes(libc::ENOSPC, u64::MAX);
        for _ in 0..5 {
            assert!(plan.on_write().is_err());
        }
        plan.heal();
        assert!(plan.on_write().is_ok());
        assert_eq!((plan.write_calls(), plan.writes_failed()), (6, 5));
    }

    #[test]
    fn only_the_planned_position_reads_corrupted() {
        let plan = Faults::new();
        plan.corrupt_reads_of(3);
        let bytes = [1u8, 2, 3, 4, 5];
        assert_eq!(&*plan.on_read(2, &bytes), &bytes);
        let read = plan.on_read(3, &bytes);
        assert_ne!(&*read, &bytes);
        assert_eq!(read.iter().zip(&bytes).filter(|(a, b)| a != b).count(), 1);
        assert_eq!(plan.reads(), (2, 1));
        assert_eq!(&*record_bytes(None, 3, &bytes), &bytes);
    }
}

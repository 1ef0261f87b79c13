//! The store: the only code that touches sled and the disk.
//!
//! [`Log`] is the interface every backend implements (the embedded [`SledLog`] now; a
//! PostgreSQL one later). It appends atomic batches of events under the rules of the log, and
//! reads, proves and checkpoints what it holds. What a backend promises:
//! - positions and stream versions are gapless; `recorded_at` never decreases;
//! - an append is acknowledged only once it would survive a power cut;
//! - readers never see an event before it is acknowledged;
//! - every record read is checked, and corruption is an error naming its position.

mod acknowledged;
pub mod faults;
mod keys;
mod sled_log;
pub mod stats;
mod sync;
pub mod tokens;

use std::path::PathBuf;

use events::record::StoredRecord;
use events::{EventId, EventType, ProposedEvent, RecordedEvent, Timestamp};

pub use faults::{Faults, OpenOptions};
pub use sled_log::{SledLog, StoreInfo};

/// The time of day, for stores that record with the system clock.
pub fn system_now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    Timestamp::from_micros(micros)
}

use crate::merkle::Hash;

/// The store format this build writes; a store written by a newer one is refused at open.
pub const STORE_FORMAT_CURRENT: u32 = 1;
/// Most events in one appended batch.
/// (A whole import file is one batch: see `ops::IMPORT_EVENTS_MAX`.)
pub const BATCH_EVENTS_MAX: usize = 200_000;
/// Most events the writer gathers into one group commit (one fsync).
pub const GROUP_EVENTS_MAX: usize = 20_000;
/// Most events one read of the log returns.
pub const READ_EVENTS_MAX: u64 = 1_000_000;

/// Who proposes a batch: a client, or the log itself (review sealing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A recorder, inspector, reviewer…: may not append `ReviewSealed`.
    Client,
    /// The log's own review sealing.
    Log,
}

/// What one appended event became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Its position in the log.
    pub position: u64,
    /// Its id.
    pub event_id: EventId,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// False when the event was already in the log (an idempotent retry): nothing was written.
    pub written: bool,
}

/// Why an append was refused or failed. Nothing of the batch was written in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The log refuses the event (domain.md §2). A client error: fix the event and retry.
    #[error("event {index} ({event_type}): {field}: {reason}")]
    Refused {
        /// Index of the event in the batch.
        index: usize,
        /// Its type.
        event_type: EventType,
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// `expected_version` does not match the stream. Reread the stream and decide again.
    #[error("event {index}: expected_version: stream {stream} holds {actual} events, the batch expected {expected}")]
    VersionConflict {
        /// Index of the event in the batch.
        index: usize,
        /// The stream.
        stream: String,
        /// What the event expected.
        expected: u64,
        /// What the stream holds.
        actual: u64,
    },
    /// The event id is already in the log with other content.
    #[error("event {index}: event_id: {event_id} is already in the log with a different type, date or payload")]
    EventIdConflict {
        /// Index of the event in the batch.
        index: usize,
        /// The id.
        event_id: EventId,
    },
    /// The batch is empty or over the limit.
    #[error("a batch holds 1 to {max} events, this one {events}", max = BATCH_EVENTS_MAX)]
    BatchSize {
        /// Events in the batch.
        events: usize,
    },
    /// The store's clock does not allow this `recorded_at` (simulated stores only).
    #[error("clock: {0}")]
    Clock(String),
    /// A write or fsync failed (the text says which, and what to do). The store accepts no
    /// more appends until it is reopened, which tells what survived: this batch is then in
    /// the log whole or not at all. Events acknowledged before are safe.
    #[error("the store could not make the append durable and accepts no more appends: {0}. Events acknowledged before are safe; this batch was not acknowledged, and once the store reopens it is in the log whole or not at all (a retry with the same event ids writes nothing twice)")]
    Io(String),
    /// Checking the batch needed one of the log's records, and it could not be read (corrupt,
    /// missing, or the disk failed): nothing was written. The store may be damaged: run
    /// `taizhang verify`.
    #[error("checking the batch needed a record of the log, which could not be read: {0}. Nothing was written; run `taizhang verify`")]
    Unreadable(String),
    /// The store is closed.
    #[error("the store is closed")]
    Closed,
    /// A log behind a server (`client::RemoteLog`) could not be reached or answered an error
    /// that is none of the above; the message is the server's.
    #[error("{0}")]
    Remote(String),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A record does not decode or its checksum does not match.
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt {
        /// Position of the record.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// A position below the log's size has no record.
    #[error("record missing at position {position}")]
    Missing {
        /// The position.
        position: u64,
    },
    /// Arguments out of range.
    #[error("{0}")]
    Range(String),
    /// The disk or sled failed.
    #[error("storage error: {0}")]
    Io(String),
    /// A log behind a server could not be reached or refused the read; the server's message.
    #[error("{0}")]
    Remote(String),
}

/// Why opening or creating a store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No store at this place.
    #[error("no store at {0}: create one with `taizhang init --origin ORIGIN --data {0}`")]
    NotFound(PathBuf),
    /// A store exists already.
    #[error("a store already exists at {0}")]
    Exists(PathBuf),
    /// Another process holds the store.
    #[error("the store at {0} is in use by another process (a running server?): stop it, or send the command to the server with --server")]
    Locked(PathBuf),
    /// Written by a newer taizhang.
    #[error("the store at {path} has format {found}, newer than this build reads ({STORE_FORMAT_CURRENT}): upgrade taizhang")]
    TooNew {
        /// Store directory.
        path: PathBuf,
        /// Its format version.
        found: u32,
    },
    /// The store's content is inconsistent: history may have been damaged. Nothing was repaired.
    #[error("the store at {path} is damaged: {reason}. taizhang repaired nothing: keep a copy of the directory as it is, restore the store from a backup or an export, and check the restored store with `taizhang verify`")]
    Damaged {
        /// Store directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Invalid(String),
    /// The disk or sled failed.
    #[error("storage error at {path}: {reason}")]
    Io {
        /// Store directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Why a proof or checkpoint could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Arguments out of range.
    #[error("{0}")]
    Range(String),
    /// Reading the tree failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The log refuses to sign a checkpoint inconsistent with the last one.
    #[error("refusing to sign: {0}")]
    Inconsistent(String),
    /// The disk failed while storing a checkpoint.
    #[error("storage error: {0}")]
    Io(String),
    /// A log behind a server could not be reached or refused; the server's message.
    #[error("{0}")]
    Remote(String),
}

/// While alive, the log takes no new appends ([`Log::hold_appends`]).
pub struct AppendHold<'a> {
    _guard: std::sync::RwLockWriteGuard<'a, ()>,
}

impl<'a> AppendHold<'a> {
    /// Wraps the guard of the lock appends hold shared.
    pub fn new(guard: std::sync::RwLockWriteGuard<'a, ()>) -> AppendHold<'a> {
        AppendHold { _guard: guard }
    }
}

/// What sealing a review wrote: the `ReviewSealed` event and the checkpoints around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealReceipt {
    /// The `ReviewSealed` event.
    pub appended: Appended,
    /// The checkpoint signed at the reviewed size, just before the seal.
    pub checkpoint_at_review: String,
    /// The checkpoint signed just after the seal, which includes it.
    pub checkpoint_with_seal: String,
}

/// Why sealing failed. Nothing was appended unless the error says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The log grew after the review was computed: compute it again and retry.
    #[error("the log holds {actual} events, the review was computed over {expected}")]
    Moved {
        /// The size the review was computed over.
        expected: u64,
        /// The log's size now.
        actual: u64,
    },
    /// The seal event was refused or could not be written.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// A checkpoint could not be signed (before the seal: nothing was appended).
    #[error(transparent)]
    Checkpoint(#[from] ProofError),
    /// The seal was appended and is durable, but the checkpoint after it could not be signed:
    /// sign one later (`taizhang checkpoint`) for the review's bundle.
    #[error("the seal is at position {}, but the checkpoint after it could not be signed: {reason}", appended.position)]
    SealedWithoutCheckpoint {
        /// The durable seal.
        appended: Appended,
        /// Why the checkpoint failed.
        reason: String,
    },
}

/// Order-free digests of what a backend keeps beside its records: the event-id index, the
/// stream index and the tree's inner nodes. Each is a sum (two wrapping 64-bit lanes) of a
/// SHA-256-derived hash per entry, so `verify` can compare what the records imply with what is
/// stored in one sequential pass each, whatever order either side produces the entries in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DerivedDigest {
    /// Entries (event id → position).
    pub ids: Digest128,
    /// Entries (stream, version → position).
    pub streams: Digest128,
    /// Inner tree nodes (level ≥ 1, index → hash) of complete subtrees.
    pub nodes: Digest128,
    /// Retractions (position → target event id).
    pub retractions: Digest128,
}

/// A multiset digest: the wrapping sum of 128-bit entry hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest128(pub u64, pub u64);

impl Digest128 {
    fn add_bytes(&mut self, tag: u8, parts: &[&[u8]]) {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([tag]);
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        let out = h.finalize();
        self.0 = self
            .0
            .wrapping_add(u64::from_be_bytes(out[0..8].try_into().expect("8 bytes")));
        self.1 = self
            .1
            .wrapping_add(u64::from_be_bytes(out[8..16].try_into().expect("8 bytes")));
    }
    /// Adds an event-id index entry.
    pub fn add_id(&mut self, event_id: &EventId, position: u64) {
        self.add_bytes(b'I', &[event_id.0.as_bytes(), &position.to_be_bytes()]);
    }
    /// Adds a stream index entry.
    pub fn add_stream(&mut self, stream: &str, version: u64, position: u64) {
        self.add_bytes(
            b'S',
            &[
                stream.as_bytes(),
                &version.to_be_bytes(),
                &position.to_be_bytes(),
            ],
        );
    }
    /// Adds a retraction index entry.
    pub fn add_retraction(&mut self, position: u64, target: &EventId) {
        self.add_bytes(b'R', &[&position.to_be_bytes(), target.0.as_bytes()]);
    }
    /// Adds an inner tree node.
    pub fn add_node(&mut self, level: u8, index: u64, hash: &Hash) {
        self.add_bytes(b'N', &[&[level], &index.to_be_bytes(), hash]);
    }
}

/// The interface of an event log, whatever holds it.
pub trait Log: Send + Sync {
    /// Appends one batch atomically: all of it, or nothing. `recorded_at` is the log's clock,
    /// except on a simulated-clock store, where the caller gives it.
    fn append(
        &self,
        batch: Vec<ProposedEvent>,
        actor: &str,
        source: Source,
        recorded_at: Option<Timestamp>,
    ) -> Result<Vec<Appended>, AppendError>;
    /// Number of acknowledged events.
    fn size(&self) -> u64;
    /// Records at positions `from..to` (to ≤ size), in order, each checked: the event and the
    /// leaf hash stored with it.
    fn read(
        &self,
        from: u64,
        to: u64,
    ) -> Box<dyn Iterator<Item = Result<StoredRecord, ReadError>> + Send + '_>;
    /// The events of one stream from a version on.
    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, ReadError>;
    /// Number of events in a stream.
    fn stream_len(&self, stream: &str) -> Result<u64, ReadError>;
    /// One event by id.
    fn event(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError>;
    /// Root of the tree of the first `size` events.
    fn root(&self, size: u64) -> Result<Hash, ProofError>;
    /// Inclusion proof of `leaf_index` in the tree of size `tree_size`.
    fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<crate::merkle::InclusionProof, ProofError>;
    /// Consistency proof between two sizes.
    fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<crate::merkle::ConsistencyProof, ProofError>;
    /// Signs (or returns the already signed) checkpoint of the current size.
    fn sign_checkpoint(&self) -> Result<String, ProofError>;
    /// Holds appends until the returned guard is dropped: appends already handed over are
    /// answered first, and new ones wait (they are not refused). Checkpoints and seals go on.
    /// Review sealing holds appends while it computes the review, so that a busy log still
    /// has the size the review was computed over when the seal reaches the writer.
    /// Appending from the thread that holds the guard would wait for ever.
    fn hold_appends(&self) -> Result<AppendHold<'_>, AppendError>;
    /// Appends the log's own `ReviewSealed` at position `expected_size` (the size the review
    /// was computed over), with a checkpoint signed at that size just before it and one
    /// including it just after, nothing else in between.
    fn seal(
        &self,
        expected_size: u64,
        seal: ProposedEvent,
        actor: &str,
        recorded_at: Option<Timestamp>,
    ) -> Result<SealReceipt, SealError>;
    /// Positions below `size` of the events that belong to a village (naming it, through their
    /// subject, or retracting such an event), in order: a village's ledger reads only these.
    /// `None` when the index cannot say as of that size (a later correction moved something
    /// between villages): read the whole prefix then.
    fn village_positions(&self, village: &str, size: u64) -> Result<Option<Vec<u64>>, ReadError>;
    /// The `Retracted` events among the first `size` events, in position order (an index: a
    /// rebuild's first pass reads these instead of the whole log).
    fn retractions(&self, size: u64) -> Result<Vec<RecordedEvent>, ReadError>;
    /// Digests of the indexes and inner tree nodes stored for the first `size` events (entries
    /// naming positions below `size`; nodes of subtrees inside it).
    fn derived_digest(&self, size: u64) -> Result<DerivedDigest, ReadError>;
    /// The stored hash of the complete subtree `(level, index)` (level 0: a leaf).
    fn node(&self, level: u8, index: u64) -> Result<Hash, ReadError>;
    /// Every signed checkpoint, by size.
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, ReadError>;
    /// The public verifier key of the log's checkpoints.
    fn verifier_key(&self) -> String;
    /// The log's origin line.
    fn origin(&self) -> String;
}

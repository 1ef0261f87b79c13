//! The embedded log on sled: one writer thread, group commit, fsync before acknowledgement.
//!
//! Appenders send their batches to the writer thread through a channel. The writer takes
//! every batch waiting (up to [`GROUP_EVENTS_MAX`] events), checks each against the log's
//! state (idempotency, expected versions, the refusals of domain.md §2 in
//! `projections::validation`), writes all accepted batches with one atomic sled
//! `apply_batch`, flushes, `fdatasync`s (see `sync`), and only then publishes the new size to
//! readers and answers the appenders. A failed write or sync stops the writer for good: the
//! in-memory state may be ahead of the disk, and only reopening tells what survived.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use events::record::{self, StoredRecord};
use events::{EventId, Payload, ProposedEvent, RecordedEvent, Timestamp, SCHEMA_CURRENT};
use projections::validation::LogState;

use super::acknowledged::{self, Acknowledged};
use super::faults::{record_bytes, Faults, OpenOptions};
use super::keys;
use super::stats::Observers;
use super::sync::{sync_dir, Syncer};
use super::{
    AppendError, AppendHold, Appended, DerivedDigest, Log, OpenError, ProofError, ReadError,
    SealError, SealReceipt, Source, BATCH_EVENTS_MAX, GROUP_EVENTS_MAX, READ_EVENTS_MAX,
    STORE_FORMAT_CURRENT,
};
use crate::checkpoint::{Checkpoint, SigningKey};
use crate::merkle::{self, Frontier, Hash, NodeSource};

/// Positions of each village's events.
type VillageIndex = Arc<std::sync::RwLock<Villages>>;

/// The village index: each village's events as the log's validation state assigns them now.
#[derive(Default)]
struct Villages {
    by_village: HashMap<String, Vec<u64>>,
    /// The last position where a correction moved a thing (and its events) to another village:
    /// as of an earlier size the index would misplace them, so it is not used there.
    last_move: Option<u64>,
}

impl Villages {
    /// The index of the first `size` events, from the state (O(size); at open, and after a
    /// correction moved something to another village).
    fn rebuild(state: &LogState, size: u64) -> Villages {
        let mut v = Villages::default();
        for position in 0..size {
            if let Some(village) = state.village_of_event(position) {
                v.by_village
                    .entry(village.to_string())
                    .or_default()
                    .push(position);
            }
            if state.moved_village(position) {
                v.last_move = Some(position);
            }
        }
        v
    }
}

/// File name of the checkpoint signing key inside the data directory (mode 0600).
pub const KEY_FILE: &str = "signing.key";
/// Directory of sled's files inside the data directory.
pub const SLED_DIR: &str = "sled";

/// What `open` learned about a store.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    /// The checkpoint origin.
    pub origin: String,
    /// Whether `recorded_at` comes from a simulated clock (demo stores).
    pub simulated_clock: bool,
    /// Number of events.
    pub size: u64,
}

/// The embedded event log.
pub struct SledLog {
    dir: PathBuf,
    /// Positions of each village's events, acknowledged ones only (kept in memory, rebuilt at
    /// open from the validation state's replay: 8 bytes an event).
    villages: VillageIndex,
    tree: sled::Tree,
    durable: Arc<AtomicU64>,
    /// One more than the size of the last checkpoint known durable (0: none): readers see no
    /// note before it survives a power cut.
    checkpoint_durable: Arc<AtomicU64>,
    jobs: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    info: StoreInfo,
    verifier: String,
    /// Counters and the durable size, published by the writer (see `stats`).
    observers: Arc<Observers>,
    /// What reads consult: faults injected (tests), and whether the writer stopped.
    reads: Reads,
    /// Appends hold it shared from hand-over to answer; [`Log::hold_appends`] holds it alone.
    append_gate: RwLock<()>,
}

/// What every read of records consults: the faults injected under the store (tests only, see
/// `faults`), and why the writer stopped, if it did. After a failed write sled refuses every
/// operation that needs its disk, reads included, until the store is reopened: a read error
/// then says so.
#[derive(Clone, Default)]
struct Reads {
    faults: Option<Arc<Faults>>,
    stopped: Arc<OnceLock<String>>,
}

impl Reads {
    /// The record bytes of `position` as the store should see them.
    fn bytes<'a>(&self, position: u64, v: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        record_bytes(self.faults.as_deref(), position, v)
    }

    /// A sled error met while reading: corruption is named as such, with the log position
    /// read when there is one.
    fn err(&self, position: Option<u64>, e: sled::Error) -> ReadError {
        match (e, position) {
            (sled::Error::Corruption { at, .. }, Some(position)) => ReadError::Corrupt {
                position,
                reason: format!("sled found corrupt data in {}", corruption_place(at)),
            },
            (sled::Error::Corruption { at, .. }, None) => ReadError::Io(format!(
                "sled found corrupt data in {}",
                corruption_place(at)
            )),
            (e, _) => {
                let (shown, _) = os_error_text(&e.into());
                ReadError::Io(match self.stopped.get() {
                    Some(cause) => format!(
                        "{shown}: sled reads nothing more from its files since a write failed \
                         ({cause})"
                    ),
                    None => shown,
                })
            }
        }
    }
}

enum Job {
    Append {
        events: Vec<ProposedEvent>,
        actor: String,
        source: Source,
        recorded_at: Option<Timestamp>,
        reply: Reply,
    },
    Checkpoint {
        reply: Sender<Result<String, ProofError>>,
    },
    Seal {
        expected_size: u64,
        event: Box<ProposedEvent>,
        actor: String,
        recorded_at: Option<Timestamp>,
        reply: Sender<Result<SealReceipt, SealError>>,
    },
}

/// An IO error while opening or creating a store (a sled error, turned into the IO error it
/// wraps), with what to do when the error says.
fn io_err(path: &Path, e: impl Into<std::io::Error>) -> OpenError {
    let (shown, advice) = os_error_text(&e.into());
    OpenError::Io {
        path: path.to_path_buf(),
        reason: match advice {
            Some(advice) => format!("{shown}. {advice}"),
            None => shown,
        },
    }
}

fn open_sled(dir: &Path) -> Result<(sled::Db, sled::Tree), OpenError> {
    // sled releases its file lock once its background threads let go of the last handle, a
    // moment after a store closes: within one process, give a reopen that moment.
    let mut waited = std::time::Duration::ZERO;
    loop {
        let db = sled::Config::new()
            .path(dir.join(SLED_DIR))
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    OpenError::Locked(dir.to_path_buf())
                }
                sled::Error::Corruption { at, .. } => OpenError::Damaged {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "sled found corrupt data in {} while recovering its log",
                        corruption_place(at)
                    ),
                },
                e => io_err(dir, e),
            });
        match db {
            Err(OpenError::Locked(_)) if waited < LOCK_WAIT_MAX => {
                std::thread::sleep(LOCK_RETRY);
                waited += LOCK_RETRY;
            }
            Err(e) => return Err(e),
            Ok(db) => {
                let tree = db.open_tree("log").map_err(|e| io_err(dir, e))?;
                return Ok((db, tree));
            }
        }
    }
}

/// How long opening waits for a store that is being closed in this process.
const LOCK_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

impl SledLog {
    /// Creates a store in `dir` (created if absent, must not hold a store) with a new signing
    /// key. `simulated_clock` makes a demo store whose `recorded_at` the caller gives.
    pub fn init(dir: &Path, origin: &str, simulated_clock: bool) -> Result<SledLog, OpenError> {
        if origin.is_empty() || origin.len() > 200 || origin.contains(['\n', '+', ' ']) {
            return Err(OpenError::Invalid(format!("origin {origin:?} must be 1-200 characters without spaces, '+' or newlines (e.g. wuzhou.example/taizhang)")));
        }
        if dir.join(SLED_DIR).exists() || dir.join(KEY_FILE).exists() {
            return Err(OpenError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let key = SigningKey::generate(origin)
            .map_err(|e| OpenError::Invalid(format!("origin {origin:?}: {e}")))?;
        // The key is written under a temporary name and renamed last, so that a crash during
        // init leaves no key beside a store that does not exist, nor a store that names a key
        // nobody has.
        let key_tmp = dir.join(format!("{KEY_FILE}.tmp"));
        let _ = std::fs::remove_file(&key_tmp);
        write_private(&key_tmp, key.to_secret_string().as_bytes()).map_err(|e| io_err(dir, e))?;
        let (db, tree) = open_sled(dir)?;
        // Before the metadata that says the store keeps it.
        Acknowledged::create(dir, 0).map_err(|e| io_err(&dir.join(acknowledged::FILE), e))?;
        let mut batch = sled::Batch::default();
        batch.insert(
            keys::meta("format"),
            &STORE_FORMAT_CURRENT.to_be_bytes()[..],
        );
        batch.insert(keys::meta(acknowledged::META), &b"1"[..]);
        batch.insert(keys::meta("origin"), origin.as_bytes());
        batch.insert(
            keys::meta("verifier"),
            key.verifier().to_string().as_bytes(),
        );
        batch.insert(
            keys::meta("clock"),
            if simulated_clock {
                &b"simulated"[..]
            } else {
                &b"system"[..]
            },
        );
        tree.apply_batch(batch).map_err(|e| io_err(dir, e))?;
        db.flush().map_err(|e| io_err(dir, e))?;
        Syncer::new(&dir.join(SLED_DIR), None)
            .and_then(|mut s| s.sync())
            .map_err(|e| io_err(dir, e))?;
        std::fs::rename(&key_tmp, dir.join(KEY_FILE)).map_err(|e| io_err(dir, e))?;
        sync_dir(dir).map_err(|e| io_err(dir, e))?;
        SledLog::start(dir, key, db, tree, None)
    }

    /// Opens the store in `dir`: checks that its files are there and its format, replays
    /// every record into the validation state (checking each), rebuilds the tree's frontier
    /// and checks it against the stored tree, the last signed checkpoint and the acknowledged
    /// size. Refuses when they disagree, and repairs nothing (but see docs/storage.md on what
    /// sled's own recovery rewrites).
    pub fn open(dir: &Path) -> Result<SledLog, OpenError> {
        SledLog::open_with(dir, &OpenOptions::default())
    }

    /// [`SledLog::open`] with options (faults injected under the store, for tests).
    pub fn open_with(dir: &Path, options: &OpenOptions) -> Result<SledLog, OpenError> {
        check_files(dir)?;
        let secret = std::fs::read_to_string(dir.join(KEY_FILE))
            .map_err(|e| io_err(&dir.join(KEY_FILE), e))?;
        let key =
            SigningKey::from_secret_string(secret.trim()).map_err(|e| OpenError::Damaged {
                path: dir.to_path_buf(),
                reason: format!("{KEY_FILE}: {e}"),
            })?;
        let (db, tree) = open_sled(dir)?;
        SledLog::start(dir, key, db, tree, options.faults.clone())
    }

    /// Checks an open sled store and starts its writer (see [`SledLog::open`]).
    fn start(
        dir: &Path,
        key: SigningKey,
        db: sled::Db,
        tree: sled::Tree,
        faults: Option<Arc<Faults>>,
    ) -> Result<SledLog, OpenError> {
        let damaged = |reason: String| OpenError::Damaged {
            path: dir.to_path_buf(),
            reason,
        };
        let sled_err = |e: sled::Error| match e {
            sled::Error::Corruption { at, .. } => damaged(format!(
                "sled found corrupt data in {}",
                corruption_place(at)
            )),
            e => io_err(dir, e),
        };
        let meta_opt = |name: &str| -> Result<Option<Vec<u8>>, OpenError> {
            Ok(tree
                .get(keys::meta(name))
                .map_err(sled_err)?
                .map(|v| v.to_vec()))
        };
        let meta = |name: &str| -> Result<Vec<u8>, OpenError> {
            meta_opt(name)?.ok_or_else(|| damaged(format!("metadata {name:?} is missing")))
        };
        let format = match meta_opt("format")? {
            Some(v) => keys_u32(&v).ok_or_else(|| {
                damaged(format!(
                    "metadata \"format\" is not a format version (bytes {})",
                    hex::encode(&v)
                ))
            })?,
            // sled recovered a log without the store's metadata: an empty one (sled makes a
            // new `db` where none is), or a damaged one from which sled recovered nothing of
            // ours (a truncated `db` can lose the pages sled's snapshot points to).
            None => {
                return Err(damaged(format!(
                    "sled recovered none of the store's data from {SLED_DIR}/db (not even its \
                     format version): the file is truncated or overwritten, or is not this \
                     store's log"
                )))
            }
        };
        if format > STORE_FORMAT_CURRENT {
            return Err(OpenError::TooNew {
                path: dir.to_path_buf(),
                found: format,
            });
        }
        if format == 0 {
            return Err(damaged(
                "metadata \"format\" says format 0, which no taizhang ever wrote".into(),
            ));
        }
        let origin = String::from_utf8(meta("origin")?)
            .map_err(|_| damaged("origin is not UTF-8".into()))?;
        let verifier = String::from_utf8(meta("verifier")?)
            .map_err(|_| damaged("verifier key is not UTF-8".into()))?;
        if verifier != key.verifier().to_string() {
            return Err(damaged(format!(
                "{KEY_FILE} does not match the store's verifier key {verifier}"
            )));
        }
        let simulated_clock = meta("clock")? == b"simulated";

        // Replay: every record checked, positions gapless, stream versions gapless.
        let mut state = LogState::new();
        let mut frontier = Frontier::new();
        let mut heads: HashMap<String, u64> = HashMap::new();
        let mut last_recorded = Timestamp::from_micros(i64::MIN);
        let mut size = 0u64;
        for item in tree.scan_prefix([keys::LOG]) {
            let (k, v) = item.map_err(|e| match e {
                sled::Error::Corruption { at, .. } => damaged(format!(
                    "corrupt record after position {size}: sled found corrupt data in {}",
                    corruption_place(at)
                )),
                e => io_err(dir, e),
            })?;
            let position = keys::position_of_log_key(&k)
                .ok_or_else(|| damaged(format!("malformed log key {k:?}")))?;
            if position != size {
                return Err(damaged(format!(
                    "record missing at position {size} (next present is {position})"
                )));
            }
            let v = record_bytes(faults.as_deref(), position, &v);
            let rec = record::decode(&v)
                .map_err(|e| damaged(format!("corrupt record at position {position}: {e}")))?;
            let ev = &rec.event;
            if ev.position != position {
                return Err(damaged(format!(
                    "record at position {position} says position {}",
                    ev.position
                )));
            }
            let head = heads.entry(ev.stream.clone()).or_insert(0);
            if ev.stream_version != *head {
                return Err(damaged(format!(
                    "position {position}: stream {} version {} where {} was next",
                    ev.stream, ev.stream_version, head
                )));
            }
            *head += 1;
            if ev.recorded_at < last_recorded {
                return Err(damaged(format!(
                    "position {position}: recorded_at goes back in time"
                )));
            }
            last_recorded = ev.recorded_at;
            state.replay(ev);
            frontier.push(rec.leaf_sha256.0);
            size += 1;
        }
        let mut ack =
            match Acknowledged::open(dir).map_err(|e| io_err(&dir.join(acknowledged::FILE), e))? {
                acknowledged::Found::Size(file, acknowledged) => {
                    if size < acknowledged {
                        return Err(damaged(format!(
                            "records missing from position {size} on: {SLED_DIR}/ holds {size} \
                         events, but {acknowledged} were acknowledged (file {}). sled treats a \
                         truncated or overwritten part of {SLED_DIR}/db like the torn tail of a \
                         crash and drops what follows it, and has already overwritten that tail: \
                         only a copy made before this open still holds it. If {SLED_DIR}/ was \
                         knowingly restored from an older backup, add the later events from an \
                         export, or `echo 0 > {}` to accept the shorter log",
                            acknowledged::FILE,
                            acknowledged::FILE
                        )));
                    }
                    Some(file)
                }
                acknowledged::Found::Unreadable(text) => {
                    return Err(damaged(format!(
                    "file {} does not hold an event count (it holds {text}); if {SLED_DIR}/ is \
                     known to be whole, `echo 0 > {}` lets it open",
                    acknowledged::FILE,
                    acknowledged::FILE
                )))
                }
                acknowledged::Found::Missing if meta_opt(acknowledged::META)?.is_some() => {
                    return Err(damaged(format!(
                        "file {} is missing: without it a truncated {SLED_DIR}/db cannot be told \
                     from a whole one. Restore it with {SLED_DIR}/ from the same backup; if \
                     {SLED_DIR}/ is known to be whole, `echo 0 > {}` lets it open",
                        acknowledged::FILE,
                        acknowledged::FILE
                    )))
                }
                // A store made before the file existed: it gets one below.
                acknowledged::Found::Missing => None,
            };
        let reads = Reads {
            faults: faults.clone(),
            stopped: Arc::default(),
        };
        let src = TreeSource {
            tree: &tree,
            reads: &reads,
        };
        if size > 0 {
            let stored_root =
                merkle::root_at(&src, size).map_err(|e| damaged(format!("tree nodes: {e}")))?;
            if stored_root != frontier.root() {
                return Err(damaged(format!(
                    "the stored tree's root at size {size} does not match the records"
                )));
            }
        }
        let mut last_checkpoint = None;
        if let Some(item) = tree.scan_prefix([keys::CHECKPOINT]).next_back() {
            let (k, v) = item.map_err(|e| io_err(dir, e))?;
            let note = String::from_utf8(v.to_vec())
                .map_err(|_| damaged("a checkpoint is not UTF-8".into()))?;
            let cp = crate::checkpoint::parse_signed_note(&note, &key.verifier())
                .map_err(|e| damaged(format!("last checkpoint does not verify: {e}")))?;
            if Some(cp.size()) != keys::u64_value(&k[1..]) || cp.size() > size {
                return Err(damaged(format!(
                    "the last signed checkpoint is for size {}, the log holds {size} events",
                    cp.size()
                )));
            }
            let root = merkle::root_at(&src, cp.size())
                .map_err(|e| damaged(format!("tree nodes: {e}")))?;
            if root != cp.root() {
                return Err(damaged(format!(
                    "the tree at size {} does not match the last signed checkpoint",
                    cp.size()
                )));
            }
            last_checkpoint = Some((cp.size(), cp.root()));
        }

        let mut syncer =
            Syncer::new(&dir.join(SLED_DIR), faults.clone()).map_err(|e| io_err(dir, e))?;
        let ack = match ack.take() {
            Some(file) => file,
            None => {
                // A store made before the file existed. 0 is all that is known durable now;
                // the next commit records the size.
                let file = Acknowledged::create(dir, 0)
                    .and_then(|f| sync_dir(dir).map(|_| f))
                    .map_err(|e| io_err(&dir.join(acknowledged::FILE), e))?;
                tree.insert(keys::meta(acknowledged::META), &b"1"[..])
                    .map_err(|e| io_err(dir, e))?;
                db.flush().map_err(|e| io_err(dir, e))?;
                syncer.sync().map_err(|e| io_err(dir, e))?;
                file
            }
        };
        let durable = Arc::new(AtomicU64::new(size));
        let checkpoint_durable =
            Arc::new(AtomicU64::new(last_checkpoint.map_or(0, |(s, _)| s + 1)));
        let observers = Arc::new(Observers::new(size));
        let (tx, rx) = crossbeam_channel::unbounded();
        let villages: VillageIndex =
            Arc::new(std::sync::RwLock::new(Villages::rebuild(&state, size)));
        let writer = Writer {
            db,
            tree: tree.clone(),
            syncer,
            state,
            frontier,
            heads,
            next: size,
            last_recorded,
            simulated_clock,
            durable: durable.clone(),
            checkpoint_durable: checkpoint_durable.clone(),
            key,
            origin: origin.clone(),
            last_checkpoint,
            failed: None,
            observers: observers.clone(),
            villages: villages.clone(),
            ack,
            faults: faults.clone(),
            reads: reads.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("taizhang-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| io_err(dir, e))?;
        let verifier_key = verifier;
        Ok(SledLog {
            checkpoint_durable,
            dir: dir.to_path_buf(),
            villages,
            tree,
            durable,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            info: StoreInfo {
                origin,
                simulated_clock,
                size,
            },
            verifier: verifier_key,
            observers,
            reads,
            append_gate: RwLock::new(()),
        })
    }

    /// The writer's counters and the durable size as it grows (for a server's metrics and
    /// live subscriptions).
    pub fn observers(&self) -> &Arc<Observers> {
        &self.observers
    }

    /// Jobs waiting for the writer: appends, checkpoints and seals sent but not yet taken.
    pub fn queue_depth(&self) -> usize {
        self.jobs
            .lock()
            .expect("jobs lock")
            .as_ref()
            .map_or(0, |tx| tx.len())
    }

    /// What the store said of itself when opened.
    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The raw sled tree, for tests that damage a store on purpose.
    #[doc(hidden)]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// Stops the writer after what it has accepted, and waits for it.
    pub fn close(&self) {
        drop(self.jobs.lock().expect("jobs lock").take());
        if let Some(h) = self.writer.lock().expect("writer lock").take() {
            let _ = h.join();
        }
    }

    fn send(&self, job: Job) -> bool {
        match &*self.jobs.lock().expect("jobs lock") {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }

    fn read_record(&self, position: u64) -> Result<StoredRecord, ReadError> {
        read_record(&self.tree, &self.reads, position)
    }

    fn tree_source(&self) -> TreeSource<'_> {
        TreeSource {
            tree: &self.tree,
            reads: &self.reads,
        }
    }
}

/// The record at `position`, checked.
fn read_record(tree: &sled::Tree, reads: &Reads, position: u64) -> Result<StoredRecord, ReadError> {
    let v = tree
        .get(keys::log(position))
        .map_err(|e| reads.err(Some(position), e))?
        .ok_or(ReadError::Missing { position })?;
    decode_at(position, &reads.bytes(position, &v))
}

/// Where sled says it found corruption, in the operator's words.
fn corruption_place(at: Option<sled::DiskPtr>) -> String {
    match at {
        Some(sled::DiskPtr::Inline(offset)) => format!("{SLED_DIR}/db at byte {offset}"),
        Some(sled::DiskPtr::Blob(offset, lsn)) => format!(
            "the blob file {SLED_DIR}/blobs/{lsn} (referenced from {SLED_DIR}/db at byte {offset})"
        ),
        None => format!("{SLED_DIR}/db or its snapshot files ({SLED_DIR}/snap.*)"),
    }
}

/// Refuses, before sled opens it, a directory that is not a store or lacks one of its files:
/// sled would make a missing `db` afresh (an empty log), and a missing `conf` or `blobs`.
fn check_files(dir: &Path) -> Result<(), OpenError> {
    let sled_dir = dir.join(SLED_DIR);
    let exists = |p: &Path| -> Result<bool, OpenError> {
        match std::fs::symlink_metadata(p) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(p, e)),
        }
    };
    if !exists(&sled_dir)? {
        return Err(OpenError::NotFound(dir.to_path_buf()));
    }
    if !sled_dir.is_dir() || (!exists(&sled_dir.join("db"))? && !exists(&dir.join(KEY_FILE))?) {
        return Err(OpenError::Invalid(format!(
            "{} is not a taizhang store (it has a {SLED_DIR} entry, but no {SLED_DIR}/db and no \
             {KEY_FILE}): check --data",
            dir.display()
        )));
    }
    if !exists(&dir.join(KEY_FILE))? {
        return Err(OpenError::Damaged {
            path: dir.to_path_buf(),
            reason: format!(
                "{KEY_FILE} is missing: restore it from this store's backup (checkpoints are \
                 signed with it, and a new key would not match the store's verifier key)"
            ),
        });
    }
    let mut missing = Vec::new();
    for name in ["db", "conf", "blobs"] {
        if !exists(&sled_dir.join(name))? {
            missing.push(format!("{SLED_DIR}/{name}"));
        }
    }
    if !missing.is_empty() {
        return Err(OpenError::Damaged {
            path: dir.to_path_buf(),
            reason: format!(
                "{} missing: the store's files are incomplete (a partial copy or restore?)",
                if missing.len() == 1 {
                    format!("{} is", missing[0])
                } else {
                    format!("{} are", missing.join(", "))
                }
            ),
        });
    }
    Ok(())
}

/// A failed write or sync, as the operator should read it: what failed, the OS's words, and
/// what to do.
fn storage_failure(what: &str, e: &std::io::Error) -> String {
    let (shown, advice) = os_error_text(e);
    let advice = advice.unwrap_or(
        "Check the disk (the kernel log), then reopen the store, which checks what survived, \
         and run `taizhang verify`",
    );
    format!("{what}: {shown}. {advice}")
}

/// An IO error's text, and what to do about it when the error says (a full disk, a file size
/// limit, a failing disk).
fn os_error_text(e: &std::io::Error) -> (String, Option<&'static str>) {
    use std::io::ErrorKind;
    // sled clones the error of a failed background write as `io::Error::new(kind, "Os {
    // code: 28, .. }")`, which keeps the kind but not the OS error: recover it for the text.
    let os = e.raw_os_error().or_else(|| {
        let text = e.to_string();
        let code = text.split("code: ").nth(1)?;
        code.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    let shown = match os {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.to_string(),
    };
    let advice = match (os, e.kind()) {
        (Some(libc::ENOSPC | libc::EDQUOT), _)
        | (_, ErrorKind::StorageFull | ErrorKind::QuotaExceeded) => Some(
            "The disk is full: free space on it, then reopen the store (restart the server, or \
             run the command again)",
        ),
        (Some(libc::EFBIG), _) | (_, ErrorKind::FileTooLarge) => Some(
            "A file of the store reached the largest size allowed (`ulimit -f`, or the file \
             system's limit): raise the limit or free space, then reopen the store (restart the \
             server, or run the command again)",
        ),
        (Some(libc::EIO), _) => Some(
            "Check the disk (the kernel log), then reopen the store, which checks what \
             survived, and run `taizhang verify`",
        ),
        _ => None,
    };
    (shown, advice)
}

impl Drop for SledLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn keys_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

fn decode_at(position: u64, bytes: &[u8]) -> Result<StoredRecord, ReadError> {
    let rec = record::decode(bytes).map_err(|e| ReadError::Corrupt {
        position,
        reason: e.to_string(),
    })?;
    if rec.event.position != position {
        return Err(ReadError::Corrupt {
            position,
            reason: format!("the record says position {}", rec.event.position),
        });
    }
    Ok(rec)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Reads the tree's nodes from the store: leaves from the records, inner nodes from `N` keys.
struct TreeSource<'a> {
    tree: &'a sled::Tree,
    reads: &'a Reads,
}

impl NodeSource for TreeSource<'_> {
    type Error = ReadError;
    fn node(&self, level: u8, index: u64) -> Result<Hash, ReadError> {
        if level == 0 {
            let v = self
                .tree
                .get(keys::log(index))
                .map_err(|e| self.reads.err(Some(index), e))?
                .ok_or(ReadError::Missing { position: index })?;
            return record::leaf_of(&self.reads.bytes(index, &v))
                .map(|h| h.0)
                .map_err(|e| ReadError::Corrupt {
                    position: index,
                    reason: e.to_string(),
                });
        }
        let v = self
            .tree
            .get(keys::node(level, index))
            .map_err(|e| self.reads.err(Some(index << level), e))?
            .ok_or_else(|| ReadError::Corrupt {
                position: index << level,
                reason: format!("tree node level {level} index {index} is missing"),
            })?;
        v.as_ref().try_into().map_err(|_| ReadError::Corrupt {
            position: index << level,
            reason: format!("tree node level {level} index {index} is not 32 bytes"),
        })
    }
}

impl Log for SledLog {
    fn append(
        &self,
        batch: Vec<ProposedEvent>,
        actor: &str,
        source: Source,
        recorded_at: Option<Timestamp>,
    ) -> Result<Vec<Appended>, AppendError> {
        if batch.is_empty() || batch.len() > BATCH_EVENTS_MAX {
            return Err(AppendError::BatchSize {
                events: batch.len(),
            });
        }
        // Shared with every other append; a hold waits for this one to be answered. The lock
        // guards no data, so a holder that panicked leaves nothing to distrust.
        let _gate = self.append_gate.read().unwrap_or_else(|e| e.into_inner());
        let (reply, rx) = crossbeam_channel::bounded(1);
        if !self.send(Job::Append {
            events: batch,
            actor: actor.to_string(),
            source,
            recorded_at,
            reply,
        }) {
            return Err(AppendError::Closed);
        }
        rx.recv().unwrap_or(Err(AppendError::Closed))
    }

    fn size(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    fn read(
        &self,
        from: u64,
        to: u64,
    ) -> Box<dyn Iterator<Item = Result<StoredRecord, ReadError>> + Send + '_> {
        let end = to.min(self.size()).max(from);
        Box::new(LogIter {
            inner: self.tree.range(keys::log(from)..keys::log(end)),
            reads: self.reads.clone(),
            expected: from,
            end,
            done: false,
        })
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let size = self.size();
        let limit = limit.min(READ_EVENTS_MAX);
        let mut out = Vec::new();
        let range = self.tree.range(
            keys::stream(stream, from_version)..keys::stream_prefix(&format!("{stream}\u{1}")),
        );
        for (version, item) in (from_version..).zip(range) {
            let (k, v) = item.map_err(|e| self.reads.err(None, e))?;
            let position = keys::u64_value(&v).ok_or_else(|| {
                ReadError::Io(format!("malformed stream index value under {k:?}"))
            })?;
            if position >= size || out.len() as u64 >= limit {
                break;
            }
            let ev = self.read_record(position)?.event;
            if ev.stream != stream || ev.stream_version != version {
                return Err(ReadError::Corrupt { position, reason: format!("stream index says {stream} version {version}, the record says {} version {}", ev.stream, ev.stream_version) });
            }
            out.push(ev);
        }
        Ok(out)
    }

    fn stream_len(&self, stream: &str) -> Result<u64, ReadError> {
        let size = self.size();
        let mut n = 0;
        for item in self.tree.scan_prefix(keys::stream_prefix(stream)).rev() {
            let (_, v) = item.map_err(|e| self.reads.err(None, e))?;
            let position = keys::u64_value(&v)
                .ok_or_else(|| ReadError::Io("malformed stream index value".into()))?;
            if position < size {
                n = self.read_record(position)?.event.stream_version + 1;
                break;
            }
        }
        Ok(n)
    }

    fn event(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError> {
        let Some(v) = self
            .tree
            .get(keys::id(&id.0))
            .map_err(|e| self.reads.err(None, e))?
        else {
            return Ok(None);
        };
        let position =
            keys::u64_value(&v).ok_or_else(|| ReadError::Io("malformed id index value".into()))?;
        if position >= self.size() {
            return Ok(None);
        }
        let ev = self.read_record(position)?.event;
        if ev.event_id != id {
            return Err(ReadError::Corrupt {
                position,
                reason: format!("id index says {id}, the record says {}", ev.event_id),
            });
        }
        Ok(Some(ev))
    }

    fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::Range(format!(
                "size {size} is beyond the log's {} events",
                self.size()
            )));
        }
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        Ok(merkle::root_at(&self.tree_source(), size)?)
    }

    fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<merkle::InclusionProof, ProofError> {
        if leaf_index >= tree_size || tree_size > self.size() {
            return Err(ProofError::Range(format!("an inclusion proof needs 0 <= index < size <= {}, got index {leaf_index} size {tree_size}", self.size())));
        }
        merkle::InclusionProof::from_source(&self.tree_source(), leaf_index, tree_size)
            .map_err(tree_err)
    }

    fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<merkle::ConsistencyProof, ProofError> {
        if first == 0 || first > second || second > self.size() {
            return Err(ProofError::Range(format!(
                "a consistency proof needs 0 < first <= second <= {}, got {first} and {second}",
                self.size()
            )));
        }
        merkle::ConsistencyProof::from_source(&self.tree_source(), first, second).map_err(tree_err)
    }

    fn sign_checkpoint(&self) -> Result<String, ProofError> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if !self.send(Job::Checkpoint { reply }) {
            return Err(ProofError::Io("the store is closed".into()));
        }
        rx.recv()
            .unwrap_or_else(|_| Err(ProofError::Io("the store is closed".into())))
    }

    fn seal(
        &self,
        expected_size: u64,
        seal: ProposedEvent,
        actor: &str,
        recorded_at: Option<Timestamp>,
    ) -> Result<SealReceipt, SealError> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        let job = Job::Seal {
            expected_size,
            event: Box::new(seal),
            actor: actor.to_string(),
            recorded_at,
            reply,
        };
        if !self.send(job) {
            return Err(SealError::Append(AppendError::Closed));
        }
        rx.recv()
            .unwrap_or(Err(SealError::Append(AppendError::Closed)))
    }

    fn hold_appends(&self) -> Result<AppendHold<'_>, AppendError> {
        // std's RwLock on Linux lets no new reader in while a writer waits: a steady stream
        // of appends cannot starve the hold.
        let guard = self.append_gate.write().unwrap_or_else(|e| e.into_inner());
        Ok(AppendHold::new(guard))
    }

    fn village_positions(&self, village: &str, size: u64) -> Result<Option<Vec<u64>>, ReadError> {
        let size = size.min(self.size());
        let index = self.villages.read().expect("village index lock");
        if index.last_move.is_some_and(|m| size <= m) {
            return Ok(None);
        }
        Ok(Some(
            index
                .by_village
                .get(village)
                .map(|p| p.iter().copied().take_while(|&p| p < size).collect())
                .unwrap_or_default(),
        ))
    }

    fn retractions(&self, size: u64) -> Result<Vec<RecordedEvent>, ReadError> {
        let mut out = Vec::new();
        for item in self
            .tree
            .range(keys::retraction(0)..keys::retraction(size.min(self.size())))
        {
            let (k, _) = item.map_err(|e| self.reads.err(None, e))?;
            let position = keys::u64_value(&k[1..])
                .ok_or_else(|| ReadError::Io("malformed retraction index entry".into()))?;
            let ev = self.read_record(position)?.event;
            if !matches!(ev.payload, Payload::Retracted(_)) {
                return Err(ReadError::Corrupt {
                    position,
                    reason: format!("the retraction index names a {}", ev.event_type()),
                });
            }
            out.push(ev);
        }
        Ok(out)
    }

    fn derived_digest(&self, size: u64) -> Result<DerivedDigest, ReadError> {
        let mut d = DerivedDigest::default();
        let io = |e: sled::Error| self.reads.err(None, e);
        let malformed = |what: &str| ReadError::Io(format!("malformed {what} entry"));
        for item in self.tree.scan_prefix([keys::ID]) {
            let (k, v) = item.map_err(io)?;
            let id = uuid::Uuid::from_slice(&k[1..]).map_err(|_| malformed("event-id index"))?;
            let position = keys::u64_value(&v).ok_or_else(|| malformed("event-id index"))?;
            if position < size {
                d.ids.add_id(&EventId(id), position);
            }
        }
        for item in self.tree.scan_prefix([keys::STREAM]) {
            let (k, v) = item.map_err(io)?;
            let (stream, version) =
                keys::parse_stream(&k).ok_or_else(|| malformed("stream index"))?;
            let position = keys::u64_value(&v).ok_or_else(|| malformed("stream index"))?;
            if position < size {
                d.streams.add_stream(stream, version, position);
            }
        }
        for item in self.tree.scan_prefix([keys::RETRACTION]) {
            let (k, v) = item.map_err(io)?;
            let position = keys::u64_value(&k[1..]).ok_or_else(|| malformed("retraction index"))?;
            let target = uuid::Uuid::from_slice(&v).map_err(|_| malformed("retraction index"))?;
            if position < size {
                d.retractions.add_retraction(position, &EventId(target));
            }
        }
        for item in self.tree.scan_prefix([keys::NODE]) {
            let (k, v) = item.map_err(io)?;
            let (level, index) = keys::parse_node(&k).ok_or_else(|| malformed("tree node"))?;
            let hash: Hash = v.as_ref().try_into().map_err(|_| malformed("tree node"))?;
            if level < 64
                && (index + 1)
                    .checked_shl(u32::from(level))
                    .is_some_and(|end| end <= size)
            {
                d.nodes.add_node(level, index, &hash);
            }
        }
        Ok(d)
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, ReadError> {
        self.tree_source().node(level, index)
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, ReadError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::CHECKPOINT]) {
            let (k, v) = item.map_err(|e| self.reads.err(None, e))?;
            let size = keys::u64_value(&k[1..])
                .ok_or_else(|| ReadError::Io("malformed checkpoint key".into()))?;
            if size + 1 > self.checkpoint_durable.load(Ordering::Acquire) {
                break; // signed, not yet synced
            }
            let note = String::from_utf8(v.to_vec()).map_err(|_| ReadError::Corrupt {
                position: size,
                reason: "checkpoint note is not UTF-8".into(),
            })?;
            out.push((size, note));
        }
        Ok(out)
    }

    fn verifier_key(&self) -> String {
        self.verifier.clone()
    }

    fn origin(&self) -> String {
        self.info.origin.clone()
    }
}

fn tree_err(e: merkle::ProveError<ReadError>) -> ProofError {
    match e {
        merkle::ProveError::Source(r) => ProofError::Read(r),
        e => ProofError::Range(e.to_string()),
    }
}

/// The writer thread's state: everything an append checks against.
struct Writer {
    db: sled::Db,
    tree: sled::Tree,
    syncer: Syncer,
    state: LogState,
    frontier: Frontier,
    heads: HashMap<String, u64>,
    next: u64,
    last_recorded: Timestamp,
    simulated_clock: bool,
    durable: Arc<AtomicU64>,
    /// One more than the size of the last checkpoint known durable (0: none): readers see no
    /// note before it survives a power cut.
    checkpoint_durable: Arc<AtomicU64>,
    key: SigningKey,
    origin: String,
    last_checkpoint: Option<(u64, Hash)>,
    /// Set once a write or sync failed (what failed, and what to do): nothing more is
    /// accepted, written or synced.
    failed: Option<String>,
    observers: Arc<Observers>,
    /// Shared with readers; extended after each commit.
    villages: VillageIndex,
    /// The acknowledged size kept outside sled, recorded after each commit.
    ack: Acknowledged,
    /// Faults injected under the store (tests only).
    faults: Option<Arc<Faults>>,
    /// Shared with readers, who are told why the writer stopped.
    reads: Reads,
}

/// Where the writer answers one append.
type Reply = Sender<Result<Vec<Appended>, AppendError>>;

/// Accepted batches waiting for the group's one write and sync.
#[derive(Default)]
struct Pending {
    batch: sled::Batch,
    replies: Vec<(Reply, Vec<Appended>)>,
    /// Batches refused while this group was gathered, answered once it is durable: a refusal
    /// may rest on events staged here (a version conflict, an id that already exists), and
    /// must not be told before those events are acknowledged, nor if they never are.
    refusals: Vec<(Reply, AppendError)>,
    /// Events staged in this group but not yet written, by id (for idempotency).
    staged: HashMap<EventId, RecordedEvent>,
    /// (village, position) of the staged events, published with them.
    villages: Vec<(String, u64)>,
    /// A staged correction moved something to another village: rebuild the index instead.
    rebuild_villages: bool,
    events: u64,
}

impl Writer {
    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut pending = Pending::default();
            let mut job = Some(first);
            let mut gathered = 0usize;
            while let Some(j) = job.take() {
                match j {
                    Job::Append {
                        events,
                        actor,
                        source,
                        recorded_at,
                        reply,
                    } => {
                        gathered += events.len();
                        if let Some(f) = &self.failed {
                            let _ = reply.send(Err(AppendError::Io(f.clone())));
                        } else {
                            match self.stage(&mut pending, events, &actor, source, recorded_at) {
                                Ok(appended) => pending.replies.push((reply, appended)),
                                Err(e) => pending.refusals.push((reply, e)),
                            }
                        }
                    }
                    Job::Checkpoint { reply } => {
                        self.commit(&mut pending);
                        let _ = reply.send(self.checkpoint());
                    }
                    Job::Seal {
                        expected_size,
                        event,
                        actor,
                        recorded_at,
                        reply,
                    } => {
                        self.commit(&mut pending);
                        let _ = reply.send(self.seal(expected_size, *event, &actor, recorded_at));
                    }
                }
                if gathered < GROUP_EVENTS_MAX {
                    job = rx.try_recv().ok();
                }
            }
            self.commit(&mut pending);
        }
        // Channel closed: everything accepted was committed above. The acknowledged size
        // becomes durable (not after a failure: nothing is synced then).
        if self.failed.is_none() {
            let _ = self.ack.sync();
        }
    }

    /// Checks one batch and stages it into the group. On error nothing of it is staged.
    fn stage(
        &mut self,
        pending: &mut Pending,
        events: Vec<ProposedEvent>,
        actor: &str,
        source: Source,
        at: Option<Timestamp>,
    ) -> Result<Vec<Appended>, AppendError> {
        let recorded_at = match (self.simulated_clock, at) {
            (false, None) => super::system_now().max(self.last_recorded),
            (true, Some(t)) if t >= self.last_recorded => t,
            (true, Some(t)) => {
                return Err(AppendError::Clock(format!(
                    "recorded_at {t} is before the last recorded {}",
                    self.last_recorded
                )))
            }
            (true, None) => {
                return Err(AppendError::Clock(
                    "this store has a simulated clock: every append names its recorded_at".into(),
                ))
            }
            (false, Some(_)) => {
                return Err(AppendError::Clock(
                    "this store records with the system clock; recorded_at cannot be given".into(),
                ))
            }
        };
        let mut heads: HashMap<String, u64> = HashMap::new();
        let mut recorded: Vec<RecordedEvent> = Vec::with_capacity(events.len());
        let mut index_of: Vec<usize> = Vec::with_capacity(events.len());
        let mut answers: Vec<Option<Appended>> = vec![None; events.len()];
        let mut position = self.next;
        // Events are judged one after another (domain.md §2): the first fault in batch order
        // is the one reported, whether the log's state or the envelope (id, version) is at fault.
        let mut in_batch: HashMap<EventId, usize> = HashMap::new();
        let envelope_error: Option<AppendError> = 'envelope: {
            for (index, ev) in events.into_iter().enumerate() {
                let event_type = ev.payload.event_type();
                if source == Source::Client && matches!(ev.payload, Payload::ReviewSealed(_)) {
                    break 'envelope Some(AppendError::Refused { index, event_type, field: "type".into(), reason: "ReviewSealed is appended only by the log's own review sealing (taizhang review seal)".into() });
                }
                if let Some(id) = ev.event_id {
                    let existing = match in_batch
                        .get(&id)
                        .map(|&i| &recorded[i])
                        .or_else(|| pending.staged.get(&id))
                    {
                        Some(r) => Some(r.clone()),
                        None => self
                            .committed_event(id)
                            .map_err(|e| AppendError::Unreadable(e.to_string()))?,
                    };
                    if let Some(prev) = existing {
                        if prev.occurred_on == ev.occurred_on && prev.payload == ev.payload {
                            answers[index] = Some(Appended {
                                position: prev.position,
                                event_id: id,
                                stream: prev.stream.clone(),
                                stream_version: prev.stream_version,
                                recorded_at: prev.recorded_at,
                                written: false,
                            });
                            continue;
                        }
                        break 'envelope Some(AppendError::EventIdConflict {
                            index,
                            event_id: id,
                        });
                    }
                }
                let event_id = ev.event_id.unwrap_or_else(|| EventId(uuid::Uuid::now_v7()));
                let stream = match ev.payload.stream() {
                    Some(s) => s,
                    None => {
                        let Payload::Retracted(r) = &ev.payload else {
                            unreachable!("only a retraction has no stream of its own")
                        };
                        let target = r.target_event_id;
                        match in_batch
                            .get(&target)
                            .map(|&i| recorded[i].stream.clone())
                            .or_else(|| self.state.stream_of(&target).map(str::to_string))
                        {
                            Some(s) => s,
                            None => {
                                break 'envelope Some(AppendError::Refused {
                                    index,
                                    event_type,
                                    field: "payload.target_event_id".into(),
                                    reason: format!("no event {target} is in the log"),
                                })
                            }
                        }
                    }
                };
                let version = match heads.get(&stream) {
                    Some(v) => *v,
                    None => self.heads.get(&stream).copied().unwrap_or(0),
                };
                if let Some(expected) = ev.expected_version {
                    if expected != version {
                        break 'envelope Some(AppendError::VersionConflict {
                            index,
                            stream,
                            expected,
                            actual: version,
                        });
                    }
                }
                heads.insert(stream.clone(), version + 1);
                recorded.push(RecordedEvent {
                    position,
                    event_id,
                    stream,
                    stream_version: version,
                    schema: SCHEMA_CURRENT,
                    occurred_on: ev.occurred_on,
                    recorded_at,
                    actor: actor.to_string(),
                    payload: ev.payload,
                });
                in_batch.insert(event_id, recorded.len() - 1);
                index_of.push(index);
                position += 1;
            }
            None
        };
        if let Some(err) = envelope_error {
            if let Err((i, refusal)) = self.state.check_batch(&recorded) {
                return Err(AppendError::Refused {
                    index: index_of[i],
                    event_type: recorded[i].event_type(),
                    field: refusal.field,
                    reason: refusal.reason,
                });
            }
            return Err(err);
        }
        if let Err((i, refusal)) = self.state.apply_batch(&recorded) {
            let index = index_of[i];
            return Err(AppendError::Refused {
                index,
                event_type: recorded[i].event_type(),
                field: refusal.field,
                reason: refusal.reason,
            });
        }
        // Accepted: stage the writes.
        for ev in recorded {
            let leaf = ev.leaf_sha256();
            for (level, index, hash) in self.frontier.push(leaf.0) {
                if level > 0 {
                    pending
                        .batch
                        .insert(&keys::node(level, index)[..], &hash[..]);
                }
            }
            let pos = ev.position.to_be_bytes();
            pending.batch.insert(
                &keys::log(ev.position)[..],
                record::encode(&StoredRecord {
                    leaf_sha256: leaf,
                    event: ev.clone(),
                }),
            );
            pending
                .batch
                .insert(&keys::id(&ev.event_id.0)[..], &pos[..]);
            if let Payload::Retracted(r) = &ev.payload {
                pending.batch.insert(
                    &keys::retraction(ev.position)[..],
                    r.target_event_id.0.as_bytes(),
                );
            }
            pending
                .batch
                .insert(keys::stream(&ev.stream, ev.stream_version), &pos[..]);
            let i = index_of[(ev.position - self.next) as usize];
            answers[i] = Some(Appended {
                position: ev.position,
                event_id: ev.event_id,
                stream: ev.stream.clone(),
                stream_version: ev.stream_version,
                recorded_at,
                written: true,
            });
            if let Some(v) = self.state.village_of_event(ev.position) {
                pending.villages.push((v.to_string(), ev.position));
            }
            pending.rebuild_villages |= self.state.moved_village(ev.position);
            pending.staged.insert(ev.event_id, ev);
            pending.events += 1;
        }
        if position > self.next {
            // Only a batch that wrote something moves the clock: a pure retry leaves no trace.
            self.last_recorded = recorded_at;
        }
        self.heads.extend(heads);
        self.next = position;
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every event is answered"))
            .collect())
    }

    fn committed_event(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError> {
        let Some(v) = self
            .tree
            .get(keys::id(&id.0))
            .map_err(|e| self.reads.err(None, e))?
        else {
            return Ok(None);
        };
        let position =
            keys::u64_value(&v).ok_or_else(|| ReadError::Io("malformed id index value".into()))?;
        Ok(Some(read_record(&self.tree, &self.reads, position)?.event))
    }

    /// Stops accepting appends for good, and tells readers why.
    fn stop(&mut self, cause: String) {
        let _ = self.reads.stopped.set(cause.clone());
        self.failed = Some(cause);
    }

    /// Writes what sled holds and makes it durable: sled's `flush()` (its `pwrite`s), then the
    /// `fdatasync`s (see `sync`). On error, says what failed and what to do (the writer then
    /// stops: nothing is retried, see `commit`).
    fn write_and_sync(&mut self) -> Result<(), String> {
        const WRITE: &str = "writing sled/db";
        if let Some(f) = &self.faults {
            f.on_write().map_err(|e| storage_failure(WRITE, &e))?;
        }
        self.db
            .flush()
            .map_err(|e| storage_failure(WRITE, &e.into()))?;
        self.syncer.sync().map_err(|e| {
            storage_failure("making the write durable (fdatasync of sled's files)", &e)
        })
    }

    /// Writes and syncs the group, then publishes it and answers the appenders.
    ///
    /// A failed write or sync stops the writer for good (`failed`), and nothing is retried:
    /// after a failed `fsync` the kernel may have dropped the dirty pages and marked them
    /// clean, so a later `fsync` that succeeds proves nothing about them, and the validation
    /// state is ahead of the disk. Only reopening the store tells what survived. Readers
    /// never see the failed group: the published size does not move.
    fn commit(&mut self, pending: &mut Pending) {
        let p = std::mem::take(pending);
        if p.events > 0 {
            let started = std::time::Instant::now();
            let result = self
                .tree
                .apply_batch(p.batch)
                .map_err(|e| storage_failure("writing sled/db", &e.into()))
                .and_then(|_| self.write_and_sync());
            if let Err(e) = result {
                self.stop(e.clone());
                let refused = p.refusals.into_iter().map(|(reply, _)| reply);
                for reply in p.replies.into_iter().map(|(reply, _)| reply).chain(refused) {
                    let _ = reply.send(Err(AppendError::Io(e.clone())));
                }
                return;
            }
            // Durable: the acknowledged size may now say so (see `acknowledged`).
            if let Err(e) = self.ack.record(self.next) {
                // The group is durable and is acknowledged below; the store stops after it,
                // since its truncation check would no longer be kept.
                self.stop(storage_failure(
                    &format!("writing {}", acknowledged::FILE),
                    &e,
                ));
            }
            {
                // Published before the size, so a reader never sees a size its index lacks.
                let mut index = self.villages.write().expect("village index lock");
                if p.rebuild_villages {
                    *index = Villages::rebuild(&self.state, self.next);
                } else {
                    for (v, position) in p.villages {
                        index.by_village.entry(v).or_default().push(position);
                    }
                }
            }
            self.durable.store(self.next, Ordering::Release);
            let micros = started.elapsed().as_micros() as u64;
            let batches = p.replies.len() as u64;
            self.observers
                .committed(self.next, batches, p.events, micros);
        }
        for (reply, appended) in p.replies {
            let _ = reply.send(Ok(appended));
        }
        for (reply, refusal) in p.refusals {
            let _ = reply.send(Err(refusal));
        }
    }

    /// Seals a review: checkpoint at the reviewed size, the `ReviewSealed`, checkpoint after.
    fn seal(
        &mut self,
        expected_size: u64,
        event: ProposedEvent,
        actor: &str,
        at: Option<Timestamp>,
    ) -> Result<SealReceipt, SealError> {
        if let Some(f) = &self.failed {
            return Err(SealError::Append(AppendError::Io(f.clone())));
        }
        if self.next != expected_size {
            return Err(SealError::Moved {
                expected: expected_size,
                actual: self.next,
            });
        }
        let checkpoint_at_review = self.checkpoint()?;
        let mut pending = Pending::default();
        let appended = self.stage(&mut pending, vec![event], actor, Source::Log, at)?;
        self.commit(&mut pending);
        if let Some(f) = &self.failed {
            return Err(SealError::Append(AppendError::Io(f.clone())));
        }
        let appended = appended.into_iter().next().expect("one event staged");
        let checkpoint_with_seal = match self.checkpoint() {
            Ok(note) => note,
            // The seal is durable already: say so, with where it is.
            Err(e) => {
                return Err(SealError::SealedWithoutCheckpoint {
                    appended,
                    reason: e.to_string(),
                })
            }
        };
        Ok(SealReceipt {
            appended,
            checkpoint_at_review,
            checkpoint_with_seal,
        })
    }

    /// Signs a checkpoint of the durable size, consistent with the last one signed.
    fn checkpoint(&mut self) -> Result<String, ProofError> {
        if let Some(f) = &self.failed {
            return Err(ProofError::Io(format!(
                "the store accepts no more appends or checkpoints since a write failed: {f}"
            )));
        }
        let size = self.durable.load(Ordering::Acquire);
        debug_assert_eq!(
            size, self.next,
            "checkpoints are signed after the group commits"
        );
        let root = self.frontier.root();
        if let Some((last_size, last_root)) = self.last_checkpoint {
            if last_size == size {
                if last_root != root {
                    return Err(ProofError::Inconsistent(format!(
                        "the tree at size {size} no longer has the signed root"
                    )));
                }
                let v = self
                    .tree
                    .get(keys::checkpoint(size))
                    .map_err(|e| ProofError::Io(e.to_string()))?;
                return v
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .ok_or_else(|| ProofError::Io(format!("checkpoint {size} vanished")));
            }
            if last_size > 0 {
                let src = TreeSource {
                    tree: &self.tree,
                    reads: &self.reads,
                };
                let path = merkle::consistency_proof(&src, last_size, size).map_err(tree_err)?;
                merkle::verify_consistency(last_size, size, &last_root, &root, &path).map_err(
                    |e| {
                        ProofError::Inconsistent(format!(
                            "size {size} is not consistent with the checkpoint at {last_size}: {e}"
                        ))
                    },
                )?;
            }
        }
        let note = Checkpoint::new(&self.origin, size, root)
            .map_err(|e| ProofError::Inconsistent(e.to_string()))?
            .sign(&self.key);
        if let Err(e) = self
            .tree
            .insert(keys::checkpoint(size), note.as_bytes())
            .map_err(|e| storage_failure("writing sled/db", &e.into()))
            .and_then(|_| self.write_and_sync())
        {
            self.stop(e.clone());
            return Err(ProofError::Io(format!(
                "the checkpoint could not be made durable, and the store accepts no more \
                 appends: {e}"
            )));
        }
        self.last_checkpoint = Some((size, root));
        self.checkpoint_durable.store(size + 1, Ordering::Release);
        Ok(note)
    }
}

/// Iterates records `expected..end`, checking each, and reporting a missing one by position
/// (also at the end of the range, where sled would simply stop early).
struct LogIter {
    inner: sled::Iter,
    reads: Reads,
    expected: u64,
    end: u64,
    done: bool,
}

impl Iterator for LogIter {
    type Item = Result<StoredRecord, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.expected >= self.end {
            return None;
        }
        let item = match self.inner.next() {
            None => Err(ReadError::Missing {
                position: self.expected,
            }),
            Some(Err(e)) => Err(self.reads.err(Some(self.expected), e)),
            Some(Ok((k, v))) => match keys::position_of_log_key(&k) {
                Some(p) if p == self.expected => decode_at(p, &self.reads.bytes(p, &v)),
                Some(_) => Err(ReadError::Missing {
                    position: self.expected,
                }),
                None => Err(ReadError::Io(format!("malformed log key {k:?}"))),
            },
        };
        self.done = item.is_err();
        self.expected += 1;
        Some(item)
    }
}

//! Making sled's writes durable.
//!
//! sled 0.34.7's `flush()` writes its log buffers with `pwrite` and then calls
//! `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`: the pages reach the device, but the
//! device's volatile cache is not flushed and no file metadata (the file's size, as segments
//! are added) is committed, so a power cut can lose acknowledged writes. Large pages go to
//! files under `blobs/`, written with no sync at all. So after every `flush()` the store calls
//! `fdatasync` on sled's log file `db`, then `fsync` on every blob file it has not synced yet
//! and on the `blobs` directory when one was added (docs/storage.md).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::faults::Faults;

/// Syncs what sled wrote in one directory.
pub struct Syncer {
    db_file: File,
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
    /// Faults injected in place of the sync (tests only).
    faults: Option<Arc<Faults>>,
}

impl Syncer {
    /// Opens sled's files under `sled_dir` (after sled opened it).
    pub fn new(sled_dir: &Path, faults: Option<Arc<Faults>>) -> io::Result<Syncer> {
        let db_file = File::open(sled_dir.join("db"))?;
        let blobs_dir = sled_dir.join("blobs");
        let mut s = Syncer {
            db_file,
            blobs_dir,
            synced_blobs: HashSet::new(),
            faults,
        };
        // Whatever is there at open was written before: sync it once.
        s.sync_blobs()?;
        sync_dir(sled_dir)?;
        Ok(s)
    }

    /// Makes everything sled has flushed durable.
    pub fn sync(&mut self) -> io::Result<()> {
        if let Some(f) = &self.faults {
            f.on_sync()?;
        }
        self.db_file.sync_data()?;
        self.sync_blobs()
    }

    fn sync_blobs(&mut self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut added = false;
        let mut present = HashSet::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(entry.path()) {
                    Ok(f) => f.sync_all()?,
                    // sled removes blobs it no longer needs; a vanished one needs no sync.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                added = true;
            }
            present.insert(name);
        }
        self.synced_blobs = present;
        if added {
            sync_dir(&self.blobs_dir)?;
        }
        Ok(())
    }
}

/// `fsync` on a directory, so that the names in it survive a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

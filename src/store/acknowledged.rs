//! The acknowledged-size file: how many events the log has acknowledged, kept outside sled.
//!
//! sled 0.34.7 recovers its log to the last whole batch it can read: to it a truncated or
//! overwritten stretch of `sled/db` looks like the torn tail of a crash, so it drops everything
//! after it without an error (and overwrites that tail at open). The records that remain are
//! whole and gapless, so the store's own checks at open cannot tell that acknowledged events
//! are gone. This file can: after every group commit the writer records the acknowledged size
//! here, and opening refuses a log shorter than it.
//!
//! The size is written after the group's `fdatasync` returned, so it never claims more than
//! sled made durable, and no crash or power cut can make it exceed what sled recovers (unless
//! sled loses synced data, which is damage to report). The file itself is synced when it is
//! created and when the store closes, not at every commit: after a power cut it may be behind
//! the log, which only weakens the check. Stores made before this file existed get one at their
//! next open (the metadata key `acknowledged-file` says whether a store must have it).

use std::fs::File;
use std::io::{self, Read as _};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File name inside the data directory.
pub const FILE: &str = "acknowledged";
/// The metadata name (`M` key) whose presence says the store keeps the file.
pub const META: &str = "acknowledged-file";

/// Bytes of the file as written: 20 digits and a newline.
const LEN: usize = 21;
/// Most bytes read from the file (an operator may have written it by hand).
const LEN_READ_MAX: u64 = 64;

/// The open file, rewritten in place (one 21-byte `pwrite` at offset 0).
pub struct Acknowledged {
    file: File,
    /// The file is not the 21 bytes this build writes (an operator wrote it): trim it at the
    /// next record.
    trim: bool,
}

/// What the file says.
pub enum Found {
    /// No file.
    Missing,
    /// The file does not hold a size.
    Unreadable(String),
    /// The acknowledged size.
    Size(Acknowledged, u64),
}

impl Acknowledged {
    /// Creates the file holding `size`, synced, in `dir` (whose entry the caller syncs).
    pub fn create(dir: &Path, size: u64) -> io::Result<Acknowledged> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join(FILE))?;
        let mut a = Acknowledged { file, trim: false };
        a.record(size)?;
        a.file.sync_all()?;
        Ok(a)
    }

    /// Reads the file in `dir`.
    pub fn open(dir: &Path) -> io::Result<Found> {
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(FILE))
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        // One byte more than allowed, to tell a long file from one of exactly the limit: a
        // longer one is refused, not read in part (its first bytes could spell a smaller size).
        io::Read::read_to_end(&mut (&file).take(LEN_READ_MAX + 1), &mut bytes)?;
        if bytes.len() as u64 > LEN_READ_MAX {
            return Ok(Found::Unreadable(format!("more than {LEN_READ_MAX} bytes")));
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(match text.trim().parse::<u64>() {
            Ok(size) => Found::Size(
                Acknowledged {
                    file,
                    trim: bytes.len() != LEN,
                },
                size,
            ),
            Err(_) => Found::Unreadable(format!("{:?}", text.chars().take(40).collect::<String>())),
        })
    }

    /// Records `size` (not synced: see the module docs).
    pub fn record(&mut self, size: u64) -> io::Result<()> {
        // Fixed width, so that each write replaces the whole of the previous one.
        let line = format!("{size:020}\n");
        debug_assert_eq!(line.len(), LEN);
        self.file.write_all_at(line.as_bytes(), 0)?;
        if self.trim {
            self.file.set_len(LEN as u64)?;
            self.trim = false;
        }
        Ok(())
    }

    /// Syncs what was recorded.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_in(dir: &Path) -> u64 {
        match Acknowledged::open(dir).unwrap() {
            Found::Size(_, n) => n,
            Found::Missing => panic!("missing"),
            Found::Unreadable(t) => panic!("unreadable: {t}"),
        }
    }

    #[test]
    fn a_size_is_written_in_place_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Acknowledged::open(dir.path()).unwrap(),
            Found::Missing
        ));
        let mut a = Acknowledged::create(dir.path(), 0).unwrap();
        assert_eq!(size_in(dir.path()), 0);
        a.record(12_345).unwrap();
        a.record(7).unwrap();
        assert_eq!(size_in(dir.path()), 7);
        a.record(u64::MAX).unwrap();
        assert_eq!(size_in(dir.path()), u64::MAX);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, "18446744073709551615\n");
    }

    #[test]
    fn a_file_written_by_hand_is_read_and_then_rewritten_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE),
            "  0\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
        )
        .unwrap();
        let Found::Size(mut a, 0) = Acknowledged::open(dir.path()).unwrap() else {
            panic!("not read as 0");
        };
        a.record(3).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, "00000000000000000003\n");
        std::fs::write(dir.path().join(FILE), [0xff, b'1']).unwrap();
        assert!(matches!(
            Acknowledged::open(dir.path()).unwrap(),
            Found::Unreadable(_)
        ));
        // A long file is refused whole, not read in part: its first 64 bytes spell 12.
        let long = format!("{}12345\n", " ".repeat(62));
        std::fs::write(dir.path().join(FILE), &long).unwrap();
        assert!(matches!(
            Acknowledged::open(dir.path()).unwrap(),
            Found::Unreadable(t) if t.contains("more than 64 bytes")
        ));
        // Exactly the limit is read.
        let exact = format!("{}12\n", " ".repeat(61));
        std::fs::write(dir.path().join(FILE), &exact).unwrap();
        assert_eq!(size_in(dir.path()), 12);
    }
}

//! Bearer tokens of a store's server, kept in `tokens.json` in the data directory.
//!
//! Tokens are managed offline (`taizhang token add|list|revoke`) on the machine that holds the
//! store, while a server may be running: the file is separate from sled (whose lock the
//! server holds), written atomically (temporary file, fsync, rename, fsync of the directory,
//! mode 0600) under an advisory lock so two `token` commands do not lose each other's
//! change, and reread by the server when its modification time or length changes.
//! Only the SHA-256 of a token is stored; the token itself is printed once.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// File name of the token list inside the data directory.
pub const TOKENS_FILE: &str = "tokens.json";
/// File locked while the token list is rewritten.
const TOKENS_LOCK_FILE: &str = "tokens.lock";
/// Longest token name (it becomes the `actor` of events).
pub const TOKEN_NAME_LEN_MAX: usize = 64;
/// Most villages one recorder token may be restricted to.
pub const TOKEN_VILLAGES_MAX: usize = 1_000;
/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "tzk_";

/// What a token may do (issue 4, "Who may do what").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Appends registry, attendance, commitment, project, donation, evaluation and contract
    /// events (for its villages, if it has some); retracts only its own events.
    Recorder,
    /// Reads; appends inspections, rectifications, spot checks, project acceptances.
    Inspector,
    /// Reads; appends policies, discipline and any retraction; seals reviews.
    Reviewer,
    /// Reads, exports, proofs, checkpoints, verification; appends nothing.
    Auditor,
    /// Server status only.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Recorder,
        Role::Inspector,
        Role::Reviewer,
        Role::Auditor,
        Role::Admin,
    ];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Recorder => "recorder",
            Role::Inspector => "inspector",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: recorder, inspector, reviewer, auditor or admin")
            })
    }
}

/// One token as stored: never the token itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// The token's name: the `actor` of what it appends.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// For a recorder: the villages it may append for (empty: all).
    pub villages: BTreeSet<String>,
    /// Lower-case hex SHA-256 of the token.
    pub sha256: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Bad arguments: fix them.
    #[error("{0}")]
    Invalid(String),
    /// No store in this directory.
    #[error("no store at {0}: create one with `taizhang init`")]
    NoStore(PathBuf),
    /// A token of this name exists (add) or none does (revoke).
    #[error("{0}")]
    Name(String),
    /// The token file does not parse: fix or remove it by hand.
    #[error("{path}: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The disk failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lower-case hex SHA-256 of a presented token.
pub fn token_sha256(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The token list as read at one moment, with what identifies that version of the file.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
    stamp: Option<FileStamp>,
}

/// Modification time, length and inode: any rewrite (a rename of a new file) changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

impl Tokens {
    /// The tokens.
    pub fn entries(&self) -> &[TokenEntry] {
        &self.entries
    }

    /// The entry whose hash is the hash of `token`, if any.
    pub fn find(&self, token: &str) -> Option<&TokenEntry> {
        let h = token_sha256(token);
        self.entries.iter().find(|e| e.sha256 == h)
    }

    /// What identified the file when it was read (`None`: there was no file).
    pub fn stamp(&self) -> Option<FileStamp> {
        self.stamp
    }
}

/// The stamp of the token file now (`None`: no file).
pub fn stamp(dir: &Path) -> Result<Option<FileStamp>, TokenError> {
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(TOKENS_FILE);
    match std::fs::metadata(&path) {
        Ok(m) => Ok(Some(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            inode: m.ino(),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Reads the token list (empty when there is no file yet).
pub fn load(dir: &Path) -> Result<Tokens, TokenError> {
    let path = dir.join(TOKENS_FILE);
    // The stamp is taken before reading: if the file changes in between, the next check sees
    // a newer stamp and reads again, so no change is missed.
    let stamp = stamp(dir)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Tokens::default());
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let file: TokenFile = serde_json::from_str(&text).map_err(|e| TokenError::Damaged {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(Tokens {
        entries: file.tokens,
        stamp,
    })
}

/// Makes a token: prints nothing, returns the token (shown once; only its hash is kept).
pub fn add(dir: &Path, name: &str, role: Role, villages: &[String]) -> Result<String, TokenError> {
    if name.is_empty()
        || name.len() > TOKEN_NAME_LEN_MAX
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return Err(TokenError::Invalid(format!("token name {name:?} must be 1-{TOKEN_NAME_LEN_MAX} characters of a-z, A-Z, 0-9, '-', '_', '.', '@'")));
    }
    if !villages.is_empty() && role != Role::Recorder {
        return Err(TokenError::Invalid(format!(
            "--village restricts recorders only; a {role} token is not restricted by village"
        )));
    }
    if villages.len() > TOKEN_VILLAGES_MAX {
        return Err(TokenError::Invalid(format!(
            "at most {TOKEN_VILLAGES_MAX} villages per token"
        )));
    }
    for v in villages {
        events::Id::new(v.as_str())
            .map_err(|e| TokenError::Invalid(format!("--village {v:?}: {e}")))?;
    }
    let token = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
    };
    update(dir, |file| {
        if file.tokens.iter().any(|t| t.name == name) {
            return Err(TokenError::Name(format!(
                "a token named {name} exists already: revoke it first, or choose another name"
            )));
        }
        file.tokens.push(TokenEntry {
            name: name.to_string(),
            role,
            villages: villages.iter().cloned().collect(),
            sha256: token_sha256(&token),
            created_at: super::system_now().to_string(),
        });
        Ok(())
    })?;
    Ok(token)
}

/// Removes the token of this name.
pub fn revoke(dir: &Path, name: &str) -> Result<(), TokenError> {
    update(dir, |file| {
        let before = file.tokens.len();
        file.tokens.retain(|t| t.name != name);
        if file.tokens.len() == before {
            return Err(TokenError::Name(format!("no token is named {name}")));
        }
        Ok(())
    })
}

/// Reads, changes and rewrites the file under the lock.
fn update(
    dir: &Path,
    change: impl FnOnce(&mut TokenFile) -> Result<(), TokenError>,
) -> Result<(), TokenError> {
    if !dir.join(super::sled_log::SLED_DIR).exists() {
        return Err(TokenError::NoStore(dir.to_path_buf()));
    }
    let lock_path = dir.join(TOKENS_LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    let _guard = Flock::exclusive(&lock).map_err(io(&lock_path))?;
    let mut file = TokenFile {
        tokens: load(dir)?.entries,
    };
    change(&mut file)?;
    let path = dir.join(TOKENS_FILE);
    let mut text = serde_json::to_string_pretty(&file).expect("token file serializes");
    text.push('\n');
    write_atomically(dir, &path, text.as_bytes()).map_err(io(&path))
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!("{TOKENS_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    super::sync::sync_dir(dir)
}

/// An advisory `flock` held until dropped.
struct Flock<'a>(&'a std::fs::File);

impl<'a> Flock<'a> {
    fn exclusive(f: &'a std::fs::File) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd;
        let rc = loop {
            let rc = flock(f.as_raw_fd(), libc::LOCK_EX);
            if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break rc;
            }
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Flock(f))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        flock(self.0.as_raw_fd(), libc::LOCK_UN);
    }
}

// The one unsafe call of the store: the standard library's `File::lock` needs Rust 1.89,
// above this crate's rust-version. (The client's trust files lock with it too.)
#[allow(unsafe_code)]
pub(crate) fn flock(fd: i32, op: i32) -> i32 {
    // SAFETY: flock only reads its two integer arguments; a bad descriptor is an error return.
    unsafe { libc::flock(fd, op) }
}

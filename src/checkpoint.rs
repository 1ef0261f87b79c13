//! Checkpoints: a C2SP tlog-checkpoint body in a C2SP signed note, signed with Ed25519 (formats.md §4).
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 of the 32-byte root>
//!
//! — <key name> <base64(key id[4] ‖ Ed25519 signature[64])>
//! ```
//!
//! The signed-note layer (`sign_note`, `open_note`) follows c2sp.org/signed-note and the Go reference
//! (golang.org/x/mod/sumdb/note), whose test vectors the tests use; the checkpoint layer adds the three-line body.
//! This module does no IO: the store reads and writes the key file and the notes.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SIGNATURE_LENGTH};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature type byte of Ed25519 in C2SP signed notes.
pub const SIGNATURE_TYPE_ED25519: u8 = 0x01;

/// Largest signed note we read, in bytes.
///
/// c2sp.org/signed-note says verifiers must accept at least 16 signatures and that post-quantum ones
/// run to nearly 5 kB each (about 6.7 kB in base64), so 16 such lines plus a body fit in 128 KiB;
/// our own checkpoints are a few hundred bytes.
pub const MAX_NOTE_BYTES: usize = 128 * 1024;

/// Most signature lines we read in one note; the Go reference refuses more than 100 too.
pub const MAX_SIGNATURE_LINES: usize = 100;

/// Longest key name, in bytes. Key names are schema-less URLs; 256 bytes is plenty and keeps every note we sign far below `MAX_NOTE_BYTES`.
pub const MAX_KEY_NAME_BYTES: usize = 256;

/// Longest origin line, in bytes, for the same reason.
pub const MAX_ORIGIN_BYTES: usize = 1024;

/// The em dash and space that open a signature line.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// The prefix of a private key string, as in the Go reference.
const SECRET_PREFIX: &str = "PRIVATE+KEY+";

/// The 4-byte key id of a signed-note key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4], written as 8 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);

impl KeyId {
    /// The key id of an Ed25519 public key under a name.
    pub fn for_ed25519(name: &str, public_key: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update([b'\n', SIGNATURE_TYPE_ED25519]);
        hasher.update(public_key);
        let digest = hasher.finalize();
        Self([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Why a key, a key string or a key file is refused.
///
/// Key strings come from configuration or a file; the caller should name that source and stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key names must be non-empty, at most `MAX_KEY_NAME_BYTES`, without `+`, spaces or control characters.
    #[error("invalid key name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The string is not `<name>+<key id>+<base64 key>` (with `PRIVATE+KEY+` before it for a private key).
    #[error("malformed key string: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key id is not 8 lower-case hex digits.
    #[error("the key id is not 8 lower-case hex digits")]
    InvalidKeyId,
    /// The key is not canonical standard padded base64.
    #[error("the key is not canonical standard base64")]
    InvalidBase64,
    /// The first key byte names a signature type other than Ed25519.
    #[error("unsupported signature type {0:#04x}, only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm(u8),
    /// An Ed25519 key is 32 bytes after its type byte.
    #[error("an Ed25519 key is 32 bytes, got {0}")]
    WrongKeyLength(usize),
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// The stated key id is not the one the name and key give.
    #[error("key id {stated} does not match the name and key, which give {computed}")]
    KeyIdMismatch {
        /// The key id in the string.
        stated: KeyId,
        /// The key id computed from the name and key.
        computed: KeyId,
    },
}

/// Checks a key name against c2sp.org/signed-note (non-empty, no Unicode spaces, no `+`) and our own limits.
fn check_key_name(name: &str) -> Result<(), KeyError> {
    let refuse = |reason| {
        Err(KeyError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_KEY_NAME_BYTES {
        return refuse("it is longer than 256 bytes");
    }
    if name.contains('+') {
        return refuse("it contains '+'");
    }
    if name.chars().any(char::is_whitespace) {
        return refuse("it contains white space");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    Ok(())
}

/// Decodes canonical standard padded base64: exactly what `BASE64.encode` would write, so every value has one spelling.
fn decode_canonical_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = BASE64.decode(text).ok()?;
    (BASE64.encode(&bytes) == text).then_some(bytes)
}

/// Splits `<name>+<8 hex>+<base64>` and checks each part's syntax.
fn split_key_string(text: &str) -> Result<(&str, KeyId, [u8; 32]), KeyError> {
    // Split at the first two '+' only: names and key ids have none, but base64 uses '+' as a digit.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed {
            reason: "expected <name>+<key id>+<base64 key>",
        });
    };
    check_key_name(name)?;
    let mut stated = [0u8; 4];
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyError::InvalidKeyId);
    }
    hex::decode_to_slice(id, &mut stated).map_err(|_| KeyError::InvalidKeyId)?;
    let bytes = decode_canonical_base64(key).ok_or(KeyError::InvalidBase64)?;
    let (&kind, key) = bytes.split_first().ok_or(KeyError::WrongKeyLength(0))?;
    if kind != SIGNATURE_TYPE_ED25519 {
        return Err(KeyError::UnsupportedAlgorithm(kind));
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| KeyError::WrongKeyLength(key.len()))?;
    Ok((name, KeyId(stated), key))
}

/// The public half of a log key: what an auditor configures to check checkpoints.
///
/// Written `<name>+<key id as 8 hex digits>+<base64(0x01 ‖ public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: KeyId,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// A verifier for an Ed25519 public key under a name.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: KeyId::for_ed25519(name, public_key),
            key,
        })
    }

    /// Parses `<name>+<key id>+<base64(0x01 ‖ public key)>`, checking the key id against the name and key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (name, stated, public_key) = split_key_string(text)?;
        let verifier = Self::new(name, &public_key)?;
        if verifier.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: verifier.key_id,
            });
        }
        Ok(verifier)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    ///
    /// Strict verification (no small-order points, canonical encodings): our signer never makes anything else,
    /// so refusing the edge cases costs nothing and closes the malleability questions.
    fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LENGTH]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(33);
        key.push(SIGNATURE_TYPE_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.key_id, BASE64.encode(key))
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
    }
}

/// The private log key with its name.
///
/// Debug output names the key but never shows the seed; the seed is wiped when the key is dropped (ed25519-dalek's `zeroize`).
pub struct SigningKey {
    name: String,
    key_id: KeyId,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_dalek(name, key)
    }

    /// The key with this 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        Self::from_dalek(name, ed25519_dalek::SigningKey::from_bytes(seed))
    }

    fn from_dalek(name: &str, key: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let key_id = KeyId::for_ed25519(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public half.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The key file content: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`, the Go reference's form, without a newline.
    ///
    /// This is the secret: the store writes it with mode 0600 and never logs it.
    pub fn to_secret_string(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(SIGNATURE_TYPE_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "{SECRET_PREFIX}{}+{}+{}",
            self.name,
            self.key_id,
            BASE64.encode(key)
        )
    }

    /// Reads what `to_secret_string` wrote; one trailing newline, as a text file ends, is allowed.
    ///
    /// Errors never include the key material.
    pub fn from_secret_string(text: &str) -> Result<Self, KeyError> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let rest = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(KeyError::Malformed {
                reason: "a private key string starts with PRIVATE+KEY+",
            })?;
        let (name, stated, seed) = split_key_string(rest)?;
        let key = Self::from_seed(name, &seed)?;
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: key.key_id,
            });
        }
        Ok(key)
    }

    /// The signature line for `text`: `— <name> <base64(key id ‖ signature)>\n`.
    fn signature_line(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut bytes = Vec::with_capacity(4 + SIGNATURE_LENGTH);
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&signature.to_bytes());
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(bytes)
        )
    }
}

/// Why a note or a checkpoint is refused.
///
/// For a note read from outside, any of these means: do not trust the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is longer than `MAX_NOTE_BYTES`.
    #[error("the note is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Signed notes allow no control characters but newline.
    #[error("control character at byte {offset}")]
    ControlCharacter {
        /// Where, in bytes from the start.
        offset: usize,
    },
    /// A note and its text end with a newline.
    #[error("the note does not end with a newline")]
    MissingFinalNewline,
    /// The text is empty.
    #[error("the note text is empty")]
    EmptyText,
    /// No blank line separates the text from signature lines.
    #[error("the note has no signature lines after a blank line")]
    MissingSignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("signature line {line}: {reason}")]
    MalformedSignatureLine {
        /// 1-based among the signature lines.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than `MAX_SIGNATURE_LINES` signature lines.
    #[error("more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature from the known key (same name and key id) does not verify: the note was tampered with.
    #[error("invalid signature for key {name}+{key_id}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key id.
        key_id: KeyId,
    },
    /// No signature from the known key.
    #[error("no signature by key {name}+{key_id}")]
    NoVerifiedSignature {
        /// The key name expected.
        name: String,
        /// The key id expected.
        key_id: KeyId,
    },
    /// A checkpoint body is exactly origin, size and root: no extension lines (formats.md §4).
    #[error("a checkpoint body has exactly 3 lines (origin, size, root), found {found}")]
    BodyLineCount {
        /// How many lines the text has.
        found: usize,
    },
    /// The origin line is empty or too long.
    #[error("invalid origin: {reason}")]
    InvalidOrigin {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The size line is not a decimal u64 without leading zeros.
    #[error("invalid tree size {text:?}: {reason}")]
    InvalidSize {
        /// The line as found.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The root line is not canonical base64 of 32 bytes.
    #[error("invalid root {text:?}: {reason}")]
    InvalidRoot {
        /// The line as found.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Checks that a note text is something a signed note can carry: non-empty, newline-terminated, no control characters but newline.
fn check_note_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::EmptyText);
    }
    if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter { offset });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    Ok(())
}

/// Signs a note text: returns the text, a blank line and one signature line.
pub fn sign_note(text: &str, key: &SigningKey) -> Result<String, NoteError> {
    check_note_text(text)?;
    Ok(format!("{text}\n{}", key.signature_line(text)))
}

/// Opens a signed note: checks its syntax and returns its text once `verifier` has a valid signature on it.
///
/// As c2sp.org/signed-note requires, signature lines from other keys (another name or another key id) are ignored,
/// a signature from `verifier` that fails refuses the whole note, and at least one must succeed.
pub fn open_note<'a>(note: &'a str, verifier: &VerifierKey) -> Result<&'a str, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    if let Some(offset) = note.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter { offset });
    }
    if !note.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    // The text ends at the last blank line; it keeps its own final newline.
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatures)?;
    let text = &note[..split + 1];
    let signatures = &note[split + 2..];
    if signatures.is_empty() {
        return Err(NoteError::MissingSignatures);
    }
    let mut verified = false;
    for (number, line) in signatures.split_terminator('\n').enumerate() {
        let line_number = number + 1;
        if line_number > MAX_SIGNATURE_LINES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURE_LINES,
            });
        }
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: line_number,
            reason,
        };
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or_else(|| malformed("it does not start with an em dash and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("no space between key name and signature"))?;
        check_key_name(name).map_err(|_| malformed("invalid key name"))?;
        let bytes = decode_canonical_base64(encoded)
            .ok_or_else(|| malformed("the signature is not canonical standard base64"))?;
        // Go's reference refuses fewer than 5 bytes: a key id and at least one signature byte.
        if bytes.len() < 5 {
            return Err(malformed("the signature is shorter than a key id"));
        }
        let key_id = KeyId([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if name != verifier.name || key_id != verifier.key_id {
            continue;
        }
        let invalid = || NoteError::InvalidSignature {
            name: name.to_owned(),
            key_id,
        };
        let signature: &[u8; SIGNATURE_LENGTH] = bytes[4..].try_into().map_err(|_| invalid())?;
        if !verifier.verify(text.as_bytes(), signature) {
            return Err(invalid());
        }
        verified = true;
    }
    if !verified {
        return Err(NoteError::NoVerifiedSignature {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        });
    }
    Ok(text)
}

/// A tree head: the log's origin, its size and the root at that size.
///
/// The fields are private so that every checkpoint has a body a signed note can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

fn check_origin(origin: &str) -> Result<(), NoteError> {
    if origin.is_empty() {
        return Err(NoteError::InvalidOrigin {
            reason: "it is empty",
        });
    }
    if origin.len() > MAX_ORIGIN_BYTES {
        return Err(NoteError::InvalidOrigin {
            reason: "it is longer than 1024 bytes",
        });
    }
    if origin.chars().any(char::is_control) {
        return Err(NoteError::InvalidOrigin {
            reason: "it contains a control character or a newline",
        });
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint; the origin must be non-empty, at most `MAX_ORIGIN_BYTES`, on one line and without control characters.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, NoteError> {
        check_origin(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree at `size`.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The note text: `origin\nsize\nbase64(root)\n`, exactly what the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// The whole signed note: body, blank line, one signature line.
    pub fn sign(&self, key: &SigningKey) -> String {
        let body = self.body();
        debug_assert!(check_note_text(&body).is_ok());
        format!("{body}\n{}", key.signature_line(&body))
    }

    /// Parses a checkpoint body (three lines, each newline-terminated).
    fn parse_body(body: &str) -> Result<Self, NoteError> {
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or(NoteError::MissingFinalNewline)?
            .split('\n')
            .collect();
        let [origin, size, root] = lines[..] else {
            return Err(NoteError::BodyLineCount { found: lines.len() });
        };
        check_origin(origin)?;
        let invalid_size = |reason| NoteError::InvalidSize {
            text: size.to_owned(),
            reason,
        };
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_size("not decimal digits"));
        }
        if size.len() > 1 && size.starts_with('0') {
            return Err(invalid_size("leading zero"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| invalid_size("larger than 2^64 - 1"))?;
        let invalid_root = |reason| NoteError::InvalidRoot {
            text: root.to_owned(),
            reason,
        };
        let bytes = decode_canonical_base64(root)
            .ok_or_else(|| invalid_root("not canonical standard base64"))?;
        let root: Hash = bytes.try_into().map_err(|_| invalid_root("not 32 bytes"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Verifies a signed checkpoint with `verifier` and parses its body.
///
/// The caller still compares the origin with the log it expects: a key could sign for several logs.
pub fn parse_signed_note(note: &str, verifier: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let body = open_note(note, verifier)?;
    Checkpoint::parse_body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_three_exact_lines() {
        let checkpoint = Checkpoint::new("example.com/log", 0, [0; 32]).unwrap();
        assert_eq!(
            checkpoint.body(),
            "example.com/log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert_eq!(Checkpoint::parse_body(&checkpoint.body()), Ok(checkpoint));
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let good = format!("o\n18446744073709551615\n{root}\n");
        assert_eq!(Checkpoint::parse_body(&good).unwrap().size(), u64::MAX);
        let cases: Vec<(String, &str)> = vec![
            (format!("o\n5\n{root}\nextension\n"), "found 4"),
            (format!("o\n5\n{root}\n\n"), "found 4"),
            ("o\n5\n".to_owned(), "found 2"),
            (format!("o\n5\n{root}"), "newline"),
            (format!("\n5\n{root}\n"), "origin"),
            (format!("o\n05\n{root}\n"), "leading zero"),
            (format!("o\n00\n{root}\n"), "leading zero"),
            (format!("o\n+5\n{root}\n"), "not decimal"),
            (format!("o\n-0\n{root}\n"), "not decimal"),
            (format!("o\n\n{root}\n"), "not decimal"),
            (format!("o\n5 \n{root}\n"), "not decimal"),
            (format!("o\n18446744073709551616\n{root}\n"), "larger"),
            // Unpadded, URL-safe, trailing bits set, 31 and 33 bytes.
            (
                "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".to_owned(),
                "base64",
            ),
            (
                "o\n5\n-_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".to_owned(),
                "base64",
            ),
            (
                "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n".to_owned(),
                "base64",
            ),
            (
                "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n".to_owned(),
                "32 bytes",
            ),
            (
                "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".to_owned(),
                "32 bytes",
            ),
        ];
        for (body, expected) in cases {
            let error = Checkpoint::parse_body(&body).expect_err(&body);
            assert!(
                error.to_string().contains(expected),
                "{body:?}: {error} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn origins_and_names_are_checked() {
        for origin in ["", "a\nb", "a\tb", "a\u{7f}b"] {
            assert!(Checkpoint::new(origin, 1, [0; 32]).is_err(), "{origin:?}");
        }
        assert!(Checkpoint::new(&"o".repeat(MAX_ORIGIN_BYTES + 1), 1, [0; 32]).is_err());
        assert!(Checkpoint::new(&"o".repeat(MAX_ORIGIN_BYTES), 1, [0; 32]).is_ok());
        for name in ["", "a+b", "a b", "a\u{2003}b", "a\u{1}b"] {
            assert!(SigningKey::from_seed(name, &[7; 32]).is_err(), "{name:?}");
        }
        assert!(SigningKey::from_seed(&"n".repeat(MAX_KEY_NAME_BYTES + 1), &[7; 32]).is_err());
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let key = SigningKey::from_seed("example.com/k", &[0xab; 32]).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("example.com/k"));
        assert!(!debug.contains("171"), "{debug}");
        assert!(!debug.to_lowercase().contains("abab"), "{debug}");
    }
}

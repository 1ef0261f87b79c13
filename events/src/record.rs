//! The stored record: how the log keeps one recorded event on disk.
//!
//! Layout: `[format version: u8][bincode body][CRC-32 of the preceding bytes: u32 LE]`.
//! The body is bincode 1.3.3 (pinned with `=`), varint integers, little-endian, with a size
//! limit. Nothing committed to (hashes, tree, proofs) depends on this encoding: every hash is
//! over canonical JSON, so a later re-encoding of stored records changes no hash and no proof
//! (docs/decisions/0001-record-codec.md). Old versions stay decodable forever; upcasting
//! happens here, on read, never by rewriting a stored record.

use bincode::Options;
use serde::{Deserialize, Serialize};

use crate::envelope::RecordedEvent;
use crate::fields::Sha256;

/// The record format this build writes.
pub const RECORD_FORMAT_CURRENT: u8 = 1;
/// Largest stored record, in bytes: a payload's JCS is at most 64 KiB and bincode is smaller.
pub const RECORD_BYTES_MAX: u64 = 256 * 1024;

/// Why a stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Shorter than a header and checksum.
    #[error("record is truncated ({0} bytes)")]
    Truncated(usize),
    /// The checksum does not match: the bytes changed after they were written.
    #[error("record checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum {
        /// Checksum stored with the record.
        stored: u32,
        /// Checksum of the bytes read.
        computed: u32,
    },
    /// Written by a newer taizhang.
    #[error("record format {0} is newer than this build reads ({RECORD_FORMAT_CURRENT}); upgrade taizhang")]
    FormatTooNew(u8),
    /// A format version that never existed.
    #[error("record format {0} is unknown")]
    FormatUnknown(u8),
    /// The body does not decode.
    #[error("record body does not decode: {0}")]
    Body(String),
}

/// What a record holds: the event and its leaf hash, so reads need not recompute it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The event.
    pub event: RecordedEvent,
    /// SHA-256(0x00 ‖ leaf input), computed when it was appended.
    pub leaf_sha256: Sha256,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .with_limit(RECORD_BYTES_MAX)
        .reject_trailing_bytes()
}

/// Encodes a record in the current format.
pub fn encode(record: &StoredRecord) -> Vec<u8> {
    let mut out = vec![RECORD_FORMAT_CURRENT];
    options()
        .serialize_into(&mut out, record)
        .expect("a record within the size limit always encodes");
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a record of any known format, checking its checksum first.
pub fn decode(bytes: &[u8]) -> Result<StoredRecord, RecordError> {
    if bytes.len() < 5 {
        return Err(RecordError::Truncated(bytes.len()));
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(RecordError::Checksum { stored, computed });
    }
    match data[0] {
        1 => options()
            .deserialize(&data[1..])
            .map_err(|e| RecordError::Body(e.to_string())),
        0 => Err(RecordError::FormatUnknown(0)),
        v => Err(RecordError::FormatTooNew(v)),
    }
}

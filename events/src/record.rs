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
    /// SHA-256(0x00 ‖ leaf input), computed when it was appended. First, so that it sits at
    /// bytes 1..33 of every record and the tree can read it without decoding the event.
    pub leaf_sha256: Sha256,
    /// The event.
    pub event: RecordedEvent,
}

/// The leaf hash of a record, read from its fixed place after checking the checksum, without
/// decoding the event.
pub fn leaf_of(bytes: &[u8]) -> Result<Sha256, RecordError> {
    let data = checked(bytes)?;
    match data[0] {
        1 if data.len() >= 33 => Ok(Sha256(data[1..33].try_into().expect("32 bytes"))),
        1 => Err(RecordError::Truncated(bytes.len())),
        0 => Err(RecordError::FormatUnknown(0)),
        v => Err(RecordError::FormatTooNew(v)),
    }
}

/// The record without its checksum, once the checksum matches.
fn checked(bytes: &[u8]) -> Result<&[u8], RecordError> {
    if bytes.len() < 5 {
        return Err(RecordError::Truncated(bytes.len()));
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(RecordError::Checksum { stored, computed });
    }
    Ok(data)
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
    let data = checked(bytes)?;
    match data[0] {
        1 => options()
            .deserialize(&data[1..])
            .map_err(|e| RecordError::Body(e.to_string())),
        0 => Err(RecordError::FormatUnknown(0)),
        v => Err(RecordError::FormatTooNew(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::parse_line;
    use crate::time::Timestamp;

    fn sample() -> StoredRecord {
        let line = parse_line(r#"{"type":"CommitmentMade","occurred_on":"2016-02-01","payload":{"commitment_id":"K-CX-01","posting_id":"P-2016-CX-01","village_id":"CX-BT-LF","kind":"practical","content":"修通六肥至波塘镇的村级道路","due":"2016-09-30"}}"#).unwrap();
        let event = RecordedEvent {
            position: 7,
            event_id: crate::EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c").unwrap(),
            stream: "commitment/K-CX-01".into(),
            stream_version: 0,
            schema: 1,
            occurred_on: line.event.occurred_on,
            recorded_at: Timestamp::from_micros(1_454_284_800_000_000),
            actor: "recorder".into(),
            payload: line.event.payload,
        };
        StoredRecord {
            leaf_sha256: event.leaf_sha256(),
            event,
        }
    }

    #[test]
    fn round_trips_and_exposes_the_leaf() {
        let r = sample();
        let bytes = encode(&r);
        assert_eq!(bytes[0], RECORD_FORMAT_CURRENT);
        assert_eq!(decode(&bytes).unwrap(), r);
        assert_eq!(leaf_of(&bytes).unwrap(), r.leaf_sha256);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b).is_err(), "flip at {i} went unnoticed");
            assert!(
                leaf_of(&b).is_err(),
                "flip at {i} went unnoticed by leaf_of"
            );
        }
        assert!(matches!(
            decode(&bytes[..3]),
            Err(RecordError::Truncated(3))
        ));
    }

    #[test]
    fn newer_formats_are_refused_by_name() {
        let mut b = encode(&sample());
        b[0] = 2;
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&b), Err(RecordError::FormatTooNew(2))));
    }
}

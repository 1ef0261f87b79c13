//! The key layout of the store's one sled tree (docs/storage.md).
//!
//! One tree, so that one `apply_batch` — atomic in sled, also across a crash — writes a whole
//! group commit: records, indexes and tree nodes together.
//! - `M` name → metadata value
//! - `L` position (u64 BE) → record (events::record)
//! - `I` event id (16 bytes) → position (u64 BE)
//! - `S` stream bytes, 0x00, version (u64 BE) → position (u64 BE)
//! - `N` level (u8), index (u64 BE) → 32-byte hash of a perfect subtree, levels ≥ 1 (level 0,
//!   the leaf hashes, lives in the records)
//! - `C` tree size (u64 BE) → signed checkpoint note
//! - `R` position (u64 BE) → target event id (16 bytes), for every `Retracted`: the first pass
//!   of a rebuild reads these few records instead of the whole log

pub const META: u8 = b'M';
pub const LOG: u8 = b'L';
pub const ID: u8 = b'I';
pub const STREAM: u8 = b'S';
pub const NODE: u8 = b'N';
pub const CHECKPOINT: u8 = b'C';
pub const RETRACTION: u8 = b'R';

pub fn meta(name: &str) -> Vec<u8> {
    let mut k = vec![META];
    k.extend_from_slice(name.as_bytes());
    k
}

pub fn log(position: u64) -> [u8; 9] {
    let mut k = [LOG; 9];
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

pub fn position_of_log_key(key: &[u8]) -> Option<u64> {
    if key.len() == 9 && key[0] == LOG {
        Some(u64::from_be_bytes(key[1..].try_into().ok()?))
    } else {
        None
    }
}

pub fn id(event_id: &uuid::Uuid) -> [u8; 17] {
    let mut k = [ID; 17];
    k[1..].copy_from_slice(event_id.as_bytes());
    k
}

pub fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 2);
    k.push(STREAM);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

pub fn stream(stream: &str, version: u64) -> Vec<u8> {
    let mut k = stream_prefix(stream);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub fn node(level: u8, index: u64) -> [u8; 10] {
    let mut k = [NODE; 10];
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn checkpoint(size: u64) -> [u8; 9] {
    let mut k = [CHECKPOINT; 9];
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

pub fn u64_value(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.try_into().ok()?))
}

/// (stream, version) of a stream index key.
pub fn parse_stream(key: &[u8]) -> Option<(&str, u64)> {
    if key.len() < 10 || key[0] != STREAM || key[key.len() - 9] != 0 {
        return None;
    }
    let stream = std::str::from_utf8(&key[1..key.len() - 9]).ok()?;
    Some((stream, u64_value(&key[key.len() - 8..])?))
}

/// (level, index) of a tree node key.
pub fn parse_node(key: &[u8]) -> Option<(u8, u64)> {
    if key.len() != 10 || key[0] != NODE {
        return None;
    }
    Some((key[1], u64_value(&key[2..])?))
}

pub fn retraction(position: u64) -> [u8; 9] {
    let mut k = [RETRACTION; 9];
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

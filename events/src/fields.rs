//! Field kinds of domain.md §2 and their limits: ids, names, free text, integers, event references.
//!
//! Each kind checks itself while it is deserialized from JSON, so a payload that decodes is a
//! payload whose every field is in range; the error text is the reason, and the decoder adds
//! the field. Stored records (bincode, not human-readable) skip the string checks: they were
//! checked when appended, their checksum is checked before decoding, and `verify` recomputes
//! every hash from them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest id, in characters (domain.md §2).
pub const ID_LEN_MAX: usize = 64;
/// Longest name, in Unicode scalar values.
pub const NAME_LEN_MAX: usize = 200;
/// Longest free text (`content`, `purpose`, `reason`, `note`, `evidence`, `text`), in Unicode scalar values.
pub const TEXT_LEN_MAX: usize = 4000;
/// Largest integer any field may carry: 2^53 − 1, the largest every JSON parser reads exactly.
pub const INT_MAX: u64 = (1 << 53) - 1;
/// Most findings in one inspection.
pub const FINDINGS_MAX: usize = 100;
/// Most items in one responsibility contract.
pub const CONTRACT_ITEMS_MAX: usize = 100;
/// Largest canonical (JCS) form of one payload, in bytes.
pub const PAYLOAD_JCS_BYTES_MAX: usize = 65_536;

/// Why an id was refused.
pub fn check_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > ID_LEN_MAX {
        return Err(format!(
            "must be 1-{ID_LEN_MAX} characters, got {}",
            s.chars().count()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "character {c:?} is not allowed (only A-Z a-z 0-9 . _ -)"
        ));
    }
    Ok(())
}

/// Checks a text's length in Unicode scalar values against `min..=max`.
pub fn check_len(s: &str, min: usize, max: usize) -> Result<(), String> {
    // A Rust `str` is always valid UTF-8, so characters are Unicode scalar values.
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("must be {min}-{max} characters, got {n}"));
    }
    Ok(())
}

/// An identifier: 1–64 characters of `A-Z a-z 0-9 . _ -`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// The id, if `s` is a valid one.
    pub fn new(s: impl Into<String>) -> Result<Id, String> {
        let s = s.into();
        check_id(&s)?;
        Ok(Id(s))
    }
    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}
impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let trusted = !d.is_human_readable();
        let s = String::deserialize(d)?;
        if trusted {
            // A stored record (bincode): checked when it was appended, and its checksum was
            // checked before it was decoded; checking every id again would slow every rebuild.
            return Ok(Id(s));
        }
        Id::new(s).map_err(serde::de::Error::custom)
    }
}

/// `deserialize_with` for names: 1–200 characters.
pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let trusted = !d.is_human_readable();
    let s = String::deserialize(d)?;
    if !trusted {
        check_len(&s, 1, NAME_LEN_MAX).map_err(serde::de::Error::custom)?;
    }
    Ok(s)
}

/// `deserialize_with` for `content`: 1–4000 characters.
pub fn content<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let trusted = !d.is_human_readable();
    let s = String::deserialize(d)?;
    if !trusted {
        check_len(&s, 1, TEXT_LEN_MAX).map_err(serde::de::Error::custom)?;
    }
    Ok(s)
}

/// `deserialize_with` for free text: 0–4000 characters.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let trusted = !d.is_human_readable();
    let s = String::deserialize(d)?;
    if !trusted {
        check_len(&s, 0, TEXT_LEN_MAX).map_err(serde::de::Error::custom)?;
    }
    Ok(s)
}

/// `deserialize_with` for integers: 0 … 2^53 − 1.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n > INT_MAX {
        return Err(serde::de::Error::custom(format!(
            "{n} is over the largest integer allowed, 2^53-1"
        )));
    }
    Ok(n)
}

/// `deserialize_with` for a percentage: 0 … 100.
pub fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n > 100 {
        return Err(serde::de::Error::custom(format!("percent {n} is over 100")));
    }
    Ok(n)
}

/// A reference to an event: a lower-case hyphenated UUID (any version). Upper case is refused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub uuid::Uuid);

impl EventId {
    /// Parses the canonical lower-case hyphenated form, and nothing else.
    pub fn parse(s: &str) -> Result<EventId, String> {
        let ok = s.len() == 36
            && s.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        if !ok {
            return Err(format!(
                "{:?} is not a lower-case hyphenated UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, digits and a-f)",
                s.chars().take(40).collect::<String>()
            ));
        }
        uuid::Uuid::parse_str(s)
            .map(EventId)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}
impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_bytes(self.0.as_bytes())
        }
    }
}
impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            EventId::parse(&s).map_err(serde::de::Error::custom)
        } else {
            uuid::Uuid::deserialize(d).map(EventId)
        }
    }
}

/// A SHA-256 digest, written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        use sha2::Digest;
        Sha256(sha2::Sha256::digest(bytes).into())
    }
    /// Parses exactly 64 lower-case hex digits.
    pub fn parse_hex(s: &str) -> Result<Sha256, String> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("must be 64 lower-case hex digits".to_string());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
        Ok(Sha256(out))
    }
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}
impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sha256, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Sha256::parse_hex(&s).map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(Sha256)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(Id::new("TX-PZ-03").is_ok());
        assert!(Id::new("a.b_c-9").is_ok());
        assert!(Id::new("").is_err());
        assert!(Id::new("x".repeat(64)).is_ok());
        assert!(Id::new("x".repeat(65)).is_err());
        assert!(Id::new("村").is_err());
        assert!(Id::new("a b").is_err());
        assert!(Id::new("a/b").is_err());
    }

    #[test]
    fn event_ids_are_lower_case_only() {
        assert!(EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c").is_ok());
        assert!(EventId::parse("0190A5B2-7C4E-7D3A-9B1F-2E4D6C8A0B1C").is_err());
        assert!(EventId::parse("0190a5b27c4e7d3a9b1f2e4d6c8a0b1c").is_err());
        assert!(EventId::parse("{0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c}").is_err());
        assert!(EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1g").is_err());
    }

    #[test]
    fn lengths_count_scalar_values() {
        assert!(check_len(&"村".repeat(200), 1, NAME_LEN_MAX).is_ok());
        assert!(check_len(&"村".repeat(201), 1, NAME_LEN_MAX).is_err());
        assert!(check_len("", 1, NAME_LEN_MAX).is_err());
    }
}

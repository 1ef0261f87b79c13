//! The import line (formats.md §5): one proposed event per JSON object.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::envelope::ProposedEvent;
use crate::fields::{check_len, EventId, INT_MAX, NAME_LEN_MAX};
use crate::payload::{EventType, FieldError, Payload};
use crate::time::Date;

/// Longest import line accepted, in bytes: a 64 KiB payload with escapes and envelope fits.
pub const IMPORT_LINE_BYTES_MAX: usize = 512 * 1024;

/// One parsed import line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    /// The event it proposes.
    pub event: ProposedEvent,
    /// Consecutive lines with the same batch are appended atomically.
    pub batch: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine<'a> {
    #[serde(rename = "type")]
    ty: String,
    occurred_on: String,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    expected_version: Option<u64>,
    #[serde(default)]
    batch: Option<String>,
}

/// Parses one import line (without its line end). Errors name the field and the reason.
pub fn parse_line(line: &str) -> Result<ImportLine, FieldError> {
    if line.len() > IMPORT_LINE_BYTES_MAX {
        return Err(FieldError::new(
            "line",
            format!(
                "is {} bytes, over the limit of {IMPORT_LINE_BYTES_MAX}",
                line.len()
            ),
        ));
    }
    if line.starts_with('\u{feff}') {
        return Err(FieldError::new(
            "line",
            "starts with a byte-order mark; save the file as UTF-8 without BOM",
        ));
    }
    // serde's derived structs also take an array of their fields in order; a line is an object.
    if line
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('[')
    {
        return Err(FieldError::new(
            "line",
            "must be a JSON object, not an array",
        ));
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let raw: RawLine = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        let name_in = |prefix: &str| msg.strip_prefix(prefix).and_then(|r| r.split('`').next()).map(str::to_string);
        if let Some(f) = name_in("missing field `") {
            FieldError::new(f, "is missing")
        } else if let Some(f) = name_in("unknown field `") {
            FieldError::new(f, "is not a key of an import line (type, occurred_on, payload, event_id, expected_version, batch)")
        } else if let Some(f) = name_in("duplicate field `") {
            FieldError::new(f, "appears twice")
        } else if path == "." {
            FieldError::new("line", msg)
        } else {
            FieldError::new(path, msg)
        }
    })?;
    de.end()
        .map_err(|e| FieldError::new("line", e.to_string()))?;
    let ty = EventType::parse(&raw.ty)
        .ok_or_else(|| FieldError::new("type", format!("unknown event type {:?}", raw.ty)))?;
    let occurred_on: Date = raw
        .occurred_on
        .parse()
        .map_err(|e: crate::time::TimeError| FieldError::new("occurred_on", e.to_string()))?;
    let payload = Payload::from_json(ty, raw.payload.get())?;
    payload.check()?;
    let event_id = match raw.event_id {
        None => None,
        Some(s) => Some(EventId::parse(&s).map_err(|e| FieldError::new("event_id", e))?),
    };
    if let Some(v) = raw.expected_version {
        if v > INT_MAX {
            return Err(FieldError::new(
                "expected_version",
                "is over the largest integer allowed, 2^53-1",
            ));
        }
    }
    if let Some(b) = &raw.batch {
        check_len(b, 1, NAME_LEN_MAX).map_err(|e| FieldError::new("batch", e))?;
    }
    Ok(ImportLine {
        event: ProposedEvent {
            occurred_on,
            payload,
            event_id,
            expected_version: raw.expected_version,
        },
        batch: raw.batch,
    })
}

//! The envelope of a recorded event (formats.md §2), its hashes, and the export line (§5).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::canonical::to_jcs;
use crate::fields::{EventId, Sha256};
use crate::payload::{EventType, Payload};
use crate::time::{Date, Timestamp};

/// The payload schema version this build writes.
pub const SCHEMA_CURRENT: u32 = 1;

/// An event as a client proposes it: what it says happened, before the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedEvent {
    /// Business date on which it happened.
    pub occurred_on: Date,
    /// What happened.
    pub payload: Payload,
    /// The client's id for idempotency; the log assigns a UUIDv7 when absent.
    pub event_id: Option<EventId>,
    /// Number of events the stream must already hold (optimistic concurrency).
    pub expected_version: Option<u64>,
}

/// An event as the log recorded it: the nine envelope fields and the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// 0-based index in the log; gapless.
    pub position: u64,
    /// The event's id.
    pub event_id: EventId,
    /// `"<kind>/<id>"` of the event's subject.
    pub stream: String,
    /// 0-based index within the stream; gapless.
    pub stream_version: u64,
    /// Payload schema version.
    pub schema: u32,
    /// Business date.
    pub occurred_on: Date,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// The authenticated principal that appended it.
    pub actor: String,
    /// What happened (its type is the variant).
    pub payload: Payload,
}

impl RecordedEvent {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }

    /// The envelope as a JSON object (nine fields), without payload or hashes.
    fn envelope_json(&self) -> Map<String, Value> {
        let v = json!({
            "position": self.position,
            "event_id": self.event_id.to_string(),
            "stream": self.stream,
            "stream_version": self.stream_version,
            "type": self.event_type().as_str(),
            "schema": self.schema,
            "occurred_on": self.occurred_on.to_string(),
            "recorded_at": self.recorded_at.to_string(),
            "actor": self.actor,
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    /// JCS of the payload.
    pub fn payload_jcs(&self) -> String {
        to_jcs(&self.payload.to_json_value())
    }

    /// SHA-256 of JCS(payload).
    pub fn payload_sha256(&self) -> Sha256 {
        Sha256::of(self.payload_jcs().as_bytes())
    }

    /// The leaf input: JCS of the envelope plus `payload_sha256` (ten keys).
    pub fn leaf_input(&self) -> String {
        self.leaf_input_with(self.payload_sha256())
    }

    fn leaf_input_with(&self, payload_sha256: Sha256) -> String {
        // Written directly rather than through a JSON map: every leaf is computed at append
        // and again by verify. The keys are fixed, so their JCS order is too (byte order):
        // actor, event_id, occurred_on, payload_sha256, position, recorded_at, schema, stream,
        // stream_version, type. Strings are escaped by serde_json, as JCS requires; the golden
        // vectors and a test against the map-built form hold it to that.
        use std::fmt::Write;
        let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let mut out = String::with_capacity(320 + self.actor.len() + self.stream.len());
        write!(
            out,
            "{{\"actor\":{},\"event_id\":\"{}\",\"occurred_on\":\"{}\",\"payload_sha256\":\"{}\",\"position\":{},\"recorded_at\":\"{}\",\"schema\":{},\"stream\":{},\"stream_version\":{},\"type\":\"{}\"}}",
            q(&self.actor),
            self.event_id,
            self.occurred_on,
            payload_sha256,
            self.position,
            self.recorded_at,
            self.schema,
            q(&self.stream),
            self.stream_version,
            self.event_type().as_str(),
        )
        .expect("writing to a String never fails");
        out
    }

    /// The leaf input built through a JSON map and JCS (the slow, obvious form; for tests).
    #[doc(hidden)]
    pub fn leaf_input_by_map(&self) -> String {
        let mut m = self.envelope_json();
        m.insert(
            "payload_sha256".into(),
            Value::String(self.payload_sha256().to_hex()),
        );
        to_jcs(&Value::Object(m))
    }

    /// SHA-256(0x00 ‖ leaf input): the event's leaf in the Merkle tree.
    pub fn leaf_sha256(&self) -> Sha256 {
        leaf_hash(self.leaf_input().as_bytes())
    }

    /// The export line (formats.md §5): JCS of the envelope, `payload`, `payload_sha256` and
    /// `leaf_sha256` (12 keys), without the final newline.
    pub fn export_line(&self) -> String {
        let payload = self.payload.to_json_value();
        let payload_sha256 = Sha256::of(to_jcs(&payload).as_bytes());
        let leaf = leaf_hash(self.leaf_input_with(payload_sha256).as_bytes());
        let mut m = self.envelope_json();
        m.insert("payload".into(), payload);
        m.insert(
            "payload_sha256".into(),
            Value::String(payload_sha256.to_hex()),
        );
        m.insert("leaf_sha256".into(), Value::String(leaf.to_hex()));
        to_jcs(&Value::Object(m))
    }
}

/// SHA-256(0x00 ‖ leaf input).
pub fn leaf_hash(leaf_input: &[u8]) -> Sha256 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(leaf_input);
    Sha256(h.finalize().into())
}

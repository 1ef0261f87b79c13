//! taizhang's stored types: every event payload (schema 1), the envelope, canonical JSON, the
//! hashes an auditor recomputes, the import line and the stored record codec.
//!
//! This crate is the one place where stored types are defined and versioned. It does no IO.
#![deny(missing_docs)]

pub mod canonical;
pub mod envelope;
pub mod fields;
pub mod import;
pub mod payload;
pub mod policy;
pub mod record;
pub mod time;

pub use envelope::{leaf_hash, ProposedEvent, RecordedEvent, SCHEMA_CURRENT};
pub use fields::{EventId, Id, Sha256};
pub use payload::{EventType, FieldError, Payload};
pub use policy::Policy;
pub use time::{Date, Month, Timestamp};

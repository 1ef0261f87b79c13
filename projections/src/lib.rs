//! taizhang's pure folds: counted events, the ledgers (台账), the review (考核), timelines and audit views.
//!
//! Everything here is a function of a log prefix: no IO, no clock, no sled.
//! A full rebuild reads the prefix twice: once to collect the retractions ([`counted::Retractions`]),
//! once to fold the counted events ([`ledgers::Ledgers::apply`]); memory grows with entities, not events.
//! A projection never fails: what cannot apply is reported as an anomaly beside the result.
//! The one fold that refuses is [`validation::LogState`]: the state the store checks appends against.
#![deny(missing_docs)]

pub mod arith;
pub mod audit;
pub mod counted;
pub mod ledgers;
pub mod review;
pub mod timeline;
pub mod validation;

//! taizhang's pure folds: the log's validation state, and (later) the ledgers, scoring and review.
//!
//! Nothing here does IO, reads a clock or knows of sled: every fold takes recorded events in and
//! gives a value out, so the store, the tests and an auditor's rebuild all get the same answer.
#![deny(missing_docs)]

pub mod validation;

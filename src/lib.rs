//! taizhang: a verifiable, event-sourced audit log of commitments and their fulfilment.

pub mod checkpoint;
pub mod merkle;

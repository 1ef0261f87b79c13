//! taizhang: a verifiable, event-sourced audit log of commitments and their fulfilment.
//!
//! The library behind the `taizhang` program: the store ([`store`], the only code that
//! touches sled and the disk), the Merkle tree ([`merkle`]), signed checkpoints
//! ([`checkpoint`]), the operations the command line runs ([`ops`]), and a deterministic demo
//! city to fill a store with ([`demo`]).
#![deny(missing_docs)]

pub mod bench;
pub mod bench_http;
pub mod checkpoint;
pub mod client;
pub mod demo;
pub mod demo_run;
#[doc(hidden)]
pub mod fuzzing;
pub mod merkle;
pub mod ops;
pub mod render;
pub mod reviews;
pub mod server;
pub mod store;

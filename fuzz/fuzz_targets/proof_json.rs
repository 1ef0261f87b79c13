//! cargo fuzz target `proof_json`: the body is `taizhang::fuzzing::proof_json`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::proof_json(data));

//! cargo fuzz target `verifier_key`: the body is `taizhang::fuzzing::verifier_key`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::verifier_key(data));

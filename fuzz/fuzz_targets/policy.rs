//! cargo fuzz target `policy`: the body is `taizhang::fuzzing::policy`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::policy(data));

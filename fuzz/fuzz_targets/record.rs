//! cargo fuzz target `record`: the body is `taizhang::fuzzing::record`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::record(data));

//! cargo fuzz target `model`: the body is `taizhang::fuzzing::model`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::model(data));

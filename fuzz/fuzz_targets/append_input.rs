//! cargo fuzz target `append_input`: the body is `taizhang::fuzzing::append_input`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::append_input(data));

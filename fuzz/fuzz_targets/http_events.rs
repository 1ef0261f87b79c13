//! cargo fuzz target `http_events`: the body is `taizhang::fuzzing::http_events`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::http_events(data));

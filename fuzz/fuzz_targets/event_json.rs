//! cargo fuzz target `event_json`: the body is `taizhang::fuzzing::event_json`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::event_json(data));

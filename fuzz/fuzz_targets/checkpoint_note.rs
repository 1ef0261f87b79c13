//! cargo fuzz target `checkpoint_note`: the body is `taizhang::fuzzing::checkpoint_note`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::checkpoint_note(data));

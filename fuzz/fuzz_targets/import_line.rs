//! cargo fuzz target `import_line`: the body is `taizhang::fuzzing::import_line`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::import_line(data));

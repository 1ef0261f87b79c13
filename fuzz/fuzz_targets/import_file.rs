//! cargo fuzz target `import_file`: the body is `taizhang::fuzzing::import_file`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::import_file(data));

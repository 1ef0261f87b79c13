//! cargo fuzz target `secret_key`: the body is `taizhang::fuzzing::secret_key`, shared with tests/fuzz_smoke.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taizhang::fuzzing::secret_key(data));

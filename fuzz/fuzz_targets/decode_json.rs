#![no_main]
//! See `polycodec::fuzzing::json` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::json(data));

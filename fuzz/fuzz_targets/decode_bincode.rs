#![no_main]
//! See `polycodec::fuzzing::bincode` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::bincode(data));

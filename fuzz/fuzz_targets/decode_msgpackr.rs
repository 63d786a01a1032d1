#![no_main]
//! See `polycodec::fuzzing::msgpackr` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::msgpackr(data));

#![no_main]
//! See `polycodec::fuzzing::value_round_trip` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::value_round_trip(data));

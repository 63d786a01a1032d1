#![no_main]
//! See `polycodec::fuzzing::msgpack` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::msgpack(data));

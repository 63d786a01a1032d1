#![no_main]
//! See `polycodec::fuzzing::superjson_meta` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::superjson_meta(data));

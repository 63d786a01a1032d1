#![no_main]
//! See `polycodec::fuzzing::rpc_frame` for the property checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| polycodec::fuzzing::rpc_frame(data));

//! The codec tests, one binary: the value model and every codec, typed and through `Value`,
//! against the conformance data in `codecs/` (from the real superjson 2.2.6, @msgpack/msgpack
//! and msgpackr), hostile input and every fuzz finding. They need nothing but cargo and run
//! with `--no-default-features` too (`cargo test -p polycodec --no-default-features --test codec`).

#[path = "../common/mod.rs"]
mod common;

mod custom_codec;
mod fuzz_regressions;
mod js_semantics;
mod msgpack_extensions;
mod msgpack_golden;
mod msgpackr_reader;
mod msgpackr_vectors;
mod roundtrip_props;
mod superjson_conformance;
mod superjson_malformed;
mod typed;

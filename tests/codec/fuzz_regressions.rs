//! `cargo test` side of the fuzzing: every input that ever crashed a fuzz target
//! (`fuzz/regressions/<target>/`), the local corpus when one exists (`fuzz/corpus/`), and the
//! conformance data the corpora are seeded from, all run through the same checks as the
//! fuzz targets (`polycodec::fuzzing`).

use polycodec::fuzzing;
use std::path::Path;

type Check = fn(&[u8]);

fn targets() -> Vec<(&'static str, Check)> {
    vec![
        ("decode_superjson", fuzzing::superjson as Check),
        ("decode_json", fuzzing::json),
        ("decode_msgpack", fuzzing::msgpack),
        ("decode_msgpackr", fuzzing::msgpackr),
        #[cfg(feature = "bincode")]
        ("decode_bincode", fuzzing::bincode),
        ("superjson_meta", fuzzing::superjson_meta),
        #[cfg(feature = "rpc")]
        #[cfg(feature = "rpc")]
        ("rpc_frame", fuzzing::rpc_frame),
        ("value_round_trip", fuzzing::value_round_trip),
    ]
}

fn replay(dir: &Path, check: Check) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        check(&bytes);
        n += 1;
    }
    n
}

#[test]
fn every_saved_crash_and_corpus_input_passes_the_fuzz_checks() {
    let root = crate::common::repo_root().join("fuzz");
    let mut total = 0;
    for (name, check) in targets() {
        total += replay(&root.join("regressions").join(name), check);
        total += replay(&root.join("corpus").join(name), check);
    }
    println!("replayed {total} saved inputs");
}

#[test]
fn conformance_data_passes_the_fuzz_checks() {
    use polycodec::codec::{Codec, Json};
    let root = crate::common::repo_root().join("codecs");
    let read = |p: &str| {
        Json::new()
            .with_limits(polycodec::Limits::unlimited())
            .decode_value(&std::fs::read(root.join(p)).unwrap())
            .unwrap()
    };
    let vectors = read("superjson/vectors.json");
    let mut n = 0;
    for c in vectors.get("cases").unwrap().as_array().unwrap() {
        let s = c.get("stringified").unwrap().as_str().unwrap();
        fuzzing::superjson(s.as_bytes());
        n += 1;
    }
    let malformed = read("superjson/malformed.json");
    for c in malformed.get("cases").unwrap().as_array().unwrap() {
        if let Some(s) = c.get("input").and_then(|i| i.as_str()) {
            fuzzing::superjson(s.as_bytes());
            #[cfg(feature = "rpc")]
            fuzzing::rpc_frame(s.as_bytes());
            n += 1;
        }
    }
    let golden = read("msgpack/golden.json");
    for c in golden.get("cases").unwrap().as_array().unwrap() {
        let h = c.get("hex").unwrap().as_str().unwrap();
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect();
        fuzzing::msgpack(&bytes);
        n += 1;
    }
    for c in read("msgpackr/vectors.json").as_array().unwrap() {
        let h = c.get("hex").unwrap().as_str().unwrap();
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect();
        fuzzing::msgpackr(&bytes);
        fuzzing::msgpack(&bytes);
        n += 1;
    }
    for seed in 0..200u8 {
        let bytes: Vec<u8> = (0..96u8)
            .map(|i| seed.wrapping_mul(31).wrapping_add(i.wrapping_mul(7)))
            .collect();
        fuzzing::value_round_trip(&bytes);
    }
    assert!(n > 250);
}

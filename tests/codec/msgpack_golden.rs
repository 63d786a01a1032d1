//! MessagePack golden vectors written by the real `@msgpack/msgpack` with the shipped
//! `js/msgpack-extensions.mjs` (`codecs/msgpack/golden.json`): polycodec reads each one as
//! the value JS encoded, and writes that value back byte for byte.

use crate::common::*;
use polycodec::codec::{Codec, MsgPack, SuperJson};
use polycodec::Value;

#[test]
fn golden_vectors_decode_to_the_js_value_and_reencode_byte_for_byte() {
    let file = load_json("msgpack/golden.json");
    let cases = get(&file, "cases").as_array().unwrap();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = s(case, "name");
        let bytes = unhex(s(case, "hex"));
        let decoded = match MsgPack::new().decode_value(&bytes) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: decode: {e}"));
                continue;
            }
        };
        // The same JS value written by superjson says what the value is (where superjson
        // can hold it: `lossy` cases say why not).
        if case.get("lossy").is_none() {
            let want = SuperJson::new()
                .decode_value(s(case, "superjson").as_bytes())
                .unwrap();
            if normalize(&decoded) != normalize(&want) {
                failures.push(format!(
                    "{name}: decoded {decoded:?}\n   superjson says {want:?}"
                ));
            }
        }
        match MsgPack::new().encode_value(&decoded) {
            Ok(again) if again == bytes => {}
            Ok(again) => failures.push(format!(
                "{name}: re-encoded\n   got  {}\n   want {}",
                &hex(&again)[..hex(&again).len().min(200)],
                &s(case, "hex")[..s(case, "hex").len().min(200)]
            )),
            Err(e) => failures.push(format!("{name}: encode: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_header_claiming_four_billion_elements_allocates_nothing() {
    for bytes in [
        &b"\xdd\xff\xff\xff\xff"[..],
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
    ] {
        let err = MsgPack::new().decode_value(bytes).unwrap_err();
        assert!(err.is_limit() || err.is_syntax(), "{err}");
    }
    let err = MsgPack::new()
        .with_limits(polycodec::Limits::default().max_collection_len(10))
        .decode_value(b"\xdc\x00\x20")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "collection of 32 elements is over the limit of 10 at byte 3"
    );
}

#[test]
fn errors_name_the_byte_offset() {
    let table: [(&[u8], &str); 4] = [
        (b"\x92\x01", "unexpected end of input at byte 2"),
        (
            b"\xc1",
            "invalid MessagePack marker 0xc1 (msgpackr writes it for a bundled-string \
             reference, `bundleStrings`, which needs msgpackr's own string bundle) at byte 0",
        ),
        (
            b"\x91\xa2a\xff",
            "invalid UTF-8 in string at path `0` at byte 3",
        ),
        (b"\x01\x02", "trailing bytes after the document at byte 1"),
    ];
    for (bytes, msg) in table {
        let err = MsgPack::new().decode_value(bytes).unwrap_err();
        assert_eq!(err.to_string(), msg);
    }
}

/// Repeated Set members and Map keys from the wire collapse as JS's `new Set` / `new Map`
/// make them (what `@msgpack/msgpack` with the extensions gives): the first position, the
/// last value; also for a bare map with non-string keys, which reads as a Map.
#[test]
fn repeated_set_members_and_map_keys_collapse_as_in_js() {
    let read = |h: &str| MsgPack::new().decode_value(&unhex(h)).unwrap();
    // Set ext [undefined, 1, undefined, 1.0 (float 64)]
    let set = read("c7115094c7000001c70000cb3ff0000000000000");
    assert_eq!(set, Value::Set(vec![Value::Undefined, Value::from(1)]));
    // Map ext {undefined: 1, "a": 2, undefined: 3}
    let map = read("c70c5183c7000001a16102c7000003");
    assert_eq!(
        map,
        Value::Map(vec![
            (Value::Undefined, Value::from(3)),
            (Value::from("a"), Value::from(2)),
        ])
    );
    // A bare map {1: "x", 2: "y", 1: "z"}
    let bare = read("8301a17802a17901a17a");
    assert_eq!(
        bare,
        Value::Map(vec![
            (Value::from(1), Value::from("z")),
            (Value::from(2), Value::from("y")),
        ])
    );
    // Written back, each is what JS writes for the collapsed value.
    assert_eq!(
        hex(&MsgPack::new().encode_value(&set).unwrap()),
        "c7055092d4000001"
    );
}

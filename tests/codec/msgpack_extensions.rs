//! MessagePack extension payloads are read as strictly as `js/msgpack-extensions.mjs` reads
//! them, extensions inside extensions are bounded by the depth limit, and what polycodec
//! writes it can read back at the same limits. (Found by a review: each case below was
//! accepted, mangled or crashed before.)

use polycodec::codec::{Codec, MsgPack};
use polycodec::value::{BigInt, TypedArray, TypedArrayKind};
use polycodec::{Category, JsError, Object, RegExp, Value};
use std::collections::BTreeSet;

/// `payload` as an ext 32 of type `ty`.
fn ext32(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc9];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.push(ty);
    out.extend_from_slice(payload);
    out
}

/// `payload` as an ext 8 of type `ty`.
fn ext8(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc7, payload.len() as u8, ty];
    out.extend_from_slice(payload);
    out
}

#[test]
fn extensions_nested_directly_in_extensions_fail_at_once_without_recursing() {
    // 10,000 Sets, each the whole payload of the one outside it (60 KB): this overflowed
    // the stack (an extension was read to its end before its payload's type was checked).
    let mut doc = vec![0xc0];
    for _ in 0..10_000 {
        doc = ext32(2, &doc);
    }
    let err = MsgPack::new().decode_value(&doc).unwrap_err();
    assert_eq!(err.classify(), Category::Data);
    assert_eq!(err.message(), "invalid Set extension payload");
    assert_eq!(err.offset(), Some(0));
}

#[test]
fn extensions_nested_through_containers_hit_the_depth_limit() {
    // Set(array(Set(array(...)))): every array is a level, so 2,000 Sets are a limit error
    // in every reader, never a stack overflow.
    let mut doc = vec![0xc0];
    for _ in 0..2_000 {
        let mut arr = vec![0x91];
        arr.extend_from_slice(&doc);
        doc = ext32(2, &arr);
    }
    let mp = MsgPack::new();
    let err = mp.decode_value(&doc).unwrap_err();
    assert_eq!(err.classify(), Category::Limit);
    assert_eq!(err.message(), "nesting deeper than the depth limit of 1024");
    assert_eq!(
        mp.from_slice::<Value>(&doc).unwrap_err().classify(),
        Category::Limit
    );
}

#[test]
fn nested_extensions_decode_the_same_as_through_serde() {
    // 50 Sets, each around an array that holds the next Set and 1,000 nils: `decode_value`
    // (which builds every level once; through the visitor each level was copied again, and
    // 400 such levels around a million nils took 15.6 s) gives what `Value`'s own
    // `Deserialize` gives. The speed is not timed here (the fuzz target compares the two
    // paths on every input).
    let mut doc = vec![0xc0];
    for _ in 0..50 {
        let mut arr = vec![0xdc];
        arr.extend_from_slice(&1001u16.to_be_bytes());
        arr.extend_from_slice(&doc);
        arr.extend(std::iter::repeat_n(0xc0, 1000));
        doc = ext32(2, &arr);
    }
    let mp = MsgPack::new();
    let direct = mp.decode_value(&doc).unwrap();
    let via_serde = mp.from_slice::<Value>(&doc).unwrap();
    assert_eq!(direct, via_serde);
    let mut v = &direct;
    let mut levels = 0;
    while let Value::Set(s) = v {
        levels += 1;
        // The inner Set and one nil (the nils collapse); the innermost holds nil only.
        assert_eq!(s.len(), if levels == 50 { 1 } else { 2 });
        v = &s[0];
    }
    assert_eq!(levels, 50);
}

#[test]
fn malformed_extension_payloads_get_the_js_modules_errors() {
    let digits = "1".repeat(10_001);
    #[rustfmt::skip]
    let cases: Vec<(Vec<u8>, Category, &str, usize)> = vec![
        (vec![0xd4, 0x00, 0x01], Category::Data, "undefined extension payload must be empty", 0),
        (vec![0xd4, 0x09, 0x01], Category::Data, "invalid Date extension payload must be empty", 0),
        (ext8(1, b"+12"), Category::Data, "bigint extension payload is not a canonical decimal integer: \"+12\"", 0),
        (ext8(1, b"012"), Category::Data, "bigint extension payload is not a canonical decimal integer: \"012\"", 0),
        (ext8(1, b"-0"), Category::Data, "bigint extension payload is not a canonical decimal integer: \"-0\"", 0),
        (ext8(1, b"1_0"), Category::Data, "bigint extension payload is not a canonical decimal integer: \"1_0\"", 0),
        (ext8(1, b""), Category::Data, "bigint extension payload is not a canonical decimal integer: \"\"", 0),
        (ext32(1, digits.as_bytes()), Category::Limit, "bigint of 10001 characters is over the limit of 10000", 0),
        // The bad byte is named, not the extension's header.
        (ext8(1, b"1\xff"), Category::Syntax, "invalid UTF-8 in string", 4),
        (vec![0xd6, 0x06, b'n', b'o', b'p', b'e'], Category::Data, "Invalid URL: nope", 0),
        // An Error needs string `name` and `message`.
        (vec![0xd4, 0x05, 0x80], Category::Data, "Error extension payload must be a map with string name and message", 0),
        (ext8(5, b"\x81\xa4name\xa1E"), Category::Data, "Error extension payload must be a map with string name and message", 0),
        // A Map's payload is one map, not another Map extension.
        (vec![0xc7, 0x03, 0x03, 0xd4, 0x03, 0x80], Category::Data, "invalid Map extension payload", 0),
        (vec![0xd4, 0x02, 0x80], Category::Data, "invalid Set extension payload", 0),
    ];
    let mp = MsgPack::new();
    for (bytes, category, message, offset) in cases {
        let err = mp.decode_value(&bytes).unwrap_err();
        assert_eq!(
            (err.classify(), err.message(), err.offset()),
            (category, message, Some(offset)),
            "{bytes:02x?}"
        );
    }
    // The canonical forms still read.
    for (text, n) in [
        ("0", 0i64),
        ("-12", -12),
        ("9007199254740993", 9007199254740993),
    ] {
        assert_eq!(
            mp.decode_value(&ext8(1, text.as_bytes())).unwrap(),
            Value::BigInt(BigInt::from(n))
        );
    }
}

#[test]
fn a_typed_set_field_refuses_what_the_value_path_refuses() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct S {
        #[serde(with = "polycodec::js::set")]
        s: BTreeSet<u32>,
    }
    // {s: Set ext whose payload is a map}
    let bytes = [0x81, 0xa1, b's', 0xd4, 0x02, 0x80];
    let err = MsgPack::new().from_slice::<S>(&bytes).unwrap_err();
    assert_eq!(err.message(), "invalid Set extension payload");
}

#[test]
fn urls_are_normalized_as_new_url_does() {
    let v = MsgPack::new()
        .decode_value(&ext8(6, b"HTTP://A.com"))
        .unwrap();
    assert_eq!(v, Value::Url("http://a.com/".into()));
}

#[test]
fn error_props_with_integer_keys_come_first_as_in_js() {
    // What js/msgpack-extensions.mjs writes for Object.assign(new Error("m"), {1: 2, code: "E1"}).
    let js = "c7210584a13102a46e616d65a54572726f72a76d657373616765a16da4636f6465a24531";
    let mut props = Object::new();
    props.insert("code", Value::from("E1"));
    props.insert("1", Value::from(2.0));
    let mut e = JsError::new("Error", "m");
    e.props = props;
    let mp = MsgPack::new();
    let bytes = mp.encode_value(&Value::Error(Box::new(e))).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, js);
}

#[test]
fn what_is_written_reads_back_at_the_same_depth_limit() {
    // A RegExp or typed array payload is an array, a level to the reader: the writer counts
    // it too (a regexp under 1,024 arrays was written, then refused when read back).
    let leaves = [
        Value::RegExp(Box::new(RegExp::new("a", "g").unwrap())),
        Value::TypedArray(Box::new(TypedArray::new(TypedArrayKind::Int16, [1.0, 2.0]))),
    ];
    let mp = MsgPack::new();
    for leaf in leaves {
        for depth in [1022, 1023, 1024] {
            let mut v = leaf.clone();
            for _ in 0..depth {
                v = Value::Array(vec![v]);
            }
            let written = mp.encode_value(&v);
            assert_eq!(written.is_ok(), depth < 1024, "{depth}");
            if let Ok(bytes) = written {
                assert_eq!(mp.decode_value(&bytes).unwrap(), v);
            }
        }
    }
}

/// Two deliberate differences listed in codecs/msgpack/README.md: `BigInt64Array` and
/// `BigUint64Array` (which the JS module writes) are refused, since typed-array elements
/// are doubles here; a `__proto__` key reads as an ordinary key (JS refuses it).
#[test]
fn documented_differences_from_the_js_module_hold() {
    let mp = MsgPack::new();
    for name in ["BigInt64Array", "BigUint64Array"] {
        // [name, 16 bytes]: what the JS module writes for new BigInt64Array([1n, -2n]).
        let mut payload = vec![0x92, 0xa0 | name.len() as u8];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(&[0xc4, 16]);
        payload.extend_from_slice(&1i64.to_le_bytes());
        payload.extend_from_slice(&(-2i64).to_le_bytes());
        let err = mp.decode_value(&ext8(8, &payload)).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid typed array extension payload",
            "{name}"
        );
    }
    let mut doc = vec![0x81, 0xa9];
    doc.extend_from_slice(b"__proto__");
    doc.push(0x01);
    let mut o = Object::new();
    o.insert("__proto__", Value::from(1));
    assert_eq!(mp.decode_value(&doc).unwrap(), Value::Object(o));
}

//! MessagePack extension payloads: polycodec's private block (0x50–0x56) reads what
//! `js/msgpack-extensions.mjs` writes and keeps a payload that does not validate opaque,
//! extensions inside extensions are bounded by the depth limit, and what polycodec writes it
//! can read back at the same limits. (Found by a review: each case below was accepted,
//! mangled or crashed before.)

use polycodec::codec::{Codec, MsgPack};
use polycodec::value::{TypedArray, TypedArrayKind};
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

/// The private Set extension.
const SET: u8 = 0x50;

#[test]
fn extensions_nested_directly_in_extensions_stay_opaque_without_recursing() {
    // 10,000 Sets, each the whole payload of the one outside it (60 KB): this overflowed
    // the stack (an extension was read to its end before its payload's type was checked).
    // A Set payload must start with an array: the outer one is kept opaque at once.
    let mut doc = vec![0xc0];
    for _ in 0..10_000 {
        doc = ext32(SET, &doc);
    }
    let v = MsgPack::new().decode_value(&doc).unwrap();
    let Value::Ext { ty, data } = &v else {
        panic!("{v:?}")
    };
    assert_eq!((*ty, &data[..]), (SET as i8, &doc[6..]));
    // Written back in the smallest header, with the same payload.
    let again = MsgPack::new().encode_value(&v).unwrap();
    assert_eq!(
        (&again[..4], &again[4..]),
        (&[0xc8, 0xea, 0x5b, SET][..], &doc[6..])
    );
}

#[test]
fn extensions_nested_through_containers_hit_the_depth_limit() {
    // Set(array(Set(array(...)))): every array is a level, so 2,000 Sets are a limit error
    // in every reader, never a stack overflow.
    let mut doc = vec![0xc0];
    for _ in 0..2_000 {
        let mut arr = vec![0x91];
        arr.extend_from_slice(&doc);
        doc = ext32(SET, &arr);
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
        doc = ext32(SET, &arr);
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
fn private_payloads_that_do_not_validate_are_kept_opaque_and_written_back() {
    #[rustfmt::skip]
    let cases: Vec<Vec<u8>> = vec![
        ext8(0x56, b"\x01"),                  // invalid Date with a payload
        ext8(0x54, b"nope"),                  // URL that is none
        ext8(0x53, b"\x80"),                  // Error without name and message
        ext8(0x53, b"\x81\xa4name\xa1E"),
        ext8(0x51, b"\xd4\x51\x80"),          // Map whose payload is a Map
        ext8(0x50, b"\x80"),                  // Set whose payload is a map
        ext8(0x54, b"1\xff"),                 // URL that is no UTF-8
        ext8(0x52, b"\x92\xa1a\xa2gg"),       // RegExp with a repeated flag
    ];
    let mp = MsgPack::new();
    for bytes in cases {
        let v = mp.decode_value(&bytes).unwrap();
        assert!(matches!(v, Value::Ext { .. }), "{bytes:02x?}: {v:?}");
        // Written back with the same type and payload, in the smallest header.
        for w in [mp, MsgPack::msgpackr()] {
            let again = w.encode_value(&v).unwrap();
            assert_eq!(again[again.len() - (bytes.len() - 3)..], bytes[3..]);
            assert!(again.len() <= bytes.len());
            assert_eq!(mp.decode_value(&again).unwrap(), v);
        }
    }
    // The canonical forms still read.
    assert_eq!(
        mp.decode_value(&ext8(0x54, b"HTTP://A.com")).unwrap(),
        Value::Url("http://a.com/".into())
    );
    assert_eq!(
        mp.decode_value(&[0xc7, 0x00, 0x56]).unwrap(),
        Value::Date(polycodec::Date::invalid())
    );
}

#[test]
fn application_and_reserved_extension_types_are_kept_in_the_smallest_header() {
    let mp = MsgPack::new();
    for ty in [1u8, 2, 3, 4, 5, 6, 7, 9, 100, 127, 0x80, 0xfe] {
        for len in [0usize, 1, 2, 3, 4, 8, 16, 17, 255, 256, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            // A message of another header width reads the same and is written smallest.
            let v = mp.decode_value(&ext32(ty, &data)).unwrap();
            assert_eq!(
                v,
                Value::Ext {
                    ty: ty as i8,
                    data: data.clone().into()
                }
            );
            let out = mp.encode_value(&v).unwrap();
            let header = match len {
                1 => vec![0xd4, ty],
                2 => vec![0xd5, ty],
                4 => vec![0xd6, ty],
                8 => vec![0xd7, ty],
                16 => vec![0xd8, ty],
                n if n < 256 => vec![0xc7, n as u8, ty],
                n if n < 65_536 => vec![0xc8, (n >> 8) as u8, n as u8, ty],
                n => {
                    let mut h = vec![0xc9];
                    h.extend_from_slice(&(n as u32).to_be_bytes());
                    h.push(ty);
                    h
                }
            };
            assert_eq!(out[..header.len()], header[..], "type {ty}, {len} bytes");
            assert_eq!(out[header.len()..], data[..]);
        }
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
    let bytes = [0x81, 0xa1, b's', 0xd4, 0x50, 0x80];
    let err = MsgPack::new().from_slice::<S>(&bytes).unwrap_err();
    assert_eq!(err.message(), "invalid Set extension payload");
}

#[test]
fn error_props_with_integer_keys_come_first_as_in_js() {
    // What js/msgpack-extensions.mjs writes for Object.assign(new Error("m"), {1: 2, code: "E1"}).
    let js = "c7215384a13102a46e616d65a54572726f72a76d657373616765a16da4636f6465a24531";
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
    // A RegExp payload is an array, a level to the reader: the writer counts it too (a
    // regexp under 1,024 arrays was written, then refused when read back). A typed array is
    // flat bytes (msgpackr's 0x74): no level.
    let leaves = [
        Value::RegExp(Box::new(RegExp::new("a", "g").unwrap())),
        Value::Set(vec![Value::from(1)]),
    ];
    let t = Value::TypedArray(Box::new(TypedArray::new(TypedArrayKind::Int16, [1.0, 2.0])));
    let mut deep = t;
    for _ in 0..1023 {
        deep = Value::Array(vec![deep]);
    }
    for mp in [MsgPack::new(), MsgPack::msgpackr()] {
        assert_eq!(
            mp.decode_value(&mp.encode_value(&deep).unwrap()).unwrap(),
            deep
        );
    }
    for (leaf, mp) in leaves.iter().flat_map(|l| {
        [
            (l.clone(), MsgPack::new()),
            (l.clone(), MsgPack::msgpackr()),
        ]
    }) {
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

/// Deliberate differences listed in codecs/msgpack/README.md: `BigInt64Array` and
/// `BigUint64Array` (msgpackr's 0x74 codes 9 and 10) are kept opaque, since typed-array
/// elements are doubles here; a `__proto__` key reads as an ordinary key (JS refuses it).
#[test]
fn documented_differences_from_the_js_module_hold() {
    let mp = MsgPack::new();
    for code in [9u8, 10] {
        let mut payload = vec![code];
        payload.extend_from_slice(&1i64.to_le_bytes());
        payload.extend_from_slice(&(-2i64).to_le_bytes());
        let v = mp.decode_value(&ext8(0x74, &payload)).unwrap();
        assert_eq!(
            v,
            Value::Ext {
                ty: 0x74,
                data: payload.into()
            }
        );
    }
    let mut doc = vec![0x81, 0xa9];
    doc.extend_from_slice(b"__proto__");
    doc.push(0x01);
    let mut o = Object::new();
    o.insert("__proto__", Value::from(1));
    assert_eq!(mp.decode_value(&doc).unwrap(), Value::Object(o));
}

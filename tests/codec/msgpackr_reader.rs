//! msgpackr's forms that need per-message state (records, prefix tags, references): what
//! they read as, the exact error where the bytes are wrong, the bounds on what references
//! expand to, and the typed path writing and reading records. Plus the number and bigint
//! rules both profiles share.

use crate::common::*;
use polycodec::codec::{Codec, Int64As, Json, MsgPack, SuperJson};
use polycodec::{Category, Limits, Object, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

fn err(hex_bytes: &str) -> polycodec::Error {
    MsgPack::msgpackr()
        .decode_value(&unhex(hex_bytes))
        .unwrap_err()
}

#[test]
fn wrong_msgpackr_bytes_get_exact_errors_with_offsets() {
    #[rustfmt::skip]
    let cases: [(&str, Category, &str, usize); 13] = [
        // [64 (a bare 0x40), record 0x40 defined after it]
        ("9240d4724091a16101", Category::Data, "msgpackr record 0x40 is defined after the same byte was read as the integer 64 earlier in the message (a record id used before its definition)", 2),
        // A key that is not a string, keys that are no array.
        ("d472409101", Category::Data, "a key of msgpackr record 0x40 is not a string", 4),
        ("d4724001", Category::Data, "msgpackr record definition 0x40 must be followed by an array of keys", 3),
        ("d5724000", Category::Data, "two-byte msgpackr record ids (d5 72) are not supported: they come with shared `structures` or `maxOwnStructures` over 64, which need state kept across messages", 0),
        // References.
        ("d67000000001", Category::Data, "msgpackr pointer to reference id 1, which no target before it defines", 0),
        ("92d6690000000190d6690000000190", Category::Data, "msgpackr reference id 1 is defined twice", 8),
        ("d66900000001", Category::Data, "msgpackr reference target 1 (d6 69) has no value after it", 0),
        ("d66900000001d6690000000290", Category::Data, "msgpackr reference target 1 (d6 69) is followed by another target, not by the value it names", 0),
        // Tags.
        ("d47300", Category::Data, "msgpackr Set tag (d4 73 00) has no value after it", 0),
        ("91d46500", Category::Data, "msgpackr Error tag (d4 65 00) has no value after it", 1),
        ("d4780001", Category::Data, "msgpackr RegExp tag must be followed by [source, flags]", 0),
        // Payloads of the wrong length.
        ("c70042", Category::Data, "bigint extension 0x42 has an empty payload", 0),
        ("c7047405010203", Category::Data, "typed array extension 0x74 (code 5) holds 3 bytes, not a multiple of its element size 4", 0),
    ];
    for (h, category, message, offset) in cases {
        let e = err(h);
        assert_eq!(
            (e.classify(), e.message(), e.offset()),
            (category, message, Some(offset)),
            "{h}"
        );
        // The standard profile reads the same forms the same way.
        let s = MsgPack::new().decode_value(&unhex(h)).unwrap_err();
        assert_eq!(s.message(), e.message());
    }
    for (h, message) in [
        ("c70674070102030405", "typed array extension 0x74 (code 7) holds 5 bytes, not a multiple of its element size 4"),
        ("c7017400", "typed array extension 0x74 (code 0) holds 0 bytes, not a multiple of its element size 1"),
        ("c7017412", "typed array extension 0x74 has the unknown element type code 18"),
        ("c70074", "typed array extension 0x74 has no element type code"),
    ] {
        let e = MsgPack::new().decode_value(&unhex(h));
        match e {
            Err(e) => assert_eq!(e.message(), message, "{h}"),
            Ok(v) => assert!(message.contains("0 bytes"), "{h}: {v:?}"),
        }
    }
}

#[test]
fn state_from_earlier_messages_is_refused_by_name() {
    // msgpackr `sequential` / shared `structures`: a record id never defined here.
    let e = err("4002a162");
    assert!(e.message().contains("`sequential`"), "{e}");
    assert!(e.message().contains("shared `structures`"), "{e}");
    // `bundleStrings`.
    let e = err("de0002d6620000000cc108c10bc105c106a0be");
    assert!(e.message().contains("bundled strings"), "{e}");
}

#[test]
fn records_are_redefined_after_64_shapes_as_msgpackr_does() {
    // 70 objects of 70 shapes, twice: ids 0x40.. are given again after 64.
    let shapes: Vec<Value> = (0..140)
        .map(|i| {
            let mut o = Object::new();
            o.insert(format!("k{}", i % 70), Value::from(i));
            Value::Object(o)
        })
        .collect();
    let v = Value::Array(shapes);
    let mp = MsgPack::msgpackr();
    let bytes = mp.encode_value(&v).unwrap();
    assert_eq!(mp.decode_value(&bytes).unwrap(), v);
    assert_eq!(MsgPack::new().decode_value(&bytes).unwrap(), v);
    // Nested 70 deep: every definition inside an object whose own id comes back.
    let mut deep = Value::Null;
    for i in 0..70 {
        let mut o = Object::new();
        o.insert(format!("d{i}"), deep);
        o.insert("same", Value::from(i));
        deep = Value::Object(o);
    }
    let deep = Value::Array(vec![deep.clone(), deep]);
    let bytes = mp.encode_value(&deep).unwrap();
    assert_eq!(mp.decode_value(&bytes).unwrap(), deep);
}

#[test]
fn reference_chains_read_small_and_expand_only_within_the_limits() {
    // 60 levels, each an array holding the level below twice: 2^60 nodes once expanded,
    // 6 bytes a pointer on the wire. Read as shared nodes, nothing is copied.
    let mut bytes = Vec::new();
    for id in 1..=60u32 {
        bytes.extend_from_slice(&[0xd6, 0x69]);
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.push(0x92);
    }
    bytes.push(0xc0);
    bytes.push(0xc0);
    for id in (1..60u32).rev() {
        bytes.extend_from_slice(&[0xd6, 0x70]);
        bytes.extend_from_slice(&(id + 1).to_be_bytes());
    }
    let mp = MsgPack::msgpackr();
    let v = mp.decode_value(&bytes).unwrap();
    // Written back in the msgpackr profile: references again (numbered as msgpackr numbers
    // them, by second place met), as small.
    let again = mp.encode_value(&v).unwrap();
    assert!(again.len() <= bytes.len(), "{}", again.len());
    assert_eq!(mp.decode_value(&again).unwrap(), v);
    // Where references must be expanded, the expansion limit stops them.
    for e in [
        MsgPack::new().encode_value(&v).unwrap_err(),
        Json::new().encode_value(&v).unwrap_err(),
        SuperJson::new().encode_value(&v).unwrap_err(),
        mp.from_slice::<Vec<serde_json::Value>>(&bytes).unwrap_err(),
    ] {
        assert_eq!(e.classify(), Category::Limit, "{e}");
    }
}

#[test]
fn superjson_referential_equalities_survive_the_msgpackr_profile() {
    for text in [
        r#"{"json":{"a":{"x":1},"b":null},"meta":{"referentialEqualities":{"a":["b"]},"v":1}}"#,
        r#"{"json":{"name":"self","self":null},"meta":{"referentialEqualities":{"":["self"]},"v":1}}"#,
        r#"{"json":[[1],[1],{"m":[[["k"],"v"]]},null],"meta":{"values":{"2.m":["map"]},"referentialEqualities":{"0":["1"],"2.m.0.0":["3"]},"v":1}}"#,
    ] {
        let sj = SuperJson::new();
        let v = sj.decode_value(text.as_bytes()).unwrap();
        let mp = MsgPack::msgpackr();
        let back = mp.decode_value(&mp.encode_value(&v).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(sj.encode_value(&back).unwrap()).unwrap(),
            String::from_utf8(sj.encode_value(&v).unwrap()).unwrap(),
            "{text}"
        );
    }
}

#[test]
fn a_typed_read_of_a_message_with_references_goes_through_a_value() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Pair {
        a: BTreeMap<String, i32>,
        b: BTreeMap<String, i32>,
    }
    // The vector "shared object (0x69 id / 0x70 pointer)".
    let bytes = unhex("d4724092a161a162d66900000001d4724191a17801d67000000001");
    let p: Pair = MsgPack::new().from_slice(&bytes).unwrap();
    assert_eq!(p.a, p.b);
    assert_eq!(p.a.get("x"), Some(&1));
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct User {
    id: u32,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    tags: Vec<String>,
    role: Role,
    extra: HashMap<String, i64>,
    by_id: BTreeMap<u32, String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Role {
    Admin,
    Member { since: u32 },
    Guest(String),
}

#[test]
fn typed_values_write_the_records_their_value_writes() {
    let users: Vec<User> = (0..80)
        .map(|i| User {
            id: i,
            name: format!("u{i}"),
            email: (i % 3 == 0).then(|| format!("u{i}@x")),
            tags: vec!["a".into()],
            role: match i % 3 {
                0 => Role::Admin,
                1 => Role::Member { since: i },
                _ => Role::Guest("g".into()),
            },
            extra: [(format!("e{}", i % 70), i64::from(i))]
                .into_iter()
                .collect(),
            by_id: [(i, "x".into())].into_iter().collect(),
        })
        .collect();
    let mp = MsgPack::msgpackr();
    let typed = mp.to_vec(&users).unwrap();
    let via_value = mp
        .encode_value(&polycodec::to_value(&users).unwrap())
        .unwrap();
    // Both read back as the same value (the typed path may number its records otherwise).
    assert_eq!(
        mp.decode_value(&typed).unwrap(),
        mp.decode_value(&via_value).unwrap()
    );
    let back: Vec<User> = mp.from_slice(&typed).unwrap();
    assert_eq!(back, users);
    let back: Vec<User> = MsgPack::new().from_slice(&via_value).unwrap();
    assert_eq!(back, users);
    // A struct of one shape is its definition once, then its id.
    #[derive(Serialize)]
    struct P {
        x: i32,
        y: i32,
    }
    let ps = mp.to_vec(&[P { x: 1, y: 2 }, P { x: 3, y: 4 }]).unwrap();
    assert_eq!(hex(&ps), "92d4724092a178a179010240".to_owned() + "0304");
}

#[test]
fn numbers_and_bigints_follow_the_js_libraries() {
    let big = |s: &str| Value::BigInt(s.parse().unwrap());
    for (v, h) in [
        (Value::from(64.0), "40"),
        (Value::from(4294967295.0), "ceffffffff"),
        (Value::from(4294967296.0), "cb41f0000000000000"),
        (Value::from(-2147483649.0), "cbc1e0000000200000"),
        (Value::from(-0.0), "cb8000000000000000"),
        (big("5"), "d30000000000000005"),
        (big("-5"), "d3fffffffffffffffb"),
        (big("9223372036854775808"), "cf8000000000000000"),
        (
            big("18446744073709551616"),
            "d84200000000000000010000000000000000",
        ),
    ] {
        assert_eq!(hex(&MsgPack::new().encode_value(&v).unwrap()), h, "{v:?}");
        assert_eq!(MsgPack::new().decode_value(&unhex(h)).unwrap(), v, "{h}");
    }
    // msgpackr's ints 64-127 are uint 8 (0x40-0x7f are record ids).
    assert_eq!(
        hex(&MsgPack::msgpackr()
            .encode_value(&Value::from(64.0))
            .unwrap()),
        "cc40"
    );
    assert_eq!(hex(&MsgPack::msgpackr().to_vec(&100u8).unwrap()), "cc64");
    // A typed integer past 32 bits is a float 64 up to 2^53, a bigint beyond, and reads
    // back into its field.
    for n in [1u64 << 32, (1 << 53) - 1, 1 << 53, u64::MAX] {
        let bytes = MsgPack::new().to_vec(&n).unwrap();
        assert_eq!(MsgPack::new().from_slice::<u64>(&bytes).unwrap(), n);
    }
    // Int64As::Auto: the ±2^53 rule for peers that write large Numbers as integers.
    let auto = MsgPack::new().with_int64_as(Int64As::Auto);
    assert_eq!(
        auto.decode_value(&unhex("cf0000000100000000")).unwrap(),
        Value::from(4294967296.0)
    );
    assert_eq!(
        auto.decode_value(&unhex("cf0020000000000000")).unwrap(),
        big("9007199254740992")
    );
    assert_eq!(
        MsgPack::new()
            .decode_value(&unhex("cf0000000100000000"))
            .unwrap(),
        big("4294967296")
    );
}

#[test]
fn limits_bound_what_records_and_tags_claim() {
    let small = MsgPack::msgpackr().with_limits(Limits::default().max_collection_len(2));
    let e = small
        .decode_value(&unhex("d4724093a161a162a163010203"))
        .unwrap_err();
    assert_eq!(e.classify(), Category::Limit);
    // A tag per level: still bounded by the depth limit (every tag is followed by an array).
    let mut deep = Vec::new();
    for _ in 0..2000 {
        deep.extend_from_slice(&[0xd4, 0x73, 0x00, 0x91]);
    }
    deep.push(0xc0);
    let e = MsgPack::msgpackr().decode_value(&deep).unwrap_err();
    assert_eq!(e.classify(), Category::Limit);
}

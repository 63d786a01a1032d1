//! Live interop with the real msgpackr 2.1.3 and with `@msgpack/msgpack` 3.1.3 without any
//! extension code: polycodec's `msgpackr` profile writes what msgpackr writes and reads what
//! msgpackr writes in each of its common configurations as msgpackr reads it; the standard
//! profile never makes a standard decoder throw.

use crate::common::*;
use crate::js_interop::{node, random_value};
use polycodec::codec::{Codec, Json, MsgPack, SuperJson};
use polycodec::{Date, JsError, Object, Ref, Value};

/// A random value with every kind the msgpackr profile writes: `random_value`'s kinds plus
/// Errors (with causes and props msgpackr drops), invalid Dates, typed arrays, bigints of
/// every size, and (with `graphs`) shared nodes and cycles.
fn value(next: &mut impl FnMut() -> u64, depth: usize, graphs: bool) -> Value {
    use polycodec::value::{BigInt, TypedArray, TypedArrayKind};
    match next() % 12 {
        0 => Value::Error(Box::new({
            let mut e = JsError::new(["Error", "TypeError", "MyError"][next() as usize % 3], "m");
            if next() % 2 == 0 {
                e.cause = Some(value(next, depth.saturating_sub(1), graphs));
            }
            e
        })),
        1 => Value::Date(Date::invalid()),
        2 => Value::TypedArray(Box::new(TypedArray::new(
            TypedArrayKind::ALL[next() as usize % 8],
            (0..next() % 4).map(|i| i as f64 * 1.5 - 2.0),
        ))),
        3 => Value::BigInt(
            [
                BigInt::from(5),
                BigInt::from(-5),
                BigInt::from(u64::MAX),
                BigInt::from(1u128 << 64),
                -(BigInt::from(1) << 100usize),
                BigInt::from(1) << 300usize,
            ][next() as usize % 6]
                .clone(),
        ),
        4 if graphs && depth > 0 => {
            // A node shared twice, or a cycle through an object.
            if next() % 2 == 0 {
                let node = value(next, depth - 1, false).into_shared();
                Value::Array(vec![Value::Ref(node.clone()), Value::Ref(node)])
            } else {
                Value::Ref(Ref::new_cyclic(|me| {
                    let mut o = Object::new();
                    o.insert("self", Value::Ref(me.clone()));
                    o.insert("v", value(next, depth - 1, false));
                    Value::Object(o)
                }))
            }
        }
        5 | 6 if depth > 0 => {
            let mut o = Object::new();
            for i in 0..next() % 4 {
                o.insert(
                    format!("k{}", (next() + i) % 80),
                    value(next, depth - 1, graphs),
                );
            }
            Value::Object(o)
        }
        7 if depth > 0 => Value::Array(
            (0..next() % 4)
                .map(|_| value(next, depth - 1, graphs))
                .collect(),
        ),
        _ => random_value(next, depth),
    }
}

fn hexes_request(mode: &str, docs: &[Vec<u8>]) -> Vec<u8> {
    let mut o = Object::new();
    o.insert("mode", Value::from(mode));
    o.insert(
        "hexes",
        Value::Array(docs.iter().map(|d| Value::from(hex(d))).collect()),
    );
    Json::new().encode_value(&Value::Object(o)).unwrap()
}

/// 1,500 random values with every kind, shared nodes and cycles, written by the `msgpackr`
/// profile: read by msgpackr's `new Packr()` and `new Packr({ structuredClone: true })` and
/// written again by the latter, the same bytes come back (documents with a -0 are left out:
/// msgpackr writes it as the integer 0); the module's `unpack()` reads every one (it refuses
/// only a Map key that is an object, which it cannot make a property).
pub fn msgpackr_reads_the_msgpackr_profile_and_writes_the_same_bytes_back() {
    let mut next = xorshift(0x005E_ED0F_4D53_4750);
    let mp = MsgPack::msgpackr();
    let docs: Vec<Vec<u8>> = (0..1500)
        .map(|_| {
            let v = Value::Array((0..3).map(|_| value(&mut next, 4, true)).collect());
            mp.encode_value(&v).unwrap()
        })
        .collect();
    let results = node("msgpackr-roundtrip.mjs", &hexes_request("msgpackr", &docs));
    let mut failures = Vec::new();
    let (mut compared, mut with_refs) = (0, 0);
    for (sent, r) in docs.iter().zip(results.as_array().unwrap()) {
        let sent = hex(sent);
        with_refs += usize::from(sent.contains("d669"));
        for reader in ["packr", "clone"] {
            match get(r, reader).as_str() {
                Some(js) if js == sent => compared += 1,
                _ if sent.contains("cb8000000000000000") => {}
                other => failures.push(format!("{reader}: rust {sent}\n  js   {other:?}")),
            }
        }
        match get(r, "unpack").as_str() {
            Some("ok") => {}
            Some(e) if e.contains("Invalid property type for record") => {}
            other => failures.push(format!("unpack: {sent}: {other:?}")),
        }
    }
    assert_none_differ(&failures, docs.len());
    assert!(
        compared > 2400 && with_refs > 300,
        "{compared} compared, {with_refs} with references"
    );
}

/// msgpackr's own output, in its common configurations (`new Packr()`, `structuredClone`,
/// `useRecords: false`, the module's `pack()`), over random values with every kind, shared
/// nodes and cycles: what polycodec reads (as `polycodec transcode --from msgpackr` does) and
/// writes again in the `msgpackr` profile, msgpackr reads as it reads the original. The same
/// holds after a trip through superjson (`msgpackr → superjson → msgpackr`).
pub fn msgpackr_output_in_every_configuration_reads_as_msgpackr_reads_it() {
    let mut req = Object::new();
    req.insert("mode", Value::from("corpus"));
    req.insert("count", Value::from(400));
    req.insert("seed", Value::from(20261207));
    let corpus = node(
        "msgpackr-corpus.mjs",
        &Json::new().encode_value(&Value::Object(req)).unwrap(),
    );
    let mp = MsgPack::msgpackr();
    let sj = SuperJson::new();
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    for c in corpus.as_array().unwrap() {
        let orig = s(c, "hex");
        let bytes = unhex(orig);
        let direct = mp.decode_value(&bytes).and_then(|v| mp.encode_value(&v));
        let via_superjson = mp
            .decode_value(&bytes)
            .and_then(|v| sj.encode_value(&v))
            .and_then(|t| sj.decode_value(&t))
            .and_then(|v| mp.encode_value(&v));
        for rust in [direct, via_superjson] {
            match rust {
                Ok(r) => {
                    let mut case = Object::new();
                    case.insert("config", get(c, "config").clone());
                    case.insert("orig", Value::from(orig));
                    case.insert("rust", Value::from(hex(&r)));
                    cases.push(Value::Object(case));
                }
                Err(e) => failures.push(format!("{}: {orig}: {e}", s(c, "config"))),
            }
        }
    }
    let mut req = Object::new();
    req.insert("mode", Value::from("compare"));
    req.insert("cases", Value::Array(cases.clone()));
    let verdicts = node(
        "msgpackr-corpus.mjs",
        &Json::new().encode_value(&Value::Object(req)).unwrap(),
    );
    for (case, v) in cases.iter().zip(verdicts.as_array().unwrap()) {
        if get(v, "ok") != &Value::Bool(true) {
            failures.push(format!(
                "{}: {}\n  rust {}\n  {}",
                s(case, "config"),
                s(case, "orig"),
                s(case, "rust"),
                s(v, "diff")
            ));
        }
    }
    assert_none_differ(&failures, cases.len());
    assert!(cases.len() > 2500, "{} cases", cases.len());
}

/// The standard profile over the same random values (without cycles, which it cannot
/// write): `@msgpack/msgpack` with no extension codec reads every message, with and without
/// `useBigInt64` (unknown extensions are `ExtData` to it).
pub fn msgpack_msgpack_without_extensions_reads_every_standard_profile_message() {
    let mut next = xorshift(0x000A_115E_E50F_0000);
    let mp = MsgPack::new();
    let docs: Vec<Vec<u8>> = (0..1500)
        .map(|_| {
            let v = Value::Array((0..3).map(|_| value(&mut next, 4, false)).collect());
            mp.encode_value(&v).unwrap()
        })
        .collect();
    let results = node("msgpackr-roundtrip.mjs", &hexes_request("@msgpack", &docs));
    let mut failures = Vec::new();
    for (sent, r) in docs.iter().zip(results.as_array().unwrap()) {
        if get(r, "default").as_str() != Some("ok") || get(r, "bigint64").as_str() != Some("ok") {
            failures.push(format!("{}: {r:?}", hex(sent)));
        }
    }
    assert_none_differ(&failures, docs.len());
}

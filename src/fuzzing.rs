//! The properties the fuzz targets check, shared with `cargo test` (which replays the saved
//! corpus and every crash ever found through the same functions). Not part of the API.
//!
//! Each function panics when a property fails, which is what a fuzzer reports:
//! * decoding arbitrary bytes never panics and never exceeds the limits;
//! * whatever decodes, re-encodes, and decoding that gives the same value
//!   (decode → encode → decode is stable).

use crate::codec::{Codec, Json, MsgPack, SuperJson};
use crate::{Limits, Value};

fn limits() -> Limits {
    // Small enough that a fuzzer hits every limit quickly.
    Limits::default()
        .max_depth(128)
        .max_collection_len(100_000)
        .max_ref_expansion(100_000)
        .max_message_bytes(1 << 20)
}

/// `reader` is `codec` with the message size limit lifted: a value with shared nodes may
/// legitimately re-encode larger than the message it came in (the expansion is bounded by
/// `max_ref_expansion`, not by the input's size).
fn stable_with(codec: &dyn Codec, reader: &dyn Codec, input: &[u8]) {
    let Ok(v) = codec.decode_value(input) else {
        return;
    };
    let Ok(bytes) = codec.encode_value(&v) else {
        // Some decoded values have no encoding in the same codec (a cycle in MessagePack):
        // that is a typed error, never a panic.
        return;
    };
    let again = reader
        .decode_value(&bytes)
        .unwrap_or_else(|e| panic!("{} cannot read its own output: {e}", codec.name()));
    assert!(
        again == v,
        "{}: decode-encode-decode changed the value\ninput: {}\nfirst:  {v:?}\nsecond: {again:?}",
        codec.name(),
        String::from_utf8_lossy(&input[..input.len().min(300)])
    );
}

/// `decode_value` (which builds the `Value` directly) and `from_slice::<Value>` (serde's
/// visitor protocol) give the same value or the same error. (Not for documents with
/// `referentialEqualities`: their shared nodes and cycles are a `Value`'s alone, and a
/// typed read goes through one.)
fn same_as_through_serde(direct: crate::Result<Value>, through_serde: crate::Result<Value>) {
    match (&direct, &through_serde) {
        (Ok(a), Ok(b)) if a == b => {}
        (Err(a), Err(b)) if a.to_string() == b.to_string() => {}
        _ => panic!("decode_value gave {direct:?}, through serde {through_serde:?}"),
    }
}

/// superjson: any bytes.
pub fn superjson(input: &[u8]) {
    let reader = SuperJson::new().with_limits(limits().max_message_bytes(usize::MAX));
    stable_with(&SuperJson::new().with_limits(limits()), &reader, input);
    if !input.windows(21).any(|w| w == b"referentialEqualities") {
        let codec = SuperJson::new().with_limits(limits());
        same_as_through_serde(codec.decode_value(input), codec.from_slice::<Value>(input));
    }
}

/// Plain JSON: any bytes.
/// Plain JSON cannot hold NaN, ±Infinity or -0 (written as `null` and `0`, as
/// `JSON.stringify` does), so its property is that one round normalizes: after it,
/// decode → encode gives the same bytes.
pub fn json(input: &[u8]) {
    let strict = Json::new().with_limits(limits());
    same_as_through_serde(
        strict.decode_value(input),
        strict.from_slice::<Value>(input),
    );
    let codec = Json::new().with_limits(limits().max_message_bytes(usize::MAX));
    let Ok(v) = Json::new().with_limits(limits()).decode_value(input) else {
        return;
    };
    let Ok(first) = codec.encode_value(&v) else {
        return;
    };
    let again = codec
        .decode_value(&first)
        .expect("json reads its own output");
    let second = codec
        .encode_value(&again)
        .expect("json writes what it read");
    assert!(
        first == second,
        "json: not stable after one round\n{}\n{}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
}

/// MessagePack: any bytes. `decode_value` (which builds the `Value` straight from the
/// bytes) and `from_slice::<Value>` (serde's visitor) give the same value, or errors of the
/// same category at the same byte (the builder names a value's key in its path for strings
/// of every width, the visitor only for short ones).
pub fn msgpack(input: &[u8]) {
    let reader = MsgPack::new().with_limits(limits().max_message_bytes(usize::MAX));
    stable_with(&MsgPack::new().with_limits(limits()), &reader, input);
    let codec = MsgPack::new().with_limits(limits());
    let (direct, through_serde) = (codec.decode_value(input), codec.from_slice::<Value>(input));
    agree(&direct, &through_serde);
}

/// MessagePack in the msgpackr profile (records, prefix tags, references): any bytes.
/// Decoding never panics; what decodes re-encodes in the msgpackr profile and reads back
/// as the same value, less what msgpackr has no form for ([`msgpackr_form`]); the typed
/// path (`from_slice::<Value>`, which goes through a `Value` where references are) agrees
/// with `decode_value`; and the standard profile reads every msgpackr message alike, except
/// where the two read plain maps differently (the msgpackr profile reads most as Maps).
pub fn msgpackr(input: &[u8]) {
    let codec = MsgPack::msgpackr().with_limits(limits());
    let (direct, through_serde) = (codec.decode_value(input), codec.from_slice::<Value>(input));
    agree(&direct, &through_serde);
    let Ok(v) = direct else {
        return;
    };
    // A cycle through an ancestor, or expansion past the limits, is a typed error here.
    let Ok(bytes) = codec.encode_value(&v) else {
        return;
    };
    let reader = MsgPack::msgpackr().with_limits(limits().max_message_bytes(usize::MAX));
    let again = reader
        .decode_value(&bytes)
        .unwrap_or_else(|e| panic!("msgpackr cannot read its own output: {e}"));
    if !has_cycle(&v) {
        let want = msgpackr_form(&v);
        assert!(
            again == want,
            "msgpackr: decode-encode-decode changed the value\nfirst:  {want:?}\nsecond: {again:?}"
        );
    }
}

/// `decode_value` and `from_slice::<Value>` give the same value, or errors of the same
/// category at the same byte; a cycle (msgpackr references) only the first can hold.
fn agree(direct: &crate::Result<Value>, through_serde: &crate::Result<Value>) {
    match (direct, through_serde) {
        (Ok(a), Ok(b)) if a == b => {}
        (Err(a), Err(b)) if (a.classify(), a.offset()) == (b.classify(), b.offset()) => {}
        (Ok(a), Err(b)) if has_cycle(a) && b.classify() == crate::Category::Unsupported => {}
        // A cycle inside a msgpackr tag's value stops the typed read there, before a later
        // fault the `Value` read reports: both refuse the message.
        (Err(_), Err(b)) if b.classify() == crate::Category::Unsupported => {}
        _ => panic!("decode_value gave {direct:?}, through serde {through_serde:?}"),
    }
}

/// Whether `v` holds a back-reference (a cycle).
fn has_cycle(v: &Value) -> bool {
    fn walk(v: &Value, seen: &mut std::collections::HashSet<usize>) -> bool {
        match v {
            Value::Ref(r) if r.is_back_reference() => true,
            Value::Ref(r) => {
                if !seen.insert(r.addr()) {
                    return false;
                }
                r.resolve().is_some_and(|x| walk(&x, seen))
            }
            Value::Array(a) | Value::Set(a) => a.iter().any(|x| walk(x, seen)),
            Value::Object(o) => o.values().any(|x| walk(x, seen)),
            Value::Map(m) => m.iter().any(|(k, x)| walk(k, seen) || walk(x, seen)),
            Value::Error(e) => e.cause.as_ref().is_some_and(|c| walk(c, seen)),
            Value::Annotated(a) => walk(&a.value, seen),
            _ => false,
        }
    }
    walk(v, &mut Default::default())
}

/// bincode: any bytes.
#[cfg(feature = "bincode")]
pub fn bincode(input: &[u8]) {
    let codec = crate::codec::Bincode::new().with_limits(limits());
    stable_with(&codec, &codec, input);
}

/// superjson meta paths and annotations: the input's first line is `json`, the rest is
/// `meta`, so the fuzzer works on paths and annotation trees directly. Besides the
/// superjson properties: whatever `meta` the fast reader (straight into the trie) accepts,
/// the general reader (through a `Value`) reads without error into the same annotations.
pub fn superjson_meta(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let (json, meta) = text.split_once('\n').unwrap_or(("null", &text));
    // `meta` read straight into the trie must agree with `meta` read through a Value.
    crate::codec::superjson::meta_text::check_against_general(meta.as_bytes());
    let doc = format!("{{\"json\":{json},\"meta\":{meta}}}");
    superjson(doc.as_bytes());
}

/// The RPC frame classifier and parser: any bytes, as a text and as a binary frame.
#[cfg(feature = "rpc")]
pub fn rpc_frame(input: &[u8]) {
    let _ = crate::rpc::classify(input);
}

/// Round trip of a value built from arbitrary bytes through every codec.
pub fn value_round_trip(input: &[u8]) {
    let v = build(&mut input.iter().copied(), 0);
    for codec in crate::codec::Registry::with_builtins().iter() {
        let bytes = match codec.encode_value(&v) {
            Ok(b) => b,
            Err(e) => panic!("{} cannot encode {v:?}: {e}", codec.name()),
        };
        let back = codec
            .decode_value(&bytes)
            .unwrap_or_else(|e| panic!("{} cannot read its own output: {e}", codec.name()));
        match codec.name() {
            "json" => {}
            // What msgpackr has no form for is dropped or turned into its own form (see
            // `codecs/msgpack/README.md`).
            "msgpackr" => {
                let want = msgpackr_form(&v);
                assert!(back == want, "msgpackr: {want:?} came back as {back:?}");
            }
            name => assert!(back == v, "{name}: {v:?} came back as {back:?}"),
        }
    }
}

/// `v` as the msgpackr profile carries it: an Error without its stack and extra props, a
/// URL as its href, an annotated value as its payload. (No cycles: nodes are expanded.)
pub fn msgpackr_form(v: &Value) -> Value {
    let all = |xs: &[Value]| xs.iter().map(msgpackr_form).collect::<Vec<_>>();
    match v {
        Value::Array(a) => Value::Array(all(a)),
        Value::Set(s) => Value::Set(all(s)),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), msgpackr_form(x)))
                .collect(),
        ),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, x)| (msgpackr_form(k), msgpackr_form(x)))
                .collect(),
        ),
        Value::Error(e) => {
            let mut e2 = crate::JsError::new(e.name.clone(), e.message.clone());
            e2.cause = e
                .cause
                .as_ref()
                .filter(|c| !c.is_undefined())
                .map(msgpackr_form);
            Value::Error(Box::new(e2))
        }
        Value::Url(u) => Value::String(u.clone()),
        Value::Annotated(a) => msgpackr_form(&a.value),
        Value::Ref(r) => match r.resolve() {
            Some(x) => msgpackr_form(&x),
            None => Value::Null,
        },
        other => other.clone(),
    }
}

/// A value from bytes: each byte picks a kind; containers take the following bytes.
fn build(b: &mut impl Iterator<Item = u8>, depth: usize) -> Value {
    let Some(k) = b.next() else {
        return Value::Null;
    };
    let n = |b: &mut dyn Iterator<Item = u8>| b.next().unwrap_or(0);
    match k % 14 {
        0 => Value::Undefined,
        1 => Value::Null,
        2 => Value::Bool(k & 16 != 0),
        3 => Value::Number(f64::from(i8::from_le_bytes([n(b)])) * 0.5),
        4 => Value::Number([f64::NAN, -0.0, f64::INFINITY, 1e21, 5e-324][usize::from(n(b)) % 5]),
        5 => Value::BigInt(
            num_bigint::BigInt::from(i64::from_le_bytes([
                n(b),
                n(b),
                n(b),
                n(b),
                n(b),
                n(b),
                n(b),
                n(b),
            ])) * 1_000_000_007,
        ),
        6 => Value::String((0..n(b) % 8).map(|_| char::from(32 + n(b) % 90)).collect()),
        7 => Value::Bytes((0..n(b) % 8).map(|_| n(b)).collect()),
        8 => Value::Date(crate::Date::from_millis(
            f64::from(i32::from_le_bytes([n(b), n(b), n(b), n(b)])) * 1000.0,
        )),
        _ if depth >= 6 => Value::Null,
        9 => Value::Array((0..n(b) % 4).map(|_| build(b, depth + 1)).collect()),
        10 => {
            let mut o = crate::Object::new();
            for i in 0..n(b) % 4 {
                o.insert(format!("k{i}"), build(b, depth + 1));
            }
            Value::Object(o)
        }
        11 => Value::Set(
            (0..n(b) % 4)
                .map(|i| Value::String(format!("m{i}")))
                .collect(),
        ),
        12 => Value::Map(
            (0..n(b) % 4)
                .map(|i| (Value::from(i32::from(i)), build(b, depth + 1)))
                .collect(),
        ),
        _ => Value::from(
            crate::JsError::new("TypeError", "boom").with_prop("code", build(b, depth + 1)),
        ),
    }
}

//! A codec defined outside polycodec: CBOR (RFC 8949) through `ciborium`, registered next to
//! the built-in codecs and used through the same API (registry lookup by name and by
//! subprotocol, typed encode/decode, transcoding).
//!
//! Mapping: JS kinds use CBOR's own tags where they exist: Date is tag 1 (epoch seconds as
//! a float; invalid dates are tag 1 of NaN), bigint is tag 2/3 (bignum), Set is tag 258, URL
//! is tag 32, RegExp is tag 35 (`/source/flags` text). Map and Object are both CBOR maps:
//! string keys only means Object. `undefined`, Error and annotated values use private tags
//! 27000, 27001 and 27002 (`ciborium::Value` has no variant for CBOR's own `undefined`).
//!
//! Run it with `cargo run --example cbor_codec`.

use ciborium::value::{Integer, Value as Cbor};
use polycodec::codec::{Codec, FrameKind, Registry};
use polycodec::value::{Annotated, BigInt};
use polycodec::{Date, Error, JsError, Object, RegExp, Result, Value};

/// CBOR, as a user-defined polycodec codec.
pub struct CborCodec;

const TAG_UNDEFINED: u64 = 27000;
const TAG_ERROR: u64 = 27001;
const TAG_ANNOTATED: u64 = 27002;

fn bad(what: &str) -> Error {
    // A user codec reports its own errors through serde's error constructor.
    <Error as serde::de::Error>::custom(format!("cbor: {what}"))
}

fn to_cbor(v: &Value) -> Result<Cbor> {
    Ok(match v {
        Value::Undefined => Cbor::Tag(TAG_UNDEFINED, Box::new(Cbor::Null)),
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n)
            if n.fract() == 0.0 && n.abs() < 9.007e15 && !(*n == 0.0 && n.is_sign_negative()) =>
        {
            Cbor::Integer(Integer::from(*n as i64))
        }
        Value::Number(n) => Cbor::Float(*n),
        Value::BigInt(b) => {
            let (sign, bytes) = b.to_bytes_be();
            if sign == num_bigint::Sign::Minus {
                // CBOR negative bignums carry -1 - n.
                let m = (-b - 1u8).to_bytes_be().1;
                Cbor::Tag(3, Box::new(Cbor::Bytes(m)))
            } else {
                Cbor::Tag(2, Box::new(Cbor::Bytes(bytes)))
            }
        }
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Bytes(b) => Cbor::Bytes(b.clone()),
        Value::Array(a) => Cbor::Array(a.iter().map(to_cbor).collect::<Result<_>>()?),
        Value::Object(o) => Cbor::Map(
            o.iter()
                .map(|(k, v)| Ok((Cbor::Text(k.clone()), to_cbor(v)?)))
                .collect::<Result<_>>()?,
        ),
        Value::Map(m) => Cbor::Map(
            m.iter()
                .map(|(k, v)| Ok((to_cbor(k)?, to_cbor(v)?)))
                .collect::<Result<_>>()?,
        ),
        Value::Set(s) => Cbor::Tag(
            258,
            Box::new(Cbor::Array(s.iter().map(to_cbor).collect::<Result<_>>()?)),
        ),
        Value::Date(d) => Cbor::Tag(1, Box::new(Cbor::Float(d.time_value() / 1000.0))),
        Value::RegExp(r) => Cbor::Tag(35, Box::new(Cbor::Text(r.to_literal()))),
        Value::Url(u) => Cbor::Tag(32, Box::new(Cbor::Text(u.clone()))),
        Value::Error(e) => {
            let mut fields = vec![
                (Cbor::Text("name".into()), Cbor::Text(e.name.clone())),
                (Cbor::Text("message".into()), Cbor::Text(e.message.clone())),
            ];
            if let Some(c) = &e.cause {
                fields.push((Cbor::Text("cause".into()), to_cbor(c)?));
            }
            for (k, v) in &e.props {
                fields.push((Cbor::Text(k.clone()), to_cbor(v)?));
            }
            Cbor::Tag(TAG_ERROR, Box::new(Cbor::Map(fields)))
        }
        Value::Annotated(a) => Cbor::Tag(
            TAG_ANNOTATED,
            Box::new(Cbor::Array(vec![
                Cbor::Text(a.kind.clone()),
                Cbor::Text(a.id.clone()),
                to_cbor(&a.value)?,
            ])),
        ),
        Value::Ref(r) if !r.is_back_reference() => match r.resolve() {
            Some(inner) => to_cbor(&inner)?,
            None => Cbor::Null,
        },
        other => return Err(bad(&format!("no CBOR form for {}", other.kind_name()))),
    })
}

fn from_cbor(c: Cbor) -> Result<Value> {
    Ok(match c {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => Value::from(i128::from(i) as i64),
        Cbor::Float(f) => Value::Number(f),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::Bytes(b),
        Cbor::Array(a) => Value::Array(a.into_iter().map(from_cbor).collect::<Result<_>>()?),
        Cbor::Map(m) => {
            let entries: Vec<(Value, Value)> = m
                .into_iter()
                .map(|(k, v)| Ok((from_cbor(k)?, from_cbor(v)?)))
                .collect::<Result<_>>()?;
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                let mut o = Object::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        o.insert(k, v);
                    }
                }
                Value::Object(o)
            } else {
                Value::Map(entries)
            }
        }
        Cbor::Tag(tag, inner) => match (tag, *inner) {
            (TAG_UNDEFINED, _) => Value::Undefined,
            (1, Cbor::Float(secs)) => Value::Date(Date::from_millis((secs * 1000.0).round())),
            (2, Cbor::Bytes(b)) => Value::BigInt(BigInt::from_bytes_be(num_bigint::Sign::Plus, &b)),
            (3, Cbor::Bytes(b)) => {
                Value::BigInt(-BigInt::from_bytes_be(num_bigint::Sign::Plus, &b) - 1u8)
            }
            (258, Cbor::Array(a)) => {
                Value::Set(a.into_iter().map(from_cbor).collect::<Result<_>>()?)
            }
            (32, Cbor::Text(u)) => Value::Url(u),
            (35, Cbor::Text(r)) => Value::from(RegExp::from_literal(&r)?),
            (TAG_ERROR, m @ Cbor::Map(_)) => match from_cbor(m)? {
                Value::Object(mut o) => {
                    let text = |v: Option<Value>| {
                        v.and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    };
                    let mut e = JsError::new(text(o.remove("name")), text(o.remove("message")));
                    e.cause = o.remove("cause");
                    e.props = o;
                    Value::from(e)
                }
                _ => return Err(bad("Error tag without an object")),
            },
            (TAG_ANNOTATED, Cbor::Array(mut a)) if a.len() == 3 => {
                let value = from_cbor(a.pop().unwrap_or(Cbor::Null))?;
                let id = a
                    .pop()
                    .and_then(|c| c.into_text().ok())
                    .ok_or_else(|| bad("annotation id"))?;
                let kind = a
                    .pop()
                    .and_then(|c| c.into_text().ok())
                    .ok_or_else(|| bad("annotation kind"))?;
                Value::Annotated(Box::new(Annotated { kind, id, value }))
            }
            (tag, _) => return Err(bad(&format!("unsupported tag {tag}"))),
        },
        other => return Err(bad(&format!("unsupported item {other:?}"))),
    })
}

impl Codec for CborCodec {
    fn name(&self) -> &str {
        "cbor"
    }
    fn subprotocol(&self) -> &str {
        "example.cbor"
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Binary
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        ciborium::into_writer(&to_cbor(value)?, &mut out).map_err(|e| bad(&e.to_string()))?;
        Ok(out)
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        let c: Cbor = ciborium::from_reader(bytes).map_err(|e| bad(&e.to_string()))?;
        from_cbor(c)
    }
}

/// Register CBOR, then use it like any built-in codec.
pub fn demo() -> Result<String> {
    let mut registry = Registry::with_builtins();
    registry.register(CborCodec)?;
    // A second codec with the same name is refused.
    assert!(registry.register(CborCodec).is_err());

    let cbor = registry.by_subprotocol("example.cbor").expect("registered");
    let superjson = registry.get("superjson").expect("built in");

    // Transcode superjson -> CBOR -> superjson: every JS kind survives.
    let doc = r#"{"json":{"at":"2024-01-02T03:04:05.678Z","ids":["1","2"],"big":"123456789012345678901234567890","m":[[1,"one"]]},"meta":{"values":{"at":["Date"],"ids":["set"],"big":["bigint"],"m":["map"]},"v":1}}"#;
    let value = superjson.decode_value(doc.as_bytes())?;
    let bytes = cbor.encode_value(&value)?;
    let back = superjson.encode_value(&cbor.decode_value(&bytes)?)?;
    assert_eq!(back, doc.as_bytes());

    // Typed values go through the same `dyn Codec` API.
    let xs: Vec<u32> = cbor.decode(&cbor.encode(&vec![1u32, 2, 3])?)?;
    assert_eq!(xs, [1, 2, 3]);
    Ok(format!(
        "{} bytes of CBOR, {} of superjson, names: {}",
        bytes.len(),
        doc.len(),
        registry.names().join(", ")
    ))
}

#[allow(dead_code)]
fn main() -> Result<()> {
    println!("{}", demo()?);
    Ok(())
}

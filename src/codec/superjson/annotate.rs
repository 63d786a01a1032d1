//! What each annotation does to the JSON value it sits on (superjson's `untransform`), with
//! JS's leniencies where a user would want them and typed errors where JS throws.

use crate::codec::text::de::Revive;
use crate::codec::text::tree::Ann;
use crate::value::number::{number_to_bigint, string_to_bigint, string_to_number};
use crate::value::same_value_zero::{dedupe_entries, dedupe_members};
use crate::value::{Annotated, Coercion, Date, JsError, RegExp, TypedArray, Value};
use crate::{Error, Result};

/// JS `ToNumber` for the values that can sit in a typed array's JSON. An array converts
/// through its text (`Number([7])` is 7, `Number([])` 0, `Number([1,2])` NaN).
fn to_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => string_to_number(s),
        Value::Array(_) => string_to_number(&crate::value::number::js_string(v)),
        _ => f64::NAN,
    }
}

/// The elements a typed-array constructor gets from `json`. A length string (`"3"`) makes
/// that many zeros, taken from `budget` (see [`unbacked_error`]).
fn typed_elements(raw: &Value, budget: &mut usize) -> Result<Vec<f64>> {
    Ok(match raw {
        Value::Array(a) => a.iter().map(to_number).collect(),
        // `new Uint8Array("3")` and `new Uint8Array(3)` are three zeros; junk is an empty
        // array.
        Value::String(_) | Value::Number(_) => {
            let n = to_number(raw);
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 1e6 {
                let n = n as usize;
                *budget = budget.checked_sub(n).ok_or_else(unbacked_error)?;
                vec![0.0; n]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    })
}

/// The error when a document asks for more elements that none of its bytes stand for (the
/// zeros of a typed array made from a length, the holes where a reference extends an array)
/// than it has bytes: JS makes them cheaply (sparse arrays), a `Value` holds each one, and
/// 124 bytes could ask for gigabytes.
pub(crate) fn unbacked_error() -> Error {
    Error::limit(
        "elements made from nothing (typed arrays from a length, array holes left by \
         references) are more than the document has bytes",
    )
}

/// Turn the JSON value `raw` (children already revived) into what `ann` says it is;
/// `budget` is how many elements no byte of the document stands for may still be made.
/// Repeated Set members and Map keys collapse as in `new Set`/`new Map` unless `dedupe` is
/// false: with `referentialEqualities`, members written as `null` may be placeholders for
/// different nodes (cycles cut by the writer), so they collapse only once references are
/// applied.
pub(crate) fn apply(ann: &Ann, raw: Value, budget: &mut usize, dedupe: bool) -> Result<Value> {
    let members = |m: Vec<Value>| if dedupe { dedupe_members(m) } else { m };
    let entries = |e: Vec<(Value, Value)>| if dedupe { dedupe_entries(e) } else { e };
    Ok(match ann {
        Ann::Undefined => Value::Undefined,
        Ann::Number => Value::Number(to_number(&raw)),
        Ann::BigInt => Value::BigInt(match &raw {
            Value::String(s) => string_to_bigint(s)?
                .ok_or_else(|| Error::data(format!("Cannot convert {s} to a BigInt")))?,
            Value::Number(n) => number_to_bigint(*n).ok_or_else(|| {
                Error::data(format!(
                    "The number {} cannot be converted to a BigInt because it is not an integer",
                    crate::value::number::format(*n)
                ))
            })?,
            Value::Bool(b) => u8::from(*b).into(),
            other => {
                return Err(Error::data(format!(
                    "Cannot convert {} to a BigInt",
                    other.kind_name()
                )))
            }
        }),
        Ann::Date => Value::Date(match &raw {
            Value::String(s) => Date::parse(s),
            Value::Null => Date::from_millis(0.0),
            Value::Number(n) => Date::from_millis(*n),
            Value::Bool(b) => Date::from_millis(f64::from(u8::from(*b))),
            _ => Date::invalid(),
        }),
        Ann::RegExp => match &raw {
            Value::String(s) => Value::RegExp(Box::new(RegExp::from_literal(s)?)),
            other => {
                return Err(Error::data(format!(
                    "a regexp annotation needs a string, found {}",
                    other.kind_name()
                )))
            }
        },
        Ann::Url => match &raw {
            Value::String(s) => Value::url(s)?,
            other => {
                return Err(Error::data(format!(
                    "a URL annotation needs a string, found {}",
                    other.kind_name()
                )))
            }
        },
        Ann::Set => Value::Set(members(match raw {
            Value::Array(a) => a,
            Value::String(s) => s.chars().map(|c| Value::String(c.into())).collect(),
            other => return Err(not_iterable(&other)),
        })),
        Ann::Map => Value::Map(entries(match raw {
            Value::Array(a) => a
                .into_iter()
                .map(|pair| match pair {
                    Value::Array(kv) => {
                        let mut it = kv.into_iter();
                        Ok((it.next().unwrap_or_default(), it.next().unwrap_or_default()))
                    }
                    other => Err(Error::data(format!(
                        "Iterator value {} is not an entry object",
                        short(&other)
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
            Value::String(s) if s.is_empty() => Vec::new(),
            Value::String(s) => {
                return Err(Error::data(format!(
                    "Iterator value {} is not an entry object",
                    s.chars().next().unwrap_or_default()
                )))
            }
            other => return Err(not_iterable(&other)),
        })),
        Ann::Error => match raw {
            Value::Object(o) => Value::Error(Box::new(
                // Never `None` but under `Coercion::Strict`.
                JsError::from_object(o, Coercion::JsString).unwrap_or_default(),
            )),
            other => {
                return Err(Error::data(format!(
                    "an Error annotation needs an object, found {}",
                    other.kind_name()
                )))
            }
        },
        Ann::Uint8Array => Value::Bytes(
            typed_elements(&raw, budget)?
                .into_iter()
                .map(|n| {
                    if n.is_finite() {
                        n.trunc().rem_euclid(256.0) as u8
                    } else {
                        0
                    }
                })
                .collect(),
        ),
        Ann::TypedArray(kind) => Value::TypedArray(Box::new(TypedArray::new(
            *kind,
            typed_elements(&raw, budget)?,
        ))),
        Ann::Opaque(o) => Value::Annotated(Box::new(Annotated {
            kind: o.kind.clone(),
            id: o.id.clone(),
            value: raw,
        })),
    })
}

/// superjson's `untransform`, as the text reader applies it: [`apply`].
pub(crate) enum Untransform {}

impl Revive for Untransform {
    #[inline]
    fn revive(ann: &Ann, raw: Value, unbacked: &mut usize, dedupe: bool) -> Result<Value> {
        apply(ann, raw, unbacked, dedupe)
    }
}

fn not_iterable(v: &Value) -> Error {
    Error::data(format!("{} is not iterable", short(v)))
}

fn short(v: &Value) -> String {
    match v {
        Value::Number(n) => crate::value::number::format(*n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        _ => "object".into(),
    }
}

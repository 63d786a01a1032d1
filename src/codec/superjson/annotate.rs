//! What each annotation does to the JSON value it sits on (superjson's `untransform`), with
//! JS's leniencies where a user would want them and typed errors where JS throws.

use super::meta::Ann;
use crate::value::number::{number_to_bigint, string_to_bigint, string_to_number};
use crate::value::{Annotated, Date, JsError, Object, RegExp, TypedArray, Value};
use crate::{Error, Result};

/// JS `ToNumber` for the values that can sit in a typed array's JSON.
fn to_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => string_to_number(s),
        _ => f64::NAN,
    }
}

/// The elements a typed-array constructor gets from `json`.
fn typed_elements(raw: &Value) -> Vec<f64> {
    match raw {
        Value::Array(a) => a.iter().map(to_number).collect(),
        // `new Uint8Array("3")` is three zeros; junk is an empty array.
        Value::String(s) => {
            let n = string_to_number(s);
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 1e6 {
                vec![0.0; n as usize]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// Turn the JSON value `raw` (children already revived) into what `ann` says it is.
pub(crate) fn apply(ann: &Ann, raw: Value) -> Result<Value> {
    Ok(match ann {
        Ann::Undefined => Value::Undefined,
        Ann::Number => Value::Number(to_number(&raw)),
        Ann::BigInt => Value::BigInt(match &raw {
            Value::String(s) => string_to_bigint(s)
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
            Value::String(s) => Value::Url(normalize_url(s)?),
            other => {
                return Err(Error::data(format!(
                    "a URL annotation needs a string, found {}",
                    other.kind_name()
                )))
            }
        },
        Ann::Set => Value::Set(dedupe_members(match raw {
            Value::Array(a) => a,
            Value::String(s) => s.chars().map(|c| Value::String(c.into())).collect(),
            other => return Err(not_iterable(&other)),
        })),
        Ann::Map => Value::Map(dedupe_entries(match raw {
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
            Value::Object(o) => Value::Error(Box::new(error_from_json(o))),
            other => {
                return Err(Error::data(format!(
                    "an Error annotation needs an object, found {}",
                    other.kind_name()
                )))
            }
        },
        Ann::Uint8Array => Value::Bytes(
            typed_elements(&raw)
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
        Ann::TypedArray(kind) => {
            Value::TypedArray(Box::new(TypedArray::new(*kind, typed_elements(&raw))))
        }
        Ann::Opaque(o) => Value::Annotated(Box::new(Annotated {
            kind: o.kind.clone(),
            id: o.id.clone(),
            value: raw,
        })),
    })
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

/// `new URL(s).href`.
pub(crate) fn normalize_url(s: &str) -> Result<String> {
    url::Url::parse(s)
        .map(String::from)
        .map_err(|_| Error::data(format!("Invalid URL: {s}")))
}

/// An Error from its superjson JSON `{name, message, cause?, ...props}`. `cause` is kept
/// only when the key is present (superjson HEAD, #354); every other key is kept as a prop
/// (superjson copies only its allowed props; polycodec drops nothing).
pub(crate) fn error_from_json(mut o: Object) -> JsError {
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => s,
        None | Some(Value::Undefined) => String::new(),
        Some(Value::Null) => "null".into(),
        Some(Value::Number(n)) => crate::value::number::format(n),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => "[object Object]".into(),
    };
    let name = match o.remove("name") {
        None | Some(Value::Undefined) => "Error".to_owned(),
        v => text(v),
    };
    JsError {
        name,
        message: text(o.remove("message")),
        stack: match o.remove("stack") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        cause: o.remove("cause"),
        props: o,
    }
}

/// A hashable identity for SameValueZero on primitives and pointer identity on shared
/// nodes; `None` for unshared objects, which are always distinct.
#[derive(Hash, PartialEq, Eq)]
enum Key<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(u64),
    BigInt(&'a crate::value::BigInt),
    Str(&'a str),
    Ptr(usize),
}

fn key(v: &Value) -> Option<Key<'_>> {
    Some(match v {
        Value::Undefined => Key::Undefined,
        Value::Null => Key::Null,
        Value::Bool(b) => Key::Bool(*b),
        Value::Number(n) if n.is_nan() => Key::Num(f64::NAN.to_bits()),
        Value::Number(n) => Key::Num((n + 0.0).to_bits()),
        Value::BigInt(b) => Key::BigInt(b),
        Value::String(s) => Key::Str(s),
        Value::Ref(r) => Key::Ptr(r.addr()),
        _ => return None,
    })
}

/// Up to this many members are compared pairwise; more are hashed.
const LINEAR: usize = 16;

/// For each item, the position of the first item with the same key (its own position when
/// it is the first, or has no key); `None` when no key repeats, which is the case for
/// everything a superjson writer produces.
fn first_positions<'a>(keys: &[Option<Key<'a>>]) -> Option<Vec<usize>> {
    let mut firsts: Option<Vec<usize>> = None;
    let mut seen: std::collections::HashMap<&Key<'a>, usize> = std::collections::HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        let Some(k) = k else { continue };
        let first = if keys.len() <= LINEAR {
            keys[..i].iter().position(|e| e.as_ref() == Some(k))
        } else {
            match seen.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                    None
                }
            }
        };
        if let Some(f) = first {
            firsts.get_or_insert_with(|| (0..keys.len()).collect())[i] = f;
        }
    }
    firsts
}

/// JS `SameValueZero` stores -0 as +0 in Set members and Map keys.
fn normalize_zero(v: &mut Value) {
    if let Value::Number(n) = v {
        // -0 + 0 is +0; every other number is unchanged.
        *n += 0.0;
    }
}

/// `new Set(items)`: primitives de-duplicated by SameValueZero, first position kept.
pub(crate) fn dedupe_members(mut items: Vec<Value>) -> Vec<Value> {
    let keys: Vec<Option<Key<'_>>> = items.iter().map(key).collect();
    let firsts = first_positions(&keys);
    drop(keys);
    if let Some(firsts) = firsts {
        let mut i = 0;
        items.retain(|_| {
            i += 1;
            firsts[i - 1] == i - 1
        });
    }
    items.iter_mut().for_each(normalize_zero);
    items
}

/// `new Map(entries)`: a repeated primitive key keeps its first position and takes the last
/// value.
pub(crate) fn dedupe_entries(mut entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    let keys: Vec<Option<Key<'_>>> = entries.iter().map(|(k, _)| key(k)).collect();
    let firsts = first_positions(&keys);
    drop(keys);
    if let Some(firsts) = firsts {
        // Each repeat's value goes to its first entry, in order, so the last one wins.
        let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
        let mut slot = vec![usize::MAX; entries.len()];
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if firsts[i] == i {
                slot[i] = out.len();
                out.push((k, v));
            } else {
                out[slot[firsts[i]]].1 = v;
            }
        }
        entries = out;
    }
    entries.iter_mut().for_each(|(k, _)| normalize_zero(k));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JS's `new Set` / `new Map` semantics written the obvious way (a scan per member).
    fn reference_members(items: &[Value]) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        for v in items {
            if key(v).is_none() || !out.iter().any(|o| key(o) == key(v)) {
                let mut v = v.clone();
                normalize_zero(&mut v);
                out.push(v);
            }
        }
        out
    }

    fn reference_entries(entries: &[(Value, Value)]) -> Vec<(Value, Value)> {
        let mut out: Vec<(Value, Value)> = Vec::new();
        for (k, v) in entries {
            match out
                .iter_mut()
                .find(|(o, _)| key(k).is_some() && key(o) == key(k))
            {
                Some(slot) => slot.1 = v.clone(),
                None => {
                    let mut k = k.clone();
                    normalize_zero(&mut k);
                    out.push((k, v.clone()));
                }
            }
        }
        out
    }

    /// Both ways of finding repeats (pairwise up to `LINEAR` members, hashed beyond) keep
    /// the first position of each primitive, give a Map key its last value, turn -0 into
    /// +0, treat NaN as one value and keep every object.
    #[test]
    fn sets_and_maps_dedupe_like_js_below_and_above_the_hashing_threshold() {
        let pool = [
            Value::Number(1.0),
            Value::Number(-0.0),
            Value::Number(0.0),
            Value::Number(f64::NAN),
            Value::String("a".into()),
            Value::String("1".into()),
            Value::BigInt(1.into()),
            Value::Bool(true),
            Value::Null,
            Value::Undefined,
            Value::Object(Object::new()),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [0, 1, 2, 5, LINEAR, LINEAR + 1, 40] {
            for _ in 0..50 {
                let items: Vec<Value> = (0..len)
                    .map(|_| pool[next() as usize % pool.len()].clone())
                    .collect();
                let got = dedupe_members(items.clone());
                assert_eq!(got, reference_members(&items), "{items:?}");
                let entries: Vec<(Value, Value)> = items
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), Value::Number(i as f64)))
                    .collect();
                let got = dedupe_entries(entries.clone());
                assert_eq!(got, reference_entries(&entries), "{entries:?}");
            }
        }
    }
}

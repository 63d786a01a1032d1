//! JS's `new Set(items)` and `new Map(entries)`: repeated members and keys collapse by
//! SameValueZero (NaN equals NaN, -0 is +0, objects only equal themselves), the first
//! position kept and, for a Map, the last value. polycodec's JSON, superjson and
//! MessagePack readers make every `Value` Set and Map through here, so what they read never
//! holds a repeat JS could not. (A typed Rust field read in place — a `Vec` under
//! `polycodec::js::set` — keeps members as they were sent; bincode, Rust to Rust, keeps the
//! `Value` it was given.)

use super::Value;

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

/// For each of `len` items (whose keys `key_at` gives), the position of the first item with
/// the same key (its own position when it is the first, or has no key); `None` when no key
/// repeats, which is the case for everything a superjson writer produces. Nothing is
/// allocated then: up to [`LINEAR`] items the keys are compared pairwise as they come.
fn first_positions<'a>(
    len: usize,
    key_at: impl Fn(usize) -> Option<Key<'a>>,
) -> Option<Vec<usize>> {
    let mut firsts: Option<Vec<usize>> = None;
    // Made only past `LINEAR` (a `HashMap`'s hasher is seeded from a thread-local).
    let mut seen: Option<std::collections::HashMap<Key<'a>, usize>> = None;
    for i in 0..len {
        let Some(k) = key_at(i) else { continue };
        let first = if len <= LINEAR {
            (0..i).find(|&j| key_at(j).as_ref() == Some(&k))
        } else {
            match seen.get_or_insert_with(Default::default).entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                    None
                }
            }
        };
        if let Some(f) = first {
            firsts.get_or_insert_with(|| (0..len).collect())[i] = f;
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
    if let Some(firsts) = first_positions(items.len(), |i| key(&items[i])) {
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
    if let Some(firsts) = first_positions(entries.len(), |i| key(&entries[i].0)) {
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
    use crate::value::Object;

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
        let mut next = crate::testing::xorshift(0x9E37_79B9_7F4A_7C15);
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

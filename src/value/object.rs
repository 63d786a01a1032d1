//! [`Object`]: a plain JS object, string keys in insertion order.

use super::Value;

/// Objects hash their keys with foldhash: seeded at random per process, and several times
/// faster than SipHash on short keys. Unlike SipHash it makes no claim to resist hash
/// flooding by an attacker who can time the server; what one message can hold is bounded
/// by `Limits` (size, elements per collection).
type Map = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;
use std::fmt;

/// A plain JS object: string keys in insertion order, each key at most once.
///
/// Inserting a key that exists replaces its value and keeps its position (what JS does).
/// Writers put integer-like keys first when they emit JSON, as JS's property order does; the
/// object itself keeps the order it was built in.
#[derive(Clone, Default, PartialEq)]
pub struct Object(Box<Map>);

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Object::default()
    }

    /// An empty object with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Object(Box::new(Map::with_capacity_and_hasher(
            n,
            Default::default(),
        )))
    }

    /// Set `key` to `value`; returns the previous value of `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.0.insert(key.into(), value)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.get_mut(key)
    }

    /// Remove `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.shift_remove(key)
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> + DoubleEndedIterator {
        self.0.iter()
    }

    /// Entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&String, &mut Value)> {
        self.0.iter_mut()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.keys()
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.0.values()
    }

    /// The entry at position `i`.
    pub fn get_index(&self, i: usize) -> Option<(&String, &Value)> {
        self.0.get_index(i)
    }

    /// The entries in JS property order: keys that are canonical array indexes
    /// (`"0"` to `"4294967294"`) first, ascending, then the rest in insertion order.
    pub fn js_order(&self) -> Vec<(&String, &Value)> {
        let mut idx: Vec<(u32, (&String, &Value))> = Vec::new();
        let mut rest = Vec::with_capacity(self.len());
        for (k, v) in self.iter() {
            match crate::value::number::array_index(k) {
                Some(i) => idx.push((i, (k, v))),
                None => rest.push((k, v)),
            }
        }
        if idx.is_empty() {
            return rest;
        }
        idx.sort_by_key(|(i, _)| *i);
        idx.into_iter().map(|(_, e)| e).chain(rest).collect()
    }

    /// True when the insertion order already is JS property order (no integer-like key
    /// after another key, integer-like keys ascending).
    pub fn is_js_ordered(&self) -> bool {
        let mut last: Option<u32> = None;
        let mut seen_other = false;
        for k in self.keys() {
            match crate::value::number::array_index(k) {
                Some(i) => {
                    if seen_other || last.is_some_and(|l| l >= i) {
                        return false;
                    }
                    last = Some(i);
                }
                None => seen_other = true,
            }
        }
        true
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        Object(Box::new(
            iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = indexmap::map::IntoIter<String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = (&'a String, &'a Value);
    type IntoIter = indexmap::map::Iter<'a, String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

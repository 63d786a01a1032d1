//! [`Object`]: a plain JS object, string keys in insertion order.

use super::Value;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::fmt;
use std::hash::BuildHasher;

/// Up to this many keys an object is searched in order and keeps no index: most objects a
/// message holds (an RPC envelope, a record) are this small, and they then cost one
/// allocation for their entries and no hashing. Past it, a hash index is kept.
const SCAN_UP_TO: usize = 8;

/// A plain JS object: string keys in insertion order, each key at most once.
///
/// Inserting a key that exists replaces its value and keeps its position (what JS does).
/// Writers put integer-like keys first when they emit JSON, as JS's property order does; the
/// object itself keeps the order it was built in. Equality compares keys and values, not
/// their order (like `serde_json::Map`).
#[derive(Clone, Default)]
pub struct Object(Box<Inner>);

#[derive(Clone, Default)]
struct Inner {
    entries: Vec<(String, Value)>,
    /// Positions in `entries` by key hash, kept once there are more than [`SCAN_UP_TO`]
    /// keys.
    index: Option<Index>,
}

/// Keys are hashed with foldhash: seeded at random per process, and several times faster
/// than SipHash on short keys. Unlike SipHash it makes no claim to resist hash flooding by
/// an attacker who can time the server; what one message can hold is bounded by `Limits`
/// (size, elements per collection).
#[derive(Clone, Default)]
struct Index {
    table: HashTable<usize>,
    hasher: RandomState,
}

impl Index {
    fn with_capacity(n: usize) -> Self {
        Index {
            table: HashTable::with_capacity(n),
            hasher: RandomState::default(),
        }
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Record that `entries[i]`, whose key hashes to `h`, is new.
    fn add(&mut self, h: u64, i: usize, entries: &[(String, Value)]) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(h, i, |&j| hasher.hash_one(entries[j].0.as_str()));
    }
}

impl Inner {
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            None => self.entries.iter().position(|(k, _)| k == key),
            Some(ix) => ix
                .table
                .find(ix.hash(key), |&i| self.entries[i].0 == key)
                .copied(),
        }
    }

    fn build_index(&mut self) {
        let mut ix = Index::with_capacity(self.entries.capacity());
        for (i, (k, _)) in self.entries.iter().enumerate() {
            ix.add(ix.hash(k), i, &self.entries);
        }
        self.index = Some(ix);
    }
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Object::default()
    }

    /// An empty object with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Object(Box::new(Inner {
            entries: Vec::with_capacity(n),
            index: (n > SCAN_UP_TO).then(|| Index::with_capacity(n)),
        }))
    }

    /// An object of these entries, whose keys the caller knows to be all different (a
    /// msgpackr record's, checked once per definition): no lookup per entry.
    pub(crate) fn from_unique_entries(entries: Vec<(String, Value)>) -> Self {
        debug_assert!(entries
            .iter()
            .enumerate()
            .all(|(i, (k, _))| entries[..i].iter().all(|(j, _)| j != k)));
        let mut inner = Inner {
            entries,
            index: None,
        };
        if inner.entries.len() > SCAN_UP_TO {
            inner.build_index();
        }
        Object(Box::new(inner))
    }

    /// Set `key` to `value`; returns the previous value of `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        let inner = &mut *self.0;
        if let Some(i) = inner.position(&key) {
            return Some(std::mem::replace(&mut inner.entries[i].1, value));
        }
        if let Some(ix) = &mut inner.index {
            let h = ix.hash(&key);
            ix.add(h, inner.entries.len(), &inner.entries);
        }
        inner.entries.push((key, value));
        if inner.index.is_none() && inner.entries.len() > SCAN_UP_TO {
            inner.build_index();
        }
        None
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.position(key).map(|i| &self.0.entries[i].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.0.position(key)?;
        Some(&mut self.0.entries[i].1)
    }

    /// Remove `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let inner = &mut *self.0;
        let i = inner.position(key)?;
        let (_, v) = inner.entries.remove(i);
        if let Some(ix) = &mut inner.index {
            // Forget `i` and move every later position down by one.
            if let Ok(e) = ix.table.find_entry(ix.hasher.hash_one(key), |&j| j == i) {
                e.remove();
            }
            for j in ix.table.iter_mut() {
                if *j > i {
                    *j -= 1;
                }
            }
        }
        Some(v)
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.position(key).is_some()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.entries.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.entries.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> + DoubleEndedIterator {
        self.0.entries.iter().map(as_refs)
    }

    /// Entries in insertion order, values mutable.
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&String, &mut Value)> {
        self.0.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> + DoubleEndedIterator {
        self.0.entries.iter().map(|(k, _)| k)
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> + DoubleEndedIterator {
        self.0.entries.iter().map(|(_, v)| v)
    }

    /// The entry at position `i`.
    pub fn get_index(&self, i: usize) -> Option<(&String, &Value)> {
        self.0.entries.get(i).map(as_refs)
    }

    /// The entries in JS property order: keys that are canonical array indexes
    /// (`"0"` to `"4294967294"`) first, ascending, then the rest in insertion order.
    pub fn js_order(&self) -> Vec<(&String, &Value)> {
        self.js_order_parts().0
    }

    /// [`Object::js_order`], and how many of its first entries have integer-like keys (an
    /// Error's own props: those come before `name` in JS, the rest after `message`).
    pub(crate) fn js_order_parts(&self) -> (Vec<(&String, &Value)>, usize) {
        let mut idx: Vec<(u32, (&String, &Value))> = Vec::new();
        let mut rest = Vec::with_capacity(self.len());
        for (k, v) in self.iter() {
            match crate::value::number::array_index(k) {
                Some(i) => idx.push((i, (k, v))),
                None => rest.push((k, v)),
            }
        }
        if idx.is_empty() {
            return (rest, 0);
        }
        idx.sort_by_key(|(i, _)| *i);
        let ints = idx.len();
        (idx.into_iter().map(|(_, e)| e).chain(rest).collect(), ints)
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
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Same keys with equal values; key order is not compared (like `serde_json::Map`).
impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|w| v == w))
    }
}

/// The iterator `&Object` gives (the entries in insertion order).
type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Value)>,
    fn(&'a (String, Value)) -> (&'a String, &'a Value),
>;

fn as_refs((k, v): &(String, Value)) -> (&String, &Value) {
    (k, v)
}

/// Builds an object as repeated [`Object::insert`]s: a repeated key keeps its first place
/// and takes the last value.
impl<K: Into<String>> FromIterator<(K, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut o = Object::with_capacity(iter.size_hint().0);
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.entries.iter().map(as_refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts, overwrites, removes and lookups on both sides of [`SCAN_UP_TO`] agree
    /// with a plain list searched in order (the obvious model of a JS object), including
    /// after removes move later entries down.
    #[test]
    fn behaves_as_an_ordered_list_of_unique_keys() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..200 {
            let key_space = [4, 12, 40][round % 3];
            let mut o = if round % 2 == 0 {
                Object::new()
            } else {
                Object::with_capacity(key_space)
            };
            let mut model: Vec<(String, Value)> = Vec::new();
            for step in 0..300 {
                let key = format!("k{}", next() % key_space as u64);
                match next() % 4 {
                    0 => {
                        let pos = model.iter().position(|(k, _)| *k == key);
                        let got = o.remove(&key);
                        assert_eq!(got, pos.map(|i| model.remove(i).1), "remove {key}");
                    }
                    1 => {
                        let want = model.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
                        assert_eq!(o.get(&key), want, "get {key}");
                        assert_eq!(o.contains_key(&key), want.is_some());
                    }
                    _ => {
                        let v = Value::Number(step as f64);
                        let prev = match model.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, slot)) => Some(std::mem::replace(slot, v.clone())),
                            None => {
                                model.push((key.clone(), v.clone()));
                                None
                            }
                        };
                        assert_eq!(o.insert(key.clone(), v), prev, "insert {key}");
                    }
                }
                assert_eq!(o.len(), model.len());
                let entries: Vec<(&String, &Value)> = o.iter().collect();
                let want: Vec<(&String, &Value)> = model.iter().map(|(k, v)| (k, v)).collect();
                assert_eq!(entries, want, "round {round} step {step}");
            }
            // Every key is found where it is, in the clone too.
            let copy = o.clone();
            for (i, (k, v)) in model.iter().enumerate() {
                assert_eq!(copy.get(k), Some(v));
                assert_eq!(copy.get_index(i), Some((k, v)));
            }
        }
    }

    #[test]
    fn equality_ignores_order_and_collecting_keeps_the_first_place() {
        let a: Object = (0..20)
            .map(|i| (format!("k{i}"), Value::Number(f64::from(i))))
            .collect();
        let b: Object = (0..20)
            .rev()
            .map(|i| (format!("k{i}"), Value::Number(f64::from(i))))
            .collect();
        assert_eq!(a, b);
        let mut c = b.clone();
        c.insert("k3", Value::Null);
        assert_ne!(a, c);
        let d: Object = [
            ("x", Value::Null),
            ("y", Value::Null),
            ("x", Value::Bool(true)),
        ]
        .into_iter()
        .collect();
        let entries: Vec<_> = d.into_iter().collect();
        assert_eq!(
            entries,
            vec![
                ("x".to_owned(), Value::Bool(true)),
                ("y".to_owned(), Value::Null)
            ]
        );
    }
}

//! Typed Rust values as rich JS types: `#[serde(with = ...)]` helpers and wrapper types.
//!
//! A plain `T: Serialize` goes through every codec without building a [`Value`]. These
//! helpers tell polycodec's codecs which fields are JS Dates, Maps, Sets, bigints and
//! `undefined`; other serializers (serde_json used directly, bincode) see each one's plain
//! form: an ISO string (milliseconds in binary formats), an array of `[key, value]` pairs,
//! an array, a decimal string, `null`.
//!
//! ```
//! use chrono::{DateTime, Utc, TimeZone};
//! use serde::{Deserialize, Serialize};
//! use std::collections::{BTreeMap, BTreeSet};
//! use polycodec::codec::SuperJson;
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct Post {
//!     #[serde(with = "polycodec::js::date")]
//!     created: DateTime<Utc>,
//!     #[serde(with = "polycodec::js::set")]
//!     tags: BTreeSet<String>,
//!     #[serde(with = "polycodec::js::map")]
//!     votes: BTreeMap<String, u32>,
//!     #[serde(with = "polycodec::js::bigint")]
//!     views: u64,
//!     #[serde(with = "polycodec::js::undefined", default)]
//!     edited: Option<bool>,
//! }
//!
//! let post = Post {
//!     created: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
//!     tags: ["rust".to_owned()].into(),
//!     votes: [("ann".to_owned(), 3)].into(),
//!     views: 7,
//!     edited: None,
//! };
//! let text = SuperJson::new().to_string(&post).unwrap();
//! assert_eq!(text, concat!(
//!     r#"{"json":{"created":"2024-01-02T03:04:05.000Z","tags":["rust"],"votes":[["ann",3]],"#,
//!     r#""views":"7","edited":null},"meta":{"values":{"created":["Date"],"tags":["set"],"#,
//!     r#""votes":["map"],"views":["bigint"],"edited":["undefined"]},"v":1}}"#));
//! let back: Post = SuperJson::new().from_str(&text).unwrap();
//! assert_eq!(back, post);
//! ```
//!
//! Without helpers: `i128`/`u128` are bigints, `i64`/`u64` beyond ±(2^53−1) become bigints
//! in superjson (and decimal strings in plain JSON) so JS never rounds them, and a map whose
//! keys are not strings (`HashMap<u32, _>`) is a JS `Map`.

use super::de::{First, FirstKey};
use super::magic::{self, Magic};
use super::ser::DatePayload;
use super::{Date, Value};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::DATE, &DatePayload(*self))
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        d.deserialize_newtype_struct(magic::DATE, DateVisitor)
    }
}

struct DateVisitor;

impl<'de> Visitor<'de> for DateVisitor {
    type Value = Date;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Date (ISO string or milliseconds)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
        let d = Date::parse(v);
        if d.is_valid() {
            Ok(d)
        } else {
            Err(E::custom(format!("invalid date {v:?}")))
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Date, E> {
        Ok(Date::from_millis(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Date, E> {
        Ok(Date::from_millis(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Date, E> {
        Ok(Date::from_millis(v as f64))
    }
    fn visit_unit<E>(self) -> Result<Date, E> {
        Ok(Date::invalid())
    }
    fn visit_none<E>(self) -> Result<Date, E> {
        Ok(Date::invalid())
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Date, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(self)
        } else {
            d.deserialize_f64(self)
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Date, A::Error> {
        match expect_magic(map, Magic::Date)? {
            Value::Number(n) => Ok(Date::from_millis(n)),
            Value::Date(d) => Ok(d),
            other => Err(de::Error::custom(format!(
                "expected a Date, found {other:?}"
            ))),
        }
    }
}

/// Read the payload of a one-entry magic map, checking its name.
fn expect_magic<'de, A: MapAccess<'de>>(mut map: A, want: Magic) -> Result<Value, A::Error> {
    // As the `Value` visitor tells them: an object whose key only looks like a magic name
    // is data, not the kind.
    match map.next_key_seed(FirstKey)? {
        Some(First::Magic(m)) if m == want => map.next_value(),
        _ => Err(de::Error::custom(format!(
            "expected a JS {}, found an object",
            &want.name()["$polycodec::".len()..]
        ))),
    }
}

/// JS `undefined` as a Rust unit type. Serializes as `undefined` in polycodec's codecs and
/// as `null` elsewhere; deserializes from `undefined` or `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Undefined;

impl Serialize for Undefined {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::UNDEFINED, &())
    }
}

impl<'de> Deserialize<'de> for Undefined {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Undefined, D::Error> {
        if !d.is_human_readable() {
            <()>::deserialize(d)?;
            return Ok(Undefined);
        }
        match Value::deserialize(d)? {
            Value::Undefined | Value::Null => Ok(Undefined),
            other => Err(de::Error::custom(format!(
                "expected undefined, found {}",
                other.kind_name()
            ))),
        }
    }
}

/// `#[serde(with = "polycodec::js::date")]` for `chrono::DateTime<Utc>`: a JS `Date`.
pub mod date {
    use super::*;
    use chrono::{DateTime, Utc};

    /// Serialize as a JS Date.
    pub fn serialize<S: Serializer>(d: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        Date::from(*d).serialize(s)
    }

    /// Deserialize from a JS Date (or its ISO string, or milliseconds).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let date = Date::deserialize(d)?;
        DateTime::<Utc>::try_from(date).map_err(de::Error::custom)
    }
}

/// `#[serde(with = "polycodec::js::bigint")]` for any integer type (`u64`, `i128`,
/// `num_bigint::BigInt`, ...): a JS bigint, whatever its size.
pub mod bigint {
    use super::*;
    use std::str::FromStr;

    /// Serialize as a JS bigint.
    pub fn serialize<T: fmt::Display, S: Serializer>(n: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::BIGINT, &n.to_string())
    }

    /// Deserialize from a bigint, a decimal string or an integral number.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
        D: Deserializer<'de>,
    {
        if !d.is_human_readable() {
            let text = d.deserialize_str(BigIntText)?;
            return parse_bigint(&text);
        }
        let text = match Value::deserialize(d)? {
            Value::BigInt(b) => b.to_string(),
            Value::String(s) => s,
            Value::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
            other => {
                return Err(de::Error::custom(format!(
                    "expected a bigint, found {}",
                    other.kind_name()
                )))
            }
        };
        parse_bigint(&text)
    }

    /// `text` as a `T`, refused past [`MAX_BIGINT_TEXT`](crate::value::MAX_BIGINT_TEXT)
    /// characters (decimal text takes quadratic time to read).
    fn parse_bigint<T: FromStr, E: de::Error>(text: &str) -> Result<T, E>
    where
        T::Err: fmt::Display,
    {
        let text = text.trim();
        crate::value::number::check_bigint_text(text).map_err(de::Error::custom)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A bigint's decimal text from whatever form a binary format gives it.
struct BigIntText;

impl<'de> Visitor<'de> for BigIntText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bigint")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
        match expect_magic(map, Magic::BigInt)? {
            Value::String(s) => Ok(s),
            Value::BigInt(b) => Ok(b.to_string()),
            other => Err(de::Error::custom(format!(
                "expected a bigint, found {other:?}"
            ))),
        }
    }
}

/// `#[serde(with = "polycodec::js::undefined", default)]` for `Option<T>`: `None` is JS
/// `undefined` (the key is kept, unlike `skip_serializing_if`), `Some(v)` is `v`. Reads
/// `undefined` and `null` as `None`.
pub mod undefined {
    use super::*;

    /// Serialize `None` as undefined (formats without undefined see an `Option`).
    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(magic::OPTIONAL, v)
    }

    /// Deserialize undefined or null as `None`.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<T>::deserialize(d)
    }
}

/// `#[serde(with = "polycodec::js::map")]` for any map type (`HashMap`, `BTreeMap`,
/// `IndexMap`, ...): a JS `Map`, whatever the key type.
///
/// Entries are read in the order they were written. A JS Map never holds the same key
/// twice, so no JS writer sends repeats; should a hand-made document hold some, a map type
/// keeps the last value (as `new Map` does), and a `Vec` of pairs read from MessagePack
/// gets what a [`Value`] read gives (first place, last value), while one read from
/// superjson keeps the entries as sent.
pub mod map {
    use super::*;

    /// Serialize as a JS Map.
    pub fn serialize<'a, M, K, V, S>(m: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        struct Entries<'a, M>(&'a M);
        impl<'a, M, K, V> Serialize for Entries<'a, M>
        where
            &'a M: IntoIterator<Item = (&'a K, &'a V)>,
            K: Serialize + 'a,
            V: Serialize + 'a,
        {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0)
            }
        }
        s.serialize_newtype_struct(magic::MAP, &Entries(m))
    }

    /// Deserialize from a JS Map, an array of pairs, or an object.
    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        d.deserialize_newtype_struct(
            magic::MAP,
            CollectVisitor::<M, (K, V)> {
                magic: Magic::Map,
                _p: PhantomData,
            },
        )
    }
}

/// `#[serde(with = "polycodec::js::set")]` for any collection (`HashSet`, `BTreeSet`,
/// `Vec`, ...): a JS `Set`.
///
/// Members are read in the order they were written. A JS Set never holds the same member
/// twice, so no JS writer sends repeats; should a hand-made document hold some, a `HashSet`
/// or `BTreeSet` collapses them itself, while a `Vec` keeps them as sent (a [`Value`] read
/// of the same document collapses them, as JS's `new Set` does).
pub mod set {
    use super::*;

    /// Serialize as a JS Set.
    pub fn serialize<'a, C, T, S>(c: &'a C, s: S) -> Result<S::Ok, S::Error>
    where
        &'a C: IntoIterator<Item = &'a T>,
        T: Serialize + 'a,
        S: Serializer,
    {
        struct Items<'a, C>(&'a C);
        impl<'a, C, T> Serialize for Items<'a, C>
        where
            &'a C: IntoIterator<Item = &'a T>,
            T: Serialize + 'a,
        {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let iter = self.0.into_iter();
                let mut seq = s.serialize_seq(iter.size_hint().1)?;
                for item in iter {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
        s.serialize_newtype_struct(magic::SET, &Items(c))
    }

    /// Deserialize from a JS Set or an array.
    pub fn deserialize<'de, C, T, D>(d: D) -> Result<C, D::Error>
    where
        C: FromIterator<T>,
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        d.deserialize_newtype_struct(
            magic::SET,
            CollectVisitor::<C, T> {
                magic: Magic::Set,
                _p: PhantomData,
            },
        )
    }
}

/// Collects a Map (as pairs) or a Set from its magic map, a plain sequence, or (for maps)
/// a plain map.
struct CollectVisitor<C, T> {
    magic: Magic,
    _p: PhantomData<(C, T)>,
}

impl<'de, C: FromIterator<T>, T: Deserialize<'de>> Visitor<'de> for CollectVisitor<C, T> {
    type Value = C;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.magic == Magic::Map {
            "a JS Map"
        } else {
            "a JS Set"
        })
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<C, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(self)
        } else {
            d.deserialize_seq(self)
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<C, A::Error> {
        let mut err = None;
        let out = Elements {
            seq,
            err: &mut err,
            _p: PhantomData,
        }
        .collect();
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<C, A::Error> {
        // The kind's magic map (told from data as the `Value` visitor tells it), or a plain
        // object.
        let first = match map.next_key_seed(FirstKey)? {
            None => return Ok(std::iter::empty().collect()),
            Some(First::Magic(m)) if m == self.magic => {
                return map.next_value_seed(SeqSeed::<C, T>(PhantomData))
            }
            Some(First::Magic(m)) => m.name().to_owned(),
            Some(First::Key(Value::String(k))) => k,
            Some(First::Key(other)) => {
                return Err(de::Error::custom(format!(
                    "expected a string key, found {}",
                    other.kind_name()
                )))
            }
        };
        // A plain object read as a Map: keys come from strings.
        let mut items = Vec::new();
        let mut key = Some(first);
        while let Some(k) = key
            .take()
            .map(Ok)
            .or_else(|| map.next_key::<String>().transpose())
        {
            let k = k?;
            let v: Value = map.next_value()?;
            let pair = Value::Array(vec![Value::String(k), v]);
            let budget = std::cell::Cell::new(usize::MAX);
            let d = crate::value::de::ValueDeserializer::new(&pair, &budget);
            let item = T::deserialize(d).map_err(de::Error::custom)?;
            items.push(item);
        }
        Ok(items.into_iter().collect())
    }
}

/// The elements of a sequence as an iterator, the first error kept aside (it ends the
/// iteration). Its size hint is the sequence's, so that `collect` (`Vec`, and the `Vec` a
/// `BTreeSet` or `BTreeMap` is built from) allocates once instead of growing as it goes.
struct Elements<'e, 'de, A: SeqAccess<'de>, T> {
    seq: A,
    err: &'e mut Option<A::Error>,
    _p: PhantomData<(&'de (), T)>,
}

impl<'de, A: SeqAccess<'de>, T: Deserialize<'de>> Iterator for Elements<'_, 'de, A, T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        match self.seq.next_element::<T>() {
            Ok(v) => v,
            Err(e) => {
                *self.err = Some(e);
                None
            }
        }
    }
    /// The sequence's own hint as the lower bound, capped (as serde's `size_hint::cautious`
    /// does) so that a length read from the input cannot reserve more than 1 MiB ahead of
    /// the elements. An error ends the iteration early: the collection is then dropped.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let cap = (1 << 20) / std::mem::size_of::<T>().max(1);
        (self.seq.size_hint().unwrap_or(0).min(cap), None)
    }
}

struct SeqSeed<C, T>(PhantomData<(C, T)>);

impl<'de, C: FromIterator<T>, T: Deserialize<'de>> de::DeserializeSeed<'de> for SeqSeed<C, T> {
    type Value = C;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<C, D::Error> {
        d.deserialize_seq(CollectVisitor::<C, T> {
            magic: Magic::Set,
            _p: PhantomData,
        })
    }
}

//! `Deserialize` for [`Value`] and [`from_value`]: a `Value` into any `T: Deserialize`.

use super::magic::{self, Magic};
use super::number::{is_safe_integer, MAX_SAFE_INTEGER};
use super::ser::from_magic;
use super::{BigInt, Object, Value};
use crate::{Error, Result};
use num_traits::ToPrimitive;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize;
use std::cell::Cell;
use std::fmt;

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// The visitor that builds a [`Value`] from any self-describing format.
pub(crate) struct ValueVisitor;

/// The most elements a container is made room for from a length the input claims (a
/// header is checked against the bytes left, one byte per element, but an element takes
/// 32 bytes as a `Value`); past it the container grows as it is read.
pub(crate) const MAX_ROOM: usize = 4096;

/// An integer as JS reads it: a Number within ±(2^53 − 1), a bigint past that.
#[inline]
pub(crate) fn int_value(n: i128) -> Value {
    // Compared and converted as integers: an i128 to f64 conversion is a libcall
    // (`__floattidf`), and the msgpackr `Value` read made two per integer.
    const MAX: i128 = MAX_SAFE_INTEGER as i128;
    if (-MAX..=MAX).contains(&n) {
        Value::Number(n as i64 as f64)
    } else {
        Value::BigInt(BigInt::from(n))
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JS value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(int_value(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(int_value(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(int_value(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(match i128::try_from(v) {
            Ok(i) => int_value(i),
            Err(_) => Value::BigInt(v.into()),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_ROOM));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let first = match map.next_key_seed(FirstKey)? {
            None => return Ok(Value::Object(Object::new())),
            Some(First::Magic(m)) => {
                let payload: Value = map.next_value()?;
                return from_magic(m, payload).map_err(de::Error::custom);
            }
            Some(First::Key(k)) => k,
        };
        let first_value: Value = map.next_value()?;
        let mut entries = match first {
            Value::String(k) => match read_object(&mut map, k, first_value)? {
                Ok(o) => return Ok(Value::Object(o)),
                Err(entries) => entries,
            },
            first => vec![(first, first_value)],
        };
        while let Some(k) = map.next_key::<Value>()? {
            entries.push((k, map.next_value()?));
        }
        // A map with a key that is not a string (MessagePack's) is a JS Map: repeated keys
        // collapse as in `new Map`.
        Ok(Value::Map(super::same_value_zero::dedupe_entries(entries)))
    }
}

/// The first key of a map: a JS kind's magic name (see [`crate::value::magic`]) or an
/// ordinary key.
pub(crate) enum First {
    Magic(Magic),
    Key(Value),
}

/// Reads the first key of a map as [`First`]. A magic name counts only when it comes as a
/// borrowed string (`visit_borrowed_str`), as [`MagicMap`] gives it; a borrowed string
/// stays borrowed through serde's buffering (`flatten`, untagged and internally tagged
/// enums), so a JS kind survives them. polycodec's readers never give an object's own key
/// that equals a magic name as a borrowed string (see [`is_magic_name`]), so
/// `{"$polycodec::Date": 5}` from the wire stays an object, also after buffering (which
/// gives it back as `visit_str` or `visit_string`).
pub(crate) struct FirstKey;

impl<'de> DeserializeSeed<'de> for FirstKey {
    type Value = First;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<First, D::Error> {
        d.deserialize_any(self)
    }
}

/// Everything but a string key reads as [`ValueVisitor`] reads it.
macro_rules! key_like_value {
    ($($method:ident($($arg:ident: $t:ty),*);)*) => {$(
        fn $method<E: de::Error>(self, $($arg: $t),*) -> Result<First, E> {
            ValueVisitor.$method($($arg),*).map(First::Key)
        }
    )*};
}

impl<'de> Visitor<'de> for FirstKey {
    type Value = First;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<First, E> {
        Ok(match Magic::from_name(v) {
            Some(m) => First::Magic(m),
            None => First::Key(Value::String(v.to_owned())),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<First, E> {
        Ok(First::Key(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<First, E> {
        Ok(First::Key(Value::String(v)))
    }
    key_like_value! {
        visit_bool(v: bool);
        visit_i64(v: i64);
        visit_u64(v: u64);
        visit_i128(v: i128);
        visit_u128(v: u128);
        visit_f64(v: f64);
        visit_bytes(v: &[u8]);
        visit_byte_buf(v: Vec<u8>);
        visit_none();
        visit_unit();
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<First, D::Error> {
        ValueVisitor.visit_some(d).map(First::Key)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<First, D::Error> {
        ValueVisitor.visit_newtype_struct(d).map(First::Key)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<First, A::Error> {
        ValueVisitor.visit_seq(seq).map(First::Key)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<First, A::Error> {
        ValueVisitor.visit_map(map).map(First::Key)
    }
}

/// True when `s` is one of the magic names: a reader gives such a string of its own (an
/// object's key) as a transient `&str` (`visit_str`), never borrowed, so that it is never
/// taken for a JS kind (see [`FirstKey`]). Cheap for ordinary strings.
#[inline]
pub(crate) fn is_magic_name(s: &str) -> bool {
    s.starts_with('$') && Magic::from_name(s).is_some()
}

/// The rest of an object whose first key `k` (a string) and value `v` are read: its string
/// keys go straight into the object, a repeated one keeping its first place and taking the
/// last value (as `JSON.parse` does); when the length is not known up front, the first
/// eight wait on the stack, so that the object is made at its size. A key of another kind
/// gives back the entries read so far, that one included, in order (`Err`), for the
/// general path (a JS Map).
#[allow(clippy::type_complexity)]
fn read_object<'de, A: MapAccess<'de>>(
    map: &mut A,
    k: String,
    v: Value,
) -> Result<Result<Object, Vec<(Value, Value)>>, A::Error> {
    const INLINE: usize = 8;
    /// What was read so far as the general path's entries.
    fn entries_of(read: impl IntoIterator<Item = (String, Value)>) -> Vec<(Value, Value)> {
        let read = read.into_iter();
        read.map(|(k, v)| (Value::String(k), v)).collect()
    }
    /// The entries kept on the stack as an object with room for `room` keys.
    fn object_of(small: &mut [Option<(String, Value)>], room: usize) -> Object {
        let mut o = Object::with_capacity(room);
        for (k, v) in small.iter_mut().filter_map(Option::take) {
            o.insert(k, v);
        }
        o
    }
    let mut o = if let Some(hint) = map.size_hint() {
        // The length is known: the object is made at its size at once.
        let mut o = Object::with_capacity(hint.min(MAX_ROOM) + 1);
        o.insert(k, v);
        o
    } else {
        let mut small: [Option<(String, Value)>; INLINE] = Default::default();
        small[0] = Some((k, v));
        let mut n = 1;
        loop {
            let Some(k) = map.next_key::<Value>()? else {
                return Ok(Ok(object_of(&mut small[..n], n)));
            };
            let v: Value = map.next_value()?;
            let k = match k {
                Value::String(k) => k,
                k => {
                    let mut entries = entries_of(small[..n].iter_mut().filter_map(Option::take));
                    entries.push((k, v));
                    return Ok(Err(entries));
                }
            };
            if let Some((_, old)) = small[..n].iter_mut().flatten().find(|(s, _)| *s == k) {
                *old = v;
                continue;
            }
            if n < INLINE {
                small[n] = Some((k, v));
                n += 1;
                continue;
            }
            let room = INLINE + 1 + map.size_hint().unwrap_or(INLINE).min(MAX_ROOM);
            let mut o = object_of(&mut small, room);
            o.insert(k, v);
            break o;
        }
    };
    while let Some(k) = map.next_key::<Value>()? {
        let v: Value = map.next_value()?;
        match k {
            Value::String(k) => {
                o.insert(k, v);
            }
            k => {
                let mut entries = entries_of(o);
                entries.push((k, v));
                return Ok(Err(entries));
            }
        }
    }
    Ok(Ok(o))
}

/// Deserialize a `T` from a [`Value`].
///
/// Numbers that are whole and safe read as any integer type; bigints read as integer types
/// they fit in; a Date reads as a [`crate::Date`], a `chrono::DateTime` (from its ISO
/// string) or a string; a Set reads as any sequence and a Map as any map. Shared nodes are
/// read through; a cycle is an error, and reading more than
/// [`Limits::max_ref_expansion`](crate::Limits::max_ref_expansion) nodes below shared nodes
/// is an error (a small DAG must not become a huge tree).
///
/// ```
/// use polycodec::{from_value, Value};
/// let v = Value::from(vec![Value::from(1), Value::from(2)]);
/// let xs: Vec<u8> = from_value(v).unwrap();
/// assert_eq!(xs, [1, 2]);
/// ```
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T> {
    from_value_ref(&value)
}

/// Like [`from_value`], borrowing the value.
pub fn from_value_ref<T: de::DeserializeOwned>(value: &Value) -> Result<T> {
    from_value_within(value, crate::Limits::default())
}

/// [`from_value_ref`] expanding shared nodes within `limits` (a codec's own).
pub(crate) fn from_value_within<T: de::DeserializeOwned>(
    value: &Value,
    limits: crate::Limits,
) -> Result<T> {
    let budget = Cell::new(limits.ref_expansion());
    T::deserialize(ValueDeserializer {
        value,
        budget: &budget,
        in_ref: false,
    })
}

/// Run `f` on a [`ValueDeserializer`] over `v`: how the typed readers hand a value they had
/// to build (an extension, an annotated node) to serde.
pub(crate) fn with_value<T>(
    v: Value,
    f: impl FnOnce(ValueDeserializer<'_>) -> Result<T>,
) -> Result<T> {
    let budget = Cell::new(crate::Limits::default().ref_expansion());
    f(ValueDeserializer::new(&v, &budget))
}

/// Deserialize a `T` from a list of values read as one JS array (an argument list),
/// without building that array.
#[cfg(feature = "rpc")]
pub(crate) fn from_values<T: de::DeserializeOwned>(items: &[Value]) -> Result<T> {
    let budget = Cell::new(crate::Limits::default().ref_expansion());
    let undefined = Value::Undefined;
    T::deserialize(SeqDeserializer(
        items,
        ValueDeserializer::new(&undefined, &budget),
    ))
}

/// A deserializer over a borrowed [`Value`].
#[derive(Clone, Copy)]
pub(crate) struct ValueDeserializer<'a> {
    value: &'a Value,
    budget: &'a Cell<usize>,
    in_ref: bool,
}

impl<'a> ValueDeserializer<'a> {
    /// A deserializer over `value`; reads below shared nodes are charged to `budget`.
    pub(crate) fn new(value: &'a Value, budget: &'a Cell<usize>) -> Self {
        ValueDeserializer {
            value,
            budget,
            in_ref: false,
        }
    }

    fn child(&self, value: &'a Value) -> ValueDeserializer<'a> {
        ValueDeserializer {
            value,
            budget: self.budget,
            in_ref: self.in_ref,
        }
    }

    fn charge(&self) -> Result<()> {
        if self.in_ref {
            let left = self.budget.get();
            if left == 0 {
                return Err(Error::limit(
                    "shared references expand beyond the reference expansion limit",
                ));
            }
            self.budget.set(left - 1);
        }
        Ok(())
    }

    /// Run `f` on the value behind a shared reference.
    fn through_ref<R>(&self, f: impl FnOnce(ValueDeserializer<'_>) -> Result<R>) -> Result<R> {
        let Value::Ref(r) = self.value else {
            return f(*self);
        };
        if r.is_back_reference() {
            return Err(Error::unsupported(
                "a cyclic value cannot be read into a Rust type",
            ));
        }
        let resolved = r
            .resolve()
            .ok_or_else(|| Error::data("dangling reference"))?;
        f(ValueDeserializer {
            value: &resolved,
            budget: self.budget,
            in_ref: true,
        })
    }
}

macro_rules! int_hint {
    ($method:ident, $visit:ident, $conv:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.value {
                Value::BigInt(b) => match b.$conv() {
                    Some(n) => visitor.$visit(n),
                    None => Err(de::Error::custom(format!(
                        "bigint {b} does not fit in {}",
                        stringify!($conv)
                    ))),
                },
                _ => self.deserialize_any(visitor),
            }
        }
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.charge()?;
        match self.value {
            Value::Ref(_) => self.through_ref(|d| d.deserialize_any(visitor)),
            Value::Undefined => visitor.visit_map(MagicMap::new(magic::UNDEFINED, Payload::Unit)),
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                let n = *n;
                if is_safe_integer(n) && !(n == 0.0 && n.is_sign_negative()) {
                    if n >= 0.0 {
                        visitor.visit_u64(n as u64)
                    } else {
                        visitor.visit_i64(n as i64)
                    }
                } else {
                    visitor.visit_f64(n)
                }
            }
            Value::BigInt(b) => {
                visitor.visit_map(MagicMap::new(magic::BIGINT, Payload::Str(b.to_string())))
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Bytes(b) => visitor.visit_bytes(b),
            Value::TypedArray(t) => visitor.visit_map(MagicMap::new(
                magic::TYPED_ARRAY,
                Payload::Owned(Value::Array(vec![
                    Value::String(t.kind.name().to_owned()),
                    Value::Array(t.elements.iter().map(|&n| Value::Number(n)).collect()),
                ])),
            )),
            Value::Array(a) => visitor.visit_seq(Seq {
                iter: a.iter(),
                de: self,
                index: 0,
            }),
            Value::Object(o) => visitor.visit_map(Map {
                iter: o.iter(),
                de: self,
                pending: None,
            }),
            Value::Map(m) => visitor.visit_map(MagicMap::new(
                magic::MAP,
                Payload::Pairs(m.as_slice(), self),
            )),
            Value::Set(s) => visitor.visit_map(MagicMap::new(magic::SET, Payload::Seq(s, self))),
            Value::Date(d) => {
                visitor.visit_map(MagicMap::new(magic::DATE, Payload::F64(d.time_value())))
            }
            Value::RegExp(r) => visitor.visit_map(MagicMap::new(
                magic::REGEXP,
                Payload::Owned(Value::Array(vec![
                    Value::String(r.source().to_owned()),
                    Value::String(r.flags().to_owned()),
                ])),
            )),
            Value::Error(e) => {
                let mut o = Object::new();
                o.insert("name", Value::String(e.name.clone()));
                o.insert("message", Value::String(e.message.clone()));
                if let Some(s) = &e.stack {
                    o.insert("stack", Value::String(s.clone()));
                }
                if let Some(c) = &e.cause {
                    o.insert("cause", c.clone());
                }
                for (k, v) in &e.props {
                    o.insert(k.clone(), v.clone());
                }
                visitor.visit_map(MagicMap::new(
                    magic::ERROR,
                    Payload::Owned(Value::Object(o)),
                ))
            }
            Value::Url(u) => visitor.visit_map(MagicMap::new(magic::URL, Payload::Str(u.clone()))),
            Value::Ext { ty, data } => visitor.visit_map(MagicMap::new(
                magic::EXT,
                Payload::Owned(Value::Array(vec![
                    Value::Number(f64::from(*ty)),
                    Value::Bytes(data.to_vec()),
                ])),
            )),
            Value::Annotated(a) => visitor.visit_map(MagicMap::new(
                magic::ANNOTATED,
                Payload::Owned(Value::Array(vec![
                    Value::String(a.kind.clone()),
                    Value::String(a.id.clone()),
                    a.value.clone(),
                ])),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Null | Value::Undefined => visitor.visit_none(),
            Value::Ref(_) => self.through_ref(|d| d.deserialize_option(visitor)),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Null | Value::Undefined => visitor.visit_unit(),
            // An empty argument list reads as `()`.
            Value::Array(a) if a.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Date(d) => match d.to_iso_string() {
                Some(s) => visitor.visit_string(s),
                None => Err(de::Error::custom("an invalid Date has no string form")),
            },
            Value::BigInt(b) => visitor.visit_string(b.to_string()),
            Value::Url(u) => visitor.visit_str(u),
            Value::RegExp(r) => visitor.visit_string(r.to_literal()),
            Value::Ref(_) => self.through_ref(|d| d.deserialize_str(visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    int_hint!(deserialize_i64, visit_i64, to_i64);
    int_hint!(deserialize_u64, visit_u64, to_u64);
    int_hint!(deserialize_i128, visit_i128, to_i128);
    int_hint!(deserialize_u128, visit_u128, to_u128);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Number(n) => visitor.visit_f64(*n),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Set(s) => visitor.visit_seq(Seq {
                iter: s.iter(),
                de: self,
                index: 0,
            }),
            Value::Map(m) => visitor.visit_seq(PairSeq {
                iter: m.iter(),
                de: self,
            }),
            Value::Ref(_) => self.through_ref(|d| d.deserialize_seq(visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Map(m) => visitor.visit_map(PairMap {
                iter: m.iter(),
                de: self,
                pending: None,
            }),
            Value::Ref(_) => self.through_ref(|d| d.deserialize_map(visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Value::Error(e) => {
                // An Error reads as a struct of its fields.
                ValueDeserializer {
                    value: &Value::Object(error_fields(e)),
                    budget: self.budget,
                    in_ref: self.in_ref,
                }
                .deserialize_any(visitor)
            }
            _ => self.deserialize_map(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if Magic::from_name(name).is_some() {
            self.deserialize_any(visitor)
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Bytes(b) => visitor.visit_bytes(b),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().expect("one entry");
                visitor.visit_enum(Enum {
                    variant: k,
                    value: self.child(v),
                })
            }
            Value::Ref(_) => self.through_ref(|d| d.deserialize_enum("", &[], visitor)),
            other => Err(de::Error::custom(format!(
                "expected an enum (a string or an object with one key), found {}",
                other.kind_name()
            ))),
        }
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 u8 u16 u32 char unit_struct tuple tuple_struct identifier ignored_any
    }
}

fn error_fields(e: &super::JsError) -> Object {
    let mut o = Object::new();
    o.insert("name", Value::String(e.name.clone()));
    o.insert("message", Value::String(e.message.clone()));
    if let Some(s) = &e.stack {
        o.insert("stack", Value::String(s.clone()));
    }
    if let Some(c) = &e.cause {
        o.insert("cause", c.clone());
    }
    for (k, v) in &e.props {
        o.insert(k.clone(), v.clone());
    }
    o
}

struct Seq<'a, I> {
    iter: I,
    de: ValueDeserializer<'a>,
    index: usize,
}

impl<'de, 'a, I: Iterator<Item = &'a Value>> SeqAccess<'de> for Seq<'a, I> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(v) = self.iter.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(self.de.child(v))
            .map(Some)
            .map_err(|e| e.in_segment(&i.to_string()))
    }
}

struct Map<'a, I> {
    iter: I,
    de: ValueDeserializer<'a>,
    pending: Option<(&'a String, &'a Value)>,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a Value)>> MapAccess<'de> for Map<'a, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((k, v));
        seed.deserialize(KeyDeserializer::Copied(k)).map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let (k, v) = self
            .pending
            .take()
            .ok_or_else(|| Error::data("value requested before key"))?;
        seed.deserialize(self.de.child(v))
            .map_err(|e| e.in_segment(k))
    }
    fn size_hint(&self) -> Option<usize> {
        match self.iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }
}

/// An object key: a string, which also reads as a number (or a bool) for maps with such
/// keys; borrowed from the input or copied. A key that equals a magic name is never taken
/// for one (see [`is_magic_name`]).
pub(crate) enum KeyDeserializer<'a, 'k> {
    Borrowed(&'a str),
    Copied(&'k str),
}

impl KeyDeserializer<'_, '_> {
    fn text(&self) -> &str {
        match self {
            KeyDeserializer::Borrowed(s) => s,
            KeyDeserializer::Copied(s) => s,
        }
    }
}

macro_rules! key_int {
    ($($method:ident $visit:ident $t:ty)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.text().parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(Error::data(format!(
                    "object key {:?} is not a {}", self.text(), stringify!($t)
                ))),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer<'de, '_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            // A key that equals a magic name is the object's own key, never a JS kind (also
            // when serde keeps it for later, as a struct with `flatten` does with the keys
            // it reads as identifiers).
            KeyDeserializer::Borrowed(s) if !is_magic_name(s) => visitor.visit_borrowed_str(s),
            other => visitor.visit_str(other.text()),
        }
    }

    key_int!(deserialize_i8 visit_i8 i8 deserialize_i16 visit_i16 i16 deserialize_i32 visit_i32 i32
        deserialize_i64 visit_i64 i64 deserialize_i128 visit_i128 i128
        deserialize_u8 visit_u8 u8 deserialize_u16 visit_u16 u16 deserialize_u32 visit_u32 u32
        deserialize_u64 visit_u64 u64 deserialize_u128 visit_u128 u128
        deserialize_f32 visit_f32 f32 deserialize_f64 visit_f64 f64);
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.text() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(Error::data(format!("object key {other:?} is not a bool"))),
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self.text().into_deserializer())
    }
    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf option unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

/// A JS Map read as a sequence of `[key, value]` pairs.
struct PairSeq<'a, I> {
    iter: I,
    de: ValueDeserializer<'a>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Value, Value)>> SeqAccess<'de> for PairSeq<'a, I> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        seed.deserialize(PairDeserializer(self.de.child(k), self.de.child(v)))
            .map(Some)
    }
}

struct PairDeserializer<'a>(ValueDeserializer<'a>, ValueDeserializer<'a>);

impl<'de> Deserializer<'de> for PairDeserializer<'_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        struct Two<'a>(Option<ValueDeserializer<'a>>, Option<ValueDeserializer<'a>>);
        impl<'de> SeqAccess<'de> for Two<'_> {
            type Error = Error;
            fn next_element_seed<T: DeserializeSeed<'de>>(
                &mut self,
                seed: T,
            ) -> Result<Option<T::Value>> {
                match self.0.take().or_else(|| self.1.take()) {
                    Some(d) => seed.deserialize(d).map(Some),
                    None => Ok(None),
                }
            }
        }
        visitor.visit_seq(Two(Some(self.0), Some(self.1)))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// A JS Map read as a map (keys of any type).
struct PairMap<'a, I> {
    iter: I,
    de: ValueDeserializer<'a>,
    pending: Option<&'a Value>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Value, Value)>> MapAccess<'de> for PairMap<'a, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some(v);
        seed.deserialize(self.de.child(k)).map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let v = self
            .pending
            .take()
            .ok_or_else(|| Error::data("value requested before key"))?;
        seed.deserialize(self.de.child(v))
    }
}

/// The payload of a magic map.
enum Payload<'a> {
    Unit,
    F64(f64),
    Str(String),
    Owned(Value),
    Seq(&'a [Value], ValueDeserializer<'a>),
    Pairs(&'a [(Value, Value)], ValueDeserializer<'a>),
}

/// A one-entry map `{ "<magic name>": payload }` (see [`crate::value::magic`]).
pub(crate) struct MagicMap<'a> {
    name: Option<&'static str>,
    payload: Option<Payload<'a>>,
}

impl<'a> MagicMap<'a> {
    fn new(name: &'static str, payload: Payload<'a>) -> Self {
        MagicMap {
            name: Some(name),
            payload: Some(payload),
        }
    }
}

impl<'de> MapAccess<'de> for MagicMap<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.name.take() {
            // Borrowed: a magic name must stay one also through serde's buffering
            // (`flatten`, untagged enums), which keeps a borrowed string borrowed.
            Some(n) => seed
                .deserialize(de::value::BorrowedStrDeserializer::new(n))
                .map(Some),
            None => Ok(None),
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let budget = Cell::new(usize::MAX);
        match self
            .payload
            .take()
            .ok_or_else(|| Error::data("value requested twice"))?
        {
            Payload::Unit => seed.deserialize(().into_deserializer()),
            Payload::F64(n) => seed.deserialize(n.into_deserializer()),
            Payload::Str(s) => seed.deserialize(s.into_deserializer()),
            Payload::Owned(v) => seed.deserialize(ValueDeserializer {
                value: &v,
                budget: &budget,
                in_ref: false,
            }),
            Payload::Seq(items, de) => seed.deserialize(SeqDeserializer(items, de)),
            Payload::Pairs(pairs, de) => seed.deserialize(PairsDeserializer(pairs, de)),
        }
    }
}

struct SeqDeserializer<'a>(&'a [Value], ValueDeserializer<'a>);

impl<'de> Deserializer<'de> for SeqDeserializer<'_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Seq {
            iter: self.0.iter(),
            de: self.1,
            index: 0,
        })
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // An empty argument list reads as `()`.
        if self.0.is_empty() {
            visitor.visit_unit()
        } else {
            self.deserialize_any(visitor)
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct PairsDeserializer<'a>(&'a [(Value, Value)], ValueDeserializer<'a>);

impl<'de> Deserializer<'de> for PairsDeserializer<'_> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(PairSeq {
            iter: self.0.iter(),
            de: self.1,
        })
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(PairMap {
            iter: self.0.iter(),
            de: self.1,
            pending: None,
        })
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct struct enum
        identifier ignored_any
    }
}

struct Enum<'a> {
    variant: &'a str,
    value: ValueDeserializer<'a>,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = Error;
    type Variant = ValueDeserializer<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let v = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(self.variant))?;
        Ok((v, self.value))
    }
}

impl<'de> VariantAccess<'de> for ValueDeserializer<'_> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }
}

//! `Serialize` for [`Value`] and [`to_value`]: any `T: Serialize` into a `Value`.

use super::magic::{self, Magic};
use super::number::is_safe_integer;
use super::{
    Annotated, Coercion, Date, JsError, Object, Ref, RegExp, TypedArray, TypedArrayKind, Value,
};
use crate::stack::{grow_within, VALUE_SER_RED_ZONE};
use crate::{Error, Result};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Undefined => s.serialize_newtype_struct(magic::UNDEFINED, &()),
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if is_safe_integer(*n) && !(*n == 0.0 && n.is_sign_negative()) {
                    s.serialize_i64(*n as i64)
                } else {
                    s.serialize_f64(*n)
                }
            }
            Value::BigInt(b) => s.serialize_newtype_struct(magic::BIGINT, &b.to_string()),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::TypedArray(t) => {
                s.serialize_newtype_struct(magic::TYPED_ARRAY, &(t.kind.name(), &t.elements))
            }
            // Containers on a grown stack where needed: any serializer (bincode's, serde_json's)
            // recurses once per level, and a deep `Value` overflowed the thread's stack.
            Value::Array(a) => grow_within(VALUE_SER_RED_ZONE, || a.serialize(s)),
            // In JS property order (integer-like keys first), as every codec's `Value` path
            // writes it and JSON.stringify does: a `Value` inside a typed struct wrote its
            // keys in insertion order.
            Value::Object(o) => grow_within(VALUE_SER_RED_ZONE, || {
                let mut m = s.serialize_map(Some(o.len()))?;
                if o.is_js_ordered() {
                    for (k, v) in o {
                        m.serialize_entry(k, v)?;
                    }
                } else {
                    for (k, v) in o.js_order() {
                        m.serialize_entry(k, v)?;
                    }
                }
                m.end()
            }),
            Value::Map(entries) => grow_within(VALUE_SER_RED_ZONE, || {
                s.serialize_newtype_struct(magic::MAP, &Pairs(entries))
            }),
            Value::Set(items) => grow_within(VALUE_SER_RED_ZONE, || {
                s.serialize_newtype_struct(magic::SET, items)
            }),
            Value::Date(d) => s.serialize_newtype_struct(magic::DATE, &DatePayload(*d)),
            Value::RegExp(r) => s.serialize_newtype_struct(magic::REGEXP, &RegExpPayload(r)),
            Value::Error(e) => s.serialize_newtype_struct(magic::ERROR, &ErrorPayload(e)),
            Value::Url(u) => s.serialize_newtype_struct(magic::URL, u),
            Value::Annotated(a) => {
                s.serialize_newtype_struct(magic::ANNOTATED, &(&a.kind, &a.id, &a.value))
            }
            Value::Ext { ty, data } => {
                s.serialize_newtype_struct(magic::EXT, &(*ty, ExtBytes(data)))
            }
            Value::Ref(r) => {
                if r.is_back_reference() {
                    return Err(ser::Error::custom(
                        "a cyclic value cannot be written by this serializer",
                    ));
                }
                match r.resolve() {
                    // The payload is the node's own value (not a copy): its address is the
                    // node's identity for the serializers that keep it.
                    Some(v) if v.is_primitive() => s.serialize_newtype_struct(magic::REF, &*v),
                    Some(v) => {
                        r.offer();
                        s.serialize_newtype_struct(magic::SHARED, &*v)
                    }
                    None => s.serialize_unit(),
                }
            }
        }
    }
}

/// Map entries as a sequence of `[key, value]` pairs.
pub(crate) struct Pairs<'a>(pub &'a [(Value, Value)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            seq.serialize_element(&(k, v))?;
        }
        seq.end()
    }
}

/// A Date's payload: its ISO string (or unit when invalid) in human-readable formats, its
/// milliseconds (NaN when invalid) in the others.
pub(crate) struct DatePayload(pub Date);

impl Serialize for DatePayload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match self.0.to_iso_string() {
                Some(iso) => s.serialize_str(&iso),
                None => s.serialize_unit(),
            }
        } else {
            s.serialize_f64(self.0.time_value())
        }
    }
}

/// A RegExp's payload: `/source/flags` in human-readable formats, `[source, flags]` in the
/// others.
pub(crate) struct RegExpPayload<'a>(pub &'a RegExp);

impl Serialize for RegExpPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.0.to_literal())
        } else {
            let mut t = s.serialize_tuple(2)?;
            t.serialize_element(self.0.source())?;
            t.serialize_element(self.0.flags())?;
            t.end()
        }
    }
}

/// An Error's payload: `{name, message, stack?, cause?, ...props}`.
pub(crate) struct ErrorPayload<'a>(pub &'a JsError);

impl Serialize for ErrorPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let n = 2 + usize::from(e.stack.is_some()) + usize::from(e.cause.is_some()) + e.props.len();
        let mut m = s.serialize_map(Some(n))?;
        m.serialize_entry("name", &e.name)?;
        m.serialize_entry("message", &e.message)?;
        if let Some(c) = &e.cause {
            m.serialize_entry("cause", c)?;
        }
        if let Some(st) = &e.stack {
            m.serialize_entry("stack", st)?;
        }
        for (k, v) in &e.props {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Convert any `T: Serialize` into a [`Value`].
///
/// Integers in ±(2^53−1) become numbers; wider `i64`/`u64` values and every `i128`/`u128`
/// become bigints, so no precision is lost. Maps whose keys are all strings become objects,
/// others become JS `Map`s. polycodec's wrapper types ([`crate::js`]) become their JS kinds.
/// A shared node ([`Ref`]) of a `Value` inside `T` stays one shared node, as
/// [`Value::clone`] keeps it (not a copy per place).
///
/// ```
/// use polycodec::{to_value, Value};
/// use std::collections::BTreeMap;
/// let m: BTreeMap<u8, &str> = [(1, "one")].into();
/// assert!(matches!(to_value(&m).unwrap(), Value::Map(_)));
/// assert_eq!(to_value(&u64::MAX).unwrap(), Value::BigInt(u64::MAX.into()));
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value.serialize(ValueSerializer)
}

/// The serializer behind [`to_value`].
pub(crate) struct ValueSerializer;

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantBuilder<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantBuilder<MapBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        Ok(super::de::int_value(v.into()))
    }
    fn serialize_i128(self, v: i128) -> Result<Value> {
        Ok(Value::BigInt(v.into()))
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        Ok(super::de::int_value(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<Value> {
        Ok(Value::BigInt(v.into()))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Number(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value> {
        match Magic::from_name(name) {
            None => v.serialize(self),
            // A shared node stays one node (as `Value::clone` keeps it), not a copy per place.
            Some(Magic::Shared) => match Ref::claim(v) {
                Some(node) => Ok(Value::Ref(node)),
                None => v.serialize(self),
            },
            Some(m) => from_magic(m, v.serialize(self)?),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value> {
        let mut o = Object::with_capacity(1);
        o.insert(variant, v.serialize(self)?);
        Ok(Value::Object(o))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<SeqBuilder>> {
        Ok(VariantBuilder(variant, self.serialize_seq(Some(len))?))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder> {
        Ok(MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapBuilder> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder>> {
        Ok(VariantBuilder(variant, self.serialize_map(Some(len))?))
    }
}

/// Build the JS kind a magic newtype stands for from its payload, already a `Value`.
pub(crate) fn from_magic(m: Magic, payload: Value) -> Result<Value> {
    let bad = |what: &str| Error::data(format!("invalid {what} payload: {payload:?}"));
    Ok(match (m, &payload) {
        (Magic::Ref | Magic::Shared, _) => payload,
        (Magic::Optional, Value::Null) => Value::Undefined,
        (Magic::Optional, _) => payload,
        (Magic::Undefined, _) => Value::Undefined,
        (Magic::Date, Value::String(s)) => Value::Date(Date::parse(s)),
        (Magic::Date, Value::Number(n)) => Value::Date(Date::from_millis(*n)),
        (Magic::Date, Value::Null) => Value::Date(Date::invalid()),
        (Magic::BigInt, Value::String(s)) => {
            Value::BigInt(super::number::string_to_bigint(s)?.ok_or_else(|| bad("bigint"))?)
        }
        (Magic::BigInt, Value::BigInt(b)) => Value::BigInt(b.clone()),
        (Magic::BigInt, Value::Number(n)) => {
            Value::BigInt(super::number::number_to_bigint(*n).ok_or_else(|| bad("bigint"))?)
        }
        (Magic::Url, Value::String(s)) => Value::Url(s.clone()),
        (Magic::RegExp, Value::String(s)) => Value::RegExp(Box::new(RegExp::from_literal(s)?)),
        (Magic::RegExp, Value::Array(a)) => match a.as_slice() {
            [Value::String(src), Value::String(flags)] => {
                Value::RegExp(Box::new(RegExp::new(src, flags)?))
            }
            _ => return Err(bad("RegExp")),
        },
        (Magic::Set, Value::Array(_)) => match payload {
            Value::Array(a) => Value::Set(a),
            _ => unreachable!(),
        },
        (Magic::Map, Value::Map(m)) => Value::Map(m.clone()),
        (Magic::Map, Value::Object(o)) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect(),
        ),
        (Magic::Map, Value::Array(_)) => match payload {
            Value::Array(a) => Value::Map(
                a.into_iter()
                    .map(|pair| match pair {
                        Value::Array(mut kv) if kv.len() == 2 => {
                            let v = kv.pop().unwrap_or_default();
                            let k = kv.pop().unwrap_or_default();
                            Ok((k, v))
                        }
                        other => Err(Error::data(format!(
                            "Iterator value {other:?} is not an entry object"
                        ))),
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => unreachable!(),
        },
        (Magic::Error, Value::Object(_)) => match payload {
            Value::Object(o) => Value::Error(Box::new(
                // Never `None` but under `Coercion::Strict`.
                JsError::from_object(o, Coercion::Debug).unwrap_or_default(),
            )),
            _ => unreachable!(),
        },
        (Magic::Annotated, Value::Array(a)) => match a.as_slice() {
            [Value::String(kind), Value::String(id), value] => {
                Value::Annotated(Box::new(Annotated {
                    kind: kind.clone(),
                    id: id.clone(),
                    value: value.clone(),
                }))
            }
            _ => return Err(bad("annotated")),
        },
        (Magic::TypedArray, Value::Array(a)) => match a.as_slice() {
            [Value::String(name), Value::Array(items)] => {
                let kind = TypedArrayKind::from_name(name).ok_or_else(|| bad("typed array"))?;
                let nums = items.iter().map(|v| v.as_f64().unwrap_or(0.0));
                Value::TypedArray(Box::new(TypedArray::new(kind, nums)))
            }
            _ => return Err(bad("typed array")),
        },
        (Magic::Ext, Value::Array(a)) => match a.as_slice() {
            [Value::Number(ty), Value::Bytes(data)]
                if ty.fract() == 0.0 && (-128.0..=127.0).contains(ty) =>
            {
                Value::Ext {
                    ty: *ty as i8,
                    data: data.as_slice().into(),
                }
            }
            _ => return Err(bad("MessagePack extension")),
        },
        _ => return Err(bad(m.name())),
    })
}

/// An extension's payload, serialized as bytes.
pub(crate) struct ExtBytes<'a>(pub(crate) &'a [u8]);

impl Serialize for ExtBytes<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

pub(crate) struct SeqBuilder(Vec<Value>);

impl SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.0.push(v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value> {
        SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value> {
        SerializeSeq::end(self)
    }
}

pub(crate) struct MapBuilder {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.key = Some(k.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let k = self.key.take().unwrap_or_default();
        self.entries.push((k, v.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value> {
        if self
            .entries
            .iter()
            .all(|(k, _)| matches!(k, Value::String(_)))
        {
            let mut o = Object::with_capacity(self.entries.len());
            for (k, v) in self.entries {
                if let Value::String(k) = k {
                    o.insert(k, v);
                }
            }
            Ok(Value::Object(o))
        } else {
            Ok(Value::Map(self.entries))
        }
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.entries
            .push((Value::String(key.to_owned()), v.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value> {
        SerializeMap::end(self)
    }
}

pub(crate) struct VariantBuilder<B>(&'static str, B);

impl ser::SerializeTupleVariant for VariantBuilder<SeqBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        SerializeSeq::serialize_element(&mut self.1, v)
    }
    fn end(self) -> Result<Value> {
        let mut o = Object::with_capacity(1);
        o.insert(self.0, SerializeSeq::end(self.1)?);
        Ok(Value::Object(o))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<MapBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        ser::SerializeStruct::serialize_field(&mut self.1, key, v)
    }
    fn end(self) -> Result<Value> {
        let mut o = Object::with_capacity(1);
        o.insert(self.0, SerializeMap::end(self.1)?);
        Ok(Value::Object(o))
    }
}

#[allow(unused_imports)]
use SerializeTuple as _;

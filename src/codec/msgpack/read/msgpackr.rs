//! msgpackr's forms that are not self-delimiting: records (`d4 72 <id>` + keys, then ids
//! 0x40–0x7f), prefix tags (`d4 73 00` Set, `d4 65 00` Error, `d4 78 00` RegExp, each followed
//! by the value it applies to), and structured-clone references (`d6 69 <id>` before a
//! target, `d6 70 <id>` for a pointer). All state is per message.

use super::super::ext;
use super::super::records::Keys;
use super::{Deserializer, Enum, Head};
use crate::value::de::with_value;
use crate::value::same_value_zero::dedupe_members;
use crate::value::{JsError, Object, RegExp, Value};
use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

/// What a msgpackr construct at the reader's place is.
pub(super) enum Form {
    Record(Keys),
    Tag(i8),
    Target(u32),
    Pointer(u32),
}

impl<'a> Deserializer<'a> {
    /// The msgpackr construct that starts here, if one does (a record id or definition is
    /// read; a tag, target or pointer is only looked at). A byte 0x40–0x7f that is no
    /// record is left to be read as an integer.
    #[inline]
    pub(super) fn form(&mut self) -> Result<Option<Form>> {
        let Some(m) = self.peek_marker() else {
            return Ok(None);
        };
        match m {
            0x40..=0x7f => Ok(self.record_keys()?.map(Form::Record)),
            0xd4..=0xd6 => {
                let (ty, data) = match (self.b.get(self.pos + 1), self.b.get(self.pos + 2)) {
                    (Some(&t), Some(&d)) => (t as i8, d),
                    _ => return Ok(None),
                };
                Ok(match (m, ty) {
                    (0xd4 | 0xd5, ext::RECORD) => self.record_keys()?.map(Form::Record),
                    (0xd4, ext::SET_TAG | ext::ERROR_TAG | ext::REGEXP_TAG) if data == 0 => {
                        Some(Form::Tag(ty))
                    }
                    (0xd6, ext::REF_ID | ext::REF_POINTER) => {
                        let id = self
                            .b
                            .get(self.pos + 2..self.pos + 6)
                            .and_then(|s| s.try_into().ok())
                            .map(u32::from_be_bytes);
                        match id {
                            Some(id) if ty == ext::REF_ID => Some(Form::Target(id)),
                            Some(id) => Some(Form::Pointer(id)),
                            None => None,
                        }
                    }
                    _ => None,
                })
            }
            _ => Ok(None),
        }
    }

    /// A record id defined in this message, or a record definition: read, with its keys.
    /// `None` (nothing read) otherwise; a byte 0x40–0x7f with no record is noted as an
    /// integer.
    #[inline]
    pub(super) fn record_keys(&mut self) -> Result<Option<Keys>> {
        // A record id defined earlier (the common case, once per object) in line; the rest
        // out of line.
        if let Some(m @ 0x40..=0x7f) = self.peek_marker() {
            if let Some(keys) = self.records.get(m) {
                let keys = keys.clone();
                self.pos += 1;
                return Ok(Some(keys));
            }
        }
        self.record_definition()
    }

    /// [`Deserializer::record_keys`] past a defined id: a definition, read; an id with no
    /// record, noted as an integer.
    #[inline(never)]
    fn record_definition(&mut self) -> Result<Option<Keys>> {
        let at = self.offset();
        let m = match self.peek_marker() {
            Some(m) => m,
            None => return Ok(None),
        };
        if let 0x40..=0x7f = m {
            self.records.bare(m, at);
            return Ok(None);
        }
        if self.b.get(self.pos + 1) != Some(&(ext::RECORD as u8)) {
            return Ok(None);
        }
        if m == 0xd5 {
            return Err(Error::data(
                "two-byte msgpackr record ids (d5 72) are not supported: they come with shared \
                 `structures` or `maxOwnStructures` over 64, which need state kept across messages",
            )
            .at_offset(at));
        }
        let Some(&raw) = self.b.get(self.pos + 2) else {
            return Err(self.eof());
        };
        self.pos += 3;
        let id = 0x40 | (raw & 0x3f);
        let keys_at = self.offset();
        let n = match self.head()? {
            Head::Array(n) => n,
            _ => {
                return Err(Error::data(format!(
                    "msgpackr record definition {id:#04x} must be followed by an array of keys"
                ))
                .at_offset(keys_at))
            }
        };
        let mut keys = Vec::with_capacity(n.min(crate::value::de::MAX_ROOM));
        for _ in 0..n {
            let key_at = self.offset();
            match self.head()? {
                Head::Str(s) => keys.push(Box::from(self.str_of(s, self.offset() - s.len())?)),
                _ => {
                    return Err(Error::data(format!(
                        "a key of msgpackr record {id:#04x} is not a string"
                    ))
                    .at_offset(key_at))
                }
            }
        }
        let keys = Keys::new(keys);
        if !self.records.define(id, keys.clone()) {
            return Err(Error::data(format!(
                "msgpackr record {id:#04x} is defined after the same byte was read as the \
                 integer {id} earlier in the message (a record id used before its definition)"
            ))
            .at_offset(at));
        }
        Ok(Some(keys))
    }

    /// The values of a record with these keys, as an object.
    pub(super) fn build_record(&mut self, keys: &Keys) -> Result<Value> {
        if keys.unique() {
            // No key to look up as the entries go in: each is pushed.
            let mut entries = Vec::with_capacity(keys.len());
            for k in keys.iter() {
                let v = self.build().map_err(|e| e.in_segment(k))?;
                entries.push((String::from(&**k), v));
            }
            return Ok(Value::Object(Object::from_unique_entries(entries)));
        }
        let mut o = Object::with_capacity(keys.len());
        for k in keys.iter() {
            let v = self.build().map_err(|e| e.in_segment(k))?;
            o.insert(&**k, v);
        }
        Ok(Value::Object(o))
    }

    /// A prefix tag at `at` (3 bytes) and the value after it, as the kind it marks.
    pub(super) fn tagged(&mut self, ty: i8, at: usize) -> Result<Value> {
        self.pos += 3;
        let what = match ty {
            ext::SET_TAG => "Set",
            ext::ERROR_TAG => "Error",
            _ => "RegExp",
        };
        if self.pos == self.b.len() {
            return Err(Error::data(format!(
                "msgpackr {what} tag (d4 {:02x} 00) has no value after it",
                ty as u8
            ))
            .at_offset(at));
        }
        let bad = |need: &str| {
            Error::data(format!("msgpackr {what} tag must be followed by {need}")).at_offset(at)
        };
        // Only an array may follow (it is a level of nesting: tags cannot recurse unbounded).
        if !matches!(self.peek_marker(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
            return Err(bad(match ty {
                ext::SET_TAG => "an array",
                ext::REGEXP_TAG => "[source, flags]",
                _ => "[name, message, cause]",
            }));
        }
        let v = self.build()?;
        Ok(match (ty, v) {
            (ext::SET_TAG, Value::Array(a)) => Value::Set(dedupe_members(a)),
            (ext::SET_TAG, _) => return Err(bad("an array")),
            (ext::REGEXP_TAG, Value::Array(a)) => match a.as_slice() {
                [Value::String(s), Value::String(f)] => {
                    Value::RegExp(Box::new(RegExp::new(s, f).map_err(|e| e.at_offset(at))?))
                }
                _ => return Err(bad("[source, flags]")),
            },
            (ext::REGEXP_TAG, _) => return Err(bad("[source, flags]")),
            (_, Value::Array(a)) if (2..=4).contains(&a.len()) => {
                let mut it = a.into_iter();
                let (name, message) = match (it.next(), it.next()) {
                    (Some(Value::String(n)), Some(Value::String(m))) => (n, m),
                    (Some(Value::String(n)), Some(Value::Undefined)) => (n, String::new()),
                    _ => return Err(bad("[name, message, cause]")),
                };
                let mut e = JsError::new(name, message);
                // msgpackr writes `cause` always; `undefined` stands for none.
                e.cause = it.next().filter(|c| !c.is_undefined());
                if let Some(errors) = it.next() {
                    e.props.insert("errors", errors);
                }
                Value::Error(Box::new(e))
            }
            _ => return Err(bad("[name, message, cause]")),
        })
    }

    /// A reference target `d6 69 <id>` at `at` and the value after it, as a shared node.
    pub(super) fn target(&mut self, id: u32, at: usize) -> Result<Value> {
        self.pos += 6;
        if self.pos == self.b.len() {
            return Err(Error::data(format!(
                "msgpackr reference target {id} (d6 69) has no value after it"
            ))
            .at_offset(at));
        }
        if self.b.get(self.pos..self.pos + 2) == Some(&[0xd6, ext::REF_ID as u8]) {
            return Err(Error::data(format!(
                "msgpackr reference target {id} (d6 69) is followed by another target, not by \
                 the value it names"
            ))
            .at_offset(at));
        }
        let Some(node) = self.targets.open(id) else {
            return Err(
                Error::data(format!("msgpackr reference id {id} is defined twice")).at_offset(at),
            );
        };
        let v = self.build()?;
        Ok(self.targets.close(id, node, v))
    }

    /// A pointer `d6 70 <id>` at `at`: the node of target `id`.
    pub(super) fn pointer(&mut self, id: u32, at: usize) -> Result<Value> {
        self.pos += 6;
        self.targets.pointer(id).ok_or_else(|| {
            Error::data(format!(
                "msgpackr pointer to reference id {id}, which no target before it defines"
            ))
            .at_offset(at)
        })
    }

    /// The typed path at a msgpackr construct: a record goes to the visitor as a map, a
    /// tag as the kind it marks; references are read through a `Value` (the caller starts
    /// again there).
    pub(super) fn typed_form<V: Visitor<'a>>(
        &mut self,
        form: Form,
        at: usize,
        visitor: V,
    ) -> Result<V::Value> {
        match form {
            Form::Record(keys) => self.record(keys, at, visitor),
            Form::Tag(ty) => {
                let v = self.tagged(ty, at)?;
                with_value(v, |d| de::Deserializer::deserialize_any(d, visitor))
            }
            Form::Target(_) | Form::Pointer(_) => {
                self.retry = true;
                Err(Error::data(
                    "msgpackr references are read through a Value (internal: the caller retries)",
                )
                .at_offset(at))
            }
        }
    }

    /// A record (its id or definition at `at`, read) with these keys: its values to the
    /// visitor as a map.
    #[inline]
    pub(super) fn record<V: Visitor<'a>>(
        &mut self,
        keys: Keys,
        at: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.nested(at, |de| visitor.visit_map(RecordMap { de, keys, next: 0 }))
    }

    /// An enum written as a one-key record (`{"Variant": value}` in the msgpackr profile).
    pub(super) fn record_enum<V: Visitor<'a>>(&mut self, visitor: V) -> Result<Option<V::Value>> {
        let at = self.offset();
        match self.record_keys()? {
            Some(keys) if keys.len() == 1 => {
                let key: Box<str> = keys[0].clone();
                visitor.visit_enum(RecordEnum { de: self, key }).map(Some)
            }
            Some(_) => Err(Error::data("expected an enum (an object with one key)").at_offset(at)),
            None => Ok(None),
        }
    }
}

/// A record's values, with its keys, to a typed visitor.
pub(super) struct RecordMap<'x, 'a> {
    de: &'x mut Deserializer<'a>,
    keys: Keys,
    next: usize,
}

impl<'de> MapAccess<'de> for RecordMap<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(k) = self.keys.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(de::value::StrDeserializer::<Error>::new(k))
            .map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let i = self.next;
        self.next += 1;
        seed.deserialize(&mut *self.de)
            .map_err(|e| match self.keys.get(i) {
                Some(k) => e.in_segment(k),
                None => e,
            })
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.keys.len() - self.next)
    }
}

/// The variant of an enum written as a one-key record.
struct RecordEnum<'x, 'a> {
    de: &'x mut Deserializer<'a>,
    key: Box<str>,
}

impl<'de, 'x> de::EnumAccess<'de> for RecordEnum<'x, 'de> {
    type Error = Error;
    type Variant = Enum<'x, 'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let v = seed.deserialize(de::value::StrDeserializer::<Error>::new(&self.key))?;
        Ok((v, Enum { de: self.de }))
    }
}

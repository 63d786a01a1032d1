//! Reading a [`Value`] straight from the bytes, without serde's visitor protocol.
//!
//! Through the visitor, an extension was built as a `Value` and then handed over by walking
//! it once more (serde has no way to pass a finished value to a visitor), so each level of
//! extensions inside extensions copied everything below it again: 400 Sets nested around an
//! array of a million nils took 15.6 s. Here every value is built once.

use super::{Deserializer, Head};
use crate::value::de::{int_value, MAX_ROOM};
use crate::value::same_value_zero::dedupe_entries;
use crate::value::{Object, Value};
use crate::Result;

impl Deserializer<'_> {
    /// The next value, as [`crate::value::de::ValueVisitor`] would build it from this
    /// reader: safe integers as numbers and the rest as bigints, a map with string keys as
    /// an `Object` (a repeated key keeps its first place and takes the last value), any
    /// other map as a `Map` whose repeated keys collapse as in `new Map`, extensions as the
    /// JS kinds they stand for. Same depth accounting, errors and paths.
    pub(in crate::codec::msgpack) fn build(&mut self) -> Result<Value> {
        let at = self.offset();
        Ok(match self.head()? {
            Head::Nil => Value::Null,
            Head::Bool(b) => Value::Bool(b),
            Head::U64(n) => int_value(n.into()),
            Head::I64(n) => int_value(n.into()),
            Head::F32(n) => Value::Number(f64::from(n)),
            Head::F64(n) => Value::Number(n),
            Head::Str(s) => Value::String(self.str_of(s, self.offset() - s.len())?.to_owned()),
            Head::Bin(b) => Value::Bytes(b.to_vec()),
            Head::Array(n) => self.nested(at, |d| d.build_array(n))?,
            Head::Map(n) => self.nested(at, |d| d.build_map(n))?,
            Head::Ext(ty, p) => self.ext_value(ty, p, at)?,
        })
    }

    fn build_array(&mut self, n: usize) -> Result<Value> {
        let mut out = Vec::with_capacity(n.min(MAX_ROOM));
        for i in 0..n {
            out.push(self.build().map_err(|e| e.in_segment(&i.to_string()))?);
        }
        Ok(Value::Array(out))
    }

    fn build_map(&mut self, n: usize) -> Result<Value> {
        let mut o = Object::with_capacity(n.min(MAX_ROOM));
        for i in 0..n {
            let key_at = self.pos;
            match self.head()? {
                Head::Str(s) => {
                    let k = self.str_of(s, self.offset() - s.len())?;
                    let v = self.build().map_err(|e| e.in_segment(k))?;
                    o.insert(k, v);
                }
                _ => {
                    // A key that is not a string: the map is a JS Map from here on.
                    self.pos = key_at;
                    return self.build_entries(o, n - i);
                }
            }
        }
        Ok(Value::Object(o))
    }

    /// The `left` entries of a map that turned out to have a key other than a string, after
    /// the string-keyed entries `read` so far.
    fn build_entries(&mut self, read: Object, left: usize) -> Result<Value> {
        let mut entries: Vec<(Value, Value)> =
            Vec::with_capacity((read.len() + left).min(MAX_ROOM));
        entries.extend(read.into_iter().map(|(k, v)| (Value::String(k), v)));
        for _ in 0..left {
            let key = self.build()?;
            let value = match &key {
                Value::String(k) => self.build().map_err(|e| e.in_segment(k))?,
                _ => self.build()?,
            };
            entries.push((key, value));
        }
        Ok(Value::Map(dedupe_entries(entries)))
    }
}

//! Reading a [`Value`] straight from the bytes, without serde's visitor protocol.
//!
//! Through the visitor, an extension was built as a `Value` and then handed over by walking
//! it once more (serde has no way to pass a finished value to a visitor), so each level of
//! extensions inside extensions copied everything below it again: 400 Sets nested around an
//! array of a million nils took 15.6 s. Here every value is built once.

use super::msgpackr::Form;
use super::{Deserializer, Head};
use crate::codec::msgpack::Int64As;
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
        if let Some(form) = self.form()? {
            return match form {
                Form::Record(keys) => self.nested(at, |d| d.build_record(&keys)),
                Form::Tag(ty) => self.tagged(ty, at),
                Form::Target(id) => self.target(id, at),
                Form::Pointer(id) => self.pointer(id, at),
            };
        }
        Ok(match self.head()? {
            Head::Nil => Value::Null,
            Head::Int64(n) => self.wide(n.into()),
            Head::Uint64(n) => self.wide(n.into()),
            Head::Bool(b) => Value::Bool(b),
            Head::U64(n) => int_value(n.into()),
            Head::I64(n) => int_value(n.into()),
            Head::F32(n) => Value::Number(f64::from(n)),
            Head::F64(n) => Value::Number(n),
            Head::Str(s) => Value::String(self.str_of(s, self.offset() - s.len())?.to_owned()),
            Head::Bin(b) => Value::Bytes(b.to_vec()),
            Head::Array(n) => self.nested(at, |d| d.build_array(n))?,
            Head::Map(n) if self.map_is_js_map(at, n) => {
                self.nested(at, |d| d.build_entries(Object::new(), n))?
            }
            Head::Map(n) => self.nested(at, |d| d.build_map(n))?,
            Head::Ext(ty, p) => self.ext_value(ty, p, at)?,
        })
    }

    /// Whether a plain map (header at `at`, `n` entries) is a JS Map: in the msgpackr
    /// profile, where objects come as records, every map but a map 16 of fewer than 16
    /// entries (msgpackr writes an object so when records are off, and a Map in the smallest
    /// form), as msgpackr's `new Packr()` reads them; in the standard profile only a map
    /// with a key that is not a string.
    pub(in crate::codec::msgpack) fn map_is_js_map(&self, at: usize, n: usize) -> bool {
        self.opts.profile == crate::codec::msgpack::Profile::Msgpackr
            && !(self.b.get(at - self.base) == Some(&0xde) && n < 16)
    }

    /// An int 64 / uint 64 from the wire, as the options say.
    fn wide(&self, n: i128) -> Value {
        match self.opts.int64 {
            Int64As::BigInt => Value::BigInt(n.into()),
            Int64As::Auto => int_value(n),
        }
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

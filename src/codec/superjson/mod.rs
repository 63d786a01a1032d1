//! The superjson codec: JSON text with a `meta` section that keeps JS types, byte-for-byte
//! compatible with superjson 2.x (see `codecs/README.md` for the mapping and the
//! differences).
//!
//! Here: the envelope (`{"json":…,"meta":…}`, split and read below). `meta` and `meta_text`
//! read `meta` into the annotation trie, `annotate` is what each annotation does to its
//! value, `refs` applies `referentialEqualities`, `path` reads path strings. The JSON text
//! underneath, both ways, is the engine in `codec::text`.

pub(crate) mod annotate;
pub(crate) mod meta;
pub(crate) mod meta_text;
pub(crate) mod path;
mod refs;

use crate::codec::text::encoder::{Encoder, Mode};
use crate::codec::text::read::{describe, Reader};
use crate::codec::text::tree::MetaTree;
use crate::codec::{text, Codec, FrameKind};
use crate::value::Value;
use crate::{Limits, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The text reader, applying superjson's annotations.
type Deserializer<'a, 'm> = text::de::Deserializer<'a, 'm, annotate::Untransform>;

/// The superjson codec.
///
/// Writes what JS `superjson.stringify` writes for the same value, byte for byte: JS number
/// formatting, JS string escaping, JS key order, `v:1` paths, `referentialEqualities` for
/// shared nodes, NaN and bigints. Reads superjson 1.x and 2.x (legacy and `v:1` paths).
///
/// ```
/// use polycodec::{codec::SuperJson, Value, Date};
/// let sj = SuperJson::new();
/// let v = Value::from(vec![Value::Date(Date::from_millis(0.0)), Value::BigInt(7.into())]);
/// let text = sj.encode_value_to_string(&v).unwrap();
/// assert_eq!(text, r#"{"json":["1970-01-01T00:00:00.000Z","7"],"meta":{"values":{"0":["Date"],"1":["bigint"]},"v":1}}"#);
/// assert_eq!(sj.decode_value(text.as_bytes()).unwrap(), v);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SuperJson {
    dedupe: bool,
    limits: Limits,
}

impl SuperJson {
    /// Subprotocol token: `polycodec.superjson`.
    pub const SUBPROTOCOL: &'static str = "polycodec.superjson";

    /// A codec with default [`Limits`] and `dedupe` off.
    pub fn new() -> SuperJson {
        SuperJson::default()
    }

    /// superjson's `dedupe` option: a shared node is written once and every later
    /// occurrence is `null` plus a reference. Default: off (what `superjson.stringify`
    /// does).
    pub fn dedupe(mut self, on: bool) -> SuperJson {
        self.dedupe = on;
        self
    }

    /// The limits applied when decoding and encoding. Default: [`Limits::default()`].
    pub fn with_limits(mut self, limits: Limits) -> SuperJson {
        self.limits = limits;
        self
    }

    fn encoder(&self) -> Encoder {
        Encoder::new(Mode::SuperJson, self.dedupe, &self.limits, 512)
    }

    /// Encode any `T: Serialize` (no intermediate `Value`).
    pub fn to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        let mut enc = self.encoder();
        value.serialize(&mut enc)?;
        Ok(enc.finish())
    }

    /// Encode any `T: Serialize` to a `String`.
    pub fn to_string<T: Serialize + ?Sized>(&self, value: &T) -> Result<String> {
        self.to_vec(value).map(into_string)
    }

    /// Encode a [`Value`].
    pub fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let mut enc = self.encoder();
        enc.value(value)?;
        Ok(enc.finish())
    }

    /// Encode a [`Value`] to a `String`.
    pub fn encode_value_to_string(&self, value: &Value) -> Result<String> {
        self.encode_value(value).map(into_string)
    }

    /// Decode any `T: DeserializeOwned` (no intermediate `Value` unless the payload has
    /// `referentialEqualities`, which only a `Value` can hold).
    pub fn from_slice<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        self.limits.check_message(bytes.len())?;
        if let Some(env) = Envelope::fast(bytes, &self.limits) {
            if let Ok(v) = self.typed_from(bytes, env) {
                return Ok(v);
            }
        }
        let env = Envelope::split(bytes, &self.limits)?;
        self.typed_from(bytes, env)
    }

    fn typed_from<T: DeserializeOwned>(&self, bytes: &[u8], mut env: Envelope) -> Result<T> {
        let meta = env.meta(&self.limits)?;
        if meta.refs.is_some() {
            let v = self.decode_parts(bytes, &env, meta)?;
            return crate::value::de::from_value_within(&v, self.limits);
        }
        let Some((start, end)) = env.json else {
            return crate::value::de::from_value_ref(&Value::Undefined);
        };
        let r = Reader {
            bytes: &bytes[..end],
            pos: start,
            base: 0,
        };
        let mut de = Deserializer::new(r, &meta.tree, &self.limits);
        let v = T::deserialize(&mut de)?;
        de.r.end()?;
        de.check_all_applied()?;
        Ok(v)
    }

    /// [`Codec::decode_erased`] over one envelope reading.
    fn erased_from(
        &self,
        bytes: &[u8],
        mut env: Envelope,
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
    ) -> Result<()> {
        let meta = env.meta(&self.limits)?;
        let Some((start, end)) = env.json.filter(|_| meta.refs.is_none()) else {
            let v = self.decode_parts(bytes, &env, meta)?;
            return crate::codec::visit_value(&v, self.limits, visit);
        };
        let r = Reader {
            bytes: &bytes[..end],
            pos: start,
            base: 0,
        };
        let mut de = Deserializer::new(r, &meta.tree, &self.limits);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
        de.r.end()?;
        de.check_all_applied()
    }

    /// Decode any `T: DeserializeOwned` from a `&str`.
    pub fn from_str<T: DeserializeOwned>(&self, s: &str) -> Result<T> {
        self.from_slice(s.as_bytes())
    }

    /// Decode a [`Value`]: what JS `superjson.parse` returns.
    pub fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        self.limits.check_message(bytes.len())?;
        if let Some(mut env) = Envelope::fast(bytes, &self.limits) {
            if let Ok(meta) = env.meta(&self.limits) {
                if let Ok(v) = self.decode_parts(bytes, &env, meta) {
                    return Ok(v);
                }
            }
        }
        let mut env = Envelope::split(bytes, &self.limits)?;
        let meta = env.meta(&self.limits)?;
        self.decode_parts(bytes, &env, meta)
    }

    fn decode_parts(&self, bytes: &[u8], env: &Envelope, meta: meta::Meta) -> Result<Value> {
        let Some((start, end)) = env.json else {
            return Ok(Value::Undefined);
        };
        let r = Reader {
            bytes: &bytes[..end],
            pos: start,
            base: 0,
        };
        let mut de = Deserializer::new(r, &meta.tree, &self.limits);
        de.dedupe = meta.refs.is_none();
        let v = de.value()?;
        de.r.end()?;
        de.check_all_applied()?;
        match &meta.refs {
            Some(refs) => refs::apply(v, refs, &self.limits, de.unbacked),
            None => Ok(v),
        }
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    // The encoders only ever write UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Where `json` is in the document, and its `meta`.
struct Envelope {
    json: Option<(usize, usize)>,
    meta: MetaSource,
}

/// `meta` as the envelope found it.
enum MetaSource {
    /// No `meta` key.
    Absent,
    /// Read straight into the trie (the common shape, see `meta_text`).
    Read(meta::Meta),
    /// Parsed as a value, to be interpreted by `meta::parse_meta`.
    Value(Value),
}

impl Envelope {
    /// The split superjson writers make: `{"json":<json>}` or `{"json":<json>,"meta":<meta>}`
    /// with nothing else. Found without walking `json`: the candidate is only trusted once
    /// parsing `json` from its start ends exactly where the candidate says (a JSON value's
    /// end is fixed by its start), and the caller falls back to [`Envelope::split`]
    /// otherwise.
    fn fast(bytes: &[u8], limits: &Limits) -> Option<Envelope> {
        const HEAD: &[u8] = b"{\"json\":";
        const META: &[u8; 8] = b",\"meta\":";
        if !bytes.starts_with(HEAD) {
            return None;
        }
        let body_end = bytes.iter().rposition(|b| !b.is_ascii_whitespace())?;
        if bytes[body_end] != b'}' || body_end < HEAD.len() {
            return None;
        }
        let body = &bytes[..body_end];
        let meta_at = last_position(body, META).filter(|&p| p >= HEAD.len());
        let Some(p) = meta_at else {
            return Some(Envelope {
                json: Some((HEAD.len(), body_end)),
                meta: MetaSource::Absent,
            });
        };
        let mut r = Reader {
            bytes: body,
            pos: p + META.len(),
            base: 0,
        };
        if let Some(m) = meta_text::read(&mut r, limits.depth()) {
            if r.end().is_ok() {
                return Some(Envelope {
                    json: Some((HEAD.len(), p)),
                    meta: MetaSource::Read(m),
                });
            }
        }
        let empty = MetaTree::default();
        let mut d = Deserializer::new(
            Reader {
                bytes: body,
                pos: p + META.len(),
                base: 0,
            },
            &empty,
            &meta_limits(limits),
        );
        let v = d.value().ok()?;
        d.r.end().ok()?;
        Some(Envelope {
            json: Some((HEAD.len(), p)),
            meta: MetaSource::Value(v),
        })
    }

    fn split(bytes: &[u8], limits: &Limits) -> Result<Envelope> {
        limits.check_message(bytes.len())?;
        let mut r = Reader::new(bytes);
        match r.peek_some()? {
            b'{' => r.pos += 1,
            c => {
                return Err(r.err(format!(
                    "a superjson document is an object with a `json` key, found {}",
                    describe(c)
                )))
            }
        }
        let mut env = Envelope {
            json: None,
            meta: MetaSource::Absent,
        };
        let mut scratch = Vec::new();
        let mut first = true;
        while r.next_member(first)? {
            first = false;
            let key = r.string(&mut scratch)?.as_str().to_owned();
            r.expect(b':', "`:`")?;
            match key.as_str() {
                "json" => {
                    r.peek_some()?;
                    let start = r.pos;
                    r.skip_value(limits.depth())?;
                    env.json = Some((start, r.pos));
                }
                "meta" => {
                    let mut fast = Reader {
                        bytes,
                        pos: r.pos,
                        base: 0,
                    };
                    if let Some(m) = meta_text::read(&mut fast, limits.depth()) {
                        r.pos = fast.pos;
                        env.meta = MetaSource::Read(m);
                        continue;
                    }
                    let empty = MetaTree::default();
                    let mut d = Deserializer::new(
                        Reader {
                            bytes,
                            pos: r.pos,
                            base: 0,
                        },
                        &empty,
                        &meta_limits(limits),
                    );
                    let v = d.value().map_err(|e| e.in_segment("meta"))?;
                    r.pos = d.r.pos;
                    env.meta = MetaSource::Value(v);
                }
                _ => r.skip_value(limits.depth())?,
            }
        }
        r.pos += 1; // the `}`
        r.end()?;
        Ok(env)
    }

    fn meta(&mut self, limits: &Limits) -> Result<meta::Meta> {
        match std::mem::replace(&mut self.meta, MetaSource::Absent) {
            MetaSource::Value(m) => meta::parse_meta(&m, limits.depth()),
            MetaSource::Read(m) => Ok(m),
            MetaSource::Absent => Ok(meta::Meta::default()),
        }
    }
}

/// The limits `meta` is read under: the user's, but for the collection length. `meta` holds
/// one entry per annotated path, so a document whose every collection is within the limit
/// can have a longer `meta.values`; the message size bounds it.
fn meta_limits(limits: &Limits) -> Limits {
    limits.max_collection_len(usize::MAX)
}

impl Codec for SuperJson {
    fn name(&self) -> &str {
        "superjson"
    }
    fn subprotocol(&self) -> &str {
        Self::SUBPROTOCOL
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Text
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        SuperJson::encode_value(self, value)
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        SuperJson::decode_value(self, bytes)
    }
    fn encode_erased(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        self.to_vec(value)
    }
    fn decode_erased(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
    ) -> Result<()> {
        // The envelope is split before `visit` runs (not guessed and retried, as
        // `from_slice` does): `visit` is the caller's and runs exactly once.
        let env = Envelope::split(bytes, &self.limits)?;
        self.erased_from(bytes, env, visit)
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn limited(&self, limits: Limits) -> Option<std::sync::Arc<dyn Codec>> {
        Some(std::sync::Arc::new(self.with_limits(limits)))
    }
}

/// Where the last copy of the 8-byte `needle` starts in `hay`: one 8-byte comparison per
/// position, from the end (`meta` follows a large `json`, and is itself large for arrays of
/// records: comparing windows as slices was 3% of such a decode).
fn last_position(hay: &[u8], needle: &[u8; 8]) -> Option<usize> {
    let want = u64::from_le_bytes(*needle);
    let last = hay.len().checked_sub(8)?;
    (0..=last).rev().find(|&i| {
        let mut w = [0; 8];
        w.copy_from_slice(&hay[i..i + 8]);
        u64::from_le_bytes(w) == want
    })
}

#[cfg(test)]
mod encoder_tests {
    use crate::codec::SuperJson;
    use crate::value::{Date, Object, Value};

    fn object(entries: Vec<(&str, Value)>) -> Value {
        let mut o = Object::new();
        for (k, v) in entries {
            o.insert(k.to_owned(), v);
        }
        Value::Object(o)
    }

    /// The scratch memory an encoder leaves for the next call on its thread is empty, even
    /// when the call failed half-way with annotations recorded and a path pushed.
    #[test]
    fn a_failed_encode_leaves_nothing_for_the_next_one() {
        let sj = SuperJson::new();
        let bad = object(vec![
            ("a", Value::Date(Date::from_millis(0.0))),
            ("b", object(vec![("__proto__", Value::Null)])),
        ]);
        assert!(sj.encode_value(&bad).is_err());
        let good = object(vec![("x", Value::Date(Date::from_millis(0.0)))]);
        let text = sj.encode_value_to_string(&good).unwrap();
        assert_eq!(
            text,
            r#"{"json":{"x":"1970-01-01T00:00:00.000Z"},"meta":{"values":{"x":["Date"]},"v":1}}"#
        );
    }
}

#[cfg(test)]
mod key_tests {
    use crate::codec::SuperJson;
    use crate::value::{Object, Value};
    use std::collections::BTreeMap;

    /// A forbidden key is refused with the path of the key itself, from a typed map and
    /// from a `Value` alike; the keys before it in the same object do not leak into it.
    #[test]
    fn a_forbidden_key_error_names_its_path() {
        let sj = SuperJson::new();
        let inner = BTreeMap::from([("__proto__", 1), ("a", 2)]);
        let typed = BTreeMap::from([("x", BTreeMap::new()), ("y", inner)]);
        let err = sj.to_vec(&typed).unwrap_err();
        assert_eq!(err.path(), Some("y.__proto__"), "{err}");
        let mut o = Object::new();
        o.insert("__proto__", Value::from(1));
        let mut outer = Object::new();
        outer.insert("x", Value::Object(Object::new()));
        outer.insert("y", Value::Object(o));
        let err = sj.encode_value(&Value::Object(outer)).unwrap_err();
        assert_eq!(err.path(), Some("y.__proto__"), "{err}");
    }
}

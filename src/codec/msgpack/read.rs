//! MessagePack reading: a serde `Deserializer` over bytes with byte offsets in errors,
//! limits checked before anything is allocated, and polycodec's extension types.

use super::ext;
use crate::value::de::ValueDeserializer;
use crate::value::number::check_bigint_text;
use crate::value::same_value_zero::dedupe_members;
use crate::value::{
    Annotated, BigInt, Coercion, Date, JsError, RegExp, TypedArray, TypedArrayKind, Value,
};
use crate::{Error, Limits, Result};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;

mod build;

/// The MessagePack deserializer.
pub(crate) struct Deserializer<'a> {
    b: &'a [u8],
    pub(crate) pos: usize,
    base: usize,
    depth_left: usize,
    max_depth: usize,
    max_len: usize,
}

/// What a marker byte says comes next.
enum Head<'a> {
    Nil,
    Bool(bool),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl<'a> Deserializer<'a> {
    pub(crate) fn new(b: &'a [u8], limits: &Limits) -> Self {
        Deserializer {
            b,
            pos: 0,
            base: 0,
            depth_left: limits.depth(),
            max_depth: limits.depth(),
            max_len: limits.collection_len(),
        }
    }

    /// A reader over `b`, a part of the input that starts at offset `at` (an extension's
    /// payload, or what is left, to read ahead). An extension is not a level of nesting of
    /// its own (the container inside it is), so the depth left carries over unchanged.
    fn sub(&self, b: &'a [u8], at: usize) -> Deserializer<'a> {
        Deserializer {
            b,
            pos: 0,
            base: at,
            depth_left: self.depth_left,
            max_depth: self.max_depth,
            max_len: self.max_len,
        }
    }

    #[inline]
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() - self.pos < n {
            return Err(self.eof());
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[cold]
    fn eof(&self) -> Error {
        Error::eof(self.base + self.b.len())
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    #[inline(always)]
    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    fn len(&mut self, n: usize) -> Result<usize> {
        Ok(match n {
            1 => usize::from(self.u8()?),
            2 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    /// A collection length: checked against the limit and against the bytes left (every
    /// element takes at least one byte) before anything is allocated.
    fn count(&mut self, n: usize, per: usize) -> Result<usize> {
        let at = self.offset();
        if n > self.max_len {
            return Err(Error::limit(format!(
                "collection of {n} elements is over the limit of {}",
                self.max_len
            ))
            .at_offset(at));
        }
        if n.saturating_mul(per) > self.b.len() - self.pos {
            return Err(Error::eof(self.base + self.b.len()));
        }
        Ok(n)
    }

    #[inline]
    fn head(&mut self) -> Result<Head<'a>> {
        let at = self.offset();
        let m = self.u8()?;
        Ok(match m {
            0x00..=0x7f => Head::U64(u64::from(m)),
            0x80..=0x8f => Head::Map(self.count(usize::from(m & 0x0f), 2)?),
            0x90..=0x9f => Head::Array(self.count(usize::from(m & 0x0f), 1)?),
            0xa0..=0xbf => Head::Str(self.take(usize::from(m & 0x1f))?),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (m - 0xc4))?;
                Head::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (m - 0xc7))?;
                let ty = self.u8()? as i8;
                Head::Ext(ty, self.take(n)?)
            }
            0xca => Head::F32(f32::from_be_bytes(self.be()?)),
            0xcb => Head::F64(f64::from_be_bytes(self.be()?)),
            0xcc => Head::U64(u64::from(self.u8()?)),
            0xcd => Head::U64(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Head::U64(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Head::U64(u64::from_be_bytes(self.be()?)),
            0xd0 => Head::I64(i64::from(self.u8()? as i8)),
            0xd1 => Head::I64(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Head::I64(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Head::I64(i64::from_be_bytes(self.be()?)),
            0xd4..=0xd8 => {
                let ty = self.u8()? as i8;
                Head::Ext(ty, self.take(1 << (m - 0xd4))?)
            }
            0xd9..=0xdb => {
                let n = self.len(1 << (m - 0xd9))?;
                Head::Str(self.take(n)?)
            }
            0xdc | 0xdd => {
                let n = self.len(if m == 0xdc { 2 } else { 4 })?;
                Head::Array(self.count(n, 1)?)
            }
            0xde | 0xdf => {
                let n = self.len(if m == 0xde { 2 } else { 4 })?;
                Head::Map(self.count(n, 2)?)
            }
            0xe0..=0xff => Head::I64(i64::from(m as i8)),
            0xc1 => return Err(Error::syntax("invalid MessagePack marker 0xc1", at)),
        })
    }

    #[inline]
    fn peek_marker(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// The type of the extension that comes next, if one does.
    #[inline]
    fn peek_ext_type(&self) -> Option<i8> {
        let at = match self.peek_marker()? {
            0xd4..=0xd8 => self.pos + 1,
            0xc7 => self.pos + 2,
            0xc8 => self.pos + 3,
            0xc9 => self.pos + 5,
            _ => return None,
        };
        self.b.get(at).map(|&t| t as i8)
    }

    /// Where the bytes of the string that comes next start, and how many there are, if a
    /// short one (fixstr or str 8) comes and fits.
    #[inline(always)]
    fn short_str_span(&self) -> Option<(usize, usize)> {
        let (start, len) = match self.peek_marker()? {
            m @ 0xa0..=0xbf => (self.pos + 1, usize::from(m & 0x1f)),
            0xd9 => (self.pos + 2, usize::from(*self.b.get(self.pos + 1)?)),
            _ => return None,
        };
        (self.b.len() - start >= len).then_some((start, len))
    }

    /// The bytes of the string that comes next, if a short one (fixstr or str 8) does.
    #[inline]
    fn peek_str(&self) -> Option<&'a [u8]> {
        let (start, len) = self.short_str_span()?;
        Some(&self.b[start..start + len])
    }

    /// The string that comes next, read, if a short one (fixstr or str 8) does.
    #[inline(always)]
    fn short_str(&mut self) -> Option<Result<&'a str>> {
        let (start, len) = self.short_str_span()?;
        self.pos = start + len;
        Some(self.str_of(&self.b[start..start + len], self.base + start))
    }

    /// Whether the next value is a string that starts with `$` (a str 16 or 32 always
    /// counts): the one byte a map key is checked for on the way, before
    /// [`Map::data_key`] looks at it whole.
    #[inline(always)]
    fn key_may_be_magic(&self) -> bool {
        match self.b.get(self.pos) {
            Some(0xa0..=0xbf) => self.b.get(self.pos + 1) == Some(&b'$'),
            Some(0xd9) => self.b.get(self.pos + 2) == Some(&b'$'),
            Some(0xda | 0xdb) => true,
            _ => false,
        }
    }

    #[inline]
    fn is_ext(&self) -> bool {
        matches!(self.peek_marker(), Some(0xc7..=0xc9 | 0xd4..=0xd8))
    }

    #[inline]
    fn str_of(&self, s: &'a [u8], at: usize) -> Result<&'a str> {
        crate::codec::utf8::text(s)
            .map_err(|valid| Error::syntax("invalid UTF-8 in string", at + valid))
    }

    /// One more level of nesting, for the container whose header starts at `at`.
    #[inline]
    fn enter(&mut self, at: usize) -> Result<()> {
        if self.depth_left == 0 {
            return Err(Error::limit(format!(
                "nesting deeper than the depth limit of {}",
                self.max_depth
            ))
            .at_offset(at));
        }
        self.depth_left -= 1;
        Ok(())
    }

    /// After an extension's payload was read by its [`Deserializer::sub`] reader: every byte
    /// of it must have been used.
    fn payload_done(&self) -> Result<()> {
        if self.pos != self.b.len() {
            return Err(Error::syntax(
                "trailing bytes in extension payload",
                self.offset(),
            ));
        }
        Ok(())
    }

    /// A reader for the payload of the extension `head` just read (it ends where `self`
    /// stands), at the payload's own offsets: an error inside it names its byte.
    fn payload_reader(&self, payload: &'a [u8]) -> Deserializer<'a> {
        let start = self.pos - payload.len();
        debug_assert!(std::ptr::eq(&self.b[start..self.pos], payload));
        self.sub(payload, self.base + start)
    }

    /// Decode a nested document (an extension payload just read) into a Value. Its first
    /// byte must start the container the extension holds (`array` or a map): the container
    /// is a level of nesting, so extensions inside extensions cannot recurse past the depth
    /// limit (an extension whose payload is another extension was read to the end, without
    /// a level, before its type was checked, and 10,000 of them in 60 KB overflowed the
    /// stack).
    fn nested_value(
        &self,
        payload: &'a [u8],
        array: bool,
        bad: impl Fn() -> Error,
    ) -> Result<Value> {
        let container = match payload.first() {
            Some(0x90..=0x9f | 0xdc | 0xdd) => array,
            Some(0x80..=0x8f | 0xde | 0xdf) => !array,
            _ => false,
        };
        if !container {
            return Err(bad());
        }
        let mut d = self.payload_reader(payload);
        let v = d.build()?;
        d.payload_done()?;
        Ok(v)
    }

    /// Turn an extension into the Value it stands for, as `js/msgpack-extensions.mjs`
    /// decodes it: what that module refuses is an error here too.
    fn ext_value(&self, ty: i8, p: &'a [u8], at: usize) -> Result<Value> {
        let bad =
            |what: &str| Error::data(format!("invalid {what} extension payload")).at_offset(at);
        // Where the payload starts (the header is 2 to 6 bytes before it).
        let p_at = self.offset() - p.len();
        let empty = |what: &str, v: Value| {
            if p.is_empty() {
                Ok(v)
            } else {
                Err(Error::data(format!("{what} extension payload must be empty")).at_offset(at))
            }
        };
        Ok(match ty {
            ext::TIMESTAMP => Value::Date(Date::from_millis(
                timestamp_millis(p).ok_or_else(|| bad("timestamp"))?,
            )),
            ext::INVALID_DATE => empty("invalid Date", Value::Date(Date::invalid()))?,
            ext::UNDEFINED => empty("undefined", Value::Undefined)?,
            ext::BIGINT => Value::BigInt(self.bigint(p, p_at, at)?),
            ext::URL => Value::url(self.str_of(p, p_at)?).map_err(|e| e.at_offset(at))?,
            // Members that repeat collapse as in JS's `new Set`; a Map's keys already did
            // (the builder makes a map with non-string keys through `new Map`'s rule, and an
            // object keeps one entry per key).
            ext::SET => match self.nested_value(p, true, || bad("Set"))? {
                Value::Array(a) => Value::Set(dedupe_members(a)),
                _ => return Err(bad("Set")),
            },
            ext::MAP => match self.nested_value(p, false, || bad("Map"))? {
                Value::Map(m) => Value::Map(m),
                Value::Object(o) => {
                    Value::Map(o.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
                }
                _ => return Err(bad("Map")),
            },
            ext::REGEXP => match self.nested_value(p, true, || bad("RegExp"))? {
                Value::Array(a) => match a.as_slice() {
                    [Value::String(s), Value::String(f)] => {
                        Value::RegExp(Box::new(RegExp::new(s, f).map_err(|e| e.at_offset(at))?))
                    }
                    _ => return Err(bad("RegExp")),
                },
                _ => return Err(bad("RegExp")),
            },
            ext::ERROR => match self.nested_value(p, false, || bad("Error"))? {
                Value::Object(o) => Value::Error(Box::new(
                    JsError::from_object(o, Coercion::Strict).ok_or_else(|| {
                        Error::data(
                            "Error extension payload must be a map with string name and message",
                        )
                        .at_offset(at)
                    })?,
                )),
                _ => return Err(bad("Error")),
            },
            ext::ANNOTATED => match self.nested_value(p, true, || bad("annotated"))? {
                Value::Array(mut a) if a.len() == 2 => {
                    let value = a.pop().unwrap_or_default();
                    let Some(Value::String(text)) = a.pop() else {
                        return Err(bad("annotated"));
                    };
                    let ann: Vec<String> =
                        serde_json::from_str(&text).map_err(|_| bad("annotated"))?;
                    let [kind, id] = <[String; 2]>::try_from(ann).map_err(|_| bad("annotated"))?;
                    Value::Annotated(Box::new(Annotated { kind, id, value }))
                }
                _ => return Err(bad("annotated")),
            },
            ext::TYPED_ARRAY => match self.nested_value(p, true, || bad("typed array"))? {
                Value::Array(a) => match a.as_slice() {
                    [Value::String(name), Value::Bytes(bytes)] => {
                        let kind =
                            TypedArrayKind::from_name(name).ok_or_else(|| bad("typed array"))?;
                        let n = bytes.len() / kind.element_size();
                        if n > self.max_len {
                            return Err(Error::limit(format!(
                                "typed array of {n} elements is over the collection limit of {}",
                                self.max_len
                            ))
                            .at_offset(at));
                        }
                        Value::TypedArray(Box::new(
                            TypedArray::from_le_bytes(kind, bytes)
                                .ok_or_else(|| bad("typed array"))?,
                        ))
                    }
                    _ => return Err(bad("typed array")),
                },
                _ => return Err(bad("typed array")),
            },
            other => {
                return Err(
                    Error::data(format!("unknown MessagePack extension type {other}"))
                        .at_offset(at),
                )
            }
        })
    }

    /// A bigint extension's payload (at `p_at`; the extension at `at`): a canonical decimal
    /// integer (`0`, or an optional `-` and digits without a leading zero), as the JS module
    /// requires, of at most [`MAX_BIGINT_TEXT`](crate::value::MAX_BIGINT_TEXT) characters (reading decimal text takes time
    /// quadratic in its length: a megabyte of digits took 3 s).
    fn bigint(&self, p: &'a [u8], p_at: usize, at: usize) -> Result<BigInt> {
        let s = self.str_of(p, p_at)?;
        let digits = s.strip_prefix('-').unwrap_or(s);
        let canonical = digits == "0" && s.len() == 1
            || digits.bytes().all(|c| c.is_ascii_digit())
                && !digits.starts_with('0')
                && !digits.is_empty();
        if !canonical {
            return Err(Error::data(format!(
                "bigint extension payload is not a canonical decimal integer: {s:?}"
            ))
            .at_offset(at));
        }
        check_bigint_text(s).map_err(|e| e.at_offset(at))?;
        s.parse::<BigInt>()
            .map_err(|_| Error::data("invalid bigint extension payload").at_offset(at))
    }

    /// If the next value is an extension, read it as a Value.
    #[inline]
    fn take_ext(&mut self) -> Result<Option<Value>> {
        if !self.is_ext() {
            return Ok(None);
        }
        let at = self.offset();
        match self.head()? {
            Head::Ext(ty, p) => self.ext_value(ty, p, at).map(Some),
            _ => Ok(None),
        }
    }
}

/// The milliseconds a timestamp extension's payload (4, 8 or 12 bytes) stands for, before
/// JS's time clip; `None` for any other length. The 4- and 8-byte forms give whole,
/// non-negative milliseconds (what `fixext_timestamp` hands over as they are); the 12-byte
/// form may give a fraction, which the Date truncates as JS's does.
#[inline]
fn timestamp_millis(p: &[u8]) -> Option<f64> {
    Some(match *p {
        [a, b, c, d] => f64::from(u32::from_be_bytes([a, b, c, d])) * 1000.0,
        [a, b, c, d, e, f, g, h] => {
            let v = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
            let (nsec, sec) = (v >> 34, v & ((1 << 34) - 1));
            sec as f64 * 1000.0 + (nsec / 1_000_000) as f64
        }
        [a, b, c, d, ref sec @ ..] if sec.len() == 8 => {
            let nsec = u32::from_be_bytes([a, b, c, d]);
            let sec = i64::from_be_bytes(sec.try_into().ok()?);
            // As JS computes it (`sec * 1e3 + nsec / 1e6`); the Date truncates toward zero.
            sec as f64 * 1000.0 + f64::from(nsec) / 1e6
        }
        _ => return None,
    })
}

fn with_value<T>(v: Value, f: impl FnOnce(ValueDeserializer<'_>) -> Result<T>) -> Result<T> {
    let budget = Cell::new(Limits::default().ref_expansion());
    f(ValueDeserializer::new(&v, &budget))
}

macro_rules! via_any {
    ($($method:ident)*) => {$(
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            // The commonest numbers and short arrays skip the general dispatch (same
            // visits as `any`).
            match self.peek_marker() {
                Some(m @ 0x00..=0x7f) => {
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(m));
                }
                Some(m @ 0xe0..=0xff) => {
                    self.pos += 1;
                    return visitor.visit_i64(i64::from(m as i8));
                }
                Some(0xcb) => {
                    self.pos += 1;
                    return visitor.visit_f64(f64::from_be_bytes(self.be()?));
                }
                Some(0xcc) => {
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(self.u8()?));
                }
                Some(0xcd) => {
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(u16::from_be_bytes(self.be()?)));
                }
                Some(0xce) => {
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(u32::from_be_bytes(self.be()?)));
                }
                Some(m @ 0x90..=0x9f) => {
                    let at = self.offset();
                    self.pos += 1;
                    let n = self.count(usize::from(m & 0x0f), 1)?;
                    return self.seq(n, at, visitor);
                }
                _ => {}
            }
            self.general(visitor, |d, v| de::Deserializer::$method(d, v))
        }
    )*};
}

impl<'de> Deserializer<'de> {
    /// What a typed read does past its fast paths: an extension through the `Value` it
    /// stands for (read by `via`), anything else as it comes. Kept out of line so that the
    /// fast paths inline into the caller's loop.
    #[inline(never)]
    fn general<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        via: impl FnOnce(ValueDeserializer<'_>, V) -> Result<V::Value>,
    ) -> Result<V::Value> {
        if let Some(v) = self.take_ext()? {
            return with_value(v, |d| via(d, visitor));
        }
        self.any(visitor)
    }

    /// A Date read by `deserialize_newtype_struct`'s fast path: the milliseconds of a
    /// timestamp in fixext 4 or fixext 8 form, if one comes next (then read).
    #[inline(always)]
    fn fixext_timestamp(&mut self) -> Option<f64> {
        let (m, ty) = (*self.b.get(self.pos)?, *self.b.get(self.pos + 1)? as i8);
        if ty != ext::TIMESTAMP || !(m == 0xd6 || m == 0xd7) {
            return None;
        }
        let n = if m == 0xd6 { 4 } else { 8 };
        let ms = timestamp_millis(self.b.get(self.pos + 2..self.pos + 2 + n)?)?;
        self.pos += 2 + n;
        Some(ms)
    }

    /// A newtype struct: one of polycodec's JS kinds by its magic name (a Date, Set or Map
    /// straight from the bytes where it can, anything else through its `Value`), or the
    /// inner value.
    fn newtype_struct<V: Visitor<'de>>(
        &mut self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        use crate::value::magic::Magic;
        let Some(magic) = Magic::from_name(name) else {
            return visitor.visit_newtype_struct(self);
        };
        // Typed fast paths: a Date or Set field reads straight from the bytes.
        match (magic, self.peek_ext_type()) {
            (Magic::Date, Some(ty @ (ext::TIMESTAMP | ext::INVALID_DATE))) => {
                let at = self.offset();
                let Head::Ext(_, p) = self.head()? else {
                    return Err(Error::data("expected a timestamp").at_offset(at));
                };
                if ty == ext::INVALID_DATE {
                    if !p.is_empty() {
                        return Err(Error::data("invalid Date extension payload must be empty")
                            .at_offset(at));
                    }
                    return visitor.visit_f64(f64::NAN);
                }
                match timestamp_millis(p) {
                    Some(ms) => visitor.visit_f64(Date::from_millis(ms).time_value()),
                    None => Err(Error::data("invalid timestamp extension payload").at_offset(at)),
                }
            }
            (Magic::Set, Some(ext::SET)) => {
                let at = self.offset();
                let Head::Ext(_, payload) = self.head()? else {
                    return Err(Error::data("expected a Set").at_offset(at));
                };
                // As the `Value` path: the payload is one array.
                if !matches!(payload.first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
                    return Err(Error::data("invalid Set extension payload").at_offset(at));
                }
                let mut sub = self.payload_reader(payload);
                let v = de::Deserializer::deserialize_seq(&mut sub, visitor)?;
                sub.payload_done()?;
                Ok(v)
            }
            (Magic::Map, Some(ext::MAP)) => {
                // The payload is a map (what polycodec and the JS extension write): its
                // entries go to the visitor as a sequence of [key, value] pairs, straight
                // from the bytes. Any other payload takes the general path.
                let at = self.offset();
                let save = self.pos;
                let Head::Ext(_, payload) = self.head()? else {
                    return Err(Error::data("expected a Map").at_offset(at));
                };
                let mut sub = self.payload_reader(payload);
                let n = match sub.head() {
                    Ok(Head::Map(n)) if sub.entries_read_alike(n) => n,
                    _ => {
                        self.pos = save;
                        return self.any(visitor);
                    }
                };
                let v = sub.nested(at, |de| {
                    visitor.visit_seq(Seq {
                        de,
                        left: n,
                        index: 0,
                        pairs: true,
                    })
                })?;
                sub.payload_done()?;
                Ok(v)
            }
            _ => self.any(visitor),
        }
    }

    fn any<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let at = self.offset();
        match self.head()? {
            Head::Nil => visitor.visit_unit(),
            Head::Bool(b) => visitor.visit_bool(b),
            Head::U64(n) => visitor.visit_u64(n),
            Head::I64(n) => visitor.visit_i64(n),
            Head::F32(n) => visitor.visit_f64(f64::from(n)),
            Head::F64(n) => visitor.visit_f64(n),
            Head::Str(s) => visitor.visit_borrowed_str(self.str_of(s, self.offset() - s.len())?),
            Head::Bin(b) => visitor.visit_borrowed_bytes(b),
            Head::Array(n) => self.seq(n, at, visitor),
            Head::Map(n) => self.map(n, at, visitor),
            Head::Ext(ty, p) => {
                let v = self.ext_value(ty, p, at)?;
                with_value(v, |d| de::Deserializer::deserialize_any(d, visitor))
            }
        }
    }

    /// The `n` elements of the array whose header (at `at`) was just read.
    #[inline]
    fn seq<V: Visitor<'de>>(&mut self, n: usize, at: usize, visitor: V) -> Result<V::Value> {
        self.nested(at, |de| {
            visitor.visit_seq(Seq {
                de,
                left: n,
                index: 0,
                pairs: false,
            })
        })
    }

    /// The `n` entries of the map whose header (at `at`) was just read.
    #[inline]
    fn map<V: Visitor<'de>>(&mut self, n: usize, at: usize, visitor: V) -> Result<V::Value> {
        self.nested(at, |de| {
            visitor.visit_map(Map {
                de,
                left: n,
                key_at: None,
            })
        })
    }

    /// `read` one level deeper (for the container whose header is at `at`), on a grown
    /// stack where needed.
    #[inline]
    fn nested<R>(&mut self, at: usize, read: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.enter(at)?;
        let v = crate::stack::grow_every(self.depth_left, || read(&mut *self))?;
        self.depth_left += 1;
        Ok(v)
    }

    /// Whether the `n` map entries that come next read the same pair by pair as they do
    /// through a `Value` (the general path): not when a key repeats by SameValueZero (the
    /// `Value` keeps one entry, as JS's `new Map` does; `1` written as a fixint, as a
    /// uint8 and as a float 64 is one key), nor with a `-0` key (the `Value` path stores it
    /// as `0`, as JS does), a bigint or an extension key (the general path compares those
    /// by value). Reads ahead without moving; allocates nothing up to 16 entries.
    fn entries_read_alike(&self, n: usize) -> bool {
        /// A key as SameValueZero sees it.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Key<'k> {
            Str(&'k [u8]),
            /// A number the `Value` path reads as a JS number: its f64 bits (NaN as one).
            Num(u64),
            /// nil, a bool, an array, a map or binary: its encoding (nil and bools have one;
            /// two equal-looking arrays are two keys in JS, so calling them a repeat only
            /// costs a trip down the general path).
            Other(&'k [u8]),
        }
        // Past this an integer is a bigint on the `Value` path (as `int_value` decides).
        const MAX_SAFE: u64 = crate::value::number::MAX_SAFE_INTEGER as u64;
        let mut d = self.sub(&self.b[self.pos..], self.offset());
        let mut next_key = || -> Option<Key<'_>> {
            let key_at = d.pos;
            let num = |f: f64| Key::Num(if f.is_nan() { f64::NAN } else { f }.to_bits());
            let key = match d.head().ok()? {
                Head::Str(k) => Key::Str(k),
                Head::U64(v) if v <= MAX_SAFE => num(v as f64),
                Head::I64(v) if v.unsigned_abs() <= MAX_SAFE => num(v as f64),
                // A bigint (past 2^53, or an extension) or an extension value (undefined
                // has several encodings): only the general path compares them by value.
                Head::U64(_) | Head::I64(_) | Head::Ext(..) => return None,
                Head::F32(f) if f == 0.0 && f.is_sign_negative() => return None,
                Head::F64(f) if f == 0.0 && f.is_sign_negative() => return None,
                Head::F32(f) => num(f64::from(f)),
                Head::F64(f) => num(f),
                _ => {
                    d.pos = key_at;
                    d.skip().ok()?;
                    Key::Other(&d.b[key_at..d.pos])
                }
            };
            d.skip().ok()?;
            Some(key)
        };
        if n <= 16 {
            let mut keys = [Key::Num(0); 16];
            for i in 0..n {
                let Some(k) = next_key() else { return false };
                if keys[..i].contains(&k) {
                    return false;
                }
                keys[i] = k;
            }
            return true;
        }
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let Some(k) = next_key() else { return false };
            keys.push(k);
        }
        keys.sort_unstable();
        !keys.windows(2).any(|w| w[0] == w[1])
    }

    /// Skip one value (for ignored fields).
    fn skip(&mut self) -> Result<()> {
        let mut left = 1usize;
        while left > 0 {
            left -= 1;
            match self.head()? {
                Head::Array(n) => left += n,
                Head::Map(n) => left += 2 * n,
                _ => {}
            }
        }
        Ok(())
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.any(visitor)
    }

    via_any!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map);

    #[inline(always)]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Field names and strings under 256 bytes (fixstr, str 8) skip the general dispatch.
        if let Some(s) = self.short_str() {
            let s = s?;
            return visitor.visit_borrowed_str(s);
        }
        self.general(visitor, |d, v| de::Deserializer::deserialize_str(d, v))
    }

    #[inline(always)]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    #[inline(always)]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_marker() {
            Some(m @ (0xc2 | 0xc3)) => {
                self.pos += 1;
                visitor.visit_bool(m == 0xc3)
            }
            _ => self.general(visitor, |d, v| de::Deserializer::deserialize_bool(d, v)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_marker() {
            Some(0xc0) => {
                self.pos += 1;
                visitor.visit_none()
            }
            _ if self.is_ext() => match self.take_ext()? {
                Some(Value::Undefined) => visitor.visit_none(),
                Some(v) => with_value(v, |d| de::Deserializer::deserialize_option(d, visitor)),
                None => visitor.visit_none(),
            },
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    #[inline(always)]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        // A Date as JS's encoder writes it (fixext 8, or fixext 4 for whole seconds): read
        // in line. Whole milliseconds within JS's range, so no time clip applies.
        if name == crate::value::magic::DATE {
            if let Some(ms) = self.fixext_timestamp() {
                return visitor.visit_f64(ms);
            }
        }
        self.newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    #[inline(always)]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        // A fixmap (a struct of up to 15 fields) skips the general dispatch.
        if let Some(m @ 0x80..=0x8f) = self.peek_marker() {
            let at = self.offset();
            self.pos += 1;
            let n = self.count(usize::from(m & 0x0f), 2)?;
            return self.map(n, at, visitor);
        }
        self.general(visitor, |d, v| {
            de::Deserializer::deserialize_struct(d, name, fields, v)
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let at = self.offset();
        match self.peek_marker() {
            Some(0xa0..=0xbf | 0xd9..=0xdb) => match self.head()? {
                Head::Str(s) => {
                    let s = self.str_of(s, self.offset() - s.len())?;
                    visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(s))
                }
                _ => unreachable!(),
            },
            Some(0x81) => {
                self.pos += 1;
                visitor.visit_enum(Enum { de: self })
            }
            _ => {
                Err(Error::data("expected an enum (a string or a map with one key)").at_offset(at))
            }
        }
    }

    #[inline(always)]
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of an array, or (with `pairs`) the entries of a map as a sequence of
/// `[key, value]` pairs (a Map extension read into a typed collection).
struct Seq<'x, 'a> {
    de: &'x mut Deserializer<'a>,
    left: usize,
    index: usize,
    pairs: bool,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let i = self.index;
        self.index += 1;
        let item = if self.pairs {
            seed.deserialize(Pair(&mut *self.de))
        } else {
            seed.deserialize(&mut *self.de)
        };
        item.map(Some).map_err(|e| e.in_segment(&i.to_string()))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// One map entry read as a two-element sequence.
struct Pair<'x, 'a>(&'x mut Deserializer<'a>);

impl<'de> de::Deserializer<'de> for Pair<'_, 'de> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Seq {
            de: self.0,
            left: 2,
            index: 0,
            pairs: false,
        })
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

struct Map<'x, 'a> {
    de: &'x mut Deserializer<'a>,
    left: usize,
    /// Where the current key starts: when it is a string, it names an error in its value
    /// (read again only then).
    key_at: Option<usize>,
}

impl<'de> Map<'_, 'de> {
    /// A key that may equal a magic name (see [`Deserializer::key_may_be_magic`]): when it
    /// does, it goes to the seed as a transient `&str`, never borrowed, so that the `Value`
    /// visitor (and serde's buffering for `flatten`) keeps the map as data instead of
    /// taking it for a JS kind; any other key is read as usual. Out of line: rare.
    #[cold]
    #[inline(never)]
    fn data_key<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<K::Value> {
        let at = self.de.pos;
        if let Ok(Head::Str(s)) = self.de.head() {
            let start = self.de.offset() - s.len();
            let s = self.de.str_of(s, start)?;
            if crate::value::de::is_magic_name(s) {
                return seed.deserialize(de::value::StrDeserializer::<Error>::new(s));
            }
        }
        self.de.pos = at;
        seed.deserialize(&mut *self.de)
    }
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;
    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.key_at = Some(self.de.pos);
        if self.de.key_may_be_magic() {
            return self.data_key(seed).map(Some);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        let key_at = self.key_at.take();
        seed.deserialize(&mut *self.de).map_err(|e| {
            let key = key_at.and_then(|at| {
                let probe = Deserializer {
                    pos: at,
                    ..self.de.sub(self.de.b, self.de.base)
                };
                probe.peek_str()
            });
            match key {
                Some(k) => e.in_segment(&String::from_utf8_lossy(k)),
                None => e,
            }
        })
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Enum<'x, 'a> {
    de: &'x mut Deserializer<'a>,
}

impl<'de, 'x> de::EnumAccess<'de> for Enum<'x, 'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        self.de.skip()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}

/// Decode a whole document as a Value, refusing trailing bytes.
pub(crate) fn value(bytes: &[u8], limits: &Limits) -> Result<Value> {
    let mut d = Deserializer::new(bytes, limits);
    let v = d.build()?;
    if d.pos != bytes.len() {
        return Err(Error::syntax("trailing bytes after the document", d.pos));
    }
    Ok(v)
}

//! MessagePack reading: a serde `Deserializer` over bytes with byte offsets in errors,
//! limits checked before anything is allocated, the extension types of polycodec and
//! msgpackr (`ext.rs`), and msgpackr's records, prefix tags and references (`msgpackr.rs`).

use super::records::Records;
use super::refs::Targets;
use super::{ext, Opts};
use crate::value::de::with_value;
use crate::value::de::ValueDeserializer;
use crate::value::{Date, Value};
use crate::{Error, Limits, Result};
use serde::de::{self, Visitor};

mod access;
mod build;
mod ext_value;
mod msgpackr;
mod serde_impl;

pub(super) use access::Enum;
use access::{Map, Seq};

use ext_value::timestamp_millis;

/// The MessagePack deserializer.
pub(crate) struct Deserializer<'a> {
    b: &'a [u8],
    pub(crate) pos: usize,
    base: usize,
    depth_left: usize,
    max_depth: usize,
    max_len: usize,
    opts: Opts,
    /// msgpackr records defined so far in this message.
    records: Records,
    /// msgpackr reference targets met so far (the `Value` path).
    targets: Targets,
    /// The typed path met a form only the `Value` path reads (msgpackr references).
    retry: bool,
}

/// What a marker byte says comes next.
enum Head<'a> {
    Nil,
    Bool(bool),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    /// An int 64 (`d3`): a bigint to msgpackr.
    Int64(i64),
    /// A uint 64 (`cf`): a bigint to msgpackr.
    Uint64(u64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl<'a> Deserializer<'a> {
    pub(crate) fn new(b: &'a [u8], limits: &Limits, opts: Opts) -> Self {
        Deserializer {
            b,
            pos: 0,
            base: 0,
            depth_left: limits.depth(),
            max_depth: limits.depth(),
            max_len: limits.collection_len(),
            opts,
            records: Records::default(),
            targets: Targets::default(),
            retry: false,
        }
    }

    /// Whether the typed read failed on a form only the `Value` path reads.
    pub(crate) fn needs_value_path(&self) -> bool {
        self.retry
    }

    /// After the document: every byte must have been read.
    pub(crate) fn end(&self) -> Result<()> {
        if self.pos != self.b.len() {
            let mut msg = "trailing bytes after the document".to_owned();
            if let Some(at) = self.records.first_bare_at {
                msg.push_str(&format!(
                    " (the byte at {at} would be a msgpackr record id, but no record of that id is \
                     defined in this message: msgpackr's `sequential` mode and shared `structures` \
                     need state from earlier messages, which is not kept)"
                ));
            }
            return Err(Error::syntax(msg, self.pos));
        }
        Ok(())
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
            opts: self.opts,
            records: Records::default(),
            targets: Targets::default(),
            retry: false,
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
            0xcf => Head::Uint64(u64::from_be_bytes(self.be()?)),
            0xd0 => Head::I64(i64::from(self.u8()? as i8)),
            0xd1 => Head::I64(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Head::I64(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Head::Int64(i64::from_be_bytes(self.be()?)),
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
            0xc1 => {
                return Err(Error::syntax(
                    "invalid MessagePack marker 0xc1 (msgpackr writes it for a bundled-string \
                     reference, `bundleStrings`, which needs msgpackr's own string bundle)",
                    at,
                ))
            }
        })
    }

    /// If the next value is a stand-alone extension or a msgpackr prefix tag, read it as a
    /// Value. `None` for a record definition (not read); a reference makes the typed read
    /// start again through a `Value`.
    #[inline]
    fn take_ext(&mut self) -> Result<Option<Value>> {
        if !self.is_ext() {
            return Ok(None);
        }
        let at = self.offset();
        match self.peek_ext_type() {
            Some(ext::RECORD) if matches!(self.peek_marker(), Some(0xd4 | 0xd5)) => {
                return Ok(None)
            }
            Some(
                ext::SET_TAG | ext::ERROR_TAG | ext::REGEXP_TAG | ext::REF_ID | ext::REF_POINTER,
            ) => {
                if let Some(form) = self.form()? {
                    return match form {
                        msgpackr::Form::Tag(ty) => self.tagged(ty, at).map(Some),
                        _ => {
                            self.retry = true;
                            Err(Error::data(
                                "msgpackr references are read through a Value (internal: the caller retries)",
                            )
                            .at_offset(at))
                        }
                    };
                }
            }
            _ => {}
        }
        match self.head()? {
            Head::Ext(ty, p) => self.ext_value(ty, p, at).map(Some),
            _ => Ok(None),
        }
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
        let private = |off: i8| Some(self.opts.private.wrapping_add(off));
        let (set, map) = (private(ext::SET), private(ext::MAP));
        match (magic, self.peek_ext_type()) {
            (Magic::Date, Some(ext::TIMESTAMP)) => {
                let at = self.offset();
                let Head::Ext(_, p) = self.head()? else {
                    return Err(Error::data("expected a timestamp").at_offset(at));
                };
                match timestamp_millis(p) {
                    Some(ms) => visitor.visit_f64(Date::from_millis(ms).time_value()),
                    None => visitor.visit_f64(f64::NAN),
                }
            }
            // msgpackr's Set tag `d4 73 00` and its array: the array straight to the visitor.
            (Magic::Set, Some(ext::SET_TAG))
                if self.b.get(self.pos..self.pos + 3) == Some(&[0xd4, ext::SET_TAG as u8, 0])
                    && matches!(self.b.get(self.pos + 3), Some(0x90..=0x9f | 0xdc | 0xdd)) =>
            {
                self.pos += 3;
                de::Deserializer::deserialize_seq(self, visitor)
            }
            (Magic::Set, ty) if ty == set => {
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
            (Magic::Map, ty) if ty == map => {
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
            // A plain map (what msgpackr writes for a JS Map, and other writers for a map):
            // its entries go to the visitor as pairs, straight from the bytes, as the Map
            // extension's do above. The pairs are the ones the general path (the visitor's
            // `visit_map`, which reads each value through a `Value`) would collect, in the
            // same order, repeats included; a key that is not a string, which that path
            // refuses, is left to the key type. A first key that may be a magic name takes
            // the general path, which tells magic maps from data.
            (Magic::Map, _) if matches!(self.peek_marker(), Some(0x80..=0x8f | 0xde | 0xdf)) => {
                let (at, save) = (self.offset(), self.pos);
                if let Head::Map(n) = self.head()? {
                    if !self.key_may_be_magic() {
                        return self.nested(at, |de| {
                            visitor.visit_seq(Seq {
                                de,
                                left: n,
                                index: 0,
                                pairs: true,
                            })
                        });
                    }
                }
                self.pos = save;
                self.any(visitor)
            }
            _ => self.any(visitor),
        }
    }

    fn any<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let at = self.offset();
        if let Some(form) = self.form()? {
            return self.typed_form(form, at, visitor);
        }
        match self.head()? {
            Head::Nil => visitor.visit_unit(),
            Head::Bool(b) => visitor.visit_bool(b),
            Head::U64(n) | Head::Uint64(n) => visitor.visit_u64(n),
            Head::I64(n) | Head::Int64(n) => visitor.visit_i64(n),
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

    /// Skip one value (for ignored fields).
    fn skip(&mut self) -> Result<()> {
        let mut left = 1usize;
        while left > 0 {
            left -= 1;
            match self.form()? {
                Some(msgpackr::Form::Record(keys)) => {
                    left += keys.len();
                    continue;
                }
                Some(msgpackr::Form::Tag(_) | msgpackr::Form::Target(_)) => {
                    // The marker, then the value it applies to.
                    let n = if self.b[self.pos] == 0xd4 { 3 } else { 6 };
                    self.pos += n;
                    left += 1;
                    continue;
                }
                _ => {}
            }
            match self.head()? {
                Head::Array(n) => left += n,
                Head::Map(n) => left += 2 * n,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Decode a whole document as a Value, refusing trailing bytes.
pub(crate) fn value(bytes: &[u8], limits: &Limits, opts: Opts) -> Result<Value> {
    let mut d = Deserializer::new(bytes, limits, opts);
    let v = d.build()?;
    d.end()?;
    Ok(v)
}

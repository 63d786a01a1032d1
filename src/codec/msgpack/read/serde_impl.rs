//! serde's `Deserializer` over the reader: fast paths for the commonest markers (small
//! ints, floats, short strings, fixmaps and records, dates and Sets in their usual forms),
//! everything else through the reader's general dispatch.

use super::access::Enum;
use super::{with_value, Deserializer, Head};
use crate::value::Value;
use crate::{Error, Result};
use serde::de::{self, IntoDeserializer, Visitor};

macro_rules! via_any {
    ($int:literal: $($method:ident)*) => {$(
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            // The commonest numbers and short arrays skip the general dispatch (same
            // visits as `any`).
            match self.peek_marker() {
                Some(m @ 0x00..=0x3f) => {
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(m));
                }
                Some(m @ 0x40..=0x7f) if self.records.get(m).is_none() => {
                    let at = self.offset();
                    self.records.bare(m, at);
                    self.pos += 1;
                    return visitor.visit_u64(u64::from(m));
                }
                Some(m @ 0xe0..=0xff) => {
                    self.pos += 1;
                    return visitor.visit_i64(i64::from(m as i8));
                }
                Some(0xcb) => {
                    self.pos += 1;
                    let f = f64::from_be_bytes(self.be()?);
                    // An integral float 64 (msgpackr writes Numbers past 32 bits so) reads
                    // into an integer field.
                    if $int && crate::value::number::is_safe_integer(f) {
                        return if f < 0.0 {
                            visitor.visit_i64(f as i64)
                        } else {
                            visitor.visit_u64(f as u64)
                        };
                    }
                    return visitor.visit_f64(f);
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

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // An int 64 / uint 64 is a bigint to a JS-shaped reader (typed integer fields ask
        // for their type and read it as an integer).
        match self.peek_marker() {
            Some(0xcf | 0xd3) if self.opts.int64 == crate::codec::msgpack::Int64As::BigInt => {
                let v = self.build()?;
                return with_value(v, |d| de::Deserializer::deserialize_any(d, visitor));
            }
            // In the msgpackr profile most plain maps are JS Maps (see `map_is_js_map`).
            Some(0x80..=0x8f | 0xde | 0xdf)
                if self.opts.profile == crate::codec::msgpack::Profile::Msgpackr =>
            {
                let (at, save) = (self.offset(), self.pos);
                if let Head::Map(n) = self.head()? {
                    if self.map_is_js_map(at, n) {
                        self.pos = save;
                        let v = self.build()?;
                        return with_value(v, |d| de::Deserializer::deserialize_any(d, visitor));
                    }
                }
                self.pos = save;
            }
            _ => {}
        }
        self.any(visitor)
    }

    via_any!(true: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128);
    via_any!(false: deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes
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
                None => visitor.visit_some(self),
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
        // A fixmap (a struct of up to 15 fields) or a record skips the general dispatch.
        match self.peek_marker() {
            Some(m @ 0x80..=0x8f) => {
                let at = self.offset();
                self.pos += 1;
                let n = self.count(usize::from(m & 0x0f), 2)?;
                return self.map(n, at, visitor);
            }
            Some(0x40..=0x7f | 0xd4) => {
                let at = self.offset();
                if let Some(keys) = self.record_keys()? {
                    return self.record(keys, at, visitor);
                }
            }
            _ => {}
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
            Some(0x40..=0x7f | 0xd4 | 0xd5) => match self.record_enum(visitor)? {
                Some(v) => Ok(v),
                None => Err(
                    Error::data("expected an enum (a string or a map with one key)").at_offset(at),
                ),
            },
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

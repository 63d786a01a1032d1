//! `T: Serialize` straight into MessagePack: structs as maps with field names (what a JS
//! peer reads), polycodec's JS kinds as their extension types.

use super::write::{header_bytes, Writer};
use crate::value::magic::Magic;
use crate::value::ser::from_magic;
use crate::value::{to_value, Date, Value};
use crate::{Error, Result};
use serde::ser::{self, Serialize};

/// A sequence or map being written. When the length was not given up front, the header is
/// put in front at the end.
pub(crate) struct Compound<'w> {
    w: &'w mut Writer,
    /// Where the elements start, when the header is still to be written.
    patch: Option<usize>,
    count: usize,
    map: bool,
    /// A map written from a sequence of pairs: each element is a key and a value.
    pairs: bool,
}

impl<'w> Compound<'w> {
    #[inline]
    fn new(w: &'w mut Writer, len: Option<usize>, map: bool) -> Result<Self> {
        w.enter()?;
        let patch = match len {
            Some(n) if map => {
                w.map_header(n);
                None
            }
            Some(n) => {
                w.array_header(n);
                None
            }
            None => Some(w.out.len()),
        };
        Ok(Compound {
            w,
            patch,
            count: 0,
            map,
            pairs: false,
        })
    }

    #[inline]
    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.w.charge()?;
        let depth = self.w.depth_left();
        crate::stack::grow_every(depth, || v.serialize(&mut *self.w))
    }

    #[inline]
    fn finish(self) -> Result<()> {
        if let Some(at) = self.patch {
            self.w
                .out
                .splice(at..at, header_bytes(self.count, self.map));
        }
        self.w.leave();
        Ok(())
    }
}

impl<'w> ser::Serializer for &'w mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn is_human_readable(&self) -> bool {
        false
    }
    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.bool(v);
        Ok(())
    }
    #[inline]
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.int(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.wide_int(v.into());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.ext(super::ext::BIGINT, v.to_string().as_bytes());
        Ok(())
    }
    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.uint(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.wide_int(v.into());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.ext(super::ext::BIGINT, v.to_string().as_bytes());
        Ok(())
    }
    /// As JS has it: the f32 widened to a double (JS never writes float 32).
    #[inline]
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.number(f64::from(v));
        Ok(())
    }
    /// The bytes `@msgpack/msgpack` writes for the same number (an integral one as an int),
    /// as the `Value` path does.
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.number(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        let mut b = [0u8; 4];
        self.str(v.encode_utf8(&mut b));
        Ok(())
    }
    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.bin(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.nil();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.nil();
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.nil();
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.str(variant);
        Ok(())
    }
    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<()> {
        let Some(m) = Magic::from_name(name) else {
            return v.serialize(self);
        };
        match m {
            Magic::Optional => {
                if crate::value::capture::is_none(v) {
                    self.ext(super::ext::UNDEFINED, &[]);
                    Ok(())
                } else {
                    v.serialize(self)
                }
            }
            Magic::Ref | Magic::Shared => {
                self.in_ref += 1;
                let res = self.charge().and_then(|_| v.serialize(&mut *self));
                self.in_ref -= 1;
                res
            }
            Magic::Undefined => {
                self.ext(super::ext::UNDEFINED, &[]);
                Ok(())
            }
            Magic::Date => {
                use crate::value::capture::{capture, Scalar};
                // Binary payload form: milliseconds, no string in between.
                match capture(v, false) {
                    Scalar::F64(n) => self.date(Date::from_millis(n)),
                    Scalar::Str(s) => self.date(Date::parse(&s)),
                    _ => self.date(Date::invalid()),
                }
                Ok(())
            }
            Magic::BigInt => match to_value(v)? {
                Value::String(s) => {
                    self.ext(super::ext::BIGINT, s.as_bytes());
                    Ok(())
                }
                other => Err(Error::data(format!("invalid bigint payload {other:?}"))),
            },
            Magic::Url => match to_value(v)? {
                Value::String(s) => {
                    self.ext(super::ext::URL, s.as_bytes());
                    Ok(())
                }
                other => Err(Error::data(format!("invalid URL payload {other:?}"))),
            },
            Magic::Set => self.ext_with(super::ext::SET, |w| v.serialize(w)),
            Magic::Map => self.ext_with(super::ext::MAP, |w| {
                // The payload is a sequence of [key, value] pairs: written as one map.
                w.pairs_as_map = true;
                let res = v.serialize(&mut *w);
                w.pairs_as_map = false;
                res
            }),
            _ => {
                let payload = to_value(v)?;
                self.value(&from_magic(m, payload)?)
            }
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<()> {
        self.map_header(1);
        self.str(variant);
        v.serialize(self)
    }
    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'w>> {
        if std::mem::take(&mut self.pairs_as_map) {
            let mut c = Compound::new(self, len, true)?;
            c.pairs = true;
            return Ok(c);
        }
        Compound::new(self, len, false)
    }
    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w>> {
        if std::mem::take(&mut self.bare_pair) && len == 2 {
            // One entry of a map written from pairs: key and value, no array header.
            self.enter()?;
            return Ok(Compound {
                w: self,
                patch: None,
                count: 0,
                map: false,
                pairs: false,
            });
        }
        Compound::new(self, Some(len), false)
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'w>> {
        Compound::new(self, Some(len), false)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'w>> {
        self.map_header(1);
        self.str(variant);
        Compound::new(self, Some(len), false)
    }
    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'w>> {
        Compound::new(self, len, true)
    }
    #[inline]
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'w>> {
        Compound::new(self, Some(len), true)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'w>> {
        self.map_header(1);
        self.str(variant);
        Compound::new(self, Some(len), true)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        if self.pairs {
            self.w.bare_pair = true;
            let res = self.item(v);
            self.w.bare_pair = false;
            return res;
        }
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.count += 1;
        self.item(k)
    }
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.w.str(key);
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.w.str(key);
        self.item(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

//! `T: Serialize` straight into superjson or plain JSON text (no intermediate `Value`).

use super::encoder::{AnnOut, Encoder, Mode};
use crate::codec::json_str::write_str;
use crate::value::magic::Magic;
use crate::value::number::write_int;
use crate::value::ser::from_magic;
use crate::value::{to_value, Date, Ref, Value};
use crate::{Error, Result};
use serde::ser::{self, Serialize};

/// Where a compound is in its life.
#[derive(PartialEq, Eq)]
enum Kind {
    Seq,
    Object,
    /// A map whose first key has not been seen: object or JS Map is decided by it.
    Undecided,
    JsMap,
}

pub(crate) struct Compound<'e> {
    enc: &'e mut Encoder,
    kind: Kind,
    /// The scope's record length at the start (see [`Encoder::end_plain`]).
    mark: usize,
    /// The record length at the start of the current Map pair.
    pair_mark: usize,
    count: usize,
    /// Close an enclosing `{"variant":` too.
    variant: bool,
    /// Byte offset where the current object entry starts (plain mode drops undefined).
    entry_start: usize,
}

impl<'e> Compound<'e> {
    #[inline]
    fn new(enc: &'e mut Encoder, kind: Kind, variant: bool) -> Result<Self> {
        enc.enter()?;
        match kind {
            Kind::Seq => {
                enc.out.push(b'[');
                // The elements' path segment: pushed once, renumbered per element.
                enc.push_index(0);
            }
            Kind::Object => {
                enc.out.push(b'{');
                // The fields' path segment: pushed once, set per key.
                enc.push_index(0);
            }
            _ => {}
        }
        let mark = enc.mark();
        Ok(Compound {
            enc,
            kind,
            mark,
            pair_mark: 0,
            count: 0,
            variant,
            entry_start: 0,
        })
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        if self.count > 0 {
            self.enc.out.push(b',');
            self.enc.set_index(self.count);
        }
        self.enc.charge()?;
        self.count += 1;
        let depth = self.enc.depth_left();
        crate::stack::grow_every(depth, || v.serialize(&mut *self.enc))
    }

    #[inline]
    fn object_key(
        &mut self,
        key: &str,
        owned: bool,
        static_key: Option<&'static str>,
    ) -> Result<()> {
        match static_key {
            Some(k) if !owned => self.enc.set_static(k),
            _ => self.enc.set_key(key),
        }
        self.enc.check_key(key)?;
        self.entry_start = self.enc.out.len();
        if self.count > 0 {
            self.enc.out.push(b',');
        }
        self.count += 1;
        write_str(&mut self.enc.out, key);
        self.enc.out.push(b':');
        Ok(())
    }

    #[inline]
    fn object_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.enc.charge()?;
        self.enc.wrote_undefined = false;
        let depth = self.enc.depth_left();
        crate::stack::grow_every(depth, || v.serialize(&mut *self.enc))?;
        if self.enc.mode == Mode::Plain && self.enc.wrote_undefined {
            // JSON.stringify leaves out keys whose value is undefined.
            self.enc.out.truncate(self.entry_start);
            self.count -= 1;
            self.enc.wrote_undefined = false;
        }
        Ok(())
    }

    #[inline]
    fn finish(self) -> Result<()> {
        match self.kind {
            Kind::Seq => {
                self.enc.pop();
                self.enc.out.push(b']');
                self.enc.end_plain(self.mark);
            }
            Kind::Object => {
                self.enc.pop();
                self.enc.out.push(b'}');
                self.enc.end_plain(self.mark);
            }
            Kind::Undecided => self.enc.out.extend_from_slice(b"{}"),
            Kind::JsMap => {
                self.enc.out.push(b']');
                self.enc.close_container();
            }
        }
        self.enc.leave();
        if self.variant {
            self.enc.out.push(b'}');
            self.enc.pop();
        }
        Ok(())
    }
}

/// The text of a map key when it is a string (or, with `scalars`, an integer or boolean:
/// plain JSON writes `{"1": ...}` for integer keys, as serde_json does).
fn key_text<T: Serialize + ?Sized>(key: &T, scalars: bool) -> Option<String> {
    use crate::value::capture::{capture_key, Scalar};
    match capture_key(key) {
        Scalar::Str(s) => Some(s),
        Scalar::Int(i) if scalars => Some(i.to_string()),
        Scalar::Bool(b) if scalars => Some(b.to_string()),
        _ => None,
    }
}

impl<'e> ser::Serializer for &'e mut Encoder {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'e>;
    type SerializeTuple = Compound<'e>;
    type SerializeTupleStruct = Compound<'e>;
    type SerializeTupleVariant = Compound<'e>;
    type SerializeMap = Compound<'e>;
    type SerializeStruct = Compound<'e>;
    type SerializeStructVariant = Compound<'e>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.write_bool(v);
        Ok(())
    }
    #[inline]
    fn serialize_i8(self, v: i8) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i16(self, v: i16) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i32(self, v: i32) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.write_i128(v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u16(self, v: u16) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u32(self, v: u32) -> Result<()> {
        write_int(&mut self.out, v.into());
        Ok(())
    }
    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.write_i128(v.into());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        self.write_bigint_text(v.to_string());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.write_bigint_text(v.to_string());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        // The shortest decimal that reads back as this f32, as a JS number (0.1, not
        // 0.10000000149011612).
        let widened = if v.is_finite() {
            v.to_string().parse::<f64>().unwrap_or(f64::from(v))
        } else {
            f64::from(v)
        };
        self.write_f64(widened);
        Ok(())
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.write_f64(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        let mut b = [0u8; 4];
        self.write_string(v.encode_utf8(&mut b));
        Ok(())
    }
    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.write_string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.write_bytes(v)
    }
    fn serialize_none(self) -> Result<()> {
        self.write_null();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.write_null();
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.write_null();
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.write_string(variant);
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
                    self.write_undefined();
                    Ok(())
                } else {
                    v.serialize(self)
                }
            }
            // For `Shared`, `Value`'s `Serialize` offers the node whose value this is: claimed,
            // it is one identity for `referentialEqualities` (kept alive until the text is
            // done). Unclaimed, and for `Ref`, the value is written inside a shared node.
            Magic::Ref | Magic::Shared => match Ref::claim(v).filter(|_| m == Magic::Shared) {
                Some(node) => self.shared_payload(node, |enc| v.serialize(enc)),
                None => {
                    self.in_ref += 1;
                    let res = self.charge().and_then(|_| v.serialize(&mut *self));
                    self.in_ref -= 1;
                    res
                }
            },
            Magic::Undefined => {
                self.write_undefined();
                Ok(())
            }
            Magic::Set | Magic::Map => {
                self.enter()?;
                self.open_container(AnnOut::Simple(if m == Magic::Set { "set" } else { "map" }));
                v.serialize(&mut *self)?;
                self.close_container();
                self.leave();
                Ok(())
            }
            Magic::Date => {
                use crate::value::capture::{capture, Scalar};
                // A Date gives its milliseconds (formatted straight into the output); a
                // text payload in ISO form is written as it is.
                match capture(v, false) {
                    Scalar::Str(s) if s.len() == 24 || s.len() == 27 => {
                        self.write_annotated_str(&s, "Date")
                    }
                    Scalar::Str(s) => self.write_date(Date::parse(&s)),
                    Scalar::F64(n) => self.write_date(Date::from_millis(n)),
                    _ => self.write_date(Date::invalid()),
                }
                Ok(())
            }
            Magic::BigInt => match to_value(v)? {
                Value::String(s) => {
                    self.write_bigint_text(s);
                    Ok(())
                }
                other => Err(Error::data(format!("invalid bigint payload {other:?}"))),
            },
            Magic::Url | Magic::RegExp => match to_value(v)? {
                Value::String(s) => {
                    self.write_annotated_str(&s, if m == Magic::Url { "URL" } else { "regexp" });
                    Ok(())
                }
                other => self.built(from_magic(m, other)?),
            },
            Magic::Error | Magic::Annotated | Magic::TypedArray | Magic::Ext => {
                self.built(from_magic(m, to_value(v)?)?)
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
        self.check_key(variant)?;
        self.out.push(b'{');
        write_str(&mut self.out, variant);
        self.out.push(b':');
        self.push_static(variant);
        v.serialize(&mut *self)?;
        self.pop();
        self.out.push(b'}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'e>> {
        Compound::new(self, Kind::Seq, false)
    }
    #[inline]
    fn serialize_tuple(self, _: usize) -> Result<Compound<'e>> {
        Compound::new(self, Kind::Seq, false)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'e>> {
        Compound::new(self, Kind::Seq, false)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'e>> {
        self.out.push(b'{');
        write_str(&mut self.out, variant);
        self.out.push(b':');
        self.push_static(variant);
        Compound::new(self, Kind::Seq, true)
    }
    #[inline]
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'e>> {
        Compound::new(self, Kind::Undecided, false)
    }
    #[inline]
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'e>> {
        Compound::new(self, Kind::Object, false)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'e>> {
        self.out.push(b'{');
        write_str(&mut self.out, variant);
        self.out.push(b':');
        self.push_static(variant);
        Compound::new(self, Kind::Object, true)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.element(v)
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
        self.element(v)
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
        self.element(v)
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
        self.element(v)
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
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let text = key_text(key, self.enc.mode == Mode::Plain);
        let is_str = text.is_some();
        let buf = text.unwrap_or_default();
        if self.kind == Kind::Undecided {
            if is_str {
                self.kind = Kind::Object;
                self.enc.out.push(b'{');
                self.enc.push_index(0);
            } else {
                // Non-string keys: a JS Map, as `[[key, value], ...]`.
                self.kind = Kind::JsMap;
                self.enc.open_container(AnnOut::Simple("map"));
                self.enc.out.push(b'[');
            }
        }
        match self.kind {
            Kind::Object if is_str => self.object_key(&buf, true, None),
            Kind::Object => Err(Error::data(
                "a map mixes string and non-string keys; use polycodec::js::map",
            )),
            _ => {
                if self.count > 0 {
                    self.enc.out.push(b',');
                }
                self.enc.push_index(self.count);
                self.count += 1;
                self.pair_mark = self.enc.mark();
                self.enc.out.push(b'[');
                self.enc.push_index(0);
                key.serialize(&mut *self.enc)?;
                self.enc.pop();
                Ok(())
            }
        }
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        if self.kind == Kind::JsMap {
            self.enc.out.push(b',');
            self.enc.push_index(1);
            v.serialize(&mut *self.enc)?;
            self.enc.pop();
            self.enc.out.push(b']');
            self.enc.end_plain(self.pair_mark);
            self.enc.pop();
            Ok(())
        } else {
            self.object_value(v)
        }
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
        self.object_key(key, false, Some(key))?;
        self.object_value(v)
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
        self.object_key(key, false, Some(key))?;
        self.object_value(v)
    }
    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

//! Reading the scalar payload of a magic newtype without building a [`Value`](super::Value):
//! a Date's milliseconds (binary formats) or ISO string (text formats), whether an `Option`
//! is `None`.

use crate::{Error, Result};
use serde::ser::{self, Impossible, Serialize};

/// A captured scalar.
pub(crate) enum Scalar {
    F64(f64),
    Str(String),
    Unit,
    Other,
}

/// Serialize `v` into a [`Scalar`]; `human` is what `is_human_readable` answers (it picks the
/// payload form of JS kinds).
pub(crate) fn capture<T: Serialize + ?Sized>(v: &T, human: bool) -> Scalar {
    v.serialize(Capture(human)).unwrap_or(Scalar::Other)
}

/// True when `v` serializes as `None` (without serializing what a `Some` holds).
pub(crate) fn is_none<T: Serialize + ?Sized>(v: &T) -> bool {
    matches!(v.serialize(NoneProbe), Ok(true))
}

struct Capture(bool);

macro_rules! other {
    ($($m:ident($($t:ty),*))*) => {$(
        fn $m(self $(, _: $t)*) -> Result<Scalar> { Ok(Scalar::Other) }
    )*};
}

impl ser::Serializer for Capture {
    type Ok = Scalar;
    type Error = Error;
    type SerializeSeq = Impossible<Scalar, Error>;
    type SerializeTuple = Impossible<Scalar, Error>;
    type SerializeTupleStruct = Impossible<Scalar, Error>;
    type SerializeTupleVariant = Impossible<Scalar, Error>;
    type SerializeMap = Impossible<Scalar, Error>;
    type SerializeStruct = Impossible<Scalar, Error>;
    type SerializeStructVariant = Impossible<Scalar, Error>;

    fn is_human_readable(&self) -> bool {
        self.0
    }
    fn serialize_f64(self, v: f64) -> Result<Scalar> {
        Ok(Scalar::F64(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Scalar> {
        Ok(Scalar::F64(v as f64))
    }
    fn serialize_u64(self, v: u64) -> Result<Scalar> {
        Ok(Scalar::F64(v as f64))
    }
    fn serialize_str(self, v: &str) -> Result<Scalar> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn serialize_unit(self) -> Result<Scalar> {
        Ok(Scalar::Unit)
    }
    fn serialize_none(self) -> Result<Scalar> {
        Ok(Scalar::Unit)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Scalar> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Scalar> {
        v.serialize(self)
    }
    other!(serialize_bool(bool) serialize_i8(i8) serialize_i16(i16) serialize_i32(i32)
        serialize_i128(i128) serialize_u8(u8) serialize_u16(u16) serialize_u32(u32)
        serialize_u128(u128) serialize_f32(f32) serialize_char(char) serialize_bytes(&[u8])
        serialize_unit_struct(&'static str));
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<Scalar> {
        Ok(Scalar::Other)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Scalar> {
        Ok(Scalar::Other)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Error::data("not a scalar"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::data("not a scalar"))
    }
}

/// Answers whether a value is `None` without looking inside a `Some`.
struct NoneProbe;

impl ser::Serializer for NoneProbe {
    type Ok = bool;
    type Error = Error;
    type SerializeSeq = Impossible<bool, Error>;
    type SerializeTuple = Impossible<bool, Error>;
    type SerializeTupleStruct = Impossible<bool, Error>;
    type SerializeTupleVariant = Impossible<bool, Error>;
    type SerializeMap = Impossible<bool, Error>;
    type SerializeStruct = Impossible<bool, Error>;
    type SerializeStructVariant = Impossible<bool, Error>;

    fn serialize_none(self) -> Result<bool> {
        Ok(true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool> {
        Ok(false)
    }
    fn serialize_unit(self) -> Result<bool> {
        Ok(true)
    }
    fn serialize_bool(self, _: bool) -> Result<bool> {
        Ok(false)
    }
    fn serialize_i8(self, _: i8) -> Result<bool> {
        Ok(false)
    }
    fn serialize_i16(self, _: i16) -> Result<bool> {
        Ok(false)
    }
    fn serialize_i32(self, _: i32) -> Result<bool> {
        Ok(false)
    }
    fn serialize_i64(self, _: i64) -> Result<bool> {
        Ok(false)
    }
    fn serialize_u8(self, _: u8) -> Result<bool> {
        Ok(false)
    }
    fn serialize_u16(self, _: u16) -> Result<bool> {
        Ok(false)
    }
    fn serialize_u32(self, _: u32) -> Result<bool> {
        Ok(false)
    }
    fn serialize_u64(self, _: u64) -> Result<bool> {
        Ok(false)
    }
    fn serialize_f32(self, _: f32) -> Result<bool> {
        Ok(false)
    }
    fn serialize_f64(self, _: f64) -> Result<bool> {
        Ok(false)
    }
    fn serialize_char(self, _: char) -> Result<bool> {
        Ok(false)
    }
    fn serialize_str(self, _: &str) -> Result<bool> {
        Ok(false)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<bool> {
        Ok(false)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool> {
        Ok(false)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<bool> {
        Ok(false)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<bool> {
        Ok(false)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Error::data("some"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Error::data("some"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Error::data("some"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::data("some"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Error::data("some"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Error::data("some"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::data("some"))
    }
}

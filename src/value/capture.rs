//! Reading a scalar without building a [`Value`](super::Value): the payload of a magic
//! newtype (a Date's milliseconds in binary formats, its ISO string in text formats), a map
//! key, whether an `Option` is `None`.

use super::magic::Magic;
use crate::{Error, Result};
use serde::ser::{self, Impossible, Serialize};

/// A captured scalar.
pub(crate) enum Scalar {
    F64(f64),
    Int(i128),
    Bool(bool),
    /// Strings, chars and unit variants (what a JS object key can be).
    Str(String),
    Unit,
    Other,
}

/// Serialize `v` into a [`Scalar`]; `human` is what `is_human_readable` answers (it picks the
/// payload form of JS kinds). Reads through polycodec's magic newtypes.
pub(crate) fn capture<T: Serialize + ?Sized>(v: &T, human: bool) -> Scalar {
    v.serialize(Capture {
        human,
        through_magic: true,
    })
    .unwrap_or(Scalar::Other)
}

/// Capture a map key: a string, char, unit variant, integer or bool. A JS kind (a Date, a
/// bigint) is no scalar key.
pub(crate) fn capture_key<T: Serialize + ?Sized>(v: &T) -> Scalar {
    v.serialize(Capture {
        human: true,
        through_magic: false,
    })
    .unwrap_or(Scalar::Other)
}

/// True when `v` serializes as `None` (without serializing what a `Some` holds).
pub(crate) fn is_none<T: Serialize + ?Sized>(v: &T) -> bool {
    matches!(v.serialize(NoneProbe), Ok(true))
}

struct Capture {
    human: bool,
    through_magic: bool,
}

/// Methods that answer the same for every argument.
macro_rules! answer {
    ($ok:ty, $value:expr; $($m:ident($($t:ty),*))*) => {$(
        fn $m(self $(, _: $t)*) -> Result<$ok> { Ok($value) }
    )*};
}

/// The compound methods of a probe, which reads scalars only.
macro_rules! no_compounds {
    () => {
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
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Self::Ok> {
            Err(Error::data("not a scalar"))
        }
    };
}

macro_rules! int {
    ($($m:ident($t:ty))*) => {$(
        fn $m(self, v: $t) -> Result<Scalar> { Ok(Scalar::Int(v.into())) }
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
        self.human
    }
    int!(serialize_i8(i8) serialize_i16(i16) serialize_i32(i32) serialize_i64(i64)
        serialize_i128(i128) serialize_u8(u8) serialize_u16(u16) serialize_u32(u32)
        serialize_u64(u64));
    fn serialize_u128(self, v: u128) -> Result<Scalar> {
        Ok(i128::try_from(v).map_or(Scalar::Other, Scalar::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<Scalar> {
        Ok(Scalar::F64(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Scalar> {
        Ok(Scalar::F64(v))
    }
    fn serialize_bool(self, v: bool) -> Result<Scalar> {
        Ok(Scalar::Bool(v))
    }
    fn serialize_char(self, v: char) -> Result<Scalar> {
        Ok(Scalar::Str(v.into()))
    }
    fn serialize_str(self, v: &str) -> Result<Scalar> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Scalar> {
        Ok(Scalar::Str(variant.to_owned()))
    }
    answer!(Scalar, Scalar::Unit; serialize_unit() serialize_none());
    answer!(Scalar, Scalar::Other; serialize_bytes(&[u8]) serialize_unit_struct(&'static str));
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Scalar> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Scalar> {
        if !self.through_magic && Magic::from_name(name).is_some() {
            return Ok(Scalar::Other);
        }
        v.serialize(self)
    }
    no_compounds!();
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

    answer!(bool, true; serialize_none() serialize_unit());
    answer!(bool, false; serialize_bool(bool) serialize_i8(i8) serialize_i16(i16)
        serialize_i32(i32) serialize_i64(i64) serialize_u8(u8) serialize_u16(u16)
        serialize_u32(u32) serialize_u64(u64) serialize_f32(f32) serialize_f64(f64)
        serialize_char(char) serialize_str(&str) serialize_bytes(&[u8])
        serialize_unit_struct(&'static str));
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<bool> {
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
    no_compounds!();
}

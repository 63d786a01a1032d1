//! Extensions that stand alone (their payload is all there is): the timestamp, `undefined`,
//! msgpackr's bigint (0x42) and typed arrays (0x74), polycodec's private block, and every
//! other type, kept opaque as [`Value::Ext`].

use super::super::ext;
use super::super::write::MAX_BIGINT_BYTES;
use super::Deserializer;
use crate::value::same_value_zero::dedupe_members;
use crate::value::{
    Annotated, BigInt, Coercion, Date, JsError, RegExp, TypedArray, TypedArrayKind, Value,
};
use crate::{Category, Error, Result};

/// msgpackr's typed-array element kinds by code (1, `Uint8Array`, is [`Value::Bytes`]; 9 and
/// 10, the 64-bit integer arrays, have no `Value` kind and stay opaque).
fn typed_array_kind(code: u8) -> Option<TypedArrayKind> {
    Some(match code {
        0 => TypedArrayKind::Int8,
        2 => TypedArrayKind::Uint8Clamped,
        3 => TypedArrayKind::Int16,
        4 => TypedArrayKind::Uint16,
        5 => TypedArrayKind::Int32,
        6 => TypedArrayKind::Uint32,
        7 => TypedArrayKind::Float32,
        8 => TypedArrayKind::Float64,
        _ => return None,
    })
}

impl<'a> Deserializer<'a> {
    /// Turn a stand-alone extension (at `at`, payload `p`) into the Value it stands for.
    /// Types nobody here owns, and private-block payloads that do not validate, are kept
    /// opaque; msgpackr's own types with a wrong payload are errors.
    pub(super) fn ext_value(&self, ty: i8, p: &'a [u8], at: usize) -> Result<Value> {
        let opaque = || Value::Ext { ty, data: p.into() };
        match ty {
            ext::TIMESTAMP => Ok(Value::Date(match timestamp_millis(p) {
                Some(ms) => Date::from_millis(ms),
                // msgpackr writes an invalid Date as `d4 ff ff` and reads any other length
                // as one too.
                None => Date::invalid(),
            })),
            ext::UNDEFINED => Ok(Value::Undefined),
            ext::BIGINT => self.bigint_words(p, at).map(Value::BigInt),
            ext::TYPED_ARRAY => self.typed_array(p, at),
            ext::BUNDLED_STRINGS => Err(Error::data(
                "msgpackr bundled strings (extension 0x62, `bundleStrings`) are not supported",
            )
            .at_offset(at)),
            ty if (self.opts.private..self.opts.private.saturating_add(ext::PRIVATE_LEN))
                .contains(&ty)
                && self.opts.private > 0 =>
            {
                match self.private_value(ty - self.opts.private, p, at) {
                    Ok(v) => Ok(v),
                    Err(e) if e.classify() == Category::Limit => Err(e),
                    Err(_) => Ok(opaque()),
                }
            }
            _ => Ok(opaque()),
        }
    }

    /// msgpackr's bigint extension: big-endian two's complement, at most
    /// [`MAX_BIGINT_BYTES`] bytes.
    fn bigint_words(&self, p: &[u8], at: usize) -> Result<BigInt> {
        if p.is_empty() {
            return Err(Error::data("bigint extension 0x42 has an empty payload").at_offset(at));
        }
        if p.len() > MAX_BIGINT_BYTES {
            return Err(Error::limit(format!(
                "bigint extension of {} bytes is over the limit of {MAX_BIGINT_BYTES}",
                p.len()
            ))
            .at_offset(at));
        }
        Ok(BigInt::from_signed_bytes_be(p))
    }

    /// msgpackr's typed-array extension: `<code> <little-endian elements>`.
    fn typed_array(&self, p: &[u8], at: usize) -> Result<Value> {
        let Some((&code, bytes)) = p.split_first() else {
            return Err(
                Error::data("typed array extension 0x74 has no element type code").at_offset(at),
            );
        };
        let size = match code {
            0..=2 | 16 | 17 => 1,
            3 | 4 => 2,
            5..=7 => 4,
            8..=10 => 8,
            _ => {
                return Err(Error::data(format!(
                    "typed array extension 0x74 has the unknown element type code {code}"
                ))
                .at_offset(at))
            }
        };
        if bytes.len() % size != 0 {
            return Err(Error::data(format!(
                "typed array extension 0x74 (code {code}) holds {} bytes, not a multiple of its \
                 element size {size}",
                bytes.len()
            ))
            .at_offset(at));
        }
        let n = bytes.len() / size;
        if n > self.max_len {
            return Err(Error::limit(format!(
                "typed array of {n} elements is over the collection limit of {}",
                self.max_len
            ))
            .at_offset(at));
        }
        Ok(match code {
            1 => Value::Bytes(bytes.to_vec()),
            code => match typed_array_kind(code) {
                Some(kind) => Value::TypedArray(Box::new(
                    TypedArray::from_le_bytes(kind, bytes).unwrap_or(TypedArray {
                        kind,
                        elements: Vec::new(),
                    }),
                )),
                // BigInt64Array, BigUint64Array, ArrayBuffer, DataView: kept as they are.
                None => Value::Ext {
                    ty: ext::TYPED_ARRAY,
                    data: p.into(),
                },
            },
        })
    }

    /// Decode a nested document (a private payload) into a Value. Its first byte must
    /// start the container the extension holds (`array` or a map): the container is a level
    /// of nesting, so extensions inside extensions cannot recurse past the depth limit.
    fn nested_value(&self, payload: &'a [u8], array: bool) -> Result<Value> {
        let container = match payload.first() {
            Some(0x90..=0x9f | 0xdc | 0xdd) => array,
            Some(0x80..=0x8f | 0xde | 0xdf) => !array,
            _ => false,
        };
        if !container {
            return Err(Error::data("invalid private extension payload"));
        }
        let mut d = self.payload_reader(payload);
        let v = d.build()?;
        d.payload_done()?;
        Ok(v)
    }

    /// A payload of polycodec's private block (`offset` in the block).
    fn private_value(&self, offset: i8, p: &'a [u8], at: usize) -> Result<Value> {
        let bad = || Error::data("invalid private extension payload");
        let p_at = self.offset() - p.len();
        Ok(match offset {
            ext::INVALID_DATE if p.is_empty() => Value::Date(Date::invalid()),
            ext::URL => Value::url(self.str_of(p, p_at)?)?,
            // Members that repeat collapse as in JS's `new Set`; a Map's keys already did.
            ext::SET => match self.nested_value(p, true)? {
                Value::Array(a) => Value::Set(dedupe_members(a)),
                _ => return Err(bad()),
            },
            ext::MAP => match self.nested_value(p, false)? {
                Value::Map(m) => Value::Map(m),
                Value::Object(o) => {
                    Value::Map(o.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
                }
                _ => return Err(bad()),
            },
            ext::REGEXP => match self.nested_value(p, true)? {
                Value::Array(a) => match a.as_slice() {
                    [Value::String(s), Value::String(f)] => {
                        Value::RegExp(Box::new(RegExp::new(s, f)?))
                    }
                    _ => return Err(bad()),
                },
                _ => return Err(bad()),
            },
            ext::ERROR => match self.nested_value(p, false)? {
                Value::Object(o) => Value::Error(Box::new(
                    JsError::from_object(o, Coercion::Strict).ok_or_else(bad)?,
                )),
                _ => return Err(bad()),
            },
            ext::ANNOTATED => match self.nested_value(p, true)? {
                Value::Array(mut a) if a.len() == 2 => {
                    let value = a.pop().unwrap_or_default();
                    let Some(Value::String(text)) = a.pop() else {
                        return Err(bad());
                    };
                    let ann: Vec<String> = serde_json::from_str(&text).map_err(|_| bad())?;
                    let [kind, id] = <[String; 2]>::try_from(ann).map_err(|_| bad())?;
                    Value::Annotated(Box::new(Annotated { kind, id, value }))
                }
                _ => return Err(bad()),
            },
            _ => return Err(bad().at_offset(at)),
        })
    }
}

/// The milliseconds a timestamp extension's payload (4, 8 or 12 bytes) stands for, before
/// JS's time clip; `None` for any other length. The 4- and 8-byte forms give whole,
/// non-negative milliseconds (what `fixext_timestamp` hands over as they are); the 12-byte
/// form may give a fraction, which the Date truncates as JS's does.
#[inline]
pub(crate) fn timestamp_millis(p: &[u8]) -> Option<f64> {
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

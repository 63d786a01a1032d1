//! serde's access traits over the reader: array elements, map entries (also as
//! `[key, value]` pairs), enum variants; and the look-ahead that tells whether a map's
//! entries read alike pair by pair and through a `Value`.

use super::{Deserializer, Head};
use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

impl Deserializer<'_> {
    /// Whether the `n` map entries that come next read the same pair by pair as they do
    /// through a `Value` (the general path): not when a key repeats by SameValueZero (the
    /// `Value` keeps one entry, as JS's `new Map` does; `1` written as a fixint, as a
    /// uint8 and as a float 64 is one key), nor with a `-0` key (the `Value` path stores it
    /// as `0`, as JS does), a bigint or an extension key (the general path compares those
    /// by value). Reads ahead without moving; allocates nothing up to 16 entries.
    pub(super) fn entries_read_alike(&self, n: usize) -> bool {
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
                Head::U64(_) | Head::I64(_) | Head::Int64(_) | Head::Uint64(_) | Head::Ext(..) => {
                    return None
                }
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
}

/// The elements of an array, or (with `pairs`) the entries of a map as a sequence of
/// `[key, value]` pairs (a Map extension read into a typed collection).
pub(super) struct Seq<'x, 'a> {
    pub(crate) de: &'x mut Deserializer<'a>,
    pub(super) left: usize,
    pub(super) index: usize,
    pub(super) pairs: bool,
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

pub(super) struct Map<'x, 'a> {
    pub(crate) de: &'x mut Deserializer<'a>,
    pub(super) left: usize,
    /// Where the current key starts: when it is a string, it names an error in its value
    /// (read again only then).
    pub(super) key_at: Option<usize>,
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

pub(crate) struct Enum<'x, 'a> {
    pub(crate) de: &'x mut Deserializer<'a>,
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

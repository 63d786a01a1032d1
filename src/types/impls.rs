//! [`JsType`] for std types, tuples, collections and polycodec's JS kinds.

use super::{JsType, Ty};
use crate::js::Undefined;
use crate::value::{BigInt, JsError};
use crate::{Date, RegExp, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, LinkedList, VecDeque};

macro_rules! simple {
    ($ty:expr => $($t:ty),*) => {
        $(impl JsType for $t {
            fn js_type() -> Ty {
                $ty
            }
        })*
    };
}

simple!(Ty::Number => f32, f64, u8, u16, u32, i8, i16, i32);
simple!(Ty::Int64 => u64, i64, usize, isize);
simple!(Ty::Int128 => u128, i128);
simple!(Ty::Bool => bool);
simple!(Ty::String => String, str, char, std::path::PathBuf);
simple!(Ty::Null => ());
simple!(Ty::Unknown => Value, serde_json::Value);
simple!(Ty::Date => Date);
simple!(Ty::Undefined => Undefined);
simple!(Ty::BigInt => BigInt);
simple!(Ty::RegExp => RegExp);
simple!(Ty::Error => JsError);

macro_rules! nonzero {
    ($ty:expr => $($t:ident),*) => {
        $(impl JsType for std::num::$t {
            fn js_type() -> Ty {
                $ty
            }
        })*
    };
}

nonzero!(Ty::Number => NonZeroU8, NonZeroU16, NonZeroU32, NonZeroI8, NonZeroI16, NonZeroI32);
nonzero!(Ty::Int64 => NonZeroU64, NonZeroI64, NonZeroUsize, NonZeroIsize);

impl<T: JsType + ?Sized> JsType for &T {
    fn js_type() -> Ty {
        T::js_type()
    }
}

impl<T: JsType + ?Sized> JsType for Box<T> {
    fn js_type() -> Ty {
        T::js_type()
    }
}

impl<T: JsType + ?Sized> JsType for std::sync::Arc<T> {
    fn js_type() -> Ty {
        T::js_type()
    }
}

impl<T: JsType + ?Sized> JsType for std::rc::Rc<T> {
    fn js_type() -> Ty {
        T::js_type()
    }
}

impl<T: JsType + ToOwned + ?Sized> JsType for std::borrow::Cow<'_, T> {
    fn js_type() -> Ty {
        T::js_type()
    }
}

impl<T: JsType> JsType for Option<T> {
    fn js_type() -> Ty {
        Ty::Nullable(Box::new(T::js_type()))
    }
}

macro_rules! seq {
    ($($t:ident),*) => {
        $(impl<T: JsType> JsType for $t<T> {
            fn js_type() -> Ty {
                Ty::Array(Box::new(T::js_type()))
            }
        })*
    };
}

seq!(Vec, VecDeque, LinkedList, BTreeSet);

impl<T: JsType, S> JsType for HashSet<T, S> {
    fn js_type() -> Ty {
        Ty::Array(Box::new(T::js_type()))
    }
}

impl<T: JsType> JsType for [T] {
    fn js_type() -> Ty {
        Ty::Array(Box::new(T::js_type()))
    }
}

impl<T: JsType, const N: usize> JsType for [T; N] {
    fn js_type() -> Ty {
        Ty::Tuple((0..N).map(|_| T::js_type()).collect())
    }
}

impl<K: JsType, V: JsType> JsType for BTreeMap<K, V> {
    fn js_type() -> Ty {
        Ty::Dict(Box::new(K::js_type()), Box::new(V::js_type()))
    }
}

impl<K: JsType, V: JsType, S> JsType for HashMap<K, V, S> {
    fn js_type() -> Ty {
        Ty::Dict(Box::new(K::js_type()), Box::new(V::js_type()))
    }
}

impl<K: JsType, V: JsType, S> JsType for indexmap::IndexMap<K, V, S> {
    fn js_type() -> Ty {
        Ty::Dict(Box::new(K::js_type()), Box::new(V::js_type()))
    }
}

impl<Tz: chrono::TimeZone> JsType for chrono::DateTime<Tz> {
    /// chrono's own serde writes an RFC 3339 string (a Date only with
    /// [`js::date`](crate::js::date)).
    fn js_type() -> Ty {
        Ty::String
    }
}

impl JsType for url::Url {
    fn js_type() -> Ty {
        Ty::String
    }
}

macro_rules! tuple {
    ($($n:ident)*) => {
        impl<$($n: JsType),*> JsType for ($($n,)*) {
            fn js_type() -> Ty {
                Ty::Tuple(vec![$($n::js_type()),*])
            }
        }
    };
}

tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);
tuple!(A B C D E F G H I);
tuple!(A B C D E F G H I J);
tuple!(A B C D E F G H I J K);
tuple!(A B C D E F G H I J K L);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Dir, Wire};

    fn sj<T: JsType + ?Sized>() -> String {
        T::js_type().render(Wire::SUPERJSON, Dir::Out)
    }
    fn json<T: JsType + ?Sized>() -> String {
        T::js_type().render(Wire::JSON, Dir::Out)
    }

    #[test]
    fn std_types_are_written_per_codec() {
        assert_eq!(sj::<Vec<Option<u64>>>(), "Array<number | bigint | null>");
        assert_eq!(json::<Vec<Option<u64>>>(), "Array<number | string | null>");
        assert_eq!(sj::<(String, f64)>(), "[string, number]");
        assert_eq!(sj::<HashMap<String, Date>>(), "Record<string, Date>");
        assert_eq!(json::<HashMap<String, Date>>(), "Record<string, string>");
        assert_eq!(sj::<BTreeMap<u32, bool>>(), "Map<number, boolean>");
        assert_eq!(json::<BTreeMap<u32, bool>>(), "Record<string, boolean>");
        assert_eq!(
            json::<BTreeMap<(u8, u8), bool>>(),
            "Array<[[number, number], boolean]>"
        );
        assert_eq!(sj::<i128>(), "bigint");
        assert_eq!(json::<i128>(), "string");
        assert_eq!(sj::<Value>(), "unknown");
        assert_eq!(sj::<Undefined>(), "undefined");
        assert_eq!(json::<Undefined>(), "null");
        assert_eq!(sj::<[u8]>(), "number[]");
    }
}

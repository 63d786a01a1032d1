//! `From` conversions from ordinary Rust types into [`Value`], and `new URL(..)` as a `Value`.

use super::number::MAX_SAFE_INTEGER;
use super::{BigInt, Date, JsError, Object, Ref, RegExp, TypedArray, Value};

macro_rules! from_small_int {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value { Value::Number(n.into()) }
        }
    )*};
}
from_small_int!(i8 i16 i32 u8 u16 u32 f32);

macro_rules! from_wide_int {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            /// A number when it is within ±(2^53−1), a bigint otherwise (no precision lost).
            fn from(n: $t) -> Value {
                if (n as f64).abs() <= MAX_SAFE_INTEGER {
                    Value::Number(n as f64)
                } else {
                    Value::BigInt(BigInt::from(n))
                }
            }
        }
    )*};
}
from_wide_int!(i64 u64 isize usize);

impl From<i128> for Value {
    /// Always a bigint: `i128` says the value may exceed a JS number.
    fn from(n: i128) -> Value {
        Value::BigInt(n.into())
    }
}

impl From<u128> for Value {
    /// Always a bigint: `u128` says the value may exceed a JS number.
    fn from(n: u128) -> Value {
        Value::BigInt(n.into())
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<BigInt> for Value {
    fn from(b: BigInt) -> Value {
        Value::BigInt(b)
    }
}

impl From<Date> for Value {
    fn from(d: Date) -> Value {
        Value::Date(d)
    }
}

impl<Tz: chrono::TimeZone> From<chrono::DateTime<Tz>> for Value {
    fn from(d: chrono::DateTime<Tz>) -> Value {
        Value::Date(d.into())
    }
}

impl From<RegExp> for Value {
    fn from(r: RegExp) -> Value {
        Value::RegExp(Box::new(r))
    }
}

impl From<JsError> for Value {
    fn from(e: JsError) -> Value {
        Value::Error(Box::new(e))
    }
}

impl From<TypedArray> for Value {
    fn from(t: TypedArray) -> Value {
        Value::TypedArray(Box::new(t))
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(o)
    }
}

impl From<Ref> for Value {
    fn from(r: Ref) -> Value {
        Value::Ref(r)
    }
}

impl From<url::Url> for Value {
    fn from(u: url::Url) -> Value {
        Value::Url(u.into())
    }
}

impl Value {
    /// `new URL(s)` as a [`Value::Url`]: its normalized `href`, or JS's `Invalid URL: s` (a
    /// `Data` error) where `new URL` throws. How the superjson and MessagePack readers make
    /// a URL.
    pub(crate) fn url(s: &str) -> crate::Result<Value> {
        url::Url::parse(s)
            .map(|u| Value::Url(u.into()))
            .map_err(|_| crate::Error::data(format!("Invalid URL: {s}")))
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is `null`.
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<()> for Value {
    /// `()` is `undefined`, what a JS function without a return value gives.
    fn from(_: ()) -> Value {
        Value::Undefined
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    /// An array.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Value {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

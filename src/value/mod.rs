//! The JS-shaped value model: everything a JavaScript peer can send, with nothing lost.
//!
//! [`Value`] covers the JSON kinds plus what superjson, MessagePack and structured clone
//! carry: `undefined`, bigint, bytes and typed arrays, `Map` (any key type), `Set`, `Date`
//! (including invalid dates), `RegExp`, `Error`, `URL`, opaque superjson annotations, and
//! shared references (object identity).
//!
//! # Equality
//!
//! `Value`'s `PartialEq` follows JavaScript's `Object.is` for numbers: `NaN` equals `NaN`,
//! and `-0` does **not** equal `+0`. Codecs preserve both, so a round-trip test that compares
//! with `==` catches a lost `NaN` or a flipped sign. Shared references ([`Ref`]) are
//! transparent: two values are equal when they are equal as trees, whether or not their
//! nodes are shared, and cycles compare coinductively. Map and Set compare in order.

pub(crate) mod capture;
mod date;
pub(crate) mod de;
mod eq;
mod from;
pub mod js;
mod kinds;
pub(crate) mod magic;
pub(crate) mod number;
mod object;
pub(crate) mod same_value_zero;
pub(crate) mod ser;
mod shared;

pub use date::Date;
pub use de::{from_value, from_value_ref};
pub(crate) use kinds::Coercion;
pub use kinds::{Annotated, JsError, RegExp, TypedArray, TypedArrayKind};
pub use num_bigint::BigInt;
pub use number::MAX_BIGINT_TEXT;
pub use object::Object;
pub use ser::to_value;
pub use shared::{Ref, Resolved};

/// A JavaScript value.
///
/// Build one with `From` conversions (`Value::from(1.5)`, `Value::from("hi")`,
/// `Value::from(vec![...])`), with [`to_value`] from any `T: Serialize`, or by decoding.
/// Read one back into Rust types with [`from_value`].
#[derive(Clone, Default)]
pub enum Value {
    /// JS `undefined`.
    #[default]
    Undefined,
    /// JS `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A JS number (an IEEE-754 double). NaN, ±Infinity and -0 are kept.
    Number(f64),
    /// A JS bigint, of any size.
    BigInt(BigInt),
    /// A string.
    String(String),
    /// A `Uint8Array`.
    Bytes(Vec<u8>),
    /// Any other typed array (`Float64Array`, `Int16Array`, ...).
    TypedArray(Box<TypedArray>),
    /// An array.
    Array(Vec<Value>),
    /// A plain object: string keys in insertion order.
    Object(Object),
    /// A JS `Map`: ordered entries whose keys may be any value.
    Map(Vec<(Value, Value)>),
    /// A JS `Set`: ordered members.
    Set(Vec<Value>),
    /// A JS `Date`, possibly invalid.
    Date(Date),
    /// A JS `RegExp`.
    RegExp(Box<RegExp>),
    /// A JS `Error`.
    Error(Box<JsError>),
    /// A JS `URL`, held as its normalized `href`.
    Url(String),
    /// A value carrying a superjson annotation only a JS program can give meaning to
    /// (`class`, `symbol`, `custom`, an unknown typed array): kept and written back unchanged.
    Annotated(Box<Annotated>),
    /// A node shared between several places of the value, or a back-reference that closes a
    /// cycle (superjson `referentialEqualities`).
    Ref(Ref),
}

impl Value {
    /// The JS-facing name of this value's kind, as used in error messages
    /// (`"undefined"`, `"number"`, `"Map"`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::BigInt(_) => "bigint",
            Value::String(_) => "string",
            Value::Bytes(_) => "Uint8Array",
            Value::TypedArray(t) => t.kind.name(),
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
            Value::Map(_) => "Map",
            Value::Set(_) => "Set",
            Value::Date(_) => "Date",
            Value::RegExp(_) => "RegExp",
            Value::Error(_) => "Error",
            Value::Url(_) => "URL",
            Value::Annotated(_) => "annotated value",
            Value::Ref(_) => "reference",
        }
    }

    /// True for `undefined`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Look up `key` in an object, or an element by decimal index in an array.
    /// Returns `None` for other kinds and for absent keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(o) => o.get(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
    }

    /// True for the kinds JS treats as primitives for identity purposes (superjson never
    /// tracks them): undefined, null, booleans, numbers, bigints, strings.
    pub fn is_primitive(&self) -> bool {
        matches!(
            self,
            Value::Undefined
                | Value::Null
                | Value::Bool(_)
                | Value::Number(_)
                | Value::BigInt(_)
                | Value::String(_)
        )
    }

    /// Wrap this value in a shared [`Ref`] so that several places of a larger value can point
    /// to the same node (written as superjson `referentialEqualities`).
    pub fn into_shared(self) -> Ref {
        Ref::new(self)
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Undefined => f.write_str("Undefined"),
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Number(n) if *n == 0.0 && n.is_sign_negative() => f.write_str("Number(-0)"),
            Value::Number(n) => write!(f, "Number({})", number::format(*n)),
            Value::BigInt(b) => write!(f, "BigInt({b})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::Bytes(b) => write!(f, "Bytes({b:?})"),
            Value::TypedArray(t) => write!(f, "{:?}", t),
            Value::Array(a) => f.debug_tuple("Array").field(a).finish(),
            Value::Object(o) => write!(f, "Object({o:?})"),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Set(s) => f.debug_tuple("Set").field(s).finish(),
            Value::Date(d) => write!(f, "{d:?}"),
            Value::RegExp(r) => write!(f, "{r:?}"),
            Value::Error(e) => write!(f, "{e:?}"),
            Value::Url(u) => write!(f, "Url({u:?})"),
            Value::Annotated(a) => write!(f, "{a:?}"),
            Value::Ref(r) => write!(f, "{r:?}"),
        }
    }
}

#[cfg(test)]
mod size {
    #[test]
    fn value_stays_small() {
        // Arrays of values are the bulk of decoded data: keep the enum at 32 bytes.
        assert!(
            std::mem::size_of::<super::Value>() <= 32,
            "{}",
            std::mem::size_of::<super::Value>()
        );
    }
}

//! The private serde protocol that carries JS kinds serde has no words for.
//!
//! **Serializing**: a JS kind is a newtype struct with one of these names. Serializers that
//! know the names (polycodec's superjson, MessagePack and `Value` serializers) give it its
//! native form; any other serializer sees the payload, which is the kind's plain-JSON form
//! (a Date is its ISO string in human-readable formats and its milliseconds otherwise, a Map
//! is an array of `[key, value]` pairs, a Set an array, a bigint a decimal string, undefined
//! a unit).
//!
//! **Deserializing**: polycodec's deserializers present a JS kind as a map with exactly one
//! entry whose key is one of these names and whose value is the payload:
//!
//! | name | payload |
//! |---|---|
//! | `DATE` | f64 milliseconds (NaN when invalid) |
//! | `BIGINT` | decimal string |
//! | `UNDEFINED` | unit |
//! | `MAP` | sequence of `[key, value]` sequences |
//! | `SET` | sequence |
//! | `REGEXP` | `[source, flags]` |
//! | `ERROR` | map `{name, message, stack?, cause?, ...props}` |
//! | `URL` | string |
//! | `ANNOTATED` | `[kind, id, value]` |
//! | `TYPED_ARRAY` | `[constructor name, sequence of f64]` |
//!
//! The visitors of [`Value`](super::Value) and of the wrappers in [`crate::js`] accept both
//! these maps and the plain forms, so they also read from serde_json and other formats.
//!
//! **Data that looks like a magic map stays data**: the `Value` visitor takes the first
//! key for a magic name only when it comes as a borrowed string (`visit_borrowed_str`, as
//! these maps give it, and as serde's buffering for `flatten` and untagged or internally
//! tagged enums gives it back); polycodec's readers give an object's own key that equals a
//! magic name as a transient `&str` (`visit_str`), so `{"$polycodec::Date": 5}` read from
//! JSON, superjson or MessagePack stays an object, buffered or not. Other formats'
//! deserializers give keys as they like (serde_json borrows them from a `&str` input), so
//! there such an object may still read as the kind.

pub const DATE: &str = "$polycodec::Date";
pub const BIGINT: &str = "$polycodec::BigInt";
pub const UNDEFINED: &str = "$polycodec::Undefined";
pub const MAP: &str = "$polycodec::Map";
pub const SET: &str = "$polycodec::Set";
pub const REGEXP: &str = "$polycodec::RegExp";
pub const ERROR: &str = "$polycodec::Error";
pub const URL: &str = "$polycodec::URL";
pub const ANNOTATED: &str = "$polycodec::Annotated";
pub const TYPED_ARRAY: &str = "$polycodec::TypedArray";
/// Serializing only: the payload is the primitive behind a shared [`Ref`](crate::Ref) (JS
/// gives primitives no identity), so that polycodec's serializers can bound how far shared
/// nodes expand.
pub const REF: &str = "$polycodec::Ref";
/// Serializing only: like [`REF`], for a shared node that is an object in JS. The payload is
/// the node's value, in place: its address is the node's identity while it is written, which
/// superjson's typed writer records for `referentialEqualities`.
pub const SHARED: &str = "$polycodec::Shared";
/// Serializing only: the payload is an `Option` whose `None` means `undefined` (see
/// [`crate::js::undefined`]); other serializers see the `Option` itself.
pub const OPTIONAL: &str = "$polycodec::Optional";
/// An opaque MessagePack extension, payload `(type, bytes)`.
pub const EXT: &str = "$polycodec::Ext";

/// Which JS kind a magic name stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    Date,
    BigInt,
    Undefined,
    Map,
    Set,
    RegExp,
    Error,
    Url,
    Annotated,
    TypedArray,
    Ref,
    Shared,
    Optional,
    Ext,
}

impl Magic {
    /// The kind a name stands for, if it is one of ours. Cheap for ordinary names: they
    /// rarely start with `$`.
    #[inline]
    pub fn from_name(name: &str) -> Option<Magic> {
        if !name.starts_with("$polycodec::") {
            return None;
        }
        Some(match name {
            DATE => Magic::Date,
            BIGINT => Magic::BigInt,
            UNDEFINED => Magic::Undefined,
            MAP => Magic::Map,
            SET => Magic::Set,
            REGEXP => Magic::RegExp,
            ERROR => Magic::Error,
            URL => Magic::Url,
            ANNOTATED => Magic::Annotated,
            TYPED_ARRAY => Magic::TypedArray,
            REF => Magic::Ref,
            SHARED => Magic::Shared,
            OPTIONAL => Magic::Optional,
            EXT => Magic::Ext,
            _ => return None,
        })
    }

    /// The name of this kind.
    pub fn name(self) -> &'static str {
        match self {
            Magic::Date => DATE,
            Magic::BigInt => BIGINT,
            Magic::Undefined => UNDEFINED,
            Magic::Map => MAP,
            Magic::Set => SET,
            Magic::RegExp => REGEXP,
            Magic::Error => ERROR,
            Magic::Url => URL,
            Magic::Annotated => ANNOTATED,
            Magic::TypedArray => TYPED_ARRAY,
            Magic::Ref => REF,
            Magic::Shared => SHARED,
            Magic::Optional => OPTIONAL,
            Magic::Ext => EXT,
        }
    }
}

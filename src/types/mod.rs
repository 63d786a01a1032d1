//! TypeScript types of the Rust API, written as each codec delivers them.
//!
//! A Rust type describes itself once, as a [`Ty`] (polycodec's own type tree: "a JS Date",
//! "a 64-bit integer", "a Map of these to those"), through [`JsType`]: std types, tuples,
//! `Option`, collections and [`Value`](crate::Value) (`unknown`) have it here, a user's
//! structs and enums get it with `#[derive(JsType)]` (feature `types`, on with `rpc`), which
//! reads their serde attributes (`rename`, `rename_all`, `skip`, `skip_serializing_if`,
//! `default`, `flatten`, `tag`/`content`/`untagged`, `transparent`, and
//! `with = "polycodec::js::..."`).
//!
//! The tree is then written as TypeScript per codec ([`Wire`]): a Date is `Date` through
//! superjson and MessagePack and `string` through plain JSON, a bigint is `bigint` or
//! `string`, and so on (the tables are in [`wire`]). Two client shapes are written from it:
//! a kkrpc interface ([`ApiTypes`], from an [`Api`](crate::rpc::Api) with
//! `Api::types`) and a tRPC `AppRouter` ([`RouterTypes`]); [`TsModule`] puts them in one
//! module.
//!
//! ```
//! use polycodec::types::{JsType, Ty, Wire, Dir};
//! # #[cfg(feature = "types")] {
//! #[derive(serde::Serialize, JsType)]
//! #[serde(rename_all = "camelCase")]
//! struct Post {
//!     #[serde(with = "polycodec::js::date")]
//!     created_at: chrono::DateTime<chrono::Utc>,
//!     #[serde(skip_serializing_if = "Option::is_none")]
//!     title: Option<String>,
//!     views: u64,
//! }
//! let ty = Post::js_type();
//! assert_eq!(
//!     ty.render(Wire::SUPERJSON, Dir::Out),
//!     "{ createdAt: Date; title?: string | null; views: number | bigint }"
//! );
//! assert_eq!(
//!     ty.render(Wire::JSON, Dir::Out),
//!     "{ createdAt: string; title?: string | null; views: number | string }"
//! );
//! # }
//! ```

#[cfg(all(test, feature = "types"))]
mod derive_tests;
mod impls;
mod kkrpc;
mod module;
mod render;
mod trpc;
pub mod wire;

pub use kkrpc::{ApiTypes, MethodSig, Param, Side};
pub use module::TsModule;
pub use render::Dir;
pub use trpc::{ProcedureKind, ProcedureTypes, RouterTypes, Transformer};
pub use wire::Wire;

/// The derive: `#[derive(JsType)]` on a struct or enum (feature `types`).
#[cfg(feature = "types")]
pub use polycodec_derive::JsType;

/// A Rust type that knows the JS type it travels as.
///
/// Implemented here for std types, tuples, `Option`, collections, [`Value`](crate::Value)
/// (`unknown`) and polycodec's JS kinds; derive it for your own structs and enums.
pub trait JsType {
    /// The type, as polycodec's type tree.
    fn js_type() -> Ty;
}

/// polycodec's type tree: what a value is in JS terms, before any codec has its say.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Ty {
    /// Anything (`Value`, or what a type does not say): `unknown`.
    Unknown,
    /// JS `undefined` ([`js::Undefined`](crate::js::Undefined)).
    Undefined,
    /// `null` (`()`, a unit struct).
    Null,
    /// A boolean.
    Bool,
    /// A number (floats, integers of up to 32 bits).
    Number,
    /// A 64-bit integer (`u64`, `i64`, `usize`, `isize`): a number within ±(2^53−1), past
    /// that whatever the codec sends wide integers as.
    Int64,
    /// A 128-bit integer: always a bigint where the codec has them.
    Int128,
    /// A bigint ([`js::bigint`](crate::js::bigint), `num_bigint::BigInt`).
    BigInt,
    /// A string.
    String,
    /// One string value (an enum's unit variant, a tag).
    Literal(String),
    /// A JS `Date`.
    Date,
    /// A `Uint8Array` (`serde_bytes`, `Value::Bytes`).
    Bytes,
    /// A typed array other than `Uint8Array`, by constructor name (`"Float32Array"`).
    TypedArray(&'static str),
    /// A `RegExp`.
    RegExp,
    /// A `URL`.
    Url,
    /// An `Error`.
    Error,
    /// An array of one element type.
    Array(Box<Ty>),
    /// A fixed-length array (a Rust tuple).
    Tuple(Vec<Ty>),
    /// A Rust map (`HashMap`, `BTreeMap`): an object when its keys are strings, else what
    /// the codec makes of other keys.
    Dict(Box<Ty>, Box<Ty>),
    /// A JS `Map` ([`js::map`](crate::js::map)).
    Map(Box<Ty>, Box<Ty>),
    /// A JS `Set` ([`js::set`](crate::js::set)).
    Set(Box<Ty>),
    /// `Option<T>`: the type or `null`.
    Nullable(Box<Ty>),
    /// An `Option<T>` with [`js::undefined`](crate::js::undefined): the type or `undefined`.
    Undefinable(Box<Ty>),
    /// An object with these fields.
    Object(Vec<Field>),
    /// One of these.
    Union(Vec<Ty>),
    /// All of these (a flattened field, an internally tagged newtype variant).
    Intersection(Vec<Ty>),
    /// A function (a callback argument): parameters and what it returns.
    Function(Vec<Param>, Box<Ty>),
    /// A named Rust type (derived), expanded where it is used.
    Named(Named),
    /// TypeScript text, written as is whatever the codec.
    Raw(String),
}

/// One field of an object type.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name on the wire (after `rename`/`rename_all`).
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// The field may be missing from what the Rust side writes (`skip_serializing_if`).
    pub absent_out: bool,
    /// The field may be missing from what the Rust side reads (`default`, or an `Option`).
    pub absent_in: bool,
}

impl Field {
    /// A field that is always there.
    pub fn new(name: impl Into<String>, ty: Ty) -> Field {
        Field {
            name: name.into(),
            ty,
            absent_out: false,
            absent_in: false,
        }
    }
}

/// A named type: its name and how to build its definition (built when it is written, so
/// that a type may refer to itself).
#[derive(Clone, Copy)]
pub struct Named {
    /// The Rust name.
    pub name: &'static str,
    /// Builds the definition.
    pub def: fn() -> Ty,
}

impl Named {
    /// Identifies the definition (one per Rust type).
    pub(crate) fn key(&self) -> usize {
        self.def as usize
    }
}

impl std::fmt::Debug for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Named({})", self.name)
    }
}

impl PartialEq for Named {
    fn eq(&self, other: &Named) -> bool {
        self.name == other.name && self.key() == other.key()
    }
}

impl Ty {
    /// `T`'s type.
    pub fn of<T: JsType + ?Sized>() -> Ty {
        T::js_type()
    }

    /// A named type built by `def` (what the derive writes).
    pub fn named(name: &'static str, def: fn() -> Ty) -> Ty {
        Ty::Named(Named { name, def })
    }

    /// A callback taking `params` (named `arg0`, `arg1`, ...) and returning nothing the
    /// caller reads.
    pub fn callback(params: impl IntoIterator<Item = Ty>) -> Ty {
        let params = params
            .into_iter()
            .enumerate()
            .map(|(i, ty)| Param::new(format!("arg{i}"), ty))
            .collect();
        Ty::Function(params, Box::new(Ty::Raw("void".into())))
    }

    /// What [`js::undefined`](crate::js::undefined) makes of a field's type: `Option<T>`
    /// becomes `T | undefined`.
    pub fn js_undefined(ty: Ty) -> Ty {
        match ty.resolve_shallow() {
            Ty::Nullable(t) => Ty::Undefinable(t),
            other => Ty::Undefinable(Box::new(other)),
        }
    }

    /// What [`js::map`](crate::js::map) makes of a field's type: a Rust map becomes a JS
    /// `Map`.
    pub fn js_map(ty: Ty) -> Ty {
        match ty.resolve_shallow() {
            Ty::Dict(k, v) | Ty::Map(k, v) => Ty::Map(k, v),
            Ty::Array(item) => match *item {
                Ty::Tuple(mut kv) if kv.len() == 2 => {
                    let v = kv.pop().unwrap_or(Ty::Unknown);
                    let k = kv.pop().unwrap_or(Ty::Unknown);
                    Ty::Map(Box::new(k), Box::new(v))
                }
                _ => Ty::Map(Box::new(Ty::Unknown), Box::new(Ty::Unknown)),
            },
            _ => Ty::Map(Box::new(Ty::Unknown), Box::new(Ty::Unknown)),
        }
    }

    /// What [`js::set`](crate::js::set) makes of a field's type: a collection becomes a JS
    /// `Set`.
    pub fn js_set(ty: Ty) -> Ty {
        match ty.resolve_shallow() {
            Ty::Array(t) | Ty::Set(t) => Ty::Set(t),
            _ => Ty::Set(Box::new(Ty::Unknown)),
        }
    }

    /// The definition behind a named type (other types as they are).
    fn resolve_shallow(self) -> Ty {
        match self {
            Ty::Named(n) => (n.def)(),
            other => other,
        }
    }

    /// The type as TypeScript text, as `wire` delivers it, in direction `dir`.
    pub fn render(&self, wire: &Wire, dir: Dir) -> String {
        render::Renderer::new(wire, dir).ty(self)
    }
}

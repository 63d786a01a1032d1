//! # polycodec
//!
//! Serialization codecs for Rust backends that serve JavaScript apps.
//!
//! * One JS-shaped value model, [`Value`]: undefined, bigint, `Date`, `Map`, `Set`, `RegExp`,
//!   `Error`, `URL`, typed arrays, shared references, with nothing lost.
//! * Codecs behind one object-safe trait, [`codec::Codec`]: plain [`codec::Json`],
//!   [`codec::SuperJson`] (byte-for-byte compatible with superjson 2.x),
//!   [`codec::MsgPack`], and `codec::Bincode` (feature `bincode`). Any `T: Serialize`
//!   goes straight through any of them; [`js`] marks fields that are JS Dates, Maps, Sets,
//!   bigints or `undefined`.
//! * One [`Limits`] config for everything decoded from strangers.
//!
//! ```
//! use polycodec::codec::{Registry, SuperJson};
//! use polycodec::Value;
//!
//! let registry = Registry::with_builtins();
//! let codec = registry.get("superjson").unwrap();
//! let bytes = codec.encode(&vec![1u32, 2, 3]).unwrap();
//! assert_eq!(bytes, br#"{"json":[1,2,3]}"#);
//! let back: Vec<u32> = codec.decode(&bytes).unwrap();
//! assert_eq!(back, [1, 2, 3]);
//! ```
#![deny(missing_docs)]
// Two `unsafe` blocks, each allowed where it stands and justified there by a measurement:
// an all-ASCII string skips `from_utf8`'s validation in the JSON reader (`codec::text::read`)
// and in the MessagePack reader (`codec::utf8`).
#![deny(unsafe_code)]

pub mod codec;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod path;
pub mod rpc;
mod stack;
pub mod value;

pub use error::{Category, Error, Result};
pub use limits::Limits;
pub use value::{from_value, js, to_value, Date, JsError, Object, Ref, RegExp, Value};

/// Helpers for the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A xorshift64 generator from `seed` (not 0): reproducible random inputs.
    pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

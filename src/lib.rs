//! # polycodec
//!
//! Serialization codecs for Rust backends that serve JavaScript apps.
//!
//! * One JS-shaped value model, [`Value`]: undefined, bigint, `Date`, `Map`, `Set`, `RegExp`,
//!   `Error`, `URL`, typed arrays, shared references, with nothing lost.
//! * Codecs behind one object-safe trait, [`codec::Codec`]: plain [`codec::Json`],
//!   [`codec::SuperJson`] (byte-for-byte compatible with superjson 2.x),
//!   [`codec::MsgPack`] (codec `msgpack`, and codec `msgpackr`: what msgpackr clients read
//!   with no glue), and `codec::Bincode` (feature `bincode`). Any `T: Serialize`
//!   goes straight through any of them; [`js`] marks fields that are JS Dates, Maps, Sets,
//!   bigints or `undefined`.
//! * One [`Limits`] config for everything decoded from strangers.
//! * [`rpc`] (features `server` and `client`, on by default): kkrpc-compatible RPC over
//!   WebSocket, an axum handler and a tokio-tungstenite client, with rooms, broadcast and
//!   presence.
//!
//! ## Feature flags
//!
//! | feature | default | what it brings | dependencies it adds |
//! |---|---|---|---|
//! | *(none)* | | [`Value`], [`Limits`], [`Error`], every codec in [`codec`], [`js`] | serde, serde_json, rmp, chrono, url, … (no async runtime) |
//! | `rpc` | via `server`/`client` | the RPC core: `rpc::Api`, the kkrpc protocols, the connection engine, `rpc::Hub` | tokio (`rt`, `sync`, `time`, `macros`), futures-util, tracing |
//! | `server` | yes | `rpc::RpcServer`: the axum WebSocket handler, codec negotiation, auth before upgrade, the demo API | axum (`ws`, `http1`), tungstenite |
//! | `client` | yes | `rpc::Client`: the tokio-tungstenite client | tokio-tungstenite |
//! | `types` | via `rpc` | `#[derive(JsType)]` for [`types`] (TypeScript types of a Rust API) | polycodec-derive (syn, quote) |
//! | `bincode` | no | `codec::Bincode` (bincode 2.0.1; unmaintained upstream) | bincode |
//!
//! A codec-only user writes `polycodec = { version = "0.2", default-features = false }`.
//! The `polycodec` command (`transcode`, `serve`) is the `polycodec-cli` package, so its
//! own dependencies (a log subscriber, signal handling) never reach a library user.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

// `#[derive(JsType)]` writes `::polycodec::...` paths; inside this crate too.
extern crate self as polycodec;

pub mod codec;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod path;
#[cfg(feature = "rpc")]
pub mod rpc;
mod stack;
pub mod types;
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
#[cfg(all(doctest, feature = "server", feature = "client"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

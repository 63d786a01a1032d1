//! Codecs behind one object-safe trait, and the registry that names them.
//!
//! Every codec turns a [`Value`] into bytes and back, and (through
//! [`encode`](trait.Codec.html#method.encode) / [`decode`](trait.Codec.html#method.decode) on
//! `dyn Codec`) carries any `T: Serialize` / `T: DeserializeOwned` without building a
//! `Value` first. A user codec implements the five required methods and registers itself:
//! see `examples/cbor_codec.rs`.

#[cfg(feature = "bincode")]
pub mod bincode;
mod json;
pub(crate) mod json_str;
pub mod msgpack;
pub(crate) mod reuse;
pub mod superjson;
pub(crate) mod text;
pub(crate) mod utf8;

#[cfg(feature = "bincode")]
pub use self::bincode::Bincode;
pub use self::json::Json;
pub use self::msgpack::MsgPack;
pub use self::superjson::SuperJson;

use crate::value::Value;
use crate::{Error, Limits, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Which kind of WebSocket frame a codec's messages travel in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// UTF-8 text frames (JSON, superjson).
    Text,
    /// Binary frames (MessagePack, bincode).
    Binary,
}

/// A serialization format, chosen at run time.
///
/// Implement the five required methods for a new format; the typed and erased paths have
/// default implementations that go through [`Value`]. Built-in codecs override them to go
/// straight from `T` to bytes.
pub trait Codec: std::any::Any + Send + Sync {
    /// The codec's name, used in registries, CLI flags and `?codec=` (`"superjson"`).
    fn name(&self) -> &str;

    /// The WebSocket subprotocol token that selects this codec (`"polycodec.superjson"`).
    fn subprotocol(&self) -> &str;

    /// The frame kind its messages travel in.
    fn frame_kind(&self) -> FrameKind;

    /// Encode a [`Value`].
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>>;

    /// Decode a [`Value`].
    fn decode_value(&self, bytes: &[u8]) -> Result<Value>;

    /// The limits this codec applies. Default: [`Limits::default()`].
    fn limits(&self) -> Limits {
        Limits::default()
    }

    /// This codec applying `limits` in place of its own: how an endpoint
    /// (the RPC layer's `RpcServerBuilder::limits` and `ClientBuilder::limits`) gives every codec it
    /// negotiates one set of limits. Default: `None`, the codec keeps its own (a codec that
    /// reads [`Limits`] returns a copy of itself with them; the built-in codecs do).
    fn limited(&self, limits: Limits) -> Option<Arc<dyn Codec>> {
        let _ = limits;
        None
    }

    /// Encode any serializable value. Default: through a [`Value`].
    fn encode_erased(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        self.encode_value(&crate::to_value(value)?)
    }

    /// Decode into whatever `visit` deserializes. Default: through a [`Value`].
    fn decode_erased(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
    ) -> Result<()> {
        let v = self.decode_value(bytes)?;
        visit_value(&v, self.limits(), visit)
    }
}

/// Return `$call` on the built-in codec `$codec` is, if it is one: `$c` names it. The typed
/// paths of `dyn Codec` go there (no `erased_serde` in between, which keeps only an error's
/// message: a `Limit` error came out as `Data`, without its offset).
macro_rules! on_builtin {
    ($codec:expr, |$c:ident| $call:expr) => {{
        let any: &dyn std::any::Any = $codec;
        if let Some($c) = any.downcast_ref::<Json>() {
            return $call;
        }
        if let Some($c) = any.downcast_ref::<SuperJson>() {
            return $call;
        }
        if let Some($c) = any.downcast_ref::<MsgPack>() {
            return $call;
        }
        #[cfg(feature = "bincode")]
        if let Some($c) = any.downcast_ref::<Bincode>() {
            return $call;
        }
    }};
}

impl dyn Codec {
    /// Encode any `T: Serialize` with this codec (a built-in codec takes its typed path).
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        on_builtin!(self, |c| c.to_vec(value));
        self.encode_erased(&value)
    }

    /// Decode any `T: DeserializeOwned` with this codec (a built-in codec takes its typed
    /// path, which keeps an error's category, byte offset and path).
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        on_builtin!(self, |c| c.from_slice(bytes));
        let mut out = None;
        self.decode_erased(bytes, &mut |d| {
            out = Some(erased_serde::deserialize::<T>(d).map_err(Error::from_erased)?);
            Ok(())
        })?;
        out.ok_or_else(|| Error::data("the codec produced no value"))
    }
}

impl fmt::Debug for dyn Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Codec({})", self.name())
    }
}

/// Let `visit` deserialize from a [`Value`], expanding shared nodes within `limits`.
pub(crate) fn visit_value(
    v: &Value,
    limits: Limits,
    visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
) -> Result<()> {
    let budget = std::cell::Cell::new(limits.ref_expansion());
    let d = crate::value::de::ValueDeserializer::new(v, &budget);
    visit(&mut <dyn erased_serde::Deserializer>::erase(d))
}

/// The codecs a program knows, by name and by subprotocol token.
///
/// ```
/// use polycodec::codec::Registry;
/// let reg = Registry::with_builtins();
/// assert!(reg.get("superjson").is_some());
/// assert_eq!(reg.by_subprotocol("polycodec.msgpack").unwrap().name(), "msgpack");
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    codecs: Vec<Arc<dyn Codec>>,
    by_name: HashMap<String, usize>,
    by_token: HashMap<String, usize>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// `json`, `superjson`, `msgpack`, and `bincode` when that feature is on, in that order.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::new();
        let builtins: Vec<Arc<dyn Codec>> = vec![
            Arc::new(Json::new()),
            Arc::new(SuperJson::new()),
            Arc::new(MsgPack::new()),
            #[cfg(feature = "bincode")]
            Arc::new(Bincode::new()),
        ];
        for c in builtins {
            // Built-in names are distinct.
            let _ = r.register_arc(c);
        }
        r
    }

    /// Add a codec. Fails if its name or subprotocol token is taken.
    pub fn register(&mut self, codec: impl Codec) -> Result<()> {
        self.register_arc(Arc::new(codec))
    }

    /// Add a shared codec. Fails if its name or subprotocol token is taken.
    pub fn register_arc(&mut self, codec: Arc<dyn Codec>) -> Result<()> {
        let (name, token) = (codec.name().to_owned(), codec.subprotocol().to_owned());
        if self.by_name.contains_key(&name) {
            return Err(Error::data(format!(
                "a codec named {name:?} is already registered"
            )));
        }
        if self.by_token.contains_key(&token) {
            return Err(Error::data(format!(
                "a codec with subprotocol {token:?} is already registered"
            )));
        }
        let i = self.codecs.len();
        self.codecs.push(codec);
        self.by_name.insert(name, i);
        self.by_token.insert(token, i);
        Ok(())
    }

    /// The codec with this name.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Codec>> {
        self.by_name.get(name).map(|&i| self.codecs[i].clone())
    }

    /// The codec that answers to this subprotocol token.
    pub fn by_subprotocol(&self, token: &str) -> Option<Arc<dyn Codec>> {
        self.by_token.get(token).map(|&i| self.codecs[i].clone())
    }

    /// All codecs, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Codec>> {
        self.codecs.iter()
    }

    /// The names, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.codecs.iter().map(|c| c.name()).collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

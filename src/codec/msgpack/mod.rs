//! The MessagePack codec: binary frames, the fast path between peers that can use it.
//! The wire mapping is in `codecs/msgpack/README.md`; `js/msgpack-extensions.mjs` gives
//! `@msgpack/msgpack` the same extension types.

mod read;
mod typed;
mod write;

use crate::codec::{Codec, FrameKind};
use crate::value::Value;
use crate::{Error, Limits, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Extension type numbers (see `codecs/msgpack/README.md`).
pub mod ext {
    /// Date: the standard timestamp extension.
    pub const TIMESTAMP: i8 = -1;
    /// `undefined`, empty payload.
    pub const UNDEFINED: i8 = 0;
    /// bigint, decimal ASCII.
    pub const BIGINT: i8 = 1;
    /// Set, payload one array.
    pub const SET: i8 = 2;
    /// Map, payload one map with keys of any type.
    pub const MAP: i8 = 3;
    /// RegExp, payload `[source, flags]`.
    pub const REGEXP: i8 = 4;
    /// Error, payload `{name, message, cause?, ...props}`.
    pub const ERROR: i8 = 5;
    /// URL, payload the href.
    pub const URL: i8 = 6;
    /// superjson annotation, payload `[annotation JSON text, value]`.
    pub const ANNOTATED: i8 = 7;
    /// Typed array, payload `[constructor name, little-endian bytes]`.
    pub const TYPED_ARRAY: i8 = 8;
    /// Invalid Date, empty payload.
    pub const INVALID_DATE: i8 = 9;
}

/// MessagePack.
///
/// ```
/// use polycodec::codec::MsgPack;
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct P { x: i32, name: String }
/// let mp = MsgPack::new();
/// let bytes = mp.to_vec(&P { x: 1, name: "a".into() }).unwrap();
/// assert_eq!(bytes, b"\x82\xa1x\x01\xa4name\xa1a"); // a map with field names
/// assert_eq!(mp.from_slice::<P>(&bytes).unwrap(), P { x: 1, name: "a".into() });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgPack {
    limits: Limits,
}

impl MsgPack {
    /// Subprotocol token: `polycodec.msgpack`.
    pub const SUBPROTOCOL: &'static str = "polycodec.msgpack";

    /// A codec with default [`Limits`].
    pub fn new() -> MsgPack {
        MsgPack::default()
    }

    /// The limits applied when decoding and encoding. Default: [`Limits::default()`].
    pub fn with_limits(mut self, limits: Limits) -> MsgPack {
        self.limits = limits;
        self
    }

    /// Encode any `T: Serialize`: structs as maps with field names.
    pub fn to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        let mut w = write::Writer::new(&self.limits, 128);
        value.serialize(&mut w)?;
        Ok(w.out)
    }

    /// Decode any `T: DeserializeOwned` (maps or positional arrays for structs).
    pub fn from_slice<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        self.limits.check_message(bytes.len())?;
        let mut d = read::Deserializer::new(bytes, &self.limits);
        let v = T::deserialize(&mut d)?;
        if d.pos != bytes.len() {
            return Err(Error::syntax("trailing bytes after the document", d.pos));
        }
        Ok(v)
    }
}

impl Codec for MsgPack {
    fn name(&self) -> &str {
        "msgpack"
    }
    fn subprotocol(&self) -> &str {
        Self::SUBPROTOCOL
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Binary
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let mut w = write::Writer::new(&self.limits, 128);
        w.value(value)?;
        Ok(w.out)
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        self.limits.check_message(bytes.len())?;
        read::value(bytes, &self.limits)
    }
    fn encode_erased(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        self.to_vec(value)
    }
    fn decode_erased(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
    ) -> Result<()> {
        self.limits.check_message(bytes.len())?;
        let mut d = read::Deserializer::new(bytes, &self.limits);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut d))?;
        if d.pos != bytes.len() {
            return Err(Error::syntax("trailing bytes after the document", d.pos));
        }
        Ok(())
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn limited(&self, limits: Limits) -> Option<std::sync::Arc<dyn Codec>> {
        Some(std::sync::Arc::new(self.with_limits(limits)))
    }
}

#[allow(unused_imports)]
use Deserialize as _;

//! The plain JSON codec: the JS-text engine of `codec::text` in [`Mode::Plain`], reading
//! with an empty annotation trie.

use super::text::de::{Deserializer, Plain};
use super::text::encoder::{Encoder, Mode};
use super::text::read::Reader;
use super::text::tree::MetaTree;
use super::{Codec, FrameKind};
use crate::value::Value;
use crate::{Error, Limits, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::LazyLock;

static NO_META: LazyLock<MetaTree> = LazyLock::new(MetaTree::default);

/// Plain JSON, as `JSON.stringify` writes it.
///
/// What JSON cannot hold is mapped, and documented in `codecs/README.md`: a Date is its ISO
/// string, a Map is an array of `[key, value]` pairs, a Set an array, a bigint (and an
/// integer beyond ±(2^53−1)) a decimal string, `undefined` is left out of objects and is
/// `null` elsewhere, NaN and ±Infinity are `null`, a cycle is an error.
///
/// ```
/// use polycodec::codec::Json;
/// #[derive(serde::Serialize)]
/// struct Big { id: u64 }
/// assert_eq!(Json::new().to_string(&Big { id: u64::MAX }).unwrap(), r#"{"id":"18446744073709551615"}"#);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json {
    limits: Limits,
}

impl Json {
    /// Subprotocol token: `polycodec.json`.
    pub const SUBPROTOCOL: &'static str = "polycodec.json";

    /// A codec with default [`Limits`].
    pub fn new() -> Json {
        Json::default()
    }

    /// The limits applied when decoding and encoding. Default: [`Limits::default()`].
    pub fn with_limits(mut self, limits: Limits) -> Json {
        self.limits = limits;
        self
    }

    /// Encode any `T: Serialize`.
    pub fn to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        let mut enc = Encoder::new(Mode::Plain, false, &self.limits, 128);
        value.serialize(&mut enc)?;
        Ok(enc.finish())
    }

    /// Encode any `T: Serialize` to a `String`.
    pub fn to_string<T: Serialize + ?Sized>(&self, value: &T) -> Result<String> {
        let bytes = self.to_vec(value)?;
        String::from_utf8(bytes).map_err(|_| Error::data("encoder wrote invalid UTF-8"))
    }

    /// Decode any `T: DeserializeOwned`.
    pub fn from_slice<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        self.limits.check_message(bytes.len())?;
        let mut de = Deserializer::<Plain>::new(Reader::new(bytes), &NO_META, &self.limits);
        let v = T::deserialize(&mut de)?;
        de.r.end()?;
        Ok(v)
    }

    /// Decode any `T: DeserializeOwned` from a `&str`.
    pub fn from_str<T: DeserializeOwned>(&self, s: &str) -> Result<T> {
        self.from_slice(s.as_bytes())
    }
}

impl Codec for Json {
    fn name(&self) -> &str {
        "json"
    }
    fn subprotocol(&self) -> &str {
        Self::SUBPROTOCOL
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Text
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let mut enc = Encoder::new(Mode::Plain, false, &self.limits, 128);
        enc.value(value)?;
        Ok(enc.finish())
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        self.limits.check_message(bytes.len())?;
        let mut de = Deserializer::<Plain>::new(Reader::new(bytes), &NO_META, &self.limits);
        let v = de.value()?;
        de.r.end()?;
        Ok(v)
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
        let mut de = Deserializer::<Plain>::new(Reader::new(bytes), &NO_META, &self.limits);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
        de.r.end()
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn limited(&self, limits: Limits) -> Option<std::sync::Arc<dyn Codec>> {
        Some(std::sync::Arc::new(self.with_limits(limits)))
    }
}

//! The transformer a route's values travel through: superjson (what `@trpc/server` with
//! `transformer: superjson` writes, byte for byte) or none (plain JSON, what tRPC without a
//! transformer writes).

use crate::codec::{Codec, Json, SuperJson};
use crate::{Limits, Value};

/// How a tRPC route writes inputs and outputs. Choose it on
/// [`RouterBuilder::transformer`](super::RouterBuilder::transformer); the client's links
/// must use the same (`transformer: superjson`, or none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transformer {
    /// superjson 2.x: `{"json": ..., "meta": ...}`, with `Date`, `Map`, `Set`, `BigInt`,
    /// `undefined`, `RegExp`, `URL`, `Error`, NaN and -0 kept. The default.
    #[default]
    SuperJson,
    /// Plain JSON, as `JSON.stringify` writes it (`undefined` left out, a `Date` as its ISO
    /// string, a `Map` as pairs).
    None,
}

impl Transformer {
    /// The transformer's name (`"superjson"` or `"json"`), as peers report their codec.
    pub fn name(self) -> &'static str {
        match self {
            Transformer::SuperJson => "superjson",
            Transformer::None => "json",
        }
    }

    /// `value` as the transformer writes it (`superjson.serialize` then `JSON.stringify`).
    pub(crate) fn encode(self, value: &Value, limits: Limits) -> Result<Vec<u8>, crate::Error> {
        match self {
            Transformer::SuperJson => SuperJson::new().with_limits(limits).encode_value(value),
            Transformer::None => json_text(value, limits),
        }
    }

    /// What the transformer reads `raw` (one JSON document) as, as `@trpc/server` does:
    /// superjson's `deserialize` reads a document that is no `{json}` object as undefined,
    /// and throws on `null` (`Err` with the message node gives).
    pub(crate) fn decode(self, raw: &[u8], limits: Limits) -> Result<Value, crate::Error> {
        match self {
            Transformer::None => Json::new().with_limits(limits).decode_value(raw),
            Transformer::SuperJson => {
                let first = raw.iter().find(|b| !b.is_ascii_whitespace());
                match first {
                    Some(b'{') => SuperJson::new().with_limits(limits).decode_value(raw),
                    Some(b'n') => {
                        Json::new().with_limits(limits).decode_value(raw)?;
                        Err(crate::Error::data(
                            "Cannot destructure property 'json' of 'payload' as it is null.",
                        ))
                    }
                    _ => {
                        Json::new().with_limits(limits).decode_value(raw)?;
                        Ok(Value::Undefined)
                    }
                }
            }
        }
    }
}

/// `value` as plain JSON text; undefined (which `JSON.stringify` leaves out) as `null`.
pub(crate) fn json_text(value: &Value, limits: Limits) -> Result<Vec<u8>, crate::Error> {
    Json::new().with_limits(limits).encode_value(value)
}

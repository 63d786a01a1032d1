//! JSON text as JavaScript writes and reads it: the engine under the `json` and `superjson`
//! codecs (plain JSON is this engine with no annotations).
//!
//! * `read`: the byte-level reader (strict syntax, offsets, JS number rules).
//! * `de`: the serde `Deserializer` over it, applying an annotation trie as it reads.
//! * `tree`: that trie, and the annotations (`Ann`) it holds.
//! * `encoder`: the `Encoder` and its `Mode`, which write the text (and, for superjson, its
//!   `meta`) from a `Value`; `ser`: the serde `Serializer` onto the same `Encoder`.
//!
//! String literals (their escaping, and the scan for a literal's end) are `codec::json_str`'s,
//! shared with MessagePack. Nothing here imports a codec: superjson fills the trie from its
//! `meta` and says what an annotation does (`de::Revive`).

pub(crate) mod de;
pub(crate) mod encoder;
pub(crate) mod read;
mod ser;
pub(crate) mod tree;

//! What each codec delivers to a JS client, kind by kind: one table per codec.
//!
//! Each entry is TypeScript text; `{T}`, `{K}`, `{V}` and `{C}` stand for an element type,
//! a key type, a value type and a typed array's constructor. The tables follow
//! `codecs/README.md` (plain JSON and superjson) and `codecs/msgpack/README.md` (MessagePack,
//! read by `@msgpack/msgpack` with `js/msgpack-extensions.mjs`); a codec whose mapping
//! changes changes its table here, and `polycodec types` writes the new types.
//!
//! | kind | superjson | json | msgpack |
//! |---|---|---|---|
//! | `undefined` | `undefined` | left out of objects (an optional field), `null` elsewhere | `undefined` (ext 0) |
//! | Date | `Date` | `string` (ISO) | `Date` (timestamp ext) |
//! | bigint | `bigint` | `string` (decimal) | `bigint` (ext 1) |
//! | `u64`/`i64` | `number \| bigint` (a bigint past ±(2^53−1)) | `number \| string` | `number \| bigint` |
//! | `u128`/`i128` | `bigint` | `string` | `bigint` |
//! | `u64`…`i128` sent by the client | `number \| bigint` | `number` (a string is refused) | `number \| bigint` |
//! | bytes | `Uint8Array` | `number[]` | `Uint8Array` (bin) |
//! | typed array | its constructor | `number[]` | its constructor (ext 8) |
//! | RegExp, URL | `RegExp`, `URL` | `string` | `RegExp`, `URL` (ext 4, 6) |
//! | Error | `Error` | `{ name, message, cause?, stack?, ... }` | `Error` (ext 5) |
//! | `js::map` | `Map<K, V>` | `Array<[K, V]>` | `Map<K, V>` (ext 3) |
//! | `js::set` | `Set<T>` | `T[]` | `Set<T>` (ext 2) |
//! | a Rust map with non-string keys | `Map<K, V>` | number and boolean keys as strings (`Record<string, V>`), other keys as pairs | `Map<K, V>` |
//!
//! Numbers are `number` everywhere; plain JSON writes NaN and ±Infinity as `null`, which the
//! type does not say (as `JSON.stringify` does, and as every JSON API typed `number` means).

/// How a codec delivers `undefined`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UndefinedForm {
    /// As `undefined`, in objects too.
    Kept,
    /// Left out of objects (the field is optional), `null` elsewhere (what `JSON.stringify`
    /// does).
    Omitted,
}

/// How a codec delivers a Rust map whose keys are not strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyForm {
    /// A JS `Map` (the `map` entry).
    Map,
    /// Number and boolean keys as strings of an object, other keys as `[key, value]` pairs.
    JsonKeys,
}

/// One codec's table: the TypeScript each kind arrives as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// The codec's name (`"superjson"`).
    pub name: &'static str,
    /// What the names of this codec's interfaces end with (`RpcApi` + `"Json"`).
    pub suffix: &'static str,
    /// `undefined`.
    pub undefined: UndefinedForm,
    /// A Date.
    pub date: &'static str,
    /// A bigint.
    pub bigint: &'static str,
    /// A 64-bit integer (a number within ±(2^53−1)).
    pub int64: &'static str,
    /// A 128-bit integer.
    pub int128: &'static str,
    /// A 64- or 128-bit integer the client sends (what the Rust side reads as one).
    pub wide_int_in: &'static str,
    /// A `Uint8Array`.
    pub bytes: &'static str,
    /// Another typed array (`{C}`: its constructor).
    pub typed_array: &'static str,
    /// A RegExp.
    pub regexp: &'static str,
    /// A URL.
    pub url: &'static str,
    /// An Error.
    pub error: &'static str,
    /// A JS Map (`{K}`, `{V}`).
    pub map: &'static str,
    /// A JS Set (`{T}`).
    pub set: &'static str,
    /// A Rust map whose keys are not strings.
    pub other_keys: KeyForm,
}

const JSON_ERROR: &str =
    "{ name: string; message: string; cause?: unknown; stack?: string; [key: string]: unknown }";

impl Wire {
    /// superjson 2.x (what `superjson.parse` gives).
    pub const SUPERJSON: &'static Wire = &Wire {
        name: "superjson",
        suffix: "",
        undefined: UndefinedForm::Kept,
        date: "Date",
        bigint: "bigint",
        int64: "number | bigint",
        int128: "bigint",
        wide_int_in: "number | bigint",
        bytes: "Uint8Array",
        typed_array: "{C}",
        regexp: "RegExp",
        url: "URL",
        error: "Error",
        map: "Map<{K}, {V}>",
        set: "Set<{T}>",
        other_keys: KeyForm::Map,
    };

    /// Plain JSON (what `JSON.parse` gives).
    pub const JSON: &'static Wire = &Wire {
        name: "json",
        suffix: "Json",
        undefined: UndefinedForm::Omitted,
        date: "string",
        bigint: "string",
        int64: "number | string",
        int128: "string",
        wide_int_in: "number",
        bytes: "number[]",
        typed_array: "number[]",
        regexp: "string",
        url: "string",
        error: JSON_ERROR,
        map: "Array<[{K}, {V}]>",
        set: "Array<{T}>",
        other_keys: KeyForm::JsonKeys,
    };

    /// MessagePack, as `@msgpack/msgpack` reads it with `js/msgpack-extensions.mjs`.
    pub const MSGPACK: &'static Wire = &Wire {
        name: "msgpack",
        suffix: "Msgpack",
        undefined: UndefinedForm::Kept,
        date: "Date",
        bigint: "bigint",
        int64: "number | bigint",
        int128: "bigint",
        wide_int_in: "number | bigint",
        bytes: "Uint8Array",
        typed_array: "{C}",
        regexp: "RegExp",
        url: "URL",
        error: "Error",
        map: "Map<{K}, {V}>",
        set: "Set<{T}>",
        other_keys: KeyForm::Map,
    };

    /// The table of a built-in codec, by name.
    pub fn by_name(name: &str) -> Option<&'static Wire> {
        [Wire::SUPERJSON, Wire::JSON, Wire::MSGPACK]
            .into_iter()
            .find(|w| w.name == name)
    }
}

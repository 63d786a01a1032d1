//! The MessagePack codecs: binary frames, the fast path between peers that can use it.
//!
//! One liberal reader serves every MessagePack connection: what `@msgpack/msgpack`, msgpackr
//! (records, structured clone, its extension types), python msgpack and rmp-serde write.
//! Two writer profiles: [`MsgPack::new`] (codec `msgpack`: every message decodes in every
//! standard decoder) and [`MsgPack::msgpackr`] (codec `msgpackr`: the bytes
//! `new Packr({ structuredClone: true })` writes, so a msgpackr client needs no glue).
//! The wire mapping of both is in `codecs/msgpack/README.md`.

mod read;
mod records;
mod refs;
mod typed;
mod typed_records;
mod value;
mod write;

use crate::codec::{Codec, FrameKind};
use crate::value::Value;
use crate::{Error, Limits, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Extension type numbers (see `codecs/msgpack/README.md`).
pub mod ext {
    /// Date: the standard timestamp extension (msgpackr writes an invalid Date as a 1-byte
    /// payload, `d4 ff ff`).
    pub const TIMESTAMP: i8 = -1;
    /// `undefined`: `d4 00 00` (any payload reads as `undefined`).
    pub const UNDEFINED: i8 = 0;
    /// msgpackr's bigint beyond 64 bits: big-endian two's complement in whole 64-bit words.
    pub const BIGINT: i8 = 0x42;
    /// msgpackr's bundled strings (`bundleStrings`): refused by name.
    pub const BUNDLED_STRINGS: i8 = 0x62;
    /// msgpackr's Error prefix tag `d4 65 00` + `[name, message, cause]`.
    pub const ERROR_TAG: i8 = 0x65;
    /// msgpackr's reference target `d6 69 <u32 id>`, before the value it names.
    pub const REF_ID: i8 = 0x69;
    /// msgpackr's pointer to a reference target, `d6 70 <u32 id>`.
    pub const REF_POINTER: i8 = 0x70;
    /// msgpackr's record definition `d4 72 <id>` + keys + the first instance's values.
    pub const RECORD: i8 = 0x72;
    /// msgpackr's Set prefix tag `d4 73 00` + array of members.
    pub const SET_TAG: i8 = 0x73;
    /// msgpackr's typed array: `<element type code> <little-endian bytes>`.
    pub const TYPED_ARRAY: i8 = 0x74;
    /// msgpackr's RegExp prefix tag `d4 78 00` + `[source, flags]`.
    pub const REGEXP_TAG: i8 = 0x78;

    /// The first number of polycodec's private block (the `msgpack` profile's kinds with no
    /// standard form), by default; [`super::MsgPack::with_private_ext_base`] moves it.
    pub const PRIVATE_BASE: i8 = 0x50;
    /// Offset in the private block: Set, payload one array.
    pub const SET: i8 = 0;
    /// Offset in the private block: Map, payload one map with keys of any type.
    pub const MAP: i8 = 1;
    /// Offset in the private block: RegExp, payload `[source, flags]`.
    pub const REGEXP: i8 = 2;
    /// Offset in the private block: Error, payload `{name, message, cause?, stack?, ...props}`.
    pub const ERROR: i8 = 3;
    /// Offset in the private block: URL, payload the href.
    pub const URL: i8 = 4;
    /// Offset in the private block: superjson annotation, `[annotation JSON text, value]`.
    pub const ANNOTATED: i8 = 5;
    /// Offset in the private block: invalid Date, empty payload.
    pub const INVALID_DATE: i8 = 6;
    /// How many numbers the private block takes.
    pub const PRIVATE_LEN: i8 = 7;
}

/// Which bytes a [`MsgPack`] codec writes. Both read everything (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Codec `msgpack`: self-delimiting forms only, so every message decodes in every
    /// standard decoder; kinds with no standard form use polycodec's private block.
    #[default]
    Standard,
    /// Codec `msgpackr`: byte-identical to msgpackr's `new Packr({ structuredClone: true })`
    /// for tree-shaped values (objects as records, shared nodes and cycles as references).
    Msgpackr,
}

/// How an int 64 / uint 64 (`d3` / `cf`) on the wire reads into a [`Value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Int64As {
    /// Always a bigint, as msgpackr and `@msgpack/msgpack` with `useBigInt64` read them.
    #[default]
    BigInt,
    /// A number within ±(2^53−1), a bigint beyond: for peers that write large Numbers as
    /// integers (python, `@msgpack/msgpack` without `useBigInt64`).
    Auto,
}

/// Reader and writer options, shared by the `Value` and typed paths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opts {
    pub(crate) profile: Profile,
    pub(crate) int64: Int64As,
    pub(crate) private: i8,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            profile: Profile::Standard,
            int64: Int64As::BigInt,
            private: ext::PRIVATE_BASE,
        }
    }
}

/// MessagePack, in one of two writer [`Profile`]s.
///
/// ```
/// use polycodec::codec::MsgPack;
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct P { x: i32, name: String }
/// let mp = MsgPack::new();
/// let bytes = mp.to_vec(&P { x: 1, name: "a".into() }).unwrap();
/// assert_eq!(bytes, b"\x82\xa1x\x01\xa4name\xa1a"); // a map with field names
/// assert_eq!(mp.from_slice::<P>(&bytes).unwrap(), P { x: 1, name: "a".into() });
/// // The msgpackr profile writes a record, which every msgpackr client reads as an object.
/// let r = MsgPack::msgpackr().to_vec(&P { x: 1, name: "a".into() }).unwrap();
/// assert_eq!(r, b"\xd4\x72\x40\x92\xa1x\xa4name\x01\xa1a");
/// assert_eq!(mp.from_slice::<P>(&r).unwrap(), P { x: 1, name: "a".into() });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgPack {
    limits: Limits,
    opts: Opts,
}

impl MsgPack {
    /// Subprotocol token of the standard profile: `polycodec.msgpack`.
    pub const SUBPROTOCOL: &'static str = "polycodec.msgpack";
    /// Subprotocol token of the msgpackr profile: `polycodec.msgpackr`.
    pub const MSGPACKR_SUBPROTOCOL: &'static str = "polycodec.msgpackr";

    /// The standard profile (codec `msgpack`) with default [`Limits`].
    pub fn new() -> MsgPack {
        MsgPack::default()
    }

    /// The msgpackr profile (codec `msgpackr`) with default [`Limits`].
    pub fn msgpackr() -> MsgPack {
        MsgPack::new().with_profile(Profile::Msgpackr)
    }

    /// The writer profile (its codec name and subprotocol follow it).
    pub fn with_profile(mut self, profile: Profile) -> MsgPack {
        self.opts.profile = profile;
        self
    }

    /// The writer profile.
    pub fn profile(&self) -> Profile {
        self.opts.profile
    }

    /// How int 64 / uint 64 read. Default: [`Int64As::BigInt`].
    pub fn with_int64_as(mut self, int64: Int64As) -> MsgPack {
        self.opts.int64 = int64;
        self
    }

    /// Move polycodec's private extension block (7 numbers, [`ext::PRIVATE_BASE`] = 0x50 by
    /// default) to start at `base`, for peers whose own extension types take 0x50–0x56.
    /// `base` must leave the block in 1..=127 and clear of msgpackr's types (0x42, 0x62,
    /// 0x65, 0x69, 0x70, 0x72–0x74, 0x78); otherwise it is an error.
    pub fn with_private_ext_base(mut self, base: i8) -> Result<MsgPack> {
        let owned = [0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78];
        let end = i16::from(base) + i16::from(ext::PRIVATE_LEN);
        if base < 1 || end > 128 || owned.iter().any(|&t| (i16::from(base)..end).contains(&t)) {
            return Err(Error::data(format!(
                "private extension block {base}..{end} is outside 1..=127 or overlaps msgpackr's types"
            )));
        }
        self.opts.private = base;
        Ok(self)
    }

    /// The limits applied when decoding and encoding. Default: [`Limits::default()`].
    pub fn with_limits(mut self, limits: Limits) -> MsgPack {
        self.limits = limits;
        self
    }

    /// Encode any `T: Serialize`: structs as maps with field names (records in the msgpackr
    /// profile).
    pub fn to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        let mut w = write::Writer::new(&self.limits, self.opts, 128);
        value.serialize(&mut w)?;
        Ok(w.finish())
    }

    /// Decode any `T: DeserializeOwned` (maps, records or positional arrays for structs).
    /// A message with msgpackr references (`0x69`/`0x70`) is read through a [`Value`], its
    /// shared nodes expanded within [`Limits::max_ref_expansion`].
    pub fn from_slice<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        self.limits.check_message(bytes.len())?;
        let mut d = read::Deserializer::new(bytes, &self.limits, self.opts);
        let res = T::deserialize(&mut d).and_then(|v| d.end().map(|_| v));
        match res {
            Err(_) if d.needs_value_path() => {
                let v = read::value(bytes, &self.limits, self.opts)?;
                let budget = std::cell::Cell::new(self.limits.ref_expansion());
                T::deserialize(crate::value::de::ValueDeserializer::new(&v, &budget))
            }
            other => other,
        }
    }
}

impl Codec for MsgPack {
    fn name(&self) -> &str {
        match self.opts.profile {
            Profile::Standard => "msgpack",
            Profile::Msgpackr => "msgpackr",
        }
    }
    fn subprotocol(&self) -> &str {
        match self.opts.profile {
            Profile::Standard => Self::SUBPROTOCOL,
            Profile::Msgpackr => Self::MSGPACKR_SUBPROTOCOL,
        }
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Binary
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let mut w = write::Writer::new(&self.limits, self.opts, 128);
        w.value(value)?;
        Ok(w.finish())
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        self.limits.check_message(bytes.len())?;
        read::value(bytes, &self.limits, self.opts)
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
        let mut d = read::Deserializer::new(bytes, &self.limits, self.opts);
        let res = visit(&mut <dyn erased_serde::Deserializer>::erase(&mut d)).and_then(|_| d.end());
        match res {
            Err(_) if d.needs_value_path() => {
                let v = read::value(bytes, &self.limits, self.opts)?;
                crate::codec::visit_value(&v, self.limits, visit)
            }
            other => other,
        }
    }
    fn limits(&self) -> Limits {
        self.limits
    }
    fn limited(&self, limits: Limits) -> Option<std::sync::Arc<dyn Codec>> {
        Some(std::sync::Arc::new(self.with_limits(limits)))
    }
}

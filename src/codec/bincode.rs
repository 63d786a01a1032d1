//! The bincode codec (cargo feature `bincode`): compact binary for Rust-to-Rust peers.
//!
//! Uses bincode 2.0.1 through its serde API with the standard configuration (variable-length
//! integers, little-endian). Upstream bincode is no longer maintained (see the README): the
//! format is frozen at 2.0.1 here, which is what a wire format wants, but fixes will not
//! come from upstream.
//!
//! bincode is not self-describing, so typed messages must be decoded into the same Rust type
//! they were encoded from (a [`Value`] field inside a typed struct cannot be read back: use
//! `encode_value`/`decode_value` for values). A [`Value`] travels as a tagged enum, one variant index per JS
//! kind followed by its payload (see `codecs/README.md`); shared nodes are written in full
//! (bounded by [`Limits::max_ref_expansion`]) and a cycle is an error.

use crate::codec::{Codec, FrameKind};
use crate::value::{Annotated, Date, JsError, Object, RegExp, TypedArray, TypedArrayKind, Value};
use crate::{Error, Limits, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// bincode 2.0.1 with the standard configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode {
    limits: Limits,
}

/// The configuration: standard, with a hard cap on what one message may claim.
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 64 * 1024 * 1024 }>()
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::data(format!("bincode: {e}"))
}

/// A decode error in polycodec's terms: the input ended (`Eof` at its end), it claimed more
/// than the cap (`Limit`), polycodec's own check inside the decode failed (that error, kept
/// in [`OWN_ERROR`]: bincode keeps only a message), or else `Data`.
fn decode_err(e: bincode::error::DecodeError, len: usize) -> Error {
    use bincode::error::DecodeError as D;
    if let Some(own) = OWN_ERROR.with(std::cell::Cell::take) {
        return own;
    }
    match e {
        D::UnexpectedEnd { .. } => Error::eof(len),
        D::LimitExceeded => Error::limit("bincode: the message claims more than 64 MiB"),
        e => err(e),
    }
}

impl Bincode {
    /// Subprotocol token: `polycodec.bincode`.
    pub const SUBPROTOCOL: &'static str = "polycodec.bincode";

    /// A codec with default [`Limits`].
    pub fn new() -> Bincode {
        Bincode::default()
    }

    /// The limits applied when decoding and encoding. Default: [`Limits::default()`].
    pub fn with_limits(mut self, limits: Limits) -> Bincode {
        self.limits = limits;
        self
    }

    /// Encode any `T: Serialize`.
    pub fn to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        bincode::serde::encode_to_vec(value, config()).map_err(err)
    }

    /// Decode a `T` that was encoded as a `T`.
    pub fn from_slice<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        self.limits.check_message(bytes.len())?;
        OWN_ERROR.with(|c| c.set(None));
        let (v, used) = bincode::serde::decode_from_slice(bytes, config())
            .map_err(|e| decode_err(e, bytes.len()))?;
        if used != bytes.len() {
            return Err(Error::syntax("trailing bytes after the document", used));
        }
        Ok(v)
    }
}

/// How a [`Value`] is written in bincode.
#[derive(Serialize, Deserialize)]
enum Wire {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    BigInt(String),
    String(String),
    Bytes(#[serde(with = "serde_bytes_compat")] Vec<u8>),
    TypedArray(String, Vec<f64>),
    Array(Vec<Nested>),
    Object(Vec<(String, Nested)>),
    Map(Vec<(Nested, Nested)>),
    Set(Vec<Nested>),
    Date(f64),
    RegExp(String, String),
    Error {
        name: String,
        message: String,
        stack: Option<String>,
        cause: Option<Box<Nested>>,
        props: Vec<(String, Nested)>,
    },
    Url(String),
    Annotated(String, String, Box<Nested>),
}

impl Wire {
    /// A kind that holds other `Wire`s: one level of recursion, on a grown stack where
    /// needed, when it is written, read or dropped.
    fn is_container(&self) -> bool {
        matches!(
            self,
            Wire::Array(_)
                | Wire::Object(_)
                | Wire::Map(_)
                | Wire::Set(_)
                | Wire::Error { .. }
                | Wire::Annotated(..)
        )
    }
}

/// A [`Wire`] inside another: reading one counts nesting, so hostile input that nests
/// deeper than the limit is an error instead of a stack overflow (bincode itself does not
/// limit depth).
struct Nested(Wire);

impl Nested {
    /// The `Wire` it holds (a `Nested` is dropped, not taken apart: it implements `Drop`).
    fn take(mut self) -> Wire {
        std::mem::replace(&mut self.0, Wire::Null)
    }
}

/// Dropping a deep tree recurses once per level, so a container is dropped on a grown stack
/// where needed, as it was built and written (encoding a value at the depth limit
/// overflowed a 128 KiB thread stack when its `Wire` was dropped).
impl Drop for Nested {
    fn drop(&mut self) {
        if self.0.is_container() {
            let inner = std::mem::replace(&mut self.0, Wire::Null);
            crate::stack::grow(move || drop(inner));
        }
    }
}

/// Written as the `Wire` it holds; a container on a grown stack where needed (serde's
/// serializer recurses once per level, and 1,024 levels overflowed a 2 MB thread stack in a
/// debug build). Scalars, most elements, skip the stack probe.
impl Serialize for Nested {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.is_container() {
            crate::stack::grow(|| self.0.serialize(s))
        } else {
            self.0.serialize(s)
        }
    }
}

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static MAX_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(1024) };
    /// The error of a check polycodec makes inside a bincode decode (see [`decode_err`]).
    static OWN_ERROR: std::cell::Cell<Option<Error>> = const { std::cell::Cell::new(None) };
}

impl<'de> Deserialize<'de> for Nested {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Nested, D::Error> {
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                DEPTH.with(|c| c.set(c.get().saturating_sub(1)));
            }
        }
        let depth = DEPTH.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let _leave = Leave;
        let max = MAX_DEPTH.with(std::cell::Cell::get);
        if depth > max {
            let e = Error::limit(format!("nesting deeper than the depth limit of {max}"));
            let message = e.to_string();
            OWN_ERROR.with(|c| c.set(Some(e)));
            return Err(serde::de::Error::custom(message));
        }
        crate::stack::grow_every(depth, || Wire::deserialize(d)).map(Nested)
    }
}

/// Bytes as one length-prefixed block rather than a sequence of numbers.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

struct ToWire {
    budget: usize,
    in_ref: u32,
    ancestors: Vec<usize>,
    depth_left: usize,
}

impl ToWire {
    fn list(&mut self, items: &[Value]) -> Result<Vec<Nested>> {
        items.iter().map(|x| self.wire(x).map(Nested)).collect()
    }

    fn object(&mut self, o: &Object) -> Result<Vec<(String, Nested)>> {
        o.iter()
            .map(|(k, x)| Ok((k.clone(), Nested(self.wire(x)?))))
            .collect()
    }

    fn wire(&mut self, v: &Value) -> Result<Wire> {
        if self.in_ref > 0 {
            self.budget = self.budget.checked_sub(1).ok_or_else(|| {
                Error::limit("shared references expand beyond the reference expansion limit")
            })?;
        }
        if self.depth_left == 0 {
            return Err(Error::limit("nesting deeper than the depth limit"));
        }
        self.depth_left -= 1;
        let w = crate::stack::grow(|| self.wire_inner(v));
        self.depth_left += 1;
        w
    }

    fn wire_inner(&mut self, v: &Value) -> Result<Wire> {
        Ok(match v {
            Value::Undefined => Wire::Undefined,
            Value::Null => Wire::Null,
            Value::Bool(b) => Wire::Bool(*b),
            Value::Number(n) => Wire::Number(*n),
            Value::BigInt(b) => Wire::BigInt(b.to_string()),
            Value::String(s) => Wire::String(s.clone()),
            Value::Bytes(b) => Wire::Bytes(b.clone()),
            Value::TypedArray(t) => Wire::TypedArray(t.kind.name().into(), t.elements.clone()),
            Value::Array(a) => Wire::Array(self.list(a)?),
            Value::Object(o) => Wire::Object(self.object(o)?),
            Value::Map(m) => Wire::Map(
                m.iter()
                    .map(|(k, x)| Ok((Nested(self.wire(k)?), Nested(self.wire(x)?))))
                    .collect::<Result<_>>()?,
            ),
            Value::Set(s) => Wire::Set(self.list(s)?),
            Value::Date(d) => Wire::Date(d.time_value()),
            Value::RegExp(r) => Wire::RegExp(r.source().into(), r.flags().into()),
            Value::Error(e) => Wire::Error {
                name: e.name.clone(),
                message: e.message.clone(),
                stack: e.stack.clone(),
                cause: e
                    .cause
                    .as_ref()
                    .map(|c| self.wire(c).map(|w| Box::new(Nested(w))))
                    .transpose()?,
                props: self.object(&e.props)?,
            },
            Value::Url(u) => Wire::Url(u.clone()),
            Value::Annotated(a) => Wire::Annotated(
                a.kind.clone(),
                a.id.clone(),
                Box::new(Nested(self.wire(&a.value)?)),
            ),
            Value::Ref(r) => {
                if self.ancestors.contains(&r.addr()) || r.is_back_reference() {
                    return Err(Error::unsupported(
                        "a cyclic value cannot be written as bincode",
                    ));
                }
                let inner = r
                    .resolve()
                    .ok_or_else(|| Error::data("dangling reference"))?;
                self.ancestors.push(r.addr());
                self.in_ref += 1;
                let w = self.wire(&inner);
                self.in_ref -= 1;
                self.ancestors.pop();
                w?
            }
        })
    }
}

/// The `Value` a decoded [`Wire`] stands for; collections of more than `max_len` elements
/// (or members, or entries) are a `Limit` error.
fn from_wire(w: Wire, max_len: usize) -> Result<Value> {
    if w.is_container() {
        crate::stack::grow(|| from_wire_inner(w, max_len))
    } else {
        from_wire_inner(w, max_len)
    }
}

fn from_wire_inner(w: Wire, max_len: usize) -> Result<Value> {
    let check = |len: usize| {
        if len > max_len {
            return Err(Error::limit(format!(
                "collection of {len} elements is over the limit of {max_len}"
            )));
        }
        Ok(())
    };
    let list = |xs: Vec<Nested>| {
        check(xs.len())?;
        xs.into_iter()
            .map(|n| from_wire(n.take(), max_len))
            .collect::<Result<Vec<_>>>()
    };
    let object = |kv: Vec<(String, Nested)>| {
        check(kv.len())?;
        kv.into_iter()
            .map(|(k, x)| Ok((k, from_wire(x.take(), max_len)?)))
            .collect::<Result<Object>>()
    };
    Ok(match w {
        Wire::Undefined => Value::Undefined,
        Wire::Null => Value::Null,
        Wire::Bool(b) => Value::Bool(b),
        Wire::Number(n) => Value::Number(n),
        Wire::BigInt(s) => {
            crate::value::number::check_bigint_text(&s)?;
            Value::BigInt(s.parse().map_err(|_| Error::data("invalid bigint"))?)
        }
        Wire::String(s) => Value::String(s),
        Wire::Bytes(b) => Value::Bytes(b),
        Wire::TypedArray(name, xs) => {
            check(xs.len())?;
            let kind = TypedArrayKind::from_name(&name)
                .ok_or_else(|| Error::data(format!("unknown typed array {name:?}")))?;
            Value::from(TypedArray::new(kind, xs))
        }
        Wire::Array(a) => Value::Array(list(a)?),
        Wire::Object(o) => Value::Object(object(o)?),
        Wire::Map(m) => {
            check(m.len())?;
            Value::Map(
                m.into_iter()
                    .map(|(k, x)| {
                        Ok((from_wire(k.take(), max_len)?, from_wire(x.take(), max_len)?))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        Wire::Set(s) => Value::Set(list(s)?),
        Wire::Date(ms) => Value::Date(Date::from_millis(ms)),
        Wire::RegExp(s, f) => Value::from(RegExp::new(&s, &f)?),
        Wire::Error {
            name,
            message,
            stack,
            cause,
            props,
        } => Value::from(JsError {
            name,
            message,
            stack,
            cause: cause.map(|c| from_wire(c.take(), max_len)).transpose()?,
            props: object(props)?,
        }),
        Wire::Url(u) => Value::Url(u),
        Wire::Annotated(kind, id, v) => Value::Annotated(Box::new(Annotated {
            kind,
            id,
            value: from_wire(v.take(), max_len)?,
        })),
    })
}

impl Codec for Bincode {
    fn name(&self) -> &str {
        "bincode"
    }
    fn subprotocol(&self) -> &str {
        Self::SUBPROTOCOL
    }
    fn frame_kind(&self) -> FrameKind {
        FrameKind::Binary
    }
    fn encode_value(&self, value: &Value) -> Result<Vec<u8>> {
        let wire = ToWire {
            budget: self.limits.ref_expansion(),
            in_ref: 0,
            ancestors: Vec::new(),
            // The reader counts the values inside the root (each `Nested`), the writer
            // every value: one more, for the root, so that what is written reads back (a
            // 1,024-deep array that every other codec writes was refused).
            depth_left: self.limits.depth().saturating_add(1),
        }
        .wire(value)?;
        self.to_vec(&wire)
    }
    fn decode_value(&self, bytes: &[u8]) -> Result<Value> {
        MAX_DEPTH.with(|m| m.set(self.limits.depth()));
        DEPTH.with(|d| d.set(0));
        let wire: Wire = self.from_slice(bytes)?;
        from_wire(wire, self.limits.collection_len())
    }
    fn encode_erased(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        self.to_vec(value)
    }
    fn decode_erased(
        &self,
        bytes: &[u8],
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>,
    ) -> Result<()> {
        // bincode 2's serde deserializer is not public; go through its typed entry point
        // with a seed that hands the deserializer to `visit`.
        struct Seed<'v>(&'v mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<()>);
        impl<'de> serde::de::DeserializeSeed<'de> for Seed<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<(), D::Error> {
                (self.0)(&mut <dyn erased_serde::Deserializer>::erase(d))
                    .map_err(serde::de::Error::custom)
            }
        }
        self.limits.check_message(bytes.len())?;
        OWN_ERROR.with(|c| c.set(None));
        let used = bincode::serde::seed_decode_from_slice(Seed(visit), bytes, config())
            .map_err(|e| decode_err(e, bytes.len()))?
            .1;
        if used != bytes.len() {
            return Err(Error::syntax("trailing bytes after the document", used));
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

//! A serde `Deserializer` over JSON text that applies annotations (superjson's) while it
//! reads.
//!
//! With an empty annotation trie it is a plain JSON deserializer (the `json` codec uses it
//! so, as `Deserializer<Plain>`). At each value it looks up the trie node for the value's
//! path; only annotated values are built as an intermediate [`Value`], everything else goes
//! straight to the visitor. What an annotation makes of its value is the [`Revive`] the
//! codec that reads annotations gives (a type parameter: resolved at compile time).

use super::read::{depth_error, describe, Num, Reader, Str};
use super::tree::{spare, Ann, MetaTree, NodeId, NONE, ROOT};
use crate::stack::grow_every;
use crate::value::de::with_value;
use crate::value::de::KeyDeserializer;
use crate::value::number::MAX_SAFE_INTEGER;
use crate::value::{Date, Value};
use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::marker::PhantomData;

/// What an annotation does to the value it sits on (superjson's `untransform`): given by the
/// codec whose annotations the [`Deserializer`] applies.
pub(crate) trait Revive {
    /// Turn the JSON value `raw` (children already revived) into what `ann` says it is.
    /// `unbacked` is how many elements no byte of the document stands for may still be
    /// made (see [`Deserializer::unbacked`]); Set members and Map keys that repeat collapse
    /// unless `dedupe` is false (see [`Deserializer::dedupe`]).
    fn revive(ann: &Ann, raw: Value, unbacked: &mut usize, dedupe: bool) -> Result<Value>;
}

/// Plain JSON: no annotations (its trie is empty), so nothing is ever revived.
pub(crate) enum Plain {}

impl Revive for Plain {
    #[inline]
    fn revive(_: &Ann, raw: Value, _: &mut usize, _: bool) -> Result<Value> {
        Ok(raw)
    }
}

/// The JSON deserializer; `R` revives annotated values.
pub(crate) struct Deserializer<'a, 'm, R> {
    pub(crate) r: Reader<'a>,
    scratch: Vec<u8>,
    depth_left: usize,
    /// The depth limit and the most elements (or members) one array (or object) built as a
    /// `Value` may have, in 32 bits each (saturated): one more word in this struct cost a
    /// typed decode of 10,000 records 5% (measured, alternating binaries), a 32-bit pair
    /// costs nothing.
    max_depth: u32,
    max_len: u32,
    tree: &'m MetaTree,
    /// Trie node of the value about to be read.
    node: NodeId,
    /// Which annotated nodes have been applied.
    applied: Vec<bool>,
    /// [`Deserializer::value`]'s values (elements and member values) and member keys of
    /// the arrays and objects being read, innermost last: each container is made at its
    /// size from their tails when it ends (no growing `Vec`s). Kept per thread between
    /// reads.
    items: Vec<Value>,
    keys: Vec<String>,
    /// How many elements that no byte of the input stands for may still be made (the zeros
    /// of a typed array made from a length, the holes where a reference extends an array):
    /// as many as the input has bytes.
    pub(crate) unbacked: usize,
    /// False when `referentialEqualities` follow: Set members and Map keys collapse only
    /// after they are applied (see [`Revive::revive`]).
    pub(crate) dedupe: bool,
    revive: PhantomData<R>,
}

impl<R> Drop for Deserializer<'_, '_, R> {
    fn drop(&mut self) {
        use crate::codec::reuse::keep_cleared;
        keep_cleared(
            &spare::FLAGS,
            std::mem::take(&mut self.applied),
            spare::MAX_FLAGS,
        );
        keep_cleared(&ITEMS, std::mem::take(&mut self.items), MAX_KEPT_ITEMS);
        keep_cleared(&KEYS, std::mem::take(&mut self.keys), MAX_KEPT_ITEMS);
    }
}

/// The most stack slots [`Deserializer::value`] keeps per thread (32 and 24 bytes each).
const MAX_KEPT_ITEMS: usize = 4096;

thread_local! {
    static ITEMS: Cell<Vec<Value>> = const { Cell::new(Vec::new()) };
    static KEYS: Cell<Vec<String>> = const { Cell::new(Vec::new()) };
}

impl<'a, 'm, R: Revive> Deserializer<'a, 'm, R> {
    pub(crate) fn new(r: Reader<'a>, tree: &'m MetaTree, limits: &crate::Limits) -> Self {
        let annotated = !tree.is_empty();
        let unbacked = r.bytes.len();
        let max_depth = limits.depth();
        Deserializer {
            r,
            scratch: Vec::new(),
            depth_left: max_depth,
            max_depth: u32::try_from(max_depth).unwrap_or(u32::MAX),
            max_len: u32::try_from(limits.collection_len()).unwrap_or(u32::MAX),
            tree,
            node: if annotated { ROOT } else { NONE },
            applied: if annotated {
                let mut flags = spare::take(&spare::FLAGS);
                flags.resize(tree.node_count(), false);
                flags
            } else {
                Vec::new()
            },
            unbacked,
            dedupe: true,
            items: Vec::new(),
            keys: Vec::new(),
            revive: PhantomData,
        }
    }

    /// The next value as a [`Value`], as `Value::deserialize` would give it, without the
    /// visitor protocol: an annotated value is built once (through serde it was built, then
    /// handed over by a second deserializer that copies it), and arrays and objects are
    /// made at their size.
    pub(crate) fn value(&mut self) -> Result<Value> {
        self.take_stacks();
        let base = self.items.len();
        self.push_value()?;
        debug_assert_eq!(self.items.len(), base + 1);
        // `push_value` pushed exactly one value.
        Ok(self.items.pop().unwrap_or(Value::Undefined))
    }

    /// The builder's stacks, from this thread's spares the first time (a typed read takes
    /// them only once it meets an annotated value that is built as a `Value`).
    fn take_stacks(&mut self) {
        if self.items.capacity() == 0 {
            self.items = crate::codec::reuse::take(&ITEMS);
        }
        if self.keys.capacity() == 0 {
            self.keys = crate::codec::reuse::take(&KEYS);
        }
    }

    /// Reads the next value onto `items`, where its container collects it when it closes.
    /// Plain values are written onto the stack once instead of being returned: a returned
    /// `Result<Value>` was copied through the machine stack once more per element, and perf
    /// put most of the array loop's time on that copy (a store-forwarding stall). Annotated
    /// values (rarer) are still built and returned by `take_annotated`, then pushed.
    fn push_value(&mut self) -> Result<()> {
        if self.push_annotated()? {
            return Ok(());
        }
        self.push_plain()
    }

    /// [`Deserializer::parse_plain`] for a [`Value`]: the same syntax, errors and paths.
    fn push_plain(&mut self) -> Result<()> {
        let node = std::mem::replace(&mut self.node, NONE);
        match self.r.peek_some()? {
            b'n' => {
                self.r.keyword(b"null")?;
                self.items.push(Value::Null);
            }
            b't' => {
                self.r.keyword(b"true")?;
                self.items.push(Value::Bool(true));
            }
            b'f' => {
                self.r.keyword(b"false")?;
                self.items.push(Value::Bool(false));
            }
            b'"' => {
                let s = self.r.string(&mut self.scratch)?.as_str().to_owned();
                self.items.push(Value::String(s));
            }
            b'[' => self.push_nested(node, Self::push_array, b']', "`]`")?,
            b'{' => self.push_nested(node, Self::push_object, b'}', "`}`")?,
            // The number `visit_number` gives `ValueVisitor`: safe integers are exact in
            // f64, `-0` is -0, the rest correctly rounded.
            b'-' | b'0'..=b'9' => {
                let f = self.r.number()?.to_f64();
                self.items.push(Value::Number(f));
            }
            c => {
                return Err(self
                    .r
                    .err(format!("expected a value, found {}", describe(c))))
            }
        }
        Ok(())
    }

    /// An array or object whose opening bracket is next: one level deeper (on a grown stack
    /// where needed), `read` up to the `close`, which is read too.
    fn push_nested(
        &mut self,
        node: NodeId,
        read: fn(&mut Self, NodeId) -> Result<()>,
        close: u8,
        what: &str,
    ) -> Result<()> {
        self.r.pos += 1;
        self.enter()?;
        grow_every(self.depth_left, || read(self, node))?;
        self.leave();
        self.r.expect(close, what)
    }

    /// Fail when a collection already holds `len` elements and has one more: the `Value`
    /// builder, which holds the elements, stops at the limit. A typed decode does not
    /// check: its target keeps what it likes, the text bounds the work, and the check (per
    /// element, or even once per collection with a count per member) cost a typed decode
    /// of 10,000 records 9-10% (measured, alternating binaries).
    #[inline]
    fn check_len(&self, len: usize) -> Result<()> {
        if len < self.max_len as usize {
            return Ok(());
        }
        Err(self.too_long())
    }

    #[cold]
    fn too_long(&self) -> Error {
        Error::limit(format!(
            "collection of more than {} elements is over the limit",
            self.max_len
        ))
        .at_offset(self.r.offset())
    }

    /// The array whose `[` is read, up to (not including) its `]`.
    fn push_array(&mut self, node: NodeId) -> Result<()> {
        let base = self.items.len();
        let mut index = 0;
        while self.r.next_element(index)? {
            self.check_len(index)?;
            self.node = self.tree.child_index(node, index);
            self.push_value()
                .map_err(|e| e.in_segment(&index.to_string()))?;
            index += 1;
        }
        let items = self.items.drain(base..).collect();
        self.items.push(Value::Array(items));
        Ok(())
    }

    /// The object whose `{` is read, up to (not including) its `}`: keys on `keys`, values
    /// on `items`. A repeated key keeps its first place and takes the last value, as in
    /// `JSON.parse`.
    fn push_object(&mut self, node: NodeId) -> Result<()> {
        let base = self.items.len();
        let key_base = self.keys.len();
        let mut first = true;
        while self.r.next_member(first)? {
            first = false;
            self.check_len(self.keys.len() - key_base)?;
            let key = self.r.string(&mut self.scratch)?.as_str().to_owned();
            self.r.expect(b':', "`:`")?;
            self.node = self.tree.child_key(node, &key);
            self.push_value().map_err(|e| e.in_segment(&key))?;
            self.keys.push(key);
        }
        let mut o = crate::value::Object::with_capacity(self.keys.len() - key_base);
        for (k, v) in self.keys.drain(key_base..).zip(self.items.drain(base..)) {
            o.insert(k, v);
        }
        self.items.push(Value::Object(o));
        Ok(())
    }

    /// After the value: fail if an annotation addressed a path that `json` does not have.
    pub(crate) fn check_all_applied(&self) -> Result<()> {
        if self.tree.is_empty() {
            return Ok(());
        }
        let applied = self.applied.iter().filter(|&&a| a).count();
        if applied == self.tree.len() {
            return Ok(());
        }
        let missing = (0..self.tree.node_count() as NodeId)
            .find(|&n| self.tree.ann(n).is_some() && !self.applied[n as usize])
            .unwrap_or(NONE);
        Err(
            Error::data("meta.values annotates a path that json does not contain")
                .at_path(self.tree.path_of(missing)),
        )
    }

    /// [`Deserializer::take_annotated`] for [`Deserializer::value`]: the annotated value is
    /// pushed, and `true` given.
    #[inline]
    fn push_annotated(&mut self) -> Result<bool> {
        match self.take_annotated()? {
            Some(v) => {
                self.items.push(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// If the value about to be read is annotated, read it, apply the annotation and return
    /// the result. Otherwise `None`, and the node stays set for the children.
    #[inline]
    fn take_annotated(&mut self) -> Result<Option<Value>> {
        if self.node == NONE {
            return Ok(None);
        }
        let Some(ann) = self.tree.ann(self.node) else {
            return Ok(None);
        };
        let node = std::mem::replace(&mut self.node, NONE);
        self.applied[node as usize] = true;
        let offset = self.r.offset();
        // Fast path for the most common annotation: a Date from an ISO string.
        if *ann == Ann::Date && !self.tree.has_children(node) && self.r.peek() == Some(b'"') {
            let s = self.r.string(&mut self.scratch)?;
            return Ok(Some(Value::Date(Date::parse(s.as_str()))));
        }
        let raw = if *ann == Ann::Undefined && !self.tree.has_children(node) {
            self.r.skip_value(self.depth_left)?;
            Value::Null
        } else {
            self.node = node;
            self.take_stacks();
            self.push_plain()?;
            self.node = NONE;
            // `push_plain` pushed exactly one value.
            self.items.pop().unwrap_or(Value::Undefined)
        };
        R::revive(ann, raw, &mut self.unbacked, self.dedupe)
            .map(Some)
            .map_err(|e| e.at_offset(offset))
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth_left == 0 {
            return Err(depth_error(self.max_depth as usize, self.r.offset()));
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth_left += 1;
    }

    #[inline(always)]
    fn number<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        let n = self.r.number()?;
        visit_number(n, visitor)
    }

    /// A number for a float field: what `visit_number` gives, less its integer cases (a
    /// safe integer is exact either way), all in line.
    #[inline(always)]
    fn float<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        let f = self.r.number()?.to_f64();
        visitor.visit_f64(f)
    }

    /// A string, the reader at its quote.
    #[inline(always)]
    fn plain_str<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.r.string(&mut self.scratch)? {
            Str::Borrowed(s) => visitor.visit_borrowed_str(s),
            Str::Copied(s) => visitor.visit_str(s),
        }
    }

    /// `true` or `false`, the reader at its first letter.
    #[inline(always)]
    fn plain_bool<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        if self.r.peek() == Some(b't') {
            self.r.keyword(b"true")?;
            visitor.visit_bool(true)
        } else {
            self.r.keyword(b"false")?;
            visitor.visit_bool(false)
        }
    }

    /// What a typed read does past its fast path: an annotated value through the `Value`
    /// it stands for (read by `via`), anything else as it comes. Kept out of line so that
    /// the fast paths inline into the caller's loop.
    #[inline(never)]
    fn general<V: Visitor<'a>>(
        &mut self,
        visitor: V,
        via: impl FnOnce(crate::value::de::ValueDeserializer<'_>, V) -> Result<V::Value>,
    ) -> Result<V::Value> {
        if let Some(v) = self.take_annotated()? {
            return with_value(v, |d| via(d, visitor));
        }
        self.parse_plain(visitor)
    }

    /// An integer read past its fast path (`read` is the whole general read).
    #[inline(never)]
    fn int_general<V: Visitor<'a>>(
        &mut self,
        visitor: V,
        read: impl FnOnce(&mut Self, V) -> Result<V::Value>,
    ) -> Result<V::Value> {
        read(self, visitor)
    }

    /// Read the next value ignoring any annotation on it (children still apply).
    fn parse_plain<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        let node = std::mem::replace(&mut self.node, NONE);
        match self.r.peek_some()? {
            b'n' => {
                self.r.keyword(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.r.keyword(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.r.keyword(b"false")?;
                visitor.visit_bool(false)
            }
            b'"' => match self.r.string(&mut self.scratch)? {
                Str::Borrowed(s) => visitor.visit_borrowed_str(s),
                Str::Copied(s) => visitor.visit_str(s),
            },
            b'[' => {
                self.r.pos += 1;
                self.enter()?;
                let v = grow_every(self.depth_left, || {
                    visitor.visit_seq(Seq {
                        de: self,
                        parent: node,
                        index: 0,
                    })
                })?;
                self.leave();
                self.r.expect(b']', "`]`")?;
                Ok(v)
            }
            b'{' => {
                self.r.pos += 1;
                self.enter()?;
                let v = grow_every(self.depth_left, || {
                    visitor.visit_map(Map {
                        de: self,
                        parent: node,
                        first: true,
                        key: KeyRef::Borrowed(""),
                        pending: NONE,
                    })
                })?;
                self.leave();
                self.r.expect(b'}', "`}`")?;
                Ok(v)
            }
            b'-' | b'0'..=b'9' => self.number(visitor),
            c => Err(self
                .r
                .err(format!("expected a value, found {}", describe(c)))),
        }
    }

    /// Skip the next value, marking any annotations below it as handled (the target type
    /// chose to ignore it).
    fn skip(&mut self) -> Result<()> {
        let node = std::mem::replace(&mut self.node, NONE);
        if node != NONE {
            for n in self.tree.annotated_below(node) {
                self.applied[n as usize] = true;
            }
        }
        self.r.skip_value(self.depth_left)
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: Num<'_>, visitor: V) -> Result<V::Value> {
    if n.is_int() {
        if let Some(i) = n.small_int().or_else(|| n.text().parse::<i64>().ok()) {
            // `-0` is the float -0 (as in JS and serde_json), not the integer 0.
            let negative_zero = i == 0 && n.is_negative();
            if (i.unsigned_abs() as f64) <= MAX_SAFE_INTEGER && !negative_zero {
                return if i >= 0 {
                    visitor.visit_u64(i as u64)
                } else {
                    visitor.visit_i64(i)
                };
            }
        }
    }
    visitor.visit_f64(n.to_f64())
}

macro_rules! exact_int {
    ($method:ident, $visit:ident, $t:ty) => {
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            // Unannotated non-negative integers that fit read in line; the rest (and every
            // error) below.
            if self.node == NONE && matches!(self.r.peek(), Some(b'0'..=b'9')) {
                let save = self.r.pos;
                let n = self.r.number()?;
                if let Some(i) = n.small_uint() {
                    #[allow(irrefutable_let_patterns)]
                    if let Ok(i) = <$t>::try_from(i) {
                        return visitor.$visit(i);
                    }
                }
                self.r.pos = save;
            }
            self.int_general(visitor, |de, visitor| {
                if let Some(v) = de.take_annotated()? {
                    return with_value(v, |d| de::Deserializer::$method(d, visitor));
                }
                match de.r.peek_some()? {
                    b'-' | b'0'..=b'9' => {
                        let start = de.r.offset();
                        let n = de.r.number()?;
                        if n.is_int() {
                            match n.text().parse::<$t>() {
                                Ok(i) => visitor.$visit(i),
                                Err(_) => Err(Error::data(format!(
                                    "number {} out of range for {}",
                                    n.text(),
                                    stringify!($t)
                                ))
                                .at_offset(start)),
                            }
                        } else {
                            visit_number(n, visitor).map_err(|e| e.at_offset(start))
                        }
                    }
                    // Integers beyond ±(2^53−1) are written as decimal strings in plain JSON.
                    b'"' => {
                        let start = de.r.offset();
                        de.node = NONE;
                        let s = de.r.string(&mut de.scratch)?;
                        match s.as_str().parse::<$t>() {
                            Ok(i) => visitor.$visit(i),
                            Err(_) => Err(Error::data(format!(
                                "expected {}, found the string {:?}",
                                stringify!($t),
                                s.as_str()
                            ))
                            .at_offset(start)),
                        }
                    }
                    _ => de.parse_plain(visitor),
                }
            })
        }
    };
}

/// Typed reads whose fast path is the plain value they ask for (`$fast` names what it
/// starts with and how it is read), anything else through [`Deserializer::general`].
macro_rules! via_any {
    ($($method:ident $(if $fast:pat => $read:ident)?;)*) => {$(
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            $(
                if self.node == NONE && matches!(self.r.peek(), Some($fast)) {
                    return self.$read(visitor);
                }
            )?
            self.general(visitor, |d, v| de::Deserializer::$method(d, v))
        }
    )*};
}

impl<'de, 'm, R: Revive> de::Deserializer<'de> for &mut Deserializer<'de, 'm, R> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(v) = self.take_annotated()? {
            return with_value(v, |d| de::Deserializer::deserialize_any(d, visitor));
        }
        self.parse_plain(visitor)
    }

    via_any!(
        deserialize_bool if b't' | b'f' => plain_bool;
        deserialize_f32 if b'-' | b'0'..=b'9' => float;
        deserialize_f64 if b'-' | b'0'..=b'9' => float;
        deserialize_char;
        deserialize_str if b'"' => plain_str;
        deserialize_string if b'"' => plain_str;
        deserialize_bytes;
        deserialize_byte_buf;
        deserialize_unit;
        deserialize_seq;
        deserialize_map;
    );

    exact_int!(deserialize_i8, visit_i8, i8);
    exact_int!(deserialize_i16, visit_i16, i16);
    exact_int!(deserialize_i32, visit_i32, i32);
    exact_int!(deserialize_i64, visit_i64, i64);
    exact_int!(deserialize_i128, visit_i128, i128);
    exact_int!(deserialize_u8, visit_u8, u8);
    exact_int!(deserialize_u16, visit_u16, u16);
    exact_int!(deserialize_u32, visit_u32, u32);
    exact_int!(deserialize_u64, visit_u64, u64);
    exact_int!(deserialize_u128, visit_u128, u128);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(v) = self.take_annotated()? {
            return with_value(v, |d| de::Deserializer::deserialize_option(d, visitor));
        }
        if self.r.peek() == Some(b'n') {
            self.r.keyword(b"null")?;
            self.node = NONE;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        use crate::value::magic::Magic;
        let Some(magic) = Magic::from_name(name) else {
            return visitor.visit_newtype_struct(self);
        };
        // Typed fast paths: a Date, Set or Map field reads straight from the text, without
        // an intermediate Value.
        let ann = if self.node == NONE {
            None
        } else {
            self.tree.ann(self.node)
        };
        match (magic, ann) {
            (Magic::Date, Some(Ann::Date)) if !self.tree.has_children(self.node) => {
                let node = std::mem::replace(&mut self.node, NONE);
                self.applied[node as usize] = true;
                if self.r.peek() == Some(b'"') {
                    let s = self.r.string(&mut self.scratch)?;
                    return visitor.visit_f64(Date::parse(s.as_str()).time_value());
                }
                self.node = node;
                self.applied[node as usize] = false;
                self.deserialize_any(visitor)
            }
            (Magic::Set, Some(Ann::Set)) | (Magic::Map, Some(Ann::Map))
                if self.r.peek() == Some(b'[') =>
            {
                // The annotation is consumed here; its children still apply inside.
                self.applied[self.node as usize] = true;
                self.parse_plain(visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if let Some(v) = self.take_annotated()? {
            return with_value(v, |d| {
                de::Deserializer::deserialize_struct(d, name, fields, visitor)
            });
        }
        self.parse_plain(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if let Some(v) = self.take_annotated()? {
            return with_value(v, |d| {
                de::Deserializer::deserialize_enum(d, name, variants, visitor)
            });
        }
        match self.r.peek_some()? {
            b'"' => {
                self.node = NONE;
                let s = self.r.string(&mut self.scratch)?;
                visitor.visit_enum(s.as_str().into_deserializer())
            }
            b'{' => {
                self.r.pos += 1;
                self.enter()?;
                let parent = std::mem::replace(&mut self.node, NONE);
                if self.r.peek_some()? != b'"' {
                    return Err(self.r.err("expected a string key"));
                }
                let variant = self.r.string(&mut self.scratch)?.as_str().to_owned();
                self.r.expect(b':', "`:`")?;
                self.node = self.tree.child_key(parent, &variant);
                let v = visitor.visit_enum(Enum { de: self, variant })?;
                self.leave();
                self.r.expect(b'}', "`}`")?;
                Ok(v)
            }
            c => Err(self.r.err(format!(
                "expected an enum (a string or an object with one key), found {}",
                describe(c)
            ))),
        }
    }

    #[inline(always)]
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }
}

struct Seq<'x, 'a, 'm, R> {
    de: &'x mut Deserializer<'a, 'm, R>,
    parent: NodeId,
    index: usize,
}

impl<'de, 'm, R: Revive> SeqAccess<'de> for Seq<'_, 'de, 'm, R> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.de.r.next_element(self.index)? {
            return Ok(None);
        }
        let i = self.index;
        self.index += 1;
        self.de.node = self.de.tree.child_index(self.parent, i);
        seed.deserialize(&mut *self.de)
            .map(Some)
            .map_err(|e| e.in_segment(&i.to_string()))
    }
}

struct Map<'x, 'a, 'm, R> {
    de: &'x mut Deserializer<'a, 'm, R>,
    parent: NodeId,
    first: bool,
    /// The current key, for the trie lookup and for error paths (copied only when it had
    /// escapes).
    key: KeyRef<'a>,
    pending: NodeId,
}

enum KeyRef<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl KeyRef<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyRef::Borrowed(s) => s,
            KeyRef::Owned(s) => s,
        }
    }
}

impl<'de, 'm, R: Revive> MapAccess<'de> for Map<'_, 'de, 'm, R> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.de.r.next_member(self.first)? {
            return Ok(None);
        }
        self.first = false;
        self.key = match self.de.r.string(&mut self.de.scratch)? {
            Str::Borrowed(s) => KeyRef::Borrowed(s),
            Str::Copied(s) => KeyRef::Owned(s.to_owned()),
        };
        self.pending = self.de.tree.child_key(self.parent, self.key.as_str());
        let out = match &self.key {
            KeyRef::Borrowed(s) => seed.deserialize(KeyDeserializer::Borrowed(s)),
            KeyRef::Owned(s) => seed.deserialize(KeyDeserializer::Copied(s)),
        };
        out.map(Some)
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        self.de.r.expect(b':', "`:`")?;
        self.de.node = self.pending;
        seed.deserialize(&mut *self.de)
            .map_err(|e| e.in_segment(self.key.as_str()))
    }
}

struct Enum<'x, 'a, 'm, R> {
    de: &'x mut Deserializer<'a, 'm, R>,
    variant: String,
}

impl<'de, 'x, 'm, R: Revive> de::EnumAccess<'de> for Enum<'x, 'de, 'm, R> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(
            self.variant.as_str(),
        ))?;
        Ok((v, self))
    }
}

impl<'de, R: Revive> de::VariantAccess<'de> for Enum<'_, 'de, '_, R> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(&mut *self.de)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use serde::Deserialize;

    /// A value that is skipped (an unknown field) fails with the error, and at the
    /// offset, that reading it fails with.
    #[test]
    fn skipping_reports_what_reading_reports() {
        let bad = [
            "[1,]",
            "[1 2]",
            "[,1]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":}",
            "{1:2}",
            "[tru]",
            "[\"a]",
            "[01]",
            "[-]",
            "[1.]",
            "[1e]",
            "{\"a\":[}",
            "[\"\\x\"]",
            "[\"\\ud800\"]",
            "[",
            "{\"a\":1",
        ];
        for text in bad {
            let mut r = Reader::new(text.as_bytes());
            let skipped = r.skip_value(10).unwrap_err();
            // Through serde's visitor protocol, and through the direct `Value` builder (as
            // the `json` codec reads).
            let limits = Limits::default();
            let tree = MetaTree::default();
            let reader =
                || Deserializer::<Plain>::new(Reader::new(text.as_bytes()), &tree, &limits);
            let read = Value::deserialize(&mut reader()).unwrap_err();
            let built = reader().value().unwrap_err();
            // The reader also names the path; a skipped value's path is its field's.
            let seen = |e: &Error| (e.classify(), e.message().to_owned(), e.offset());
            assert_eq!(seen(&skipped), seen(&read), "{text}");
            assert_eq!(seen(&skipped), seen(&built), "{text}");
        }
    }
}

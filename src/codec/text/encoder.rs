//! Writing superjson (and plain JSON) from a [`Value`] or straight from any
//! `T: Serialize`.
//!
//! One [`Encoder`] holds the state both front-ends share: the JSON text, the current path,
//! the annotation scopes (superjson hoists annotations into the nearest annotated ancestor)
//! and the identities seen (for `referentialEqualities`). In [`Mode::Plain`] it writes the
//! plain-JSON mapping instead and keeps no meta.

use crate::codec::json_str::write_str;
use crate::codec::reuse;
use crate::path::push_escaped;
use crate::value::number::{write_finite, write_int, MAX_SAFE_INTEGER};
use crate::value::{Ref, Value};
use crate::{Error, Limits, Result};
use indexmap::IndexMap;
use std::collections::HashMap;

/// What the encoder writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// superjson: `{"json":…,"meta":…}`.
    SuperJson,
    /// Plain JSON with polycodec's documented mapping; no meta.
    Plain,
}

/// An annotation as it is written.
#[derive(Clone, Debug)]
pub(crate) enum AnnOut {
    Simple(&'static str),
    Composite(String, String),
}

#[derive(Debug)]
enum Tree {
    Leaf(AnnOut),
    Node(AnnOut, Vec<Entry>),
}

/// An annotation's path text: a range of the encoder's `keys` arena (one buffer for every
/// path instead of a `String` each).
#[derive(Clone, Copy, Debug)]
struct KeyText(u32, u32);

impl KeyText {
    fn get(self, keys: &str) -> &str {
        &keys[self.0 as usize..self.1 as usize]
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {:?}", self.key, self.tree)
    }
}

struct Scope {
    base: usize,
    ann: Option<AnnOut>,
    entries: Vec<Entry>,
}

/// One annotation in a scope's record.
struct Entry {
    /// Path relative to the scope, escaped and joined.
    key: KeyText,
    tree: Tree,
    /// Absolute path length of the annotated value.
    depth: usize,
    /// The last segment, when it is a canonical array index.
    index: Option<u32>,
}

#[derive(Clone, Copy)]
enum Seg {
    Index(u32),
    Static(&'static str),
    Buf(u32, u32),
}

#[derive(Hash, PartialEq, Eq)]
enum IdKey {
    NaN,
    BigInt(String),
    Ptr(usize),
}

struct PathRec {
    text: String,
    segs: usize,
}

/// The encoder's working memory, kept per thread between calls (see [`Encoder::new`]).
#[derive(Default)]
struct Scratch {
    path: Vec<Seg>,
    keybuf: String,
    keys: String,
    scopes: Vec<Scope>,
}

/// Scratch memory beyond this many bytes is freed after a call instead of kept.
const SCRATCH_KEEP: usize = 8 << 20;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            path: Vec::new(),
            keybuf: String::new(),
            keys: String::new(),
            scopes: Vec::new(),
        })
    };
}

impl Scratch {
    /// Take this thread's scratch (or a new one), with one empty root scope.
    fn take() -> Scratch {
        let mut s = reuse::take(&SCRATCH);
        if s.scopes.is_empty() {
            s.scopes.push(Scope {
                base: 0,
                ann: None,
                entries: Vec::new(),
            });
        }
        s
    }

    /// Keep it for this thread's next call, unless it grew beyond [`SCRATCH_KEEP`].
    fn give_back(self) {
        reuse::keep_cleared(&SCRATCH, self, SCRATCH_KEEP);
    }
}

impl reuse::Buffer for Scratch {
    /// The bytes its buffers hold room for.
    fn room(&self) -> usize {
        let entries = self.scopes.first().map_or(0, |s| s.entries.capacity());
        self.keys.capacity()
            + self.keybuf.capacity()
            + self.path.capacity() * std::mem::size_of::<Seg>()
            + entries * std::mem::size_of::<Entry>()
    }
    fn empty(&mut self) {
        self.path.clear();
        self.keybuf.clear();
        self.keys.clear();
        self.scopes.truncate(1);
        if let Some(root) = self.scopes.first_mut() {
            root.entries.clear();
        }
    }
}

/// The encoder state.
pub(crate) struct Encoder {
    pub(crate) out: Vec<u8>,
    pub(crate) mode: Mode,
    dedupe: bool,
    path: Vec<Seg>,
    keybuf: String,
    /// Every annotation's path text, end to end (see [`KeyText`]).
    keys: String,
    /// The annotation scopes; the first is the root's record.
    scopes: Vec<Scope>,
    root_tree: Option<Tree>,
    ids: IndexMap<IdKey, Vec<PathRec>>,
    ancestors: Vec<usize>,
    /// The shared nodes that were `ancestors` when each shared node was first written: a
    /// repeat is written against them, so it cuts cycles where the first visit did (JS
    /// reuses the first visit's result; against the repeat's own ancestors a cycle cut the
    /// first time was expanded, and the bytes differed).
    first_ancestors: HashMap<usize, Vec<usize>>,
    /// > 0 while writing a repeat of a shared node (nothing inside is tracked again).
    replay: u32,
    /// > 0 while inside a shared node (writes there count against the expansion budget).
    pub(crate) in_ref: u32,
    /// What holds the shared nodes the typed writer recorded as identities, alive until the
    /// encode ends: a node's address must name no other node meanwhile, and a `Serialize`
    /// impl may drop the `Value` it came from (see [`Self::shared_payload`], [`Self::built`]).
    keep: Vec<Value>,
    expansion_left: usize,
    depth_left: usize,
    max_depth: usize,
    /// Set when the last value written was `undefined` (plain mode drops such object keys).
    pub(crate) wrote_undefined: bool,
}

const FORBIDDEN: [&str; 3] = ["__proto__", "constructor", "prototype"];

impl Drop for Encoder {
    fn drop(&mut self) {
        Scratch {
            path: std::mem::take(&mut self.path),
            keybuf: std::mem::take(&mut self.keybuf),
            keys: std::mem::take(&mut self.keys),
            scopes: std::mem::take(&mut self.scopes),
        }
        .give_back();
    }
}

impl Encoder {
    /// A new encoder. Its path, annotation records and path texts live in this thread's
    /// scratch memory, kept between calls: a large message's thousands of annotation
    /// records are then not allocated, faulted in and handed back to the kernel on every
    /// call (glibc's malloc did that, and it doubled the time of a 10,000-Date encode).
    pub(crate) fn new(mode: Mode, dedupe: bool, limits: &Limits, capacity: usize) -> Encoder {
        let mut out = Vec::with_capacity(capacity);
        if mode == Mode::SuperJson {
            out.extend_from_slice(b"{\"json\":");
        }
        let Scratch {
            path,
            keybuf,
            keys,
            scopes,
        } = Scratch::take();
        Encoder {
            out,
            mode,
            dedupe,
            path,
            keybuf,
            keys,
            scopes,
            root_tree: None,
            ids: IndexMap::new(),
            ancestors: Vec::new(),
            first_ancestors: HashMap::new(),
            replay: 0,
            in_ref: 0,
            keep: Vec::new(),
            expansion_left: limits.ref_expansion(),
            depth_left: limits.depth(),
            max_depth: limits.depth(),
            wrote_undefined: false,
        }
    }

    fn err_here(&self, e: Error) -> Error {
        e.at_path(self.path_text(0))
    }

    fn seg_text(&self, s: Seg, out: &mut String) {
        match s {
            Seg::Index(i) => {
                out.push_str(itoa::Buffer::new().format(i));
            }
            Seg::Static(k) => push_escaped(out, k),
            Seg::Buf(a, b) => push_escaped(out, &self.keybuf[a as usize..b as usize]),
        }
    }

    /// The path from segment `from` on, appended to the `keys` arena.
    fn key_text(&mut self, from: usize) -> KeyText {
        let start = self.keys.len();
        let mut keys = std::mem::take(&mut self.keys);
        for (i, &seg) in self.path[from..].iter().enumerate() {
            if i > 0 {
                keys.push('.');
            }
            self.seg_text(seg, &mut keys);
        }
        let end = keys.len();
        self.keys = keys;
        KeyText(start as u32, end as u32)
    }

    fn path_text(&self, from: usize) -> String {
        let mut s = String::new();
        for (i, &seg) in self.path[from..].iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            self.seg_text(seg, &mut s);
        }
        s
    }

    // ----- path -----

    #[inline]
    pub(crate) fn push_index(&mut self, i: usize) {
        self.path.push(Seg::Index(i as u32));
    }

    /// Make the last segment (an object's key slot) the static key `k`.
    #[inline]
    pub(crate) fn set_static(&mut self, k: &'static str) {
        if let Some(last) = self.path.last_mut() {
            if let Seg::Buf(a, _) = *last {
                self.keybuf.truncate(a as usize);
            }
            *last = Seg::Static(k);
        }
    }

    /// Make the last segment (an object's key slot) the key `k`.
    #[inline]
    pub(crate) fn set_key(&mut self, k: &str) {
        if let Some(last) = self.path.last_mut() {
            let a = match *last {
                Seg::Buf(a, _) => {
                    self.keybuf.truncate(a as usize);
                    a
                }
                _ => self.keybuf.len() as u32,
            };
            self.keybuf.push_str(k);
            *last = Seg::Buf(a, self.keybuf.len() as u32);
        }
    }

    /// Renumber the last segment, an index pushed with [`Encoder::push_index`].
    #[inline]
    pub(crate) fn set_index(&mut self, i: usize) {
        if let Some(last) = self.path.last_mut() {
            *last = Seg::Index(i as u32);
        }
    }

    #[inline]
    pub(crate) fn push_static(&mut self, k: &'static str) {
        self.path.push(Seg::Static(k));
    }

    #[inline]
    pub(crate) fn push_key(&mut self, k: &str) {
        let a = self.keybuf.len() as u32;
        self.keybuf.push_str(k);
        self.path.push(Seg::Buf(a, self.keybuf.len() as u32));
    }

    #[inline]
    pub(crate) fn pop(&mut self) {
        if let Some(Seg::Buf(a, _)) = self.path.pop() {
            self.keybuf.truncate(a as usize);
        }
    }

    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.depth_left == 0 {
            return Err(self.too_deep());
        }
        self.depth_left -= 1;
        Ok(())
    }

    #[cold]
    fn too_deep(&self) -> Error {
        self.err_here(Error::limit(format!(
            "nesting deeper than the depth limit of {}",
            self.max_depth
        )))
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth_left += 1;
    }

    #[inline]
    pub(crate) fn charge(&mut self) -> Result<()> {
        if self.in_ref > 0 {
            return self.charge_shared();
        }
        Ok(())
    }

    /// One more value written inside a shared node.
    #[cold]
    fn charge_shared(&mut self) -> Result<()> {
        if self.expansion_left == 0 {
            return Err(self.err_here(Error::limit(
                "shared references expand beyond the reference expansion limit",
            )));
        }
        self.expansion_left -= 1;
        Ok(())
    }

    // ----- annotations -----

    fn entry(&mut self, tree: Tree) -> Entry {
        let base = self.scopes.last().map_or(0, |s| s.base);
        let index = match self.path.last() {
            Some(Seg::Index(i)) => Some(*i),
            Some(Seg::Static(k)) => crate::value::number::array_index(k),
            Some(Seg::Buf(a, b)) => {
                crate::value::number::array_index(&self.keybuf[*a as usize..*b as usize])
            }
            None => None,
        };
        Entry {
            key: self.key_text(base),
            tree,
            depth: self.path.len(),
            index,
        }
    }

    /// Where the current scope's record stands, to pass to [`Encoder::end_plain`].
    #[inline]
    pub(crate) fn mark(&self) -> usize {
        self.scopes.last().map_or(0, |s| s.entries.len())
    }

    /// At the end of a plain array or object: JS builds its annotations as an object, so
    /// the ones on its direct children with integer-like keys come first, ascending; the
    /// rest keep their order. Done at every level, as superjson's walker does.
    #[inline]
    pub(crate) fn end_plain(&mut self, mark: usize) {
        // Fewer than two annotations added: nothing to order (most containers).
        if self.mode == Mode::Plain || self.mark() < mark + 2 {
            return;
        }
        self.order_plain(mark);
    }

    fn order_plain(&mut self, mark: usize) {
        let child_depth = self.path.len() + 1;
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        let start = mark.min(scope.entries.len());
        let added = &mut scope.entries[start..];
        let direct_index = |e: &Entry| {
            if e.depth == child_depth {
                e.index
            } else {
                None
            }
        };
        if added.len() < 2 || !added.iter().any(|e| direct_index(e).is_some()) {
            return;
        }
        // Stable: (0, index) for direct integer-keyed children, (1, 0) for the rest.
        added.sort_by_key(|e| match direct_index(e) {
            Some(i) => (0, i),
            None => (1, 0),
        });
    }

    #[inline]
    pub(crate) fn annotate(&mut self, ann: AnnOut) {
        if self.mode == Mode::Plain {
            return;
        }
        if self.path.is_empty() {
            self.root_tree = Some(Tree::Leaf(ann));
            return;
        }
        let e = self.entry(Tree::Leaf(ann));
        if let Some(s) = self.scopes.last_mut() {
            s.entries.push(e);
        }
    }

    pub(crate) fn open_container(&mut self, ann: AnnOut) {
        if self.mode == Mode::Plain {
            return;
        }
        self.scopes.push(Scope {
            base: self.path.len(),
            ann: Some(ann),
            entries: Vec::new(),
        });
    }

    pub(crate) fn close_container(&mut self) {
        if self.mode == Mode::Plain || self.scopes.len() < 2 {
            return;
        }
        let Some(scope) = self.scopes.pop() else {
            return;
        };
        let Some(ann) = scope.ann else { return };
        let tree = if scope.entries.is_empty() {
            Tree::Leaf(ann)
        } else {
            Tree::Node(ann, scope.entries)
        };
        if self.path.is_empty() {
            self.root_tree = Some(tree);
            return;
        }
        let e = self.entry(tree);
        if let Some(s) = self.scopes.last_mut() {
            s.entries.push(e);
        }
    }

    // ----- identities -----

    fn record(&mut self, key: IdKey) {
        let rec = PathRec {
            text: self.path_text(0),
            segs: self.path.len(),
        };
        self.ids.entry(key).or_default().push(rec);
    }

    /// With `dedupe`, a value tracked by value (NaN, a bigint) that was written before is
    /// written as `null` and recorded as a reference. Returns true when it did so.
    fn dedupe_repeat(&mut self, key: IdKey) -> bool {
        if !self.dedupe || self.replay > 0 || !self.ids.contains_key(&key) {
            return false;
        }
        self.write_null();
        self.record(key);
        true
    }

    // ----- scalars -----

    pub(crate) fn write_null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    /// `undefined`: `null` in the text, plus its annotation in superjson (plain JSON has none:
    /// `wrote_undefined` lets the object writer leave the property out, as `JSON.stringify`).
    pub(crate) fn write_undefined(&mut self) {
        self.out.extend_from_slice(b"null");
        if self.mode != Mode::Plain {
            self.annotate(AnnOut::Simple("undefined"));
        }
        self.wrote_undefined = true;
    }

    pub(crate) fn write_bool(&mut self, b: bool) {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
    }

    #[inline]
    pub(crate) fn write_f64(&mut self, n: f64) {
        if n.is_finite() && !(n == 0.0 && n.is_sign_negative()) {
            write_finite(&mut self.out, n);
        } else {
            self.write_special_f64(n);
        }
    }

    /// NaN, ±Infinity and -0: annotated in superjson, what `JSON.stringify` writes in
    /// plain JSON.
    #[inline(never)]
    fn write_special_f64(&mut self, n: f64) {
        if self.mode == Mode::Plain {
            // What JSON.stringify writes: null for NaN and ±Infinity, 0 for -0.
            if n == 0.0 {
                self.out.push(b'0');
            } else {
                self.write_null();
            }
            return;
        }
        if n.is_nan() && self.dedupe_repeat(IdKey::NaN) {
            return;
        }
        let text: &[u8] = if n.is_nan() {
            b"\"NaN\""
        } else if n == f64::INFINITY {
            b"\"Infinity\""
        } else if n == f64::NEG_INFINITY {
            b"\"-Infinity\""
        } else {
            b"\"-0\""
        };
        self.out.extend_from_slice(text);
        self.annotate(AnnOut::Simple("number"));
        if n.is_nan() && self.replay == 0 {
            self.record(IdKey::NaN);
        }
    }

    pub(crate) fn write_i128(&mut self, n: i128) {
        if (n.unsigned_abs() as f64) <= MAX_SAFE_INTEGER {
            write_int(&mut self.out, n as i64);
        } else {
            self.write_bigint_text(n.to_string());
        }
    }

    /// A bigint from its decimal text.
    pub(crate) fn write_bigint_text(&mut self, digits: String) {
        if self.mode == Mode::SuperJson
            && self.dedupe
            && self.ids.contains_key(&IdKey::BigInt(digits.clone()))
        {
            self.dedupe_repeat(IdKey::BigInt(digits));
            return;
        }
        self.out.push(b'"');
        self.out.extend_from_slice(digits.as_bytes());
        self.out.push(b'"');
        if self.mode == Mode::SuperJson {
            self.annotate(AnnOut::Simple("bigint"));
            if self.replay == 0 {
                self.record(IdKey::BigInt(digits));
            }
        }
    }

    pub(crate) fn write_string(&mut self, s: &str) {
        write_str(&mut self.out, s);
    }

    /// One of an Error's own props, `"key":value`.
    fn error_prop(&mut self, k: &str, val: &Value) -> Result<()> {
        self.check_key(k)?;
        write_str(&mut self.out, k);
        self.out.push(b':');
        self.push_key(k);
        self.value(val)?;
        self.pop();
        Ok(())
    }

    /// A string that superjson annotates (`Date`, `regexp`, `URL`).
    pub(crate) fn write_annotated_str(&mut self, s: &str, ann: &'static str) {
        write_str(&mut self.out, s);
        self.annotate(AnnOut::Simple(ann));
    }

    pub(crate) fn write_date(&mut self, d: crate::Date) {
        if let Some(iso) = d.iso_bytes() {
            self.out.push(b'"');
            self.out.extend_from_slice(iso.as_bytes());
            self.out.push(b'"');
            self.annotate(AnnOut::Simple("Date"));
        } else if self.mode == Mode::Plain {
            self.write_null();
        } else {
            // superjson 2.2.6 writes an unannotated null, which reads back as null: the Date
            // is lost. `""` under `Date` (superjson PR #355) reads back as an invalid Date in
            // every JS version, so nothing is lost.
            self.out.extend_from_slice(b"\"\"");
            self.annotate(AnnOut::Simple("Date"));
        }
    }

    pub(crate) fn write_bytes(&mut self, b: &[u8]) -> Result<()> {
        self.annotate(AnnOut::Composite("typed-array".into(), "Uint8Array".into()));
        self.out.push(b'[');
        for (i, &x) in b.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_int(&mut self.out, i64::from(x));
        }
        self.out.push(b']');
        Ok(())
    }

    /// Check an object key that JS's superjson refuses to write.
    #[inline]
    pub(crate) fn check_key(&self, k: &str) -> Result<()> {
        // The forbidden keys are 9 and 11 bytes long.
        if matches!(k.len(), 9 | 11) && self.mode == Mode::SuperJson && FORBIDDEN.contains(&k) {
            return Err(self.err_here(Error::data(format!(
                "Detected property {k}. This is a prototype pollution risk, please remove it from your object."
            ))));
        }
        Ok(())
    }

    // ----- the Value walker -----

    /// Write `v` at the current position.
    pub(crate) fn value(&mut self, v: &Value) -> Result<()> {
        crate::stack::grow_every(self.depth_left, || self.value_inner(v))
    }

    /// Levels of nesting still allowed.
    #[inline]
    pub(crate) fn depth_left(&self) -> usize {
        self.depth_left
    }

    fn value_inner(&mut self, v: &Value) -> Result<()> {
        self.charge()?;
        self.wrote_undefined = false;
        match v {
            Value::Undefined => {
                self.write_undefined();
            }
            Value::Null => self.write_null(),
            Value::Bool(b) => self.write_bool(*b),
            Value::Number(n) => self.write_f64(*n),
            Value::BigInt(b) => self.write_bigint_text(b.to_string()),
            Value::String(s) => self.write_string(s),
            Value::Bytes(b) => self.write_bytes(b)?,
            Value::TypedArray(t) => {
                self.annotate(AnnOut::Composite(
                    "typed-array".into(),
                    t.kind.name().into(),
                ));
                self.out.push(b'[');
                for (i, &n) in t.elements.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    if n.is_finite() {
                        write_finite(&mut self.out, n);
                    } else if self.mode == Mode::Plain {
                        self.write_null();
                    } else {
                        // superjson HEAD (#349): non-finite elements as strings, which 2.2.6
                        // readers also turn back into the numbers.
                        let t = crate::value::number::format(n);
                        write_str(&mut self.out, &t);
                    }
                }
                self.out.push(b']');
            }
            Value::Array(a) => {
                self.enter()?;
                let mark = self.mark();
                self.out.push(b'[');
                for (i, item) in a.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.push_index(i);
                    self.value(item)?;
                    self.pop();
                }
                self.out.push(b']');
                self.end_plain(mark);
                self.leave();
            }
            Value::Object(o) => {
                self.enter()?;
                let mark = self.mark();
                self.out.push(b'{');
                let mut first = true;
                let mut entry = |this: &mut Encoder, k: &String, val: &Value| -> Result<()> {
                    if this.mode == Mode::Plain && val.is_undefined() {
                        return Ok(());
                    }
                    if !first {
                        this.out.push(b',');
                    }
                    first = false;
                    write_str(&mut this.out, k);
                    this.out.push(b':');
                    this.push_key(k);
                    this.check_key(k)?;
                    this.value(val)?;
                    this.pop();
                    Ok(())
                };
                if o.is_js_ordered() {
                    for (k, val) in o {
                        entry(self, k, val)?;
                    }
                } else {
                    for (k, val) in o.js_order() {
                        entry(self, k, val)?;
                    }
                }
                self.out.push(b'}');
                self.end_plain(mark);
                self.leave();
            }
            Value::Map(m) => {
                self.enter()?;
                self.open_container(AnnOut::Simple("map"));
                self.out.push(b'[');
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.push_index(i);
                    let mark = self.mark();
                    self.out.push(b'[');
                    self.push_index(0);
                    self.value(k)?;
                    self.pop();
                    self.out.push(b',');
                    self.push_index(1);
                    self.value(val)?;
                    self.pop();
                    self.out.push(b']');
                    self.end_plain(mark);
                    self.pop();
                }
                self.out.push(b']');
                self.close_container();
                self.leave();
            }
            Value::Set(s) => {
                self.enter()?;
                self.open_container(AnnOut::Simple("set"));
                self.out.push(b'[');
                for (i, item) in s.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.push_index(i);
                    self.value(item)?;
                    self.pop();
                }
                self.out.push(b']');
                self.close_container();
                self.leave();
            }
            Value::Date(d) => self.write_date(*d),
            Value::RegExp(r) => self.write_annotated_str(&r.to_literal(), "regexp"),
            Value::Url(u) => self.write_annotated_str(u, "URL"),
            Value::Error(e) => {
                self.enter()?;
                self.open_container(AnnOut::Simple("Error"));
                // JS property order: integer-like prop keys come before `name`.
                let (props, ints) = e.props.js_order_parts();
                self.out.push(b'{');
                for (k, val) in &props[..ints] {
                    if !(self.mode == Mode::Plain && val.is_undefined()) {
                        self.error_prop(k, val)?;
                        self.out.push(b',');
                    }
                }
                self.out.extend_from_slice(b"\"name\":");
                write_str(&mut self.out, &e.name);
                self.out.extend_from_slice(b",\"message\":");
                write_str(&mut self.out, &e.message);
                if let Some(c) = &e.cause {
                    if !(self.mode == Mode::Plain && c.is_undefined()) {
                        self.out.extend_from_slice(b",\"cause\":");
                        self.push_static("cause");
                        self.value(c)?;
                        self.pop();
                    }
                }
                if let Some(st) = &e.stack {
                    self.out.extend_from_slice(b",\"stack\":");
                    write_str(&mut self.out, st);
                }
                for (k, val) in &props[ints..] {
                    if self.mode == Mode::Plain && val.is_undefined() {
                        continue;
                    }
                    self.out.push(b',');
                    self.error_prop(k, val)?;
                }
                self.out.push(b'}');
                self.close_container();
                self.leave();
            }
            Value::Annotated(a) => {
                self.enter()?;
                self.open_container(AnnOut::Composite(a.kind.clone(), a.id.clone()));
                self.value(&a.value)?;
                self.close_container();
                self.leave();
            }
            Value::Ref(r) => self.shared(r)?,
            // `{"type":t,"data":[bytes]}`; superjson marks it `["custom","msgpack.ext"]`, which
            // its reader turns back into this kind.
            Value::Ext { ty, data } => {
                self.annotate(AnnOut::Composite(
                    "custom".into(),
                    crate::value::EXT_ANNOTATION.into(),
                ));
                self.out.extend_from_slice(b"{\"type\":");
                self.out
                    .extend_from_slice(itoa::Buffer::new().format(*ty).as_bytes());
                self.out.extend_from_slice(b",\"data\":[");
                for (i, b) in data.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.out
                        .extend_from_slice(itoa::Buffer::new().format(*b).as_bytes());
                }
                self.out.extend_from_slice(b"]}");
            }
        }
        Ok(())
    }

    fn shared(&mut self, r: &Ref) -> Result<()> {
        let addr = r.addr();
        let cycle = self.ancestors.contains(&addr);
        if self.mode == Mode::Plain {
            if cycle || r.is_back_reference() && r.resolve().is_none() {
                return Err(self.err_here(Error::unsupported(
                    "a cyclic value cannot be written as plain JSON",
                )));
            }
        } else if cycle {
            self.write_null();
            if self.replay == 0 {
                self.record(IdKey::Ptr(addr));
            }
            return Ok(());
        }
        let Some(resolved) = r.resolve() else {
            self.write_null();
            return Ok(());
        };
        // Primitives are never shared by identity in JS: written as they are, before their
        // place is recorded (a shared string got `referentialEqualities` JS never writes,
        // and a shared NaN or bigint its by-value entry twice).
        if resolved.is_primitive() {
            return self.value(&resolved);
        }
        let seen = self.mode == Mode::SuperJson && self.ids.contains_key(&IdKey::Ptr(addr));
        if self.mode == Mode::SuperJson && self.replay == 0 {
            self.record(IdKey::Ptr(addr));
        }
        if seen && self.dedupe {
            self.write_null();
            return Ok(());
        }
        // A repeat is written against its first visit's ancestors, borrowed from the map
        // for the time (they are kept only when repeats are written: not with `dedupe`).
        let outer = if seen {
            self.replay += 1;
            let first = self.first_ancestors.remove(&addr).unwrap_or_default();
            Some(std::mem::replace(&mut self.ancestors, first))
        } else {
            if self.mode == Mode::SuperJson && !self.dedupe {
                self.first_ancestors.insert(addr, self.ancestors.clone());
            }
            None
        };
        self.in_ref += 1;
        self.ancestors.push(addr);
        let res = self.value(&resolved);
        self.ancestors.pop();
        self.in_ref -= 1;
        if let Some(outer) = outer {
            let first = std::mem::replace(&mut self.ancestors, outer);
            self.first_ancestors.insert(addr, first);
            self.replay -= 1;
        }
        res
    }

    /// Write a value the typed writer built from a payload (an Error's props, an annotated
    /// value) and keep it until the encode ends: the shared nodes it holds (claimed from the
    /// `Serialize` impl's `Value`) are recorded by address.
    pub(crate) fn built(&mut self, v: Value) -> Result<()> {
        let res = self.value(&v);
        if self.mode == Mode::SuperJson {
            self.keep.push(v);
        }
        res
    }

    /// A shared node met by the typed writer (a `SHARED` newtype), written by `write`: its
    /// places are recorded as [`Self::shared`] records them. The node is kept until the
    /// encode ends: a `Serialize` impl may drop a temporary `Value` whose node's address
    /// another node would then take. No cycle reaches here (`Value`'s `Serialize` refuses
    /// back-references).
    pub(crate) fn shared_payload(
        &mut self,
        node: Ref,
        write: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let addr = node.addr();
        let identity = self.mode == Mode::SuperJson;
        let seen = identity && self.ids.contains_key(&IdKey::Ptr(addr));
        if identity && !seen {
            self.keep.push(Value::Ref(node));
        }
        if identity && self.replay == 0 {
            self.record(IdKey::Ptr(addr));
        }
        if seen && self.dedupe {
            self.write_null();
            return Ok(());
        }
        // Nothing inside a repeat is recorded: JS reuses the first visit's result.
        self.replay += u32::from(seen);
        self.in_ref += 1;
        let res = self.charge().and_then(|_| write(self));
        self.in_ref -= 1;
        self.replay -= u32::from(seen);
        res
    }

    // ----- finishing -----

    /// Close the envelope and return the text.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.mode == Mode::Plain {
            return std::mem::take(&mut self.out);
        }
        let root_entries: &[Entry] = self.scopes.first().map_or(&[], |s| &s.entries);
        let has_values = self.root_tree.is_some() || !root_entries.is_empty();
        let refs: Vec<(PathRec, Vec<PathRec>)> = std::mem::take(&mut self.ids)
            .into_values()
            .filter(|paths| paths.len() >= 2)
            .map(|mut paths| {
                if !self.dedupe {
                    paths.sort_by_key(|p| p.segs);
                }
                let rep = paths.remove(0);
                (rep, paths)
            })
            .collect();
        if !has_values && refs.is_empty() {
            self.out.push(b'}');
            return std::mem::take(&mut self.out);
        }
        self.out.extend_from_slice(b",\"meta\":{");
        let out = &mut self.out;
        if has_values {
            out.extend_from_slice(b"\"values\":");
            match self.root_tree.take() {
                Some(t) => write_tree(out, &self.keys, &t),
                None => write_record(out, &self.keys, root_entries),
            }
            if !refs.is_empty() {
                out.push(b',');
            }
        }
        if !refs.is_empty() {
            out.extend_from_slice(b"\"referentialEqualities\":");
            let (root, rest): (Vec<_>, Vec<_>) =
                refs.into_iter().partition(|(rep, _)| rep.segs == 0);
            let write_targets = |out: &mut Vec<u8>, targets: &[PathRec]| {
                out.push(b'[');
                for (i, t) in targets.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, &t.text);
                }
                out.push(b']');
            };
            let write_rec = |out: &mut Vec<u8>, rest: &[(PathRec, Vec<PathRec>)]| {
                out.push(b'{');
                for (i, (rep, targets)) in
                    js_ordered(rest, |(r, _)| &r.text).into_iter().enumerate()
                {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, &rep.text);
                    out.push(b':');
                    write_targets(out, targets);
                }
                out.push(b'}');
            };
            match root.first() {
                Some((_, targets)) => {
                    out.push(b'[');
                    write_targets(out, targets);
                    if !rest.is_empty() {
                        out.push(b',');
                        write_rec(out, &rest);
                    }
                    out.push(b']');
                }
                None => write_rec(out, &rest),
            }
        }
        out.extend_from_slice(b",\"v\":1}}");
        std::mem::take(&mut self.out)
    }
}

/// Entries in JS property order: integer-like keys first (ascending), then the rest in
/// insertion order.
fn js_ordered<'a, T>(items: &'a [T], key: impl Fn(&'a T) -> &'a str) -> Vec<&'a T> {
    let mut idx: Vec<(u32, &T)> = Vec::new();
    let mut rest = Vec::with_capacity(items.len());
    for it in items {
        match crate::value::number::array_index(key(it)) {
            Some(i) => idx.push((i, it)),
            None => rest.push(it),
        }
    }
    if idx.is_empty() {
        return rest;
    }
    idx.sort_by_key(|(i, _)| *i);
    idx.into_iter().map(|(_, t)| t).chain(rest).collect()
}

fn write_ann(out: &mut Vec<u8>, a: &AnnOut) {
    match a {
        // polycodec's own annotation names: plain ASCII, nothing to escape.
        AnnOut::Simple(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        AnnOut::Composite(k, id) => {
            out.push(b'[');
            write_str(out, k);
            out.push(b',');
            write_str(out, id);
            out.push(b']');
        }
    }
}

fn write_tree(out: &mut Vec<u8>, keys: &str, t: &Tree) {
    out.push(b'[');
    match t {
        Tree::Leaf(a) => write_ann(out, a),
        Tree::Node(a, entries) => {
            write_ann(out, a);
            out.push(b',');
            write_record(out, keys, entries);
        }
    }
    out.push(b']');
}

fn write_record(out: &mut Vec<u8>, keys: &str, entries: &[Entry]) {
    let write = |out: &mut Vec<u8>, i: usize, e: &Entry| {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, e.key.get(keys));
        out.push(b':');
        write_tree(out, keys, &e.tree);
    };
    out.push(b'{');
    let integer_like = |e: &Entry| crate::value::number::array_index(e.key.get(keys)).is_some();
    if entries.iter().any(integer_like) {
        for (i, e) in js_ordered(entries, |e| e.key.get(keys))
            .into_iter()
            .enumerate()
        {
            write(out, i, e);
        }
    } else {
        for (i, e) in entries.iter().enumerate() {
            write(out, i, e);
        }
    }
    out.push(b'}');
}

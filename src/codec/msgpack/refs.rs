//! msgpackr's structured-clone references: `d6 69 <u32 id>` in front of a value that is met
//! again later, `d6 70 <u32 id>` at each later place (and at the place that closes a cycle).
//!
//! Writing (msgpackr profile), a shared node's first place is noted; a second place gives it
//! the next id (1, 2, ... in the order second places are met, as msgpackr numbers them) and
//! writes a pointer; at the end each id is put in front of its node's first place. Reading,
//! a target becomes a shared [`Ref`], a pointer the same node (a back-reference inside it).

use super::write::Writer;
use crate::value::{Ref, Value};
use crate::Result;
use std::collections::HashMap;

/// A node met by the writer: where its first place starts, and its id once it has one.
struct Seen {
    at: usize,
    id: Option<u32>,
}

/// The writer's reference bookkeeping for one message.
#[derive(Default)]
pub(crate) struct RefIds {
    seen: HashMap<usize, Seen>,
    inserts: Vec<(usize, u32)>,
}

impl RefIds {
    /// `out` with `d6 69 <id>` put in front of each referenced node's first place.
    pub(crate) fn insert_ids(mut self, out: Vec<u8>) -> Vec<u8> {
        if self.inserts.is_empty() {
            return out;
        }
        self.inserts.sort_unstable();
        let mut v = Vec::with_capacity(out.len() + 6 * self.inserts.len());
        let mut from = 0;
        for (at, id) in self.inserts {
            v.extend_from_slice(&out[from..at]);
            v.extend_from_slice(&[0xd6, 0x69]);
            v.extend_from_slice(&id.to_be_bytes());
            from = at;
        }
        v.extend_from_slice(&out[from..]);
        v
    }
}

impl Writer {
    /// A shared node in the msgpackr profile: in full at its first place, a pointer at the
    /// others. Primitives have no identity in JS: written as they are.
    pub(crate) fn shared_ref(&mut self, r: &Ref) -> Result<()> {
        let addr = r.addr();
        let next = self.refs.inserts.len() as u32 + 1;
        if let Some(seen) = self.refs.seen.get_mut(&addr) {
            let id = match seen.id {
                Some(id) => id,
                None => {
                    seen.id = Some(next);
                    self.refs.inserts.push((seen.at, next));
                    next
                }
            };
            self.out.extend_from_slice(&[0xd6, 0x70]);
            self.out.extend_from_slice(&id.to_be_bytes());
            return Ok(());
        }
        let Some(inner) = r.resolve() else {
            self.nil();
            return Ok(());
        };
        if js_primitive(&inner) {
            return self.value(&inner);
        }
        self.refs.seen.insert(
            addr,
            Seen {
                at: self.out.len(),
                id: None,
            },
        );
        self.value(&inner)
    }
}

/// Whether `v` is a primitive once msgpackr reads it (a URL is its href, an annotated value
/// its payload): JS gives it no identity, so msgpackr never writes a reference to it.
fn js_primitive(v: &Value) -> bool {
    match v {
        Value::Url(_) => true,
        Value::Annotated(a) => js_primitive(&a.value),
        // One level: a node whose value is itself a reference has identity.
        Value::Ref(r) => r
            .resolve()
            .is_some_and(|x| !matches!(*x, Value::Ref(_)) && js_primitive(&x)),
        v => v.is_primitive(),
    }
}

/// The reference targets a reader has met in this message.
#[derive(Default)]
pub(crate) struct Targets {
    nodes: HashMap<u32, Target>,
}

/// A reference target: its node (still being read while `open`), or a primitive, which has
/// no identity in JS (a pointer to it is the value again).
enum Target {
    Node { node: Ref, open: bool },
    Primitive(Value),
}

impl Targets {
    /// Start target `id`: its node, still being read. `None` when the id is taken.
    pub(crate) fn open(&mut self, id: u32) -> Option<Ref> {
        if self.nodes.contains_key(&id) {
            return None;
        }
        let node = Ref::pending();
        self.nodes.insert(
            id,
            Target::Node {
                node: node.clone(),
                open: true,
            },
        );
        Some(node)
    }

    /// Target `id` is read as `v`: what its place holds (the shared node, or a primitive
    /// as it is).
    pub(crate) fn close(&mut self, id: u32, node: Ref, v: Value) -> Value {
        if v.is_primitive() {
            self.nodes.insert(id, Target::Primitive(v.clone()));
            return v;
        }
        node.fill(v);
        self.nodes.insert(
            id,
            Target::Node {
                node: node.clone(),
                open: false,
            },
        );
        Value::Ref(node)
    }

    /// What a pointer to `id` reads as: the node, or a back-reference to it while it is
    /// still being read (a cycle). `None` for an id not met yet.
    pub(crate) fn pointer(&self, id: u32) -> Option<Value> {
        Some(match self.nodes.get(&id)? {
            Target::Node { node, open: true } => Value::Ref(node.downgrade()),
            Target::Node { node, open: false } => Value::Ref(node.clone()),
            Target::Primitive(v) => v.clone(),
        })
    }
}

//! Applying `referentialEqualities` when decoding.
//!
//! The decoded tree is moved into an arena, each reference rewires an edge (read the node at
//! the representative path, make every target path point to it), and the graph is turned
//! back into a [`Value`] where nodes with several parents become [`Ref`]s and edges back to
//! an ancestor become back-references. Nothing is ever copied per reference, so a small
//! payload that describes a huge DAG stays small; all work is linear in the payload.
//!
//! This rebuilds the graph JS meant, not JS's reading of it: superjson's reviver re-inserts
//! Set members and Map keys at the end (#346) and can pick a cut copy as representative
//! (#361); polycodec does neither. Links are made shorter target paths first, so a link the
//! writer recorded inside a node's first visit lands on the node its path was made to mean,
//! and Set members and Map keys collapse only after the links are made (`null` placeholders
//! of cut cycles are told apart by them). `tests/js_interop.rs` checks 1,000 random graphs
//! with cycles from the real `superjson.stringify` come back byte for byte.

use super::meta::Refs;
use crate::value::same_value_zero::{dedupe_entries, dedupe_members};
use crate::value::{Annotated, JsError, Object, Ref, Value};
use crate::{Error, Result};
use indexmap::IndexMap;
use std::collections::HashMap;

type Id = usize;

enum Node {
    Leaf(Value),
    Array(Vec<Id>),
    Object(IndexMap<String, Id>),
    Map(Vec<(Id, Id)>),
    Set(Vec<Id>),
    Error {
        name: String,
        message: String,
        stack: Option<String>,
        cause: Option<Id>,
        props: IndexMap<String, Id>,
    },
    Annotated {
        kind: String,
        id: String,
        inner: Id,
    },
}

struct Arena {
    nodes: Vec<Node>,
}

impl Arena {
    fn add(&mut self, n: Node) -> Id {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn add_value(&mut self, v: Value) -> Id {
        crate::stack::grow(|| self.add_value_inner(v))
    }

    fn add_value_inner(&mut self, v: Value) -> Id {
        let node = match v {
            Value::Array(a) => Node::Array(a.into_iter().map(|x| self.add_value(x)).collect()),
            Value::Object(o) => {
                Node::Object(o.into_iter().map(|(k, x)| (k, self.add_value(x))).collect())
            }
            Value::Map(m) => Node::Map(
                m.into_iter()
                    .map(|(k, x)| (self.add_value(k), self.add_value(x)))
                    .collect(),
            ),
            Value::Set(s) => Node::Set(s.into_iter().map(|x| self.add_value(x)).collect()),
            Value::Error(e) => {
                let e = *e;
                Node::Error {
                    name: e.name,
                    message: e.message,
                    stack: e.stack,
                    cause: e.cause.map(|c| self.add_value(c)),
                    props: e
                        .props
                        .into_iter()
                        .map(|(k, x)| (k, self.add_value(x)))
                        .collect(),
                }
            }
            Value::Annotated(a) => {
                let a = *a;
                let inner = self.add_value(a.value);
                Node::Annotated {
                    kind: a.kind,
                    id: a.id,
                    inner,
                }
            }
            other => Node::Leaf(other),
        };
        self.add(node)
    }

    /// The node at `path` from `root`; `None` where JS would read `undefined`.
    fn get(&self, root: Id, path: &[String]) -> Result<Option<Id>> {
        let mut cur = root;
        let mut i = 0;
        while i < path.len() {
            let seg = &path[i];
            let next = match &self.nodes[cur] {
                // `array[seg]`: only a canonical index names an element ("01" reads
                // undefined in JS).
                Node::Array(a) => {
                    crate::value::number::array_index(seg).and_then(|j| a.get(j as usize).copied())
                }
                Node::Object(o) => o.get(seg.as_str()).copied(),
                // The size itself reads as undefined in JS; past it is an error.
                Node::Set(s) => s.get(index(seg, s.len())?).copied(),
                Node::Map(m) => {
                    let row = index(seg, m.len())?;
                    i += 1;
                    let Some(&(k, v)) = m.get(row) else {
                        return Ok(None);
                    };
                    match path.get(i).map(String::as_str) {
                        // JS: `+segment === 0` names the key ("00", "-0" and "" too).
                        Some(seg) if is_zero(seg) => Some(k),
                        Some(_) => Some(v),
                        None => return Err(Error::data("a Map path needs a key/value segment")),
                    }
                }
                Node::Error { cause, props, .. } => {
                    if seg == "cause" {
                        *cause
                    } else {
                        props.get(seg.as_str()).copied()
                    }
                }
                Node::Annotated { inner, .. } => {
                    // Class properties live on the inner object; do not consume the segment.
                    cur = *inner;
                    continue;
                }
                Node::Leaf(_) => None,
            };
            match next {
                Some(n) => cur = n,
                None => return Ok(None),
            }
            i += 1;
        }
        Ok(Some(cur))
    }

    /// Make `path` point to `target`. Holes made by extending an array are taken from
    /// `budget` (see [`super::annotate::unbacked_error`]).
    fn set(&mut self, root: Id, path: &[String], target: Id, budget: &mut usize) -> Result<()> {
        let Some((last, parent_path)) = path.split_last() else {
            return Err(Error::data("a reference target cannot be the root"));
        };
        // A Map slot needs the row segment too.
        if let Some(pp) = parent_path.split_last() {
            // The grandparent path may itself stop inside a Map row; then this is no Map slot.
            if let Some(gp) = self.get(root, pp.1).ok().flatten() {
                let gp = resolve_annotated(&self.nodes, gp);
                if let Node::Map(m) = &mut self.nodes[gp] {
                    let row = index(pp.0, m.len())?;
                    let Some(entry) = m.get_mut(row) else {
                        return Ok(());
                    };
                    if is_zero(last) {
                        entry.0 = target;
                    } else {
                        entry.1 = target;
                    }
                    return Ok(());
                }
            }
        }
        let Some(parent) = self.get(root, parent_path)? else {
            // A missing parent is ignored, as in JS.
            return Ok(());
        };
        let parent = resolve_annotated(&self.nodes, parent);
        match &mut self.nodes[parent] {
            Node::Array(a) => {
                if let Ok(j) = last.parse::<usize>() {
                    if j < a.len() {
                        a[j] = target;
                    } else {
                        // JS extends the array; the gap reads as undefined.
                        let gap = j - a.len();
                        *budget = budget
                            .checked_sub(gap)
                            .ok_or_else(super::annotate::unbacked_error)?;
                        a.resize(j, usize::MAX);
                        a.push(target);
                    }
                }
            }
            Node::Object(o) => {
                o.insert(last.clone(), target);
            }
            Node::Set(s) => {
                let j = index(last, s.len())?;
                match s.get_mut(j) {
                    Some(slot) => *slot = target,
                    None => s.push(target),
                }
            }
            Node::Error { cause, props, .. } => {
                if last == "cause" {
                    *cause = Some(target);
                } else {
                    props.insert(last.clone(), target);
                }
            }
            Node::Map(_) | Node::Annotated { .. } | Node::Leaf(_) => {}
        }
        Ok(())
    }
}

fn resolve_annotated(nodes: &[Node], mut id: Id) -> Id {
    while let Some(Node::Annotated { inner, .. }) = nodes.get(id) {
        id = *inner;
    }
    id
}

/// JS's `+segment === 0`: the segment that names a Map entry's key.
fn is_zero(seg: &str) -> bool {
    crate::value::number::string_to_number(seg) == 0.0
}

fn oob() -> Error {
    Error::data("index out of bounds")
}

/// A Set or Map row index: indexes past the size are rejected before any work (#305).
fn index(seg: &str, len: usize) -> Result<usize> {
    let i: usize = seg.parse().map_err(|_| oob())?;
    if i > len {
        return Err(oob());
    }
    Ok(i)
}

/// Apply `refs` to a decoded value.
/// `unbacked` is how many array holes may still be made (see
/// [`super::annotate::unbacked_error`]).
pub(crate) fn apply(
    value: Value,
    refs: &Refs,
    limits: &crate::Limits,
    mut unbacked: usize,
) -> Result<Value> {
    let mut arena = Arena { nodes: Vec::new() };
    let root = arena.add_value(value);
    let undefined = arena.add(Node::Leaf(Value::Undefined));
    for target in &refs.root_targets {
        arena.set(root, target, root, &mut unbacked)?;
    }
    // Shorter target paths first (stable), each source read when its target is set: a
    // link recorded inside a node's first visit (`a.0.0`, a cycle cut there) then lands on
    // the node that its path (`a.0`) was made to mean, even when that node's representative
    // is another, cut copy (`d`). In key order, the link was set on the copy at `a.0`, which
    // the later `a.0 := d` replaced, and the cycle was lost (as in JS's own reader, #361).
    let mut links: Vec<(&[String], &[String])> = refs
        .entries
        .iter()
        .flat_map(|(rep, targets)| targets.iter().map(move |t| (t.as_slice(), rep.as_slice())))
        .collect();
    links.sort_by_key(|(target, _)| target.len());
    let mut sources: HashMap<&[String], Id> = HashMap::new();
    for (target, rep) in links {
        let src = match sources.get(rep) {
            Some(&src) => src,
            None => {
                let src = arena.get(root, rep)?.unwrap_or(undefined);
                sources.insert(rep, src);
                src
            }
        };
        arena.set(root, target, src, &mut unbacked)?;
    }
    // Holes left by extending arrays read as undefined.
    for n in &mut arena.nodes {
        if let Node::Array(a) = n {
            for x in a.iter_mut().filter(|x| **x == usize::MAX) {
                *x = undefined;
            }
        }
    }
    Builder::new(arena, root, limits.depth()).build(root)
}

struct Builder {
    arena: Arena,
    indegree: Vec<u32>,
    built: HashMap<Id, Ref>,
    on_stack: Vec<bool>,
    root: Id,
    max_depth: usize,
    depth: usize,
}

impl Builder {
    fn new(arena: Arena, root: Id, max_depth: usize) -> Builder {
        let n = arena.nodes.len();
        let mut b = Builder {
            arena,
            indegree: vec![0; n],
            built: HashMap::new(),
            on_stack: vec![false; n],
            root,
            max_depth,
            depth: 0,
        };
        b.count_indegrees(root);
        b
    }

    fn children(&self, id: Id) -> Vec<Id> {
        match &self.arena.nodes[id] {
            Node::Leaf(_) => Vec::new(),
            Node::Array(a) | Node::Set(a) => a.clone(),
            Node::Object(o) => o.values().copied().collect(),
            Node::Map(m) => m.iter().flat_map(|&(k, v)| [k, v]).collect(),
            Node::Error { cause, props, .. } => cause
                .iter()
                .copied()
                .chain(props.values().copied())
                .collect(),
            Node::Annotated { inner, .. } => vec![*inner],
        }
    }

    fn count_indegrees(&mut self, root: Id) {
        let mut seen = vec![false; self.arena.nodes.len()];
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if seen[id] {
                continue;
            }
            seen[id] = true;
            for c in self.children(id) {
                self.indegree[c] += 1;
                if !seen[c] {
                    stack.push(c);
                }
            }
        }
    }

    fn build(mut self, root: Id) -> Result<Value> {
        self.node(root)
    }

    fn node(&mut self, id: Id) -> Result<Value> {
        if let Node::Leaf(v) = &self.arena.nodes[id] {
            if v.is_primitive() || self.indegree[id] < 2 {
                return Ok(v.clone());
            }
        }
        let shared = self.indegree[id] >= 2 || (id == self.root && self.indegree[id] >= 1);
        if !shared {
            return self.content(id);
        }
        if let Some(r) = self.built.get(&id) {
            return Ok(Value::Ref(if self.on_stack[id] {
                r.downgrade()
            } else {
                r.clone()
            }));
        }
        let r = Ref::pending();
        self.built.insert(id, r.clone());
        self.on_stack[id] = true;
        let v = self.content(id)?;
        self.on_stack[id] = false;
        r.fill(v);
        Ok(Value::Ref(r))
    }

    fn content(&mut self, id: Id) -> Result<Value> {
        crate::stack::grow(|| self.content_inner(id))
    }

    fn content_inner(&mut self, id: Id) -> Result<Value> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Error::limit(format!(
                "references nest deeper than the depth limit of {}",
                self.max_depth
            )));
        }
        let out = match &self.arena.nodes[id] {
            Node::Leaf(v) => v.clone(),
            Node::Array(a) | Node::Set(a) => {
                let is_set = matches!(self.arena.nodes[id], Node::Set(_));
                let items = a.clone();
                let vals = items
                    .into_iter()
                    .map(|c| self.node(c))
                    .collect::<Result<Vec<_>>>()?;
                if is_set {
                    // A reference can make two members the same; `new Set` keeps one.
                    Value::Set(dedupe_members(vals))
                } else {
                    Value::Array(vals)
                }
            }
            Node::Object(o) => {
                let entries: Vec<(String, Id)> = o.iter().map(|(k, &v)| (k.clone(), v)).collect();
                let mut out = Object::with_capacity(entries.len());
                for (k, c) in entries {
                    let v = self.node(c)?;
                    out.insert(k, v);
                }
                Value::Object(out)
            }
            Node::Map(m) => {
                let m = m.clone();
                let mut out = Vec::with_capacity(m.len());
                for (k, v) in m {
                    out.push((self.node(k)?, self.node(v)?));
                }
                // A reference can make two keys the same; a JS Map keeps one entry.
                Value::Map(dedupe_entries(out))
            }
            Node::Error {
                name,
                message,
                stack,
                cause,
                props,
            } => {
                let (name, message, stack, cause) =
                    (name.clone(), message.clone(), stack.clone(), *cause);
                let props: Vec<(String, Id)> = props.iter().map(|(k, &v)| (k.clone(), v)).collect();
                let cause = cause.map(|c| self.node(c)).transpose()?;
                let mut p = Object::with_capacity(props.len());
                for (k, c) in props {
                    let v = self.node(c)?;
                    p.insert(k, v);
                }
                Value::Error(Box::new(JsError {
                    name,
                    message,
                    stack,
                    cause,
                    props: p,
                }))
            }
            Node::Annotated {
                kind,
                id: aid,
                inner,
            } => {
                let (kind, aid, inner) = (kind.clone(), aid.clone(), *inner);
                let value = self.node(inner)?;
                Value::Annotated(Box::new(Annotated {
                    kind,
                    id: aid,
                    value,
                }))
            }
        };
        self.depth -= 1;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::codec::SuperJson;
    use crate::Value;

    fn decode(text: &str) -> Value {
        SuperJson::new().decode_value(text.as_bytes()).unwrap()
    }

    #[test]
    fn map_keys_made_identical_by_references_keep_one_entry() {
        // Both keys are pointed at the same (missing, so undefined) source: as `new Map`,
        // the first position stays and the last value wins.
        let v = decode(
            r#"{"json":{"m":[[{"k":1},"one"],[{"k":2},"two"]]},"meta":{"values":{"m":["map"]},
                "referentialEqualities":{"absent.0":["m.0.0"],"absent.1":["m.1.0"]},"v":1}}"#,
        );
        let m = v.get("m").unwrap();
        assert_eq!(m, &Value::Map(vec![(Value::Undefined, Value::from("two"))]));
        // Same for two keys made into one shared object.
        let v = decode(
            r#"{"json":{"a":{"k":1},"m":[[{"k":1},"one"],[{"k":1},"two"]]},"meta":{"values":{"m":["map"]},
                "referentialEqualities":{"a":["m.0.0","m.1.0"]},"v":1}}"#,
        );
        let Some(Value::Map(m)) = v.get("m") else {
            panic!("not a map: {v:?}");
        };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].1, Value::from("two"));
    }

    #[test]
    fn set_members_made_identical_by_references_keep_one() {
        let v = decode(
            r#"{"json":{"a":{"k":1},"s":[{"k":1},{"k":1},3]},"meta":{"values":{"s":["set"]},
                "referentialEqualities":{"a":["s.0","s.1"]},"v":1}}"#,
        );
        let Some(Value::Set(s)) = v.get("s") else {
            panic!("not a set: {v:?}");
        };
        assert_eq!(s.len(), 2);
        assert_eq!(s[1], Value::from(3));
    }
}

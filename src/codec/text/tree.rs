//! The annotation trie the text reader walks alongside the text: which JS kind (an [`Ann`])
//! sits at which path. superjson's `meta.values` fills it; plain JSON reads with an empty
//! one.

use crate::value::{number, TypedArrayKind};
use crate::{Error, Result};
use indexmap::{Equivalent, IndexMap};

/// One annotation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ann {
    Undefined,
    BigInt,
    Date,
    RegExp,
    Set,
    Map,
    Number,
    Error,
    Url,
    Uint8Array,
    TypedArray(TypedArrayKind),
    /// `class`, `symbol`, `custom`, or a typed array polycodec does not model (boxed: the
    /// rare case should not make every trie node carry two strings).
    Opaque(Box<OpaqueAnn>),
}

/// The two names of an [`Ann::Opaque`] annotation, as in `["class", "Point"]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OpaqueAnn {
    pub kind: String,
    pub id: String,
}

impl Ann {
    /// The annotation a single-name transformation (`["Date"]`, `["set"]`, ...) stands for.
    pub(crate) fn simple(name: &str) -> Option<Ann> {
        Some(match name {
            "undefined" => Ann::Undefined,
            "bigint" => Ann::BigInt,
            "Date" => Ann::Date,
            "regexp" => Ann::RegExp,
            "set" => Ann::Set,
            "map" => Ann::Map,
            "number" => Ann::Number,
            "Error" => Ann::Error,
            "URL" => Ann::Url,
            _ => return None,
        })
    }
}

/// A path segment as a trie edge: canonical array indexes and other keys are kept apart so
/// that array elements can be looked up without formatting their index.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Seg {
    Index(u32),
    Key(Box<str>),
}

/// A node's own segment: an index, or a key kept in the tree's `keys` arena (one buffer
/// for every key instead of an allocation per node).
#[derive(Clone, Copy, Debug)]
enum NodeSeg {
    Index(u32),
    Key(u32, u32),
}

impl Default for NodeSeg {
    fn default() -> Self {
        NodeSeg::Key(0, 0)
    }
}

#[derive(Clone, Copy, Hash)]
enum SegRef<'a> {
    // Hashed like `Seg::Index` and `Seg::Key`.
    Index(u32),
    Key(&'a str),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Edge {
    parent: u32,
    seg: Seg,
}

#[derive(Hash)]
struct EdgeRef<'a> {
    parent: u32,
    seg: SegRef<'a>,
}

impl Equivalent<Edge> for EdgeRef<'_> {
    fn equivalent(&self, e: &Edge) -> bool {
        self.parent == e.parent
            && match (&self.seg, &e.seg) {
                (SegRef::Index(a), Seg::Index(b)) => a == b,
                (SegRef::Key(a), Seg::Key(b)) => *a == &**b,
                _ => false,
            }
    }
}

fn seg_of(s: &str) -> SegRef<'_> {
    match number::array_index(s) {
        Some(i) => SegRef::Index(i),
        None => SegRef::Key(s),
    }
}

/// Id of a trie node; [`NONE`] means "no annotations at or below here".
pub(crate) type NodeId = u32;
/// No node.
pub(crate) const NONE: NodeId = u32::MAX;
/// The root of the trie.
pub(crate) const ROOT: NodeId = 0;

#[derive(Debug, Default)]
struct Node {
    ann: Option<Ann>,
    children: u32,
    parent: NodeId,
    /// The segment that leads here from the parent (matched by the parent's small list,
    /// and rendered in error messages).
    seg: NodeSeg,
    /// Children of nodes with few of them (the first `small_len`), searched linearly by
    /// their `seg` (most nodes have one or two); nodes with more use the hashed edge table.
    small: [NodeId; SMALL],
    small_len: u8,
    /// Array-index children by index, while they come densely (`0`, `1`, ... as superjson
    /// writes them): looked up without hashing. The list is `MetaTree::dense[dense - 1]`;
    /// 0 for none (most nodes have none, and a `Vec` here would make every node 20 bytes
    /// larger).
    dense: u32,
    /// Once the node's non-dense children moved to the hashed table (it "spilled"), those
    /// children, listed for walking a subtree (finding them in the table meant a
    /// scan of every edge per node, quadratic for a skipped field with a large annotation
    /// subtree): `MetaTree::spills[spill - 1]`, 0 for none.
    spill: u32,
}

impl Node {
    /// The children in the small list.
    #[inline]
    fn smalls(&self) -> &[NodeId] {
        &self.small[..usize::from(self.small_len)]
    }
}

/// Up to this many children a node keeps them in a list.
const SMALL: usize = 6;

/// All annotations of a payload, as a trie keyed by path segments.
#[derive(Debug)]
pub(crate) struct MetaTree {
    nodes: Vec<Node>,
    /// The text of every key segment, end to end (see [`NodeSeg::Key`]).
    keys: String,
    /// Where the key stored last is in `keys` (see [`MetaTree::key_text`]).
    last_key: (u32, u32),
    /// The nodes' dense index lists (see `Node::dense`).
    dense: Vec<Vec<NodeId>>,
    /// Edges of nodes with many children (made on first use: most trees have none).
    edges: Option<Box<IndexMap<Edge, NodeId>>>,
    /// The children in the table, per spilled node (see `Node::spill`).
    spills: Vec<Vec<NodeId>>,
    annotations: usize,
}

impl Default for MetaTree {
    fn default() -> Self {
        let mut nodes = spare::take(&spare::NODES);
        nodes.push(Node {
            parent: NONE,
            ..Node::default()
        });
        MetaTree {
            nodes,
            keys: spare::take(&spare::KEYS),
            last_key: (0, 0),
            dense: Vec::new(),
            edges: None,
            spills: Vec::new(),
            annotations: 0,
        }
    }
}

impl Drop for MetaTree {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        spare::keep_cleared(&spare::NODES, nodes, spare::MAX_NODES);
        let keys = std::mem::take(&mut self.keys);
        spare::keep_cleared(&spare::KEYS, keys, spare::MAX_KEY_BYTES);
    }
}

/// Buffers a dropped tree (and a finished read's applied flags) leave for the next decode on
/// the same thread: a small message otherwise pays an allocation for each (and for the
/// nodes, a reallocation as they grow). Kept only up to a size, and never during the
/// thread's teardown.
pub(crate) mod spare {
    use super::Node;
    use std::cell::Cell;

    /// The most node slots kept (72 bytes each): trees of small and medium messages.
    pub(super) const MAX_NODES: usize = 1024;
    /// The most key text kept, in bytes.
    pub(super) const MAX_KEY_BYTES: usize = 16 * 1024;
    /// The most applied flags kept.
    pub(crate) const MAX_FLAGS: usize = 4 * MAX_NODES;

    thread_local! {
        pub(super) static NODES: Cell<Vec<Node>> = const { Cell::new(Vec::new()) };
        pub(super) static KEYS: Cell<String> = const { Cell::new(String::new()) };
        pub(crate) static FLAGS: Cell<Vec<bool>> = const { Cell::new(Vec::new()) };
    }

    pub(crate) use crate::codec::reuse::{keep_cleared, take};
}

impl MetaTree {
    /// True when there is nothing to apply.
    pub(crate) fn is_empty(&self) -> bool {
        self.annotations == 0
    }

    /// Number of annotations.
    pub(crate) fn len(&self) -> usize {
        self.annotations
    }

    /// Number of nodes (annotated or not).
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The annotation at `node`.
    #[inline]
    pub(crate) fn ann(&self, node: NodeId) -> Option<&Ann> {
        self.nodes.get(node as usize).and_then(|n| n.ann.as_ref())
    }

    /// True when `node` has children.
    #[inline]
    pub(crate) fn has_children(&self, node: NodeId) -> bool {
        self.nodes
            .get(node as usize)
            .is_some_and(|n| n.children > 0)
    }

    /// The child of `node` at array index `i` ([`NONE`] below `NONE`).
    #[inline]
    pub(crate) fn child_index(&self, node: NodeId, i: usize) -> NodeId {
        if node == NONE || !self.has_children(node) || i > u32::MAX as usize {
            return NONE;
        }
        self.child(node, SegRef::Index(i as u32)).unwrap_or(NONE)
    }

    /// The child of `node` at object key `k` ([`NONE`] below `NONE`).
    #[inline]
    pub(crate) fn child_key(&self, node: NodeId, k: &str) -> NodeId {
        if node == NONE || !self.has_children(node) {
            return NONE;
        }
        self.child(node, seg_of(k)).unwrap_or(NONE)
    }

    /// Every node below `node` (itself included) that carries an annotation.
    pub(crate) fn annotated_below(&self, node: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if self.ann(n).is_some() {
                out.push(n);
            }
            if self.has_children(n) {
                let node = &self.nodes[n as usize];
                stack.extend(node.smalls().iter().copied());
                stack.extend(self.dense_of(node).iter().copied().filter(|&c| c != NONE));
                if node.spill != 0 {
                    stack.extend(self.spills[node.spill as usize - 1].iter().copied());
                }
            }
        }
        out
    }

    /// The path of `node`, escaped, for error messages.
    pub(crate) fn path_of(&self, mut node: NodeId) -> String {
        let mut segs = Vec::new();
        while node != ROOT && node != NONE {
            let n = &self.nodes[node as usize];
            segs.push(match n.seg {
                NodeSeg::Index(i) => i.to_string(),
                NodeSeg::Key(a, b) => {
                    crate::path::escape_segment(&self.keys[a as usize..b as usize]).into_owned()
                }
            });
            node = n.parent;
        }
        segs.reverse();
        segs.join(".")
    }

    /// A node's dense index list (empty for most).
    #[inline]
    fn dense_of(&self, n: &Node) -> &[NodeId] {
        match n.dense {
            0 => &[],
            d => &self.dense[d as usize - 1],
        }
    }

    /// The child of `cur` along `seg`, looked up the way reads do: dense indexes, then the
    /// small list, then (for nodes that outgrew the list) the hashed table.
    #[inline]
    fn child(&self, cur: NodeId, seg: SegRef<'_>) -> Option<NodeId> {
        let n = &self.nodes[cur as usize];
        if let SegRef::Index(i) = seg {
            if let Some(&c) = self.dense_of(n).get(i as usize) {
                if c != NONE {
                    return Some(c);
                }
            }
        }
        if let Some(&c) = n
            .smalls()
            .iter()
            .find(|&&c| self.seg_is(self.nodes[c as usize].seg, seg))
        {
            return Some(c);
        }
        if n.spill != 0 {
            let edge = EdgeRef { parent: cur, seg };
            return self.edges.as_ref().and_then(|e| e.get(&edge).copied());
        }
        None
    }

    /// True when a node's own segment is `seg`.
    #[inline]
    fn seg_is(&self, own: NodeSeg, seg: SegRef<'_>) -> bool {
        match (own, seg) {
            (NodeSeg::Index(a), SegRef::Index(b)) => a == b,
            (NodeSeg::Key(a, b), SegRef::Key(k)) => &self.keys[a as usize..b as usize] == k,
            _ => false,
        }
    }

    /// A node's segment as an owned edge segment (for the hashed table).
    fn owned_seg(&self, own: NodeSeg) -> Seg {
        match own {
            NodeSeg::Index(i) => Seg::Index(i),
            NodeSeg::Key(a, b) => Seg::Key(self.keys[a as usize..b as usize].into()),
        }
    }

    /// The node at `segs` below `from`, created (with the nodes on the way) if missing.
    pub(crate) fn node_at<S: AsRef<str>>(&mut self, from: NodeId, segs: &[S]) -> NodeId {
        self.node_along(from, segs.iter().map(AsRef::as_ref))
    }

    /// A tree with room for `nodes` nodes.
    pub(crate) fn with_capacity(nodes: usize) -> MetaTree {
        let mut t = MetaTree::default();
        t.nodes.reserve(nodes.saturating_sub(t.nodes.len()));
        t
    }

    /// [`MetaTree::node_at`] over segments as they come.
    pub(crate) fn node_along<'s>(
        &mut self,
        from: NodeId,
        segs: impl Iterator<Item = &'s str>,
    ) -> NodeId {
        let mut cur = from;
        for s in segs {
            let seg = seg_of(s);
            if self.nodes[cur as usize].children > 0 {
                if let Some(existing) = self.child(cur, seg) {
                    cur = existing;
                    continue;
                }
            }
            let id = self.nodes.len() as NodeId;
            let own = match seg {
                SegRef::Index(i) => NodeSeg::Index(i),
                SegRef::Key(k) => self.key_text(k),
            };
            let dense_len = self.dense_of(&self.nodes[cur as usize]).len();
            let parent = &mut self.nodes[cur as usize];
            parent.children += 1;
            let placed = match seg {
                // Indexes written in order go to a dense array: no hashing at all.
                SegRef::Index(i) if (i as usize) <= dense_len + 64 => {
                    if parent.dense == 0 {
                        self.dense.push(Vec::new());
                        parent.dense = self.dense.len() as u32;
                    }
                    let list = &mut self.dense[parent.dense as usize - 1];
                    let i = i as usize;
                    if i >= list.len() {
                        list.resize(i + 1, NONE);
                    }
                    list[i] = id;
                    true
                }
                _ if parent.spill == 0 && usize::from(parent.small_len) < SMALL => {
                    parent.small[usize::from(parent.small_len)] = id;
                    parent.small_len += 1;
                    true
                }
                _ => false,
            };
            if !placed {
                // Past the small list: every non-dense edge of this node moves to the table.
                let moved = parent.small;
                let count = usize::from(std::mem::take(&mut parent.small_len));
                if parent.spill == 0 {
                    self.spills.push(Vec::new());
                    parent.spill = self.spills.len() as u32;
                }
                let list = &mut self.spills[parent.spill as usize - 1];
                list.extend_from_slice(&moved[..count]);
                list.push(id);
                let mut edges = self.edges.take().unwrap_or_default();
                for &c in &moved[..count] {
                    let s2 = self.owned_seg(self.nodes[c as usize].seg);
                    edges.insert(
                        Edge {
                            parent: cur,
                            seg: s2,
                        },
                        c,
                    );
                }
                edges.insert(
                    Edge {
                        parent: cur,
                        seg: self.owned_seg(own),
                    },
                    id,
                );
                self.edges = Some(edges);
            }
            self.nodes.push(Node {
                parent: cur,
                seg: own,
                ..Node::default()
            });
            cur = id;
        }
        cur
    }

    /// `k` as a key segment in the `keys` arena. The same key under every element of an
    /// array (`0.at`, `1.at`, ...) is stored once: a key equal to the last one stored
    /// shares its text.
    fn key_text(&mut self, k: &str) -> NodeSeg {
        let (start, end) = self.last_key;
        if &self.keys[start as usize..end as usize] == k {
            return NodeSeg::Key(start, end);
        }
        let start = self.keys.len() as u32;
        self.keys.push_str(k);
        self.last_key = (start, self.keys.len() as u32);
        NodeSeg::Key(start, self.keys.len() as u32)
    }

    /// Put `ann` on `node`; a different annotation already there is an error.
    pub(crate) fn annotate(&mut self, node: NodeId, ann: Ann) -> Result<()> {
        let slot = &mut self.nodes[node as usize].ann;
        match slot {
            Some(old) if *old != ann => Err(Error::data(format!(
                "conflicting annotations {old:?} and {ann:?}"
            ))
            .at_path(self.path_of(node))),
            Some(_) => Ok(()),
            None => {
                *slot = Some(ann);
                self.annotations += 1;
                Ok(())
            }
        }
    }
}

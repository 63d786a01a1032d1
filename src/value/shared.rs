//! [`Ref`]: object identity in a [`Value`](super::Value) (superjson `referentialEqualities`).

use super::Value;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock, Weak};

/// A node shared by several places of a value, or a back-reference that closes a cycle.
///
/// JS values are graphs: the same object can sit in two places, or contain itself. superjson
/// writes that identity in `referentialEqualities`; polycodec keeps it as a `Ref` so that a
/// small payload describing a large DAG stays small (nothing is copied per reference) and
/// re-encoding writes the same references back.
///
/// A strong `Ref` owns its node (cloning it shares the node). A back-reference
/// ([`Ref::downgrade`]) points to an enclosing node without owning it, so cycles do not leak.
///
/// ```
/// use polycodec::{Value, Ref};
/// let shared = Value::from(vec![Value::from(1)]).into_shared();
/// let v = Value::Array(vec![Value::Ref(shared.clone()), Value::Ref(shared)]);
/// // Codecs with identity (superjson) write one copy and a reference; the others write both.
/// assert_eq!(polycodec::codec::SuperJson::new().encode_value_to_string(&v).unwrap(),
///            r#"{"json":[[1],[1]],"meta":{"referentialEqualities":{"0":["1"]},"v":1}}"#);
/// ```
#[derive(Clone)]
pub struct Ref(Inner);

#[derive(Clone)]
enum Inner {
    Strong(Arc<Node>),
    Back(Weak<Node>),
}

struct Node {
    value: OnceLock<Value>,
}

static UNDEFINED: Value = Value::Undefined;

impl Ref {
    /// A new shared node holding `value`.
    pub fn new(value: Value) -> Ref {
        Ref(Inner::Strong(Arc::new(Node {
            value: OnceLock::from(value),
        })))
    }

    /// A node whose value is set later with [`Ref::fill`] (used to build cycles).
    pub(crate) fn pending() -> Ref {
        Ref(Inner::Strong(Arc::new(Node {
            value: OnceLock::new(),
        })))
    }

    /// Set the value of a node made by [`Ref::pending`]. Does nothing if already set.
    pub(crate) fn fill(&self, value: Value) {
        if let Inner::Strong(a) = &self.0 {
            let _ = a.value.set(value);
        }
    }

    /// A node that contains references to itself, like `Arc::new_cyclic`: `build` gets a
    /// back-reference to the node being made and returns its value.
    ///
    /// ```
    /// use polycodec::{Object, Ref, Value};
    /// let node = Ref::new_cyclic(|me| {
    ///     let mut o = Object::new();
    ///     o.insert("self", Value::Ref(me.clone()));
    ///     Value::Object(o)
    /// });
    /// let v = Value::Ref(node);
    /// assert_eq!(v, v.clone());
    /// ```
    pub fn new_cyclic(build: impl FnOnce(&Ref) -> Value) -> Ref {
        let node = Ref::pending();
        let back = node.downgrade();
        node.fill(build(&back));
        node
    }

    /// A back-reference to the same node, which does not keep it alive. Use it for the
    /// place that closes a cycle.
    pub fn downgrade(&self) -> Ref {
        match &self.0 {
            Inner::Strong(a) => Ref(Inner::Back(Arc::downgrade(a))),
            Inner::Back(w) => Ref(Inner::Back(w.clone())),
        }
    }

    /// True for a back-reference made by [`Ref::downgrade`].
    pub fn is_back_reference(&self) -> bool {
        matches!(self.0, Inner::Back(_))
    }

    /// The shared value. `None` only for a back-reference whose node has been dropped.
    pub fn resolve(&self) -> Option<Resolved> {
        let arc = match &self.0 {
            Inner::Strong(a) => a.clone(),
            Inner::Back(w) => w.upgrade()?,
        };
        Some(Resolved(arc))
    }

    /// True when both point to the same node.
    pub fn ptr_eq(&self, other: &Ref) -> bool {
        self.addr() == other.addr()
    }

    /// An address that identifies the node while it is alive.
    pub fn addr(&self) -> usize {
        match &self.0 {
            Inner::Strong(a) => Arc::as_ptr(a) as usize,
            Inner::Back(w) => w.as_ptr() as usize,
        }
    }
}

thread_local! {
    /// The node whose value `Value`'s `Serialize` is handing a serializer as a
    /// [`magic::SHARED`](super::magic::SHARED) payload, as a back-reference (it keeps no
    /// value alive), so that polycodec's serializers can claim the node itself.
    static OFFERED: std::cell::Cell<Option<Ref>> = const { std::cell::Cell::new(None) };
}

impl Ref {
    /// Offer this node to the serializer about to receive its value as a `SHARED` payload.
    pub(crate) fn offer(&self) {
        // `try_with`: during a thread-local's destructor the slot may be gone; nothing is
        // offered then (the node is written as a copy).
        let _ = OFFERED.try_with(|slot| slot.set(Some(self.downgrade())));
    }

    /// The node whose value `payload` is, if it was the last one offered on this thread:
    /// a strong `Ref` that keeps it alive (so its address names no other node while a
    /// serializer uses it as an identity). `None` for a payload that is no offered node's
    /// value (a `SHARED` newtype made by hand, or one a foreign serializer left unclaimed
    /// before it; also a payload that reached the serializer through a wrapper that passes
    /// on a reference to it, as `erased_serde` does: its address is not the node's, and the
    /// node is written as a copy).
    pub(crate) fn claim<T: ?Sized>(payload: &T) -> Option<Ref> {
        let Ref(Inner::Back(w)) = OFFERED.try_with(|slot| slot.take()).ok().flatten()? else {
            return None;
        };
        let node = w.upgrade()?;
        let value = node.value.get()?;
        std::ptr::addr_eq(value as *const Value, payload as *const T)
            .then(|| Ref(Inner::Strong(node)))
    }
}

/// A resolved [`Ref`]: derefs to the shared value and keeps it alive.
pub struct Resolved(Arc<Node>);

impl Deref for Resolved {
    type Target = Value;
    fn deref(&self) -> &Value {
        // A pending node is only visible while a decoder builds a cycle; it reads as
        // undefined there.
        self.0.value.get().unwrap_or(&UNDEFINED)
    }
}

thread_local! {
    /// Nodes already printed by the outermost `Debug` call in progress, so that a shared
    /// node is printed once (a DAG can be exponentially larger than its payload).
    static PRINTED: std::cell::RefCell<(usize, std::collections::HashSet<usize>)> =
        Default::default();
}

impl fmt::Debug for Ref {
    /// Prints the shared value the first time a node is met in one `Debug` call, and only
    /// `Ref#id` after that.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.addr() & 0xffff;
        let Inner::Strong(a) = &self.0 else {
            return write!(f, "BackRef#{id:x}");
        };
        let first = PRINTED.with(|p| {
            let mut p = p.borrow_mut();
            p.0 += 1;
            p.1.insert(self.addr())
        });
        let res = match (first, a.value.get()) {
            (true, Some(v)) => write!(f, "Ref#{id:x}({v:?})"),
            (true, None) => write!(f, "Ref#{id:x}(<pending>)"),
            (false, _) => write!(f, "Ref#{id:x}"),
        };
        PRINTED.with(|p| {
            let mut p = p.borrow_mut();
            p.0 -= 1;
            if p.0 == 0 {
                p.1.clear();
            }
        });
        res
    }
}

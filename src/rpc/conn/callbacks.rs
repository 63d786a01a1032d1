//! Functions across the connection: ours that the peer may call (passed as arguments), and
//! the live stubs of the peer's functions we were passed.

use crate::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// A function of ours that the peer may call (a callback we passed as an argument).
pub type LocalCallback = Arc<dyn Fn(Vec<Value>) + Send + Sync>;

/// One argument of an outgoing call: a value, or a Rust closure the peer can call back.
#[derive(Clone)]
pub enum CallArg {
    /// A value.
    Value(Value),
    /// A function the peer receives as a callable stub.
    Callback(LocalCallback),
}

impl<T: Into<Value>> From<T> for CallArg {
    fn from(v: T) -> CallArg {
        CallArg::Value(v.into())
    }
}

impl CallArg {
    /// A callback from a closure.
    pub fn callback(f: impl Fn(Vec<Value>) + Send + Sync + 'static) -> CallArg {
        CallArg::Callback(Arc::new(f))
    }
}

/// The callbacks of one connection; `S` is the stub of a peer's function.
pub(crate) struct Callbacks<S> {
    local: Mutex<HashMap<String, LocalCallback>>,
    /// The live stubs of the peer's functions, by id: a function passed again (or twice in
    /// one call) gets the same stub, so that its release goes out once its last clone is
    /// dropped (with a stub per call, the first one dropped released a function another
    /// still used, and the peer ignored its later calls).
    stubs: Mutex<HashMap<String, Weak<S>>>,
}

impl<S> Default for Callbacks<S> {
    fn default() -> Self {
        Callbacks {
            local: Mutex::default(),
            stubs: Mutex::default(),
        }
    }
}

impl<S> Callbacks<S> {
    /// Let the peer call `f` as `id`.
    pub(crate) fn register(&self, id: String, f: LocalCallback) {
        if let Ok(mut c) = self.local.lock() {
            c.insert(id, f);
        }
    }

    /// Our function `id`, if the peer may still call it.
    pub(crate) fn get(&self, id: &str) -> Option<LocalCallback> {
        self.local.lock().ok().and_then(|c| c.get(id).cloned())
    }

    /// Forget our functions `ids` (released by the peer, or their call ended unanswered).
    pub(crate) fn release<I: IntoIterator<Item = T>, T: AsRef<str>>(&self, ids: I) {
        if let Ok(mut c) = self.local.lock() {
            for id in ids {
                c.remove(id.as_ref());
            }
        }
    }

    /// Forget every function of ours.
    pub(crate) fn clear(&self) {
        if let Ok(mut c) = self.local.lock() {
            c.clear();
        }
    }

    /// The stub of the peer's function `id`: the live one if there is one, else `make()`.
    pub(crate) fn stub(&self, id: String, make: impl FnOnce(String) -> S) -> Arc<S> {
        let mut stubs = self.stubs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = stubs.get(&id).and_then(Weak::upgrade) {
            return live;
        }
        let stub = Arc::new(make(id.clone()));
        stubs.insert(id, Arc::downgrade(&stub));
        stub
    }

    /// The stub of `id` was dropped: forget it, unless a new one was made meanwhile.
    pub(crate) fn stub_dropped(&self, id: &str) {
        if let Ok(mut stubs) = self.stubs.lock() {
            if stubs.get(id).is_some_and(|w| w.strong_count() == 0) {
                stubs.remove(id);
            }
        }
    }
}

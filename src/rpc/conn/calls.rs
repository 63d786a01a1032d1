//! The calls this side made and waits for: the pending table, matched by id to the replies.

use crate::rpc::error::Error;
use crate::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Where a call's reply goes.
pub(crate) type Reply = oneshot::Sender<Result<Value, Error>>;

/// The pending calls of one connection, and its counter of ids.
#[derive(Default)]
pub(crate) struct Calls {
    pending: Mutex<HashMap<String, Reply>>,
    next: AtomicU64,
}

/// The table key of a reply's id (ids are sent as strings; a peer may echo a number).
fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::value::number::format(*n),
        other => format!("{other:?}"),
    }
}

impl Calls {
    /// A number not handed out before on this connection (for call and callback ids).
    pub(crate) fn next_number(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Wait for the reply to call `id`.
    pub(crate) fn insert(&self, id: String, reply: Reply) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, reply);
        }
    }

    /// Hand a reply to its call; false for an unknown id.
    pub(crate) fn answer(&self, id: &Value, result: Result<Value, Error>) -> bool {
        let reply = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&id_key(id)));
        match reply {
            Some(reply) => {
                let _ = reply.send(result);
                true
            }
            None => false,
        }
    }

    /// Stop waiting for call `id`.
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(id);
        }
    }

    /// Fail every pending call at once with `error()`.
    pub(crate) fn fail_all(&self, error: impl Fn() -> Error) {
        let pending: Vec<_> = self
            .pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for (_, reply) in pending {
            let _ = reply.send(Err(error()));
        }
    }
}

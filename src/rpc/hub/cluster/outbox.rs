//! The bounded queue of what this node sends to Redis, in order: pushes, history appends,
//! presence batches and (un)subscriptions. An item leaves only once Redis took it, so what
//! was queued while Redis was down goes out when it is back. Past `cap` the oldest push is
//! dropped, counted, and logged at most once a second.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// One thing to send.
#[derive(Clone, Debug)]
pub(crate) enum Cmd {
    /// `PUBLISH channel payload`.
    Publish { channel: String, payload: Arc<[u8]> },
    /// A recoverable room's push: append to its stream and publish, atomically (Lua), once
    /// per `seq`. `delivered`: this node's members have it (else they get it from Redis).
    Ordered {
        room: String,
        payload: Arc<[u8]>,
        seq: u64,
        delivered: bool,
    },
    /// Append to a room's capped history list, once per `seq`.
    History {
        room: String,
        payload: Arc<[u8]>,
        cap: usize,
        seq: u64,
    },
    /// Subscribe to a channel (a room got its first member or listener here).
    Subscribe(String),
    /// Unsubscribe (a room lost its last member and listener here).
    Unsubscribe(String),
    /// A presence batch: snapshot writes and the delta, `Ctl::Delta` bytes.
    Presence {
        batch: Arc<super::presence::Batch>,
        delta: Arc<[u8]>,
    },
}

impl Cmd {
    /// State that a new session rewrites whole (subscriptions, presence): dropped then.
    fn is_state(&self) -> bool {
        matches!(
            self,
            Cmd::Subscribe(_) | Cmd::Unsubscribe(_) | Cmd::Presence { .. }
        )
    }
}

struct Item {
    id: u64,
    cmd: Cmd,
    done: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Inner {
    items: VecDeque<Item>,
    next_id: u64,
    /// The next push's sequence number.
    seq: u64,
    last_warn: Option<Instant>,
    /// A session is up: recoverable rooms' pushes may wait for Redis' echo.
    online: bool,
}

/// The queue. Cheap operations under one lock; the publisher waits on `notify`.
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
    cap: usize,
    dropped: AtomicU64,
}

impl Outbox {
    /// A queue of at most `cap` items (state items are never dropped for room).
    pub fn new(cap: usize) -> Outbox {
        Outbox {
            inner: Mutex::default(),
            notify: Notify::new(),
            cap: cap.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue what `make` builds from the next sequence number (taken under the lock, so
    /// that the queue's order is the sequence's order).
    /// Returns the item dropped for room, if one was.
    #[must_use]
    pub fn push_seq(
        &self,
        make: impl FnOnce(u64) -> Cmd,
        done: Option<oneshot::Sender<()>>,
    ) -> Option<Cmd> {
        let mut inner = self.lock();
        inner.seq += 1;
        let cmd = make(inner.seq);
        let dropped = self.push_locked(&mut inner, cmd, done);
        drop(inner);
        self.notify.notify_one();
        dropped
    }

    /// Like [`Outbox::push_seq`], only while a session is up (`Err(())` else: the caller
    /// delivers here at once). Deciding under the queue's lock keeps this node's order:
    /// [`Outbox::go_offline`] delivers what waited before any later push is delivered.
    pub fn push_online(&self, make: impl FnOnce(u64) -> Cmd) -> Result<Option<Cmd>, ()> {
        let mut inner = self.lock();
        if !inner.online {
            return Err(());
        }
        inner.seq += 1;
        let cmd = make(inner.seq);
        let dropped = self.push_locked(&mut inner, cmd, None);
        drop(inner);
        self.notify.notify_one();
        Ok(dropped)
    }

    /// A session is up.
    pub fn go_online(&self) {
        self.lock().online = true;
    }

    /// The session is lost: under the lock, hand every queued item to `f`, in order (it
    /// delivers the undelivered recoverable pushes here and marks them delivered).
    pub fn go_offline(&self, mut f: impl FnMut(&mut Cmd)) {
        let mut inner = self.lock();
        inner.online = false;
        for item in inner.items.iter_mut() {
            f(&mut item.cmd);
        }
    }

    /// Queue `cmd`; `done` is told once Redis took it (or once it was dropped, or a
    /// session failed while it waited: then it stays queued).
    pub fn push(&self, cmd: Cmd, done: Option<oneshot::Sender<()>>) {
        let mut inner = self.lock();
        let _state_is_never_dropped = self.push_locked(&mut inner, cmd, done);
        drop(inner);
        self.notify.notify_one();
    }

    fn push_locked(
        &self,
        inner: &mut Inner,
        cmd: Cmd,
        done: Option<oneshot::Sender<()>>,
    ) -> Option<Cmd> {
        let data = inner.items.iter().filter(|i| !i.cmd.is_state()).count();
        let mut dropped = None;
        if !cmd.is_state() && data >= self.cap {
            if let Some(pos) = inner.items.iter().position(|i| !i.cmd.is_state()) {
                dropped = inner.items.remove(pos).map(|i| i.cmd);
            }
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let now = Instant::now();
            if inner
                .last_warn
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                inner.last_warn = Some(now);
                tracing::warn!(
                    dropped = total,
                    cap = self.cap,
                    "cluster outbox full: the oldest cross-node message was dropped"
                );
            }
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.items.push_back(Item { id, cmd, done });
        dropped
    }

    /// Up to `max` items from the front, left in the queue, with the id of the last.
    pub fn peek(&self, max: usize) -> (Vec<Cmd>, u64) {
        let inner = self.lock();
        let batch: Vec<Cmd> = inner
            .items
            .iter()
            .take(max)
            .map(|i| i.cmd.clone())
            .collect();
        let n = inner.items.len().min(max);
        let last = n.checked_sub(1).map_or(0, |i| inner.items[i].id);
        (batch, last)
    }

    /// Redis took everything up to `id`.
    pub fn ack(&self, id: u64) {
        let mut inner = self.lock();
        while inner.items.front().is_some_and(|i| i.id <= id) {
            if let Some(mut item) = inner.items.pop_front() {
                if let Some(d) = item.done.take() {
                    let _ = d.send(());
                }
            }
        }
    }

    /// A session failed: wake whoever waits on a queued item (it stays queued).
    pub fn release_waiters(&self) {
        for item in self.lock().items.iter_mut() {
            if let Some(d) = item.done.take() {
                let _ = d.send(());
            }
        }
    }

    /// A new session rewrites subscriptions and presence whole: drop the queued ones.
    /// Returns who waited on them, to be told once the session has rewritten them.
    pub fn drop_state(&self) -> Vec<oneshot::Sender<()>> {
        let mut waiting = Vec::new();
        self.lock().items.retain_mut(|i| {
            if !i.cmd.is_state() {
                return true;
            }
            waiting.extend(i.done.take());
            false
        });
        waiting
    }

    /// Wait until something may have been queued (enable it before looking).
    pub fn wait(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Pushes dropped for room so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(n: u8) -> Cmd {
        Cmd::Publish {
            channel: "c".into(),
            payload: Arc::from(vec![n]),
        }
    }

    #[test]
    fn the_oldest_push_goes_when_full_and_state_is_never_dropped() {
        let o = Outbox::new(2);
        o.push(Cmd::Subscribe("r".into()), None);
        let mut gone = Vec::new();
        for n in 0..4 {
            gone.extend(o.push_seq(|_| publish(n), None));
        }
        assert_eq!(o.dropped(), 2);
        assert_eq!(gone.len(), 2, "the dropped items are handed back");
        let (batch, last) = o.peek(10);
        let kept: Vec<String> = batch.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(matches!(batch[0], Cmd::Subscribe(_)));
        o.ack(last);
        assert_eq!(o.len(), 0);
    }
}

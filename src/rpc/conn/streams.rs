//! The subscriptions a peer runs on one connection (tRPC), by id: a second one under an id
//! still running is refused, and stopping one cancels it.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The running subscriptions of one connection.
#[derive(Default)]
pub(crate) struct Streams {
    /// By key; the sender cancels (taken once it was stopped, the entry staying until the
    /// subscription has ended).
    running: Mutex<HashMap<String, Option<oneshot::Sender<()>>>>,
}

/// Why a subscription could not start.
pub(crate) enum Refused {
    /// One with this id is still running.
    Duplicate,
    /// The connection runs `n` already.
    TooMany(usize),
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<oneshot::Sender<()>>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note a subscription as running under `key`, at most `max` at once; the receiver
    /// resolves when it is stopped (or the connection ends).
    pub(crate) fn start(&self, key: &str, max: usize) -> Result<oneshot::Receiver<()>, Refused> {
        let mut running = self.lock();
        if running.contains_key(key) {
            return Err(Refused::Duplicate);
        }
        if running.len() >= max {
            return Err(Refused::TooMany(max));
        }
        let (tx, rx) = oneshot::channel();
        running.insert(key.to_owned(), Some(tx));
        Ok(rx)
    }

    /// Stop the subscriptions under `keys`; unknown ones are ignored.
    pub(crate) fn stop(&self, keys: &[String]) {
        let mut running = self.lock();
        for k in keys {
            if let Some(tx) = running.get_mut(k).and_then(Option::take) {
                let _ = tx.send(());
            }
        }
    }

    /// The subscription under `key` has ended.
    pub(crate) fn finish(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Stop every subscription (the connection ended).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

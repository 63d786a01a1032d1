//! One connection's state, either side, each part with one owner: the [`outbox`] (queue,
//! writer, close), the pending [`calls`], the [`callbacks`] both ways, the rate-limit
//! bucket, the protocol state, and the [`heartbeat`]. What reads the socket and runs calls
//! is [`inbound`](super::inbound); the handle applications hold is [`Peer`](super::Peer).

pub(crate) mod callbacks;
pub(crate) mod calls;
pub(crate) mod heartbeat;
pub(crate) mod outbox;
// Only a server runs subscriptions.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) mod streams;

use self::callbacks::Callbacks;
use self::calls::Calls;
use self::outbox::Outbox;
use self::streams::Streams;
use super::error::Error;
use super::protocol::{self, Encoding, Msg, WireProtocol};
use super::rate_limit::{Bucket, RateLimit, Verdict};
use super::transport::Frame;
use crate::{Limits, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Who is on the other end, as the connection was opened.
#[derive(Clone, Debug, Default)]
pub struct ConnInfo {
    /// The request path (`/chat/lobby`).
    pub path: String,
    /// The query parameters.
    pub query: Vec<(String, String)>,
    /// What the auth hook returned, if any.
    pub identity: Option<Identity>,
}

/// What an auth hook says about a connection: a user id (for per-user sends and presence)
/// and any data the handlers want.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    /// The user this connection belongs to.
    pub user: String,
    /// Anything else (roles, claims).
    pub data: Value,
}

/// Settings of one connection.
#[derive(Clone)]
pub(crate) struct ConnConfig {
    pub(crate) limits: Limits,
    pub(crate) call_timeout: Duration,
    pub(crate) rate: Option<RateLimit>,
    /// Set when the server drains: requests are refused from then on (`None`: never).
    pub(crate) draining: Option<Arc<AtomicBool>>,
}

/// One connection.
pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) outbox: Outbox,
    pub(crate) calls: Calls,
    pub(crate) callbacks: Callbacks<RemoteFn>,
    /// The subscriptions the peer runs (tRPC).
    pub(crate) streams: Streams,
    pub(crate) proto: protocol::Active,
    pub(crate) info: ConnInfo,
    pub(crate) config: ConnConfig,
    bucket: Mutex<Option<Bucket>>,
    /// Permits for the peer's calls in flight.
    pub(crate) inflight: Arc<Semaphore>,
    /// Milliseconds (since the connection opened) of the last frame from the peer.
    pub(crate) last_seen: AtomicU64,
    pub(crate) opened: Instant,
}

/// A function the peer passed us (see [`Callback`](super::Callback)).
pub(crate) struct RemoteFn {
    pub(crate) id: String,
    pub(crate) conn: Weak<Connection>,
    pub(crate) enc: Encoding,
}

impl Drop for RemoteFn {
    /// Tell the peer it may release the function (best effort, as in kkrpc: a full queue
    /// drops the release; a protocol without releases sends nothing).
    fn drop(&mut self) {
        let Some(conn) = self.conn.upgrade() else {
            return;
        };
        conn.callbacks.stub_dropped(&self.id);
        let msg = Msg::Release {
            ids: vec![std::mem::take(&mut self.id)],
        };
        if let Ok(Some(frame)) = conn.proto.write(msg, &self.enc) {
            let _ = conn.outbox.try_queue(frame);
        }
    }
}

impl Connection {
    /// A connection speaking `proto`. Returns the receiver of outgoing frames for the writer.
    pub(crate) fn new(
        id: u64,
        proto: protocol::Active,
        config: ConnConfig,
        info: ConnInfo,
    ) -> (Arc<Connection>, mpsc::Receiver<Frame>) {
        // tokio refuses (panics on) more permits than `Semaphore::MAX_PERMITS`, which
        // `Limits::unlimited()` asks for.
        let permits = config
            .limits
            .pending_calls()
            .clamp(1, Semaphore::MAX_PERMITS);
        let (outbox, rx) = Outbox::new(id, config.limits.outbound_queue_len());
        let now = Instant::now();
        let conn = Arc::new(Connection {
            id,
            outbox,
            calls: Calls::default(),
            callbacks: Callbacks::default(),
            streams: Streams::default(),
            proto,
            info,
            bucket: Mutex::new(config.rate.map(|r| Bucket::new(&r, now))),
            config,
            inflight: Arc::new(Semaphore::new(permits)),
            last_seen: AtomicU64::new(0),
            opened: now,
        });
        (conn, rx)
    }

    /// Note that a frame came from the peer (for the heartbeat).
    pub(crate) fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_seen.store(ms, Ordering::Relaxed);
    }

    /// Take a rate-limit token for one request.
    pub(crate) fn take_token(&self) -> Verdict {
        let Some(rate) = &self.config.rate else {
            return Verdict::Allowed;
        };
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        match bucket.as_mut() {
            Some(b) => b.take(rate, Instant::now()),
            None => Verdict::Allowed,
        }
    }

    /// The stub of the peer's function `id`, written in `enc`.
    pub(crate) fn stub(self: &Arc<Self>, id: String, enc: &Encoding) -> Arc<RemoteFn> {
        self.callbacks.stub(id, |id| RemoteFn {
            id,
            conn: Arc::downgrade(self),
            enc: enc.clone(),
        })
    }

    /// How many of the peer's calls are being answered (a server's drain waits for them).
    #[cfg(feature = "server")]
    pub(crate) fn calls_in_flight(&self) -> usize {
        let permits = self
            .config
            .limits
            .pending_calls()
            .clamp(1, Semaphore::MAX_PERMITS);
        permits.saturating_sub(self.inflight.available_permits())
    }

    /// True once the server drains (requests are refused).
    pub(crate) fn draining(&self) -> bool {
        self.config
            .draining
            .as_ref()
            .is_some_and(|d| d.load(Ordering::Acquire))
    }

    /// Mark closed and fail every pending call at once.
    pub(crate) fn shutdown(&self) {
        self.outbox.mark_closed();
        self.calls.fail_all(|| self.outbox.closed_error());
        self.callbacks.clear();
        self.streams.clear();
    }

    /// The error for a call on this closed connection.
    pub(crate) fn closed_error(&self) -> Error {
        self.outbox.closed_error()
    }
}

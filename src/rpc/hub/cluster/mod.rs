//! [`RedisBackend`]: a [`Hub`](super::Hub) that spans nodes through Redis (feature `redis`).
//!
//! * **Delivery.** A push is delivered to this node's recipients at once and published once
//!   (`P:r:{room}`, `P:u`, `P:all`) as one MessagePack envelope of the un-encoded
//!   [`Value`]s; every other node decodes it once and encodes it once per codec in use among
//!   its own recipients. Exactly once on every node while Redis is up; in each sending
//!   node's order (one publishing connection; Redis delivers in publish order).
//! * **Recoverable rooms** ([`RedisConfig::recoverable`]): a Lua script gives each push
//!   the room's next offset, appends it to the room's stream and publishes it, atomically;
//!   every node, the sender's included, delivers in offset order, fills gaps from the
//!   stream, and adds a trailing `{"__pc": {room, epoch, offset}}` argument with which a
//!   client resumes on any node ([`Hub::join_from`](super::Hub::join_from)).
//! * **Presence**: see `presence.rs`. Heartbeats on `P:ctl` every
//!   [`RedisConfig::heartbeat`]; a node silent for `down_after` is dropped everywhere.
//! * **Failures**: local delivery goes on; what other nodes must get waits in a bounded
//!   queue; the node reconnects with backoff forever, re-subscribes from its own room
//!   table, rewrites its presence, fills recoverable rooms' gaps, notices a Redis restart
//!   (`run_id`), and reports `degraded` ([`Hub::health`](super::Hub::health)) until its own
//!   heartbeat comes back through its subscriber connection.

mod driver;
mod envelope;
mod outbox;
mod presence;
#[cfg(test)]
mod tests;

use super::backend::{Delivery, Health, HubBackend, Member, Position, Recovery, Target};
use super::local::WeakHub;
use crate::rpc::BoxFuture;
use crate::{Limits, Value};
use envelope::{Envelope, Kind, Op, Origin};
use futures_util::FutureExt;
use outbox::{Cmd, Outbox};
use presence::{Local, Replicas, RoomChange};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Settings of a [`RedisBackend`]; each default is stated on its method.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    url: String,
    prefix: String,
    node: Option<String>,
    heartbeat: Duration,
    down_after: Duration,
    outbox: usize,
    recoverable: Vec<String>,
    stream_size: usize,
    stream_ttl: Duration,
    backoff: (Duration, Duration),
    timeout: Duration,
    limits: Limits,
}

impl RedisConfig {
    /// Settings for the Redis at `url` (`redis://HOST:PORT[/DB]`, `unix:///path/redis.sock`).
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: "polycodec".into(),
            node: None,
            heartbeat: Duration::from_secs(2),
            down_after: Duration::from_secs(6),
            outbox: 10_000,
            recoverable: Vec::new(),
            stream_size: 1000,
            stream_ttl: Duration::from_secs(600),
            backoff: (Duration::from_millis(100), Duration::from_secs(5)),
            timeout: Duration::from_secs(2),
            limits: Limits::default(),
        }
    }

    /// The prefix of every key and channel (one per application). Default: `polycodec`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// This node's id, unique in the cluster; a node restarted with the same id replaces
    /// its old presence at once. Default: random (the old one's members then leave after
    /// `down_after`).
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node = Some(id.into());
        self
    }

    /// Heartbeat every `every`; a node not heard for `down_after` is dropped (its members
    /// leave on every node). Default: 2 s and 6 s.
    pub fn heartbeat(mut self, every: Duration, down_after: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self.down_after = down_after.max(self.heartbeat * 2);
        self
    }

    /// How many cross-node messages wait while Redis is unreachable; past that the oldest
    /// is dropped, counted and logged. Default: 10,000.
    pub fn outbox(mut self, messages: usize) -> Self {
        self.outbox = messages;
        self
    }

    /// Make the rooms matching `pattern` (`*` for all, `chat:*` for a prefix, else a name)
    /// recoverable: ordered by offset on every node, kept in a stream. Default: none.
    pub fn recoverable(mut self, pattern: impl Into<String>) -> Self {
        self.recoverable.push(pattern.into());
        self
    }

    /// A recoverable room's stream keeps its last `size` messages, for `ttl` after the last
    /// one. Default: 1,000 messages, 10 minutes.
    pub fn stream(mut self, size: usize, ttl: Duration) -> Self {
        self.stream_size = size.max(1);
        self.stream_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Reconnect after `min`, doubling up to `max`, with jitter, forever. Default: 100 ms
    /// to 5 s.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max.max(min));
        self
    }

    /// Timeout of each Redis command and connection attempt. Default: 2 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limits on envelopes read from Redis. Default: [`Limits::default()`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn is_recoverable(&self, room: &str) -> bool {
        self.recoverable.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => room.starts_with(prefix),
            None => p == room,
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    pub(crate) fn ctl(&self) -> String {
        self.key(&["ctl"])
    }
    pub(crate) fn user_channel(&self) -> String {
        self.key(&["u"])
    }
    pub(crate) fn all_channel(&self) -> String {
        self.key(&["all"])
    }
    pub(crate) fn room_channel(&self, room: &str) -> String {
        self.key(&["r", &format!("{{{room}}}")])
    }
    pub(crate) fn presence_key(&self, node: &str) -> String {
        self.key(&["pres", node])
    }
    pub(crate) fn history_key(&self, room: &str) -> String {
        self.key(&["h", &format!("{{{room}}}")])
    }
    pub(crate) fn history_seen_key(&self, room: &str) -> String {
        self.key(&["hq", &format!("{{{room}}}")])
    }
    pub(crate) fn stream_key(&self, room: &str) -> String {
        self.key(&["s", &format!("{{{room}}}")])
    }
    pub(crate) fn meta_key(&self, room: &str) -> String {
        self.key(&["m", &format!("{{{room}}}")])
    }
}

/// Why a [`RedisBackend`] could not start.
#[derive(Debug)]
pub enum ClusterError {
    /// The URL is not one redis-rs reads.
    Url(String),
    /// Not called within a tokio runtime (the backend's task needs one).
    NoRuntime,
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Url(e) => write!(f, "bad Redis URL: {e}"),
            ClusterError::NoRuntime => write!(f, "a Redis backend starts within a tokio runtime"),
        }
    }
}

impl std::error::Error for ClusterError {}

#[derive(Default)]
pub(crate) struct Counters {
    pub reconnects: AtomicU64,
    pub redis_restarts: AtomicU64,
    pub bad_messages: AtomicU64,
    pub gap_fills: AtomicU64,
    pub history_lost: AtomicU64,
    pub evicted_nodes: AtomicU64,
    pub publish_errors: AtomicU64,
    pub delivered_unsequenced: AtomicU64,
}

/// What the backend's calls and its task share.
pub(crate) struct Shared {
    pub cfg: RedisConfig,
    pub origin: Origin,
    pub client: redis::Client,
    pub hub: OnceLock<WeakHub>,
    pub outbox: Outbox,
    pub local: Mutex<Local>,
    pub replicas: Mutex<Replicas>,
    pub events: mpsc::UnboundedSender<driver::Event>,
    pub connected: AtomicBool,
    pub reason: Mutex<String>,
    pub conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
    pub published_version: AtomicU64,
    pub counters: Counters,
    /// This node's recoverable pushes delivered here without waiting for Redis (the
    /// session was lost while they waited): their echo from Redis is not delivered again.
    pub delivered_early: Mutex<std::collections::BTreeSet<u64>>,
    /// Each room channel this node subscribed to since the room's first member or listener
    /// came here, with what tells when Redis took the SUBSCRIBE (or the session it was
    /// queued for failed).
    pub subscribing: Mutex<HashMap<String, Subscribed>>,
}

/// Resolves once a queued SUBSCRIBE was taken (or can no longer be).
pub(crate) type Subscribed = futures_util::future::Shared<oneshot::Receiver<()>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Record a presence change and queue, in this order, the (un)subscription it needs
    /// and its delta: a node that sees the delta sees what this node publishes after it,
    /// and this node hears a room before it says it is in it. Under the presence lock, so
    /// that deltas are queued in version order.
    fn record(&self, op: Op) {
        let mut local = lock(&self.local);
        for (room, change) in local.record(op) {
            self.hear(&room, change);
        }
        if let Some(batch) = local.take_batch() {
            let delta = envelope::Ctl::Delta {
                origin: self.origin.clone(),
                from: batch.from,
                to: batch.to,
                ops: batch.ops.clone(),
            };
            self.outbox.push(
                Cmd::Presence {
                    batch: Arc::new(batch),
                    delta: delta.encode().into(),
                },
                None,
            );
        }
    }

    /// Queue the (un)subscription a room's change needs (under the presence lock, so
    /// that they are queued in the order of the changes).
    fn hear(&self, room: &str, change: RoomChange) {
        let ch = self.cfg.room_channel(room);
        match change {
            RoomChange::First => {
                let (tx, rx) = oneshot::channel();
                lock(&self.subscribing).insert(ch.clone(), rx.shared());
                self.outbox.push(Cmd::Subscribe(ch), Some(tx));
            }
            RoomChange::Empty => {
                lock(&self.subscribing).remove(&ch);
                self.outbox.push(Cmd::Unsubscribe(ch), None);
                if self.cfg.is_recoverable(room) {
                    // Unheard: its next push starts a new count here, with no gap to fill
                    // from what was published while nobody here listened.
                    let _ = self.events.send(driver::Event::Forget(room.to_owned()));
                }
            }
        }
    }

    /// If `cmd` is a recoverable push this node's members do not have yet, deliver it
    /// here (without a position: it has no offset yet) and mark it delivered.
    pub(crate) fn deliver_early(&self, cmd: &mut Cmd) {
        let Cmd::Ordered {
            room,
            payload,
            seq,
            delivered: delivered @ false,
        } = cmd
        else {
            return;
        };
        *delivered = true;
        self.counters
            .delivered_unsequenced
            .fetch_add(1, Ordering::Relaxed);
        let Ok(envelope::Message::Push(mut env)) = envelope::decode(payload, Limits::unlimited())
        else {
            return;
        };
        {
            let mut early = lock(&self.delivered_early);
            early.insert(*seq);
            while early.len() > self.cfg.outbox.max(1) {
                early.pop_first();
            }
        }
        if let Some(hub) = self.hub.get().and_then(|w| w.upgrade()) {
            let target = Target::Room {
                room,
                except: env.except,
            };
            hub.deliver_local(target, &env.method, &env.args);
        }
        env.delivered_here = true;
        *payload = env.encode().into();
    }

    /// An item the full outbox dropped: a recoverable push nobody delivered yet is
    /// delivered here at least.
    fn dropped(&self, cmd: Option<Cmd>) {
        if let Some(mut cmd) = cmd {
            self.deliver_early(&mut cmd);
        }
    }

    fn envelope(&self, seq: u64, d: &Delivery<'_>, delivered_here: bool) -> Envelope {
        let (kind, except) = match d.target {
            Target::Room { room, except } => (Kind::Room(room.to_owned()), except),
            Target::User(u) => (Kind::User(u.to_owned()), None),
            Target::All => (Kind::All, None),
        };
        Envelope {
            origin: self.origin.clone(),
            seq,
            kind,
            except,
            method: d.method.to_owned(),
            args: d.args.to_vec(),
            delivered_here,
        }
    }
}

/// A hub backend on Redis (see the module docs). Made by [`RedisBackend::start`]; put it in
/// a hub with [`Hub::with_backend`](super::Hub::with_backend).
pub struct RedisBackend {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A random-enough id: time, process id and a counter.
fn random_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = t ^ (u64::from(std::process::id()) << 32) ^ N.fetch_add(1, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    format!("{x:012x}")[..12].to_owned()
}

impl RedisBackend {
    /// Start the backend's task (within a tokio runtime): it connects, and reconnects,
    /// in the background; [`HubBackend::health`] says when it is connected. Fails only on
    /// a URL redis-rs cannot read or without a runtime.
    pub fn start(cfg: RedisConfig) -> Result<RedisBackend, ClusterError> {
        let client =
            redis::Client::open(cfg.url.as_str()).map_err(|e| ClusterError::Url(e.to_string()))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClusterError::NoRuntime)?;
        let inc = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_micros() as u64);
        let node = cfg.node.clone().unwrap_or_else(random_id);
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            outbox: Outbox::new(cfg.outbox),
            origin: Origin { node, inc },
            client,
            hub: OnceLock::new(),
            local: Mutex::default(),
            replicas: Mutex::default(),
            events: tx,
            connected: AtomicBool::new(false),
            reason: Mutex::new("connecting to Redis".into()),
            conn: Mutex::new(None),
            published_version: AtomicU64::new(0),
            counters: Counters::default(),
            delivered_early: Mutex::default(),
            subscribing: Mutex::default(),
            cfg,
        });
        let task = runtime.spawn(driver::run(shared.clone(), rx));
        Ok(RedisBackend { shared, task })
    }

    fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }
}

impl HubBackend for RedisBackend {
    fn node(&self) -> &str {
        &self.shared.origin.node
    }

    fn attach(&self, hub: WeakHub) {
        let _ = self.shared.hub.set(hub);
    }

    fn publish(&self, d: &Delivery<'_>) {
        let sh = &self.shared;
        let channel = match d.target {
            Target::Room { room, .. } if sh.cfg.is_recoverable(room) => {
                // Redis is down (else `sequenced` took it): delivered here already; it gets
                // its offset when Redis is back.
                let room = room.to_owned();
                let dropped = sh.outbox.push_seq(
                    |seq| Cmd::Ordered {
                        payload: sh.envelope(seq, d, true).encode().into(),
                        room,
                        seq,
                        delivered: true,
                    },
                    None,
                );
                sh.dropped(dropped);
                return;
            }
            Target::Room { room, .. } => sh.cfg.room_channel(room),
            Target::User(_) => sh.cfg.user_channel(),
            Target::All => sh.cfg.all_channel(),
        };
        let dropped = sh.outbox.push_seq(
            |seq| Cmd::Publish {
                channel,
                payload: sh.envelope(seq, d, false).encode().into(),
            },
            None,
        );
        sh.dropped(dropped);
    }

    fn sequenced(&self, d: &Delivery<'_>) -> bool {
        let sh = &self.shared;
        let Target::Room { room, .. } = d.target else {
            return false;
        };
        if !sh.cfg.is_recoverable(room) {
            return false;
        }
        let room = room.to_owned();
        let queued = sh.outbox.push_online(|seq| Cmd::Ordered {
            payload: sh.envelope(seq, d, false).encode().into(),
            room,
            seq,
            delivered: false,
        });
        match queued {
            Ok(dropped) => {
                sh.dropped(dropped);
                true
            }
            Err(()) => false,
        }
    }

    fn recoverable(&self, room: &str) -> bool {
        self.shared.cfg.is_recoverable(room)
    }

    fn connected(&self, m: &Member) {
        self.shared.record(Op::Connect {
            conn: m.conn,
            user: m.user.clone(),
        });
    }

    fn disconnected(&self, m: &Member, _rooms: &[String]) {
        self.shared.record(Op::Disconnect { conn: m.conn });
    }

    fn joined(&self, m: &Member, room: &str) {
        self.shared.record(Op::Join {
            conn: m.conn,
            room: room.to_owned(),
        });
    }

    fn interested(&self, room: &str, on: bool) {
        let mut local = lock(&self.shared.local);
        if let Some(change) = local.listen(room, on) {
            self.shared.hear(room, change);
        }
    }

    fn listening(&self, room: &str) -> BoxFuture<()> {
        let sh = &self.shared;
        let pending = lock(&sh.subscribing)
            .get(&sh.cfg.room_channel(room))
            .cloned();
        let timeout = sh.cfg.timeout;
        Box::pin(async move {
            if let Some(subscribed) = pending {
                let _ = tokio::time::timeout(timeout, subscribed).await;
            }
        })
    }

    fn left(&self, m: &Member, room: &str) {
        self.shared.record(Op::Leave {
            conn: m.conn,
            room: room.to_owned(),
        });
    }

    fn room_presence(&self, room: &str, mut local: Vec<Member>) -> BoxFuture<Vec<Member>> {
        local.extend(lock(&self.shared.replicas).room_members(room));
        local.sort();
        Box::pin(std::future::ready(local))
    }

    fn users(&self, mut local: BTreeMap<String, usize>) -> BoxFuture<BTreeMap<String, usize>> {
        lock(&self.shared.replicas).add_users(&mut local);
        Box::pin(std::future::ready(local))
    }

    fn append_history(&self, room: &str, message: Value, cap: usize) -> BoxFuture<()> {
        let payload = envelope::encode_value(&message);
        let (tx, rx) = oneshot::channel();
        let wait = self.connected();
        let dropped = self.shared.outbox.push_seq(
            |seq| Cmd::History {
                room: room.to_owned(),
                payload: payload.into(),
                cap,
                seq,
            },
            wait.then_some(tx),
        );
        self.shared.dropped(dropped);
        Box::pin(async move {
            if wait {
                let _ = rx.await;
            }
        })
    }

    fn history(&self, room: &str, limit: usize) -> BoxFuture<Vec<Value>> {
        let sh = self.shared.clone();
        let key = sh.cfg.history_key(room);
        Box::pin(async move { driver::read_history(&sh, &key, limit).await })
    }

    fn resume(&self, m: &Member, room: &str, since: Position) -> BoxFuture<Recovery> {
        let (tx, rx) = oneshot::channel();
        let ev = driver::Event::Resume {
            conn: m.conn,
            room: room.to_owned(),
            since,
            reply: tx,
        };
        let sent = self.shared.events.send(ev).is_ok();
        Box::pin(async move {
            match (sent, rx.await) {
                (true, Ok(r)) => r,
                _ => Recovery::failed("the Redis backend has stopped"),
            }
        })
    }

    fn health(&self) -> Health {
        let sh = &self.shared;
        let c = &sh.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let ok = self.connected();
        Health {
            ok,
            reason: (!ok).then(|| lock(&sh.reason).clone()),
            node: sh.origin.node.clone(),
            counters: vec![
                ("nodes", lock(&sh.replicas).len() as u64 + 1),
                ("queued", sh.outbox.len() as u64),
                ("dropped", sh.outbox.dropped()),
                ("reconnects", get(&c.reconnects)),
                ("redisRestarts", get(&c.redis_restarts)),
                ("badMessages", get(&c.bad_messages)),
                ("gapFills", get(&c.gap_fills)),
                ("historyLost", get(&c.history_lost)),
                ("evictedNodes", get(&c.evicted_nodes)),
                ("publishErrors", get(&c.publish_errors)),
                ("deliveredUnsequenced", get(&c.delivered_unsequenced)),
            ],
        }
    }

    fn shutdown(&self) -> BoxFuture<()> {
        let (tx, rx) = oneshot::channel();
        let sent = self.shared.events.send(driver::Event::Shutdown(tx)).is_ok();
        Box::pin(async move {
            if sent {
                let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
            }
        })
    }
}

/// How long ago a key refreshed with `PX ttl` was refreshed, from its `PTTL`.
pub(crate) fn seen_at(now: Instant, ttl: Duration, pttl_ms: i64) -> Instant {
    let left = Duration::from_millis(pttl_ms.max(0) as u64);
    now.checked_sub(ttl.saturating_sub(left)).unwrap_or(now)
}

//! The backend's task: one Redis session at a time (a multiplexed command connection and a
//! subscriber connection), reopened with backoff forever when anything fails.

use super::envelope::{self, Ctl, Envelope, Kind, Message, Seen};
use super::outbox::Cmd;
use super::presence::Conn;
use super::{lock, seen_at, Shared};
use crate::rpc::hub::{Position, Recovery, Target};
use crate::Value;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the backend's calls ask of its task.
pub(crate) enum Event {
    Resume {
        conn: u64,
        room: String,
        since: Position,
        reply: oneshot::Sender<Recovery>,
    },
    Shutdown(oneshot::Sender<()>),
    /// A recoverable room is no longer heard here: forget its count.
    Forget(String),
}

/// Append to a recoverable room: next offset, stream entry and publish, atomically; once
/// per (origin incarnation, seq): a push sent again after a session that timed out while
/// Redis had taken it (a hung Redis) gets no second offset.
/// KEYS: stream, meta. ARGV: push, stream size, ttl (s), epoch if new, channel, origin, seq.
const APPEND: &str = r"
local q = 'q:' .. ARGV[6]
local last = redis.call('HGET', KEYS[2], q)
if last and tonumber(last) >= tonumber(ARGV[7]) then
  return 0
end
redis.call('HSET', KEYS[2], q, ARGV[7])
local e = redis.call('HGET', KEYS[2], 'e')
if not e then
  e = ARGV[4]
  redis.call('HSET', KEYS[2], 'e', e)
  redis.call('DEL', KEYS[1])
end
local o = redis.call('HINCRBY', KEYS[2], 's', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], o .. '-0', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3] * 2)
redis.call('PUBLISH', ARGV[5], 'o' .. e .. ':' .. o .. ':' .. ARGV[1])
return o
";

/// Append to a capped history list, once per (origin incarnation, seq), like [`APPEND`].
/// KEYS: list, its dedup hash. ARGV: entry, cap, origin, seq, ttl of the hash (s).
const HISTORY: &str = r"
local last = redis.call('HGET', KEYS[2], ARGV[3])
if last and tonumber(last) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return 1
";

/// How long a room's history remembers the last sequence number of each origin (what a
/// retry after a lost session is checked against).
const HISTORY_SEEN_TTL_SECS: u64 = 3600;

/// A recoverable room's place on this node: its epoch, and the next offset to deliver.
#[derive(Default)]
struct Seq {
    epoch: Option<String>,
    next: Option<u64>,
}

struct Driver {
    sh: Arc<Shared>,
    /// Replays of pushes already delivered are dropped.
    seen: Seen,
    seqs: HashMap<String, Seq>,
    /// (room, conn) → offset replayed to it: live pushes up to there are not sent again.
    marks: HashMap<(String, u64), u64>,
    run_id: Option<String>,
    last_echo: Instant,
}

type R<T> = Result<T, String>;

fn err(what: &str) -> impl Fn(redis::RedisError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The task: sessions, and backoff between them, forever (or until shutdown).
pub(crate) async fn run(sh: Arc<Shared>, mut events: mpsc::UnboundedReceiver<Event>) {
    let mut d = Driver {
        sh: sh.clone(),
        seen: Seen::default(),
        seqs: HashMap::new(),
        marks: HashMap::new(),
        run_id: None,
        last_echo: Instant::now(),
    };
    let (min, max) = sh.cfg.backoff;
    let mut backoff = min;
    let mut first = true;
    loop {
        let started = Instant::now();
        let reason = match d.session(&mut events).await {
            Ok(()) => return,
            Err(r) => r,
        };
        // What waited for Redis' echo is delivered here now, in order, before any later
        // push (those are delivered at once while offline).
        sh.outbox.go_offline(|cmd| sh.deliver_early(cmd));
        let was = sh.connected.swap(false, Ordering::AcqRel);
        *lock(&sh.conn) = None;
        sh.outbox.release_waiters();
        if was || first {
            tracing::warn!(node = %sh.origin.node, %reason, "cluster degraded: Redis session lost; reconnecting");
        }
        first = false;
        *lock(&sh.reason) = reason;
        if started.elapsed() > Duration::from_secs(10) {
            backoff = min;
        }
        // Jitter of up to a quarter, from the clock.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let wait = backoff + backoff / 4 * (nanos % 1000) / 1000;
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                ev = events.recv() => match ev {
                    None => return,
                    Some(ev) => if d.offline(ev) { return },
                },
            }
        }
        backoff = (backoff * 2).min(max);
        sh.counters.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// Read a room's history list (newest `limit`, oldest first).
pub(crate) async fn read_history(sh: &Shared, key: &str, limit: usize) -> Vec<Value> {
    let conn = lock(&sh.conn).clone();
    let Some(mut conn) = conn else {
        return Vec::new();
    };
    let start = -(limit.min(i64::MAX as usize) as i64);
    let read = redis::cmd("LRANGE")
        .arg(key)
        .arg(start)
        .arg(-1)
        .query_async::<Vec<Vec<u8>>>(&mut conn)
        .await;
    match read {
        Ok(items) if limit > 0 => items
            .iter()
            .filter_map(|b| envelope::decode_value(b, sh.cfg.limits).ok())
            .collect(),
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cluster: reading a history failed");
            Vec::new()
        }
    }
}

/// `[id, [field, value, …]]` entries of an XRANGE reply, as (offset, `d`).
fn stream_entries(v: redis::Value) -> Vec<(u64, Vec<u8>)> {
    let redis::Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let redis::Value::Array(mut parts) = item else {
            continue;
        };
        if parts.len() != 2 {
            continue;
        }
        let fields = parts.pop();
        let id = match parts.pop() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
            Some(redis::Value::SimpleString(s)) => s,
            _ => continue,
        };
        let Some(offset) = id.split('-').next().and_then(|o| o.parse().ok()) else {
            continue;
        };
        let fields = match fields {
            Some(redis::Value::Array(f)) => f,
            Some(redis::Value::Map(m)) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => continue,
        };
        let mut it = fields.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if let (redis::Value::BulkString(k), redis::Value::BulkString(v)) = (k, v) {
                if k == b"d" {
                    out.push((offset, v));
                }
            }
        }
    }
    out
}

fn position(room: &str, epoch: &str, offset: u64) -> Value {
    let mut p = crate::Object::new();
    p.insert("room", Value::from(room));
    p.insert("epoch", Value::from(epoch));
    p.insert("offset", Value::from(offset));
    let mut o = crate::Object::new();
    o.insert("__pc", Value::Object(p));
    Value::Object(o)
}

impl Driver {
    fn hub(&self) -> Option<crate::rpc::Hub> {
        self.sh.hub.get().and_then(|w| w.upgrade())
    }

    /// A recoverable room no longer heard here: its count (and the replay marks of its
    /// members) go, so that when it is heard again nothing published meanwhile is filled in.
    fn forget(&mut self, room: &str) {
        self.seqs.remove(room);
        self.marks.retain(|(r, _), _| r != room);
    }

    /// An event while Redis is unreachable. True: stop.
    fn offline(&mut self, ev: Event) -> bool {
        match ev {
            Event::Resume {
                conn, room, reply, ..
            } => {
                if let Some(hub) = self.hub() {
                    hub.join(conn, &room);
                }
                let _ = reply.send(Recovery::failed("Redis is unreachable"));
                false
            }
            Event::Shutdown(done) => {
                let _ = done.send(());
                true
            }
            Event::Forget(room) => {
                self.forget(&room);
                false
            }
        }
    }

    /// One session: set up, then serve until something fails (`Err`) or shutdown (`Ok`).
    async fn session(&mut self, events: &mut mpsc::UnboundedReceiver<Event>) -> R<()> {
        let sh = self.sh.clone();
        let cfg = &sh.cfg;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(cfg.timeout))
            .set_response_timeout(Some(cfg.timeout));
        let mut conn = sh
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(err("connecting to Redis"))?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(err("INFO"))?;
        let run_id = info
            .lines()
            .find_map(|l| l.strip_prefix("run_id:"))
            .map(|s| s.trim().to_owned());
        if self.run_id.is_some() && run_id != self.run_id {
            sh.counters.redis_restarts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(node = %sh.origin.node, "Redis restarted (new run_id): its keys may be gone; presence is rewritten, recoverable rooms re-checked");
        }
        self.run_id = run_id;
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(APPEND)
            .query_async(&mut conn)
            .await
            .map_err(err("SCRIPT LOAD"))?;
        let hsha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(HISTORY)
            .query_async(&mut conn)
            .await
            .map_err(err("SCRIPT LOAD"))?;
        let pubsub = tokio::time::timeout(cfg.timeout, sh.client.get_async_pubsub())
            .await
            .map_err(|_| "connecting the subscriber: timed out".to_owned())?
            .map_err(err("connecting the subscriber"))?;
        let (mut sink, mut stream) = pubsub.split();

        // Subscriptions and presence are rewritten whole from this node's own tables.
        let subscribing = sh.outbox.drop_state();
        let (conns, version, rooms) = {
            let mut l = lock(&sh.local);
            l.squash();
            (l.conns.clone(), l.version, l.heard())
        };
        let mut channels = vec![cfg.ctl(), cfg.user_channel(), cfg.all_channel()];
        channels.extend(rooms.iter().map(|r| cfg.room_channel(r)));
        channels.extend(self.seqs.keys().map(|r| cfg.room_channel(r)));
        tokio::time::timeout(cfg.timeout, sink.subscribe(&channels))
            .await
            .map_err(|_| "SUBSCRIBE timed out".to_owned())?
            .map_err(err("SUBSCRIBE"))?;
        for done in subscribing {
            let _ = done.send(());
        }
        let key = cfg.presence_key(&sh.origin.node);
        let mut p = redis::pipe();
        p.atomic().del(&key).ignore();
        p.hset(&key, "_v", format!("{}:{version}", sh.origin.inc))
            .ignore();
        for (id, c) in &conns {
            let rooms: Vec<&str> = c.rooms.iter().map(String::as_str).collect();
            p.hset(&key, id, envelope::encode_conn(c.user.as_deref(), &rooms))
                .ignore();
        }
        p.pexpire(&key, cfg.down_after.as_millis() as i64).ignore();
        p.query_async::<()>(&mut conn)
            .await
            .map_err(err("writing presence"))?;
        sh.published_version.store(version, Ordering::Release);
        self.heartbeat(&mut conn).await?;
        // Every node's snapshot; who is alive after all is told by heartbeats.
        lock(&sh.replicas).touch_all(Instant::now());
        // SCAN, not KEYS: a large keyspace is not blocked for the whole walk.
        let pattern = cfg.presence_key("*");
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(err("listing nodes"))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let prefix = cfg.presence_key("");
        for k in keys {
            if let Some(node) = k.strip_prefix(&prefix) {
                if node != sh.origin.node {
                    self.fetch_snapshot(&mut conn, node).await?;
                }
            }
        }
        // Recoverable rooms: deliver what came while this node was away.
        let rooms: Vec<String> = self.seqs.keys().cloned().collect();
        for room in rooms {
            self.fill(&mut conn, &room, None).await?;
        }
        self.last_echo = Instant::now();
        *lock(&sh.conn) = Some(conn.clone());
        sh.connected.store(true, Ordering::Release);
        sh.outbox.go_online();
        tracing::info!(node = %sh.origin.node, "cluster connected to Redis");

        let publisher = publish_loop(sh.clone(), conn.clone(), sink.clone(), [sha, hsha]);
        tokio::pin!(publisher);
        let mut hb = tokio::time::interval(cfg.heartbeat);
        hb.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                reason = &mut publisher => return Err(reason),
                msg = stream.next() => match msg {
                    None => return Err("the subscriber connection was closed".into()),
                    Some(msg) => self.on_message(&mut conn, msg).await?,
                },
                ev = events.recv() => match ev {
                    None => return Ok(()),
                    Some(Event::Shutdown(done)) => {
                        self.leave(&mut conn).await;
                        let _ = done.send(());
                        return Ok(());
                    }
                    Some(Event::Forget(room)) => self.forget(&room),
                    Some(Event::Resume { conn: id, room, since, reply }) => {
                        match self.resume(&mut conn, &mut sink, id, &room, since).await {
                            Ok(r) => { let _ = reply.send(r); }
                            Err(e) => {
                                if let Some(hub) = self.hub() { hub.join(id, &room); }
                                let _ = reply.send(Recovery::failed(e.clone()));
                                return Err(e);
                            }
                        }
                    }
                },
                _ = hb.tick() => {
                    self.heartbeat(&mut conn).await?;
                    self.check(Instant::now())?;
                }
            }
        }
    }

    /// Publish a heartbeat and refresh this node's presence key.
    async fn heartbeat(&mut self, conn: &mut MultiplexedConnection) -> R<()> {
        let cfg = &self.sh.cfg;
        let hb = Ctl::Heartbeat {
            origin: self.sh.origin.clone(),
            version: self.sh.published_version.load(Ordering::Acquire),
        };
        redis::pipe()
            .publish(cfg.ctl(), hb.encode())
            .ignore()
            .pexpire(
                cfg.presence_key(&self.sh.origin.node),
                cfg.down_after.as_millis() as i64,
            )
            .ignore()
            .query_async::<()>(conn)
            .await
            .map_err(err("heartbeat"))
    }

    /// This node's own heartbeat must come back; then drop the nodes gone silent.
    fn check(&mut self, now: Instant) -> R<()> {
        let sh = &self.sh;
        let quiet = now.saturating_duration_since(self.last_echo);
        if quiet > sh.cfg.down_after {
            return Err(format!(
                "no heartbeat echo for {} ms: the subscriber connection receives nothing",
                quiet.as_millis()
            ));
        }
        let dead = lock(&sh.replicas).evict(now, sh.cfg.down_after);
        for (node, members) in dead {
            self.seen.forget_node(&node);
            sh.counters.evicted_nodes.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%node, members = members.len(), "cluster: node silent too long, its members are removed");
            if let Some(hub) = self.hub() {
                hub.evicted(&members);
            }
        }
        let local = lock(&sh.local);
        self.seqs
            .retain(|r, _| local.rooms.contains_key(r) || local.listeners.contains_key(r));
        Ok(())
    }

    async fn leave(&mut self, conn: &mut MultiplexedConnection) {
        let cfg = &self.sh.cfg;
        let bye = Ctl::Leave {
            origin: self.sh.origin.clone(),
        };
        let _ = redis::pipe()
            .del(cfg.presence_key(&self.sh.origin.node))
            .ignore()
            .publish(cfg.ctl(), bye.encode())
            .ignore()
            .query_async::<()>(conn)
            .await;
        self.sh.connected.store(false, Ordering::Release);
        *lock(&self.sh.reason) = "left the cluster (shutdown)".into();
    }

    async fn fetch_snapshot(&mut self, conn: &mut MultiplexedConnection, node: &str) -> R<()> {
        let cfg = &self.sh.cfg;
        let key = cfg.presence_key(node);
        let (fields, pttl): (HashMap<String, Vec<u8>>, i64) = redis::pipe()
            .hgetall(&key)
            .pttl(&key)
            .query_async(conn)
            .await
            .map_err(err("reading presence"))?;
        let Some((inc, version)) = fields
            .get("_v")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.split_once(':'))
            .and_then(|(i, v)| Some((i.parse().ok()?, v.parse().ok()?)))
        else {
            return Ok(());
        };
        let mut conns = HashMap::new();
        for (k, v) in &fields {
            let Ok(id) = k.parse::<u64>() else { continue };
            match envelope::decode_conn(v, cfg.limits) {
                Ok((user, rooms)) => {
                    conns.insert(
                        id,
                        Conn {
                            user,
                            rooms: rooms.into_iter().collect(),
                        },
                    );
                }
                Err(_) => {
                    self.sh
                        .counters
                        .bad_messages
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let seen = seen_at(Instant::now(), cfg.down_after, pttl);
        lock(&self.sh.replicas).snapshot(node, inc, version, conns, seen);
        Ok(())
    }

    async fn on_message(&mut self, conn: &mut MultiplexedConnection, msg: redis::Msg) -> R<()> {
        let bytes = msg.get_payload_bytes();
        if let Some((epoch, offset, rest)) = envelope::split_ordered(bytes) {
            return match envelope::decode(rest, self.sh.cfg.limits) {
                Ok(Message::Push(env)) => {
                    let epoch = epoch.to_owned();
                    self.on_ordered(conn, &epoch, offset, env).await
                }
                _ => {
                    self.bad("a recoverable push that does not read");
                    Ok(())
                }
            };
        }
        match envelope::decode(bytes, self.sh.cfg.limits) {
            Ok(Message::Push(env)) => {
                self.on_push(env);
                Ok(())
            }
            Ok(Message::Ctl(ctl)) => self.on_ctl(conn, ctl).await,
            Err(e) => {
                self.bad(&e);
                Ok(())
            }
        }
    }

    fn bad(&self, what: &str) {
        self.sh
            .counters
            .bad_messages
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %what, "cluster: a message from Redis was dropped");
    }

    fn on_push(&mut self, env: Envelope) {
        if env.origin == self.sh.origin {
            return; // delivered here when sent
        }
        if !self.seen.fresh(&env.origin, env.seq) {
            return; // a replay of what was delivered
        }
        let Some(hub) = self.hub() else { return };
        let target = match &env.kind {
            Kind::Room(room) => Target::Room { room, except: None },
            Kind::User(user) => Target::User(user),
            Kind::All => Target::All,
        };
        hub.deliver_local(target, &env.method, &env.args);
    }

    async fn on_ctl(&mut self, conn: &mut MultiplexedConnection, ctl: Ctl) -> R<()> {
        let now = Instant::now();
        let me = &self.sh.origin;
        let need = match &ctl {
            Ctl::Heartbeat { origin, .. } if origin == me => {
                self.last_echo = now;
                return Ok(());
            }
            Ctl::Heartbeat { origin, .. } | Ctl::Delta { origin, .. } | Ctl::Leave { origin }
                if origin.node == me.node =>
            {
                if origin.inc > me.inc {
                    tracing::error!(node = %me.node, "another, newer process uses this node id");
                }
                return Ok(());
            }
            Ctl::Heartbeat { origin, version } => {
                lock(&self.sh.replicas).heartbeat(&origin.node, origin.inc, *version, now)
            }
            Ctl::Delta {
                origin,
                from,
                to,
                ops,
            } => lock(&self.sh.replicas).delta(&origin.node, origin.inc, *from, *to, ops, now),
            Ctl::Leave { origin } => {
                lock(&self.sh.replicas).leave(&origin.node, origin.inc);
                self.seen.forget(origin);
                return Ok(());
            }
        };
        if let super::presence::Need::Snapshot(node) = need {
            self.fetch_snapshot(conn, &node).await?;
        }
        Ok(())
    }
}

mod ordered;
mod publish;
use publish::publish_loop;

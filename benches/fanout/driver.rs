//! The load driver, one for every server: `members` WebSockets join the room (spread
//! round-robin over the nodes), one more connection (the sender, on the first node) asks
//! the server to broadcast, and every member counts its receipts and, in the latency phase,
//! the time from the send to its receipt (the send time travels in the payload; one
//! process, one clock).
//!
//! 1. Readiness: a probe every 25 ms until every member has received one (on three nodes
//!    this also waits for each node's subscription to the room).
//! 2. Throughput: `messages` broadcasts, at most [`WINDOW`] in flight (a broadcast counts
//!    as done when all its deliveries are in); deliveries/s and CPU per delivery.
//! 3. Latency: `light` broadcasts one at a time, the next `gap` after the last receipt of
//!    the previous one; p50/p99 over every receipt.

use crate::procs::{cpu_of, Server};
use crate::redis::RedisServer;
use crate::wire::{self, Incoming, Proto, Ws};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Broadcasts in flight at most in the throughput phase: enough to keep every server busy,
/// and well below polycodec's outbound queue (256 frames per connection).
pub const WINDOW: u64 = 32;

/// Milliseconds since the driver's epoch (the clock of every send time and receipt).
pub fn ms() -> f64 {
    static E: OnceLock<Instant> = OnceLock::new();
    E.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// One run's load.
pub struct Load {
    /// Members in the room.
    pub members: usize,
    /// Member `i` connects to node `(i + first_node) % nodes`.
    pub first_node: usize,
    /// Broadcasts in the throughput phase.
    pub messages: u64,
    /// Broadcasts in the latency phase.
    pub light: u64,
    /// The pause between two broadcasts of the latency phase.
    pub gap: Duration,
}

/// What one run measured.
pub struct Figures {
    /// Broadcasts × members received, per second, in the throughput phase.
    pub deliveries_per_s: f64,
    /// Send to receipt, one broadcast at a time, in ms.
    pub p50: f64,
    /// Send to receipt, one broadcast at a time, in ms.
    pub p99: f64,
    /// The servers' CPU per delivery, in µs (throughput phase).
    pub server_us: f64,
    /// The driver's CPU per delivery, in µs (throughput phase).
    pub driver_us: f64,
    /// Redis's CPU per broadcast, in µs (throughput phase).
    pub redis_us: Option<f64>,
    /// The size of one delivery frame as received.
    pub frame_bytes: usize,
}

#[derive(Default)]
struct Shared {
    total: AtomicU64,
    per_member: Vec<AtomicU64>,
    record: AtomicBool,
    latencies: Mutex<Vec<f64>>,
    frame_bytes: AtomicUsize,
}

async fn member(proto: Proto, mut ws: Ws, i: usize, s: Arc<Shared>) {
    while let Some(Ok(msg)) = ws.next().await {
        let text = match &msg {
            Message::Text(t) => t.as_str(),
            Message::Binary(b) => std::str::from_utf8(b).unwrap_or(""),
            _ => continue,
        };
        match wire::read(proto, text) {
            Incoming::Receipt(sent) => {
                let now = ms();
                s.per_member[i].fetch_add(1, Ordering::Relaxed);
                s.total.fetch_add(1, Ordering::Relaxed);
                if s.record.load(Ordering::Relaxed) {
                    s.latencies.lock().unwrap().push(now - sent);
                }
                s.frame_bytes.store(text.len(), Ordering::Relaxed);
            }
            Incoming::Ping => {
                let _ = ws.send(Message::text("3")).await;
            }
            Incoming::Other => {}
        }
    }
}

/// The sender: writes go through a channel to one writer task; a reader task answers
/// Engine.IO pings and drops the rest (the responses to `say`).
fn sender(proto: Proto, ws: Ws) -> tokio::sync::mpsc::UnboundedSender<Message> {
    let (mut tx, mut rx) = ws.split();
    let (out, mut queue) = tokio::sync::mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(m) = queue.recv().await {
            if tx.send(m).await.is_err() {
                break;
            }
        }
    });
    let pong = out.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Text(t) = m {
                if let Incoming::Ping = wire::read(proto, &t) {
                    let _ = pong.send(Message::text("3"));
                }
            }
        }
    });
    out
}

async fn wait_for(s: &Shared, n: u64, what: &str) -> Result<(), String> {
    let mut last = (s.total.load(Ordering::Relaxed), Instant::now());
    while s.total.load(Ordering::Relaxed) < n {
        let now = s.total.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(20) {
            return Err(format!("{what}: deliveries stalled at {now} of {n}"));
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(())
}

/// Run `load` against `servers` (all speaking `proto`), with `redis` behind them if any.
pub async fn run(
    proto: Proto,
    servers: &[Server],
    redis: Option<&RedisServer>,
    load: &Load,
) -> Result<Figures, String> {
    let n = load.members;
    let s = Arc::new(Shared {
        per_member: (0..n).map(|_| AtomicU64::new(0)).collect(),
        ..Shared::default()
    });
    let mut tasks = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut connecting = tokio::task::JoinSet::new();
        for &i in chunk {
            let port = servers[(i + load.first_node) % servers.len()].port;
            connecting.spawn(async move {
                (i, wire::connect(proto, &wire::url(proto, port, true)).await)
            });
        }
        while let Some(joined) = connecting.join_next().await {
            let (i, ws) = joined.map_err(|e| e.to_string())?;
            tasks.push(tokio::spawn(member(proto, ws?, i, s.clone())));
        }
    }
    let _abort = AbortOnDrop(tasks);
    let ws = wire::connect(proto, &wire::url(proto, servers[0].port, false)).await?;
    let out = sender(proto, ws);
    let mut seq = 0u64;
    let mut send = || {
        seq += 1;
        let _ = out.send(wire::say(proto, seq, &wire::payload(seq, ms())));
    };
    // 1. Readiness.
    let ready = Instant::now();
    while s.per_member.iter().any(|c| c.load(Ordering::Relaxed) == 0) {
        if ready.elapsed() > Duration::from_secs(30) {
            return Err("not every member received a probe within 30 s".into());
        }
        send();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<u64> = s
        .per_member
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let base = s.total.load(Ordering::Relaxed);
    // 2. Throughput.
    let nn = n as u64;
    let cpu = || -> (f64, f64, Option<f64>) {
        let servers_cpu = servers.iter().map(Server::cpu).sum();
        (
            servers_cpu,
            cpu_of("self"),
            redis.map(RedisServer::cpu_seconds),
        )
    };
    let (c0, t0) = (cpu(), Instant::now());
    for b in 0..load.messages {
        send();
        if b >= WINDOW {
            wait_for(&s, base + (b + 1 - WINDOW) * nn, "throughput").await?;
        }
    }
    wait_for(&s, base + load.messages * nn, "throughput").await?;
    let secs = t0.elapsed().as_secs_f64();
    let c1 = cpu();
    // 3. Latency.
    s.record.store(true, Ordering::Relaxed);
    let base2 = s.total.load(Ordering::Relaxed);
    for i in 1..=load.light {
        send();
        wait_for(&s, base2 + i * nn, "latency").await?;
        tokio::time::sleep(load.gap).await;
    }
    s.record.store(false, Ordering::Relaxed);
    // Every member got every message exactly once.
    let want = load.messages + load.light;
    for (i, c) in s.per_member.iter().enumerate() {
        let got = c.load(Ordering::Relaxed) - before[i];
        if got != want {
            return Err(format!("member {i} received {got} broadcasts of {want}"));
        }
    }
    let mut l = std::mem::take(&mut *s.latencies.lock().unwrap());
    l.sort_by(f64::total_cmp);
    let q = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    let deliveries = (load.messages * nn) as f64;
    Ok(Figures {
        deliveries_per_s: deliveries / secs,
        p50: q(0.5),
        p99: q(0.99),
        server_us: (c1.0 - c0.0) * 1e6 / deliveries,
        driver_us: (c1.1 - c0.1) * 1e6 / deliveries,
        redis_us: c1
            .2
            .zip(c0.2)
            .map(|(b, a)| (b - a) * 1e6 / load.messages as f64),
        frame_bytes: s.frame_bytes.load(Ordering::Relaxed),
    })
}

/// Member tasks end (and their sockets close) with the run, errors included.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

//! `cargo bench --bench fanout --features redis`: one room's fan-out on one node, and the
//! same room spread over three nodes (hubs in this process) on one real `redis-server`
//! (temporary unix socket): deliveries per second, p50/p99 from broadcast to receipt, CPU
//! per delivery (this process: servers and clients together), and Redis CPU per message.
//!
//! Clients are polycodec's own (msgpack) over loopback WebSockets, in this process, so the
//! clients' CPU competes with the servers' on the same two cores: the figures are a floor.
//! `--quick` (CI) runs a small room briefly.

#[path = "../tests/common/redis.rs"]
mod redis;

use polycodec::rpc::cluster::{RedisBackend, RedisConfig};
use polycodec::rpc::{Api, Call, Client, Hub, RpcServer};
use polycodec::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

fn ms() -> f64 {
    epoch().elapsed().as_secs_f64() * 1e3
}

/// This process's CPU seconds (user + system), from /proc.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime, in ticks of 10 ms) are the 12th and 13th after the
    // command name.
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

struct Sink {
    count: AtomicU64,
    latencies: Mutex<Vec<f64>>,
    record: std::sync::atomic::AtomicBool,
}

async fn serve(hub: Hub) -> String {
    let server = RpcServer::builder(Api::builder().build().unwrap())
        .hub(hub.clone())
        .on_connect(move |p| {
            hub.join(p.id(), "bench");
        })
        .build()
        .unwrap();
    let app = axum::Router::new().route("/ws", axum::routing::get(server.handler()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("ws://{addr}/ws")
}

async fn member(url: &str, sink: Arc<Sink>) -> Client {
    let api = Api::builder()
        .method("m", move |call: Call| {
            let sent = call.value(0).as_f64().unwrap_or(0.0);
            sink.count.fetch_add(1, Ordering::Relaxed);
            if sink.record.load(Ordering::Relaxed) {
                sink.latencies.lock().unwrap().push(ms() - sent);
            }
            async { Ok(Value::Undefined) }
        })
        .build()
        .unwrap();
    Client::builder(url)
        .codecs(["msgpack"])
        .expose(api)
        .connect()
        .await
        .unwrap()
}

async fn redis_hub(url: &str, id: &str) -> Hub {
    let cfg = RedisConfig::new(url).node_id(id);
    let hub = Hub::with_backend(RedisBackend::start(cfg).unwrap());
    while !hub.health().ok {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hub
}

struct Row {
    deliveries_per_s: f64,
    p50: f64,
    p99: f64,
    cpu_us_per_delivery: f64,
    redis_us_per_msg: Option<f64>,
}

async fn wait_for(sink: &Sink, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.count.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "deliveries stalled at {}/{n}",
            sink.count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// A room of `members` spread over `hubs`; broadcasts from the first hub.
async fn run(
    hubs: &[Hub],
    members: usize,
    messages: u64,
    redis: Option<&redis::RedisServer>,
) -> Row {
    let sink = Arc::new(Sink {
        count: AtomicU64::new(0),
        latencies: Mutex::default(),
        record: false.into(),
    });
    let mut urls = Vec::new();
    for h in hubs {
        urls.push(serve(h.clone()).await);
    }
    let mut clients = Vec::new();
    for i in 0..members {
        clients.push(member(&urls[i % urls.len()], sink.clone()).await);
    }
    // Every node sees every member before the first message.
    for h in hubs {
        while h.room_presence("bench").await.len() < members {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let n = members as u64;
    let send = |hub: &Hub| {
        hub.broadcast("bench", "m", vec![Value::from(ms())], None);
    };
    // Throughput: at most 8 broadcasts in flight (a peer's queue is bounded).
    let (cpu0, redis0, t0) = (cpu(), redis.map(|r| r.cpu_seconds()), Instant::now());
    for b in 0..messages {
        send(&hubs[0]);
        if b >= 8 {
            wait_for(&sink, (b - 7) * n).await;
        }
    }
    wait_for(&sink, messages * n).await;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_s = cpu() - cpu0;
    let redis_s = redis
        .map(|r| r.cpu_seconds())
        .zip(redis0)
        .map(|(b, a)| b - a);
    // Latency, unloaded: one broadcast at a time, the next 2 ms after the last delivery.
    sink.record.store(true, Ordering::Relaxed);
    let base = sink.count.load(Ordering::Relaxed);
    let light = (messages / 4).max(10);
    for i in 1..=light {
        send(&hubs[0]);
        wait_for(&sink, base + i * n).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut l = sink.latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let q = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
    drop(clients);
    Row {
        deliveries_per_s: (messages * n) as f64 / secs,
        p50: q(0.5),
        p99: q(0.99),
        cpu_us_per_delivery: cpu_s * 1e6 / (messages * n) as f64,
        redis_us_per_msg: redis_s.map(|s| s * 1e6 / messages as f64),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("POLYCODEC_BENCH_QUICK").is_some();
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let _ = rlimit::Resource::NOFILE.set(hard.min(65_536), hard);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        epoch();
        let redis = redis::RedisServer::start();
        let rooms: &[usize] = if quick { &[30] } else { &[300, 1000] };
        let messages = if quick { 20 } else { 200 };
        use std::fmt::Write as _;
        let mut table = String::new();
        let _ = writeln!(table, "| room | nodes | deliveries/s | p50 ms | p99 ms | CPU µs/delivery (servers + clients) | Redis CPU µs/message |");
        let _ = writeln!(table, "|---|---|---|---|---|---|---|");
        for &members in rooms {
            let one = run(&[Hub::new()], members, messages, None).await;
            let mut hubs = Vec::new();
            for i in 0..3 {
                hubs.push(redis_hub(&redis.url(), &format!("b{members}-{i}")).await);
            }
            let three = run(&hubs, members, messages, Some(&redis)).await;
            for (nodes, r) in [(1, &one), (3, &three)] {
                let _ = writeln!(
                    table,
                    "| {members} | {nodes} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                    r.deliveries_per_s,
                    r.p50,
                    r.p99,
                    r.cpu_us_per_delivery,
                    r.redis_us_per_msg.map_or("–".into(), |v| format!("{v:.1}"))
                );
            }
            let _ = writeln!(
                table,
                "| {members} | 3 vs 1 | {:.0}% | {:+.2} | | | |",
                100.0 * three.deliveries_per_s / one.deliveries_per_s,
                three.p50 - one.p50
            );
        }
        println!("\n{table}");
        if !quick {
            // The section `benches/compare/run` puts into docs/benchmarks.md.
            let redis_version = std::process::Command::new("redis-server")
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            let md = format!(
                "## Fan-out: one room on one node, and over three nodes on Redis\n\n\
                 Generated by `cargo bench --bench fanout --features redis` ({redis_version}), \
                 {messages} broadcasts per room.\n\n{table}\n{}",
                include_str!("fanout-notes.md")
            );
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            std::fs::write(root.join("docs/benchmarks-fanout.md"), md).unwrap();
        }
    });
}

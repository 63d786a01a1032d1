//! `cargo bench --bench fanout --features redis`: one room's fan-out on one node, and the
//! same room spread over three nodes on one real `redis-server` (temporary unix socket),
//! for polycodec and its anchors, all measured by one load driver ([`driver`]) with a
//! protocol adapter per server ([`wire`]):
//!
//! * polycodec: nodes are this binary run again as separate processes ([`node`]);
//! * Socket.IO 4.8.4 on node, alone and as three node processes on
//!   `@socket.io/redis-adapter` 8.3.0 (`benches/fanout/socketio.mjs`);
//! * Hono's `upgradeWebSocket` on Bun with a chat's room loop, and Bun's native `publish`
//!   (`benches/fanout/hono-bun.mjs`).
//!
//! Figures: deliveries per second, p50/p99 from send to receipt, CPU per delivery of the
//! servers and of the driver, Redis CPU per message, and the targets of issue 19. The full
//! run writes `docs/benchmarks-fanout.md` (which `benches/compare/run` includes). The
//! anchors' packages are installed from their lock files when missing (`npm ci` in
//! `benches/fanout` and, for Bun, `benches/compare/bun`); an anchor that cannot run is
//! skipped with a line saying why. `--quick` (or `POLYCODEC_BENCH_QUICK=1`) runs small
//! rooms briefly and writes nothing.

#[path = "fanout/driver.rs"]
mod driver;
#[path = "fanout/node.rs"]
mod node;
#[path = "fanout/procs.rs"]
mod procs;
#[path = "../tests/common/redis.rs"]
mod redis;
#[path = "fanout/report.rs"]
mod report;
#[path = "fanout/wire.rs"]
mod wire;

use driver::{Figures, Load};
use procs::{Anchors, Server};
use redis::RedisServer;
use std::path::PathBuf;
use std::time::Duration;
use wire::Proto;

/// A server under test.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// polycodec (JSON clients), one process per node.
    Polycodec,
    /// Socket.IO on node (redis-adapter on three nodes).
    SocketIo,
    /// Hono's `upgradeWebSocket` on Bun, a room loop.
    HonoLoop,
    /// Hono's `upgradeWebSocket` on Bun, Bun's `server.publish`.
    BunPublish,
}

impl Kind {
    fn proto(self) -> Proto {
        match self {
            Kind::Polycodec => Proto::Polycodec,
            Kind::SocketIo => Proto::SocketIo,
            Kind::HonoLoop | Kind::BunPublish => Proto::Plain,
        }
    }
}

/// Start `nodes` servers of `kind` (on `redis` when more than one).
async fn start(
    kind: Kind,
    nodes: usize,
    redis: Option<&RedisServer>,
    anchors: &Anchors,
) -> Result<Vec<Server>, String> {
    let dir = procs::root().join("benches/fanout");
    let mut servers = Vec::new();
    for i in 0..nodes {
        let (program, mut args): (PathBuf, Vec<String>) = match kind {
            Kind::Polycodec => {
                // Each node gets its share of the cores (a node process of the anchors is
                // one thread): three runtimes of a worker per core each would fight over
                // two cores.
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let workers = (cores / nodes).max(1);
                (
                    std::env::current_exe().map_err(|e| e.to_string())?,
                    vec!["--fanout-node".into(), workers.to_string()],
                )
            }
            Kind::SocketIo => {
                anchors.node.as_ref()?;
                (
                    "node".into(),
                    vec![dir.join("socketio.mjs").display().to_string()],
                )
            }
            Kind::HonoLoop | Kind::BunPublish => {
                let bun = anchors.bun.as_ref()?;
                let mode = if kind == Kind::HonoLoop {
                    "loop"
                } else {
                    "publish"
                };
                let file = dir.join("hono-bun.mjs").display().to_string();
                (bun.clone(), vec![file, mode.into()])
            }
        };
        if let Some(r) = redis {
            match kind {
                Kind::Polycodec => {
                    args.push(r.url());
                    args.push(format!("n{i}-{}", std::process::id()));
                }
                _ => args.push(r.sock.display().to_string()),
            }
        }
        servers.push(Server::start(&program, &args).await?);
    }
    Ok(servers)
}

/// One row: `kind` on `nodes` nodes (three share a fresh `redis-server`).
async fn measure(
    kind: Kind,
    nodes: usize,
    load: &Load,
    anchors: &Anchors,
) -> Result<Figures, String> {
    let redis = (nodes > 1).then(RedisServer::start);
    let servers = start(kind, nodes, redis.as_ref(), anchors).await?;
    driver::run(kind.proto(), &servers, redis.as_ref(), load).await
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--fanout-node") {
        return node::main(&args[i + 1..]);
    }
    let quick =
        args.iter().any(|a| a == "--quick") || std::env::var_os("POLYCODEC_BENCH_QUICK").is_some();
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let _ = rlimit::Resource::NOFILE.set(hard.min(65_536), hard);
    if let Err(e) = redis::binary() {
        eprintln!("fanout: {e}");
        std::process::exit(1);
    }
    let anchors = procs::anchors();
    for (name, why) in [
        ("Socket.IO", anchors.node.as_ref().err()),
        ("Hono and Bun", anchors.bun.as_ref().err()),
    ] {
        if let Some(why) = why {
            eprintln!("fanout: skipping {name}: {why}");
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        driver::ms();
        let load_before = report::loadavg();
        let rooms: &[usize] = if quick { &[30] } else { &[300, 1000] };
        // The same deliveries per row for every room size; rounds alternate the servers, so
        // that a busy spell of the machine falls on all of them rather than on one.
        let deliveries: u64 = if quick { 600 } else { 300_000 };
        let (light, rounds) = if quick { (10, 1) } else { (30, 3) };
        let configs = [
            (Kind::Polycodec, 1),
            (Kind::Polycodec, 3),
            (Kind::SocketIo, 1),
            (Kind::SocketIo, 3),
            (Kind::HonoLoop, 1),
            (Kind::BunPublish, 1),
        ];
        let mut results: Vec<Vec<Result<Figures, String>>> = Vec::new();
        results.resize_with(rooms.len() * configs.len(), Vec::new);
        for round in 1..=rounds {
            for (r, &members) in rooms.iter().enumerate() {
                let load = Load {
                    members,
                    first_node: 0,
                    messages: deliveries / members as u64,
                    light,
                    gap: Duration::from_millis(2),
                };
                for (c, &(kind, nodes)) in configs.iter().enumerate() {
                    let f = measure(kind, nodes, &load, &anchors).await;
                    report::progress(round, members, kind, nodes, &f);
                    results[r * configs.len() + c].push(f);
                }
            }
        }
        let mut rows = Vec::new();
        for (i, rounds) in results.into_iter().enumerate() {
            let (kind, nodes) = configs[i % configs.len()];
            rows.push(report::Row::new(
                rooms[i / configs.len()],
                kind,
                nodes,
                rounds,
            ));
        }
        // The latency added by Redis: one member, on another node than the sender's.
        let mut hops = Vec::new();
        for kind in [Kind::Polycodec, Kind::SocketIo] {
            for nodes in [1, 3] {
                let load = Load {
                    members: 1,
                    first_node: nodes - 1,
                    messages: 100,
                    light: if quick { 100 } else { 1000 },
                    gap: Duration::from_millis(1),
                };
                let r = measure(kind, nodes, &load, &anchors).await;
                report::progress(1, 1, kind, nodes, &r);
                hops.push(report::Row::new(1, kind, nodes, vec![r]));
            }
        }
        let md = report::markdown(
            &rows,
            &hops,
            &anchors,
            (deliveries, light, rounds),
            &load_before,
        );
        println!("\n{md}");
        if !quick {
            let path = procs::root().join("docs/benchmarks-fanout.md");
            std::fs::write(path, md).unwrap();
        }
    });
}

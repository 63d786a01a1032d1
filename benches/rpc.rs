//! `cargo bench --bench rpc`: round-trip latency (p50, p99) and pipelined throughput over
//! loopback, per codec, with polycodec's own client; plus the legacy-protocol load client
//! (the one the JS comparison uses) on one and on many connections.
//!
//! `--quick` (used by CI) runs each measurement briefly.

#[path = "common/mod.rs"]
mod common;
#[path = "common/load.rs"]
mod load;

use polycodec::rpc::Client;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("POLYCODEC_BENCH_QUICK").is_some();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let addr = common::serve_demo().await;
        let url = format!("ws://{addr}/rpc");
        let (n, secs) = if quick { (200, 0.3) } else { (5_000, 3.0) };
        let small = common::small();

        println!("\npolycodec client -> polycodec server, echo(small payload), loopback");
        println!("| codec | p50 µs | p99 µs | pipelined calls/s (1 conn, 64 in flight) |");
        println!("|---|---|---|---|");
        let mut codecs = vec!["json", "superjson", "msgpack"];
        if cfg!(feature = "bincode") {
            codecs.push("bincode");
        }
        for codec in codecs {
            let client = Arc::new(
                Client::builder(&url)
                    .codecs([codec])
                    .connect()
                    .await
                    .unwrap(),
            );
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let _: common::Small = client.call("echo", (&small,)).await.unwrap();
                lat.push(t.elapsed());
            }
            lat.sort();
            let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..64 {
                let c = client.clone();
                let s = small.clone();
                tasks.spawn(async move {
                    let mut k = 0u64;
                    while Instant::now() < deadline {
                        let _: common::Small = c.call("echo", (&s,)).await.unwrap();
                        k += 1;
                    }
                    k
                });
            }
            let started = Instant::now();
            let mut total = 0;
            while let Some(k) = tasks.join_next().await {
                total += k.unwrap();
            }
            let tput = total as f64 / started.elapsed().as_secs_f64();
            println!("| {codec} | {:.0} | {:.0} | {:.0} |", p(0.5), p(0.99), tput);
        }

        let arg = serde_json::to_string(&small).unwrap();
        let d = Duration::from_secs_f64(secs);
        let one = load::run(&url, 1, 64, d, &arg).await;
        let many = load::run(&url, 16, 16, d, &arg).await;
        println!("\nlegacy-protocol load client (JSON), echo(small payload)");
        println!("| shape | calls/s | p50 µs | p99 µs |");
        println!("|---|---|---|---|");
        for (shape, r) in [
            ("1 connection, 64 in flight", one),
            ("16 connections, 16 in flight each", many),
        ] {
            println!(
                "| {shape} | {:.0} | {:.0} | {:.0} |",
                r.per_second(),
                r.p50_us,
                r.p99_us
            );
        }
    });
}

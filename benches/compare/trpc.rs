//! The tRPC rows of `benches/compare/run`: one load client (`common/trpc_load.rs`) against
//! polycodec's contract router and the real `@trpc/server` 11.25.2
//! (`js/trpc-reference-server.mjs`) on node and on Bun, `echo(small payload)` through
//! superjson, 32 calls in flight, over WebSocket (wsLink's frames) and over HTTP batches
//! (httpBatchLink's requests). Rounds alternate the sides as the other comparisons do.

use super::load::LoadResult;
use super::trpc_load;
use super::{median, ratios, Runtime, Spread};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Calls in flight (the shape).
const DEPTH: usize = 32;
const TRANSPORTS: [&str; 2] = ["wsLink (WebSocket)", "httpBatchLink (HTTP batches)"];

/// The reference server under one runtime.
struct Reference {
    _process: super::server::Process,
    addr: SocketAddr,
}

impl Reference {
    fn start(root: &Path, program: &Path) -> Reference {
        let mut cmd = Command::new(program);
        cmd.arg(root.join("js/trpc-reference-server.mjs"))
            .arg("0")
            .current_dir(root);
        let (process, line) = super::server::Process::start(cmd, "the tRPC reference server");
        // READY http=http://127.0.0.1:PORT/trpc ws=ws://127.0.0.1:PORT/ws
        let host = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no READY line: {line:?}"));
        Reference {
            _process: process,
            addr: host.parse().unwrap(),
        }
    }
}

/// What the tRPC comparison measured: per transport, one result per round.
pub struct Measured {
    ours: [Vec<LoadResult>; 2],
    theirs: Vec<(String, [Vec<LoadResult>; 2])>,
}

async fn one(addr: SocketAddr, ws_path: &str, t: usize, d: Duration, input: &str) -> LoadResult {
    match t {
        0 => trpc_load::ws(&format!("ws://{addr}{ws_path}"), DEPTH, d, input).await,
        _ => trpc_load::http_batch(addr, "/trpc", DEPTH, d, input).await,
    }
}

/// Run the comparison: `rounds` rounds of `secs` per measurement.
/// `ours` is polycodec's server process (`super::server`), serving the contract router on
/// `/trpc`.
pub async fn measure(
    root: &Path,
    ours_addr: SocketAddr,
    runtimes: &[Runtime],
    rounds: usize,
    secs: f64,
) -> Measured {
    let input = polycodec::codec::SuperJson::new()
        .to_string(&super::common::small())
        .unwrap();
    let servers: Vec<Reference> = runtimes
        .iter()
        .map(|r| Reference::start(root, &r.program))
        .collect();
    let d = Duration::from_secs_f64(secs);
    // Warm-up: a short run on each side.
    for t in 0..2 {
        one(ours_addr, "/trpc", t, d / 4, &input).await;
        for s in &servers {
            one(s.addr, "/ws", t, d / 4, &input).await;
        }
    }
    let mut ours = [Vec::new(), Vec::new()];
    let mut theirs: Vec<[Vec<LoadResult>; 2]> =
        servers.iter().map(|_| Default::default()).collect();
    for round in 0..rounds {
        for t in 0..2 {
            if round % 2 == 1 {
                ours[t].push(one(ours_addr, "/trpc", t, d, &input).await);
            }
            for (k, s) in servers.iter().enumerate() {
                theirs[k][t].push(one(s.addr, "/ws", t, d, &input).await);
            }
            if round % 2 == 0 {
                ours[t].push(one(ours_addr, "/trpc", t, d, &input).await);
            }
        }
    }
    drop(servers);
    let theirs = runtimes
        .iter()
        .map(|r| r.name.to_owned())
        .zip(theirs)
        .collect();
    Measured { ours, theirs }
}

fn per_second(rs: &[LoadResult]) -> Vec<f64> {
    rs.iter().map(LoadResult::per_second).collect()
}

fn p99(rs: &[LoadResult]) -> Vec<f64> {
    rs.iter().map(|r| r.p99_us).collect()
}

/// The section of `docs/benchmarks.md`, its bars for the chart, and its targets.
pub fn report(m: &Measured, secs: f64, chart: &mut Vec<(String, f64)>) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## tRPC: the same load client against polycodec and the real @trpc/server\n"
    );
    let _ = writeln!(
        md,
        "`echo(small payload)` as a tRPC query with `transformer: superjson`, {DEPTH} calls in flight, \
         loopback, {secs} s per measurement. One load client (`benches/common/trpc_load.rs`, Rust) sends \
         what `wsLink` sends (one request per frame, on one socket) and what `httpBatchLink` sends \
         (`GET /trpc/echo,echo,…?batch=1`, {DEPTH} calls per batch, on one keep-alive connection). \
         polycodec serves the contract router (`src/rpc/demo_trpc.rs`) in a process of its own \
         (`benches/compare/server.rs`); the reference is \
         `js/trpc-reference-server.mjs` (`@trpc/server` 11.25.2, standalone + ws adapters) under {}.\n",
        m.theirs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" and ")
    );
    let mut header = String::from("| transport | polycodec calls/s |");
    let mut rule = String::from("|---|---|");
    for (n, _) in &m.theirs {
        let _ = write!(header, " @trpc/server ({n}) calls/s | ratio vs {n} |");
        rule.push_str("---|---|");
    }
    header.push_str(" polycodec p50 / p99 µs |");
    rule.push_str("---|");
    for (n, _) in &m.theirs {
        let _ = write!(header, " @trpc/server ({n}) p50 / p99 µs |");
        rule.push_str("---|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for (t, name) in TRANSPORTS.iter().enumerate() {
        let o = &m.ours[t];
        let mut line = format!("| {name} | {:.0} |", median(&per_second(o)));
        for (n, r) in &m.theirs {
            let ratio = Spread::of(&ratios(&per_second(o), &per_second(&r[t])));
            let _ = write!(
                line,
                " {:.0} | **{}×** |",
                median(&per_second(&r[t])),
                ratio.show(1)
            );
            chart.push((
                format!("tRPC {} vs {n}", name.split(' ').next().unwrap()),
                ratio.median,
            ));
        }
        let p50 = |rs: &[LoadResult]| median(&rs.iter().map(|r| r.p50_us).collect::<Vec<_>>());
        let _ = write!(line, " {:.0} / {:.0} |", p50(o), median(&p99(o)));
        for (_, r) in &m.theirs {
            let _ = write!(line, " {:.0} / {:.0} |", p50(&r[t]), median(&p99(&r[t])));
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(
        md,
        "\n| target | measured: median (min–max) | met |\n|---|---|---|"
    );
    for (n, r) in &m.theirs {
        let target = n == "node";
        let met = |ok: bool| match (target, ok) {
            (false, _) => "no target (for scale: the target names node)",
            (true, true) => "yes",
            (true, false) => "no",
        };
        for (t, name) in TRANSPORTS.iter().enumerate() {
            let ratio = Spread::of(&ratios(&per_second(&m.ours[t]), &per_second(&r[t])));
            let _ = writeln!(
                md,
                "| tRPC echo at {DEPTH} in flight over {name} ≥ 5× @trpc/server on {n} | {} | {} |",
                ratio.show(2),
                met(ratio.min >= 5.0)
            );
            let p = Spread::of(&ratios(&p99(&m.ours[t]), &p99(&r[t])));
            let _ = writeln!(
                md,
                "| tRPC p99 over {name} lower than on {n}: polycodec's p99 ÷ @trpc/server's | {} | {} |",
                p.show(2),
                met(p.max < 1.0)
            );
        }
    }
    md
}

//! The fan-out report: the rows, the targets of issue 19 (met or not, from this run's
//! figures), and the notes (`benches/fanout-notes.md`), as Markdown.

use crate::driver::{Figures, WINDOW};
use crate::procs::{self, Anchors};
use crate::Kind;
use std::fmt::Write as _;

/// One measured (or skipped) configuration.
pub struct Row {
    /// Members in the room.
    pub members: usize,
    /// The server.
    pub kind: Kind,
    /// Its nodes.
    pub nodes: usize,
    /// The median of each figure over the rounds, or why a round could not run.
    pub figures: Result<Figures, String>,
    /// The lowest and highest deliveries/s of the rounds.
    pub spread: (f64, f64),
}

impl Row {
    /// The row of `rounds` (at least one) of one configuration.
    pub fn new(
        members: usize,
        kind: Kind,
        nodes: usize,
        rounds: Vec<Result<Figures, String>>,
    ) -> Row {
        let ok: Result<Vec<Figures>, String> = rounds.into_iter().collect();
        let spread = ok.as_ref().map_or((0.0, 0.0), |f| {
            let rates = f.iter().map(|f| f.deliveries_per_s);
            (
                rates.clone().fold(f64::MAX, f64::min),
                rates.fold(0.0, f64::max),
            )
        });
        Row {
            members,
            kind,
            nodes,
            figures: ok.map(|f| median(&f)),
            spread,
        }
    }
}

/// The median of each figure on its own.
fn median(rounds: &[Figures]) -> Figures {
    let m = |get: fn(&Figures) -> f64| {
        let mut xs: Vec<f64> = rounds.iter().map(get).collect();
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let redis = rounds.iter().all(|f| f.redis_us.is_some());
    Figures {
        deliveries_per_s: m(|f| f.deliveries_per_s),
        p50: m(|f| f.p50),
        p99: m(|f| f.p99),
        server_us: m(|f| f.server_us),
        driver_us: m(|f| f.driver_us),
        redis_us: redis.then(|| m(|f| f.redis_us.unwrap_or(0.0))),
        frame_bytes: rounds[0].frame_bytes,
    }
}

/// The first line of `/proc/loadavg` (the 1, 5 and 15 minute load averages).
pub fn loadavg() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The version `benches/fanout/package.json` pins (what `npm ci` installs).
fn package_version(name: &str) -> String {
    let path = procs::root().join("benches/fanout/package.json");
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["dependencies"][name].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn label(kind: Kind, nodes: usize) -> String {
    match (kind, nodes) {
        (Kind::Polycodec, _) => "polycodec (JSON)".into(),
        (Kind::SocketIo, 1) => format!("Socket.IO {}", package_version("socket.io")),
        (Kind::SocketIo, _) => format!(
            "Socket.IO {} + redis-adapter {}",
            package_version("socket.io"),
            package_version("@socket.io/redis-adapter")
        ),
        (Kind::HonoLoop, _) => format!("Hono {} on Bun, room loop", package_version("hono")),
        (Kind::BunPublish, _) => {
            format!("Hono {} on Bun, `server.publish`", package_version("hono"))
        }
    }
}

/// One line on stderr as each row is done.
pub fn progress(
    round: usize,
    members: usize,
    kind: Kind,
    nodes: usize,
    r: &Result<Figures, String>,
) {
    let name = label(kind, nodes);
    match r {
        Ok(f) => eprintln!(
            "fanout: round {round}, {members} members, {name}, {nodes} node(s): {:.0} deliveries/s, p50 {:.3} ms, p99 {:.3} ms",
            f.deliveries_per_s, f.p50, f.p99
        ),
        Err(e) => eprintln!("fanout: round {round}, {members} members, {name}, {nodes} node(s): not run: {e}"),
    }
}

fn find(rows: &[Row], members: usize, kind: Kind, nodes: usize) -> Option<&Figures> {
    rows.iter()
        .find(|r| r.members == members && r.kind == kind && r.nodes == nodes)
        .and_then(|r| r.figures.as_ref().ok())
}

fn yes(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**not met**"
    }
}

fn targets(out: &mut String, rows: &[Row], hops: &[Row]) {
    let _ = writeln!(out, "| target (issue 19) | this run | |\n|---|---|---|");
    for members in [300, 1000] {
        let pc = find(rows, members, Kind::Polycodec, 3);
        let sio = find(rows, members, Kind::SocketIo, 3);
        let line = match (pc, sio) {
            (Some(p), Some(s)) => {
                let x = p.deliveries_per_s / s.deliveries_per_s;
                format!(
                    "{x:.1}× ({:.0} vs {:.0}); p99 {:.2} vs {:.2} ms | {}",
                    p.deliveries_per_s,
                    s.deliveries_per_s,
                    p.p99,
                    s.p99,
                    yes(x >= 3.0 && p.p99 < s.p99)
                )
            }
            _ => "not measured | –".into(),
        };
        let _ = writeln!(
            out,
            "| ≥ 3× Socket.IO + redis-adapter deliveries/s over three nodes, lower p99 ({members} members) | {line} |"
        );
    }
    for members in [300, 1000] {
        let line = match (
            find(rows, members, Kind::Polycodec, 3),
            find(rows, members, Kind::Polycodec, 1),
        ) {
            (Some(three), Some(one)) => {
                let r = three.deliveries_per_s / one.deliveries_per_s;
                let verdict = if members == 300 {
                    yes(r >= 0.8)
                } else {
                    "(not a target)"
                };
                format!("{:.0}% | {verdict}", r * 100.0)
            }
            _ => "not measured | –".into(),
        };
        let _ = writeln!(
            out,
            "| ≥ 80% of single-node deliveries/s over three nodes ({members} members) | {line} |"
        );
    }
    for members in [300, 1000] {
        let redis = |kind| find(rows, members, kind, 3).and_then(|f| f.redis_us);
        let line = match (redis(Kind::Polycodec), redis(Kind::SocketIo)) {
            (Some(p), s) => {
                let s = s.map_or("not measured".into(), |s| format!("{s:.1} µs"));
                format!(
                    "{p:.1} µs (Socket.IO + redis-adapter: {s}) | {}",
                    yes(p <= 10.0)
                )
            }
            _ => "not measured | –".into(),
        };
        let _ = writeln!(
            out,
            "| Redis CPU ≤ 10 µs per message (the aim of the scale-out design, not of issue 19; {members} members) | {line} |"
        );
    }
    for kind in [Kind::Polycodec, Kind::SocketIo] {
        let line = match (find(hops, 1, kind, 3), find(hops, 1, kind, 1)) {
            (Some(three), Some(one)) => {
                let d = three.p50 - one.p50;
                let verdict = if kind == Kind::Polycodec {
                    yes(d <= 0.3)
                } else {
                    "(anchor)"
                };
                format!(
                    "{d:+.3} ms (p50 {:.3} vs {:.3}; p99 {:.3} vs {:.3}) | {verdict}",
                    three.p50, one.p50, three.p99, one.p99
                )
            }
            _ => "not measured | –".into(),
        };
        let _ = writeln!(
            out,
            "| ≤ +0.3 ms p50 over one node, one member on another node than the sender: {} | {line} |",
            label(kind, 3)
        );
    }
}

/// The whole section.
pub fn markdown(
    rows: &[Row],
    hops: &[Row],
    anchors: &Anchors,
    (deliveries, light, rounds): (u64, u64, usize),
    load_before: &str,
) -> String {
    let cmd = |p: &str, a: &str| {
        std::process::Command::new(p)
            .arg(a)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let node = anchors
        .node
        .clone()
        .unwrap_or_else(|e| format!("none ({e})"));
    let bun = match &anchors.bun {
        Ok(b) => procs::bun_version(b),
        Err(e) => format!("none ({e})"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Fan-out: one room on one node, and over three nodes on Redis\n\n\
         Generated by `cargo bench --bench fanout --features redis`: {}, node {node}, \
         Bun {bun}, {cores} cores, load average {load_before} at the start and {} at the \
         end. Each row is the median of {rounds} rounds (deliveries/s: median, lowest–highest), \
         the rounds alternating the servers. Throughput: {deliveries} deliveries per row and \
         round (broadcasts = that ÷ members, at most {WINDOW} in flight); latency: {light} \
         broadcasts one at a time per round.\n",
        cmd("redis-server", "--version"),
        loadavg()
    );
    let _ = writeln!(
        out,
        "| room | server | nodes | deliveries/s | p50 ms | p99 ms | CPU µs/delivery: servers | driver | Redis CPU µs/message | delivery frame bytes |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let name = label(r.kind, r.nodes);
        let _ = match &r.figures {
            Ok(f) => writeln!(
                out,
                "| {} | {name} | {} | {:.0} ({:.0}–{:.0}) | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
                r.members,
                r.nodes,
                f.deliveries_per_s,
                r.spread.0,
                r.spread.1,
                f.p50,
                f.p99,
                f.server_us,
                f.driver_us,
                f.redis_us.map_or("–".into(), |v| format!("{v:.1}")),
                f.frame_bytes
            ),
            Err(e) => writeln!(
                out,
                "| {} | {name} | {} | not run: {e} | | | | | | |",
                r.members, r.nodes
            ),
        };
    }
    let _ = writeln!(out);
    targets(&mut out, rows, hops);
    let _ = write!(out, "\n{}", include_str!("../fanout-notes.md"));
    out
}

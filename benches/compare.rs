//! `benches/compare/run`: polycodec side by side with its JS anchors, in one run on one
//! machine, written to `docs/benchmarks.md` (and a chart, `docs/benchmarks.svg`).
//!
//! * Codecs: the same payloads through JS `superjson.stringify`/`parse` and
//!   `JSON.stringify`/`parse` under node, and through polycodec's superjson (typed and
//!   `Value`) and raw serde_json.
//! * RPC: the same load client (Rust, kkrpc legacy protocol, JSON) against polycodec's
//!   server and against a kkrpc 0.2.2 server on node and, when it installs, on Bun.
//! * tRPC: one load client (Rust, wsLink's frames and httpBatchLink's requests) against
//!   polycodec's contract router and the real `@trpc/server` on node and Bun
//!   ([`trpc`]).

#[path = "common/mod.rs"]
mod common;
#[path = "common/load.rs"]
mod load;
#[path = "compare/server.rs"]
mod server;
#[path = "compare/trpc.rs"]
mod trpc;
#[path = "common/trpc_load.rs"]
mod trpc_load;

use polycodec::codec::{Codec, SuperJson};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Operations per second of `f`, run for about `ms`.
fn ops(ms: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(ms) {
        for _ in 0..4 {
            f();
        }
        n += 4;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The spread of one figure over the rounds of a run.
#[derive(Clone, Copy, Debug)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    /// The spread of `xs` (one per round; not empty).
    fn of(xs: &[f64]) -> Spread {
        let mut s = xs.to_vec();
        s.sort_by(f64::total_cmp);
        Spread {
            min: s[0],
            median: s[s.len() / 2],
            max: s[s.len() - 1],
        }
    }

    /// `median (min–max)`, with `digits` decimals.
    fn show(&self, digits: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = digits
        )
    }
}

/// One payload's figures, one entry per round. Within a round the operations that a ratio
/// compares run back to back (superjson, then serde_json on the same structs), and the
/// rounds alternate with the JS side, so that a slow spell of the machine falls on both
/// sides of a ratio rather than on one.
#[derive(Default)]
struct Row {
    name: &'static str,
    sj_bytes: usize,
    typed_enc: Vec<f64>,
    typed_dec: Vec<f64>,
    value_enc: Vec<f64>,
    value_dec: Vec<f64>,
    serde_json_enc: Vec<f64>,
    serde_json_dec: Vec<f64>,
    /// The `msgpackr` MessagePack profile, typed and through a `Value`.
    mpr_bytes: usize,
    mpr_enc: Vec<f64>,
    mpr_dec: Vec<f64>,
    mpr_value_enc: Vec<f64>,
    mpr_value_dec: Vec<f64>,
}

/// One round of every Rust-side measurement of payload `v`, appended to `row`.
fn measure<T: Serialize + DeserializeOwned>(row: &mut Row, v: &T, ms: u64) {
    let sj = SuperJson::new();
    let bytes = sj.to_vec(v).unwrap();
    let value = sj.decode_value(&bytes).unwrap();
    let raw = serde_json::to_vec(v).unwrap();
    row.sj_bytes = bytes.len();
    row.typed_enc.push(ops(ms, || {
        drop(black_box(sj.to_vec(black_box(v)).unwrap()))
    }));
    row.serde_json_enc.push(ops(ms, || {
        drop(black_box(serde_json::to_vec(black_box(v)).unwrap()))
    }));
    row.typed_dec.push(ops(ms, || {
        drop(black_box(sj.from_slice::<T>(black_box(&bytes)).unwrap()))
    }));
    row.serde_json_dec.push(ops(ms, || {
        drop(black_box(
            serde_json::from_slice::<T>(black_box(&raw)).unwrap(),
        ))
    }));
    row.value_enc.push(ops(ms, || {
        drop(black_box(sj.encode_value(black_box(&value)).unwrap()))
    }));
    row.value_dec.push(ops(ms, || {
        drop(black_box(sj.decode_value(black_box(&bytes)).unwrap()))
    }));
    let mpr = polycodec::codec::MsgPack::msgpackr();
    let packed = mpr.to_vec(v).unwrap();
    row.mpr_bytes = packed.len();
    row.mpr_enc.push(ops(ms, || {
        drop(black_box(mpr.to_vec(black_box(v)).unwrap()))
    }));
    row.mpr_dec.push(ops(ms, || {
        drop(black_box(mpr.from_slice::<T>(black_box(&packed)).unwrap()))
    }));
    row.mpr_value_enc.push(ops(ms, || {
        drop(black_box(mpr.encode_value(black_box(&value)).unwrap()))
    }));
    row.mpr_value_dec.push(ops(ms, || {
        drop(black_box(mpr.decode_value(black_box(&packed)).unwrap()))
    }));
}

/// Element-wise `a[i] / b[i]`: one ratio per round.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// The median of `xs`.
fn median(xs: &[f64]) -> f64 {
    Spread::of(xs).median
}

/// Operations per second as shown in the report: one decimal below 100 (the large payload
/// runs a few dozen times a second in JS), whole numbers above.
fn rate(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn num(v: &polycodec::Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or(&polycodec::Value::Undefined);
    }
    cur.as_f64().unwrap_or(f64::NAN)
}

fn version(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// A JavaScript runtime that hosts the kkrpc 0.2.2 server.
struct Runtime {
    /// Name in the report ("node", "Bun").
    name: &'static str,
    /// The executable.
    program: std::path::PathBuf,
    /// What `--version` printed.
    version: String,
}

/// node always; Bun when `benches/compare/run` could install it from npm (it is skipped,
/// and the report says so, when it could not).
fn runtimes(root: &Path) -> Vec<Runtime> {
    let mut all = vec![Runtime {
        name: "node",
        program: "node".into(),
        version: version("node", &["--version"]),
    }];
    let bun = root.join("benches/compare/bun/node_modules/.bin/bun");
    let bun_version = version(&bun.to_string_lossy(), &["--version"]);
    if bun_version != "unknown" && !bun_version.is_empty() {
        all.push(Runtime {
            name: "Bun",
            program: bun,
            version: bun_version,
        });
    }
    all
}

/// `benches/compare/kkrpc-server.mjs` running under one runtime.
struct KkrpcServer {
    _process: server::Process,
    url: String,
}

impl KkrpcServer {
    fn start(root: &Path, program: &Path) -> Self {
        let mut cmd = Command::new(program);
        cmd.arg(root.join("benches/compare/kkrpc-server.mjs"))
            .current_dir(root);
        let (process, line) = server::Process::start(cmd, "the kkrpc server");
        let port = server::port_of(&line, "the kkrpc server");
        KkrpcServer {
            _process: process,
            url: format!("ws://127.0.0.1:{port}/"),
        }
    }
}

/// `benches/compare/js-codecs.mjs` under node, kept running between rounds.
struct JsCodecs {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl JsCodecs {
    fn start(root: &Path, payloads: &Path, ms: u64) -> Self {
        let mut child = Command::new("node")
            .arg(root.join("benches/compare/js-codecs.mjs"))
            .arg(payloads)
            .arg(ms.to_string())
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        JsCodecs { child, lines }
    }

    /// One round of every JS measurement.
    fn round(&mut self) -> polycodec::Value {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
        let line = self
            .lines
            .next()
            .expect("js-codecs.mjs printed a round")
            .unwrap();
        polycodec::codec::Json::new()
            .decode_value(line.as_bytes())
            .unwrap()
    }
}

impl Drop for JsCodecs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The RPC load shapes: (connections, calls in flight on each).
const SHAPES: [(usize, usize); 3] = [(1, 1), (1, 64), (16, 16)];
const SHAPE_NAMES: [&str; 3] = [
    "1 connection, 1 in flight",
    "1 connection, 64 in flight",
    "16 connections × 16 in flight",
];

fn main() {
    if std::env::args().any(|a| a == server::FLAG) {
        return server::main();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    // Rounds alternate the two sides of each comparison; every ratio is reported as its
    // median with the min and max over the rounds.
    let (ms, rounds, rpc_secs) = if quick { (60, 2, 0.3) } else { (400, 7, 2.0) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // ---- codecs ----
    let sj = SuperJson::new();
    let mut payloads = polycodec::Object::new();
    for (name, text) in [
        ("small", sj.to_string(&common::small()).unwrap()),
        ("medium", sj.to_string(&common::medium()).unwrap()),
        ("large", sj.to_string(&common::large()).unwrap()),
    ] {
        payloads.insert(name, polycodec::Value::String(text));
    }
    let tmp = std::env::temp_dir().join(format!("polycodec-compare-{}.json", std::process::id()));
    std::fs::write(
        &tmp,
        polycodec::codec::Json::new()
            .encode_value(&polycodec::Value::Object(payloads))
            .unwrap(),
    )
    .unwrap();
    let mut js_codecs = JsCodecs::start(root, &tmp, ms);
    let mut rows = ["small", "medium", "large"].map(|name| Row {
        name,
        ..Row::default()
    });
    let (small, medium, large) = (common::small(), common::medium(), common::large());
    // Warm-up round for the Rust side (node warms up at its start).
    measure(&mut Row::default(), &large, ms / 4);
    let mut js_rounds = Vec::new();
    for round in 0..rounds {
        // Alternate which side goes first.
        if round % 2 == 1 {
            js_rounds.push(js_codecs.round());
        }
        measure(&mut rows[0], &small, ms);
        measure(&mut rows[1], &medium, ms);
        measure(&mut rows[2], &large, ms);
        if round % 2 == 0 {
            js_rounds.push(js_codecs.round());
        }
    }
    drop(js_codecs);
    let _ = std::fs::remove_file(&tmp);
    // JS figures of one payload and operation, one per round.
    let js = |name: &str, op: &str| -> Vec<f64> {
        js_rounds.iter().map(|r| num(r, &[name, op])).collect()
    };

    // ---- RPC ----
    let rt = tokio::runtime::Runtime::new().unwrap();
    let polycodec_server = server::Ours::start();
    let (ours, theirs) = rt.block_on(async {
        let ours_url = format!("ws://{}/rpc", polycodec_server.addr);
        let arg = serde_json::to_string(&common::small()).unwrap();
        let d = Duration::from_secs_f64(rpc_secs);
        let runtimes = runtimes(root);
        let servers: Vec<KkrpcServer> = runtimes
            .iter()
            .map(|r| KkrpcServer::start(root, &r.program))
            .collect();
        // ours[shape][round], theirs[runtime][shape][round]
        let mut ours = vec![Vec::new(); SHAPES.len()];
        let mut theirs = vec![vec![Vec::new(); SHAPES.len()]; runtimes.len()];
        for round in 0..rounds {
            for (i, &(conns, depth)) in SHAPES.iter().enumerate() {
                // Alternate which server goes first.
                if round % 2 == 1 {
                    ours[i].push(load::run(&ours_url, conns, depth, d, &arg).await);
                }
                for (k, server) in servers.iter().enumerate() {
                    theirs[k][i].push(load::run(&server.url, conns, depth, d, &arg).await);
                }
                if round % 2 == 0 {
                    ours[i].push(load::run(&ours_url, conns, depth, d, &arg).await);
                }
            }
        }
        drop(servers);
        (ours, runtimes.into_iter().zip(theirs).collect::<Vec<_>>())
    });
    let trpc_runtimes = runtimes(root);
    let trpc = rt.block_on(trpc::measure(
        root,
        polycodec_server.addr,
        &trpc_runtimes,
        rounds,
        rpc_secs,
    ));
    drop(polycodec_server);
    let per_second = |results: &[load::LoadResult]| -> Vec<f64> {
        results.iter().map(load::LoadResult::per_second).collect()
    };
    let p50 = |results: &[load::LoadResult]| {
        median(&results.iter().map(|r| r.p50_us).collect::<Vec<_>>())
    };
    let p99 =
        |results: &[load::LoadResult]| -> Vec<f64> { results.iter().map(|r| r.p99_us).collect() };

    // ---- report ----
    let mut md = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `benches/compare/run`{} on {} ({} cores); {}; node {}; {}superjson 2.2.6; kkrpc 0.2.2. \
         All figures come from one run of {rounds} rounds. Within a round the two sides of each comparison \
         run back to back, and the side that goes first alternates from round to round, so that a slow \
         spell of this shared machine falls on both sides of a ratio. Rates are operations per second, \
         the median over the rounds ({ms} ms per measurement); a ratio is shown as its median with its \
         min–max over the rounds, and a target counts as met only when the whole spread meets it.\n",
        if quick { " --quick (short runs: indicative only)" } else { "" },
        cpu,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        version("rustc", &["--version"]),
        version("node", &["--version"]),
        theirs
            .iter()
            .filter(|(r, _)| r.name != "node")
            .map(|(r, _)| format!("{} {}; ", r.name, r.version))
            .collect::<String>(),
    );
    let _ = writeln!(md, "![ratios](benchmarks.svg)\n");
    let _ = writeln!(md, "## superjson: polycodec vs JS\n");
    let _ = writeln!(md, "| payload (superjson bytes) | JS stringify | polycodec encode typed / Value | ratio typed | ratio Value | JS parse | polycodec decode typed / Value | ratio typed | ratio Value |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    let mut chart = Vec::new();
    for r in &rows {
        let (jss, jsp) = (js(r.name, "sjStringify"), js(r.name, "sjParse"));
        let enc = Spread::of(&ratios(&r.typed_enc, &jss));
        let dec = Spread::of(&ratios(&r.typed_dec, &jsp));
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {:.0} / {:.0} | **{}×** | {}× | {} | {:.0} / {:.0} | **{}×** | {}× |",
            r.name,
            r.sj_bytes,
            rate(median(&jss)),
            median(&r.typed_enc),
            median(&r.value_enc),
            enc.show(1),
            Spread::of(&ratios(&r.value_enc, &jss)).show(1),
            rate(median(&jsp)),
            median(&r.typed_dec),
            median(&r.value_dec),
            dec.show(1),
            Spread::of(&ratios(&r.value_dec, &jsp)).show(1),
        );
        chart.push((format!("{} encode", r.name), enc.median));
        chart.push((format!("{} decode", r.name), dec.median));
    }
    let _ = writeln!(
        md,
        "\n## superjson vs raw serde_json (typed structs, same process)\n"
    );
    let _ = writeln!(md, "| payload | serde_json encode | superjson encode | cost (× the time) | serde_json decode | superjson decode | cost (× the time) |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {} |",
            r.name,
            median(&r.serde_json_enc),
            median(&r.typed_enc),
            Spread::of(&ratios(&r.serde_json_enc, &r.typed_enc)).show(2),
            median(&r.serde_json_dec),
            median(&r.typed_dec),
            Spread::of(&ratios(&r.serde_json_dec, &r.typed_dec)).show(2),
        );
    }
    let _ = writeln!(
        md,
        "\n## MessagePack: polycodec's `msgpackr` profile vs msgpackr {} under node\n",
        version(
            "node",
            &[
                "-p",
                "JSON.parse(require('fs').readFileSync('node_modules/msgpackr/package.json')).version"
            ]
        )
    );
    let _ = writeln!(
        md,
        "msgpackr is `new Packr()` (records on) packing and unpacking the same value (superjson.parse of the \
         payload); polycodec writes and reads its `msgpackr` profile (records, what msgpackr reads with no \
         glue), typed (`MsgPack::msgpackr().to_vec` / `from_slice`) and through a `Value`.\n"
    );
    let _ = writeln!(md, "| payload (polycodec bytes) | msgpackr pack | polycodec encode typed / Value | ratio typed | ratio Value | msgpackr unpack | polycodec decode typed / Value | ratio typed | ratio Value |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let (jp, ju) = (js(r.name, "msgpackrPack"), js(r.name, "msgpackrUnpack"));
        let enc = Spread::of(&ratios(&r.mpr_enc, &jp));
        let dec = Spread::of(&ratios(&r.mpr_dec, &ju));
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {:.0} / {:.0} | **{}×** | {}× | {} | {:.0} / {:.0} | **{}×** | {}× |",
            r.name,
            r.mpr_bytes,
            rate(median(&jp)),
            median(&r.mpr_enc),
            median(&r.mpr_value_enc),
            enc.show(1),
            Spread::of(&ratios(&r.mpr_value_enc, &jp)).show(1),
            rate(median(&ju)),
            median(&r.mpr_dec),
            median(&r.mpr_value_dec),
            dec.show(1),
            Spread::of(&ratios(&r.mpr_value_dec, &ju)).show(1),
        );
        chart.push((format!("{} msgpackr encode", r.name), enc.median));
        chart.push((format!("{} msgpackr decode", r.name), dec.median));
    }
    let _ = writeln!(
        md,
        "\nJS `JSON.stringify`/`parse` on the same data (plain JSON, no types kept), for scale:\n"
    );
    let _ = writeln!(md, "| payload | JSON.stringify | JSON.parse |");
    let _ = writeln!(md, "|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            r.name,
            rate(median(&js(r.name, "jsonStringify"))),
            rate(median(&js(r.name, "jsonParse")))
        );
    }
    let _ = writeln!(
        md,
        "\n## RPC: the same load client against polycodec and kkrpc 0.2.2\n"
    );
    let _ = writeln!(
        md,
        "Legacy kkrpc protocol, JSON mode, `echo(small payload)`, loopback, {rpc_secs} s per measurement; \
         kkrpc runs `benches/compare/kkrpc-server.mjs` (`ws` + `WebSocketServerIO` + `RPCChannel`) under {}. \
         polycodec serves the demo API in a process of its own, as kkrpc does (`benches/compare/server.rs`). \
         The load client, the server and the runtime share the machine's cores.\n",
        theirs
            .iter()
            .map(|(r, _)| format!("{} {}", r.name, r.version))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    if theirs.len() < 2 {
        let _ = writeln!(
            md,
            "Bun was not available (`npm ci` in `benches/compare/bun` failed), so only node is shown.\n"
        );
    }
    let mut header = String::from("| shape | polycodec calls/s |");
    let mut rule = String::from("|---|---|");
    for (r, _) in &theirs {
        let _ = write!(header, " kkrpc ({0}) calls/s | ratio vs {0} |", r.name);
        rule.push_str("---|---|");
    }
    header.push_str(" polycodec p50 / p99 µs |");
    rule.push_str("---|");
    for (r, _) in &theirs {
        let _ = write!(header, " kkrpc ({}) p50 / p99 µs |", r.name);
        rule.push_str("---|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for (i, (shape, o)) in SHAPE_NAMES.iter().zip(&ours).enumerate() {
        let mut line = format!("| {shape} | {:.0} |", median(&per_second(o)));
        for (r, results) in &theirs {
            let t = &results[i];
            let ratio = Spread::of(&ratios(&per_second(o), &per_second(t)));
            let _ = write!(
                line,
                " {:.0} | **{}×** |",
                median(&per_second(t)),
                ratio.show(1)
            );
            chart.push((format!("RPC {shape} vs {}", r.name), ratio.median));
        }
        let _ = write!(line, " {:.0} / {:.0} |", p50(o), median(&p99(o)));
        for (_, results) in &theirs {
            let _ = write!(
                line,
                " {:.0} / {:.0} |",
                p50(&results[i]),
                median(&p99(&results[i]))
            );
        }
        let _ = writeln!(md, "{line}");
    }
    md.push_str(&trpc::report(&trpc, rpc_secs, &mut chart));
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(
        md,
        "Met only when the whole spread (every round) meets the target.\n"
    );
    let _ = writeln!(md, "| target | measured: median (min–max) | met |");
    let _ = writeln!(md, "|---|---|---|");
    // `None`: a comparison the issue sets no target for (kkrpc on Bun), shown for scale.
    let mut row = |what: &str, got: Spread, ok: Option<bool>| {
        let met = match ok {
            Some(true) => "yes",
            Some(false) => "no",
            None => "no target (for scale: the target names node)",
        };
        let _ = writeln!(md, "| {what} | {} | {met} |", got.show(2));
    };
    let mut at_least = |what: &str, got: Spread, bound: f64| row(what, got, Some(got.min >= bound));
    for r in rows.iter().filter(|r| r.name != "small") {
        at_least(
            &format!("{}: superjson encode ≥ 30× JS stringify", r.name),
            Spread::of(&ratios(&r.typed_enc, &js(r.name, "sjStringify"))),
            30.0,
        );
        at_least(
            &format!("{}: superjson decode ≥ 10× JS parse", r.name),
            Spread::of(&ratios(&r.typed_dec, &js(r.name, "sjParse"))),
            10.0,
        );
        at_least(
            &format!("{}: msgpackr-profile encode ≥ 3× msgpackr pack", r.name),
            Spread::of(&ratios(&r.mpr_enc, &js(r.name, "msgpackrPack"))),
            3.0,
        );
        at_least(
            &format!("{}: msgpackr-profile decode ≥ 3× msgpackr unpack", r.name),
            Spread::of(&ratios(&r.mpr_dec, &js(r.name, "msgpackrUnpack"))),
            3.0,
        );
    }
    let mut at_most = |what: &str, got: Spread, bound: f64| row(what, got, Some(got.max <= bound));
    for r in &rows {
        at_most(
            &format!(
                "{}: typed superjson encode ≤ 1.5× serde_json's time",
                r.name
            ),
            Spread::of(&ratios(&r.serde_json_enc, &r.typed_enc)),
            1.5,
        );
        at_most(
            &format!("{}: typed superjson decode ≤ 2× serde_json's time", r.name),
            Spread::of(&ratios(&r.serde_json_dec, &r.typed_dec)),
            2.0,
        );
    }
    for (r, results) in &theirs {
        let is_target = |ok: bool| (r.name == "node").then_some(ok);
        // The best shape, by its median ratio.
        let best = ours
            .iter()
            .zip(results)
            .map(|(o, t)| Spread::of(&ratios(&per_second(o), &per_second(t))))
            .max_by(|a, b| a.median.total_cmp(&b.median))
            .unwrap();
        row(
            &format!("RPC echo throughput ≥ 5× kkrpc on {} (best shape)", r.name),
            best,
            is_target(best.min >= 5.0),
        );
        // p99 per round, ours over theirs: below 1 means ours is lower.
        let p99_ratio = Spread::of(&ratios(&p99(&ours[1]), &p99(&results[1])));
        row(
            &format!(
                "RPC p99 lower than kkrpc on {} (1 connection, 64 in flight): polycodec's p99 ÷ kkrpc's",
                r.name
            ),
            p99_ratio,
            is_target(p99_ratio.max < 1.0),
        );
    }
    let _ = writeln!(md, "\nMessagePack against raw rmp-serde and every codec's encoded sizes come from `cargo bench --bench codecs`.");
    let _ = writeln!(md, "{}", include_str!("compare/limits.md"));
    // The fan-out section comes from its own bench (it needs a redis-server), kept as written.
    if let Ok(fanout) = std::fs::read_to_string(root.join("docs/benchmarks-fanout.md")) {
        let _ = writeln!(md, "\n{fanout}");
    }

    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/benchmarks.md"), &md).unwrap();
    std::fs::write(root.join("docs/benchmarks.svg"), svg(&chart)).unwrap();
    println!("{md}");
}

/// A horizontal bar chart of the ratios (log scale), as SVG.
fn svg(bars: &[(String, f64)]) -> String {
    let (w, row, left) = (720.0, 26.0, 250.0);
    let h = 40.0 + row * bars.len() as f64;
    let max = bars
        .iter()
        .map(|b| b.1)
        .fold(1.0, f64::max)
        .log10()
        .max(1.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="14">polycodec ÷ JS anchor (log scale; 1× = parity)</text>"#
    );
    for (i, (label, ratio)) in bars.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let len = ((ratio.max(1.0).log10() / max) * (w - left - 80.0)).max(2.0);
        let color = if *ratio >= 1.0 { "#2f7d4f" } else { "#b3402e" };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{label}</text><rect x="{left}" y="{}" width="{len:.1}" height="{}" fill="{color}"/><text x="{}" y="{}">{ratio:.1}×</text>"#,
            left - 8.0,
            y + 15.0,
            y + 3.0,
            row - 8.0,
            left + len + 6.0,
            y + 15.0
        );
    }
    s.push_str("</svg>\n");
    s
}

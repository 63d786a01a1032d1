//! `benches/compare/run`: polycodec side by side with its JS anchors, in one run on one
//! machine, written to `docs/benchmarks.md` (and a chart, `docs/benchmarks.svg`).
//!
//! * Codecs: the same payloads through JS `superjson.stringify`/`parse` and
//!   `JSON.stringify`/`parse` under node, and through polycodec's superjson (typed and
//!   `Value`) and raw serde_json.
//! * RPC: the same load client (Rust, kkrpc legacy protocol, JSON) against polycodec's
//!   server and against a kkrpc 0.2.2 server on node and, when it installs, on Bun.

#[path = "common/mod.rs"]
mod common;
#[path = "common/load.rs"]
mod load;

use polycodec::codec::{Codec, SuperJson};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Operations per second of `f`, run for about `ms`, median of `runs`.
fn ops(ms: u64, runs: usize, mut f: impl FnMut()) -> f64 {
    let mut rates = Vec::new();
    for i in 0..=runs {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(ms) {
            for _ in 0..4 {
                f();
            }
            n += 4;
        }
        if i > 0 {
            rates.push(n as f64 / start.elapsed().as_secs_f64());
        }
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

struct Row {
    name: &'static str,
    sj_bytes: usize,
    typed_enc: f64,
    typed_dec: f64,
    value_enc: f64,
    value_dec: f64,
    serde_json_enc: f64,
    serde_json_dec: f64,
}

fn measure<T: Serialize + DeserializeOwned>(
    name: &'static str,
    v: &T,
    ms: u64,
    runs: usize,
) -> Row {
    let sj = SuperJson::new();
    let bytes = sj.to_vec(v).unwrap();
    let value = sj.decode_value(&bytes).unwrap();
    let raw = serde_json::to_vec(v).unwrap();
    Row {
        name,
        sj_bytes: bytes.len(),
        typed_enc: ops(ms, runs, || {
            drop(black_box(sj.to_vec(black_box(v)).unwrap()))
        }),
        typed_dec: ops(ms, runs, || {
            drop(black_box(sj.from_slice::<T>(black_box(&bytes)).unwrap()))
        }),
        value_enc: ops(ms, runs, || {
            drop(black_box(sj.encode_value(black_box(&value)).unwrap()))
        }),
        value_dec: ops(ms, runs, || {
            drop(black_box(sj.decode_value(black_box(&bytes)).unwrap()))
        }),
        serde_json_enc: ops(ms, runs, || {
            drop(black_box(serde_json::to_vec(black_box(v)).unwrap()))
        }),
        serde_json_dec: ops(ms, runs, || {
            drop(black_box(
                serde_json::from_slice::<T>(black_box(&raw)).unwrap(),
            ))
        }),
    }
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
    child: std::process::Child,
    url: String,
}

impl KkrpcServer {
    fn start(root: &Path, program: &Path) -> Self {
        let mut child = Command::new(program)
            .arg(root.join("benches/compare/kkrpc-server.mjs"))
            .current_dir(root)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the kkrpc server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .trim_start_matches("listening ")
            .parse()
            .expect("port");
        KkrpcServer {
            child,
            url: format!("ws://127.0.0.1:{port}/"),
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for KkrpcServer {
    /// The runtime process never outlives the comparison, even when it panics.
    fn drop(&mut self) {
        self.stop();
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (ms, runs, rpc_secs) = if quick { (60, 1, 0.3) } else { (1000, 3, 3.0) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // ---- codecs ----
    let rows = vec![
        measure("small", &common::small(), ms, runs),
        measure("medium", &common::medium(), ms, runs),
        measure("large", &common::large(), ms, runs),
    ];
    let sj = SuperJson::new();
    let mut payloads = polycodec::Object::new();
    payloads.insert(
        "small",
        polycodec::Value::String(sj.to_string(&common::small()).unwrap()),
    );
    payloads.insert(
        "medium",
        polycodec::Value::String(sj.to_string(&common::medium()).unwrap()),
    );
    payloads.insert(
        "large",
        polycodec::Value::String(sj.to_string(&common::large()).unwrap()),
    );
    let tmp = std::env::temp_dir().join(format!("polycodec-compare-{}.json", std::process::id()));
    std::fs::write(
        &tmp,
        polycodec::codec::Json::new()
            .encode_value(&polycodec::Value::Object(payloads))
            .unwrap(),
    )
    .unwrap();
    let js = Command::new("node")
        .arg(root.join("benches/compare/js-codecs.mjs"))
        .arg(&tmp)
        .arg(ms.to_string())
        .arg(runs.to_string())
        .current_dir(root)
        .output()
        .expect("node");
    let _ = std::fs::remove_file(&tmp);
    assert!(
        js.status.success(),
        "{}",
        String::from_utf8_lossy(&js.stderr)
    );
    let js = polycodec::codec::Json::new()
        .decode_value(&js.stdout)
        .unwrap();

    // ---- RPC ----
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ours, theirs) = rt.block_on(async {
        let addr = common::serve_demo().await;
        let arg = serde_json::to_string(&common::small()).unwrap();
        let d = Duration::from_secs_f64(rpc_secs);
        let shapes = [(1, 1), (1, 64), (16, 16)];
        let mut ours = Vec::new();
        for &(conns, depth) in &shapes {
            ours.push(load::run(&format!("ws://{addr}/rpc"), conns, depth, d, &arg).await);
        }
        let mut theirs = Vec::new();
        for runtime in runtimes(root) {
            let server = KkrpcServer::start(root, &runtime.program);
            let mut results = Vec::new();
            for &(conns, depth) in &shapes {
                results.push(load::run(&server.url, conns, depth, d, &arg).await);
            }
            drop(server);
            theirs.push((runtime, results));
        }
        (ours, theirs)
    });

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
         Each figure is operations per second, the median of {runs} runs of {ms} ms, all measured in the same run. \
         Ratios compare polycodec with the JS anchor on the same payload.\n",
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
    let _ = writeln!(md, "| payload (superjson bytes) | JS stringify | polycodec encode typed / Value | ratio typed / Value | JS parse | polycodec decode typed / Value | ratio typed / Value |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    let mut chart = Vec::new();
    for r in &rows {
        let jss = num(&js, &[r.name, "sjStringify"]);
        let jsp = num(&js, &[r.name, "sjParse"]);
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {:.0} / {:.0} | **{:.1}×** / {:.1}× | {} | {:.0} / {:.0} | **{:.1}×** / {:.1}× |",
            r.name, r.sj_bytes, rate(jss), r.typed_enc, r.value_enc, r.typed_enc / jss, r.value_enc / jss, rate(jsp), r.typed_dec,
            r.value_dec, r.typed_dec / jsp, r.value_dec / jsp
        );
        chart.push((format!("{} encode", r.name), r.typed_enc / jss));
        chart.push((format!("{} decode", r.name), r.typed_dec / jsp));
    }
    let _ = writeln!(
        md,
        "\n## superjson vs raw serde_json (typed structs, same process)\n"
    );
    let _ = writeln!(md, "| payload | serde_json encode | superjson encode | cost | serde_json decode | superjson decode | cost |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.2}× the time | {:.0} | {:.0} | {:.2}× the time |",
            r.name,
            r.serde_json_enc,
            r.typed_enc,
            r.serde_json_enc / r.typed_enc,
            r.serde_json_dec,
            r.typed_dec,
            r.serde_json_dec / r.typed_dec
        );
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
            rate(num(&js, &[r.name, "jsonStringify"])),
            rate(num(&js, &[r.name, "jsonParse"]))
        );
    }
    let _ = writeln!(
        md,
        "\n## RPC: the same load client against polycodec and kkrpc 0.2.2\n"
    );
    let _ = writeln!(
        md,
        "Legacy kkrpc protocol, JSON mode, `echo(small payload)`, loopback; kkrpc runs `benches/compare/kkrpc-server.mjs` \
         (`ws` + `WebSocketServerIO` + `RPCChannel`) under {}. The load client, the server and the \
         runtime share the machine's cores.\n",
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
    let shapes = [
        "1 connection, 1 in flight",
        "1 connection, 64 in flight",
        "16 connections × 16 in flight",
    ];
    for (i, (shape, o)) in shapes.iter().zip(&ours).enumerate() {
        let mut line = format!("| {shape} | {:.0} |", o.per_second());
        for (r, results) in &theirs {
            let t = &results[i];
            let ratio = o.per_second() / t.per_second();
            let _ = write!(line, " {:.0} | **{ratio:.1}×** |", t.per_second());
            chart.push((format!("RPC {shape} vs {}", r.name), ratio));
        }
        let _ = write!(line, " {:.0} / {:.0} |", o.p50_us, o.p99_us);
        for (_, results) in &theirs {
            let _ = write!(
                line,
                " {:.0} / {:.0} |",
                results[i].p50_us, results[i].p99_us
            );
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| target | measured | met |");
    let _ = writeln!(md, "|---|---|---|");
    // `None`: a comparison the issue sets no target for (kkrpc on Bun), shown for scale.
    let mut row = |what: &str, got: f64, ok: Option<bool>| {
        let met = match ok {
            Some(true) => "yes",
            Some(false) => "no",
            None => "no target (for scale: the target names node)",
        };
        let _ = writeln!(md, "| {what} | {got:.2} | {met} |");
    };
    let mut target = |what: &str, got: f64, ok: bool| row(what, got, Some(ok));
    for r in rows.iter().filter(|r| r.name != "small") {
        let e = r.typed_enc / num(&js, &[r.name, "sjStringify"]);
        let d = r.typed_dec / num(&js, &[r.name, "sjParse"]);
        target(
            &format!("{}: superjson encode ≥ 30× JS stringify", r.name),
            e,
            e >= 30.0,
        );
        target(
            &format!("{}: superjson decode ≥ 10× JS parse", r.name),
            d,
            d >= 10.0,
        );
    }
    for r in &rows {
        let e = r.serde_json_enc / r.typed_enc;
        let d = r.serde_json_dec / r.typed_dec;
        target(
            &format!(
                "{}: typed superjson encode ≤ 1.5× serde_json's time",
                r.name
            ),
            e,
            e <= 1.5,
        );
        target(
            &format!("{}: typed superjson decode ≤ 2× serde_json's time", r.name),
            d,
            d <= 2.0,
        );
    }
    for (r, results) in &theirs {
        let best = ours
            .iter()
            .zip(results)
            .map(|(o, t)| o.per_second() / t.per_second())
            .fold(0.0, f64::max);
        let is_target = |ok: bool| (r.name == "node").then_some(ok);
        row(
            &format!("RPC echo throughput ≥ 5× kkrpc on {} (best shape)", r.name),
            best,
            is_target(best >= 5.0),
        );
        row(
            &format!(
                "RPC p99 lower than kkrpc on {} (1 connection, 64 in flight): polycodec's p99, µs",
                r.name
            ),
            ours[1].p99_us,
            is_target(ours[1].p99_us < results[1].p99_us),
        );
    }
    let _ = writeln!(md, "\nMessagePack against raw rmp-serde and every codec's encoded sizes come from `cargo bench --bench codecs`.");
    let _ = writeln!(md, "{}", include_str!("compare/limits.md"));

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

//! The `polycodec` command: `transcode` between codecs, and `serve` the demo server.

use polycodec::codec::Registry;
use std::io::{Read, Write};
use std::process::ExitCode;

mod web;

const USAGE: &str = "\
usage:
  polycodec serve [--addr 127.0.0.1:3000]
      Serve the demo RPC API on ws://ADDR/rpc (every codec; kkrpc peers detected).
  polycodec transcode --from <codec> --to <codec> [--in FILE] [--out FILE]
      Read one document (stdin or FILE), write it in another codec (stdout or FILE).
  polycodec codecs
      List the codecs.

codecs: json, superjson, msgpack, bincode (when built with the `bincode` feature)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("transcode") => transcode(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("codecs") => {
            for c in Registry::with_builtins().iter() {
                println!("{}\t{}\t{:?}", c.name(), c.subprotocol(), c.frame_kind());
            }
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("polycodec: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Parse `--name value` flags; every flag takes a value.
fn flags<'a>(args: &'a [String], known: &[&str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| known.contains(n))
            .ok_or_else(|| format!("unknown argument {flag:?}\n{USAGE}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.push((name, value.as_str()));
    }
    Ok(out)
}

fn transcode(args: &[String]) -> Result<(), String> {
    let flags = flags(args, &["from", "to", "in", "out"])?;
    let get = |n: &str| flags.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let registry = Registry::with_builtins();
    let codec = |flag: &str| -> Result<_, String> {
        let name = get(flag).ok_or_else(|| format!("--{flag} is required\n{USAGE}"))?;
        registry.get(name).ok_or_else(|| {
            format!(
                "unknown codec {name:?} (known: {})",
                registry.names().join(", ")
            )
        })
    };
    let (from, to) = (codec("from")?, codec("to")?);
    let input = match get("in") {
        Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            buf
        }
    };
    let value = from
        .decode_value(&input)
        .map_err(|e| format!("cannot decode {}: {e}", from.name()))?;
    let output = to
        .encode_value(&value)
        .map_err(|e| format!("cannot encode {}: {e}", to.name()))?;
    match get("out") {
        Some(path) => {
            std::fs::write(path, &output).map_err(|e| format!("cannot write {path}: {e}"))
        }
        None => std::io::stdout()
            .write_all(&output)
            .map_err(|e| format!("cannot write stdout: {e}")),
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let flags = flags(args, &["addr", "token", "web"])?;
    let get = |n: &str| {
        flags
            .iter()
            .rev()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    };
    let addr = get("addr").unwrap_or_else(|| "127.0.0.1:3000".into());
    let token = get("token");
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let web = get("web").map_or_else(|| root.join("web"), Into::into);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "polycodec=info".into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let app = web::app(web, root.join("node_modules"), token.clone())?;
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        // A closed stdout must not take the server down: write, and ignore failures.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "polycodec serving http://{local}/ (chat page), ws://{local}/rpc, ws://{local}/chat/<room>");
        if token.is_some() {
            let _ = writeln!(out, "upgrades need ?token=<the --token value>");
        }
        let _ = out.flush();
        let shutdown = app.shutdown.clone();
        axum::serve(listener, app.router)
            .with_graceful_shutdown(async move {
                stop_signal().await;
                shutdown();
            })
            .await
            .map_err(|e| e.to_string())
    })
}

/// Ctrl-C, or SIGTERM (what service managers send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

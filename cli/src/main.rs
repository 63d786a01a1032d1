//! The `polycodec` command: `transcode` between codecs, `serve` the demo server, and write
//! its TypeScript `types`.

use polycodec::codec::Registry;
use polycodec::rpc::cluster::{RedisBackend, RedisConfig};
use polycodec::rpc::{demo, Hub, LocalBackend};
use polycodec::{Limits, Value};
use std::io::{Read, Write};
use std::process::ExitCode;

mod web;

const USAGE: &str = "\
usage:
  polycodec serve [--addr 127.0.0.1:3000] [--token SECRET] [--web DIR] [front-door flags]
                  [--redis redis://HOST:PORT [--node-id ID] [--down-after-ms 6000]]
      Serve the demo: the chat page on http://ADDR/, the demo RPC API on ws://ADDR/rpc
      (every codec; kkrpc peers detected), chat rooms on ws://ADDR/chat/<room>, and the
      tRPC contract router on http://ADDR/trpc and ws://ADDR/trpc (transformer superjson).
      --token: upgrades need ?token=SECRET, `Authorization: Bearer SECRET`, or a
      same-origin `token` cookie. --web: the page's directory (default ./web); its
      scripts come from the node_modules directory next to it (`npm ci` makes it).
      Front door (what is refused gets an HTTP status while one can still be sent):
      --max-connections N          connections at once, WebSockets included; beyond it
                                   503 with Retry-After, those open untouched (default:
                                   the open-file limit less an eighth, at most 16384;
                                   the log says which)
      --max-connections-per-ip N   per client address (IPv6: per /64); 429 beyond it
                                   (default: off)
      --upgrades-per-ip-per-sec R  WebSocket upgrades per second per client; 429 beyond
                                   it (default: off)
      --trusted-proxy IP[/BITS]    believe X-Forwarded-For from this proxy or network
                                   (repeatable; default: none, the header is ignored)
      --header-timeout SECS        request line and headers, else 408 (default 10)
      --body-timeout SECS          time a request body keeps its handler waiting for
                                   bytes, added up, else 408 (default 30)
      --handshake-timeout SECS     WebSocket upgrade to the first frame from the peer,
                                   pinged at half time, else close 1001 (default 10)
      --idle-timeout SECS          idle kept-alive HTTP connection (default 60)
      --max-header-bytes N         request line and headers, else 431 (default 16384)
      --max-body-bytes N           request body on every HTTP route, else 413
                                   (default 2097152)
      --grace SECS                 on SIGTERM or Ctrl-C: stop accepting, answer the calls
                                   in flight for up to this long, then close WebSockets
                                   with 1001 (default 10); a second signal exits at once
      A timeout of 0 turns it off. SECS may have a fraction (0.5).
      --redis: chat rooms, members and history span every node on that Redis (also
      unix:///path/redis.sock); rooms are recoverable (?since=EPOCH:OFFSET); GET /healthz
      says ok or degraded. --node-id: this node's id (default random; a node restarted
      with its id replaces its old members at once). --down-after-ms: a node silent that
      long is dropped everywhere (heartbeat every quarter of it).
  polycodec transcode --from <codec> --to <codec> [--in FILE] [--out FILE] [--max-bytes N]
      Read one document (stdin or FILE), write it in another codec (stdout or FILE).
      Kinds the target cannot hold (a Date in plain JSON) are written in its documented
      form, with a warning on stderr. --max-bytes: the largest input (default 16 MiB).
  polycodec types [--out FILE]
      Write the demo server's TypeScript types (stdout or FILE): RpcApi (the /rpc API
      through superjson; RpcApiJson, RpcApiMsgpack), ChatApi, ChatClientApi, AppRouter
      (/trpc), as each codec delivers them. web/api.ts is this file, committed.
  polycodec codecs
      List the codecs.
  polycodec help, polycodec <command> --help
      This text.

codecs: json, superjson, msgpack, msgpackr, bincode (when built with the `bincode` feature)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.get(1).is_some_and(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        Some("transcode") => transcode(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("types") => types(&args[1..]),
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
    let flags = flags(args, &["from", "to", "in", "out", "max-bytes"])?;
    let get = |n: &str| flags.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let mut limits = Limits::default();
    if let Some(n) = get("max-bytes") {
        let n: usize = n
            .parse()
            .map_err(|_| format!("--max-bytes needs a number of bytes, not {n:?}"))?;
        limits = limits.max_message_bytes(n);
    }
    let registry = Registry::with_builtins();
    let codec = |flag: &str| -> Result<_, String> {
        let name = get(flag).ok_or_else(|| format!("--{flag} is required\n{USAGE}"))?;
        let c = registry.get(name).ok_or_else(|| {
            format!(
                "unknown codec {name:?} (known: {})",
                registry.names().join(", ")
            )
        })?;
        Ok(c.limited(limits).unwrap_or(c))
    };
    let (from, to) = (codec("from")?, codec("to")?);
    // Read at most one byte past the limit: a larger input is refused without being held.
    let cap = limits.message_bytes().saturating_add(1) as u64;
    let mut input = Vec::new();
    let read = match get("in") {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(cap).read_to_end(&mut input))
            .map_err(|e| format!("cannot read {path}: {e}")),
        None => std::io::stdin()
            .take(cap)
            .read_to_end(&mut input)
            .map_err(|e| format!("cannot read stdin: {e}")),
    };
    read?;
    if input.len() > limits.message_bytes() {
        return Err(format!(
            "the input is over the limit of {} bytes (--max-bytes sets it)",
            limits.message_bytes()
        ));
    }
    let value = from
        .decode_value(&input)
        .map_err(|e| format!("cannot decode {}: {e}", from.name()))?;
    let lost = changed_kinds(&value, to.name());
    if !lost.is_empty() {
        eprintln!(
            "polycodec: warning: {} has no {}: written in its documented form (codecs/README.md)",
            to.name(),
            lost.join(", ")
        );
    }
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

/// The kinds in `v` that the codec `to` cannot hold as themselves (plain JSON has no Date;
/// only superjson and msgpackr keep shared references; msgpackr has no URL, annotation, or
/// Error stack and props). Each shared node is walked once.
fn changed_kinds(v: &Value, to: &str) -> Vec<&'static str> {
    struct Walk<'o> {
        json: bool,
        msgpackr: bool,
        seen: std::collections::HashSet<usize>,
        out: &'o mut Vec<&'static str>,
    }
    impl Walk<'_> {
        fn note(&mut self, k: &'static str) {
            if !self.out.contains(&k) {
                self.out.push(k);
            }
        }
        fn walk(&mut self, v: &Value) {
            let json = self.json;
            match v {
                Value::Ref(_) if !self.msgpackr => {
                    self.note("shared references (each place gets a copy)")
                }
                Value::Number(n)
                    if json && (!n.is_finite() || (*n == 0.0 && n.is_sign_negative())) =>
                {
                    self.note("NaN, Infinity or -0")
                }
                Value::Undefined
                | Value::BigInt(_)
                | Value::Bytes(_)
                | Value::TypedArray(_)
                | Value::Map(_)
                | Value::Set(_)
                | Value::Date(_)
                | Value::RegExp(_)
                | Value::Error(_)
                | Value::Url(_)
                | Value::Annotated(_)
                | Value::Ext { .. }
                    if json =>
                {
                    self.note(v.kind_name())
                }
                Value::Url(_) | Value::Annotated(_) if self.msgpackr => self.note(v.kind_name()),
                Value::Error(e) if self.msgpackr && (e.stack.is_some() || !e.props.is_empty()) => {
                    self.note("Error stack and extra properties")
                }
                _ => {}
            }
            match v {
                Value::Array(a) | Value::Set(a) => a.iter().for_each(|x| self.walk(x)),
                Value::Object(o) => o.iter().for_each(|(_, x)| self.walk(x)),
                Value::Map(m) => m.iter().for_each(|(k, x)| {
                    self.walk(k);
                    self.walk(x);
                }),
                Value::Error(e) => {
                    e.props.iter().for_each(|(_, x)| self.walk(x));
                    if let Some(c) = &e.cause {
                        self.walk(c);
                    }
                }
                Value::Annotated(a) => self.walk(&a.value),
                // A back-reference closes a cycle already walked; a node is walked once.
                Value::Ref(r) if !r.is_back_reference() && self.seen.insert(r.addr()) => {
                    if let Some(inner) = r.resolve() {
                        self.walk(&inner);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    if to != "superjson" {
        Walk {
            json: to == "json",
            msgpackr: to == "msgpackr",
            seen: Default::default(),
            out: &mut out,
        }
        .walk(v);
    }
    out
}

fn types(args: &[String]) -> Result<(), String> {
    let flags = flags(args, &["out"])?;
    let text = polycodec::rpc::demo_types::typescript().map_err(|e| e.to_string())?;
    match flags.iter().rev().find(|(k, _)| *k == "out") {
        Some((_, path)) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write stdout: {e}")),
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let flags = flags(args, &SERVE_FLAGS)?;
    let get = |n: &str| {
        flags
            .iter()
            .rev()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| (*v).to_owned())
    };
    let addr = get("addr").unwrap_or_else(|| "127.0.0.1:3000".into());
    let token = get("token");
    if token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err("--token needs a non-empty secret (an empty one would let anyone in)".into());
    }
    let door = front_door(&flags)?;
    let grace = door_grace(&flags)?;
    let web: std::path::PathBuf = get("web").unwrap_or_else(|| "web".into()).into();
    if !web.join("index.html").is_file() {
        return Err(format!(
            "{} holds no index.html: run from the repository, or pass --web DIR",
            web.display()
        ));
    }
    // The page's scripts come from the node_modules next to the page's directory.
    let node_modules = web
        .canonicalize()
        .map_err(|e| format!("{}: {e}", web.display()))?
        .parent()
        .map(|p| p.join("node_modules"))
        .ok_or("the web directory has no parent")?;
    if !node_modules.join("superjson").is_dir() {
        eprintln!(
            "polycodec: warning: {} has no superjson: the chat page needs `npm ci` there",
            node_modules.display()
        );
    }
    tracing_subscriber::fmt()
        // Logs on stderr: stdout carries the address line that scripts read.
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "polycodec=info".into()),
        )
        .init();
    let cluster = match get("redis") {
        Some(url) => Some(cluster_config(&url, get("node-id"), get("down-after-ms"))?),
        None => None,
    };
    let fd_note = raise_open_file_limit();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let hub = match cluster {
            Some(cfg) => cluster_hub(cfg).await?,
            None => Hub::with_backend(LocalBackend::new(demo::MAX_ROOMS)),
        };
        let app = web::app(web, node_modules, token.clone(), door.clone(), hub.clone())?;
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        // A closed stdout must not take the server down: write, and ignore failures.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "polycodec serving http://{local}/ (chat page), ws://{local}/rpc, ws://{local}/chat/<room>, http://{local}/trpc and ws://{local}/trpc (tRPC)");
        if !hub.node().is_empty() {
            let _ = writeln!(out, "cluster node {} on Redis", hub.node());
        }
        if token.is_some() {
            let _ = writeln!(
                out,
                "upgrades need ?token=<the --token value> (or a Bearer header, or a same-origin cookie)"
            );
        }
        let _ = out.flush();
        // Logged after the line above, which scripts read first.
        if let Some(note) = fd_note {
            tracing::info!("{note}");
        }
        let drain = app.drain.clone();
        let served = polycodec::rpc::serve(listener, app.router, door)
            .with_graceful_shutdown(async move {
                stop_signal().await;
                tracing::info!("stop signal: draining for up to {grace:?} (a second one exits now)");
                tokio::spawn(async {
                    stop_signal().await;
                    eprintln!("polycodec: second stop signal: exiting without draining");
                    std::process::exit(1);
                });
                // The listener stops accepting and waits for the connections; the endpoints
                // answer their calls in flight, then close their sockets with 1001.
                tokio::spawn(drain(grace));
            })
            .await
            .map_err(|e| e.to_string());
        // Other nodes drop this one's members now rather than after its heartbeat stops.
        hub.leave_cluster().await;
        served
    })
}

/// The flags `serve` takes.
const SERVE_FLAGS: [&str; 17] = [
    "addr",
    "token",
    "web",
    "redis",
    "node-id",
    "down-after-ms",
    "max-connections",
    "max-connections-per-ip",
    "upgrades-per-ip-per-sec",
    "trusted-proxy",
    "header-timeout",
    "body-timeout",
    "handshake-timeout",
    "idle-timeout",
    "max-header-bytes",
    "max-body-bytes",
    "grace",
];

/// The front door the flags describe (see USAGE).
fn front_door(flags: &[(&str, &str)]) -> Result<polycodec::rpc::FrontDoor, String> {
    use polycodec::rpc::{FrontDoor, TrustedProxy};
    let last = |n: &str| flags.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let count = |n: &str| -> Result<Option<usize>, String> {
        last(n)
            .map(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|&x| x > 0)
                    .ok_or_else(|| format!("--{n} needs a whole number above 0, not {v:?}"))
            })
            .transpose()
    };
    let mut door = FrontDoor::new();
    if let Some(n) = count("max-connections")? {
        door = door.max_connections(n);
    }
    if let Some(n) = count("max-connections-per-ip")? {
        door = door.max_connections_per_ip(n);
    }
    if let Some(v) = last("upgrades-per-ip-per-sec") {
        let rate = v
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| format!("--upgrades-per-ip-per-sec needs a rate above 0, not {v:?}"))?;
        door = door.upgrades_per_ip_per_second(rate);
    }
    let proxies = flags
        .iter()
        .filter(|(k, _)| *k == "trusted-proxy")
        .map(|(_, v)| {
            v.parse::<TrustedProxy>()
                .map_err(|e| format!("--trusted-proxy: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    door = door.trusted_proxies(proxies);
    if let Some(t) = seconds(flags, "header-timeout")? {
        door = door.header_timeout(t);
    }
    if let Some(t) = seconds(flags, "body-timeout")? {
        door = door.body_timeout(t);
    }
    if let Some(t) = seconds(flags, "handshake-timeout")? {
        door = door.handshake_timeout(t);
    }
    if let Some(t) = seconds(flags, "idle-timeout")? {
        door = door.idle_timeout(t);
    }
    if let Some(n) = count("max-header-bytes")? {
        door = door.max_header_bytes(n);
    }
    if let Some(n) = count("max-body-bytes")? {
        door = door.max_body_bytes(n);
    }
    Ok(door.grace(door_grace(flags)?))
}

/// `--grace`: how long a drain waits for calls in flight (default 10 s; 0: not at all).
fn door_grace(flags: &[(&str, &str)]) -> Result<std::time::Duration, String> {
    Ok(match seconds(flags, "grace")? {
        Some(grace) => grace.unwrap_or_default(),
        None => std::time::Duration::from_secs(10),
    })
}

/// A flag in seconds: `Some(None)` for 0 (off), `None` when the flag is absent.
fn seconds(
    flags: &[(&str, &str)],
    name: &str,
) -> Result<Option<Option<std::time::Duration>>, String> {
    let Some(v) = flags
        .iter()
        .rev()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
    else {
        return Ok(None);
    };
    let secs = v
        .parse::<f64>()
        .ok()
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("--{name} needs a number of seconds, not {v:?}"))?;
    Ok(Some((!secs.is_zero()).then_some(secs)))
}

/// Raise this process's soft open-file limit toward its hard limit (at most 65,536), as Go
/// programs do at start: the default connection cap is derived from it. Returns what to log.
fn raise_open_file_limit() -> Option<String> {
    #[cfg(unix)]
    {
        let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
        let want = hard.min(65_536).max(soft);
        if want > soft && rlimit::Resource::NOFILE.set(want, hard).is_ok() {
            Some(format!(
                "open-file limit raised from {soft} to {want} (hard limit {hard})"
            ))
        } else {
            Some(format!("open-file limit: {soft} (hard limit {hard})"))
        }
    }
    #[cfg(not(unix))]
    None
}

/// `--redis URL`, `--node-id`, `--down-after-ms`: the chat hub's cluster settings (every
/// chat room recoverable).
fn cluster_config(
    url: &str,
    node: Option<String>,
    down_after: Option<String>,
) -> Result<RedisConfig, String> {
    let mut cfg = RedisConfig::new(url).recoverable("*");
    if let Some(id) = node {
        cfg = cfg.node_id(id);
    }
    if let Some(ms) = down_after {
        let ms: u64 = ms.parse().ok().filter(|ms| *ms >= 40).ok_or_else(|| {
            format!("--down-after-ms needs milliseconds (40 or more), not {ms:?}")
        })?;
        let down = std::time::Duration::from_millis(ms);
        cfg = cfg.heartbeat(down / 4, down);
    }
    Ok(cfg)
}

/// A hub on Redis, once connected: a node that cannot reach Redis at start says so and
/// stops, rather than serving alone without saying it.
async fn cluster_hub(cfg: RedisConfig) -> Result<Hub, String> {
    let hub = Hub::with_backend(RedisBackend::start(cfg).map_err(|e| e.to_string())?);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !hub.health().ok {
        if tokio::time::Instant::now() >= deadline {
            let why = hub.health().reason.unwrap_or_default();
            return Err(format!("cannot reach Redis: {why}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(hub)
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

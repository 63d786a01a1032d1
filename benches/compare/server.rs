//! polycodec's side of the RPC comparisons, in its own process as the JS servers are: this
//! bench binary run again with `--serve-polycodec` serves the demo API (kkrpc) on `/rpc` and
//! the tRPC contract router on `/trpc` (HTTP and WebSocket), and prints `listening PORT`.
//! The load client then runs in the bench process against every server alike; before, the
//! polycodec server shared the client's runtime, and its tasks and the client's woke each
//! other across the runtime's threads (wsLink: about 115k calls/s in-process, 150k as a
//! process of its own, measured alternately).

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// The flag that makes the bench binary a server.
pub const FLAG: &str = "--serve-polycodec";

/// Serve until killed (the body of the bench binary run with [`FLAG`]).
pub fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let rpc = polycodec::rpc::RpcServer::builder(polycodec::rpc::demo::api())
            .trpc(polycodec::rpc::demo_trpc::contract_router())
            .limits(polycodec::Limits::default().max_pending_calls(4096))
            .build()
            .unwrap();
        let app = rpc
            .trpc_routes("/trpc")
            .route("/rpc", axum::routing::get(rpc.handler()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening {port}");
        let _ = out.flush();
        axum::serve(listener, app).await.unwrap();
    });
}

/// A server process of a comparison (polycodec's or a JS runtime's): killed, and waited
/// for, when dropped, even when the comparison panics.
pub struct Process(std::process::Child);

impl Process {
    /// Start `cmd` and read the first line it prints (where it listens).
    pub fn start(mut cmd: Command, what: &str) -> (Process, String) {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (Process(child), line)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The port of a `listening PORT` line.
pub fn port_of(line: &str, what: &str) -> u16 {
    line.trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap_or_else(|_| panic!("no port from {what}: {line:?}"))
}

/// polycodec's server process.
pub struct Ours {
    _process: Process,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Ours {
    /// Start it and wait for its port.
    pub fn start() -> Ours {
        let mut cmd = Command::new(std::env::current_exe().expect("the bench binary's path"));
        cmd.arg(FLAG);
        let (process, line) = Process::start(cmd, "the polycodec server");
        Ours {
            _process: process,
            addr: SocketAddr::from(([127, 0, 0, 1], port_of(&line, "the polycodec server"))),
        }
    }
}

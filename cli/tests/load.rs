//! Load: thousands of concurrent connections on loopback, each making calls; every call is
//! answered exactly once. `POLYCODEC_LOAD_CONNECTIONS` sets the count (default 2,000 here;
//! the README's figure comes from a 10,000-connection run of this test), and the server's
//! memory per idle connection is measured on the `polycodec serve` process.

#[path = "../../tests/common/mod.rs"]
mod common;

use polycodec::rpc::Client;
use std::io::BufRead;
use std::time::Duration;

fn connections() -> usize {
    std::env::var("POLYCODEC_LOAD_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Raise the open-file limit to `want` (or the hard limit), and check that at least `need`
/// descriptors are available. (For 10,000 connections run one test at a time:
/// `--test-threads=1`, as the README says.)
fn raise_fd_limit(want: u64, need: u64) {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let set = want.min(hard);
    rlimit::Resource::NOFILE.set(set, hard).unwrap();
    assert!(set >= need, "the open-file limit ({hard}) is below {need}");
}

/// `polycodec serve` in its own process (its own descriptors), and its `/rpc` URL.
struct Server {
    child: std::process::Child,
    url: String,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server() -> Server {
    let root = &common::repo_root();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_polycodec"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let http = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/');
    let url = format!("{}/rpc", http.replace("http://", "ws://"));
    Server {
        child,
        url,
        _stdout: stdout,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_each_call_answered_exactly_once() {
    let n = connections();
    // Clients here, the server in its own process (which inherits the raised limit).
    // Both tests of this file may run at once: room for both.
    raise_fd_limit(2 * n as u64 + 512, n as u64 + 256);
    let server = spawn_server();
    let started = std::time::Instant::now();
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(Client::connect(&server.url).await.unwrap());
    }
    let clients = std::sync::Arc::new(clients);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let cs = clients.clone();
        tasks.spawn(async move {
            let mut sums = Vec::new();
            for k in 0..3u32 {
                sums.push(cs[i].call::<f64, _>("add", (i as u32, k)).await.unwrap());
            }
            (i, sums)
        });
    }
    let mut answered = vec![0u8; n];
    while let Some(r) = tasks.join_next().await {
        let (i, sums) = r.unwrap();
        assert_eq!(sums, vec![i as f64, i as f64 + 1.0, i as f64 + 2.0]);
        answered[i] += 1;
    }
    assert!(answered.iter().all(|&a| a == 1));
    println!(
        "{n} connections × 3 calls, all answered once, in {:?}",
        started.elapsed()
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_memory_per_idle_connection_is_measured() {
    let n = connections();
    raise_fd_limit(2 * n as u64 + 512, n as u64 + 256);
    let server = spawn_server();
    let url = server.url.clone();
    let pid = server.child.id();
    // Warm up (runtime threads, first allocations), then measure.
    let warm = Client::connect(&url).await.unwrap();
    let _: f64 = warm.call("add", (1, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(pid);
    // Idle, but alive: each socket is read (as a listening peer's is), so it answers the
    // server's pings (the handshake timeout pings a silent peer, and closes one that does
    // not answer).
    let mut idle = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut ws = tokio_tungstenite::connect_async(&url).await.unwrap().0;
        idle.spawn(async move {
            use futures_util::StreamExt;
            while let Some(Ok(_)) = ws.next().await {}
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before) as f64 * 1024.0) / n as f64;
    println!(
        "server RSS {before} KiB -> {after} KiB with {n} idle connections: {per:.0} bytes each"
    );
    drop(idle);
    drop(server);
    assert!(after > before, "no growth measured");
    // The README's figure is ≈ 15.5 KB; a bound four times over it still catches a leak of a
    // read buffer per connection (tungstenite's default is 128 KiB).
    assert!(per < 64.0 * 1024.0, "{per:.0} bytes per idle connection");
}

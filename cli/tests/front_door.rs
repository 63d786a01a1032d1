//! The front door of `polycodec serve`, checked against the binary: half-sent requests
//! closed within the default header timeout while a client is served, memory bounded during
//! a flood of requests that never finish, `--max-connections 100` refusing the 101st upgrade
//! with 503 and taking upgrades again after others close, a per-address cap, the drain on
//! SIGTERM, and the flags in `serve --help`.
//!
//! `POLYCODEC_FLOOD_CONNECTIONS` sets how many half-sent requests the first test sends
//! (default 1,000; the README's figures come from a run with 3,000).

#[path = "../../tests/common/mod.rs"]
mod common;

use futures_util::StreamExt;
use polycodec::rpc::{Api, Call, Client};
use std::io::BufRead;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;

/// `polycodec serve` in its own process; killed when dropped. Its output is read (and
/// dropped) as it comes, so that its log never fills the pipe.
struct Server {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_polycodec"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(flags)
            .current_dir(common::repo_root())
            .env("RUST_LOG", "polycodec=info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Server { child, addr }
    }

    fn rpc_url(&self) -> String {
        format!("ws://{}/rpc", self.addr)
    }

    /// Resident memory of the server, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raise the open-file limit to at least `want` (the server inherits it).
fn raise_fd_limit(want: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < want {
        rlimit::Resource::NOFILE.set(want.min(hard), hard).unwrap();
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(soft >= want, "the open-file limit ({soft}) is below {want}");
}

/// Everything the peer sends until it closes (or `within` passes: `None`).
async fn read_to_close(mut tcp: TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(got)
}

/// Open `n` connections that each send half a request and nothing more; each with when it
/// was opened.
async fn half_sent(addr: SocketAddr, n: usize) -> Vec<(TcpStream, Instant)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let opened = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /rpc HTTP/1.1\r\nHost: polycodec\r\nUpgrade: websocket\r\n")
            .await
            .unwrap();
        out.push((tcp, opened));
    }
    out
}

/// The status and `Retry-After` of a refused upgrade.
fn refused<T>(r: Result<T, tungstenite::Error>) -> (u16, Option<String>) {
    match r {
        Err(tungstenite::Error::Http(res)) => (
            res.status().as_u16(),
            res.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        Err(e) => panic!("refused without an HTTP answer: {e}"),
        Ok(_) => panic!("upgraded, but should have been refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_within_the_default_timeout_and_memory_stays_bounded() {
    let n: usize = std::env::var("POLYCODEC_FLOOD_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    raise_fd_limit(2 * n as u64 + 1024);
    let server = Server::start(&[]);
    // Warm up (runtime threads, first allocations), then measure.
    let warm = Client::connect(server.rpc_url()).await.unwrap();
    let _: f64 = warm.call("add", (1, 1)).await.unwrap();
    drop(warm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_kib();
    let flood = half_sent(server.addr, n).await;
    // Meanwhile a client is served.
    let client = Client::connect(server.rpc_url()).await.unwrap();
    let sum: f64 = client.call("add", (2, 3)).await.unwrap();
    assert_eq!(sum, 5.0);
    let mut closing = tokio::task::JoinSet::new();
    for (tcp, opened) in flood {
        closing.spawn(async move {
            let got = read_to_close(tcp, Duration::from_secs(60)).await;
            (got, opened.elapsed())
        });
    }
    // Memory while they are all held, sampled until they are closed.
    let mut peak = server.rss_kib();
    let (mut soonest, mut latest) = (Duration::MAX, Duration::ZERO);
    let mut answered = 0;
    let mut sampler = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            done = closing.join_next() => {
                let Some(done) = done else { break };
                let (got, open_for) = done.unwrap();
                let got = got.expect("closed by the server");
                assert!(got.starts_with(b"HTTP/1.1 408 "), "{:?}", String::from_utf8_lossy(&got));
                answered += 1;
                soonest = soonest.min(open_for);
                latest = latest.max(open_for);
            }
            _ = sampler.tick() => peak = peak.max(server.rss_kib()),
        }
    }
    let after = server.rss_kib();
    assert_eq!(answered, n);
    // The default header timeout is 10 s, counted from each connection's start: not long
    // before, not long after (a busy host is slow).
    assert!(
        soonest >= Duration::from_secs(5),
        "closed early: {soonest:?}"
    );
    assert!(latest <= Duration::from_secs(25), "closed late: {latest:?}");
    // Bounded: well under 64 KiB per held connection.
    let per = (peak.saturating_sub(before) * 1024) / n as u64;
    assert!(per < 64 * 1024, "{per} bytes per half-sent request");
    let sum: f64 = client.call("add", (4, 5)).await.unwrap();
    assert_eq!(sum, 9.0);
    println!(
        "{n} half-sent requests: each answered 408 and closed {soonest:.1?}–{latest:.1?} after \
         it was opened; server RSS {before} KiB before, {peak} KiB at most while held \
         ({per} bytes each), {after} KiB after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_that_never_finishes_its_requests_stays_under_the_cap_and_its_memory_levels_off() {
    raise_fd_limit(4096);
    let server = Server::start(&["--max-connections", "300", "--header-timeout", "1"]);
    let warm = Client::connect(server.rpc_url()).await.unwrap();
    let _: f64 = warm.call("add", (1, 1)).await.unwrap();
    drop(warm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_kib();
    // Six waves of 300, half a second apart: the cap holds 300 at once; the rest are
    // answered 503 (or, past what is being answered, closed at once); the header timeout
    // frees the held ones every second.
    let mut held = tokio::task::JoinSet::new();
    let mut peaks = Vec::new();
    for _ in 0..6 {
        for (tcp, _) in half_sent(server.addr, 300).await {
            held.spawn(read_to_close(tcp, Duration::from_secs(30)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        peaks.push(server.rss_kib());
    }
    let (mut timed_out, mut unavailable, mut dropped) = (0, 0, 0);
    while let Some(r) = held.join_next().await {
        let got = r.unwrap().expect("closed by the server");
        if got.starts_with(b"HTTP/1.1 408 ") {
            timed_out += 1;
        } else if got.starts_with(b"HTTP/1.1 503 ") {
            unavailable += 1;
        } else {
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
            dropped += 1;
        }
    }
    assert_eq!(timed_out + unavailable + dropped, 1800);
    assert!(timed_out >= 300, "{timed_out} held and timed out");
    assert!(unavailable > 0, "none answered 503");
    let peak = peaks.iter().copied().max().unwrap();
    let growth = peak.saturating_sub(before);
    assert!(growth < 64 * 1024, "RSS grew by {growth} KiB: {peaks:?}");
    // Level: the later waves cost no more than the third did (a wave held and then released
    // 300 requests; had their memory been kept, each wave would add ~6 MB).
    assert!(
        peaks[5] <= peaks[2] + 12 * 1024,
        "RSS still growing from wave to wave: {peaks:?} KiB"
    );
    // Once the flood is over, a client is served.
    let client = Client::connect(server.rpc_url()).await.unwrap();
    let sum: f64 = client.call("add", (2, 2)).await.unwrap();
    assert_eq!(sum, 4.0);
    println!(
        "1,800 half-sent requests in 6 waves under a cap of 300: {timed_out} held then 408, \
         {unavailable} answered 503, {dropped} closed at once; server RSS {before} KiB \
         before, per wave {peaks:?} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_100_refuses_the_101st_upgrade_with_503_then_accepts_after_closes() {
    raise_fd_limit(1024);
    let server = Server::start(&["--max-connections", "100"]);
    let url = server.rpc_url();
    let mut open = Vec::new();
    for _ in 0..100 {
        open.push(Client::connect(&url).await.unwrap());
    }
    let (status, retry) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!(status, 503);
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s > 0)));
    // The connections open are untouched.
    for (i, c) in open.iter().enumerate() {
        let sum: f64 = c.call("add", (i as u32, 1)).await.unwrap();
        assert_eq!(sum, i as f64 + 1.0);
    }
    for c in open.drain(..10) {
        c.close().await;
    }
    // Their places come back as the server finishes with them.
    let mut back = 0;
    for _ in 0..400 {
        match Client::connect(&url).await {
            Ok(c) => {
                open.push(c);
                back += 1;
                if back == 10 {
                    break;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(back, 10, "upgrades taken again after closes");
    let (status, _) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!(status, 503);
}

#[tokio::test]
async fn max_connections_per_ip_answers_429_and_counts_each_address() {
    let server = Server::start(&["--max-connections-per-ip", "3"]);
    let upgrade = |from: &'static str| {
        let url = server.rpc_url();
        let to = server.addr;
        async move {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
            let tcp = socket.connect(to).await.unwrap();
            tokio_tungstenite::client_async(url, tcp)
                .await
                .map(|(ws, _)| ws)
        }
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(upgrade("127.0.0.2").await.unwrap());
    }
    let (status, retry) = refused(upgrade("127.0.0.2").await);
    assert_eq!(status, 429);
    assert!(retry.is_some());
    open.push(upgrade("127.0.0.3").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_calls_in_flight_then_closes_with_1001_and_exits() {
    let server = Server::start(&["--grace", "10"]);
    let url = server.rpc_url();
    // The client answers the server's call a second late: `callClient` is in flight on the
    // server while it waits.
    let api = Api::builder()
        .method("slowEcho", |call: Call| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(call.value(0).clone())
        })
        .build()
        .unwrap();
    let client = std::sync::Arc::new(
        Client::builder(&url)
            .codecs(["json"])
            .expose(api)
            .connect()
            .await
            .unwrap(),
    );
    let (mut raw, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let c = client.clone();
    let in_flight =
        tokio::spawn(async move { c.call::<String, _>("callClient", ("slowEcho", "hi")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // The call in flight at SIGTERM is answered.
    let answer = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("answered")
        .unwrap()
        .unwrap();
    assert_eq!(answer, "hi");
    // Then every WebSocket is closed with 1001.
    let wait = async {
        while let Some(Ok(m)) = raw.next().await {
            if let tungstenite::Message::Close(f) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    };
    let code = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("closed");
    assert_eq!(code, Some(1001));
    // No new connection is taken, and the process exits cleanly.
    assert!(TcpStream::connect(server.addr).await.is_err());
    let mut server = server;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

#[test]
fn serve_help_lists_the_front_door_flags_and_bad_values_are_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polycodec"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--max-connections N",
        "--max-connections-per-ip N",
        "--upgrades-per-ip-per-sec R",
        "--trusted-proxy",
        "--header-timeout SECS",
        "--handshake-timeout SECS",
        "--idle-timeout SECS",
        "--max-header-bytes N",
        "--max-body-bytes N",
        "--grace SECS",
    ] {
        let line = help.lines().find(|l| l.contains(flag));
        assert!(line.is_some(), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("(default 10)") && help.contains("default: off"));
    for (flag, value) in [
        ("--max-connections", "0"),
        ("--max-connections-per-ip", "many"),
        ("--header-timeout", "-1"),
        ("--trusted-proxy", "10.0.0.0/40"),
        ("--upgrades-per-ip-per-sec", "0"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_polycodec"))
            .args(["serve", "--addr", "127.0.0.1:0", flag, value])
            .current_dir(common::repo_root())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

//! The front door: what guards the server before a WebSocket is open. Half-sent requests
//! closed by the header timeout while a client is served; the connection caps (503 with
//! `Retry-After`, those open untouched, room again after closes) at the listener and at the
//! handler; per-client caps counted per loopback address (127.0.0.2, 127.0.0.3 …) and, behind
//! a trusted proxy, per `X-Forwarded-For`; the upgrade rate; the WebSocket handshake timeout;
//! HTTP limits; and the drain (calls in flight answered, new ones refused, 1001).

use crate::serve::eventually;
use futures_util::StreamExt;
use polycodec::rpc::{codes, demo, serve, Api, Call, Client, Error, FrontDoor, RpcServer};
use polycodec::Value;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// `serve` running on 127.0.0.1, port 0; stopped (its task aborted) when dropped.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `app` behind `door` with [`serve`], with a shutdown signal in `stop`.
async fn start(app: axum::Router, door: FrontDoor) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        serve(listener, app, door)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

fn rpc_app(server: &RpcServer) -> axum::Router {
    axum::Router::new().route("/rpc", axum::routing::get(server.handler()))
}

/// Raise the open-file limit to at least `want` (this process holds both ends).
fn raise_fd_limit(want: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < want {
        rlimit::Resource::NOFILE.set(want.min(hard), hard).unwrap();
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(soft >= want, "the open-file limit ({soft}) is below {want}");
}

/// A TCP connection to `to` from the loopback address `from` (each one another client).
async fn tcp_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// A WebSocket upgrade of `/rpc` from the loopback address `from`, with an
/// `X-Forwarded-For` header when `forwarded_for` is given.
async fn upgrade_from(
    from: &str,
    to: SocketAddr,
    forwarded_for: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{to}/rpc").into_client_request().unwrap();
    if let Some(xff) = forwarded_for {
        req.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
    }
    let tcp = tcp_from(from, to).await;
    tokio_tungstenite::client_async(req, tcp)
        .await
        .map(|(ws, _)| ws)
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

/// The code of the close frame `ws` gets (waiting at most 10 s).
async fn close_code<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let wait = async {
        while let Some(Ok(m)) = ws.next().await {
            if let tungstenite::Message::Close(f) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .ok()
        .flatten()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_half_sent_requests_are_closed_within_the_header_timeout_while_a_client_is_served(
) {
    raise_fd_limit(4096);
    let rpc = RpcServer::builder(demo::api()).build().unwrap();
    let timeout = Duration::from_secs(1);
    let srv = start(rpc_app(&rpc), FrontDoor::new().header_timeout(timeout)).await;
    let mut half = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
        tcp.write_all(b"GET /rpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
            .await
            .unwrap();
        half.push(tcp);
    }
    let sent = Instant::now();
    // Meanwhile a client is served, and its upgraded connection outlives the timeout.
    let client = Client::connect(format!("ws://{}/rpc", srv.addr))
        .await
        .unwrap();
    let sum: f64 = client.call("add", (2, 3)).await.unwrap();
    assert_eq!(sum, 5.0);
    let mut closing = tokio::task::JoinSet::new();
    for tcp in half {
        closing.spawn(read_to_close(tcp, Duration::from_secs(30)));
    }
    let mut answered = 0;
    while let Some(r) = closing.join_next().await {
        let got = r.unwrap().expect("closed by the server");
        assert!(
            got.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        answered += 1;
    }
    assert_eq!(answered, 1000);
    // Within the timeout (counted from each connection's start), with room for a busy host.
    let took = sent.elapsed();
    assert!(took < timeout + Duration::from_secs(15), "{took:?}");
    let sum: f64 = client.call("add", (4, 5)).await.unwrap();
    assert_eq!(sum, 9.0);
}

#[tokio::test]
async fn a_request_that_never_starts_is_closed_silently_and_an_idle_one_after_its_timeout() {
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let door = FrontDoor::new()
        .header_timeout(Duration::from_millis(500))
        .idle_timeout(Duration::from_millis(700));
    let srv = start(app, door).await;
    // Connected, said nothing: closed, no 408 (no request is waiting for one).
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let got = read_to_close(tcp, Duration::from_secs(10)).await.unwrap();
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // Served, then idle: closed after the idle timeout, with nothing more sent.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_to_close(tcp, Duration::from_secs(10)).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("ok"), "one response, then the close: {text}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    // A second request started on a kept-alive connection and left half-sent: 408.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n")
        .await
        .unwrap();
    let got = read_to_close(tcp, Duration::from_secs(10)).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("408 Request Timeout"), "{text}");
}

#[tokio::test]
async fn a_pipelined_half_request_gets_the_header_timeout_not_the_idle_one() {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "slow"
            }),
        )
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
    let header = Duration::from_millis(500);
    let door = FrontDoor::new()
        .header_timeout(header)
        .idle_timeout(Duration::from_secs(5));
    let srv = start(app, door).await;
    let is_408 = |got: Option<Vec<u8>>| {
        let text = String::from_utf8_lossy(&got.expect("closed within 3 s")).into_owned();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.contains("408 Request Timeout"), "{text}");
    };
    // A full request and half of the next, sent together.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n")
        .await
        .unwrap();
    let sent = Instant::now();
    is_408(read_to_close(tcp, Duration::from_secs(3)).await);
    assert!(sent.elapsed() < header + Duration::from_secs(2));
    // Half of the next sent while the first is being answered: held to the header timeout
    // from its first byte (not from the end of the answer, nor given the idle timeout).
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tcp.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let sent = Instant::now();
    is_408(read_to_close(tcp, Duration::from_secs(3)).await);
    assert!(sent.elapsed() < header + Duration::from_secs(2));
    // A request with a body, answered, then nothing: idle, not a half-sent head; the next
    // request is served.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\nhel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tcp.write_all(b"lo").await.unwrap();
    tokio::time::sleep(header * 3).await;
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(tcp, Duration::from_secs(3)).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("ok") && !text.contains("408"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_at_the_body_timeout_and_a_handlers_own_time_does_not_count() {
    // `/echo` answers after 1.5 s; `/late` waits 1.5 s before it reads the body.
    let app = axum::Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: String| async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                body
            }),
        )
        .route(
            "/late",
            axum::routing::post(|req: axum::extract::Request| async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let bytes = axum::body::to_bytes(req.into_body(), 1024).await.unwrap();
                String::from_utf8(bytes.to_vec()).unwrap()
            }),
        );
    let body = Duration::from_millis(600);
    let door = FrontDoor::new()
        .header_timeout(Duration::from_secs(5))
        .body_timeout(body);
    let srv = start(app, door).await;
    let ok = |got: Option<Vec<u8>>, want: &str| {
        let text = String::from_utf8_lossy(&got.expect("answered within 5 s")).into_owned();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(text.ends_with(want) && !text.contains("408"), "{text}");
    };
    // A body within the timeout, answered after longer than it, then on the same kept-alive
    // connection a body that trickles a byte every 200 ms: the waits add up, 408 at the
    // timeout though bytes keep coming.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\nhel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tcp.write_all(b"lo").await.unwrap();
    let mut first = Vec::new();
    let mut buf = [0u8; 512];
    while !first.ends_with(b"hello") {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&first));
        first.extend_from_slice(&buf[..n]);
    }
    assert!(first.starts_with(b"HTTP/1.1 200 OK"));
    tcp.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    let sent = Instant::now();
    let (mut rd, mut wr) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            if wr.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408 Request Timeout"), "{text:?}");
    let took = sent.elapsed();
    assert!(
        took >= body && took < body + Duration::from_secs(2),
        "{took:?}"
    );
    trickle.abort();
    // A handler that takes its time before it reads: not the client's fault.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(
        b"POST /late HTTP/1.1\r\nHost: x\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello",
    )
    .await
    .unwrap();
    ok(read_to_close(tcp, Duration::from_secs(5)).await, "hello");
    // `Expect: 100-continue`: the body is sent once the handler asks for it.
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"POST /late HTTP/1.1\r\nHost: x\r\nconnection: close\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n")
        .await
        .unwrap();
    let mut cont = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut cont))
        .await
        .unwrap()
        .unwrap();
    assert!(cont[..n].starts_with(b"HTTP/1.1 100 Continue"));
    tcp.write_all(b"hello").await.unwrap();
    ok(read_to_close(tcp, Duration::from_secs(5)).await, "hello");
}

#[tokio::test]
async fn http_limits_answer_413_and_431() {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
    );
    let door = FrontDoor::new().max_body_bytes(1024).max_header_bytes(2048);
    let srv = start(app, door).await;
    let ask = |req: Vec<u8>| async move {
        let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
        tcp.write_all(&req).await.unwrap();
        let got = read_to_close(tcp, Duration::from_secs(10)).await.unwrap();
        String::from_utf8_lossy(&got).into_owned()
    };
    let post = |headers: &str, body: &[u8]| {
        let mut req =
            format!("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
                .into_bytes();
        req.extend_from_slice(body);
        req
    };
    let small = ask(post("Content-Length: 10\r\n", &[b'a'; 10])).await;
    assert!(
        small.starts_with("HTTP/1.1 200 ") && small.ends_with("10"),
        "{small}"
    );
    // Declared too large: refused before the router reads it.
    let declared = ask(post("Content-Length: 5000\r\n", &[b'a'; 5000])).await;
    assert!(declared.starts_with("HTTP/1.1 413 "), "{declared}");
    // Too large, undeclared (chunked): the body fails to read, which axum answers with 413.
    let mut chunked = Vec::new();
    chunked.extend_from_slice(b"7d0\r\n");
    chunked.extend_from_slice(&[b'a'; 2000]);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let streamed = ask(post("Transfer-Encoding: chunked\r\n", &chunked)).await;
    assert!(streamed.starts_with("HTTP/1.1 413 "), "{streamed}");
    // Headers over their limit: 431.
    let big = format!("X-Big: {}\r\n", "b".repeat(4000));
    let headers = ask(post(&big, b"")).await;
    assert!(headers.starts_with("HTTP/1.1 431 "), "{headers}");
}

#[tokio::test]
async fn the_listener_cap_answers_503_beyond_it_and_leaves_open_connections_alone() {
    let rpc = RpcServer::builder(demo::api()).build().unwrap();
    let srv = start(rpc_app(&rpc), FrontDoor::new().max_connections(3)).await;
    let url = format!("ws://{}/rpc", srv.addr);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::connect(&url).await.unwrap());
    }
    let (status, retry) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!((status, retry.as_deref()), (503, Some("5")));
    for c in &open {
        let sum: f64 = c.call("add", (1, 1)).await.unwrap();
        assert_eq!(sum, 2.0);
    }
    open.pop().unwrap().close().await;
    let hub = rpc.hub().clone();
    eventually("the server saw it go", || hub.len() == 2).await;
    let mut again = None;
    for _ in 0..100 {
        if let Ok(c) = Client::connect(&url).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = again.expect("room again after a close");
    let sum: f64 = again.call("add", (2, 2)).await.unwrap();
    assert_eq!(sum, 4.0);
}

#[tokio::test]
async fn the_handler_cap_refuses_the_next_upgrade_with_503_in_a_plain_axum_app() {
    // The handler alone, mounted in an app served by `axum::serve`.
    let rpc = RpcServer::builder(demo::api())
        .front_door(
            FrontDoor::new()
                .max_connections(20)
                .retry_after(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let url = format!(
        "ws://{}/rpc",
        crate::serve::serve_at("/rpc", rpc.clone()).await
    );
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(Client::connect(&url).await.unwrap());
    }
    let (status, retry) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!((status, retry.as_deref()), (503, Some("2")));
    match Client::connect(&url).await {
        Err(Error::Connect {
            status: Some(503), ..
        }) => {}
        Err(e) => panic!("refused otherwise: {e}"),
        Ok(_) => panic!("upgraded past the cap"),
    }
    for c in &open {
        let sum: f64 = c.call("add", (1, 2)).await.unwrap();
        assert_eq!(sum, 3.0);
    }
    for c in open.drain(..5) {
        c.close().await;
    }
    let hub = rpc.hub().clone();
    eventually("the server saw them go", || hub.len() == 15).await;
    // The slots come back when each connection's task ends (after its close handshake).
    let mut back = 0;
    for _ in 0..200 {
        match Client::connect(&url).await {
            Ok(c) => {
                open.push(c);
                back += 1;
                if back == 5 {
                    break;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(back, 5);
    let (status, _) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!(status, 503);
}

#[tokio::test]
async fn per_client_caps_count_each_address_and_believe_forwarded_for_only_from_trusted_proxies() {
    let door = FrontDoor::new()
        .max_connections_per_ip(2)
        .trusted_proxies(["127.0.0.1".parse().unwrap()]);
    let rpc = RpcServer::builder(demo::api())
        .front_door(door.clone())
        .build()
        .unwrap();
    let srv = start(rpc_app(&rpc), door).await;
    let a1 = upgrade_from("127.0.0.2", srv.addr, None).await.unwrap();
    let _a2 = upgrade_from("127.0.0.2", srv.addr, None).await.unwrap();
    let (status, retry) = refused(upgrade_from("127.0.0.2", srv.addr, None).await);
    assert_eq!((status, retry.as_deref()), (429, Some("5")));
    // Another address is another client.
    let _b1 = upgrade_from("127.0.0.3", srv.addr, None).await.unwrap();
    // Behind the trusted proxy (127.0.0.1), each forwarded client is counted apart.
    let c = Some("198.51.100.1");
    let _c1 = upgrade_from("127.0.0.1", srv.addr, c).await.unwrap();
    let _c2 = upgrade_from("127.0.0.1", srv.addr, c).await.unwrap();
    assert_eq!(refused(upgrade_from("127.0.0.1", srv.addr, c).await).0, 429);
    // The client forged the left entry; the proxy appended what it saw.
    let d = Some("198.51.100.1, 198.51.100.2");
    let _d1 = upgrade_from("127.0.0.1", srv.addr, d).await.unwrap();
    // The same header from a socket that is no trusted proxy counts that socket.
    let spoof = Some("198.51.100.77");
    assert_eq!(
        refused(upgrade_from("127.0.0.2", srv.addr, spoof).await).0,
        429
    );
    let _b2 = upgrade_from("127.0.0.3", srv.addr, spoof).await.unwrap();
    // 127.0.0.2 closes one: it may open one again.
    drop(a1);
    let mut again = None;
    for _ in 0..200 {
        if let Ok(ws) = upgrade_from("127.0.0.2", srv.addr, None).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "room again for 127.0.0.2 after a close");
}

#[tokio::test]
async fn upgrades_per_second_per_client_beyond_the_rate_answer_429() {
    let door = FrontDoor::new().upgrades_per_ip_per_second(0.5);
    let rpc = RpcServer::builder(demo::api())
        .front_door(door.clone())
        .build()
        .unwrap();
    let srv = start(rpc_app(&rpc), door).await;
    let _first = upgrade_from("127.0.0.4", srv.addr, None).await.unwrap();
    let (status, retry) = refused(upgrade_from("127.0.0.4", srv.addr, None).await);
    assert_eq!((status, retry.as_deref()), (429, Some("2")));
    let _other = upgrade_from("127.0.0.5", srv.addr, None).await.unwrap();
}

#[tokio::test]
async fn the_handshake_timeout_closes_a_silent_socket_and_keeps_a_listening_peer() {
    let timeout = Duration::from_millis(600);
    let rpc = RpcServer::builder(demo::api())
        .front_door(FrontDoor::new().handshake_timeout(timeout))
        .build()
        .unwrap();
    let url = format!(
        "ws://{}/rpc",
        crate::serve::serve_at("/rpc", rpc.clone()).await
    );
    // A peer that only listens: it never calls, but its socket is read, so it answers the
    // server's ping with a pong.
    let listener = Client::connect(&url).await.unwrap();
    // A socket upgraded and never read: it answers nothing.
    let (silent, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let hub = rpc.hub().clone();
    eventually("both registered", || hub.len() == 2).await;
    eventually("the silent one closed", || hub.len() == 1).await;
    tokio::time::sleep(timeout).await;
    assert_eq!(hub.len(), 1);
    assert!(!listener.is_closed());
    let sum: f64 = listener.call("add", (1, 2)).await.unwrap();
    assert_eq!(sum, 3.0);
    drop(silent);
}

#[tokio::test]
async fn the_drain_answers_calls_in_flight_refuses_new_ones_then_closes_with_1001() {
    let api = Api::builder()
        .method("slow", |_c: Call| async move {
            tokio::time::sleep(Duration::from_millis(800)).await;
            Ok(Value::from("done"))
        })
        .method("hang", |_c: Call| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(Value::Null)
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, polycodec::rpc::RpcError>(a + b)
        })
        .build()
        .unwrap();
    let told = Arc::new(AtomicUsize::new(0));
    let t = told.clone();
    let rpc = RpcServer::builder(api)
        .on_drain(move |_peer| {
            t.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let mut srv = start(rpc_app(&rpc), FrontDoor::new()).await;
    let url = format!("ws://{}/rpc", srv.addr);
    let client = Arc::new(Client::connect(&url).await.unwrap());
    let (mut raw, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let c = client.clone();
    let in_flight = tokio::spawn(async move { c.call::<String, _>("slow", ()).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The signal: the listener stops accepting, the endpoint drains.
    srv.stop.take().unwrap().send(()).unwrap();
    let r = rpc.clone();
    let drained = tokio::spawn(async move { r.drain(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A call made now is refused; a new connection is not taken.
    let err = client.call::<f64, _>("add", (1, 2)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Remote(e) if e.name == codes::SHUTTING_DOWN),
        "{err}"
    );
    assert!(
        TcpStream::connect(srv.addr).await.is_err(),
        "still accepting"
    );
    // The call in flight is answered, then the connection closes with 1001.
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer, "done");
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("drained")
        .unwrap();
    assert_eq!(told.load(Ordering::Relaxed), 2, "told each connection");
    eventually("closed", || client.is_closed()).await;
    let err = client.call::<f64, _>("add", (1, 2)).await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert_eq!(close_code(&mut raw).await, Some(1001));
    // Its connections gone, the listener returns.
    let served = tokio::time::timeout(Duration::from_secs(10), &mut srv.task)
        .await
        .expect("the listener returned");
    served.unwrap().unwrap();

    // A call longer than the grace period: closed with 1001 when the grace is over.
    let rpc = RpcServer::builder(
        Api::builder()
            .method("hang", |_c: Call| async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(Value::Null)
            })
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let url = format!(
        "ws://{}/rpc",
        crate::serve::serve_at("/rpc", rpc.clone()).await
    );
    let client = Arc::new(Client::connect(&url).await.unwrap());
    let c = client.clone();
    let hanging = tokio::spawn(async move { c.call::<Value, _>("hang", ()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    rpc.drain(Duration::from_millis(300)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let err = hanging.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    // New upgrades are refused with 503 once a drain began.
    let (status, _) = refused(tokio_tungstenite::connect_async(&url).await);
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_websocket_outlives_the_idle_and_header_timeouts_of_http() {
    let rpc = RpcServer::builder(demo::api())
        .front_door(FrontDoor::new().handshake_timeout(None))
        .build()
        .unwrap();
    let door = FrontDoor::new()
        .header_timeout(Duration::from_millis(300))
        .idle_timeout(Duration::from_millis(300));
    let srv = start(rpc_app(&rpc), door).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/rpc", srv.addr))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    use futures_util::SinkExt;
    let call = r#"{"t":"q","id":"1","op":"call","p":["add"],"a":[2,3]}"#;
    ws.send(tungstenite::Message::Text(call.into()))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(reply.to_text().unwrap().contains('5'), "{reply:?}");
}

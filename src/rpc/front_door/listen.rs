//! The listener's side of the front door: [`serve`], a drop-in for `axum::serve` that owns
//! the accept loop and each HTTP/1 connection (hyper's, with upgrades), and so can enforce
//! what only the socket sees.

use super::ip::{IpPermit, PerIp};
use super::{FrontDoor, RefusalLog};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// After the grace period, how much longer the listener waits for upgraded connections to
/// finish their close handshakes (a closing WebSocket gives its peer 2 s).
const CLOSE_ALLOWANCE: Duration = Duration::from_secs(5);

/// How many connections beyond the caps may be being answered (503 or 429) at once; past
/// that, one is closed at once, unanswered.
const REFUSALS_AT_ONCE: usize = 128;

/// The most a refused connection is given to send its request before the answer goes out,
/// and then to read it.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Serve `router` on `listener` behind the front door: a drop-in for `axum::serve` (HTTP/1,
/// WebSocket upgrades included) that enforces the listener's part of `door`:
///
/// * the request line and headers within [`FrontDoor::header_timeout`] (else 408, or a
///   silent close when nothing came), a body that keeps its handler waiting no longer than
///   [`FrontDoor::body_timeout`] in all (else 408), an idle kept-alive connection closed after
///   [`FrontDoor::idle_timeout`], headers within [`FrontDoor::max_header_bytes`] (else 431),
///   bodies within [`FrontDoor::max_body_bytes`] (else 413);
/// * at most [`FrontDoor::max_connections`] TCP connections, upgraded ones included (the
///   next is answered 503 with `Retry-After` and closed; those open are untouched), and,
///   when set, [`FrontDoor::max_connections_per_ip`] per socket address (429), trusted
///   proxies exempt;
/// * every request carries `ConnectInfo<SocketAddr>` (the socket's peer), as with axum's
///   `into_make_service_with_connect_info`: the handler's per-client limits read it;
/// * with [`Serve::with_graceful_shutdown`]: once the signal comes, no more connections are
///   accepted, idle ones are closed, requests in flight get [`FrontDoor::grace`] to finish,
///   upgraded connections up to 5 s more (time for the application to close them, as
///   [`RpcServer::drain`](crate::rpc::RpcServer::drain) does), and then it returns.
///
/// Connections get `TCP_NODELAY` (small RPC frames must not wait for Nagle). The cap in
/// force is logged at start (`tracing`, info), with the open-file limit it comes from.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use polycodec::rpc::{demo, serve, FrontDoor, RpcServer};
/// # async fn stop_signal() {}
/// # async fn run() -> std::io::Result<()> {
/// let door = FrontDoor::new().max_connections(20_000).max_connections_per_ip(100);
/// let rpc = RpcServer::builder(demo::api()).front_door(door.clone()).build().unwrap();
/// let app = Router::new().route("/rpc", get(rpc.handler()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let drain = rpc.clone();
/// serve(listener, app, door)
///     .with_graceful_shutdown(async move {
///         stop_signal().await; // SIGTERM, Ctrl-C (tokio::signal)
///         // The listener stops accepting; the endpoint answers the calls in flight, then
///         // closes its sockets with 1001.
///         tokio::spawn(async move { drain.drain(std::time::Duration::from_secs(10)).await });
///     })
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, router: Router, door: FrontDoor) -> Serve {
    Serve {
        listener,
        router,
        door,
        signal: None,
    }
}

/// The future [`serve`] returns (`.await` it); add a shutdown signal with
/// [`Serve::with_graceful_shutdown`].
#[must_use = "a server does nothing until awaited"]
pub struct Serve {
    listener: TcpListener,
    router: Router,
    door: FrontDoor,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Serve {
    /// Shut down gracefully once `signal` completes: stop accepting, close idle connections,
    /// let requests in flight finish within [`FrontDoor::grace`], wait up to 5 s more for
    /// upgraded connections (their application closes them), then return.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Serve
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self))
    }
}

/// What every connection task shares.
struct Shared {
    door: FrontDoor,
    router: Router,
    http: hyper::server::conn::http1::Builder,
    refusals: Arc<Semaphore>,
    log: RefusalLog,
}

async fn run(serve: Serve) -> io::Result<()> {
    let Serve {
        listener,
        router,
        door,
        signal,
    } = serve;
    let (cap, why) = door.connection_cap_explained();
    let cap = cap.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize);
    let secs = |t: Option<Duration>| t.map_or("never".to_owned(), |t| format!("{t:?}"));
    tracing::info!(
        "front door: {why}; request headers within {}, bodies within {}, idle connections closed after {}",
        secs(door.header_timeout),
        secs(door.body_timeout),
        secs(door.idle_timeout)
    );
    let slots = Arc::new(Semaphore::new(cap));
    let per_ip = door.max_connections_per_ip.map(PerIp::new);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.header_read_timeout(None)
        .max_header_size(door.max_header_bytes)
        .max_buf_size((door.max_header_bytes + 8 * 1024).max(16 * 1024))
        .keep_alive(true);
    let shared = Arc::new(Shared {
        door,
        router,
        http,
        refusals: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
        log: RefusalLog::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut signal = signal.unwrap_or_else(|| Box::pin(std::future::pending()));
    let mut last_accept_warning: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of descriptors (or memory): wait a little, without a busy loop
                        // or a log line per attempt.
                        if last_accept_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                            tracing::warn!(error = %e, "accept failed; retrying");
                            last_accept_warning = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = tcp.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let ip_permit = match &per_ip {
            Some(per_ip) if !shared.door.trusted_proxies.iter().any(|t| t.contains(ip)) => {
                match per_ip.try_take(ip) {
                    Some(p) => Some(p),
                    None => {
                        shared
                            .log
                            .note("connection", "connections per address", Some(ip));
                        refuse(
                            &shared,
                            tcp,
                            StatusCode::TOO_MANY_REQUESTS,
                            "too many connections from your address",
                        );
                        continue;
                    }
                }
            }
            _ => None,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            shared.log.note("connection", "connection cap", Some(ip));
            refuse(
                &shared,
                tcp,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the server is at its cap of {cap} connections"),
            );
            continue;
        };
        let held = Held {
            _slot: slot,
            _ip: ip_permit,
        };
        tokio::spawn(connection(shared.clone(), tcp, peer, held, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = shared.door.grace + CLOSE_ALLOWANCE;
    tracing::info!("shutting down: no new connections; waiting up to {grace:?} for open ones");
    let all = slots.acquire_many(cap as u32);
    if tokio::time::timeout(grace, all).await.is_err() {
        let left = cap - slots.available_permits();
        tracing::info!("{left} connections still open after {grace:?}; leaving them");
    }
    Ok(())
}

/// Errors of one connection that does not reach us (reset before accept): try the next.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What one connection holds while it lives (upgraded or not): its place under the caps.
struct Held {
    _slot: OwnedSemaphorePermit,
    _ip: Option<IpPermit>,
}

/// Answer a connection beyond a cap with `status` (and `Retry-After`), then close it; or
/// close it at once when too many are being answered already.
fn refuse(shared: &Shared, tcp: TcpStream, status: StatusCode, why: &str) {
    let Ok(permit) = shared.refusals.clone().try_acquire_owned() else {
        return;
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nretry-after: {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{why}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        shared.door.retry_after_secs(),
        why.len() + 1,
    );
    tokio::spawn(async move {
        let _permit = permit;
        let mut tcp = tcp;
        // Read the request head first (a response before the request confuses some
        // clients), for a little while.
        let _ = tokio::time::timeout(REFUSAL_TIME, read_head(&mut tcp)).await;
        answer_and_close(tcp, head.as_bytes()).await;
    });
}

/// Read until the end of a request head (`\r\n\r\n`), at most 8 KiB.
async fn read_head(tcp: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    let mut tail = [0u8; 4];
    let mut total = 0;
    while total < 8 * 1024 {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n;
        for &b in &buf[..n] {
            tail = [tail[1], tail[2], tail[3], b];
            if &tail == b"\r\n\r\n" {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Write `response`, end our side, and read what the peer still sends for a little while:
/// a socket closed with unread input is reset, and the peer may lose the response.
async fn answer_and_close(mut tcp: TcpStream, response: &[u8]) {
    let write = async {
        tcp.write_all(response).await?;
        tcp.shutdown().await
    };
    if !matches!(tokio::time::timeout(REFUSAL_TIME, write).await, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < 64 * 1024 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The timing state of one connection, kept by its socket (reads), its service (a request
/// begins) and its response bodies (a request ends).
struct ConnState {
    start: Instant,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Milliseconds since `start` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds since `start` of the first byte of the next request, or [`NONE`]. The
    /// first request counts from the connection's start.
    head_since: AtomicU64,
    /// Bytes came since the connection last became idle (or opened).
    got_bytes: AtomicBool,
    /// Milliseconds since `start` of the read that put bytes in hyper's read buffer that it
    /// may not have consumed yet, or [`NONE`] when that buffer is known to be empty. While a
    /// request is being answered hyper reads the socket only with its buffer empty (for the
    /// body, or to see the peer close), so such a read clears this, and bytes it brings set
    /// it; bytes that stay past the response's end are the next request's (pipelined, or
    /// read together with this one).
    buffered_since: AtomicU64,
    /// The number of the request being answered (each request's body knows its own: one
    /// left over from an earlier request changes nothing).
    request: AtomicU64,
    /// Milliseconds since `start` when the current request's body will have kept its
    /// handler waiting for [`FrontDoor::body_timeout`] in all, while the handler waits for
    /// bytes that have not come; [`NONE`] while it does not wait.
    body_due: AtomicU64,
    /// The current request's response has begun (the service answered).
    responded: AtomicBool,
}

const NONE: u64 = u64::MAX;

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            start: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            got_bytes: AtomicBool::new(false),
            buffered_since: AtomicU64::new(NONE),
            request: AtomicU64::new(0),
            body_due: AtomicU64::new(NONE),
            responded: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Hyper reads the socket (whether or not bytes come).
    fn on_read_call(&self) {
        if self.busy.load(Ordering::Acquire) > 0 {
            // During a request hyper reads only with its buffer empty.
            self.buffered_since.store(NONE, Ordering::Relaxed);
        }
    }

    /// Bytes came from the socket.
    fn on_read(&self) {
        let now = self.now_ms();
        if self.buffered_since.load(Ordering::Relaxed) == NONE {
            self.buffered_since.store(now, Ordering::Relaxed);
        }
        if self.busy.load(Ordering::Acquire) == 0 {
            self.got_bytes.store(true, Ordering::Relaxed);
            if self.head_since.load(Ordering::Relaxed) == NONE {
                self.head_since.store(now, Ordering::Relaxed);
            }
        }
    }

    /// A request begins; returns its number.
    fn begin(&self) -> u64 {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.body_due.store(NONE, Ordering::Relaxed);
        self.responded.store(false, Ordering::Relaxed);
        let n = self.request.fetch_add(1, Ordering::Relaxed) + 1;
        self.head_since.store(NONE, Ordering::Relaxed);
        n
    }

    fn end(&self) {
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now_ms(), Ordering::Relaxed);
            // Bytes still in hyper's buffer begin the next request: its head is held to the
            // header timeout from when they came, not given the idle timeout.
            let buffered = self.buffered_since.load(Ordering::Relaxed);
            self.head_since.store(buffered, Ordering::Relaxed);
            self.got_bytes.store(buffered != NONE, Ordering::Relaxed);
        }
    }

    /// Request `n`'s handler waits for body bytes that have not come, and may wait until
    /// `due` (ms since `start`); `None`: it does not wait (any more).
    fn body_wait(&self, n: u64, due: Option<u64>) {
        if self.request.load(Ordering::Relaxed) == n {
            self.body_due.store(due.unwrap_or(NONE), Ordering::Relaxed);
        }
    }

    /// When the connection times out, as things stand: a request head under way gets the
    /// header timeout, a handler waiting for body bytes what is left of the body timeout,
    /// an idle connection the idle timeout, a request being answered otherwise none.
    fn deadline(&self, door: &FrontDoor) -> Option<Instant> {
        let at = |ms: u64, t: Option<Duration>| {
            t.filter(|t| !t.is_zero())
                .map(|t| self.start + Duration::from_millis(ms) + t)
        };
        if self.busy.load(Ordering::Acquire) > 0 {
            return match self.body_due.load(Ordering::Relaxed) {
                NONE => None,
                due => Some(self.start + Duration::from_millis(due)),
            };
        }
        match self.head_since.load(Ordering::Relaxed) {
            NONE => at(self.idle_since.load(Ordering::Relaxed), door.idle_timeout),
            since => at(since, door.header_timeout),
        }
    }
}

/// A request being answered; ends when its response body is done (or dropped).
struct Busy(Arc<ConnState>);

impl Busy {
    /// A request begins: the guard, and the request's number.
    fn begin(state: &Arc<ConnState>) -> (Busy, u64) {
        let n = state.begin();
        (Busy(state.clone()), n)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The socket of one connection: reads mark the connection's state; it holds the
/// connection's place under the caps for as long as it lives (after an upgrade too).
struct DoorIo {
    tcp: TcpStream,
    state: Arc<ConnState>,
    held: Held,
}

impl AsyncRead for DoorIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        this.state.on_read_call();
        let r = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.on_read();
        }
        r
    }
}

impl AsyncWrite for DoorIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// Request `request`'s body, which keeps the time its handler spends waiting for bytes
/// that have not come (from a poll that found none to the poll that gets some), added up
/// over the body, and tells the connection when that will reach the body timeout. The
/// handler's own time (before it reads, between reads) does not count; a trickled body's
/// waits add up.
struct Watched<B> {
    body: B,
    state: Arc<ConnState>,
    request: u64,
    /// What the body may still keep its handler waiting, in ms (`None`: no limit).
    left: Option<u64>,
    /// Since when (ms since the connection's start) the handler waits, if it does.
    waiting: Option<u64>,
}

impl<B> Watched<B> {
    fn new(body: B, state: &Arc<ConnState>, request: u64, limit: Option<Duration>) -> Watched<B> {
        Watched {
            body,
            state: state.clone(),
            request,
            left: limit.filter(|t| !t.is_zero()).map(|t| t.as_millis() as u64),
            waiting: None,
        }
    }

    /// The handler stopped waiting (bytes came, the body ended or failed, or was dropped).
    fn stop_waiting(&mut self) {
        if let Some(since) = self.waiting.take() {
            let waited = self.state.now_ms().saturating_sub(since);
            self.left = self.left.map(|l| l.saturating_sub(waited));
            self.state.body_wait(self.request, None);
        }
    }
}

impl<B> Drop for Watched<B> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

impl<B: HttpBody + Unpin> HttpBody for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.body).poll_frame(cx);
        if r.is_ready() {
            this.stop_waiting();
        } else if this.waiting.is_none() {
            if let Some(left) = this.left {
                let now = this.state.now_ms();
                this.waiting = Some(now);
                this.state.body_wait(this.request, Some(now + left));
            }
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A response body that ends its request (for the connection's timers) when it is done.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

enum Outcome {
    Done(Result<(), hyper::Error>),
    TimedOut,
}

/// Serve one accepted connection: hyper's HTTP/1 with upgrades, under the front door's
/// timers and the shutdown signal.
async fn connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    held: Held,
    mut stop: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState::new());
    let io = DoorIo {
        tcp,
        state: state.clone(),
        held,
    };
    let service = {
        let (shared, state) = (shared.clone(), state.clone());
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (busy, n) = Busy::begin(&state);
            let limit = shared.door.body_timeout;
            let req = req.map(|body| Watched::new(body, &state, n, limit));
            let (shared, state) = (shared.clone(), state.clone());
            async move {
                let res = respond(&shared, req, peer).await;
                if state.request.load(Ordering::Relaxed) == n {
                    state.responded.store(true, Ordering::Relaxed);
                }
                Ok::<_, Infallible>(res.map(|body| Tracked { body, _busy: busy }))
            }
        })
    };
    let mut conn = shared
        .http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(86_400)));
    let mut armed: Option<Instant> = None;
    let mut stopping = std::pin::pin!(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let mut draining = false;
    let outcome = std::future::poll_fn(|cx| {
        if !draining && stopping.as_mut().poll(cx).is_ready() {
            draining = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        if let Poll::Ready(r) = Pin::new(&mut conn).poll(cx) {
            return Poll::Ready(Outcome::Done(r));
        }
        // Every change of state happens inside `conn.poll` (this task reads the socket,
        // runs the service and writes the bodies): the deadline is current here.
        let Some(at) = state.deadline(&shared.door) else {
            return Poll::Pending;
        };
        if armed != Some(at) {
            timer.as_mut().reset(at.into());
            armed = Some(at);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Outcome::TimedOut),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    match outcome {
        Outcome::Done(Ok(())) => {}
        Outcome::Done(Err(e)) => tracing::debug!(%peer, error = %e, "HTTP connection failed"),
        Outcome::TimedOut => {
            // A request being answered times out only waiting for its body: 408, unless
            // its response has begun (then the connection is closed, as it stands).
            let busy = state.busy.load(Ordering::Acquire) > 0;
            let responded = state.responded.load(Ordering::Relaxed);
            let Some(parts) = conn.into_parts() else {
                return;
            };
            let DoorIo { tcp, held, .. } = parts.io.into_inner();
            let partial = state.got_bytes.load(Ordering::Relaxed) || !parts.read_buf.is_empty();
            let body_late = busy && !responded;
            if busy && responded {
                tracing::debug!(%peer, "closing: request body not received in time, response begun");
            } else if body_late || partial {
                let what = if body_late { "body" } else { "headers" };
                tracing::debug!(%peer, "closing: request {what} not received in time (408)");
                let _held = held;
                answer_and_close(
                    tcp,
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            } else {
                tracing::trace!(%peer, "closing an idle connection");
            }
        }
    }
}

/// Answer one request: 413 when it declares a body over the limit, else the router's answer
/// (with the body capped, and the peer's address in `ConnectInfo`).
async fn respond(
    shared: &Shared,
    req: Request<Watched<Incoming>>,
    peer: SocketAddr,
) -> Response<Body> {
    let max = shared.door.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        let mut res = Response::new(Body::from(format!(
            "the request body is over the limit of {max} bytes\n"
        )));
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return res;
    }
    let mut req = req.map(|b| Body::new(http_body_util::Limited::new(b, max)));
    req.extensions_mut().insert(ConnectInfo(peer));
    let mut router = shared.router.clone();
    match tower_service::Service::call(&mut router, req).await {
        Ok(res) => res,
        Err(e) => match e {},
    }
}

//! One connection, either side: reads frames, classifies them (protocol generation and
//! codec), runs incoming calls concurrently, matches replies to outgoing calls, and
//! delivers callbacks. The server and the client both run this engine; only the socket
//! adapters differ.

use super::api::{not_found, Api, Call};
use super::error::{codes, RpcError};
use super::message::{self, Arg, LegacyErrors, Msg, Op, Protocol};
use crate::codec::{Codec, FrameKind, Json};
use crate::value::de::from_value_ref;
use crate::{to_value, Limits, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// A WebSocket frame, independent of the WebSocket library.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    Close(u16, String),
}

/// A function of ours that the peer may call (a callback we passed as an argument).
pub type LocalCallback = Arc<dyn Fn(Vec<Value>) + Send + Sync>;

/// One argument of an outgoing call: a value, or a Rust closure the peer can call back.
#[derive(Clone)]
pub enum CallArg {
    /// A value.
    Value(Value),
    /// A function the peer receives as a callable stub.
    Callback(LocalCallback),
}

impl<T: Into<Value>> From<T> for CallArg {
    fn from(v: T) -> CallArg {
        CallArg::Value(v.into())
    }
}

impl CallArg {
    /// A callback from a closure.
    pub fn callback(f: impl Fn(Vec<Value>) + Send + Sync + 'static) -> CallArg {
        CallArg::Callback(Arc::new(f))
    }
}

/// Settings of one connection.
#[derive(Clone)]
pub(crate) struct Options {
    pub limits: Limits,
    pub legacy_errors: LegacyErrors,
    pub call_timeout: Duration,
    pub rate: Option<RateLimit>,
    pub on_message: Option<OnMessage>,
}

/// A hook that sees every raw message (text or binary) before it is handled.
pub type OnMessage = Arc<dyn Fn(&Peer, &[u8]) + Send + Sync>;

/// The codecs a connection without a negotiated one may find in what the peer sends: the
/// route's allowed plain JSON and superjson, with the endpoint's limits (`None`: not allowed).
#[derive(Clone, Default)]
pub(crate) struct Detect {
    pub(crate) json: Option<Arc<dyn Codec>>,
    pub(crate) superjson: Option<Arc<dyn Codec>>,
}

impl Detect {
    /// Whether any is allowed.
    pub(crate) fn any(&self) -> bool {
        self.json.is_some() || self.superjson.is_some()
    }
}

/// A close decided outside the writer: the close frame, and whether what is already queued
/// goes out before it.
#[derive(Clone)]
pub(crate) struct Closing {
    code: u16,
    reason: String,
    /// Send the frames already queued first (a disconnect, a rate-limit close: replies to
    /// calls that ran, a last push). Not for a peer that does not read (the queue is what it
    /// did not read), one that stopped answering, or one that closed first.
    after_queued: bool,
}

/// Per-connection rate limit: a token bucket refilled at `per_second`, holding at most
/// `burst` tokens. A request without a token gets a `RateLimitedError` reply, except the
/// `close_after`-th in a row: that one closes the connection with 1008 (after the replies
/// already queued). So `close_after` 20 answers 19 refusals and closes at the 20th; 0 and
/// 1 close at the first. Only requests are counted (not callbacks, replies or frames that
/// are no kkrpc message).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: u32,
    /// The over-limit request, counted in a row, that closes the connection (1008).
    pub close_after: u32,
}

struct Bucket {
    tokens: f64,
    last: std::time::Instant,
    strikes: u32,
}

/// Who is on the other end, as the connection was opened.
#[derive(Clone, Debug, Default)]
pub struct ConnInfo {
    /// The request path (`/chat/lobby`).
    pub path: String,
    /// The query parameters.
    pub query: Vec<(String, String)>,
    /// What the auth hook returned, if any.
    pub identity: Option<Identity>,
}

/// What an auth hook says about a connection: a user id (for per-user sends and presence)
/// and any data the handlers want.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    /// The user this connection belongs to.
    pub user: String,
    /// Anything else (roles, claims).
    pub data: Value,
}

struct Wire {
    codec: Arc<dyn Codec>,
    negotiated: bool,
    protocol: Option<Protocol>,
}

pub(crate) struct Shared {
    id: u64,
    api: Arc<Api>,
    out: mpsc::Sender<Frame>,
    wire: Mutex<Wire>,
    pending: Mutex<HashMap<String, oneshot::Sender<Result<Value, RpcError>>>>,
    callbacks: Mutex<HashMap<String, LocalCallback>>,
    /// The live stubs of the peer's functions, by id: a function passed again (or twice in
    /// one call) gets the same stub, so that `cbr` goes out once its last clone is dropped
    /// (with a stub per call, the first one dropped released a function another still
    /// used, and the peer ignored its later calls).
    stubs: Mutex<HashMap<String, Weak<CallbackInner>>>,
    next: AtomicU64,
    closed: AtomicBool,
    inflight: Arc<Semaphore>,
    opts: Options,
    detect: Detect,
    info: ConnInfo,
    bucket: Mutex<Bucket>,
    /// Set when the connection must be closed from outside the writer (slow reader, rate
    /// abuse, heartbeat timeout, shutdown); the writer then sends this close frame.
    pub(crate) kill: tokio::sync::watch::Sender<Option<Closing>>,
    /// Pushes sent before the peer revealed its protocol. They go out at once in the legacy
    /// form (what kkrpc 0.x, the version npm serves, reads; 2.x drops it silently) and are
    /// kept here: if the peer's first message is compact, they are sent again in that form.
    held: Mutex<std::collections::VecDeque<(String, Vec<Value>)>>,
    /// Milliseconds (since the connection opened) of the last frame from the peer.
    pub(crate) last_seen: AtomicU64,
    pub(crate) opened: std::time::Instant,
}

/// The other end of a connection: call its API, see which codec and protocol it speaks.
///
/// Cheap to clone. Methods get one through [`Call::peer`]; a [`Client`](super::Client)
/// derefs to one.
#[derive(Clone)]
pub struct Peer(pub(crate) Arc<Shared>);

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Peer(#{}, {})", self.id(), self.codec())
    }
}

/// A function the peer passed us: calling it sends a callback frame. Dropping the last
/// clone tells a compact-protocol peer it may release the function (`cbr`).
#[derive(Clone)]
pub struct Callback(Arc<CallbackInner>);

struct CallbackInner {
    id: String,
    peer: Weak<Shared>,
    protocol: Protocol,
    codec: Arc<dyn Codec>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callback({})", self.0.id)
    }
}

impl Callback {
    /// Call the peer's function with these arguments. Fire and forget: kkrpc callbacks
    /// never reply. Fails only when the connection is gone.
    pub async fn invoke(&self, args: Vec<Value>) -> Result<(), RpcError> {
        let peer = self.0.peer.upgrade().ok_or_else(closed_error)?;
        let msg = Msg::Callback {
            id: self.0.id.clone(),
            args,
        };
        let frame = encode(
            msg,
            self.0.protocol,
            &*self.0.codec,
            peer.opts.legacy_errors,
        )?;
        peer.send(frame).await
    }

    /// The peer's id for this function.
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

impl Drop for CallbackInner {
    fn drop(&mut self) {
        let Some(peer) = self.peer.upgrade() else {
            return;
        };
        if let Ok(mut stubs) = peer.stubs.lock() {
            // Unless a new stub for the id was made meanwhile.
            if stubs.get(&self.id).is_some_and(|w| w.strong_count() == 0) {
                stubs.remove(&self.id);
            }
        }
        if self.protocol != Protocol::Compact {
            return;
        }
        let msg = Msg::Release {
            ids: vec![self.id.clone()],
        };
        if let Ok(frame) = encode(msg, self.protocol, &*self.codec, peer.opts.legacy_errors) {
            // Best effort, as in kkrpc: a full queue drops the release.
            let _ = peer.out.try_send(frame);
        }
    }
}

/// The writer's next frame while the close `waiting` waits for the queue: the close frame
/// of a close that goes first if one replaced it, else a queued frame, else (the queue is
/// empty) its own close frame. `None` once a close frame is given.
fn next_while_closing(
    kill: &tokio::sync::watch::Receiver<Option<Closing>>,
    out: &mut mpsc::Receiver<Frame>,
    waiting: &mut Option<Closing>,
) -> Frame {
    let forced = kill.borrow().as_ref().is_some_and(|k| !k.after_queued);
    let close = |k: Closing| Frame::Close(k.code, k.reason);
    if forced {
        waiting.take();
        return kill
            .borrow()
            .clone()
            .map_or(Frame::Close(1000, String::new()), close);
    }
    match out.try_recv() {
        Ok(f) => f,
        Err(_) => waiting
            .take()
            .map_or(Frame::Close(1000, String::new()), close),
    }
}

/// Resolves once a close is decided on `rx` (a receiver kept for a whole loop: one per
/// wait was a subscription per frame); returns it.
async fn closed(rx: &mut tokio::sync::watch::Receiver<Option<Closing>>) -> Closing {
    loop {
        if let Some(k) = rx.borrow_and_update().clone() {
            return k;
        }
        if rx.changed().await.is_err() {
            return Closing {
                code: 1000,
                reason: String::new(),
                after_queued: false,
            };
        }
    }
}

pub(crate) fn closed_error() -> RpcError {
    RpcError::new(codes::CLOSED, "the connection is closed")
}

fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::value::number::format(*n),
        other => format!("{other:?}"),
    }
}

static NEXT_PUSH: AtomicU64 = AtomicU64::new(1);

/// A push: a call whose reply nobody waits for (its id starts with `push-`).
pub(crate) fn push_frame(
    method: &str,
    args: Vec<Value>,
    protocol: Protocol,
    codec: &dyn Codec,
    errors: LegacyErrors,
) -> Result<Frame, RpcError> {
    let msg = Msg::Request {
        id: Value::String(format!(
            "push-{}",
            NEXT_PUSH.fetch_add(1, Ordering::Relaxed)
        )),
        op: Op::Call,
        path: method.split('.').map(str::to_owned).collect(),
        args: args.into_iter().map(Arg::Value).collect(),
        value: Value::Undefined,
    };
    encode(msg, protocol, codec, errors)
}

/// Encode a message as a frame of the codec's kind (legacy text ends with a newline).
fn encode(
    msg: Msg,
    protocol: Protocol,
    codec: &dyn Codec,
    errors: LegacyErrors,
) -> Result<Frame, RpcError> {
    let version = if codec.name() == "superjson" {
        "superjson"
    } else {
        "json"
    };
    let doc = message::write(msg, protocol, version, errors);
    let bytes = codec
        .encode_value(&doc)
        .map_err(|e| RpcError::new("EncodeError", format!("cannot encode the reply: {e}")))?;
    Ok(match codec.frame_kind() {
        FrameKind::Binary => Frame::Binary(bytes),
        FrameKind::Text => {
            let mut text = String::from_utf8(bytes)
                .map_err(|_| RpcError::new("EncodeError", "a text codec wrote invalid UTF-8"))?;
            if protocol == Protocol::Legacy {
                text.push('\n');
            }
            Frame::Text(text)
        }
    })
}

impl Shared {
    /// A connection. `codec` is the negotiated codec, or `None` to detect JSON or superjson
    /// (those of `detect`) from what the peer sends. Returns the receiver of outgoing frames
    /// for the writer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        api: Arc<Api>,
        codec: Option<Arc<dyn Codec>>,
        detect: Detect,
        protocol: Option<Protocol>,
        opts: Options,
        info: ConnInfo,
    ) -> (Arc<Shared>, mpsc::Receiver<Frame>) {
        // tokio refuses (panics on) more permits than `Semaphore::MAX_PERMITS`, which
        // `Limits::unlimited()` asks for.
        let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
        let (tx, rx) = mpsc::channel(permits(opts.limits.outbound_queue_len()));
        // Until the peer shows its codec, pushes go out in one it may detect.
        let first = codec
            .clone()
            .or_else(|| detect.json.clone())
            .or_else(|| detect.superjson.clone())
            .unwrap_or_else(|| Arc::new(Json::new().with_limits(opts.limits)));
        let negotiated = codec.is_some();
        let shared = Arc::new(Shared {
            id,
            api,
            out: tx,
            wire: Mutex::new(Wire {
                codec: first,
                negotiated,
                protocol,
            }),
            pending: Mutex::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            stubs: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            inflight: Arc::new(Semaphore::new(permits(opts.limits.pending_calls()))),
            bucket: Mutex::new(Bucket {
                tokens: opts.rate.map_or(0.0, |r| f64::from(r.burst)),
                last: std::time::Instant::now(),
                strikes: 0,
            }),
            opts,
            detect,
            info,
            kill: tokio::sync::watch::channel(None).0,
            held: Mutex::new(std::collections::VecDeque::new()),
            last_seen: AtomicU64::new(0),
            opened: std::time::Instant::now(),
        });
        (shared, rx)
    }

    /// Queue a reply or request for the writer, waiting while the queue is full (a peer that
    /// reads slowly holds up the calls it makes, not the server), until the connection is
    /// closed: a wait on a peer that stopped reading must not outlive it (the reader waited
    /// here forever, out of reach of the heartbeat, `disconnect` and shutdown).
    async fn send(&self, frame: Frame) -> Result<(), RpcError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        let frame = match self.out.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(closed_error()),
            Err(mpsc::error::TrySendError::Full(frame)) => frame,
        };
        tokio::select! {
            sent = self.out.send(frame) => sent.map_err(|_| closed_error()),
            _ = self.killed() => Err(closed_error()),
        }
    }

    fn wire(&self) -> (Arc<dyn Codec>, Protocol, bool) {
        let w = self.wire.lock().unwrap_or_else(|p| p.into_inner());
        (
            w.codec.clone(),
            w.protocol.unwrap_or(Protocol::Compact),
            w.negotiated,
        )
    }

    /// The writer task of a socket: sends queued frames through `sink`, converted by
    /// `to_message` into the WebSocket library's message type (`None`: nothing to send), and
    /// the close frame once the connection is killed; then closes the sink. Frames that are
    /// already queued go out together, with one flush.
    pub(crate) fn spawn_writer<M, S>(
        self: &Arc<Self>,
        mut out: mpsc::Receiver<Frame>,
        mut sink: S,
        to_message: fn(Frame) -> Option<M>,
    ) -> tokio::task::JoinHandle<()>
    where
        M: Send + 'static,
        S: futures_util::Sink<M> + Unpin + Send + 'static,
    {
        use futures_util::SinkExt;
        let mut kill = self.kill.subscribe();
        tokio::spawn(async move {
            // A close that waits for the frames queued before it was decided.
            let mut closing: Option<Closing> = None;
            loop {
                let frame = match closing {
                    Some(_) => next_while_closing(&kill, &mut out, &mut closing),
                    None => tokio::select! {
                        f = out.recv() => match f {
                            Some(f) => f,
                            None => break,
                        },
                        k = closed(&mut kill) => {
                            if k.after_queued {
                                closing = Some(k);
                                next_while_closing(&kill, &mut out, &mut closing)
                            } else {
                                Frame::Close(k.code, k.reason)
                            }
                        }
                    },
                };
                // Queue this frame and every frame already waiting, then flush once: one
                // write syscall for a burst of replies instead of one per reply.
                let mut next = Some(frame);
                let mut last = false;
                let mut failed = false;
                while let Some(frame) = next.take() {
                    last = matches!(frame, Frame::Close(..));
                    if let Some(msg) = to_message(frame) {
                        if sink.feed(msg).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                    // A pending kill goes back to the `select!` at once, as before batching:
                    // a slow reader must not be fed the whole queue before its close frame.
                    if !last {
                        next = match closing {
                            Some(_) => Some(next_while_closing(&kill, &mut out, &mut closing)),
                            None if kill.borrow().is_none() => out.try_recv().ok(),
                            None => None,
                        };
                    }
                }
                if failed || sink.flush().await.is_err() || last {
                    break;
                }
            }
            let _ = sink.close().await;
        })
    }

    /// Ping the peer every `interval`; close with 1001 once nothing (no frame, no pong) came
    /// for `timeout` after a ping, noticed at the next tick (so within `timeout` plus one
    /// `interval`). Both sides use this: the server to drop dead clients, the client to
    /// detect a dead server.
    pub(crate) fn spawn_heartbeat(
        self: &Arc<Self>,
        interval: Duration,
        timeout: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            // When the oldest ping not followed by any frame from the peer went out. The
            // peer is dead once that is older than `timeout` (measured from the ping: from
            // the last frame, a timeout shorter than the interval closed healthy peers).
            let mut unanswered: Option<Duration> = None;
            loop {
                tick.tick().await;
                let now = s.opened.elapsed();
                let seen = Duration::from_millis(s.last_seen.load(Ordering::Relaxed));
                if unanswered.is_some_and(|p| seen >= p) {
                    unanswered = None;
                }
                if unanswered.is_some_and(|p| now.saturating_sub(p) > timeout) {
                    tracing::info!(conn = s.id, "closing: the peer stopped answering");
                    s.kill(1001, "heartbeat timeout");
                    s.shutdown();
                    break;
                }
                // A full queue: no ping this time (a ping must not close the connection as a
                // slow consumer), but the clock runs as if one went out: a peer that stopped
                // reading keeps the queue full, and its silence must still end it.
                match s.out.try_send(Frame::Ping(Vec::new())) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {
                        // In whole milliseconds, as `last_seen` is kept.
                        unanswered.get_or_insert(Duration::from_millis(now.as_millis() as u64));
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
                if s.closed.load(Ordering::Acquire) {
                    break;
                }
            }
        })
    }

    /// Close the connection from outside: the writer sends `code` and `reason` and stops,
    /// dropping what is still queued.
    /// It replaces a close still waiting for the queue (a slow reader, the heartbeat: the
    /// queue will not drain).
    pub(crate) fn kill(&self, code: u16, reason: &str) {
        self.close_with(code, reason, false, true);
    }

    /// Close the connection from outside once the frames already queued have been sent.
    pub(crate) fn close_after_queued(&self, code: u16, reason: &str) {
        self.close_with(code, reason, true, false);
    }

    /// Close unless a close was already decided (the connection's loop ended).
    fn close_if_open(&self, code: u16, reason: &str) {
        self.close_with(code, reason, false, false);
    }

    /// The first close decided wins, except that `overrides` one still waiting for the
    /// queue.
    fn close_with(&self, code: u16, reason: &str, after_queued: bool, overrides: bool) {
        self.closed.store(true, Ordering::Release);
        self.kill.send_if_modified(|k| {
            let replace = match k {
                None => true,
                Some(old) => overrides && old.after_queued,
            };
            if replace {
                *k = Some(Closing {
                    code,
                    reason: reason.to_owned(),
                    after_queued,
                });
            }
            replace
        });
    }

    /// Resolves once the connection has been killed; returns the close to make. (Loops keep
    /// one receiver and call [`closed`].)
    pub(crate) async fn killed(&self) -> Closing {
        closed(&mut self.kill.subscribe()).await
    }

    /// Take a token for one request. `Err(close)` when over the limit; `close` says the
    /// abuse is repeated and the connection must go.
    fn take_token(&self) -> Result<(), bool> {
        let Some(rate) = self.opts.rate else {
            return Ok(());
        };
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let refill = now.duration_since(b.last).as_secs_f64() * rate.per_second;
        b.tokens = (b.tokens + refill).min(f64::from(rate.burst));
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.strikes = 0;
            Ok(())
        } else {
            b.strikes += 1;
            Err(b.strikes >= rate.close_after)
        }
    }

    /// Read frames until the peer goes away, then fail every pending call.
    pub(crate) async fn run(
        self: Arc<Self>,
        mut inbound: impl futures_util::Stream<Item = Frame> + Unpin,
    ) {
        use futures_util::StreamExt;
        let mut legacy_buf = String::new();
        let mut kill = self.kill.subscribe();
        loop {
            let frame = tokio::select! {
                f = inbound.next() => match f {
                    Some(f) => f,
                    None => break,
                },
                _ = closed(&mut kill) => break,
            };
            self.last_seen
                .store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
            if let Some(hook) = &self.opts.on_message {
                match &frame {
                    Frame::Text(t) => hook(&Peer(self.clone()), t.as_bytes()),
                    Frame::Binary(b) => hook(&Peer(self.clone()), b),
                    _ => {}
                }
            }
            match frame {
                Frame::Text(text) => self.on_text(text, &mut legacy_buf).await,
                Frame::Binary(bytes) => self.on_binary(bytes, &mut legacy_buf).await,
                Frame::Ping(_) | Frame::Pong => {}
                Frame::Close(..) => break,
            }
            if self.closed.load(Ordering::Acquire) {
                break;
            }
        }
        self.shutdown();
    }

    /// After the connection's loop ended (on either side): the writer sends its close
    /// frame and stops, while what the peer still sends is read and dropped up to its close
    /// frame (a socket closed with unread input is reset, and the peer then loses the
    /// replies it had not read: a client over the rate limit got no frame, not even its
    /// close code). After 2 s a writer still stuck on a peer that stopped reading is
    /// aborted, which drops the socket (only dropping its handle left the task, the socket
    /// and its buffers alive).
    pub(crate) async fn finish(
        self: Arc<Self>,
        mut writer: tokio::task::JoinHandle<()>,
        mut inbound: impl futures_util::Stream<Item = Frame> + Unpin,
    ) {
        use futures_util::StreamExt;
        self.close_if_open(1000, "");
        drop(self);
        let drain = async {
            while let Some(frame) = inbound.next().await {
                if matches!(frame, Frame::Close(..)) {
                    break;
                }
            }
        };
        let both = async { tokio::join!(&mut writer, drain) };
        if tokio::time::timeout(Duration::from_secs(2), both)
            .await
            .is_err()
        {
            writer.abort();
        }
    }

    /// Mark closed and fail every pending call at once.
    pub(crate) fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        let pending: Vec<_> = self
            .pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for (_, tx) in pending {
            let _ = tx.send(Err(closed_error()));
        }
        if let Ok(mut c) = self.callbacks.lock() {
            c.clear();
        }
    }

    async fn on_text(self: &Arc<Self>, text: String, legacy_buf: &mut String) {
        let (codec, protocol, negotiated) = self.wire();
        if negotiated && codec.frame_kind() == FrameKind::Binary {
            return self
                .protocol_error(
                    codes::WRONG_FRAME,
                    format!("a text frame on the binary codec {}", codec.name()),
                )
                .await;
        }
        if text.trim() == "__DESTROY__" {
            self.closed.store(true, Ordering::Release);
            let _ = self
                .out
                .send(Frame::Close(1000, "destroyed by peer".into()))
                .await;
            return;
        }
        let legacy = text.ends_with('\n')
            || !legacy_buf.is_empty()
            || (protocol == Protocol::Legacy
                && self
                    .wire
                    .lock()
                    .map(|w| w.protocol.is_some())
                    .unwrap_or(false));
        if !legacy {
            return self.on_doc(text.trim().as_bytes(), None).await;
        }
        if legacy_buf.len() + text.len() > self.opts.limits.message_bytes() {
            legacy_buf.clear();
            return self
                .protocol_error(
                    codes::TOO_LARGE,
                    "a legacy message grew past the size limit without a newline".into(),
                )
                .await;
        }
        // Without a newline the frame only adds to the unfinished line (what is buffered
        // never holds a newline): copying and rescanning the buffer for every frame made
        // 16 MB sent in 100-byte frames cost minutes of CPU.
        if !legacy_buf.is_empty() && !text.contains('\n') {
            legacy_buf.push_str(&text);
            return;
        }
        // Lines are read in place from the frame (or from what was buffered plus the frame);
        // only an unfinished tail is kept for the next frame.
        let joined;
        let mut rest = if legacy_buf.is_empty() {
            text.as_str()
        } else {
            legacy_buf.push_str(&text);
            joined = std::mem::take(legacy_buf);
            joined.as_str()
        };
        while let Some(pos) = rest.find('\n') {
            let line = rest[..pos].trim();
            rest = &rest[pos + 1..];
            if line.starts_with('{') {
                self.on_doc(line.as_bytes(), Some(Protocol::Legacy)).await;
            }
        }
        legacy_buf.push_str(rest);
    }

    async fn on_binary(self: &Arc<Self>, bytes: Vec<u8>, legacy_buf: &mut String) {
        let (codec, _, negotiated) = self.wire();
        if negotiated && codec.frame_kind() == FrameKind::Binary {
            return self.on_doc(&bytes, None).await;
        }
        if negotiated {
            return self
                .protocol_error(
                    codes::WRONG_FRAME,
                    format!("a binary frame on the text codec {}", codec.name()),
                )
                .await;
        }
        // Nothing negotiated: read JSON text sent in a binary frame, as kkrpc's node peers do.
        match String::from_utf8(bytes) {
            Ok(text) => self.on_text(text, legacy_buf).await,
            Err(_) => {
                self.protocol_error(
                    codes::WRONG_FRAME,
                    "a binary frame that is not UTF-8 text; offer a binary codec as a subprotocol"
                        .into(),
                )
                .await
            }
        }
    }

    /// An error about a frame that carries no usable id: sent with `id: null`.
    async fn protocol_error(&self, name: &str, message: String) {
        tracing::debug!(conn = self.id, %name, %message, "protocol error");
        let (codec, protocol, _) = self.wire();
        let msg = Msg::Response {
            id: Value::Null,
            result: Err(RpcError::new(name, message)),
        };
        if let Ok(frame) = encode(msg, protocol, &*codec, self.opts.legacy_errors) {
            let _ = self.send(frame).await;
        }
    }

    /// Answer a document that is no kkrpc message: under the request's id when it could be
    /// read (the caller's call fails at once instead of timing out), in the protocol its
    /// fields show.
    async fn invalid_message(&self, bad: message::Invalid) {
        tracing::debug!(conn = self.id, reason = %bad.reason, "invalid message");
        let (codec, wire_protocol, _) = self.wire();
        let msg = Msg::Response {
            id: bad.id,
            result: Err(RpcError::new(codes::PARSE, bad.reason)),
        };
        let protocol = bad.protocol.unwrap_or(wire_protocol);
        if let Ok(frame) = encode(msg, protocol, &*codec, self.opts.legacy_errors) {
            let _ = self.send(frame).await;
        }
    }

    async fn on_doc(self: &Arc<Self>, bytes: &[u8], hint: Option<Protocol>) {
        let (negotiated_codec, _, negotiated) = self.wire();
        let codec = if negotiated {
            negotiated_codec
        } else {
            let superjson = bytes.starts_with(b"{\"json\":");
            let found = if superjson {
                &self.detect.superjson
            } else {
                &self.detect.json
            };
            match found {
                Some(c) => c.clone(),
                None => {
                    let what = if superjson { "superjson" } else { "plain JSON" };
                    return self
                        .protocol_error(
                            codes::PARSE,
                            format!("{what} is not allowed on this route"),
                        )
                        .await;
                }
            }
        };
        let doc = match codec.decode_value(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                return self
                    .protocol_error(codes::PARSE, format!("cannot decode the message: {e}"))
                    .await
            }
        };
        let (protocol, msg) = match message::parse(doc) {
            Ok(m) => m,
            Err(bad) => return self.invalid_message(bad).await,
        };
        if hint.is_some_and(|h| h != protocol) {
            tracing::debug!(conn = self.id, "a compact message with a trailing newline");
        }
        // Once the protocol is known (it never reverts), one lock per message.
        let known = {
            let mut w = self.wire.lock().unwrap_or_else(|p| p.into_inner());
            let known = w.protocol.is_some();
            if known {
                if !w.negotiated && !Arc::ptr_eq(&w.codec, &codec) {
                    // Answer in kind: server-initiated calls use what the peer last sent.
                    w.codec = codec.clone();
                }
                w.protocol = Some(protocol);
            }
            known
        };
        if known {
            return self.dispatch(msg, protocol, codec).await;
        }
        // The first message: the held pushes are re-sent and the protocol set under the
        // `held` lock, which `Peer::hold` checks the protocol under: a push either is held
        // and re-sent here, or sees the protocol and is queued after the re-sent ones (set
        // first, a concurrent broadcast that saw it overtook the held pushes).
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let wire_codec = {
                let mut w = self.wire.lock().unwrap_or_else(|p| p.into_inner());
                if !w.negotiated {
                    w.codec = codec.clone();
                }
                w.codec.clone()
            };
            let held = std::mem::take(&mut *held);
            // Legacy peers already got them; compact peers get them now, in their form
            // (encoded under the `held` lock only: `wire` is taken by every send).
            if protocol == Protocol::Compact {
                let peer = Peer(self.clone());
                let legacy = self.opts.legacy_errors;
                for (method, args) in held {
                    if let Ok(f) = push_frame(&method, args, protocol, &*wire_codec, legacy) {
                        let _ = peer.push_frame(f);
                    }
                }
            }
            self.wire.lock().unwrap_or_else(|p| p.into_inner()).protocol = Some(protocol);
        }
        self.dispatch(msg, protocol, codec).await;
    }

    async fn dispatch(self: &Arc<Self>, msg: Msg, protocol: Protocol, codec: Arc<dyn Codec>) {
        match msg {
            Msg::Request {
                id,
                op,
                path,
                args,
                value,
            } => {
                if let Err(close) = self.take_token() {
                    if close {
                        tracing::info!(conn = self.id, "closing: repeated rate limit abuse");
                        self.close_after_queued(1008, "rate limit exceeded");
                        return;
                    }
                    let msg = Msg::Response {
                        id,
                        result: Err(RpcError::new(
                            codes::RATE_LIMITED,
                            "too many requests; slow down",
                        )),
                    };
                    if let Ok(f) = encode(msg, protocol, &*codec, self.opts.legacy_errors) {
                        let _ = self.send(f).await;
                    }
                    return;
                }
                let Ok(permit) = self.inflight.clone().try_acquire_owned() else {
                    let msg = Msg::Response {
                        id,
                        result: Err(RpcError::new(
                            codes::TOO_MANY_CALLS,
                            format!(
                                "more than {} calls in flight",
                                self.opts.limits.pending_calls()
                            ),
                        )),
                    };
                    if let Ok(f) = encode(msg, protocol, &*codec, self.opts.legacy_errors) {
                        let _ = self.send(f).await;
                    }
                    return;
                };
                let me = self.clone();
                let call = async move {
                    use futures_util::FutureExt;
                    // A handler that panics gets an error reply; the connection lives on.
                    let invoked = me.invoke(op, path, args, value, protocol, codec.clone());
                    let result = std::panic::AssertUnwindSafe(invoked)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            tracing::error!(conn = me.id, ?id, "the handler panicked");
                            Err(RpcError::new(
                                codes::HANDLER_PANICKED,
                                "the handler panicked",
                            ))
                        });
                    let reply = Msg::Response {
                        id: id.clone(),
                        result,
                    };
                    let frame =
                        encode(reply, protocol, &*codec, me.opts.legacy_errors).or_else(|e| {
                            let reply = Msg::Response { id, result: Err(e) };
                            encode(reply, protocol, &*codec, me.opts.legacy_errors)
                        });
                    if let Ok(frame) = frame {
                        let _ = me.send(frame).await;
                    }
                    drop(permit);
                };
                // A call that finishes without waiting (most handlers) is answered here, as
                // the connection reads; one that waits goes on in a task of its own, so the
                // connection keeps reading (a callback's reply, the next call).
                let mut call = Box::pin(call);
                let waiting = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(
                        std::future::Future::poll(call.as_mut(), cx).is_pending(),
                    )
                })
                .await;
                if waiting {
                    tokio::spawn(call);
                }
            }
            Msg::Response { id, result } => {
                let tx = self
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&id_key(&id)));
                match tx {
                    Some(tx) => {
                        let _ = tx.send(result);
                    }
                    None => tracing::debug!(conn = self.id, ?id, "reply for an unknown call"),
                }
            }
            Msg::Callback { id, args } => {
                let f = self.callbacks.lock().ok().and_then(|c| c.get(&id).cloned());
                if let Some(f) = f {
                    // A panicking callback must not unwind out of the connection's task (the
                    // peer would stay in the hub and pending calls would wait for timeouts).
                    let run = std::panic::AssertUnwindSafe(|| f(args));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::warn!(conn = self.id, ?id, "a local callback panicked");
                    }
                }
            }
            Msg::Release { ids } => {
                if let Ok(mut c) = self.callbacks.lock() {
                    for id in ids {
                        c.remove(&id);
                    }
                }
            }
        }
    }

    /// The stub of the peer's function `id`: the live one if there is one.
    fn stub(self: &Arc<Self>, id: String, protocol: Protocol, codec: &Arc<dyn Codec>) -> Callback {
        let mut stubs = self.stubs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(inner) = stubs.get(&id).and_then(Weak::upgrade) {
            return Callback(inner);
        }
        let inner = Arc::new(CallbackInner {
            id: id.clone(),
            peer: Arc::downgrade(self),
            protocol,
            codec: codec.clone(),
        });
        stubs.insert(id, Arc::downgrade(&inner));
        Callback(inner)
    }

    async fn invoke(
        self: &Arc<Self>,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
        protocol: Protocol,
        codec: Arc<dyn Codec>,
    ) -> Result<Value, RpcError> {
        let dotted = path.join(".");
        match op {
            Op::Ref => Err(RpcError::new(
                "Error",
                "Remote reference operations require kkrpc/remote-refs",
            )),
            Op::Get => self.api.get(&dotted),
            Op::Set => self.api.set(&dotted, value),
            Op::Call | Op::New => {
                let method = self
                    .api
                    .method_at(&dotted)
                    .ok_or_else(|| not_found(&dotted, "method"))?;
                let mut values = Vec::with_capacity(args.len());
                let mut callbacks = Vec::with_capacity(args.len());
                for a in args {
                    match a {
                        Arg::Value(v) => {
                            values.push(v);
                            callbacks.push(None);
                        }
                        Arg::Callback(id) => {
                            values.push(Value::Undefined);
                            callbacks.push(Some(self.stub(id, protocol, &codec)));
                        }
                    }
                }
                let call = Call {
                    args: values,
                    callbacks,
                    peer: Peer(self.clone()),
                    path: dotted,
                };
                method(call).await
            }
        }
    }
}

impl Peer {
    /// This connection's id (unique within the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The name of the codec this connection speaks (negotiated, or detected from the
    /// peer's last message).
    pub fn codec(&self) -> String {
        self.0.wire().0.name().to_owned()
    }

    /// The protocol generation the peer speaks, once it has sent something (or was set).
    pub fn protocol(&self) -> Option<Protocol> {
        self.0
            .wire
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .protocol
    }

    /// The path, query and identity the connection was opened with.
    pub fn info(&self) -> &ConnInfo {
        &self.0.info
    }

    /// The user the auth hook named, if any.
    pub fn user(&self) -> Option<&str> {
        self.0.info.identity.as_ref().map(|i| i.user.as_str())
    }

    /// A query parameter of the connection's URL.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.0
            .info
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Close this connection with a WebSocket close code and reason. What was already
    /// queued for the peer (replies, a last push) is sent before the close frame; pushes
    /// after this call are refused (one racing with it on another thread may still go
    /// first). A peer that stops reading meanwhile is cut off within 2 s.
    pub fn disconnect(&self, code: u16, reason: &str) {
        self.0.close_after_queued(code, reason);
    }

    /// Call the peer's method without waiting for (or expecting) a reply: the push a server
    /// sends to a client. Never blocks: when the peer's outbound queue is full, the peer is
    /// too slow and is disconnected with 1008 instead of being buffered for without bound.
    pub fn push(&self, method: &str, args: Vec<Value>) -> Result<(), RpcError> {
        if self.hold(method, &args)? {
            return Ok(());
        }
        let (codec, protocol, _) = self.0.wire();
        let frame = push_frame(method, args, protocol, &*codec, self.0.opts.legacy_errors)?;
        self.push_frame(frame)
    }

    /// A push to a peer that has not said which protocol it speaks: sent now in the legacy
    /// superjson form and kept in case the peer turns out to speak the compact protocol.
    /// Returns false when the protocol is known. Only the last pushes are kept, as many as
    /// the outbound queue holds: a peer that listens without speaking is no slow consumer
    /// (it was disconnected after that many pushes), and one that speaks compact after
    /// more pushes than that gets the last ones.
    pub(crate) fn hold(&self, method: &str, args: &[Value]) -> Result<bool, RpcError> {
        // Once known the protocol never changes: most pushes return here, without the
        // `held` lock. It is checked again under the lock, which the first message sets
        // it under.
        if self.protocol().is_some() {
            return Ok(false);
        }
        {
            let mut held = self.0.held.lock().unwrap_or_else(|p| p.into_inner());
            if self.protocol().is_some() {
                return Ok(false);
            }
            if held.len() >= self.0.opts.limits.outbound_queue_len() {
                held.pop_front();
            }
            held.push_back((method.to_owned(), args.to_vec()));
        }
        // In superjson, what a kkrpc 0.x peer sends by default, where the route allows it.
        let codec = match (&self.0.detect.superjson, &self.0.detect.json) {
            (Some(c), _) | (None, Some(c)) => c.clone(),
            (None, None) => self.0.wire().0,
        };
        let frame = push_frame(
            method,
            args.to_vec(),
            Protocol::Legacy,
            &*codec,
            self.0.opts.legacy_errors,
        )?;
        self.push_frame(frame)?;
        Ok(true)
    }

    pub(crate) fn push_frame(&self, frame: Frame) -> Result<(), RpcError> {
        if self.is_closed() {
            return Err(closed_error());
        }
        match self.0.out.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(conn = self.id(), "closing: the peer reads too slowly");
                self.0.kill(1008, "slow consumer: outbound queue full");
                Err(RpcError::new(
                    codes::CLOSED,
                    "the peer reads too slowly and was disconnected",
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(closed_error()),
        }
    }

    /// The codec and protocol messages to this peer are written in (for encoding a push
    /// once per codec).
    pub(crate) fn encoding(&self) -> (Arc<dyn Codec>, Protocol) {
        let (c, p, _) = self.0.wire();
        (c, p)
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }

    /// Call the peer's method at `path` with `args` and typed result `R`.
    /// `args` is a tuple (or anything that serializes as an array); `()` means none.
    pub async fn call<R: DeserializeOwned, A: Serialize>(
        &self,
        path: &str,
        args: A,
    ) -> Result<R, RpcError> {
        let timeout = self.0.opts.call_timeout;
        self.call_with_timeout(path, args, timeout).await
    }

    /// [`Peer::call`] with its own timeout.
    pub async fn call_with_timeout<R: DeserializeOwned, A: Serialize>(
        &self,
        path: &str,
        args: A,
        timeout: Duration,
    ) -> Result<R, RpcError> {
        let args = match to_value(&args)? {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let v = self
            .call_args(
                path,
                args.into_iter().map(CallArg::Value).collect(),
                timeout,
            )
            .await?;
        from_value_ref(&v).map_err(|e| {
            RpcError::new(
                codes::BAD_ARGUMENTS,
                format!("unexpected result from {path}: {e}"),
            )
        })
    }

    /// Call with explicit arguments (values and callbacks) and a timeout; the result is a
    /// [`Value`].
    pub async fn call_args(
        &self,
        path: &str,
        args: Vec<CallArg>,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        self.request(Op::Call, path, args, Value::Undefined, timeout)
            .await
    }

    /// Read the peer's property at `path` (kkrpc `get`).
    pub async fn get(&self, path: &str) -> Result<Value, RpcError> {
        self.request(
            Op::Get,
            path,
            Vec::new(),
            Value::Undefined,
            self.0.opts.call_timeout,
        )
        .await
    }

    /// Write the peer's property at `path` (kkrpc `set`).
    pub async fn set(&self, path: &str, value: Value) -> Result<(), RpcError> {
        self.request(Op::Set, path, Vec::new(), value, self.0.opts.call_timeout)
            .await
            .map(|_| ())
    }

    async fn request(
        &self,
        op: Op,
        path: &str,
        args: Vec<CallArg>,
        value: Value,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let s = &self.0;
        if s.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        let n = s.next.fetch_add(1, Ordering::Relaxed);
        let mut wire_args = Vec::with_capacity(args.len());
        let mut callbacks = Vec::new();
        for a in args {
            match a {
                CallArg::Value(v) => wire_args.push(Arg::Value(v)),
                CallArg::Callback(f) => {
                    let cb_id = format!("{}-cb-{}", s.id, s.next.fetch_add(1, Ordering::Relaxed));
                    if let Ok(mut c) = s.callbacks.lock() {
                        c.insert(cb_id.clone(), f);
                    }
                    callbacks.push(cb_id.clone());
                    wire_args.push(Arg::Callback(cb_id));
                }
            }
        }
        // Forgets the call however this future ends (answered, timed out, failed to send,
        // or dropped by the caller, e.g. in a `select!`); the callbacks passed with it too,
        // unless the peer answered (it may still call them then).
        let mut guard = PendingCall {
            shared: s,
            id: format!("{}-{n}", s.id),
            callbacks,
            answered: false,
        };
        let (codec, protocol, _) = s.wire();
        let msg = Msg::Request {
            id: Value::String(guard.id.clone()),
            op,
            path: path.split('.').map(str::to_owned).collect(),
            args: wire_args,
            value,
        };
        let frame = encode(msg, protocol, &*codec, s.opts.legacy_errors)?;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = s.pending.lock() {
            p.insert(guard.id.clone(), tx);
        }
        s.send(frame).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => {
                guard.answered = true;
                result
            }
            Ok(Err(_)) => Err(closed_error()),
            Err(_) => Err(RpcError::new(
                codes::TIMEOUT,
                format!(
                    "RPC request {} timed out after {}ms",
                    guard.id,
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// Close the connection (normal closure).
    pub async fn close(&self) {
        let _ = self.0.out.send(Frame::Close(1000, String::new())).await;
        self.0.shutdown();
    }
}

/// An outgoing call in flight (see [`Peer::request`]).
struct PendingCall<'a> {
    shared: &'a Shared,
    id: String,
    callbacks: Vec<String>,
    answered: bool,
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        // Answered: the reader took the entry out, and the peer may still call back.
        if self.answered {
            return;
        }
        if let Ok(mut p) = self.shared.pending.lock() {
            p.remove(&self.id);
        }
        if !self.callbacks.is_empty() {
            if let Ok(mut c) = self.shared.callbacks.lock() {
                for id in &self.callbacks {
                    c.remove(id);
                }
            }
        }
    }
}

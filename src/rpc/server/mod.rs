//! Serving an [`Api`] over WebSocket from axum: the endpoint ([`RpcServer`]), its
//! [`builder`], the upgrade's [`negotiate`]ion and [`auth`].

mod auth;
mod builder;
mod negotiate;

pub(crate) use auth::percent_decode_path;
pub use auth::{AuthError, AuthRequest, Authenticate};
pub use builder::RpcServerBuilder;

use super::api::Api;
use super::conn::{heartbeat, ConnConfig, ConnInfo, Connection};
use super::front_door::{handshake_watch, Admission, Gate};
use super::hub::Hub;
use super::inbound::{finish, OnMessage, Session};
use super::peer::Peer;
use super::protocol::kkrpc::{Detection, Kkrpc, LegacyErrors, Protocol};
use super::protocol::Active;
use super::transport;
use super::trpc::ws::Trpc;
use crate::codec::Codec;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Extension};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A hook that sees each new connection.
pub type OnConnect = Arc<dyn Fn(Peer) + Send + Sync>;

/// A hook that sees each closed connection, before it leaves its rooms.
pub type OnClose = Arc<dyn Fn(Peer, &Hub) + Send + Sync>;

/// A hook that sees each connection when a drain begins.
pub type OnDrain = Arc<dyn Fn(Peer) + Send + Sync>;

/// Server pings: every `interval` a ping goes out; a peer that sends nothing (no pong, no
/// message) for `timeout` after a ping is closed with 1001 (noticed at the next ping's
/// time). Either may be the longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between pings.
    pub interval: Duration,
    /// Silence after an unanswered ping after which the peer is considered dead.
    pub timeout: Duration,
}

/// An RPC endpoint: the API, the codecs a route allows, limits and timeouts.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use polycodec::rpc::{Api, RpcServer, RpcError};
/// # async fn run() {
/// let api = Api::builder()
///     .typed("greet", |(name,): (String,)| async move { Ok::<_, RpcError>(format!("Hello, {name}!")) })
///     .build()
///     .unwrap();
/// let rpc = RpcServer::builder(api).codecs(["msgpack", "superjson", "json"]).build().unwrap();
/// let app: Router = Router::new().route("/rpc", get(rpc.handler()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct RpcServer(Arc<Inner>);

struct Inner {
    api: Arc<Api>,
    allowed: Vec<Arc<dyn Codec>>,
    detect: Detection,
    default_codec: Option<Arc<dyn Codec>>,
    config: ConnConfig,
    legacy_errors: LegacyErrors,
    on_message: Option<OnMessage>,
    on_connect: Option<OnConnect>,
    on_close: Option<OnClose>,
    authenticate: Option<Authenticate>,
    heartbeat: Option<Heartbeat>,
    hub: Hub,
    buffers: (usize, usize),
    /// Which upgrades may happen (the front door's caps), and the handshake timeout.
    gate: Gate,
    on_drain: Option<OnDrain>,
    trpc: Option<crate::rpc::trpc::Router>,
}

/// Which protocol a new connection speaks, as far as the upgrade tells.
pub(crate) enum Speaks {
    /// kkrpc (a codec was negotiated, or the route has no tRPC router).
    Kkrpc,
    /// tRPC (the `trpc` subprotocol, or `?connectionParams=1`).
    Trpc { params: bool },
    /// Told by the first frame.
    Either,
}

impl RpcServer {
    /// The live connections of this endpoint.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// Immediate shutdown: every connection is closed with 1001 ("going away"); calls the
    /// server made to clients fail at once with [`Error::Closed`](super::Error::Closed),
    /// and clients see their pending calls fail the same way; tRPC clients get the
    /// `reconnect` notice first (they then reconnect, and resubscribe where they left off).
    /// New upgrades are still taken; [`RpcServer::drain`] is the graceful way.
    pub fn shutdown(&self) {
        for p in self.0.hub.peers() {
            if p.0.proto.trpc().is_some() {
                let _ = p.push("reconnect", Vec::new());
            }
        }
        self.0.hub.close_all(1001, "server shutting down");
    }

    /// The tRPC router of this endpoint, if it has one.
    pub fn trpc_router(&self) -> Option<&crate::rpc::trpc::Router> {
        self.0.trpc.as_ref()
    }

    /// The auth hook, as tRPC's HTTP side runs it.
    pub(crate) fn authenticate_hook(&self) -> Option<&Authenticate> {
        self.0.authenticate.as_ref()
    }

    /// Graceful shutdown: refuse new upgrades (503 with `Retry-After`) and new calls (a
    /// `ServerShuttingDownError` reply, [`codes::SHUTTING_DOWN`](super::codes::SHUTTING_DOWN)),
    /// send tRPC clients the `reconnect` notice, call the
    /// [`on_drain`](RpcServerBuilder::on_drain) hook with each connection, wait
    /// until the calls in flight are answered or `grace` has passed, then close every
    /// connection with 1001 ("going away") after the replies already queued. What it waits
    /// for and closes are the hub's connections (all the endpoints', when endpoints share a
    /// hub, as [`RpcServer::shutdown`] does).
    pub async fn drain(&self, grace: Duration) {
        let inner = &self.0;
        inner.gate.close();
        if let Some(flag) = &inner.config.draining {
            flag.store(true, Ordering::Release);
        }
        for peer in inner.hub.peers() {
            // tRPC clients move to another socket (of another node) on `reconnect`.
            if peer.0.proto.trpc().is_some() {
                let _ = peer.push("reconnect", Vec::new());
            }
            if let Some(hook) = &inner.on_drain {
                hook(peer);
            }
        }
        let until = tokio::time::Instant::now() + grace;
        loop {
            let busy: usize = inner
                .hub
                .peers()
                .iter()
                .map(|p| p.0.calls_in_flight())
                .sum();
            if busy == 0 {
                break;
            }
            if tokio::time::Instant::now() >= until {
                tracing::info!(
                    calls = busy,
                    "grace period over; closing with calls in flight"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        inner.hub.close_all(1001, "server shutting down");
    }

    /// An axum handler: `Router::new().route("/rpc", get(server.handler()))`. It reads the
    /// peer's address from `ConnectInfo<SocketAddr>` when the app is served with one
    /// ([`serve`](super::serve) always gives it) for the per-client limits.
    #[allow(clippy::type_complexity)]
    pub fn handler(
        &self,
    ) -> impl Fn(
        WebSocketUpgrade,
        HeaderMap,
        Uri,
        Option<Extension<ConnectInfo<SocketAddr>>>,
    ) -> Pin<Box<dyn Future<Output = Response> + Send>>
           + Clone
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |ws, headers, uri, peer: Option<Extension<ConnectInfo<SocketAddr>>>| {
            let me = me.clone();
            let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
            Box::pin(async move { me.upgrade_from(peer, ws, &headers, &uri) })
        }
    }

    /// The codecs this endpoint allows, in order of preference.
    pub fn allowed(&self) -> Vec<String> {
        self.0.allowed.iter().map(|c| c.name().to_owned()).collect()
    }

    /// The API this endpoint serves (its TypeScript types: [`Api::types`]).
    pub fn api(&self) -> &Api {
        &self.0.api
    }

    async fn serve_socket(
        self,
        socket: WebSocket,
        codec: Option<Arc<dyn Codec>>,
        info: ConnInfo,
        admission: Admission,
        speaks: Speaks,
        headers: HeaderMap,
    ) {
        let inner = &self.0;
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let generation = codec.as_ref().map(|_| Protocol::Compact);
        let kkrpc = Kkrpc::new(
            codec,
            inner.detect.clone(),
            generation,
            inner.config.limits,
            inner.legacy_errors,
        );
        let trpc = |params| {
            let router = inner.trpc.clone()?;
            let identity = info.identity.clone();
            Some(Trpc::new(router, headers.clone(), identity, params))
        };
        let proto = match speaks {
            Speaks::Kkrpc => Active::Kkrpc(kkrpc),
            Speaks::Trpc { params } => match trpc(params) {
                Some(t) => Active::Trpc(t),
                None => Active::Kkrpc(kkrpc),
            },
            Speaks::Either => match trpc(false) {
                Some(t) => Active::either(kkrpc, t),
                None => Active::Kkrpc(kkrpc),
            },
        };
        let (conn, out) = Connection::new(id, proto, inner.config.clone(), info);
        tracing::debug!(conn = id, path = %conn.info.path, "connected");
        inner.hub.add(Peer(conn.clone()));
        if let Some(hook) = &inner.on_connect {
            hook(Peer(conn.clone()));
        }
        let (sink, stream) = socket.split();
        let writer = conn.outbox.spawn_writer(out, sink, transport::axum::write);
        let heartbeat = inner
            .heartbeat
            .map(|hb| heartbeat::spawn(conn.clone(), hb.interval, hb.timeout));
        let heard = Arc::new(AtomicBool::new(false));
        let handshake = inner
            .gate
            .handshake_timeout()
            .map(|t| tokio::spawn(watch_handshake(conn.clone(), heard.clone(), t)));
        let killer = conn.clone();
        let inbound = stream.map(move |m| {
            heard.store(true, Ordering::Relaxed);
            transport::axum::read(m).unwrap_or_else(|e| {
                tracing::debug!(conn = id, error = %e.text, "socket error");
                if e.too_big {
                    killer.outbox.kill(1009, "message too big");
                }
                e.into_frame()
            })
        });
        let mut inbound = Box::pin(inbound);
        let session = Session::new(conn.clone(), inner.api.clone(), inner.on_message.clone());
        session.run(&mut inbound).await;
        if let Some(hook) = &inner.on_close {
            hook(Peer(conn.clone()), &inner.hub);
        }
        inner.hub.remove(id);
        if let Some(hb) = heartbeat {
            hb.abort();
        }
        if let Some(hs) = handshake {
            hs.abort();
        }
        finish(conn, writer, inbound).await;
        drop(admission);
        tracing::debug!(conn = id, "disconnected");
    }
}

/// The WebSocket handshake timeout of `conn` (see [`FrontDoor::handshake_timeout`]): a ping
/// at half time to a peer not `heard` from, and a close (1001) at `timeout` if it still
/// said nothing.
///
/// [`FrontDoor::handshake_timeout`]: super::FrontDoor::handshake_timeout
async fn watch_handshake(conn: Arc<Connection>, heard: Arc<AtomicBool>, timeout: Duration) {
    let ping = conn.clone();
    handshake_watch(
        timeout,
        || heard.load(Ordering::Relaxed),
        move || {
            let _ = ping.outbox.try_queue(transport::Frame::Ping(Vec::new()));
        },
        move || {
            tracing::debug!(
                conn = conn.id,
                "closing: no frame within the handshake timeout"
            );
            conn.outbox.kill(1001, "handshake timeout");
            conn.shutdown();
        },
    )
    .await;
}

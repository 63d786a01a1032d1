//! Serving an [`Api`] over WebSocket from axum, with per-connection codec negotiation.

use super::api::Api;
use super::hub::Hub;
use super::message::LegacyErrors;
use super::session::{
    ConnInfo, Detect, Frame, Identity, OnMessage, Options, Peer, RateLimit, Shared,
};
use crate::codec::{Codec, Registry};
use crate::Limits;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A hook that sees each new connection.
pub type OnConnect = Arc<dyn Fn(Peer) + Send + Sync>;

/// A hook that sees each closed connection, before it leaves its rooms.
pub type OnClose = Arc<dyn Fn(Peer, &Hub) + Send + Sync>;

/// Decides, from the HTTP request alone, whether a WebSocket upgrade may happen.
pub type Authenticate =
    Arc<dyn Fn(&AuthRequest<'_>) -> Result<Option<Identity>, AuthError> + Send + Sync>;

/// What an auth hook sees: the upgrade request, before any upgrade.
pub struct AuthRequest<'a> {
    /// The request headers (cookies, `Authorization`).
    pub headers: &'a HeaderMap,
    /// The request URI (path and query).
    pub uri: &'a Uri,
}

impl AuthRequest<'_> {
    /// A query parameter (`?token=...`).
    pub fn query(&self, name: &str) -> Option<String> {
        query_pairs(self.uri)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A cookie.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
    pub fn bearer(&self) -> Option<String> {
        let v = self.headers.get("authorization")?.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    }

    /// False when a browser opens the socket from a page of another origin: its `Origin`
    /// header names another host than the request's `Host`. Browsers send cookies with
    /// such upgrades (WebSocket has no CORS), so a credential in a cookie must only count
    /// when this holds. True without an `Origin` header (clients that are no browser).
    ///
    /// The host is the `Host` header, or the URI's authority (HTTP/2 has no `Host`); a
    /// default port (`:80`, `:443`) is ignored on both sides. A proxy that rewrites `Host`
    /// makes every browser upgrade look cross-origin: have it keep the client's `Host`.
    pub fn same_origin(&self) -> bool {
        let Some(origin) = self.headers.get("origin").and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let host = self
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .or_else(|| self.uri.authority().map(|a| a.as_str()));
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let plain = |h: &str| {
            let h = h.trim_end_matches('/');
            h.strip_suffix(":80")
                .or_else(|| h.strip_suffix(":443"))
                .unwrap_or(h)
                .to_ascii_lowercase()
        };
        host.is_some_and(|h| plain(h) == plain(origin_host))
    }
}

/// Why an upgrade was refused: 401 (who are you?) or 403 (not you).
#[derive(Debug, Clone)]
pub struct AuthError {
    status: StatusCode,
    message: String,
}

impl AuthError {
    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> AuthError {
        AuthError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

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

/// `s` with `%XX` escapes decoded (and `+` as a space in a query, `plus_is_space`); bytes
/// that are no UTF-8 become U+FFFD.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s, plus_is_space)).into_owned()
}

/// The bytes `s` stands for with its `%XX` escapes decoded (see [`percent_decode`]).
pub(crate) fn percent_decode_bytes(s: &str, plus_is_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            // Two hex digits (`from_str_radix` also took a sign: `%+1` was byte 1).
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Percent-decoded query pairs of a URI.
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(s, true);
    uri.query()
        .map(|q| {
            q.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(kv), String::new()),
                })
                .collect()
        })
        .unwrap_or_default()
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
    detect: Detect,
    default_codec: Option<Arc<dyn Codec>>,
    opts: Options,
    on_connect: Option<OnConnect>,
    on_close: Option<OnClose>,
    authenticate: Option<Authenticate>,
    heartbeat: Option<Heartbeat>,
    hub: Hub,
    buffers: (usize, usize),
}

/// Builds an [`RpcServer`]. Each option's default is stated on its method.
pub struct RpcServerBuilder {
    api: Api,
    registry: Registry,
    /// Why a [`RpcServerBuilder::register`] failed, reported by `build`.
    register_error: Option<crate::Error>,
    allowed: Option<Vec<String>>,
    default_codec: Option<String>,
    limits: Limits,
    legacy_errors: LegacyErrors,
    call_timeout: Duration,
    on_connect: Option<OnConnect>,
    on_close: Option<OnClose>,
    on_message: Option<OnMessage>,
    authenticate: Option<Authenticate>,
    heartbeat: Option<Heartbeat>,
    rate: Option<RateLimit>,
    hub: Option<Hub>,
    buffers: (usize, usize),
}

impl RpcServer {
    /// Start configuring an endpoint for `api`.
    pub fn builder(api: Api) -> RpcServerBuilder {
        RpcServerBuilder {
            api,
            registry: Registry::with_builtins(),
            register_error: None,
            allowed: None,
            default_codec: None,
            limits: Limits::default(),
            legacy_errors: LegacyErrors::default(),
            call_timeout: Duration::from_secs(30),
            on_connect: None,
            on_close: None,
            on_message: None,
            authenticate: None,
            heartbeat: None,
            rate: None,
            hub: None,
            buffers: (8 * 1024, 8 * 1024),
        }
    }

    /// The live connections of this endpoint.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// Graceful shutdown: every connection is closed with 1001 ("going away"); calls the
    /// server made to clients fail at once with `RPCTransportClosedError`, and clients see
    /// their pending calls fail the same way.
    pub fn shutdown(&self) {
        self.0.hub.close_all(1001, "server shutting down");
    }

    /// An axum handler: `Router::new().route("/rpc", get(server.handler()))`.
    #[allow(clippy::type_complexity)]
    pub fn handler(
        &self,
    ) -> impl Fn(WebSocketUpgrade, HeaderMap, Uri) -> Pin<Box<dyn Future<Output = Response> + Send>>
           + Clone
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        move |ws, headers, uri| {
            let me = me.clone();
            Box::pin(async move { me.upgrade(ws, &headers, &uri) })
        }
    }

    /// The codecs this endpoint allows, in order of preference.
    pub fn allowed(&self) -> Vec<String> {
        self.0.allowed.iter().map(|c| c.name().to_owned()).collect()
    }

    /// Negotiate and upgrade one request. The codec is, in this order: the first of the
    /// route's codecs (in its order of preference) whose subprotocol the client offered; the
    /// one `?codec=` names; the default codec; or none, and then plain JSON or superjson is
    /// detected in what the client sends (those of them the route allows). Answers 400
    /// (before upgrading) when the client offered subprotocols and none is an allowed
    /// codec's (the handshake's response must name one of them), when `?codec=` names one
    /// that is not allowed, or when it offered none and the route allows neither plain JSON
    /// nor superjson (nor has a default codec).
    pub fn upgrade(&self, ws: WebSocketUpgrade, headers: &HeaderMap, uri: &Uri) -> Response {
        let inner = &self.0;
        let identity = match &inner.authenticate {
            Some(auth) => match auth(&AuthRequest { headers, uri }) {
                Ok(id) => id,
                Err(e) => {
                    tracing::info!(
                        path = uri.path(),
                        status = e.status.as_u16(),
                        "upgrade refused"
                    );
                    return (e.status, format!("{}\n", e.message)).into_response();
                }
            },
            None => None,
        };
        let info = ConnInfo {
            path: uri.path().to_owned(),
            query: query_pairs(uri),
            identity,
        };
        let offered: Vec<String> = headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        let query = uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "codec")
                .map(|(_, v)| v.to_owned())
        });
        // A subprotocol first: the response must then name it, and a client that offered
        // subprotocols fails a handshake whose response names none (tungstenite does).
        let by_token = inner
            .allowed
            .iter()
            .find(|c| offered.iter().any(|t| t == c.subprotocol()));
        let chosen: Option<Arc<dyn Codec>> = if let Some(c) = by_token {
            Some(c.clone())
        } else if !offered.is_empty() {
            // Also when no offered token names a codec: the response would name no
            // subprotocol, and browsers and tungstenite fail such a handshake.
            return self.refuse(&format!("none of the offered subprotocols {offered:?} is"));
        } else if let Some(name) = &query {
            match inner.allowed.iter().find(|c| c.name() == name) {
                Some(c) => Some(c.clone()),
                None => return self.refuse(&format!("the codec {name:?} (from ?codec=) is not")),
            }
        } else if inner.default_codec.is_some() {
            inner.default_codec.clone()
        } else if inner.detect.any() {
            None
        } else {
            return self.refuse(
                "no codec was offered (as a subprotocol or ?codec=); plain JSON or superjson is not",
            );
        };
        // Both: kkrpc sends a message as one frame, and tungstenite's frame limit (16 MiB
        // by default) would cap a larger message limit.
        let mut ws = ws
            .max_message_size(inner.opts.limits.message_bytes())
            .max_frame_size(inner.opts.limits.message_bytes())
            .read_buffer_size(inner.buffers.0)
            .write_buffer_size(inner.buffers.1);
        if let Some(c) = &chosen {
            if offered.iter().any(|t| t == c.subprotocol()) {
                ws = ws.protocols([c.subprotocol().to_owned()]);
            }
        }
        let me = self.clone();
        ws.on_upgrade(move |socket| async move { me.serve_socket(socket, chosen, info).await })
            .into_response()
    }

    fn refuse(&self, what: &str) -> Response {
        let allowed: Vec<String> = self
            .0
            .allowed
            .iter()
            .map(|c| format!("{} ({})", c.name(), c.subprotocol()))
            .collect();
        (
            StatusCode::BAD_REQUEST,
            format!(
                "{what} allowed here; allowed codecs: {}\n",
                allowed.join(", ")
            ),
        )
            .into_response()
    }

    async fn serve_socket(self, socket: WebSocket, codec: Option<Arc<dyn Codec>>, info: ConnInfo) {
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let inner = &self.0;
        // A negotiated codec means a polycodec-aware peer: compact protocol from the start.
        // Otherwise the protocol is detected from the peer's first message.
        let protocol = codec.as_ref().map(|_| super::message::Protocol::Compact);
        let (shared, out) = Shared::new(
            id,
            inner.api.clone(),
            codec,
            inner.detect.clone(),
            protocol,
            inner.opts.clone(),
            info,
        );
        tracing::debug!(conn = id, path = %Peer(shared.clone()).info().path, "connected");
        inner.hub.add(Peer(shared.clone()));
        if let Some(hook) = &inner.on_connect {
            hook(Peer(shared.clone()));
        }
        let (sink, stream) = socket.split();
        let writer = shared.spawn_writer(out, sink, to_message);
        let heartbeat = inner
            .heartbeat
            .map(|hb| shared.spawn_heartbeat(hb.interval, hb.timeout));
        let killer = shared.clone();
        let inbound = stream.filter_map(move |m| {
            let killer = killer.clone();
            async move {
                match m {
                    Ok(Message::Text(t)) => Some(Frame::Text(t.to_string())),
                    Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
                    Ok(Message::Pong(_)) => Some(Frame::Pong),
                    Ok(Message::Ping(_)) => Some(Frame::Ping(Vec::new())),
                    Ok(Message::Close(c)) => Some(Frame::Close(
                        c.as_ref().map_or(1005, |c| c.code),
                        c.map(|c| c.reason.to_string()).unwrap_or_default(),
                    )),
                    Err(e) => {
                        let text = e.to_string();
                        tracing::debug!(conn = id, error = %text, "socket error");
                        if text.contains("Message too long") || text.contains("Space limit") {
                            killer.kill(1009, "message too big");
                        }
                        Some(Frame::Close(1006, text))
                    }
                }
            }
        });
        let mut inbound = Box::pin(inbound);
        shared.clone().run(&mut inbound).await;
        if let Some(hook) = &inner.on_close {
            hook(Peer(shared.clone()), &inner.hub);
        }
        inner.hub.remove(id);
        if let Some(hb) = heartbeat {
            hb.abort();
        }
        shared.finish(writer, inbound).await;
        tracing::debug!(conn = id, "disconnected");
    }
}

impl RpcServerBuilder {
    /// The codecs this route allows, by name, in order of preference. A client that offers
    /// several gets the first of these it offered. Default: every codec in the registry
    /// (`json`, `superjson`, `msgpack`, and `bincode` with that feature).
    pub fn codecs<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Add a user codec to the registry this endpoint negotiates from (list it in
    /// [`RpcServerBuilder::codecs`] too if you restrict the list). A codec whose name or
    /// subprotocol token is taken makes [`RpcServerBuilder::build`] fail.
    pub fn register(mut self, codec: impl Codec) -> Self {
        if let Err(e) = self.registry.register(codec) {
            self.register_error.get_or_insert(e);
        }
        self
    }

    /// The codec for a client that offers none, one of the route's codecs (a client that
    /// offers none cannot learn it from the handshake: it must know). Default: none, which
    /// means detect from what the client sends (JSON or superjson, legacy or compact kkrpc,
    /// as every JS kkrpc client needs), among the route's codecs.
    pub fn default_codec(mut self, name: impl Into<String>) -> Self {
        self.default_codec = Some(name.into());
        self
    }

    /// Limits on messages and per-connection resources, applied to every codec this
    /// endpoint negotiates (through [`Codec::limited`]; a user codec that does not take
    /// limits keeps its own). Default: [`Limits::default()`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How errors are written to legacy (kkrpc 0.x) peers. Default: strings, which kkrpc
    /// 0.2 (the newest on npm) reads.
    pub fn legacy_errors(mut self, format: LegacyErrors) -> Self {
        self.legacy_errors = format;
        self
    }

    /// Timeout of calls the server makes to a client. Default: 30 s (kkrpc's default).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// A hook called with each new connection, after it joined the hub. Default: none.
    pub fn on_connect(mut self, f: impl Fn(Peer) + Send + Sync + 'static) -> Self {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// A hook called when a connection closes, before it leaves its rooms. Default: none.
    pub fn on_close(mut self, f: impl Fn(Peer, &Hub) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(f));
        self
    }

    /// A hook that sees every raw message before it is handled. Default: none.
    pub fn on_message(mut self, f: impl Fn(&Peer, &[u8]) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(f));
        self
    }

    /// Decide from the HTTP request (query token, cookie, header) whether to upgrade:
    /// `Ok(Some(identity))` names the user, `Ok(None)` lets an anonymous peer in,
    /// `Err(AuthError)` answers 401 or 403 without upgrading. Default: everyone, anonymous.
    pub fn authenticate(
        mut self,
        f: impl Fn(&AuthRequest<'_>) -> Result<Option<Identity>, AuthError> + Send + Sync + 'static,
    ) -> Self {
        self.authenticate = Some(Arc::new(f));
        self
    }

    /// Ping every `interval`; close (1001) a peer that sends nothing for `timeout` after a
    /// ping, noticed at the next ping's time; either may be the longer. Default: off (kkrpc
    /// itself sends no heartbeat; browsers answer pings on their own).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some(Heartbeat { interval, timeout });
        self
    }

    /// Limit requests per connection: `per_second` sustained, `burst` at once, and the
    /// `close_after`-th refusal in a row closes the connection (see [`RateLimit`]). Default:
    /// off.
    pub fn rate_limit(mut self, per_second: f64, burst: u32, close_after: u32) -> Self {
        self.rate = Some(RateLimit {
            per_second,
            burst,
            close_after,
        });
        self
    }

    /// Per-socket read and write buffer sizes, in bytes. They grow as large messages need
    /// and shrink back; an idle connection holds about this much. Default: 8 KiB each
    /// (tungstenite's own default is 128 KiB, which an idle realtime server pays per peer).
    pub fn socket_buffers(mut self, read: usize, write: usize) -> Self {
        self.buffers = (read, write);
        self
    }

    /// Share a [`Hub`] with other endpoints (or the application). Default: a hub of its own.
    pub fn hub(mut self, hub: Hub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// The endpoint. Fails when a named codec is not registered.
    pub fn build(self) -> crate::Result<RpcServer> {
        if let Some(e) = self.register_error {
            return Err(e);
        }
        let lookup = |name: &str| {
            self.registry
                .get(name)
                .ok_or_else(|| crate::Error::data(format!("unknown codec {name:?}")))
        };
        let allowed = match &self.allowed {
            Some(names) => names
                .iter()
                .map(|n| lookup(n))
                .collect::<crate::Result<Vec<_>>>()?,
            None => self.registry.iter().cloned().collect(),
        };
        // Every codec the route negotiates reads and writes within the endpoint's limits.
        let allowed: Vec<Arc<dyn Codec>> = allowed
            .into_iter()
            .map(|c| c.limited(self.limits).unwrap_or(c))
            .collect();
        let find = |name: &str| allowed.iter().find(|c| c.name() == name).cloned();
        let default_codec = match self.default_codec.as_deref() {
            Some(name) => Some(find(name).ok_or_else(|| {
                crate::Error::data(format!(
                    "the default codec {name:?} is not one of this route's codecs"
                ))
            })?),
            None => None,
        };
        let detect = Detect {
            json: find("json"),
            superjson: find("superjson"),
        };
        Ok(RpcServer(Arc::new(Inner {
            api: Arc::new(self.api),
            allowed,
            detect,
            default_codec,
            opts: Options {
                limits: self.limits,
                legacy_errors: self.legacy_errors,
                call_timeout: self.call_timeout,
                rate: self.rate,
                on_message: self.on_message,
            },
            on_connect: self.on_connect,
            on_close: self.on_close,
            authenticate: self.authenticate,
            heartbeat: self.heartbeat,
            hub: self.hub.unwrap_or_default(),
            buffers: self.buffers,
        })))
    }
}

/// An outgoing frame as an axum WebSocket message.
fn to_message(frame: Frame) -> Option<Message> {
    Some(match frame {
        Frame::Text(t) => Message::Text(t.into()),
        Frame::Binary(b) => Message::Binary(b.into()),
        Frame::Ping(p) => Message::Ping(p.into()),
        Frame::Pong => return None,
        Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    })
}

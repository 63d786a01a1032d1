//! Serving an [`Api`] over WebSocket from axum, with per-connection codec negotiation.

use super::api::Api;
use super::message::LegacyErrors;
use super::session::{Frame, Options, Peer, Shared};
use crate::codec::{Codec, Registry};
use crate::Limits;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A hook that sees each new connection.
pub type OnConnect = Arc<dyn Fn(Peer) + Send + Sync>;

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
    default_codec: Option<Arc<dyn Codec>>,
    opts: Options,
    on_connect: Option<OnConnect>,
}

/// Builds an [`RpcServer`]. Each option's default is stated on its method.
pub struct RpcServerBuilder {
    api: Api,
    registry: Registry,
    allowed: Option<Vec<String>>,
    default_codec: Option<String>,
    limits: Limits,
    legacy_errors: LegacyErrors,
    call_timeout: Duration,
    on_connect: Option<OnConnect>,
}

impl RpcServer {
    /// Start configuring an endpoint for `api`.
    pub fn builder(api: Api) -> RpcServerBuilder {
        RpcServerBuilder {
            api,
            registry: Registry::with_builtins(),
            allowed: None,
            default_codec: None,
            limits: Limits::default(),
            legacy_errors: LegacyErrors::default(),
            call_timeout: Duration::from_secs(30),
            on_connect: None,
        }
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

    /// Negotiate and upgrade one request. Answers 400 (before upgrading) when the client
    /// offered codecs and none is allowed.
    pub fn upgrade(&self, ws: WebSocketUpgrade, headers: &HeaderMap, uri: &Uri) -> Response {
        let inner = &self.0;
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
        let chosen: Option<Arc<dyn Codec>> = if let Some(name) = &query {
            match inner.allowed.iter().find(|c| c.name() == name) {
                Some(c) => Some(c.clone()),
                None => return self.refuse(&format!("codec {name:?}")),
            }
        } else if !offered.is_empty() {
            let known: Vec<&Arc<dyn Codec>> = inner
                .allowed
                .iter()
                .filter(|c| offered.iter().any(|t| t == c.subprotocol()))
                .collect();
            match known.first() {
                Some(c) => Some((*c).clone()),
                None => return self.refuse(&format!("subprotocols {offered:?}")),
            }
        } else {
            inner.default_codec.clone()
        };
        let mut ws = ws.max_message_size(inner.opts.limits.message_bytes());
        if let Some(c) = &chosen {
            if offered.iter().any(|t| t == c.subprotocol()) {
                ws = ws.protocols([c.subprotocol().to_owned()]);
            }
        }
        let me = self.clone();
        ws.on_upgrade(move |socket| async move { me.serve_socket(socket, chosen).await })
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
                "none of the offered {what} is allowed here; allowed codecs: {}\n",
                allowed.join(", ")
            ),
        )
            .into_response()
    }

    async fn serve_socket(self, socket: WebSocket, codec: Option<Arc<dyn Codec>>) {
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let inner = &self.0;
        let (shared, mut out) = Shared::new(id, inner.api.clone(), codec, None, inner.opts.clone());
        tracing::debug!(conn = id, "connected");
        if let Some(hook) = &inner.on_connect {
            hook(Peer(shared.clone()));
        }
        let (mut sink, stream) = socket.split();
        let writer = tokio::spawn(async move {
            while let Some(frame) = out.recv().await {
                let (msg, last) = match frame {
                    Frame::Text(t) => (Message::Text(t.into()), false),
                    Frame::Binary(b) => (Message::Binary(b.into()), false),
                    Frame::Close(code, reason) => (
                        Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })),
                        true,
                    ),
                };
                if sink.send(msg).await.is_err() || last {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let inbound = stream.filter_map(|m| async move {
            match m {
                Ok(Message::Text(t)) => Some(Frame::Text(t.to_string())),
                Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
                Ok(Message::Close(c)) => Some(Frame::Close(
                    c.as_ref().map_or(1005, |c| c.code),
                    c.map(|c| c.reason.to_string()).unwrap_or_default(),
                )),
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(conn = id, error = %e, "socket error");
                    Some(Frame::Close(1006, e.to_string()))
                }
            }
        });
        shared.clone().run(Box::pin(inbound)).await;
        drop(shared);
        let _ = writer.await;
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
    /// [`RpcServerBuilder::codecs`] too if you restrict the list).
    pub fn register(mut self, codec: impl Codec) -> Self {
        let _ = self.registry.register(codec);
        self
    }

    /// The codec for a client that offers none. Default: none, which means detect from what
    /// the client sends (JSON or superjson, legacy or compact kkrpc), as every JS kkrpc
    /// client needs.
    pub fn default_codec(mut self, name: impl Into<String>) -> Self {
        self.default_codec = Some(name.into());
        self
    }

    /// Limits on messages and per-connection resources. Default: [`Limits::default()`].
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

    /// A hook called with each new connection. Default: none.
    pub fn on_connect(mut self, f: impl Fn(Peer) + Send + Sync + 'static) -> Self {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// The endpoint. Fails when a named codec is not registered.
    pub fn build(self) -> crate::Result<RpcServer> {
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
        let default_codec = self.default_codec.as_deref().map(lookup).transpose()?;
        Ok(RpcServer(Arc::new(Inner {
            api: Arc::new(self.api),
            allowed,
            default_codec,
            opts: Options {
                limits: self.limits,
                legacy_errors: self.legacy_errors,
                call_timeout: self.call_timeout,
            },
            on_connect: self.on_connect,
        })))
    }
}

//! A Rust client over tokio-tungstenite: negotiates a codec, calls the server, exposes an API
//! the server can call back.

use super::api::Api;
use super::error::RpcError;
use super::message::{LegacyErrors, Protocol};
use super::session::{ConnInfo, Detect, Frame, Options, Peer, Shared};
use crate::codec::{Codec, Registry};
use crate::Limits;
use futures_util::StreamExt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1 << 40);

/// A connection to an RPC server. Derefs to [`Peer`]: `client.call::<R>(path, args)`.
///
/// ```no_run
/// # async fn run() -> Result<(), polycodec::rpc::RpcError> {
/// use polycodec::rpc::Client;
/// let client = Client::builder("ws://127.0.0.1:3000/rpc")
///     .codecs(["msgpack", "superjson"])
///     .connect()
///     .await?;
/// assert_eq!(client.codec(), "msgpack");
/// let product: f64 = client.call("math.multiply", (4, 6)).await?;
/// assert_eq!(product, 24.0);
/// # Ok(()) }
/// ```
pub struct Client {
    peer: Peer,
    config: ClientBuilder,
}

/// Builds a [`Client`]. Each option's default is stated on its method.
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    codecs: Vec<String>,
    api: Api,
    registry: Registry,
    /// Why a [`ClientBuilder::register`] failed, reported by `connect` (a message: the
    /// builder is `Clone`, `crate::Error` is not).
    register_error: Option<String>,
    limits: Limits,
    call_timeout: Duration,
    heartbeat: Option<(Duration, Duration)>,
}

impl Client {
    /// Start configuring a connection to `url` (`ws://host:port/path`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            codecs: Vec::new(),
            api: Api::default(),
            registry: Registry::with_builtins(),
            register_error: None,
            limits: Limits::default(),
            call_timeout: Duration::from_secs(30),
            heartbeat: None,
        }
    }

    /// Connect again with the same options, after the connection was lost: up to
    /// `attempts` tries (at least one), waiting `first_delay` before the second and
    /// doubling (capped at 30 s) after each failure (a `first_delay` of zero retries at
    /// once). Calls made on the old connection have already failed, and `Peer` clones taken
    /// from it stay with it: take [`Client::peer`] again.
    pub async fn reconnect(
        &mut self,
        attempts: u32,
        first_delay: Duration,
    ) -> Result<(), RpcError> {
        let mut delay = first_delay;
        let mut last = None;
        for attempt in 0..attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            match self.config.clone().connect_peer().await {
                Ok(peer) => {
                    let old = std::mem::replace(&mut self.peer, peer);
                    old.0.kill(1000, "");
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| connect_error("no attempt made")))
    }

    /// Connect with the defaults (no codec offered: plain JSON, compact protocol).
    pub async fn connect(url: impl Into<String>) -> Result<Client, RpcError> {
        Client::builder(url).connect().await
    }

    /// The connection.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}

impl Deref for Client {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

/// Dropping the `Client` closes its connection (after what is already queued, such as a
/// last notification), also under clones of its [`Peer`] held elsewhere. (It queued a
/// close frame, which was lost when the queue was full: the connection and its tasks then
/// stayed.)
impl Drop for Client {
    fn drop(&mut self) {
        self.peer.0.close_after_queued(1000, "");
    }
}

fn connect_error(msg: impl Into<String>) -> RpcError {
    RpcError::new("ConnectError", msg)
}

impl ClientBuilder {
    /// Codecs to offer as subprotocols, by name, in order of preference. Default: none
    /// (the server detects plain JSON).
    pub fn codecs<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.codecs = names.into_iter().map(Into::into).collect();
        self
    }

    /// An API the server may call on this client. Default: none.
    pub fn expose(mut self, api: Api) -> Self {
        self.api = api;
        self
    }

    /// Add a user codec that can then be offered by name. A codec whose name or subprotocol
    /// token is taken makes [`ClientBuilder::connect`] fail.
    pub fn register(mut self, codec: impl Codec) -> Self {
        if let Err(e) = self.registry.register(codec) {
            self.register_error.get_or_insert(e.to_string());
        }
        self
    }

    /// Limits on what the server sends, applied to the codec negotiated (through
    /// [`Codec::limited`]) and to the socket's message and frame sizes. Default:
    /// [`Limits::default()`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Default timeout of each call. Default: 30 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Ping the server every `interval`; if nothing comes back for `timeout` after a ping
    /// (noticed at the next ping's time), the server is considered dead: the connection
    /// closes and pending calls fail. Default: off.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some((interval, timeout));
        self
    }

    /// Open the connection and negotiate the codec.
    pub async fn connect(self) -> Result<Client, RpcError> {
        let peer = self.clone().connect_peer().await?;
        Ok(Client { peer, config: self })
    }

    async fn connect_peer(self) -> Result<Peer, RpcError> {
        if let Some(e) = &self.register_error {
            return Err(connect_error(e.clone()));
        }
        let mut offered: Vec<Arc<dyn Codec>> = Vec::new();
        for name in &self.codecs {
            offered.push(
                self.registry
                    .get(name)
                    .ok_or_else(|| connect_error(format!("unknown codec {name:?}")))?,
            );
        }
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| connect_error(e.to_string()))?;
        if !offered.is_empty() {
            let tokens: Vec<&str> = offered.iter().map(|c| c.subprotocol()).collect();
            let value = tokens
                .join(", ")
                .parse()
                .map_err(|_| connect_error("bad subprotocol token"))?;
            request
                .headers_mut()
                .insert("sec-websocket-protocol", value);
        }
        let mut config = tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(self.limits.message_bytes());
        config.max_frame_size = Some(self.limits.message_bytes());
        let (socket, response) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                .await
                .map_err(|e| match e {
                    tungstenite::Error::Http(resp) => {
                        let body = resp
                            .body()
                            .as_ref()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default();
                        connect_error(format!("HTTP {}: {}", resp.status().as_u16(), body.trim()))
                            .with_prop("status", resp.status().as_u16())
                    }
                    e => connect_error(e.to_string()),
                })?;
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| {
                offered
                    .iter()
                    .find(|c| c.subprotocol() == t.trim())
                    .cloned()
            });
        // `?codec=name` chooses without subprotocols; then both sides speak it.
        let from_query = self.url.split_once('?').and_then(|(_, q)| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "codec")
                .and_then(|(_, v)| self.registry.get(v))
        });
        let codec = chosen
            .or(from_query)
            .or_else(|| self.registry.get("json"))
            .map(|c| c.limited(self.limits).unwrap_or(c));
        let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        let opts = Options {
            limits: self.limits,
            legacy_errors: LegacyErrors::default(),
            call_timeout: self.call_timeout,
            rate: None,
            on_message: None,
        };
        let info = ConnInfo {
            path: self.url.clone(),
            ..ConnInfo::default()
        };
        let (shared, out) = Shared::new(
            id,
            Arc::new(self.api.clone()),
            codec,
            Detect::default(),
            Some(Protocol::Compact),
            opts,
            info,
        );
        let (sink, stream) = socket.split();
        let writer = shared.spawn_writer(out, sink, to_message);
        let inbound = stream.filter_map(|m| async move {
            match m {
                Ok(Message::Text(t)) => Some(Frame::Text(t.to_string())),
                Ok(Message::Binary(b)) => Some(Frame::Binary(b.to_vec())),
                Ok(Message::Pong(_)) => Some(Frame::Pong),
                Ok(Message::Close(c)) => Some(Frame::Close(
                    c.as_ref().map_or(1005, |c| u16::from(c.code)),
                    c.map(|c| c.reason.to_string()).unwrap_or_default(),
                )),
                Ok(_) => None,
                Err(e) => Some(Frame::Close(1006, e.to_string())),
            }
        });
        if let Some((interval, timeout)) = self.heartbeat {
            shared.spawn_heartbeat(interval, timeout);
        }
        let me = shared.clone();
        tokio::spawn(async move {
            let mut inbound = Box::pin(inbound);
            me.clone().run(&mut inbound).await;
            me.finish(writer, inbound).await;
        });
        Ok(Peer(shared))
    }
}

/// An outgoing frame as a tungstenite message.
fn to_message(frame: Frame) -> Option<Message> {
    Some(match frame {
        Frame::Text(t) => Message::Text(t.into()),
        Frame::Binary(b) => Message::Binary(b.into()),
        Frame::Ping(p) => Message::Ping(p.into()),
        Frame::Pong => return None,
        Frame::Close(code, reason) => Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    })
}

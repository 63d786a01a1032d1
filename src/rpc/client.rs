//! A Rust client over tokio-tungstenite: negotiates a codec, calls the server, exposes an API
//! the server can call back.

use super::api::Api;
use super::conn::{heartbeat, ConnConfig, ConnInfo, Connection};
use super::error::Error;
use super::inbound::{finish, Session};
use super::negotiation::codec_param;
use super::peer::Peer;
use super::protocol::kkrpc::{Detection, Kkrpc, LegacyErrors, Protocol};
use super::transport;
use crate::codec::{Codec, Registry};
use crate::Limits;
use futures_util::StreamExt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1 << 40);

/// A connection to an RPC server. Derefs to [`Peer`]: `client.call::<R>(path, args)`.
///
/// ```no_run
/// # async fn run() -> Result<(), polycodec::rpc::Error> {
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
    pub async fn reconnect(&mut self, attempts: u32, first_delay: Duration) -> Result<(), Error> {
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
                    old.0.outbox.kill(1000, "");
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| connect_error("no attempt made")))
    }

    /// Connect with the defaults (no codec offered: plain JSON, compact protocol).
    pub async fn connect(url: impl Into<String>) -> Result<Client, Error> {
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
/// last notification), also under clones of its [`Peer`] held elsewhere.
impl Drop for Client {
    fn drop(&mut self) {
        self.peer.0.outbox.close_after_queued(1000, "");
    }
}

fn connect_error(msg: impl Into<String>) -> Error {
    Error::Connect {
        status: None,
        message: msg.into(),
    }
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
    pub async fn connect(self) -> Result<Client, Error> {
        let peer = self.clone().connect_peer().await?;
        Ok(Client { peer, config: self })
    }

    /// The codecs to offer, as the registry has them.
    fn offered(&self) -> Result<Vec<Arc<dyn Codec>>, Error> {
        if let Some(e) = &self.register_error {
            return Err(connect_error(e.clone()));
        }
        let find = |name: &String| {
            self.registry
                .get(name)
                .ok_or_else(|| connect_error(format!("unknown codec {name:?}")))
        };
        self.codecs.iter().map(find).collect()
    }

    /// The upgrade request: the URL, with the offered codecs' subprotocols.
    fn request(
        &self,
        offered: &[Arc<dyn Codec>],
    ) -> Result<tungstenite::handshake::client::Request, Error> {
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
        Ok(request)
    }

    /// The codec both sides speak: the subprotocol the server chose, else the one
    /// `?codec=` names, else plain JSON.
    fn chosen(&self, offered: &[Arc<dyn Codec>], token: Option<&str>) -> Option<Arc<dyn Codec>> {
        let chosen = token.and_then(|t| offered.iter().find(|c| c.subprotocol() == t.trim()));
        let from_query = self
            .url
            .split_once('?')
            .and_then(|(_, q)| codec_param(q))
            .and_then(|name| self.registry.get(name));
        chosen
            .cloned()
            .or(from_query)
            .or_else(|| self.registry.get("json"))
            .map(|c| c.limited(self.limits).unwrap_or(c))
    }

    async fn connect_peer(self) -> Result<Peer, Error> {
        let offered = self.offered()?;
        let request = self.request(&offered)?;
        let mut config = tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(self.limits.message_bytes());
        config.max_frame_size = Some(self.limits.message_bytes());
        let (socket, response) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                .await
                .map_err(refused)?;
        let token = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        let codec = self.chosen(&offered, token);
        let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        let config = ConnConfig {
            limits: self.limits,
            call_timeout: self.call_timeout,
            rate: None,
            draining: None,
        };
        let info = ConnInfo {
            path: self.url.clone(),
            ..ConnInfo::default()
        };
        let proto = Kkrpc::new(
            codec,
            Detection::default(),
            Some(Protocol::Compact),
            self.limits,
            LegacyErrors::default(),
        );
        let proto = super::protocol::kkrpc_only(proto);
        let (conn, out) = Connection::new(id, proto, config, info);
        let (sink, stream) = socket.split();
        let writer = conn
            .outbox
            .spawn_writer(out, sink, transport::tungstenite::write);
        let inbound = stream.filter_map(|m| async move {
            transport::tungstenite::read(m).map(|r| r.unwrap_or_else(|e| e.into_frame()))
        });
        if let Some((interval, timeout)) = self.heartbeat {
            heartbeat::spawn(conn.clone(), interval, timeout);
        }
        let session = Session::new(conn.clone(), Arc::new(self.api), None);
        let me = conn.clone();
        tokio::spawn(async move {
            let mut inbound = Box::pin(inbound);
            session.run(&mut inbound).await;
            finish(me, writer, inbound).await;
        });
        Ok(Peer(conn))
    }
}

/// A failed handshake as an error: a refused upgrade with its HTTP status and body.
fn refused(e: tungstenite::Error) -> Error {
    match e {
        tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let status = resp.status().as_u16();
            Error::Connect {
                status: Some(status),
                message: format!("HTTP {status}: {}", body.trim()),
            }
        }
        e => connect_error(e.to_string()),
    }
}

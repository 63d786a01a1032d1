//! [`RpcServerBuilder`]: an endpoint's codecs, limits, hooks and timeouts.

use super::auth::{AuthError, AuthRequest, Authenticate};
use super::{Heartbeat, Inner, OnDrain, RpcServer};
use crate::codec::{Codec, Registry};
use crate::rpc::api::Api;
use crate::rpc::conn::{ConnConfig, Identity};
use crate::rpc::front_door::{FrontDoor, Gate};
use crate::rpc::hub::Hub;
use crate::rpc::inbound::OnMessage;
use crate::rpc::protocol::kkrpc::{Detection, LegacyErrors};
use crate::rpc::rate_limit::RateLimit;
use crate::rpc::{OnClose, OnConnect, Peer};
use crate::Limits;
use std::sync::Arc;
use std::time::Duration;

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
    #[cfg(feature = "redis")]
    redis: Option<crate::rpc::cluster::RedisConfig>,
    buffers: (usize, usize),
    trpc: Option<crate::rpc::trpc::Router>,
    front_door: FrontDoor,
    on_drain: Option<OnDrain>,
}

impl RpcServer {
    /// Start configuring an endpoint for `api`.
    pub fn builder(api: Api) -> RpcServerBuilder {
        RpcServerBuilder::new(api)
    }
}

impl RpcServerBuilder {
    /// A builder with every default.
    fn new(api: Api) -> RpcServerBuilder {
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
            #[cfg(feature = "redis")]
            redis: None,
            buffers: (8 * 1024, 8 * 1024),
            trpc: None,
            front_door: FrontDoor::default(),
            on_drain: None,
        }
    }

    /// The codecs this route allows, by name, in order of preference. A client that offers
    /// several gets the first of these it offered. Default: every codec in the registry
    /// (`json`, `superjson`, `msgpack`, `msgpackr`, and `bincode` with that feature).
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

    /// Serve tRPC clients too, with `router`: a peer whose first frame is tRPC's (or that
    /// offers the `trpc` subprotocol, or opens `?connectionParams=1`) speaks tRPC's
    /// WebSocket protocol on this same path, others kkrpc; and
    /// [`RpcServer::trpc_routes`] mounts tRPC's HTTP side. Default: none (kkrpc only).
    pub fn trpc(mut self, router: crate::rpc::trpc::Router) -> Self {
        self.trpc = Some(router);
        self
    }

    /// The front door of this endpoint: what it reads of [`FrontDoor`] is the cap on its
    /// WebSockets (503 with `Retry-After` before upgrading), the per-client caps (429; off by
    /// default), the trusted proxies whose `X-Forwarded-For` names the client, the WebSocket
    /// handshake timeout and the `Retry-After`; each setter of [`FrontDoor`] states its
    /// default. Per-client limits need the peer's address: [`serve`](crate::rpc::serve)
    /// gives it, as does axum's `into_make_service_with_connect_info::<SocketAddr>()`.
    /// Default: [`FrontDoor::default()`] (the cap derived from the open-file limit, a 10 s
    /// handshake timeout, no per-client caps).
    pub fn front_door(mut self, door: FrontDoor) -> Self {
        self.front_door = door;
        self
    }

    /// A hook called with each connection when a [drain](RpcServer::drain) begins, before
    /// the calls in flight are waited for: where a protocol can ask its clients to reconnect
    /// elsewhere (tRPC's `reconnect` notification, once tRPC is spoken here), or an
    /// application can tell its users (a push). Default: none.
    pub fn on_drain(mut self, f: impl Fn(Peer) + Send + Sync + 'static) -> Self {
        self.on_drain = Some(Arc::new(f));
        self
    }

    /// Span nodes: this endpoint's hub goes through the Redis at `url` (feature `redis`;
    /// see [`RedisBackend`](crate::rpc::cluster::RedisBackend)), so rooms, per-user sends,
    /// presence and history are the same on every node that names it. `build` must then
    /// run within a tokio runtime. Default: one node.
    #[cfg(feature = "redis")]
    pub fn redis(self, url: impl Into<String>) -> Self {
        self.redis_config(crate::rpc::cluster::RedisConfig::new(url))
    }

    /// [`RpcServerBuilder::redis`] with every setting of
    /// [`RedisConfig`](crate::rpc::cluster::RedisConfig).
    #[cfg(feature = "redis")]
    pub fn redis_config(mut self, config: crate::rpc::cluster::RedisConfig) -> Self {
        self.redis = Some(config);
        self
    }

    /// The endpoint. Fails when a named codec is not registered, or (feature `redis`) when
    /// both a hub and a Redis URL are given, the URL does not read, or no tokio runtime
    /// runs.
    pub fn build(self) -> crate::Result<RpcServer> {
        if let Some(e) = self.register_error {
            return Err(e);
        }
        #[cfg(feature = "redis")]
        let hub = match (self.redis, self.hub) {
            (Some(_), Some(_)) => {
                return Err(crate::Error::data(
                    "give either a hub or a Redis URL: a shared hub brings its own backend",
                ))
            }
            (Some(cfg), None) => Some(Hub::with_backend(
                crate::rpc::cluster::RedisBackend::start(cfg)
                    .map_err(|e| crate::Error::data(e.to_string()))?,
            )),
            (None, hub) => hub,
        };
        #[cfg(not(feature = "redis"))]
        let hub = self.hub;
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
        let detect = Detection {
            json: find("json"),
            superjson: find("superjson"),
        };
        Ok(RpcServer(Arc::new(Inner {
            api: Arc::new(self.api),
            allowed,
            detect,
            default_codec,
            config: ConnConfig {
                limits: self.limits,
                call_timeout: self.call_timeout,
                rate: self.rate,
                draining: Some(Arc::default()),
            },
            legacy_errors: self.legacy_errors,
            on_message: self.on_message,
            on_connect: self.on_connect,
            on_close: self.on_close,
            authenticate: self.authenticate,
            heartbeat: self.heartbeat,
            hub: hub.unwrap_or_default(),
            buffers: self.buffers,
            trpc: self.trpc,
            gate: Gate::new(self.front_door),
            on_drain: self.on_drain,
        })))
    }
}

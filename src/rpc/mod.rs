//! RPC over WebSocket that real JS kkrpc peers speak, both protocol generations, served from
//! axum and called from a tokio-tungstenite client.
//!
//! * [`Api`]: methods (typed or raw) and properties by dotted path.
//! * [`RpcServer`]: an axum handler with codec negotiation per connection (subprotocol,
//!   `?codec=`, or detection of what a kkrpc peer sends).
//! * [`Client`]: connect, negotiate, call (`client.call::<R>("math.multiply", (4, 6))`),
//!   expose an API the server can call.
//! * Callbacks both ways: a JS function argument arrives as a [`Callback`]; a Rust closure
//!   goes out as [`CallArg::Callback`].
//! * [`Hub`]: rooms, per-user sends and presence.
//! * Errors: handlers return [`RpcError`] (what the peer sees); Rust callers get [`Error`].
//!
//! Inside, dependencies point one way:
//!
//! ```text
//! transport (Frame; axum, tungstenite)   error   rate_limit   legacy_framing   negotiation
//!   ↑
//! conn/outbox ← protocol (the seam; kkrpc compact + legacy) ← conn (Connection state)
//!   ← peer (Peer, Callback) ← api (Api, Call) ← inbound (read loop, dispatch)
//!   ← hub, server (axum), client (tungstenite) ← demo
//! ```

// `rpc` alone is the engine that `server` and `client` share, with no transport: the parts
// that only a transport calls are unused there.
#![cfg_attr(not(any(feature = "server", feature = "client")), allow(dead_code))]

mod api;
#[cfg(feature = "client")]
mod client;
mod conn;
#[cfg(feature = "server")]
pub mod demo;
#[cfg(feature = "server")]
pub mod demo_trpc;
#[cfg(feature = "server")]
pub mod demo_types;
mod error;
#[cfg(feature = "server")]
mod front_door;
mod hub;
mod inbound;
mod legacy_framing;
mod negotiation;
mod peer;
mod protocol;
mod rate_limit;
#[cfg(feature = "server")]
mod server;
mod transport;
#[cfg(feature = "server")]
pub mod trpc;

pub use api::{Api, ApiBuilder, BoxFuture, Call, Property};
#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder};
pub use conn::callbacks::{CallArg, LocalCallback};
pub use conn::{ConnInfo, Identity};
pub use error::{codes, CodecError, Error, Limit, RpcError};
#[cfg(feature = "server")]
pub use front_door::{serve, FrontDoor, ParseProxyError, Serve, TrustedProxy};
#[cfg(feature = "redis")]
pub use hub::cluster;
pub use hub::{
    Broadcast, Delivery, Health, Hub, HubBackend, LocalBackend, Member, Position, Recovery, Target,
    WeakHub,
};
pub use inbound::OnMessage;
pub use peer::{Callback, Peer};
pub use protocol::kkrpc::{classify, LegacyErrors, Protocol};
pub use rate_limit::RateLimit;
#[cfg(feature = "server")]
pub use server::{
    AuthError, AuthRequest, Authenticate, Heartbeat, OnClose, OnConnect, RpcServer,
    RpcServerBuilder,
};

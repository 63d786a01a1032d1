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

mod api;
mod client;
pub mod demo;
mod error;
mod hub;
mod message;
mod server;
mod session;

pub use api::{Api, ApiBuilder, BoxFuture, Call, Property};
pub use client::{Client, ClientBuilder};
pub use error::{codes, RpcError};
pub use hub::Hub;
pub use message::{LegacyErrors, Protocol};
pub use server::{
    AuthError, AuthRequest, Authenticate, Heartbeat, OnClose, OnConnect, RpcServer,
    RpcServerBuilder,
};
pub use session::{
    CallArg, Callback, ConnInfo, Identity, LocalCallback, OnMessage, Peer, RateLimit,
};

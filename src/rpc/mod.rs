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
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "server")]
pub mod demo;
mod error;
mod hub;
mod message;
#[cfg(feature = "server")]
mod server;
mod session;

pub use api::{Api, ApiBuilder, BoxFuture, Call, Property};
#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder};
pub use error::{codes, RpcError};
pub use hub::Hub;

/// Classify one frame the way the server does: a kkrpc message of which protocol
/// generation, or `None` for anything kkrpc would drop (not JSON or superjson, no `t` or
/// `type`). Legacy frames may hold several newline-separated messages; the first decides.
///
/// ```
/// use polycodec::rpc::{classify, Protocol};
/// assert_eq!(classify(br#"{"t":"q","id":"1","op":"call","p":["add"],"a":[]}"#), Some(Protocol::Compact));
/// assert_eq!(classify(b"{\"id\":1,\"method\":\"add\",\"args\":[],\"type\":\"request\"}\n"), Some(Protocol::Legacy));
/// assert_eq!(classify(b"hello"), None);
/// ```
pub fn classify(frame: &[u8]) -> Option<Protocol> {
    use crate::codec::{Codec, Json, SuperJson};
    let text = std::str::from_utf8(frame).ok()?;
    let first = text.trim_start().split('\n').next()?.trim();
    let doc = if first.starts_with("{\"json\":") {
        SuperJson::new().decode_value(first.as_bytes()).ok()?
    } else {
        Json::new().decode_value(first.as_bytes()).ok()?
    };
    message::parse(doc).ok().map(|(p, _)| p)
}
pub use message::{LegacyErrors, Protocol};
#[cfg(feature = "server")]
pub use server::{
    AuthError, AuthRequest, Authenticate, Heartbeat, OnClose, OnConnect, RpcServer,
    RpcServerBuilder,
};
pub use session::{
    CallArg, Callback, ConnInfo, Identity, LocalCallback, OnMessage, Peer, RateLimit,
};

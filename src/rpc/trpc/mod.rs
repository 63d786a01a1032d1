//! tRPC v11 on the Rust side: real `@trpc/client` 11 apps call a [`Router`] through every
//! link tRPC ships (`httpLink`, `httpBatchLink`, `httpBatchStreamLink`,
//! `httpSubscriptionLink`, `wsLink`), with `transformer: superjson` (the bytes
//! `@trpc/server` writes, byte for byte) or none.
//!
//! * [`Router`]: queries, mutations and subscriptions by dotted path, typed input and
//!   output through serde (the typed-handler machinery of the kkrpc [`Api`](super::Api)),
//!   a [`Context`] (headers, connection params, the auth hook's identity), subscriptions
//!   as [`Stream`](futures_util::Stream)s of values or [`tracked`] ones.
//! * WebSocket: the route's [`RpcServer`](super::RpcServer) gets the router with
//!   [`RpcServerBuilder::trpc`](super::RpcServerBuilder::trpc), and one path then serves
//!   kkrpc peers (both generations) and tRPC peers, told apart by the first frame (or by
//!   the `trpc` subprotocol, or `?connectionParams=1`). The protocol is [`ws`], behind the
//!   engine's protocol seam.
//! * HTTP: [`RpcServer::trpc_routes`](super::RpcServer::trpc_routes) mounts the HTTP side
//!   ([`http`]: single calls, batches, JSON Lines streaming, SSE subscriptions) and the
//!   WebSocket on one path.
//!
//! ```no_run
//! use polycodec::rpc::trpc::{tracked, Code, Router};
//! use polycodec::rpc::{Api, RpcServer};
//! # async fn run() {
//! let router = Router::builder()
//!     .query("greet", |name: String, _ctx| async move { Ok(format!("Hello, {name}!")) })
//!     .mutation("fail", |(): (), _| async move { Err::<(), _>(Code::Forbidden.error("no")) })
//!     .subscription("count", |n: u32, _| async move {
//!         Ok(futures_util::stream::iter((0..n).map(|i| Ok(tracked(i.to_string(), i)))))
//!     })
//!     .build()
//!     .unwrap();
//! let rpc = RpcServer::builder(Api::default()).trpc(router).build().unwrap();
//! let app: axum::Router = rpc.trpc_routes("/trpc");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

pub(crate) mod dispatch;
mod errors;
pub mod http;
mod jsonl;
mod router;
mod sse;
mod transformer;
pub(crate) mod ws;

pub use errors::Code;
pub use router::{
    tracked, Context, Event, EventStream, Kind, Router, RouterBuilder, Tracked, Yield,
};
pub use transformer::Transformer;

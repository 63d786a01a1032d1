//! The RPC tests, one binary: the Rust client and server over every codec, negotiation,
//! callbacks, the realtime parts (rooms, broadcast, presence, auth, heartbeat, rate limits),
//! faults, hostile frames, and captured kkrpc frames replayed. Loopback only; no node.

#[path = "../common/mod.rs"]
mod common;

#[path = "../common/serve.rs"]
mod serve;

#[cfg(feature = "redis")]
#[path = "../common/redis.rs"]
mod redis;

mod calls;
#[cfg(feature = "redis")]
mod cluster;
mod faults;
mod front_door;
mod hostile;
mod kkrpc_replay;
mod realtime;
mod trpc;
mod trpc_replay;

#[path = "../common/trpc_wire.rs"]
mod trpc_wire;

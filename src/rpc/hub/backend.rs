//! The hub's backend seam: what spans nodes. The in-process registry of this node's
//! connections ([`Peer`](crate::rpc::Peer)s, rooms) is the hub's own and always local; a
//! backend carries what other nodes must see: deliveries, presence, room history.
//!
//! The default, [`LocalBackend`](super::LocalBackend), is one node: nothing to publish,
//! presence and history in process. A cluster backend (Redis, see `scale-out.md`)
//! implements [`HubBackend`]:
//!
//! * **Published once.** The hub delivers a push to this node's recipients itself, then
//!   hands the backend one [`Delivery`] (borrowed, un-encoded [`Value`]s) to publish once.
//!   The other nodes decode it and call [`Hub::deliver_local`](super::Hub::deliver_local),
//!   which encodes once per (codec, protocol) among *their* recipients: so a message is
//!   encoded once per codec per node, and no frame crosses the bus.
//! * **Local and everywhere.** [`Hub::members`](super::Hub::members) and friends return
//!   this node's `Peer`s; [`Hub::room_presence`](super::Hub::room_presence) and
//!   [`Hub::users_everywhere`](super::Hub::users_everywhere) return [`Member`]
//!   identities from every node, as the backend knows them.
//! * Membership changes reach the backend as they happen ([`HubBackend::joined`] …), so it
//!   can subscribe to a room's channel and replicate presence.

use super::local::WeakHub;
use crate::rpc::BoxFuture;
use crate::Value;
use std::collections::BTreeMap;

/// A connection as every node sees it: which node holds it, its id there, its user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// The node holding the connection (`""` for a single node).
    pub node: String,
    /// The connection's id on that node.
    pub conn: u64,
    /// The user the auth hook named, if any.
    pub user: Option<String>,
}

/// Who a push goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// The members of a room, except one connection of the sending node.
    Room {
        /// The room.
        room: &'a str,
        /// A connection of the sending node left out.
        except: Option<u64>,
    },
    /// Every connection of a user.
    User(&'a str),
    /// Every connection.
    All,
}

/// A push to publish: `method(args)` to `target`, not encoded.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// Who it goes to.
    pub target: Target<'a>,
    /// The method called on each recipient.
    pub method: &'a str,
    /// Its arguments.
    pub args: &'a [Value],
}

/// A place in a recoverable room's history: the room's `epoch` (which changes when the
/// history was lost) and the `offset` of a message in it (1, 2, 3, … within an epoch).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    /// The history's epoch.
    pub epoch: String,
    /// The offset of the last message received.
    pub offset: u64,
}

impl Position {
    /// Read `epoch:offset` (what [`Position`]'s `Display` writes).
    pub fn parse(text: &str) -> Option<Position> {
        let (epoch, offset) = text.rsplit_once(':')?;
        let offset = offset.parse().ok()?;
        (!epoch.is_empty()).then(|| Position {
            epoch: epoch.to_owned(),
            offset,
        })
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.epoch, self.offset)
    }
}

/// What [`Hub::join_from`](super::Hub::join_from) did: replayed what the connection missed,
/// or could not, and why (it joined the room all the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// True when every message after the given position was replayed, in order, once.
    pub recovered: bool,
    /// How many messages were replayed.
    pub replayed: usize,
    /// The room's newest position when it joined, if known.
    pub position: Option<Position>,
    /// Why it was not recovered (the gap is older than the history kept, the epoch changed,
    /// the room is not recoverable, the backend is unreachable).
    pub reason: Option<String>,
}

impl Recovery {
    /// Not recovered, for `reason`.
    pub fn failed(reason: impl Into<String>) -> Recovery {
        Recovery {
            recovered: false,
            replayed: 0,
            position: None,
            reason: Some(reason.into()),
        }
    }
}

/// How what spans nodes is doing: `ok`, or degraded with the reason, and counters
/// (messages dropped from a full queue, reconnects, Redis restarts seen, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// True when the backend delivers across nodes (always, for one node).
    pub ok: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// This node's id.
    pub node: String,
    /// Named counters, for logs and a health route.
    pub counters: Vec<(&'static str, u64)>,
}

impl Health {
    /// Healthy, with no counters.
    pub fn ok(node: &str) -> Health {
        Health {
            ok: true,
            reason: None,
            node: node.to_owned(),
            counters: Vec::new(),
        }
    }

    /// `{"status":"ok"|"degraded","reason":…,"node":…, counters…}`, for a health route.
    pub fn to_json(&self) -> String {
        let mut o = crate::Object::new();
        let status = if self.ok { "ok" } else { "degraded" };
        o.insert("status", Value::from(status));
        if let Some(r) = &self.reason {
            o.insert("reason", Value::from(r.as_str()));
        }
        o.insert("node", Value::from(self.node.as_str()));
        for (k, v) in &self.counters {
            o.insert(*k, Value::from(*v));
        }
        let json = crate::codec::Json::new();
        crate::codec::Codec::encode_value(&json, &Value::Object(o)).map_or_else(
            |_| format!(r#"{{"status":"{status}"}}"#),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )
    }
}

/// What spans nodes (see the module docs). Methods that may cross the network return
/// boxed futures; the sync ones must not block (a cluster backend queues).
pub trait HubBackend: Send + Sync + 'static {
    /// This node's id in [`Member::node`].
    fn node(&self) -> &str {
        ""
    }

    /// Called once, by [`Hub::with_backend`](super::Hub::with_backend), with the hub this
    /// backend serves: a cluster backend delivers what other nodes publish through it.
    fn attach(&self, _hub: WeakHub) {}

    /// Publish, once, a push already delivered to this node's recipients, for the other
    /// nodes to deliver to theirs.
    fn publish(&self, delivery: &Delivery<'_>);

    /// True when the backend takes this delivery whole, this node's recipients included,
    /// to deliver it in one order on every node (a recoverable room while the cluster is
    /// reachable): the hub then does not deliver it here first. Default: false.
    fn sequenced(&self, _delivery: &Delivery<'_>) -> bool {
        false
    }

    /// True when `room` keeps a recoverable history ([`Hub::join_from`](super::Hub::join_from)).
    fn recoverable(&self, _room: &str) -> bool {
        false
    }

    /// Join `member` into recoverable `room`, first replaying to it what came after `since`
    /// (see [`Hub::join_from`](super::Hub::join_from)). Only called when
    /// [`HubBackend::recoverable`] says so.
    fn resume(&self, _member: &Member, _room: &str, _since: Position) -> BoxFuture<Recovery> {
        Box::pin(std::future::ready(Recovery::failed(
            "this backend keeps no recoverable history",
        )))
    }

    /// How the backend is doing. Default: ok.
    fn health(&self) -> Health {
        Health::ok(self.node())
    }

    /// Leave the cluster now (graceful shutdown): other nodes drop this node's members at
    /// once instead of after its heartbeat times out. Default: nothing to do.
    fn shutdown(&self) -> BoxFuture<()> {
        Box::pin(std::future::ready(()))
    }

    /// A connection of this node arrived.
    fn connected(&self, _member: &Member) {}

    /// A connection of this node left, and with it `rooms`.
    fn disconnected(&self, _member: &Member, _rooms: &[String]) {}

    /// A connection of this node joined `room`.
    fn joined(&self, _member: &Member, _room: &str) {}

    /// A connection of this node left `room`.
    fn left(&self, _member: &Member, _room: &str) {}

    /// A local listener of `room` ([`Hub::listen`](super::Hub::listen)) came (`on`) or
    /// went. Listeners are not presence, but a cluster backend must bring this node what
    /// other nodes publish to a room while it has members or listeners here.
    fn interested(&self, _room: &str, _on: bool) {}

    /// Resolves once what other nodes publish to `room` reaches this node (its
    /// subscription, which the room's first member or listener here queued, is in place),
    /// or once that cannot be known (the backend is unreachable), and at most after its
    /// timeout. Default: at once (one node hears everything).
    fn listening(&self, _room: &str) -> BoxFuture<()> {
        Box::pin(std::future::ready(()))
    }

    /// The members of `room` on every node; `local` is this node's share.
    fn room_presence(&self, room: &str, local: Vec<Member>) -> BoxFuture<Vec<Member>>;

    /// Each connected user, on every node, with their number of connections; `local` is
    /// this node's share.
    fn users(&self, local: BTreeMap<String, usize>) -> BoxFuture<BTreeMap<String, usize>>;

    /// Append `message` to `room`'s history, which keeps the last `cap`.
    fn append_history(&self, room: &str, message: Value, cap: usize) -> BoxFuture<()>;

    /// The last `limit` messages of `room`'s history, oldest first.
    fn history(&self, room: &str, limit: usize) -> BoxFuture<Vec<Value>>;
}

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

/// What spans nodes (see the module docs). Methods that may cross the network return
/// boxed futures; the sync ones must not block (a cluster backend queues).
pub trait HubBackend: Send + Sync + 'static {
    /// This node's id in [`Member::node`].
    fn node(&self) -> &str {
        ""
    }

    /// Publish, once, a push already delivered to this node's recipients, for the other
    /// nodes to deliver to theirs.
    fn publish(&self, delivery: &Delivery<'_>);

    /// A connection of this node arrived.
    fn connected(&self, _member: &Member) {}

    /// A connection of this node left, and with it `rooms`.
    fn disconnected(&self, _member: &Member, _rooms: &[String]) {}

    /// A connection of this node joined `room`.
    fn joined(&self, _member: &Member, _room: &str) {}

    /// A connection of this node left `room`.
    fn left(&self, _member: &Member, _room: &str) {}

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

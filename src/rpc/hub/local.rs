//! The hub's own, in-process part: this node's connections and rooms and the fan-out to
//! them; and [`LocalBackend`], the single-node backend.

use super::backend::{Delivery, Health, HubBackend, Member, Position, Recovery, Target};
use crate::rpc::error::Error;
use crate::rpc::peer::Peer;
use crate::rpc::transport::Frame;
use crate::rpc::BoxFuture;
use crate::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// The registry of live connections and rooms. Cheap to clone; every clone is the same hub.
///
/// What it returns as [`Peer`]s (`members`, `peers`, `get`) is this node's; what spans
/// nodes (`room_presence`, `users_everywhere`, `history`) comes from its [`HubBackend`]
/// ([`LocalBackend`] unless made [`Hub::with_backend`]).
#[derive(Clone)]
pub struct Hub {
    state: Arc<RwLock<State>>,
    backend: Arc<dyn HubBackend>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::with_backend(LocalBackend::default())
    }
}

/// Forgets a listener (and tells the backend it went) when its stream is dropped; the
/// stream's receiver is dropped before it.
struct Unlisten {
    hub: WeakHub,
    room: String,
}

impl Drop for Unlisten {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            {
                let mut s = hub.write();
                if let Some(list) = s.listeners.get_mut(&self.room) {
                    list.retain(|l| !l.is_closed());
                    if list.is_empty() {
                        s.listeners.remove(&self.room);
                    }
                }
            }
            hub.backend.interested(&self.room, false);
        }
    }
}

/// A [`Hub`] that does not keep it alive (what a backend holds, see [`HubBackend::attach`]).
#[derive(Clone)]
pub struct WeakHub {
    state: Weak<RwLock<State>>,
    backend: Weak<dyn HubBackend>,
}

impl WeakHub {
    /// The hub, while any clone of it lives.
    pub fn upgrade(&self) -> Option<Hub> {
        Some(Hub {
            state: self.state.upgrade()?,
            backend: self.backend.upgrade()?,
        })
    }
}

#[derive(Default)]
struct State {
    peers: HashMap<u64, Peer>,
    rooms: HashMap<String, BTreeSet<u64>>,
    member_of: HashMap<u64, BTreeSet<String>>,
    /// Told of another node's members gone with it ([`Hub::on_evicted`]).
    on_evicted: Vec<EvictedHook>,
    /// In-process listeners of a room's broadcasts ([`Hub::listen`]).
    listeners: HashMap<String, Vec<tokio::sync::mpsc::Sender<Broadcast>>>,
}

type EvictedHook = Arc<dyn Fn(&Hub, &[(Member, Vec<String>)]) + Send + Sync>;

/// A push delivered to a room, as a [`Hub::listen`] stream yields it.
#[derive(Clone, Debug, PartialEq)]
pub struct Broadcast {
    /// The method the room's peers were called with (`"message"`).
    pub method: String,
    /// Its arguments.
    pub args: Vec<Value>,
}

/// How many broadcasts a listener may fall behind by; past that it misses them (it is told
/// nothing: a slow subscriber must not hold up the room).
const LISTENER_QUEUE: usize = 256;

impl Hub {
    /// An empty hub, on one node.
    pub fn new() -> Hub {
        Hub::default()
    }

    /// An empty hub over `backend` (a cluster backend makes rooms, users and presence
    /// span nodes).
    pub fn with_backend(backend: impl HubBackend) -> Hub {
        let hub = Hub {
            state: Arc::default(),
            backend: Arc::new(backend),
        };
        hub.backend.attach(hub.downgrade());
        hub
    }

    /// A handle that does not keep the hub alive.
    pub fn downgrade(&self) -> WeakHub {
        WeakHub {
            state: Arc::downgrade(&self.state),
            backend: Arc::downgrade(&self.backend),
        }
    }

    /// This node's id in [`Member::node`] (`""` on one node).
    pub fn node(&self) -> &str {
        self.backend.node()
    }

    /// How what spans nodes is doing ([`HubBackend::health`]): always ok on one node.
    pub fn health(&self) -> Health {
        self.backend.health()
    }

    /// Call `hook` with the members (and each one's rooms) of another node that was
    /// dropped for going silent (killed, cut off): they left without a word. Every node
    /// calls its hooks (for its own members' sake): deliver notices with
    /// [`Hub::deliver_local`] to reach each member once.
    pub fn on_evicted(
        &self,
        hook: impl Fn(&Hub, &[(Member, Vec<String>)]) + Send + Sync + 'static,
    ) {
        self.write().on_evicted.push(Arc::new(hook));
    }

    /// What a cluster backend calls when it dropped a silent node's `members`.
    pub fn evicted(&self, members: &[(Member, Vec<String>)]) {
        let hooks = self.read().on_evicted.clone();
        for hook in hooks {
            hook(self, members);
        }
    }

    /// Leave the cluster (graceful shutdown; see [`HubBackend::shutdown`]).
    pub fn leave_cluster(&self) -> BoxFuture<()> {
        self.backend.shutdown()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `peer` as every node sees it.
    fn member(&self, peer: &Peer) -> Member {
        Member {
            node: self.backend.node().to_owned(),
            conn: peer.id(),
            user: peer.user().map(str::to_owned),
        }
    }

    #[cfg(feature = "server")]
    pub(crate) fn add(&self, peer: Peer) {
        self.backend.connected(&self.member(&peer));
        self.write().peers.insert(peer.id(), peer);
    }

    /// Forget a connection; it leaves every room it was in. Returns those rooms.
    #[cfg(feature = "server")]
    pub(crate) fn remove(&self, id: u64) -> Vec<String> {
        let (peer, rooms) = self.remove_local(id);
        if let Some(peer) = peer {
            self.backend.disconnected(&self.member(&peer), &rooms);
        }
        rooms
    }

    #[cfg(feature = "server")]
    fn remove_local(&self, id: u64) -> (Option<Peer>, Vec<String>) {
        let mut s = self.write();
        let peer = s.peers.remove(&id);
        let rooms: Vec<String> = s
            .member_of
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for r in &rooms {
            if let Some(m) = s.rooms.get_mut(r) {
                m.remove(&id);
                if m.is_empty() {
                    s.rooms.remove(r);
                }
            }
        }
        (peer, rooms)
    }

    /// The connection with this id.
    pub fn get(&self, id: u64) -> Option<Peer> {
        self.read().peers.get(&id).cloned()
    }

    /// Every live connection.
    pub fn peers(&self) -> Vec<Peer> {
        self.read().peers.values().cloned().collect()
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.read().peers.len()
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.read().peers.is_empty()
    }

    /// Presence on this node: each connected user with the number of their connections.
    pub fn users(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in self.read().peers.values() {
            if let Some(u) = p.user() {
                *out.entry(u.to_owned()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Put connection `id` in `room` (made on first join). False if `id` is not connected.
    pub fn join(&self, id: u64, room: &str) -> bool {
        let peer = {
            let mut s = self.write();
            let Some(peer) = s.peers.get(&id).cloned() else {
                return false;
            };
            s.rooms.entry(room.to_owned()).or_default().insert(id);
            s.member_of.entry(id).or_default().insert(room.to_owned());
            peer
        };
        self.backend.joined(&self.member(&peer), room);
        true
    }

    /// Resolves once pushes that other nodes send to `room` reach this node's members: at
    /// once on one node; with a cluster backend, once this node's subscription to the room
    /// (queued by the room's first [`join`](Hub::join) or [`listen`](Hub::listen) here) is in
    /// place, at once when it already was or Redis is unreachable, and at most after the
    /// backend's timeout. A connection that joined and then awaited this gets every later
    /// push to the room from any node while Redis is up.
    pub fn listening(&self, room: &str) -> BoxFuture<()> {
        self.backend.listening(room)
    }

    /// Take connection `id` out of `room`; the room disappears with its last member.
    pub fn leave(&self, id: u64, room: &str) -> bool {
        let (was, peer) = {
            let mut s = self.write();
            let was = s.member_of.get_mut(&id).is_some_and(|r| r.remove(room));
            if let Some(m) = s.rooms.get_mut(room) {
                m.remove(&id);
                if m.is_empty() {
                    s.rooms.remove(room);
                }
            }
            (was, s.peers.get(&id).cloned())
        };
        if let (true, Some(peer)) = (was, peer) {
            self.backend.left(&self.member(&peer), room);
        }
        was
    }

    /// The rooms that exist (have members).
    pub fn rooms(&self) -> Vec<String> {
        self.read().rooms.keys().cloned().collect()
    }

    /// The rooms connection `id` is in.
    pub fn rooms_of(&self, id: u64) -> Vec<String> {
        self.read()
            .member_of
            .get(&id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The members of `room` on this node, in connection order.
    pub fn members(&self, room: &str) -> Vec<Peer> {
        let s = self.read();
        s.rooms
            .get(room)
            .map(|ids| ids.iter().filter_map(|i| s.peers.get(i).cloned()).collect())
            .unwrap_or_default()
    }

    /// Call `method(args)` on every member of `room` except `except` (a connection of this
    /// node), without waiting for replies. Returns how many connections of this node it was
    /// queued for; the backend publishes it once for the other nodes.
    pub fn broadcast(
        &self,
        room: &str,
        method: &str,
        args: Vec<Value>,
        except: Option<u64>,
    ) -> usize {
        self.send(Target::Room { room, except }, method, args)
    }

    /// Call `method(args)` on every connection of `user`.
    pub fn send_to_user(&self, user: &str, method: &str, args: Vec<Value>) -> usize {
        self.send(Target::User(user), method, args)
    }

    /// Call `method(args)` on every connection.
    pub fn send_all(&self, method: &str, args: Vec<Value>) -> usize {
        self.send(Target::All, method, args)
    }

    /// Deliver here, then publish once; or, for a sequenced room (see
    /// [`HubBackend::sequenced`]), hand it to the backend whole. Returns how many
    /// connections of this node it is for.
    fn send(&self, target: Target<'_>, method: &str, args: Vec<Value>) -> usize {
        let delivery = Delivery {
            target,
            method,
            args: &args,
        };
        if self.backend.sequenced(&delivery) {
            return match target {
                Target::Room { room, except } => self
                    .read()
                    .rooms
                    .get(room)
                    .map_or(0, |m| m.iter().filter(|i| Some(**i) != except).count()),
                _ => 0,
            };
        }
        let sent = self.deliver_local(target, method, &args);
        self.backend.publish(&delivery);
        sent
    }

    /// Every later broadcast to `room` on this node (from this node, or published by
    /// another through the backend), as a stream: what feeds a tRPC subscription from a
    /// room. The stream ends when the hub is dropped; dropping it stops listening. A
    /// listener more than 256 broadcasts behind misses the ones that do not fit. With a
    /// cluster backend the node hears the room while it has a listener, members or not
    /// ([`listening`](Hub::listening) says when that is in place).
    pub fn listen(&self, room: &str) -> impl futures_util::Stream<Item = Broadcast> + Send {
        let (tx, rx) = tokio::sync::mpsc::channel(LISTENER_QUEUE);
        {
            let mut s = self.write();
            let list = s.listeners.entry(room.to_owned()).or_default();
            list.retain(|l| !l.is_closed());
            list.push(tx);
        }
        self.backend.interested(room, true);
        let gone = Unlisten {
            hub: self.downgrade(),
            room: room.to_owned(),
        };
        futures_util::stream::unfold((rx, gone), |(mut rx, gone)| async move {
            rx.recv().await.map(|b| (b, (rx, gone)))
        })
    }

    /// Hand a broadcast to `room`'s listeners; forget those that stopped listening.
    fn notify(&self, room: &str, method: &str, args: &[Value]) {
        let closed = {
            let s = self.read();
            let Some(list) = s.listeners.get(room) else {
                return;
            };
            let b = Broadcast {
                method: method.to_owned(),
                args: args.to_vec(),
            };
            let gone = |r| matches!(r, Err(tokio::sync::mpsc::error::TrySendError::Closed(_)));
            let mut closed = false;
            // One copy per listener but the last, which takes the original.
            if let Some((last, rest)) = list.split_last() {
                for l in rest {
                    closed |= gone(l.try_send(b.clone()));
                }
                closed |= gone(last.try_send(b));
            }
            closed
        };
        if closed {
            let mut s = self.write();
            if let Some(list) = s.listeners.get_mut(room) {
                list.retain(|l| !l.is_closed());
                if list.is_empty() {
                    s.listeners.remove(room);
                }
            }
        }
    }

    /// Deliver a push to this node's recipients only: what a cluster backend calls with
    /// what another node published. Returns how many it was queued for.
    pub fn deliver_local(&self, target: Target<'_>, method: &str, args: &[Value]) -> usize {
        self.deliver_where(target, method, args, &|_| true)
    }

    /// [`Hub::deliver_local`] to the recipients that `keep` accepts.
    pub(crate) fn deliver_where(
        &self,
        target: Target<'_>,
        method: &str,
        args: &[Value],
        keep: &dyn Fn(&Peer) -> bool,
    ) -> usize {
        if let Target::Room { room, .. } = target {
            self.notify(room, method, args);
        }
        let mut peers: Vec<Peer> = match target {
            Target::Room { room, except } => self
                .members(room)
                .into_iter()
                .filter(|p| Some(p.id()) != except)
                .collect(),
            Target::User(user) => self
                .read()
                .peers
                .values()
                .filter(|p| p.user() == Some(user))
                .cloned()
                .collect(),
            Target::All => self.peers(),
        };
        peers.retain(|p| keep(p));
        fanout(&peers, method, args)
    }

    /// Put connection `id` in `room` after replaying to it what the room's recoverable
    /// history holds after `since` (its last position, from a trailing `{"__pc": …}`
    /// argument of the pushes it got), on whichever node it had it from. Nothing is lost or
    /// repeated between the replay and the live pushes; when that cannot be promised (the
    /// gap is older than the history kept, the epoch changed, the room is not recoverable,
    /// the backend is unreachable) it joins all the same and [`Recovery::recovered`] is
    /// false, with the reason.
    pub fn join_from(&self, id: u64, room: &str, since: Position) -> BoxFuture<Recovery> {
        let Some(peer) = self.get(id) else {
            return Box::pin(std::future::ready(Recovery::failed("not connected")));
        };
        if !self.backend.recoverable(room) {
            self.join(id, room);
            return Box::pin(std::future::ready(Recovery::failed(
                "the room keeps no recoverable history",
            )));
        }
        self.backend.resume(&self.member(&peer), room, since)
    }

    /// The members of `room` on every node, as identities.
    pub fn room_presence(&self, room: &str) -> BoxFuture<Vec<Member>> {
        let local = self.members(room).iter().map(|p| self.member(p)).collect();
        self.backend.room_presence(room, local)
    }

    /// Each connected user on every node, with their number of connections.
    pub fn users_everywhere(&self) -> BoxFuture<BTreeMap<String, usize>> {
        self.backend.users(self.users())
    }

    /// Append `message` to `room`'s history (kept by the backend), which keeps the last
    /// `cap`.
    pub fn append_history(&self, room: &str, message: Value, cap: usize) -> BoxFuture<()> {
        self.backend.append_history(room, message, cap)
    }

    /// The last `limit` messages of `room`'s history, oldest first.
    pub fn history(&self, room: &str, limit: usize) -> BoxFuture<Vec<Value>> {
        self.backend.history(room, limit)
    }

    /// Call `method(args)` on connection `id`.
    pub fn send_to(&self, id: u64, method: &str, args: Vec<Value>) -> Result<(), Error> {
        let peer = self.get(id).ok_or_else(Error::closed)?;
        peer.push(method, args)
    }

    /// Close every connection (graceful shutdown sends 1001, "going away").
    pub fn close_all(&self, code: u16, reason: &str) {
        for p in self.peers() {
            p.disconnect(code, reason);
        }
    }
}

/// Encode the push once per (codec, protocol) in use, then queue the same frame for each
/// peer of that group.
fn fanout(peers: &[Peer], method: &str, args: &[Value]) -> usize {
    // A handful of groups at most: a list searched in order, the key copied once per group
    // (not once per peer).
    let mut frames: Vec<((String, bool), Option<Frame>)> = Vec::new();
    let mut sent = 0;
    for p in peers {
        // A peer that has not spoken yet gets the push once its protocol is known.
        match p.hold(method, args) {
            Ok(true) => {
                sent += 1;
                continue;
            }
            Err(_) => continue,
            Ok(false) => {}
        }
        let enc = p.encoding();
        let (name, legacy) = enc.key();
        let i = match frames
            .iter()
            .position(|((n, l), _)| n == name && *l == legacy)
        {
            Some(i) => i,
            None => {
                let frame = p.0.proto.push_frame(method, args.to_vec(), &enc);
                frames.push(((name.to_owned(), legacy), frame.ok().flatten()));
                frames.len() - 1
            }
        };
        if let Some(f) = &frames[i].1 {
            if p.push_frame(f.clone()).is_ok() {
                sent += 1;
            }
        }
    }
    sent
}

/// The single-node backend: nothing to publish; presence is this node's; room history is
/// kept in process, for at most `max_rooms` rooms (past that, the room whose last append is
/// the oldest is dropped).
pub struct LocalBackend {
    history: Mutex<Histories>,
    max_rooms: usize,
}

#[derive(Default)]
struct Histories {
    rooms: HashMap<String, (u64, VecDeque<Value>)>,
    appends: u64,
}

impl Default for LocalBackend {
    fn default() -> LocalBackend {
        LocalBackend::new(1024)
    }
}

impl LocalBackend {
    /// A backend keeping the history of at most `max_rooms` rooms.
    pub fn new(max_rooms: usize) -> LocalBackend {
        LocalBackend {
            history: Mutex::default(),
            max_rooms: max_rooms.max(1),
        }
    }
}

fn ready<T: Send + 'static>(value: T) -> BoxFuture<T> {
    Box::pin(std::future::ready(value))
}

impl HubBackend for LocalBackend {
    fn publish(&self, _delivery: &Delivery<'_>) {}

    fn room_presence(&self, _room: &str, local: Vec<Member>) -> BoxFuture<Vec<Member>> {
        ready(local)
    }

    fn users(&self, local: BTreeMap<String, usize>) -> BoxFuture<BTreeMap<String, usize>> {
        ready(local)
    }

    fn append_history(&self, room: &str, message: Value, cap: usize) -> BoxFuture<()> {
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if !h.rooms.contains_key(room) && h.rooms.len() >= self.max_rooms {
            let oldest = h.rooms.iter().min_by_key(|(_, (at, _))| *at);
            if let Some(k) = oldest.map(|(k, _)| k.clone()) {
                h.rooms.remove(&k);
            }
        }
        h.appends += 1;
        let at = h.appends;
        let (last, q) = h.rooms.entry(room.to_owned()).or_default();
        *last = at;
        q.push_back(message);
        while q.len() > cap {
            q.pop_front();
        }
        ready(())
    }

    fn history(&self, room: &str, limit: usize) -> BoxFuture<Vec<Value>> {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let q = h.rooms.get(room).map(|(_, q)| q);
        let out = q.map_or_else(Vec::new, |q| {
            q.iter()
                .skip(q.len().saturating_sub(limit))
                .cloned()
                .collect()
        });
        ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_history_is_capped_per_room_and_in_rooms() {
        let b = LocalBackend::new(2);
        for i in 0..5 {
            b.append_history("a", Value::from(i), 3).await;
        }
        b.append_history("b", Value::from(9), 3).await;
        let a = b.history("a", 10).await;
        assert_eq!(a, [Value::from(2), Value::from(3), Value::from(4)]);
        assert_eq!(b.history("a", 1).await, [Value::from(4)]);
        b.append_history("c", Value::from(7), 3).await;
        assert!(
            b.history("a", 10).await.is_empty(),
            "a was appended to last the longest ago"
        );
        assert_eq!(b.history("b", 10).await, [Value::from(9)]);
    }
}

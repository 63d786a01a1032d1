//! [`Hub`]: the live connections of a server, by id, by user and by room, with sends to one,
//! to a user, to a room or to everyone. A message is encoded once per codec in use, not once
//! per recipient.

use super::error::Error;
use super::peer::Peer;
use super::transport::Frame;
use crate::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// The registry of live connections and rooms. Cheap to clone; every clone is the same hub.
#[derive(Clone, Default)]
pub struct Hub(Arc<RwLock<State>>);

#[derive(Default)]
struct State {
    peers: HashMap<u64, Peer>,
    rooms: HashMap<String, BTreeSet<u64>>,
    member_of: HashMap<u64, BTreeSet<String>>,
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Hub {
        Hub::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add(&self, peer: Peer) {
        self.write().peers.insert(peer.id(), peer);
    }

    /// Forget a connection; it leaves every room it was in. Returns those rooms.
    pub(crate) fn remove(&self, id: u64) -> Vec<String> {
        let mut s = self.write();
        s.peers.remove(&id);
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
        rooms
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

    /// Presence: each connected user with the number of their connections.
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
        let mut s = self.write();
        if !s.peers.contains_key(&id) {
            return false;
        }
        s.rooms.entry(room.to_owned()).or_default().insert(id);
        s.member_of.entry(id).or_default().insert(room.to_owned());
        true
    }

    /// Take connection `id` out of `room`; the room disappears with its last member.
    pub fn leave(&self, id: u64, room: &str) -> bool {
        let mut s = self.write();
        let was = s.member_of.get_mut(&id).is_some_and(|r| r.remove(room));
        if let Some(m) = s.rooms.get_mut(room) {
            m.remove(&id);
            if m.is_empty() {
                s.rooms.remove(room);
            }
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

    /// The members of `room`, in connection order.
    pub fn members(&self, room: &str) -> Vec<Peer> {
        let s = self.read();
        s.rooms
            .get(room)
            .map(|ids| ids.iter().filter_map(|i| s.peers.get(i).cloned()).collect())
            .unwrap_or_default()
    }

    /// Call `method(args)` on every member of `room` except `except`, without waiting for
    /// replies. Returns how many connections it was queued for.
    pub fn broadcast(
        &self,
        room: &str,
        method: &str,
        args: Vec<Value>,
        except: Option<u64>,
    ) -> usize {
        let peers: Vec<Peer> = self
            .members(room)
            .into_iter()
            .filter(|p| Some(p.id()) != except)
            .collect();
        fanout(&peers, method, args)
    }

    /// Call `method(args)` on every connection of `user`.
    pub fn send_to_user(&self, user: &str, method: &str, args: Vec<Value>) -> usize {
        let peers: Vec<Peer> = self
            .read()
            .peers
            .values()
            .filter(|p| p.user() == Some(user))
            .cloned()
            .collect();
        fanout(&peers, method, args)
    }

    /// Call `method(args)` on every connection.
    pub fn send_all(&self, method: &str, args: Vec<Value>) -> usize {
        fanout(&self.peers(), method, args)
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
fn fanout(peers: &[Peer], method: &str, args: Vec<Value>) -> usize {
    let mut frames: HashMap<(String, bool), Option<Frame>> = HashMap::new();
    let mut sent = 0;
    for p in peers {
        // A peer that has not spoken yet gets the push once its protocol is known.
        match p.hold(method, &args) {
            Ok(true) => {
                sent += 1;
                continue;
            }
            Err(_) => continue,
            Ok(false) => {}
        }
        let enc = p.encoding();
        let frame = frames.entry(enc.key()).or_insert_with(|| {
            p.0.proto
                .push_frame(method, args.clone(), &enc)
                .ok()
                .flatten()
        });
        if let Some(f) = frame {
            if p.push_frame(f.clone()).is_ok() {
                sent += 1;
            }
        }
    }
    sent
}

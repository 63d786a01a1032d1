//! Presence across nodes, without a single writer per key: each node is the only writer of
//! its own connections (user, rooms). It publishes its changes as versioned deltas and keeps
//! a snapshot in Redis; every node keeps a replica of every other node's share.
//!
//! * A delta applies when it continues the replica's version; a gap, an unknown node or a
//!   heartbeat announcing a newer version asks for the snapshot instead.
//! * A node's new incarnation (same id, restarted) replaces the old one's entries at once;
//!   an older incarnation is never taken back (no ghosts).
//! * A node silent for `down_after` is evicted, unless this node cannot hear even its own
//!   heartbeat (then it is this node that is cut off, and it evicts nobody).

use super::envelope::Op;
use crate::rpc::hub::Member;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// One connection's presence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Conn {
    pub user: Option<String>,
    pub rooms: BTreeSet<String>,
}

/// Apply `op` to `conns`.
fn apply(conns: &mut HashMap<u64, Conn>, op: &Op) {
    match op {
        Op::Connect { conn, user } => {
            conns.insert(
                *conn,
                Conn {
                    user: user.clone(),
                    rooms: BTreeSet::new(),
                },
            );
        }
        Op::Disconnect { conn } => {
            conns.remove(conn);
        }
        Op::Join { conn, room } => {
            if let Some(c) = conns.get_mut(conn) {
                c.rooms.insert(room.clone());
            }
        }
        Op::Leave { conn, room } => {
            if let Some(c) = conns.get_mut(conn) {
                c.rooms.remove(room);
            }
        }
    }
}

/// This node's presence: the truth, and the changes not yet published.
#[derive(Default)]
pub(crate) struct Local {
    pub conns: HashMap<u64, Conn>,
    /// Members per room on this node.
    pub rooms: HashMap<String, usize>,
    /// Local listeners per room ([`Hub::listen`](crate::rpc::Hub::listen)): not presence,
    /// but the node must hear the room while it has any.
    pub listeners: HashMap<String, usize>,
    /// The version of the last batch taken.
    pub version: u64,
    ops: Vec<Op>,
}

/// Changes to publish, `from` → `to`, and the snapshot entries they touch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub from: u64,
    pub to: u64,
    pub ops: Vec<Op>,
    /// Each touched connection's entry now (`None`: gone).
    pub entries: Vec<(u64, Option<Conn>)>,
}

/// What a room's local membership did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RoomChange {
    First,
    Empty,
}

impl Local {
    /// Record `op`; says whether a room got its first member here or lost its last.
    pub fn record(&mut self, op: Op) -> Vec<(String, RoomChange)> {
        let mut changes = Vec::new();
        let listened = &self.listeners;
        let mut count = |room: &str, joined: bool, rooms: &mut HashMap<String, usize>| {
            let c = rooms.entry(room.to_owned()).or_insert(0);
            let heard = listened.contains_key(room);
            if joined {
                *c += 1;
                if *c == 1 && !heard {
                    changes.push((room.to_owned(), RoomChange::First));
                }
            } else {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    rooms.remove(room);
                    if !heard {
                        changes.push((room.to_owned(), RoomChange::Empty));
                    }
                }
            }
        };
        match &op {
            Op::Join { conn, room } => {
                let new = self
                    .conns
                    .get(conn)
                    .is_some_and(|c| !c.rooms.contains(room));
                if !new {
                    return changes;
                }
                count(room, true, &mut self.rooms);
            }
            Op::Leave { conn, room } => {
                if !self.conns.get(conn).is_some_and(|c| c.rooms.contains(room)) {
                    return changes;
                }
                count(room, false, &mut self.rooms);
            }
            Op::Disconnect { conn } => {
                let Some(c) = self.conns.get(conn) else {
                    return changes;
                };
                for room in c.rooms.clone() {
                    count(&room, false, &mut self.rooms);
                }
            }
            Op::Connect { .. } => {}
        }
        apply(&mut self.conns, &op);
        self.ops.push(op);
        changes
    }

    /// A local listener of `room` came (`on`) or went; says whether the node must start
    /// or may stop hearing the room (it has no members there).
    pub fn listen(&mut self, room: &str, on: bool) -> Option<RoomChange> {
        let members = self.rooms.contains_key(room);
        let n = self.listeners.entry(room.to_owned()).or_insert(0);
        if on {
            *n += 1;
            (*n == 1 && !members).then_some(RoomChange::First)
        } else {
            *n = n.saturating_sub(1);
            if *n > 0 {
                return None;
            }
            self.listeners.remove(room);
            (!members).then_some(RoomChange::Empty)
        }
    }

    /// The rooms this node must hear: those with members or listeners here.
    pub fn heard(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.rooms.keys().cloned().collect();
        let extra = self
            .listeners
            .keys()
            .filter(|r| !self.rooms.contains_key(*r));
        rooms.extend(extra.cloned());
        rooms
    }

    /// The changes since the last batch, if any, as one version step.
    pub fn take_batch(&mut self) -> Option<Batch> {
        if self.ops.is_empty() {
            return None;
        }
        let ops = std::mem::take(&mut self.ops);
        let touched: BTreeSet<u64> = ops
            .iter()
            .map(|op| match op {
                Op::Connect { conn, .. }
                | Op::Disconnect { conn }
                | Op::Join { conn, .. }
                | Op::Leave { conn, .. } => *conn,
            })
            .collect();
        let entries = touched
            .into_iter()
            .map(|c| (c, self.conns.get(&c).cloned()))
            .collect();
        let from = self.version;
        self.version += 1;
        Some(Batch {
            from,
            to: self.version,
            ops,
            entries,
        })
    }

    /// Forget the unpublished changes: a full snapshot is about to be written.
    pub fn squash(&mut self) {
        if !self.ops.is_empty() {
            self.ops.clear();
            self.version += 1;
        }
    }
}

/// An evicted node's members, each with its rooms.
pub(crate) type Evicted = Vec<(Member, Vec<String>)>;

/// Another node's share, as this node knows it.
#[derive(Debug)]
struct Replica {
    inc: u64,
    version: u64,
    conns: HashMap<u64, Conn>,
    last_seen: Instant,
}

/// What to do after a control message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Need {
    Nothing,
    /// Fetch this node's snapshot.
    Snapshot(String),
}

/// The other nodes' presence.
#[derive(Default)]
pub(crate) struct Replicas {
    nodes: HashMap<String, Replica>,
    /// The newest incarnation seen per node: older ones are zombies.
    newest: HashMap<String, u64>,
    /// When each evicted node was evicted: its `newest` is forgotten long after.
    evicted: HashMap<String, Instant>,
}

/// How many `down_after`s an evicted node's newest incarnation is remembered (a zombie
/// of it is refused meanwhile).
const REMEMBER_EVICTED: u32 = 100;

impl Replicas {
    /// False for an incarnation older than one already seen (and notes a newer one).
    fn current(&mut self, node: &str, inc: u64) -> bool {
        let newest = self.newest.entry(node.to_owned()).or_insert(inc);
        if inc < *newest {
            return false;
        }
        *newest = inc;
        if self.nodes.get(node).is_some_and(|r| r.inc != inc) {
            self.nodes.remove(node);
        }
        true
    }

    /// A heartbeat of `node`'s incarnation `inc` at `version`.
    pub fn heartbeat(&mut self, node: &str, inc: u64, version: u64, now: Instant) -> Need {
        if !self.current(node, inc) {
            return Need::Nothing;
        }
        match self.nodes.get_mut(node) {
            Some(r) => {
                r.last_seen = now;
                if version > r.version {
                    Need::Snapshot(node.to_owned())
                } else {
                    Need::Nothing
                }
            }
            None => Need::Snapshot(node.to_owned()),
        }
    }

    /// A delta `from` → `to` of `node`'s incarnation `inc`.
    pub fn delta(
        &mut self,
        node: &str,
        inc: u64,
        from: u64,
        to: u64,
        ops: &[Op],
        now: Instant,
    ) -> Need {
        if !self.current(node, inc) {
            return Need::Nothing;
        }
        let r = self
            .nodes
            .entry(node.to_owned())
            .or_insert_with(|| Replica {
                inc,
                version: 0,
                conns: HashMap::new(),
                last_seen: now,
            });
        r.last_seen = now;
        if to <= r.version {
            return Need::Nothing;
        }
        if from != r.version {
            return Need::Snapshot(node.to_owned());
        }
        for op in ops {
            apply(&mut r.conns, op);
        }
        r.version = to;
        Need::Nothing
    }

    /// `node`'s snapshot, as read from Redis `age` after its last refresh.
    pub fn snapshot(
        &mut self,
        node: &str,
        inc: u64,
        version: u64,
        conns: HashMap<u64, Conn>,
        last_seen: Instant,
    ) {
        if !self.current(node, inc) {
            return;
        }
        match self.nodes.get_mut(node) {
            Some(r) if r.version > version => {}
            Some(r) => {
                r.version = version;
                r.conns = conns;
                r.last_seen = r.last_seen.max(last_seen);
            }
            None => {
                self.nodes.insert(
                    node.to_owned(),
                    Replica {
                        inc,
                        version,
                        conns,
                        last_seen,
                    },
                );
            }
        }
    }

    /// `node` left (graceful shutdown).
    pub fn leave(&mut self, node: &str, inc: u64) {
        if self.current(node, inc) {
            self.nodes.remove(node);
        }
    }

    /// Drop the nodes silent for `down_after`; returns them, with their members and each
    /// member's rooms.
    pub fn evict(&mut self, now: Instant, down_after: Duration) -> Vec<(String, Evicted)> {
        let dead: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last_seen) >= down_after)
            .map(|(n, _)| n.clone())
            .collect();
        let mut out = Vec::new();
        for n in dead {
            let Some(r) = self.nodes.remove(&n) else {
                continue;
            };
            self.evicted.insert(n.clone(), now);
            let mut members: Evicted = r
                .conns
                .into_iter()
                .map(|(conn, c)| {
                    let member = Member {
                        node: n.clone(),
                        conn,
                        user: c.user,
                    };
                    (member, c.rooms.into_iter().collect())
                })
                .collect();
            members.sort();
            out.push((n, members));
        }
        let forget = down_after * REMEMBER_EVICTED;
        let nodes = &self.nodes;
        let newest = &mut self.newest;
        self.evicted.retain(|n, at| {
            if nodes.contains_key(n) {
                return false; // back
            }
            let keep = now.saturating_duration_since(*at) < forget;
            if !keep {
                newest.remove(n);
            }
            keep
        });
        out
    }

    /// How many nodes' newest incarnations are remembered.
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.newest.len()
    }

    /// Count every node as seen `now` (after this node was cut off itself).
    pub fn touch_all(&mut self, now: Instant) {
        for r in self.nodes.values_mut() {
            r.last_seen = now;
        }
    }

    /// How many other nodes are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The members of `room` on the other nodes.
    pub fn room_members(&self, room: &str) -> Vec<Member> {
        let mut out = Vec::new();
        for (node, r) in &self.nodes {
            for (id, c) in &r.conns {
                if c.rooms.contains(room) {
                    out.push(Member {
                        node: node.clone(),
                        conn: *id,
                        user: c.user.clone(),
                    });
                }
            }
        }
        out
    }

    /// Add the other nodes' users to `users`.
    pub fn add_users(&self, users: &mut BTreeMap<String, usize>) {
        for r in self.nodes.values() {
            for c in r.conns.values() {
                if let Some(u) = &c.user {
                    *users.entry(u.clone()).or_insert(0) += 1;
                }
            }
        }
    }

    /// Every connection known on other nodes, by node (the tests' view).
    #[cfg(test)]
    pub fn view(&self) -> BTreeMap<String, BTreeMap<u64, Conn>> {
        self.nodes
            .iter()
            .map(|(n, r)| {
                (
                    n.clone(),
                    r.conns.iter().map(|(k, v)| (*k, v.clone())).collect(),
                )
            })
            .collect()
    }
}

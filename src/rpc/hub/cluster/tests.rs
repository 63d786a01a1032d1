//! The cluster's protocol logic on an in-memory bus with injected faults, no Redis: nodes'
//! presence replicas converge to the truth after any schedule of dropped, repeated and
//! delayed messages, restarts and crashes, with no ghost of an old incarnation; pushes sent
//! again after a failed session are delivered once, in order.

use super::envelope::{Ctl, Op, Origin, Seen};
use super::presence::{Local, Need, Replicas};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NODES: usize = 3;
const DOWN: Duration = Duration::from_secs(6);

struct Node {
    id: String,
    inc: u64,
    local: Local,
    alive: bool,
    replicas: Replicas,
}

/// What Redis holds: each node's snapshot, written in order with its deltas.
type Store = BTreeMap<String, (u64, u64, BTreeMap<u64, super::presence::Conn>)>;

struct Sim {
    nodes: Vec<Node>,
    store: Store,
    delayed: Vec<(usize, Ctl)>,
    now: Instant,
}

impl Sim {
    fn new() -> Sim {
        let nodes = (0..NODES)
            .map(|i| Node {
                id: format!("n{i}"),
                inc: 1,
                local: Local::default(),
                alive: true,
                replicas: Replicas::default(),
            })
            .collect();
        // Each node writes its (empty) snapshot when it connects.
        let store = (0..NODES)
            .map(|i| (format!("n{i}"), (1, 0, BTreeMap::new())))
            .collect();
        Sim {
            nodes,
            store,
            delayed: Vec::new(),
            now: Instant::now(),
        }
    }

    fn origin(&self, n: usize) -> Origin {
        Origin {
            node: self.nodes[n].id.clone(),
            inc: self.nodes[n].inc,
        }
    }

    /// Node `to` receives `ctl` (and fetches a snapshot when told to).
    fn receive(&mut self, to: usize, ctl: &Ctl) {
        if !self.nodes[to].alive {
            return;
        }
        let now = self.now;
        let r = &mut self.nodes[to].replicas;
        let need = match ctl {
            Ctl::Heartbeat { origin, version } => {
                r.heartbeat(&origin.node, origin.inc, *version, now)
            }
            Ctl::Delta {
                origin,
                from,
                to,
                ops,
            } => r.delta(&origin.node, origin.inc, *from, *to, ops, now),
            Ctl::Leave { origin } => {
                r.leave(&origin.node, origin.inc);
                Need::Nothing
            }
        };
        if let Need::Snapshot(node) = need {
            if let Some((inc, v, conns)) = self.store.get(&node) {
                let conns = conns.iter().map(|(k, c)| (*k, c.clone())).collect();
                self.nodes[to]
                    .replicas
                    .snapshot(&node, *inc, *v, conns, now);
            }
        }
    }

    /// Publish `ctl` from `from`, each receiver's copy under `fault` (0 ok, 1 drop,
    /// 2 twice, 3 later).
    fn publish(&mut self, from: usize, ctl: Ctl, faults: &mut impl Iterator<Item = u8>) {
        for to in 0..NODES {
            if to == from {
                continue;
            }
            match faults.next().unwrap_or(0) % 4 {
                0 => self.receive(to, &ctl),
                1 => {}
                2 => {
                    self.receive(to, &ctl);
                    self.receive(to, &ctl);
                }
                _ => self.delayed.push((to, ctl.clone())),
            }
        }
    }

    fn act(
        &mut self,
        n: usize,
        kind: u8,
        conn: u64,
        room: u8,
        faults: &mut impl Iterator<Item = u8>,
    ) {
        self.now += Duration::from_millis(50);
        if !self.nodes[n].alive {
            if kind % 8 == 6 {
                self.restart(n, faults);
            }
            return;
        }
        let room = format!("r{}", room % 3);
        let op = match kind % 8 {
            0 | 1 => Op::Connect {
                conn,
                user: Some(format!("u{}", conn % 4)),
            },
            2 | 3 => Op::Join { conn, room },
            4 => Op::Leave { conn, room },
            5 => Op::Disconnect { conn },
            6 => return self.restart(n, faults),
            _ => {
                if conn % 5 == 0 {
                    self.nodes[n].alive = false; // crash: no word, its key stays until TTL
                } else {
                    let hb = Ctl::Heartbeat {
                        origin: self.origin(n),
                        version: self.nodes[n].local.version,
                    };
                    self.publish(n, hb, faults);
                }
                return;
            }
        };
        let node = &mut self.nodes[n];
        if matches!(op, Op::Connect { conn, .. } if node.local.conns.contains_key(&conn)) {
            return;
        }
        node.local.record(op);
        let Some(batch) = node.local.take_batch() else {
            return;
        };
        let entry = self.store.entry(node.id.clone()).or_default();
        for (id, c) in &batch.entries {
            match c {
                Some(c) => {
                    entry.2.insert(*id, c.clone());
                }
                None => {
                    entry.2.remove(id);
                }
            }
        }
        entry.0 = node.inc;
        entry.1 = batch.to;
        let delta = Ctl::Delta {
            origin: self.origin(n),
            from: batch.from,
            to: batch.to,
            ops: batch.ops,
        };
        self.publish(n, delta, faults);
    }

    /// A new incarnation: empty, its snapshot rewritten, a heartbeat.
    fn restart(&mut self, n: usize, faults: &mut impl Iterator<Item = u8>) {
        let node = &mut self.nodes[n];
        node.inc += 1;
        node.local = Local::default();
        node.alive = true;
        node.replicas = Replicas::default();
        self.store
            .insert(node.id.clone(), (node.inc, 0, BTreeMap::new()));
        let hb = Ctl::Heartbeat {
            origin: self.origin(n),
            version: 0,
        };
        self.publish(n, hb, faults);
    }

    /// Faults stop: late messages land, then every live node heartbeats (reliably, as its
    /// periodic heartbeat eventually does), and the silent are evicted.
    fn heal(&mut self) {
        for (to, ctl) in std::mem::take(&mut self.delayed) {
            self.receive(to, &ctl);
        }
        for round in 0..2 {
            if round == 1 {
                self.now += DOWN;
            }
            for n in 0..NODES {
                if self.nodes[n].alive {
                    let hb = Ctl::Heartbeat {
                        origin: self.origin(n),
                        version: self.nodes[n].local.version,
                    };
                    for to in 0..NODES {
                        if to != n {
                            self.receive(to, &hb);
                        }
                    }
                }
            }
            let now = self.now;
            for node in self.nodes.iter_mut().filter(|n| n.alive) {
                node.replicas.evict(now, DOWN);
            }
        }
    }
}

fn actions() -> impl Strategy<Value = Vec<(usize, u8, u64, u8)>> {
    prop::collection::vec((0..NODES, any::<u8>(), 0u64..6, any::<u8>()), 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn presence_replicas_converge_to_the_truth_with_no_ghosts(
        acts in actions(),
        faults in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut sim = Sim::new();
        let mut faults = faults.into_iter();
        for (n, kind, conn, room) in acts {
            sim.act(n, kind, conn, room, &mut faults);
        }
        sim.heal();
        for (i, node) in sim.nodes.iter().enumerate().filter(|(_, n)| n.alive) {
            let truth: BTreeMap<String, BTreeMap<u64, super::presence::Conn>> = sim
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, n)| *j != i && n.alive)
                .map(|(_, n)| (n.id.clone(), n.local.conns.iter().map(|(k, c)| (*k, c.clone())).collect()))
                .collect();
            prop_assert_eq!(node.replicas.view(), truth, "node {}", i);
        }
    }

    #[test]
    fn pushes_sent_again_after_failed_sessions_arrive_once_in_order(
        steps in prop::collection::vec(0u8..10, 1..200),
        lost in prop::collection::vec(any::<bool>(), 200),
    ) {
        // The outbox sends in order; a failed session sends again everything not acked;
        // pub/sub may lose a copy (while a subscriber reconnects).
        let origin = Origin { node: "n1".into(), inc: 7 };
        let (mut next, mut acked, mut wire) = (1u64, 0u64, Vec::new());
        for s in steps {
            match s {
                0 => next = acked + 1,          // session failed: resend from the last ack
                1 | 2 => acked = next - 1,      // Redis took all sent so far
                _ => { wire.push(next); next += 1; }
            }
        }
        let mut seen = Seen::default();
        let delivered: Vec<u64> = wire
            .iter()
            .enumerate()
            .filter(|(i, _)| !lost[*i % lost.len()])
            .map(|(_, s)| *s)
            .filter(|s| seen.fresh(&origin, *s))
            .collect();
        prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{:?}", delivered);
        // Without loss, every push that went out is delivered exactly once.
        let mut seen = Seen::default();
        let all: Vec<u64> = wire.iter().copied().filter(|s| seen.fresh(&origin, *s)).collect();
        let sent = wire.iter().copied().max().unwrap_or(0);
        prop_assert_eq!(all, (1..=sent).collect::<Vec<_>>());
    }
}

#[test]
fn an_old_incarnation_never_comes_back() {
    let mut r = Replicas::default();
    let now = Instant::now();
    let conn = |user: &str| Op::Connect {
        conn: 1,
        user: Some(user.into()),
    };
    assert_eq!(r.delta("n1", 5, 0, 1, &[conn("old")], now), Need::Nothing);
    // The node restarted: its new incarnation replaces the old one at once.
    assert_eq!(r.heartbeat("n1", 6, 0, now), Need::Snapshot("n1".into()));
    r.snapshot("n1", 6, 0, Default::default(), now);
    let mut users = BTreeMap::new();
    r.add_users(&mut users);
    assert!(users.is_empty(), "{users:?}");
    // A late delta of the old incarnation is ignored.
    assert_eq!(r.delta("n1", 5, 1, 2, &[conn("ghost")], now), Need::Nothing);
    r.add_users(&mut users);
    assert!(users.is_empty(), "{users:?}");
}

#[test]
fn evicted_nodes_are_forgotten_in_the_end() {
    let mut r = Replicas::default();
    let t0 = Instant::now();
    let down = Duration::from_secs(1);
    for n in 0..50 {
        let node = format!("random-{n}");
        r.snapshot(&node, 1, 0, Default::default(), t0);
    }
    assert_eq!(r.evict(t0 + down, down).len(), 50);
    assert_eq!(r.remembered(), 50, "kept a while: zombies are refused");
    r.evict(t0 + down * 200, down);
    assert_eq!(r.remembered(), 0, "then forgotten");
}

/// A room is heard while it has members or listeners here: subscribed at the first of
/// either, unsubscribed after the last of both, whatever the order.
#[test]
fn a_room_is_heard_while_it_has_members_or_listeners() {
    use super::presence::RoomChange::{Empty, First};
    let mut l = Local::default();
    let room = || "r".to_owned();
    l.record(Op::Connect {
        conn: 1,
        user: None,
    });
    assert_eq!(l.listen("r", true), Some(First));
    assert_eq!(
        l.record(Op::Join {
            conn: 1,
            room: room()
        }),
        vec![]
    );
    assert_eq!(l.listen("r", true), None);
    assert_eq!(l.listen("r", false), None);
    assert_eq!(l.listen("r", false), None, "a member is still here");
    assert_eq!(l.heard(), vec![room()]);
    assert_eq!(
        l.record(Op::Leave {
            conn: 1,
            room: room()
        }),
        vec![(room(), Empty)]
    );
    assert!(l.heard().is_empty());
    assert_eq!(
        l.record(Op::Join {
            conn: 1,
            room: room()
        }),
        vec![(room(), First)]
    );
    assert_eq!(l.listen("r", true), None);
    assert_eq!(
        l.record(Op::Disconnect { conn: 1 }),
        vec![],
        "a listener is still here"
    );
    assert_eq!(l.listen("r", false), Some(Empty));
}

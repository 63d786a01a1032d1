//! Three hubs in this process on one real `redis-server` (its own temporary unix socket):
//! the fast path (rooms that are not recoverable) for room broadcasts with an excluded
//! peer, sends to a user and to all, each exactly once and in each sender's order; presence
//! everywhere; a recoverable room whose gap is older than its stream says so.

use crate::serve::eventually;
use polycodec::rpc::cluster::{RedisBackend, RedisConfig};
use polycodec::rpc::{Api, Call, Client, Hub, Identity, Position, RpcServer};
use polycodec::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redis::RedisServer;

type Log = Arc<Mutex<Vec<(String, Value)>>>;

async fn node(
    redis: &RedisServer,
    id: &str,
    cfg: impl Fn(RedisConfig) -> RedisConfig,
) -> (Hub, String) {
    let base = RedisConfig::new(redis.url())
        .node_id(id)
        .heartbeat(Duration::from_millis(250), Duration::from_secs(1));
    let hub = Hub::with_backend(RedisBackend::start(cfg(base)).unwrap());
    for _ in 0..250 {
        if hub.health().ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(hub.health().ok, "{:?}", hub.health());
    let server = RpcServer::builder(Api::builder().build().unwrap())
        .hub(hub.clone())
        .authenticate(|req| {
            Ok(req.query("user").map(|user| Identity {
                user,
                data: Value::Null,
            }))
        })
        .build()
        .unwrap();
    let addr = crate::serve::serve_at("/ws", server).await;
    (hub, format!("ws://{addr}/ws"))
}

/// A client of `user` that logs `(method, first argument)` of every push.
async fn client(url: &str, user: &str, codec: &str) -> (Client, Log) {
    let log: Log = Arc::default();
    let mut api = Api::builder();
    for m in ["m", "u", "a"] {
        let log = log.clone();
        api = api.method(m, move |call: Call| {
            log.lock()
                .unwrap()
                .push((m.to_owned(), call.value(0).clone()));
            async { Ok(Value::Undefined) }
        });
    }
    let c = Client::builder(format!("{url}?user={user}"))
        .codecs([codec])
        .expose(api.build().unwrap())
        .connect()
        .await
        .unwrap();
    (c, log)
}

/// The id of `user`'s newest connection on `hub`, once the server has registered it (a
/// client's `connect` returns when the handshake is done, a moment before that).
async fn peer_of(hub: &Hub, user: &str) -> u64 {
    let newest = || {
        hub.peers()
            .iter()
            .filter(|p| p.user() == Some(user))
            .map(|p| p.id())
            .max()
    };
    eventually(&format!("{user} registered"), || newest().is_some()).await;
    newest().unwrap()
}

fn count(log: &Log, method: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m == method)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_room_user_and_all_sends_reach_every_node_once_in_order() {
    let redis = RedisServer::start();
    let mut hubs = Vec::new();
    for i in 1..=3 {
        hubs.push(node(&redis, &format!("n{i}"), |c| c).await);
    }
    let codecs = ["msgpack", "json", "superjson"];
    let mut clients = Vec::new();
    for (i, (hub, url)) in hubs.iter().enumerate() {
        for user in ["ann", ["bob", "cy", "dee"][i]] {
            let (c, log) = client(url, user, codecs[clients.len() % 3]).await;
            let id = peer_of(hub, user).await;
            assert!(hub.join(id, "fast"));
            clients.push((c, log, i, user, id));
        }
    }
    for (hub, _) in &hubs {
        for _ in 0..250 {
            if hub.room_presence("fast").await.len() == 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            hub.room_presence("fast").await.len(),
            6,
            "presence everywhere"
        );
        let users = hub.users_everywhere().await;
        let want: BTreeMap<String, usize> = [("ann", 3), ("bob", 1), ("cy", 1), ("dee", 1)]
            .map(|(u, n)| (u.to_owned(), n))
            .into();
        assert_eq!(users, want);
        assert_eq!(hub.users().len(), 2, "users() is this node's");
    }
    // A room broadcast from n1 without ann's connection there; 200 in a row, in order.
    let ann1 = clients[0].4;
    for n in 0..200 {
        hubs[0]
            .0
            .broadcast("fast", "m", vec![Value::from(n)], Some(ann1));
    }
    hubs[1]
        .0
        .send_to_user("ann", "u", vec![Value::from("to ann")]);
    hubs[2].0.send_all("a", vec![Value::from("to all")]);
    eventually("every push arrived", || {
        clients.iter().enumerate().all(|(i, (_, log, ..))| {
            count(log, "m") == if i == 0 { 0 } else { 200 } && count(log, "a") == 1
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, (_, log, node, user, _)) in clients.iter().enumerate() {
        let got: Vec<f64> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "m")
            .filter_map(|(_, v)| v.as_f64())
            .collect();
        let want: Vec<f64> = if i == 0 {
            vec![]
        } else {
            (0..200).map(f64::from).collect()
        };
        assert_eq!(
            got,
            want,
            "client {i} on n{}: once each, in order",
            node + 1
        );
        assert_eq!(count(log, "u"), usize::from(*user == "ann"), "client {i}");
        assert_eq!(count(log, "a"), 1, "client {i}");
    }
    for (hub, _) in &hubs {
        let h = hub.health();
        assert!(h.ok, "{h:?}");
    }
}

/// A node hears a room only once its SUBSCRIBE is in: `listening` says when. A member that
/// joined a room new to its node and awaited it gets a push another node sends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_awaited_listening_gets_the_next_push_from_another_node() {
    let redis = RedisServer::start();
    let (a, url) = node(&redis, "n1", |c| c).await;
    let (b, _) = node(&redis, "n2", |c| c).await;
    let (_c, log) = client(&url, "ann", "msgpack").await;
    let id = peer_of(&a, "ann").await;
    for k in 0..30 {
        let room = format!("fresh-{k}");
        assert!(a.join(id, &room));
        a.listening(&room).await;
        b.broadcast(&room, "m", vec![Value::from(k)], None);
        eventually(&format!("push {k} arrived"), || count(&log, "m") == k + 1).await;
    }
    // Once in place, it resolves at once; for a room with no member here, too.
    tokio::time::timeout(Duration::from_millis(100), a.listening("fresh-0"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_millis(100), a.listening("nobody"))
        .await
        .unwrap();
}

/// A listener (what feeds a tRPC subscription from a room) makes its node hear the room
/// even with no member there: another node's broadcasts reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_hears_a_room_that_has_no_member_on_its_node() {
    use futures_util::StreamExt;
    let redis = RedisServer::start();
    let (a, url) = node(&redis, "n1", |c| c).await;
    let (b, _) = node(&redis, "n2", |c| c).await;
    let (_c, log) = client(&url, "ann", "json").await;
    let id = peer_of(&a, "ann").await;
    assert!(a.join(id, "lobby"));
    a.listening("lobby").await;
    for round in 0..2 {
        let mut heard = Box::pin(b.listen("lobby"));
        b.listening("lobby").await;
        a.broadcast("lobby", "m", vec![Value::from(round)], None);
        let got = tokio::time::timeout(Duration::from_secs(5), heard.next())
            .await
            .expect("the listener on the other node hears the room")
            .unwrap();
        assert_eq!(
            (got.method.as_str(), &got.args[..]),
            ("m", &[Value::from(round)][..])
        );
        // Dropped: the node may stop hearing the room; listening again brings it back.
    }
    eventually("the member got both", || count(&log, "m") == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_older_than_the_stream_is_told_plainly() {
    let redis = RedisServer::start();
    let small = |c: RedisConfig| c.recoverable("old:*").stream(5, Duration::from_secs(60));
    let (hub, url) = node(&redis, "n1", small).await;
    let (_c, log) = client(&url, "ann", "json").await;
    let id = peer_of(&hub, "ann").await;
    hub.join(id, "old:room");
    for n in 0..3 {
        hub.broadcast("old:room", "m", vec![Value::from(n)], None);
    }
    eventually("three", || count(&log, "m") == 3).await;
    assert_eq!(hub.room_presence("old:room").await.len(), 1);
    drop(_c);
    let epoch = epoch_of(&redis);
    for n in 3..20 {
        hub.broadcast("old:room", "m", vec![Value::from(n)], None);
    }
    let (_d, _) = client(&url, "bob", "json").await;
    let id = peer_of(&hub, "bob").await;
    let r = hub
        .join_from(
            id,
            "old:room",
            Position {
                epoch: epoch.clone(),
                offset: 3,
            },
        )
        .await;
    assert!(!r.recovered, "{r:?}");
    assert!(r.reason.as_deref().unwrap_or("").contains("older"), "{r:?}");
    assert_eq!(hub.rooms_of(id), ["old:room"], "it joined all the same");
    let (_e, log) = client(&url, "cy", "json").await;
    let id = peer_of(&hub, "cy").await;
    let r = hub
        .join_from(id, "old:room", Position { epoch, offset: 17 })
        .await;
    assert!(r.recovered && r.replayed == 3, "{r:?}");
    eventually("the last three replayed", || count(&log, "m") == 3).await;
}

/// A recoverable room that lost its last member here and got one again starts a new count:
/// what other nodes published meanwhile is not filled in to the newcomer (who did not ask
/// for it with a position).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recoverable_room_heard_again_fills_in_nothing_from_while_it_was_not() {
    let redis = RedisServer::start();
    let rec = |c: RedisConfig| c.recoverable("rec:*");
    // Heartbeats (which also prune what a node no longer hears) far apart: the room is
    // heard again before the next one.
    let slow = |c: RedisConfig| rec(c).heartbeat(Duration::from_secs(5), Duration::from_secs(20));
    let (a, url) = node(&redis, "n1", slow).await;
    let (b, _) = node(&redis, "n2", rec).await;
    let (_c, log) = client(&url, "ann", "json").await;
    let id = peer_of(&a, "ann").await;
    assert!(a.join(id, "rec:room"));
    a.listening("rec:room").await;
    b.broadcast("rec:room", "m", vec![Value::from(0)], None);
    eventually("the first", || count(&log, "m") == 1).await;
    assert!(a.leave(id, "rec:room"));
    for n in 1..4 {
        b.broadcast("rec:room", "m", vec![Value::from(n)], None);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a.join(id, "rec:room"));
    a.listening("rec:room").await;
    b.broadcast("rec:room", "m", vec![Value::from(4)], None);
    eventually("the next", || count(&log, "m") >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<f64> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, v)| v.as_f64())
        .collect();
    assert_eq!(got, [0.0, 4.0]);
}

/// Redis hung (SIGSTOP, not dead): a recoverable room's push reaches the sender's own
/// node within the command timeout, in order with later ones; after SIGCONT the retry of
/// what hung Redis had taken gets no second offset, delivery or history entry.
#[tokio::test]
async fn a_hung_redis_delays_no_local_delivery_and_duplicates_nothing() {
    let redis = RedisServer::start();
    let cfg = |c: RedisConfig| {
        c.recoverable("r:*")
            .timeout(Duration::from_millis(300))
            .backoff(Duration::from_millis(50), Duration::from_millis(200))
    };
    let (h1, url1) = node(&redis, "n1", cfg).await;
    let (h2, url2) = node(&redis, "n2", cfg).await;
    let mut logs = Vec::new();
    let mut keep = Vec::new();
    for (hub, url, user) in [(&h1, &url1, "ann"), (&h1, &url1, "bob"), (&h2, &url2, "cy")] {
        let (c, log) = client(url, user, "json").await;
        let id = peer_of(hub, user).await;
        hub.join(id, "r:room");
        keep.push(c);
        logs.push(log);
    }
    // Each node told the other (a node subscribes to a room before it says it is in it).
    for hub in [&h1, &h2] {
        eventually("presence", || {
            futures_util::FutureExt::now_or_never(hub.room_presence("r:room"))
                .is_some_and(|m| m.len() == 3)
        })
        .await;
    }
    let got = |log: &Log| -> Vec<f64> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "m")
            .filter_map(|(_, v)| v.as_f64())
            .collect()
    };
    h1.broadcast("r:room", "m", vec![Value::from(0)], None);
    eventually("m0 everywhere", || logs.iter().all(|l| got(l) == [0.0])).await;

    redis.signal("STOP");
    let sent = std::time::Instant::now();
    h1.broadcast("r:room", "m", vec![Value::from(1)], None);
    let history = h1.append_history("r:room", Value::from(1), 50);
    let history = tokio::spawn(history);
    eventually("m1 on the sender's node", || got(&logs[1]) == [0.0, 1.0]).await;
    let took = sent.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    h1.broadcast("r:room", "m", vec![Value::from(2)], None);
    eventually("m2 after m1", || got(&logs[1]) == [0.0, 1.0, 2.0]).await;
    redis.signal("CONT");
    let _ = history.await;
    eventually("both nodes back", || h1.health().ok && h2.health().ok).await;
    h1.broadcast("r:room", "m", vec![Value::from(3)], None);
    eventually("m3 everywhere", || {
        logs.iter().all(|l| got(l).last() == Some(&3.0))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (log, who) in logs.iter().zip(["ann", "bob", "cy"]) {
        assert_eq!(got(log), [0.0, 1.0, 2.0, 3.0], "{who}");
    }
    assert_eq!(redis.text(&["XLEN", "polycodec:s:{r:room}"]), ":4");
    assert_eq!(redis.text(&["LLEN", "polycodec:h:{r:room}"]), ":1");
}

/// A full outbox drops its oldest push; a recoverable room's push that nobody had yet is
/// delivered on the sender's node first (at once, not when the session times out), and
/// once only when Redis later takes its first copy.
#[tokio::test]
async fn a_push_the_full_outbox_drops_still_reaches_the_senders_node() {
    let redis = RedisServer::start();
    let cfg = |c: RedisConfig| {
        c.recoverable("r:*")
            .outbox(2)
            .timeout(Duration::from_secs(3))
    };
    let (h1, url1) = node(&redis, "n1", cfg).await;
    let (_c, log) = client(&url1, "bob", "json").await;
    let id = peer_of(&h1, "bob").await;
    h1.join(id, "r:room");
    h1.broadcast("r:room", "m", vec![Value::from(0)], None);
    eventually("m0", || count(&log, "m") == 1).await;
    redis.signal("STOP");
    for n in 1..=3 {
        h1.broadcast("r:room", "m", vec![Value::from(n)], None);
    }
    let sent = std::time::Instant::now();
    eventually("the dropped m1 delivered here", || count(&log, "m") == 2).await;
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(
        h1.health()
            .counters
            .iter()
            .find(|c| c.0 == "dropped")
            .map(|c| c.1),
        Some(1)
    );
    redis.signal("CONT");
    eventually("m2 and m3", || count(&log, "m") >= 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<Value> = log.lock().unwrap().iter().map(|e| e.1.clone()).collect();
    assert_eq!(got, (0..=3).map(Value::from).collect::<Vec<_>>());
}

/// A node lists the others with SCAN, not KEYS (which blocks Redis for the whole
/// keyspace): it works on a Redis where KEYS is disabled.
#[tokio::test]
async fn nodes_are_listed_without_keys() {
    let redis = RedisServer::start_with(&["--rename-command", "KEYS", ""]);
    assert!(
        redis.text(&["KEYS", "*"]).starts_with('-'),
        "KEYS is disabled"
    );
    let (h1, _) = node(&redis, "n1", |c| c).await;
    let (h2, _) = node(&redis, "n2", |c| c).await;
    eventually("each node knows the other", || {
        [&h1, &h2]
            .iter()
            .all(|h| h.health().counters[0] == ("nodes", 2))
    })
    .await;
}

/// The epoch of `old:room`, read from Redis.
fn epoch_of(redis: &RedisServer) -> String {
    let reply = redis.text(&["HGET", "polycodec:m:{old:room}", "e"]);
    reply.lines().nth(1).unwrap_or("").to_owned()
}

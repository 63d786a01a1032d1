//! Three `polycodec serve --redis` processes on one real `redis-server` (its own temporary
//! unix socket), with Rust chat clients spread over them in every codec: exactly-once
//! fan-out in one order, presence, shared history, `kill -9` of a node, a Redis restart, a
//! killed and a cut-off (slow) subscriber connection, and resuming on another node. Every
//! process is stopped on drop, panics included. `scripts/test` installs `redis-server`.

#[path = "../../tests/common/mod.rs"]
mod common;

#[path = "../../tests/common/redis.rs"]
mod redis;

#[path = "../../tests/common/fleet.rs"]
mod fleet;

use fleet::{until, Member, Node};
use redis::RedisServer;
use std::collections::HashMap;
use std::time::Duration;

const DOWN_MS: u64 = 1200;
const CODECS: [&str; 3] = ["msgpack", "json", "superjson"];

/// A counter of a `/healthz` body.
fn counter(body: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    body.split(&key)
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn nodes(redis: &RedisServer, n: usize) -> Vec<Node> {
    (1..=n)
        .map(|i| Node::start(&redis.url(), &format!("n{i}"), DOWN_MS))
        .collect()
}

/// Wait until `m`'s node lists exactly `want` (sorted) in the room.
async fn presence(m: &Member, want: &[&str], limit: Duration) -> Duration {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    until(limit, &format!("members() = {want:?}"), || async {
        m.members().await == want
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_each_message_once_in_one_order_with_shared_presence_and_history() {
    let redis = RedisServer::start();
    let nodes = nodes(&redis, 3);
    let mut members = Vec::new();
    let mut names = Vec::new();
    for i in 0..9 {
        let name = format!("u{i}");
        let url = nodes[i % 3].chat_url("fleet", &name);
        members.push(Member::join(&url, CODECS[i % 3]).await);
        names.push(name);
    }
    let want: Vec<&str> = names.iter().map(String::as_str).collect();
    for m in &members[..3] {
        presence(m, &want, Duration::from_secs(5)).await;
    }
    // One sender per node, all at once.
    const M: usize = 40;
    let sends = members[..3].iter().enumerate().map(|(s, m)| async move {
        for n in 0..M {
            m.send(&format!("{s}:{n}")).await;
        }
    });
    futures_util::future::join_all(sends).await;
    until(
        Duration::from_secs(10),
        "every member has every message",
        || async { members.iter().all(|m| m.chat().len() >= 3 * M) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first: Vec<String> = members[0].chat().iter().map(|g| g.text.clone()).collect();
    for (i, m) in members.iter().enumerate() {
        let chat = m.chat();
        assert_eq!(chat.len(), 3 * M, "member {i}: exactly once each");
        let mut last: HashMap<&str, i64> = HashMap::new();
        for g in &chat {
            let (s, n) = g.text.split_once(':').unwrap();
            let n: i64 = n.parse().unwrap();
            let prev = last.insert(s, n).unwrap_or(-1);
            assert!(
                n == prev + 1,
                "member {i}: sender {s} out of order: {prev} then {n}"
            );
        }
        // A recoverable room: one order everywhere, offsets rising.
        let texts: Vec<String> = chat.iter().map(|g| g.text.clone()).collect();
        assert_eq!(texts, first, "member {i} saw another order");
        let offsets: Vec<u64> = m
            .got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|g| g.pos.as_ref().map(|p| p.1))
            .collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "member {i}: offsets {offsets:?}"
        );
    }
    // History is the same on every node.
    let mut histories = Vec::new();
    for m in &members[..3] {
        let h: Vec<polycodec::Value> = m.client.call("history", ()).await.unwrap();
        let texts: Vec<String> = h
            .iter()
            .map(|v| {
                v.get("text")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(texts.len(), 50, "history keeps 50");
        histories.push(texts);
    }
    assert!(histories.windows(2).all(|w| w[0] == w[1]), "{histories:?}");
    for (n, _) in nodes.iter().enumerate() {
        assert_eq!(nodes[n].healthz().0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_everywhere_and_a_restarted_one_replaces_its_entries_at_once() {
    let redis = RedisServer::start();
    let mut nodes = nodes(&redis, 3);
    let a = Member::join(&nodes[0].chat_url("k", "a"), "msgpack").await;
    let b = Member::join(&nodes[1].chat_url("k", "b"), "json").await;
    let c = Member::join(&nodes[2].chat_url("k", "c"), "superjson").await;
    presence(&a, &["a", "b", "c"], Duration::from_secs(5)).await;
    presence(&b, &["a", "b", "c"], Duration::from_secs(5)).await;
    nodes[2].kill9();
    drop(c);
    let took = presence(&a, &["a", "b"], Duration::from_secs(2)).await;
    presence(&b, &["a", "b"], Duration::from_millis(500)).await;
    eprintln!("a killed node's members left in {took:?}");
    // The others are told, once each: the killed node could not say it.
    for m in [&a, &b] {
        let left = || {
            m.got
                .lock()
                .unwrap()
                .iter()
                .filter(|g| g.system && g.text == "c left")
                .count()
        };
        until(Duration::from_secs(2), "c left", || async { left() > 0 }).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(left(), 1);
    }
    // Restarted with its id: its new members at once; then killed and restarted again
    // before it could be timed out: the old incarnation's members go with the new one's
    // first word, not after `down_after`.
    nodes[2] = Node::start(&redis.url(), "n3", DOWN_MS);
    let d = Member::join(&nodes[2].chat_url("k", "d"), "msgpack").await;
    presence(&a, &["a", "b", "d"], Duration::from_secs(2)).await;
    nodes[2].kill9();
    drop(d);
    nodes[2] = Node::start(&redis.url(), "n3", DOWN_MS);
    let e = Member::join(&nodes[2].chat_url("k", "e"), "json").await;
    let took = presence(&a, &["a", "b", "e"], Duration::from_millis(DOWN_MS / 2)).await;
    eprintln!("a restarted node replaced its entries in {took:?}");
    drop(e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_a_node_serves_its_own_and_reports_degraded_then_recovers() {
    let mut redis = RedisServer::start();
    let nodes = nodes(&redis, 2);
    let a1 = Member::join(&nodes[0].chat_url("r", "a1"), "msgpack").await;
    let a2 = Member::join(&nodes[0].chat_url("r", "a2"), "json").await;
    let b = Member::join(&nodes[1].chat_url("r", "b"), "superjson").await;
    presence(&b, &["a1", "a2", "b"], Duration::from_secs(5)).await;
    redis.kill();
    until(Duration::from_secs(3), "n1 degraded", || async {
        nodes[0].healthz().0 == 503
    })
    .await;
    let (_, body) = nodes[0].healthz();
    assert!(
        body.contains("\"degraded\"") && body.contains("reason"),
        "{body}"
    );
    // Local delivery goes on.
    a1.send("while down").await;
    until(Duration::from_secs(2), "a2 gets it locally", || async {
        a2.chat().iter().any(|g| g.text == "while down")
    })
    .await;
    redis.restart();
    for n in &nodes {
        until(Duration::from_secs(8), "healthz ok again", || async {
            n.healthz().0 == 200
        })
        .await;
    }
    let (_, body) = nodes[0].healthz();
    assert!(body.contains("\"redisRestarts\":1"), "{body}");
    presence(&b, &["a1", "a2", "b"], Duration::from_secs(5)).await;
    presence(&a1, &["a1", "a2", "b"], Duration::from_secs(5)).await;
    b.send("after").await;
    until(
        Duration::from_secs(3),
        "cross-node delivery again",
        || async {
            a1.chat().iter().any(|g| g.text == "after")
                && a2.chat().iter().any(|g| g.text == "after")
        },
    )
    .await;
    for m in [&a1, &a2, &b] {
        let chat = m.chat();
        let mut texts: Vec<&str> = chat.iter().map(|g| g.text.as_str()).collect();
        let n = texts.len();
        texts.dedup();
        assert_eq!(texts.len(), n, "no duplicate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_cut_off_subscriber_connections_are_noticed_and_restored_without_loss() {
    let redis = RedisServer::start();
    let nodes = nodes(&redis, 2);
    let a = Member::join(&nodes[0].chat_url("s", "a"), "msgpack").await;
    let b = Member::join(&nodes[1].chat_url("s", "b"), "json").await;
    presence(&a, &["a", "b"], Duration::from_secs(5)).await;
    // CLIENT KILL of every subscriber connection.
    let killed = redis.text(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(killed.starts_with(':') && killed != ":0", "{killed}");
    a.send("after kill").await;
    until(
        Duration::from_secs(5),
        "b gets it after its subscriber was killed",
        || async { b.chat().iter().any(|g| g.text == "after kill") },
    )
    .await;
    // A slow subscriber: n2 stops reading, Redis cuts it off past a small output buffer.
    redis.text(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 64kb 32kb 1",
    ]);
    let reconnects = counter(&nodes[1].healthz().1, "reconnects");
    nodes[1].signal("STOP");
    // More than the kernel's socket buffers and Redis' 64 kB (the chat's rate limit allows
    // a burst of 100 calls).
    let pad = "x".repeat(8000);
    for n in 0..80 {
        a.send(&format!("{n}:{pad}")).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    nodes[1].signal("CONT");
    until(
        Duration::from_secs(8),
        "b gets every message, once",
        || async { b.chat().len() >= 81 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<String> = b
        .chat()
        .iter()
        .skip(1)
        .map(|g| g.text.split(':').next().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..80).map(|n| n.to_string()).collect();
    assert_eq!(
        got, want,
        "gap-filled from the room's stream, in order, once"
    );
    let (code, body) = nodes[1].healthz();
    assert_eq!(code, 200, "{body}");
    assert!(
        counter(&body, "reconnects") > reconnects,
        "cut off and back: {body}"
    );
    let clients = redis.text(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert!(!clients.is_empty(), "subscribers are back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_node_without_loss_or_duplicates() {
    let redis = RedisServer::start();
    let nodes = nodes(&redis, 3);
    let sender = Member::join(&nodes[1].chat_url("resume", "s"), "json").await;
    let a = Member::join(&nodes[0].chat_url("resume", "a"), "msgpack").await;
    presence(&sender, &["a", "s"], Duration::from_secs(5)).await;
    // The sender goes on while `a` moves from n1 to n3.
    let sending = tokio::spawn(async move {
        for n in 0..60 {
            sender.send(&n.to_string()).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sender
    });
    until(Duration::from_secs(5), "a got some", || async {
        a.chat().len() >= 10
    })
    .await;
    a.client.disconnect(1000, "moving");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = a
        .got
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find_map(|g| g.pos.clone())
        .unwrap();
    let before: Vec<String> = a.chat().iter().map(|g| g.text.clone()).collect();
    let url = format!(
        "{}&since={}:{}",
        nodes[2].chat_url("resume", "a"),
        last.0,
        last.1
    );
    let again = Member::join(&url, "superjson").await;
    let sender = sending.await.unwrap();
    until(Duration::from_secs(5), "the rest arrives", || async {
        before.len() + again.chat().len() >= 60
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut all = before.clone();
    all.extend(again.chat().iter().map(|g| g.text.clone()));
    let want: Vec<String> = (0..60).map(|n| n.to_string()).collect();
    assert_eq!(all, want, "nothing lost, nothing twice, in order");
    let r = again.recovery.lock().unwrap().clone();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        r[0].get("recovered").and_then(|v| v.as_bool()),
        Some(true),
        "{r:?}"
    );
    // A position from another epoch is told plainly.
    let url = format!("{}&since=elsewhere:3", nodes[0].chat_url("resume", "z"));
    let z = Member::join(&url, "json").await;
    until(Duration::from_secs(3), "a recovery answer", || async {
        !z.recovery.lock().unwrap().is_empty()
    })
    .await;
    let r = z.recovery.lock().unwrap()[0].clone();
    assert_eq!(r.get("recovered").and_then(|v| v.as_bool()), Some(false));
    let reason = r.get("reason").and_then(|v| v.as_str()).unwrap_or("");
    assert!(reason.contains("epoch"), "{reason}");
    drop(sender);
}

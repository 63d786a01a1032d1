//! The real kkrpc 0.2.2 chat client over a cluster: `k1` on one `polycodec serve --redis`
//! node and `k2` on another, one `redis-server` (temporary unix socket): joins, messages,
//! shared history, `members()` across nodes, the leave notice.

use crate::fleet::Node;
use crate::redis::RedisServer;
use std::process::Command;

pub fn kkrpc_0_2_2_clients_on_two_nodes_chat_as_on_one() {
    let redis = RedisServer::start();
    let n1 = Node::start(&redis.url(), "n1", 1200);
    let n2 = Node::start(&redis.url(), "n2", 1200);
    let ws = |n: &Node| n.base.replace("http://", "ws://");
    let root = crate::common::repo_root();
    let out = Command::new("node")
        .arg(root.join("js/kkrpc-chat-client.mjs"))
        .args([&ws(&n1), "cluster-room", &ws(&n2)])
        .current_dir(&root)
        .output()
        .expect("node");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("\"failed\":[]"),
        "kkrpc chat client over two nodes failed:\n{stdout}\n{stderr}"
    );
}

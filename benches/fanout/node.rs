//! A polycodec node for the fan-out bench, run as its own process (this bench binary with
//! `--fanout-node WORKERS [REDIS_URL NODE_ID]`), so that the load driver measures polycodec the
//! way it measures the anchors. `/member` joins the connection to the room `bench`;
//! `/send` serves `say(payload)`, which broadcasts `m(payload)` to the room. With a Redis
//! URL the hub spans nodes through Redis; the room is not recoverable (the fast path:
//! publish once, every node decodes once and encodes once per codec).

use polycodec::rpc::cluster::{RedisBackend, RedisConfig};
use polycodec::rpc::{Api, Call, Hub, RpcServer};
use polycodec::Value;
use std::io::Write;
use std::time::Duration;

async fn redis_hub(url: &str, id: &str) -> Hub {
    let cfg = RedisConfig::new(url).node_id(id);
    let hub = Hub::with_backend(RedisBackend::start(cfg).expect("the Redis backend"));
    while !hub.health().ok {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hub
}

/// Serve until killed. `args` follow `--fanout-node`: the runtime's worker threads, then
/// the Redis URL and node id when the hub spans nodes.
pub fn main(args: &[String]) {
    let (workers, args) = match args.split_first() {
        Some((w, rest)) => (w.parse::<usize>().unwrap_or(1).max(1), rest),
        None => (1, args),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let hub = match args {
            [url, id, ..] => redis_hub(url, id).await,
            _ => Hub::new(),
        };
        let room = hub.clone();
        let member = RpcServer::builder(Api::builder().build().unwrap())
            .hub(hub.clone())
            .on_connect(move |p| {
                room.join(p.id(), "bench");
            })
            .build()
            .unwrap();
        let room = hub.clone();
        let say = Api::builder()
            .method("say", move |call: Call| {
                room.broadcast("bench", "m", vec![call.value(0).clone()], None);
                async { Ok(Value::Undefined) }
            })
            .build()
            .unwrap();
        let sender = RpcServer::builder(say).hub(hub).build().unwrap();
        let app = axum::Router::new()
            .route("/member", axum::routing::get(member.handler()))
            .route("/send", axum::routing::get(sender.handler()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening {port}");
        let _ = out.flush();
        axum::serve(listener, app).await.unwrap();
    });
}

//! Faults: clients that die mid-call, a server shut down mid-call (in `realtime.rs`,
//! `graceful_shutdown_closes_with_1001_and_pending_calls_fail`), readers that stop reading
//! (`slow_reader_is_closed_not_buffered_forever`), and peers that send half a frame and go
//! silent.

use crate::serve::eventually;
use polycodec::rpc::{demo, Api, Call, Client, RpcServer};
use polycodec::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(server: RpcServer) -> std::net::SocketAddr {
    crate::serve::serve_at("/rpc", server).await
}

#[tokio::test]
async fn clients_killed_mid_call_leave_the_server_and_others_unharmed() {
    let api = Api::builder()
        .method("slow", |_c: Call| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(Value::from("late"))
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, polycodec::rpc::RpcError>(a + b)
        })
        .build()
        .unwrap();
    let server = RpcServer::builder(api).build().unwrap();
    let hub = server.hub().clone();
    let addr = serve(server).await;
    let survivor = Client::connect(format!("ws://{addr}/rpc")).await.unwrap();
    // Ten raw clients start a slow call and vanish without a close frame: their sockets
    // are dropped mid-call. (A `Client` sends a close frame when dropped.)
    let mut doomed = Vec::new();
    for i in 0..10 {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/rpc"))
            .await
            .unwrap();
        let q = crate::common::compact_call(i, "slow", "");
        futures_util::SinkExt::send(&mut ws, q.into())
            .await
            .unwrap();
        doomed.push(ws);
    }
    eventually("all connected", || hub.len() == 11).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(doomed);
    // The server finishes their calls, finds nobody to answer, and forgets them.
    eventually("dead clients gone", || hub.len() == 1).await;
    let v: f64 = survivor.call("add", (40, 2)).await.unwrap();
    assert_eq!(v, 42.0);
}

#[tokio::test]
async fn half_a_frame_then_silence_is_timed_out_and_closed() {
    let server = RpcServer::builder(demo::api())
        .heartbeat(Duration::from_millis(100), Duration::from_millis(400))
        .build()
        .unwrap();
    let hub = server.hub().clone();
    let addr = serve(server).await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /rpc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"));
    eventually("registered", || hub.len() == 1).await;
    // A masked text frame header promising 100 bytes, then 3 of them, then nothing.
    tcp.write_all(&[0x81, 0x80 | 100, 1, 2, 3, 4, b'a', b'b', b'c'])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // The server times the silent peer out and closes: reads drain to EOF.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the half-frame peer was never closed");
    assert!(started.elapsed() >= Duration::from_millis(300));
    eventually("forgotten", || hub.is_empty()).await;
}

//! A server for the tests that need one: the RPC tests and the interop tests.

/// Serve `server` at `path` on 127.0.0.1, port 0 (loopback only); returns its address.
pub async fn serve_at(path: &str, server: polycodec::rpc::RpcServer) -> std::net::SocketAddr {
    let app = axum::Router::new().route(path, axum::routing::get(server.handler()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Serve `router` the way `polycodec serve` mounts tRPC: HTTP and WebSocket on `/trpc`
/// (kkrpc peers get the demo API there), on 127.0.0.1, port 0. Returns the address and the
/// server (for its shutdown).
pub async fn serve_trpc(
    router: polycodec::rpc::trpc::Router,
) -> (std::net::SocketAddr, polycodec::rpc::RpcServer) {
    let rpc = polycodec::rpc::RpcServer::builder(polycodec::rpc::demo::api())
        .trpc(router)
        .build()
        .unwrap();
    let app = rpc.trpc_routes("/trpc");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rpc)
}

/// Wait until `f` holds, checking every 20 ms, for at most 10 s; then fail naming `what`.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

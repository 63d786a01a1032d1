//! A server for the tests that need one: the RPC tests and the interop tests.

/// Serve `server` at `path` on 127.0.0.1, port 0 (loopback only); returns its address.
pub async fn serve_at(path: &str, server: polycodec::rpc::RpcServer) -> std::net::SocketAddr {
    let app = axum::Router::new().route(path, axum::routing::get(server.handler()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
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

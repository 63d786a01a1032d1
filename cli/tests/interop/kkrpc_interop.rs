//! The real npm `kkrpc@0.2.2` client (`WebSocketClientIO` + `RPCChannel` under node, with
//! `ws` as the global WebSocket) against the Rust server, in `json` and `superjson` modes:
//! every demo method, rich values through `echo`, errors, callbacks, and the server calling
//! the API the JS client exposes. The checks live in `js/kkrpc-client.mjs`.

use polycodec::rpc::{demo, RpcServer};

async fn serve() -> String {
    let rpc = RpcServer::builder(demo::api()).build().unwrap();
    format!("ws://{}/rpc", crate::serve::serve_at("/rpc", rpc).await)
}

/// The checks of `js/kkrpc-client.mjs` in `mode` against `url`: (passed, failed).
async fn run_js_client(url: &str, mode: &str) -> (Vec<String>, Vec<String>) {
    crate::run_node("js/kkrpc-client.mjs", &[url, mode]).await
}

pub async fn kkrpc_0_2_2_client_in_json_mode_passes_every_check() {
    let url = serve().await;
    let (passed, failed) = run_js_client(&url, "json").await;
    assert!(failed.is_empty(), "failed: {failed:#?}");
    assert!(passed.len() >= 30, "only {} checks passed", passed.len());
}

pub async fn kkrpc_0_2_2_client_in_superjson_mode_passes_every_check() {
    let url = serve().await;
    let (passed, failed) = run_js_client(&url, "superjson").await;
    assert!(failed.is_empty(), "failed: {failed:#?}");
    assert!(passed.len() >= 50, "only {} checks passed", passed.len());
}

//! The real npm `kkrpc@0.2.2` client (`WebSocketClientIO` + `RPCChannel` under node, with
//! `ws` as the global WebSocket) against the Rust server, in `json` and `superjson` modes:
//! every demo method, rich values through `echo`, errors, callbacks, and the server calling
//! the API the JS client exposes. The checks live in `js/kkrpc-client.mjs`.

use polycodec::codec::{Codec, Json};
use polycodec::rpc::{demo, RpcServer};
use polycodec::Value;

async fn serve() -> String {
    let rpc = RpcServer::builder(demo::api()).build().unwrap();
    format!("ws://{}/rpc", crate::serve::serve_at("/rpc", rpc).await)
}

async fn run_js_client(url: &str, mode: &str) -> (Vec<String>, Vec<String>) {
    let root = &crate::common::repo_root();
    assert!(
        root.join("node_modules/kkrpc").exists(),
        "node_modules is missing: run scripts/test (it runs `npm ci`)"
    );
    let out = tokio::process::Command::new("node")
        .arg(root.join("js/kkrpc-client.mjs"))
        .args([url, mode])
        .current_dir(root)
        .output()
        .await
        .expect("node must be installed");
    let line = String::from_utf8_lossy(&out.stdout);
    let report = Json::new()
        .decode_value(line.trim().as_bytes())
        .unwrap_or_else(|e| {
            panic!(
                "no report ({e}); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let names = |k: &str| -> Vec<String> {
        report
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| match x {
                        Value::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("passed"), names("failed"))
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

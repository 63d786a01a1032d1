//! The demo server's routes: the chat page and its scripts, superjson served from
//! `node_modules` (no CDN), `/rpc`, `/chat/{room}`, the tRPC contract router on `/trpc`
//! (HTTP and WebSocket), a CORS-enabled `/health`, and `/healthz` (200 `ok`, or 503
//! `degraded` with the reason, from the chat hub's backend).
//!
//! CORS headers are added to the plain HTTP routes only, never to the WebSocket upgrades
//! (browsers do not send CORS preflights for WebSocket; a CORS layer in front of an upgrade
//! only adds headers that confuse proxies: the pitfall the Hono guide warns about).

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use polycodec::rpc::{demo, demo_trpc, Api, FrontDoor, Hub, RpcServer};
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The packages the page may load from `node_modules`: superjson and its dependencies.
const VENDORED: &[&str] = &["superjson", "copy-anything", "is-what"];

/// What a drain does: refuse new upgrades and calls, answer the calls in flight within the
/// grace period, then close every WebSocket with 1001.
pub type Drain = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The router and what graceful shutdown must do.
pub struct App {
    pub router: Router,
    pub drain: Drain,
}

#[derive(Clone)]
struct Files {
    web: PathBuf,
    node_modules: PathBuf,
}

/// Build the demo app; every endpoint reads `door` (their caps, per-client limits and
/// handshake timeout); the chat rooms live on `chat_hub` (one node, or a cluster).
pub fn app(
    web: PathBuf,
    node_modules: PathBuf,
    token: Option<String>,
    door: FrontDoor,
    chat_hub: Hub,
) -> Result<App, String> {
    let rpc = rpc_server(token.clone(), door.clone())?;
    let trpc = trpc_server(token.clone(), door.clone())?;
    let chat = demo::chat_server_builder(chat_hub, token)
        .and_then(|b| b.front_door(door).build())
        .map_err(|e| e.to_string())?;
    let (r, c, t) = (rpc.clone(), chat.clone(), trpc.clone());
    let drain: Drain = Arc::new(move |grace| {
        let (r, c, t) = (r.clone(), c.clone(), t.clone());
        Box::pin(async move {
            tokio::join!(r.drain(grace), c.drain(grace), t.drain(grace));
        })
    });
    let files = Files { web, node_modules };
    let hub = chat.hub().clone();
    let health_hub = hub.clone();
    let healthz = move || {
        let h = health_hub.health();
        let status = if h.ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        std::future::ready((
            status,
            [(header::CONTENT_TYPE, "application/json")],
            h.to_json(),
        ))
    };
    let http = Router::new()
        .route("/", get(index))
        .route("/chat.mjs", get(chat_script))
        .route("/vendor/{pkg}/{*path}", get(vendor))
        .route(
            "/health",
            get(move || {
                let hub = hub.clone();
                async move {
                    let body = format!(r#"{{"chatConnections":{}}}"#, hub.len());
                    ([(header::CONTENT_TYPE, "application/json")], body)
                }
            }),
        )
        .route("/healthz", get(healthz))
        .with_state(files)
        .layer(axum::middleware::map_response(cors));
    let sockets = Router::new()
        .route("/rpc", get(rpc.handler()))
        .route("/chat/{room}", get(chat.handler()));
    Ok(App {
        router: http.merge(sockets).merge(trpc.trpc_routes("/trpc")),
        drain,
    })
}

/// `/trpc`: the tRPC contract router (superjson), over HTTP and WebSocket; the WebSocket
/// serves kkrpc peers the demo API too.
fn trpc_server(token: Option<String>, door: FrontDoor) -> Result<RpcServer, String> {
    let router = demo_trpc::contract_router();
    let mut b = RpcServer::builder(demo::api())
        .trpc(router)
        .front_door(door);
    if let Some(secret) = token {
        b = b.authenticate(move |req| demo::check_token(req, &secret).map(|()| None));
    }
    b.build().map_err(|e| e.to_string())
}

fn rpc_server(token: Option<String>, door: FrontDoor) -> Result<RpcServer, String> {
    let api: Api = demo::api();
    let mut b = RpcServer::builder(api).front_door(door);
    if let Some(secret) = token {
        b = b.authenticate(move |req| demo::check_token(req, &secret).map(|()| None));
    }
    b.build().map_err(|e| e.to_string())
}

async fn cors(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

fn file(path: &Path, content_type: &'static str) -> Response {
    match std::fs::read(path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        // The file's name, not the server's path to it.
        Err(_) => (
            StatusCode::NOT_FOUND,
            format!(
                "{} is missing on the server\n",
                path.file_name()
                    .map_or("the file".into(), |n| n.to_string_lossy())
            ),
        )
            .into_response(),
    }
}

async fn index(State(f): State<Files>) -> Response {
    file(&f.web.join("index.html"), "text/html; charset=utf-8")
}

async fn chat_script(State(f): State<Files>) -> Response {
    file(&f.web.join("chat.mjs"), "text/javascript; charset=utf-8")
}

async fn vendor(
    State(f): State<Files>,
    UrlPath((pkg, path)): UrlPath<(String, String)>,
) -> Response {
    let rel = Path::new(&path);
    let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !VENDORED.contains(&pkg.as_str()) || !safe {
        return (StatusCode::NOT_FOUND, "not served\n").into_response();
    }
    let kind = match rel.extension().and_then(|e| e.to_str()) {
        Some("js" | "mjs" | "cjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("map") => "application/json",
        _ => "application/octet-stream",
    };
    file(&f.node_modules.join(&pkg).join(rel), kind)
}

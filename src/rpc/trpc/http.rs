//! tRPC's HTTP side on axum: what `httpLink`, `httpBatchLink`, `httpBatchStreamLink` and
//! `httpSubscriptionLink` send, answered as `@trpc/server` 11 answers.
//!
//! * `GET <base>/<path>?input=` runs a query (a subscription: as server-sent events),
//!   `POST <base>/<path>` a mutation (the body is its input); `?batch=1` with
//!   comma-joined paths runs several, inputs keyed `"0"`, `"1"`, …; `trpc-accept:
//!   application/jsonl` streams a batch's results as they finish.
//! * Statuses: a single call's is its error's (or 200); a batch's is 200 when all
//!   succeed, the shared status when all fail alike, else 207; a stream's is 200. A wrong
//!   method is 405 with `Allow`, a body that is not `application/json` 415, `HEAD` 204.
//!   With [`allow_method_override`](super::RouterBuilder::allow_method_override) a query
//!   (or subscription) may be `POST`ed, its input in the body, as a link with
//!   `methodOverride: 'POST'` sends it.
//! * Errors raised before any call (a bad path escape, bad `connectionParams`, mixed
//!   procedure types, a stream not batched, limits) are one `{"error": ...}` object even
//!   for a batch, without `path`.
//! * **Limits** (on the [`RouterBuilder`](super::RouterBuilder)): the body is read up to
//!   `max_body` bytes (1 MiB; more: 413 PAYLOAD_TOO_LARGE), a batch holds at most
//!   `max_batch` calls (100; more: 400, `Batch call exceeds maximum size`), and the URL
//!   (path and query) at most `max_url` bytes (16 KiB; more: 400). Header size and time
//!   limits belong to the listener in front (hyper's, or the server's front door).
//! * The route's auth hook runs on each request, as on each upgrade: 401/403 are
//!   UNAUTHORIZED/FORBIDDEN; what it returns is the handlers'
//!   [`Context::identity`](super::Context::identity).

use super::errors::{shape, Code};
use super::router::{Context, Kind, Router, Shared};
use super::transformer::Transformer;
use super::{jsonl, sse, ws};
use crate::rpc::error::RpcError;
use crate::rpc::server::AuthRequest;
use crate::rpc::RpcServer;
use crate::Value;
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

impl RpcServer {
    /// The routes of a tRPC endpoint at `base` (`"/trpc"`): the WebSocket (tRPC and kkrpc
    /// peers, see [`RpcServerBuilder::trpc`](super::super::RpcServerBuilder::trpc)) at
    /// `base` itself, tRPC's HTTP side at `base/<path>` (see [`http`](self)). Without a
    /// tRPC router, every HTTP call is NOT_FOUND.
    pub fn trpc_routes(&self, base: &str) -> axum::Router {
        let base = base.trim_end_matches('/').to_owned();
        let (root, empty, rest) = (self.clone(), self.clone(), self.clone());
        let len = base.len() + 1;
        axum::Router::new()
            .route(
                if base.is_empty() { "/" } else { &base },
                axum::routing::any(move |req: Request| {
                    let me = root.clone();
                    async move { me.trpc_root(req).await }
                }),
            )
            .route(
                &format!("{base}/"),
                axum::routing::any(move |req: Request| {
                    let me = empty.clone();
                    async move { handle(&me, String::new(), req).await }
                }),
            )
            .route(
                &format!("{base}/{{*path}}"),
                axum::routing::any(move |req: Request| {
                    let me = rest.clone();
                    async move {
                        let raw = req.uri().path().get(len..).unwrap_or("").to_owned();
                        handle(&me, raw, req).await
                    }
                }),
            )
    }

    /// `base` itself: a WebSocket upgrade, or an HTTP call to the empty path.
    async fn trpc_root(&self, req: Request) -> Response {
        let upgrade = req
            .headers()
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if !upgrade {
            return handle(self, String::new(), req).await;
        }
        let (mut parts, _) = req.into_parts();
        // The peer's address, for the front door's per-client limits.
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => self.upgrade_from(peer, ws, &parts.headers, &parts.uri),
            Err(rejection) => rejection.into_response(),
        }
    }
}

/// An error before any call: one object, without `path`.
struct Whole(RpcError);

impl From<RpcError> for Whole {
    fn from(e: RpcError) -> Whole {
        Whole(e)
    }
}

fn vary(h: &mut HeaderMap) {
    h.insert(
        header::VARY,
        HeaderValue::from_static("trpc-accept, accept"),
    );
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What one request is about.
struct Request1 {
    t: Transformer,
    router: Router,
    method: Method,
    batch: bool,
    jsonl: bool,
    paths: Vec<String>,
    /// The input document(s): `?input=` or the body.
    input: Option<Bytes>,
    last_event_id: Option<String>,
    shared: Arc<Shared>,
}

/// Answer one HTTP request; `raw` is the path after the base, as sent.
pub(crate) async fn handle(server: &RpcServer, raw: String, req: Request) -> Response {
    if req.method() == Method::HEAD {
        return StatusCode::NO_CONTENT.into_response();
    }
    let Some(router) = server.trpc_router().cloned() else {
        let e = Code::NotFound.error("no tRPC router on this route");
        return whole(Transformer::SuperJson, Whole(e), false);
    };
    let (t, dev) = (router.transformer(), router.dev());
    match prepare(server, router, raw, req).await {
        Ok(r) => respond(r).await,
        Err(e) => whole(t, e, dev),
    }
}

/// The response of an error before any call.
fn whole(t: Transformer, Whole(e): Whole, dev: bool) -> Response {
    let status = status(Code::of(&e).http_status());
    let body = envelope_error(t, &e, None, dev);
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    vary(h);
    res
}

/// `{"error":<shape>}`.
fn envelope_error(t: Transformer, e: &RpcError, path: Option<&str>, dev: bool) -> Vec<u8> {
    let mut out = b"{\"error\":".to_vec();
    let shape = shape(e, path, dev);
    out.extend(
        t.encode(&shape, Default::default())
            .unwrap_or_else(|_| b"null".to_vec()),
    );
    out.push(b'}');
    out
}

/// `{"result":{"data":<value>}}` (no `data` for undefined without a transformer).
fn envelope_result(r: &Request1, v: &Value) -> Result<Vec<u8>, RpcError> {
    let mut out = b"{\"result\":{".to_vec();
    if !(r.t == Transformer::None && v.is_undefined()) {
        out.extend_from_slice(b"\"data\":");
        out.extend(r.t.encode(v, r.router.limits())?);
    }
    out.extend_from_slice(b"}}");
    Ok(out)
}

/// decodeURIComponent: `None` for a bad escape or one that is no UTF-8.
fn decode_component(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The media type of a content type: before any `;`, trimmed, lower case.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The query parameter `name`, as `URLSearchParams.get` reads it.
fn param(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Whether header `name` asks for JSON Lines.
fn accepts_jsonl(h: &HeaderMap, name: &str) -> bool {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/jsonl"))
}

/// Everything that is checked before any call runs.
async fn prepare(
    server: &RpcServer,
    router: Router,
    raw: String,
    req: Request,
) -> Result<Request1, Whole> {
    let limits = router.http_options();
    let (parts, body) = req.into_parts();
    let url_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if url_len > limits.max_url {
        let m = format!("URL longer than {} bytes", limits.max_url);
        return Err(Code::BadRequest.error(m).into());
    }
    let identity = match server.authenticate_hook() {
        Some(auth) => auth(&AuthRequest {
            headers: &parts.headers,
            uri: &parts.uri,
        })
        .map_err(|e| {
            let code = if e.status() == 403 {
                Code::Forbidden
            } else {
                Code::Unauthorized
            };
            Whole(code.error(e.message()))
        })?,
        None => None,
    };
    let raw = raw.strip_suffix('/').unwrap_or(&raw);
    let path = decode_component(raw)
        .ok_or_else(|| Code::BadRequest.error(format!("Invalid URL-encoding in path \"{raw}\"")))?;
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let method = parts.method.clone();
    if method != Method::GET {
        match parts.headers.get(header::CONTENT_TYPE) {
            None => {
                let e = Code::UnsupportedMediaType.error("Missing content-type header");
                return Err(e.into());
            }
            Some(v) => {
                let v = String::from_utf8_lossy(v.as_bytes());
                if media_type(&v) != "application/json" {
                    let m = format!("Unsupported content-type \"{v}");
                    return Err(Code::UnsupportedMediaType.error(m).into());
                }
            }
        }
    }
    let batch = param(&query, "batch").as_deref() == Some("1");
    let paths: Vec<String> = if batch {
        path.split(',').map(str::to_owned).collect()
    } else {
        vec![path]
    };
    let mut kinds: Vec<&str> = Vec::new();
    for k in paths.iter().filter_map(|p| router.kind(p)) {
        if !kinds.contains(&k.name()) {
            kinds.push(k.name());
        }
    }
    if kinds.len() > 1 {
        let m = format!("Cannot mix procedure types in call: {}", kinds.join(", "));
        return Err(Code::BadRequest.error(m).into());
    }
    let params = match param(&query, "connectionParams") {
        None => None,
        Some(text) => {
            if serde_json::from_str::<serde_json::Value>(&text).is_err() {
                return Err(Code::ParseError
                    .error("Not JSON-parsable query params")
                    .into());
            }
            ws::read_params(&text).map_err(|m| Whole(Code::ParseError.error(m)))?
        }
    };
    let jsonl =
        accepts_jsonl(&parts.headers, "trpc-accept") || accepts_jsonl(&parts.headers, "accept");
    if jsonl && !batch {
        let m = "Streaming requests must be batched (you can do a batch of 1)";
        return Err(Code::BadRequest.error(m).into());
    }
    if batch && paths.len() > limits.max_batch {
        return Err(Code::BadRequest
            .error("Batch call exceeds maximum size")
            .into());
    }
    let input = if method == Method::GET {
        param(&query, "input").map(Bytes::from)
    } else {
        let bytes = axum::body::to_bytes(body, limits.max_body)
            .await
            .map_err(|_| {
                let m = format!("the body is larger than {} bytes", limits.max_body);
                Whole(Code::PayloadTooLarge.error(m))
            })?;
        (!bytes.is_empty()).then_some(bytes)
    };
    let last_event_id = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| param(&query, "lastEventId"))
        .or_else(|| param(&query, "Last-Event-Id"));
    Ok(Request1 {
        t: router.transformer(),
        router,
        method,
        batch,
        jsonl,
        paths,
        input,
        last_event_id,
        shared: Arc::new(Shared {
            headers: parts.headers,
            params,
            identity,
        }),
    })
}

/// The inputs of the calls: one per path, or the error reading it gave.
fn inputs(r: &Request1) -> Vec<Result<Value, RpcError>> {
    let limits = r.router.limits();
    let bad = |e: crate::Error| Code::BadRequest.error(e.to_string());
    let Some(raw) = &r.input else {
        return r.paths.iter().map(|_| Ok(Value::Undefined)).collect();
    };
    if !r.batch {
        return vec![r.t.decode(raw, limits).map_err(bad)];
    }
    let text = String::from_utf8_lossy(raw);
    let all = |e: RpcError| r.paths.iter().map(|_| Err(e.clone())).collect();
    let object = text.trim_start().starts_with('{');
    let map: HashMap<String, &RawValue> = match serde_json::from_str(&text) {
        Ok(m) if object => m,
        Err(e) if object => return all(Code::BadRequest.error(e.to_string())),
        _ => match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            Ok(_) => {
                let m = "\"input\" needs to be an object when doing a batch call";
                return all(Code::BadRequest.error(m));
            }
            Err(e) => return all(Code::BadRequest.error(e.to_string())),
        },
    };
    (0..r.paths.len())
        .map(|i| match map.get(&i.to_string()) {
            Some(raw) => r.t.decode(raw.get().as_bytes(), limits).map_err(bad),
            None => Ok(Value::Undefined),
        })
        .collect()
}

/// The methods a kind is called with (`Allow`'s value), as `@trpc/server` lists them:
/// with method override, a query or subscription may also be `POST`; a mutation is never
/// `GET`.
fn methods_of(kind: Kind, method_override: bool) -> &'static str {
    match (kind, method_override) {
        (Kind::Mutation, _) => "POST",
        (Kind::Query | Kind::Subscription, false) => "GET",
        (Kind::Query | Kind::Subscription, true) => "GET, POST",
    }
}

/// Whether `method` may call a procedure of `kind`.
fn accepts(kind: Kind, method: &Method, method_override: bool) -> bool {
    match kind {
        Kind::Mutation => method == Method::POST,
        Kind::Query | Kind::Subscription => {
            method == Method::GET || (method_override && method == Method::POST)
        }
    }
}

async fn respond(r: Request1) -> Response {
    let inputs = inputs(&r);
    let ctx = Context {
        shared: r.shared.clone(),
        peer: None,
        last_event_id: None,
    };
    let method_override = r.router.http_options().allow_method_override;
    let mut allow: Option<&'static str> = None;
    let mut calls = Vec::with_capacity(r.paths.len());
    for (i, (path, input)) in r.paths.iter().zip(inputs).enumerate() {
        let kind = r.router.kind(path);
        let checked = match kind {
            None => Err(Code::NotFound.error(format!("No procedure found on path \"{path}\""))),
            Some(k) if !accepts(k, &r.method, method_override) => {
                allow = Some(methods_of(k, method_override));
                Err(Code::MethodNotSupported.error(format!(
                    "Unsupported {}-request to {} procedure at path \"{path}\"",
                    r.method,
                    k.name()
                )))
            }
            Some(Kind::Subscription) if r.batch => {
                Err(Code::BadRequest.error("Cannot batch subscription calls"))
            }
            Some(_) => input,
        };
        // A subscription (not batched) answers in server-sent events, even to an error
        // (as tRPC: the EventSource client could not read a JSON error).
        if let (Some(Kind::Subscription), false) = (kind, r.batch) {
            let mut res = subscription(&r, path.clone(), checked, ctx);
            if let Some(m) = allow {
                res.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(m));
            }
            return res;
        }
        let call = match (kind, checked) {
            (Some(k), Ok(input)) => r.router.call(k, path, input, ctx.clone()),
            (_, Err(e)) => Box::pin(std::future::ready(Err(e))),
            (None, Ok(_)) => unreachable!("an unknown path is an error"),
        };
        let path = path.clone();
        let guarded = async move {
            let run = std::panic::AssertUnwindSafe(call).catch_unwind().await;
            let result = run.unwrap_or_else(|_| {
                tracing::error!(%path, "a tRPC handler panicked");
                Err(Code::InternalServerError.error("the handler panicked"))
            });
            (i, path, result)
        };
        calls.push(guarded);
    }
    if r.jsonl {
        let stream = jsonl::body(r.t, r.router.limits(), r.router.dev(), calls);
        return streamed(stream.map(Ok::<_, Infallible>), "application/json");
    }
    let results = futures_util::future::join_all(calls).await;
    let dev = r.router.dev();
    let mut statuses = Vec::with_capacity(results.len());
    let mut items = Vec::with_capacity(results.len());
    for (_, path, result) in results {
        let item = match result.and_then(|v| envelope_result(&r, &v)) {
            Ok(bytes) => {
                statuses.push(200);
                bytes
            }
            Err(e) => {
                statuses.push(Code::of(&e).http_status());
                envelope_error(r.t, &e, Some(&path), dev)
            }
        };
        items.push(item);
    }
    let code = match statuses.split_first() {
        Some((first, rest)) if rest.iter().all(|s| s == first) => *first,
        Some(_) => 207,
        None => 200,
    };
    let body = if r.batch {
        let mut out = vec![b'['];
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.push(b']');
        out
    } else {
        items.pop().unwrap_or_default()
    };
    let mut res = (status(code), body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    vary(h);
    if let Some(m) = allow {
        h.insert(header::ALLOW, HeaderValue::from_static(m));
    }
    res
}

/// A streamed 200 response.
fn streamed<S>(stream: S, content_type: &'static str) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    vary(h);
    res
}

/// A subscription over server-sent events (the client's last event id merged into the
/// input by [`Router::subscribe`]); `input` is its error when the call is refused.
fn subscription(
    r: &Request1,
    path: String,
    input: Result<Value, RpcError>,
    mut ctx: Context,
) -> Response {
    let last = r.last_event_id.clone();
    ctx.last_event_id = last.clone();
    let start = match input {
        Ok(input) => r.router.subscribe(&path, input, ctx),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    };
    let body = sse::body(r.t, r.router.limits(), r.router.dev(), path, last, start);
    let mut res = streamed(body.map(Ok::<_, Infallible>), "text/event-stream");
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

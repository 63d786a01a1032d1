//! The captured tRPC traffic (`codecs/trpc/captures.json`: the real `@trpc/client` 11.25.2
//! against the real `@trpc/server`, and hand-made probes) replayed against polycodec serving
//! the lab router the captures were made with: the same replies, byte for byte, except
//! `data.stack` (elided in the captures) and the wording of validation and JSON syntax
//! errors (zod's and `JSON.parse`'s; the code, status and path still match).

use crate::trpc_wire::{http, ws_exchange, Out};
use futures_util::stream::{self, StreamExt};
use polycodec::codec::{Codec, Json};
use polycodec::rpc::trpc::{tracked, Code, Router, RouterBuilder};
use polycodec::rpc::{Api, RpcError, RpcServer};
use polycodec::types::JsType;
use polycodec::{Date, Object, Value};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(k, v);
    }
    Value::Object(o)
}

fn date(ms: f64) -> Value {
    Value::Date(Date::from_millis(ms))
}

#[derive(Deserialize, JsType)]
struct Name {
    name: String,
}
#[derive(Deserialize, JsType)]
struct Title {
    title: String,
}
#[derive(Deserialize, JsType)]
struct Add {
    a: f64,
    b: f64,
}
#[derive(Deserialize, JsType)]
#[serde(rename_all = "camelCase")]
struct N {
    n: u32,
    last_event_id: Option<String>,
}

fn slowly<I>(items: I, ms: u64) -> impl futures_util::Stream<Item = I::Item>
where
    I: IntoIterator,
    I::Item: Send + 'static,
{
    stream::iter(items).then(move |x| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        x
    })
}

/// The lab router of the captures (`types`, `post.create`, `notFound`, …).
fn lab(dev: bool) -> RouterBuilder {
    Router::builder()
        .dev(dev)
        .query(
            "greet",
            |n: String, _| async move { Ok(format!("Hello, {n}!")) },
        )
        .query("math.add", |x: Add, _| async move { Ok(x.a + x.b) })
        .query("types", |x: Name, _| async move {
            let big: polycodec::value::BigInt = "12345678901234567890".parse().unwrap();
            let b2 = obj(vec![("c", Value::BigInt(2.into()))]);
            Ok(obj(vec![
                ("name", Value::from(x.name)),
                ("date", date(1_704_164_645_678.0)),
                (
                    "map",
                    Value::Map(vec![
                        (Value::from("a"), Value::from(1)),
                        (Value::from("b"), b2),
                    ]),
                ),
                ("set", Value::Set(vec![Value::from(1), Value::from("x")])),
                ("big", Value::BigInt(big)),
                ("undef", Value::Undefined),
                (
                    "nested",
                    obj(vec![(
                        "arr",
                        Value::Array(vec![Value::Undefined, date(0.0)]),
                    )]),
                ),
            ]))
        })
        .query("noInput", |(): (), _| async move { Ok("no input needed") })
        .query("echo", |v: Value, _| async move { Ok(v) })
        .mutation("echoMutation", |v: Value, _| async move { Ok(v) })
        .mutation("post.create", |t: Title, _| async move {
            if t.title.chars().count() < 3 {
                return Err(Code::BadRequest.error("invalid input: title too short"));
            }
            Ok(obj(vec![
                ("id", Value::from(1)),
                ("title", Value::from(t.title)),
                ("createdAt", date(1_714_979_289_000.0)),
            ]))
        })
        .query("notFound", |(): (), _| async move {
            Err::<(), _>(Code::NotFound.error("Post 42 not found"))
        })
        .query("crash", |(): (), _| async move {
            Err::<(), _>(RpcError::msg("kaboom"))
        })
        .query("slow", |ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(format!("slept {ms}"))
        })
        .query("whoami", |(): (), ctx| async move {
            let params = ctx.connection_params().map(|p| {
                let mut o = Object::new();
                for (k, v) in p {
                    o.insert(k.clone(), Value::from(v.as_str()));
                }
                Value::Object(o)
            });
            Ok(obj(vec![(
                "connectionParams",
                params.unwrap_or(Value::Null),
            )]))
        })
        .subscription("ticks", |x: N, _| async move {
            Ok(slowly(0..x.n, 1).map(Ok::<_, RpcError>))
        })
        .subscription("trackedTicks", |x: N, _| async move {
            let from = x.last_event_id.map_or(0, |i| i.parse::<u32>().unwrap() + 1);
            let items = (from..x.n).map(|i| {
                let data = obj(vec![
                    ("i", Value::from(i)),
                    ("at", date(f64::from(i) * 1000.0)),
                ]);
                Ok::<_, RpcError>(tracked(i.to_string(), data))
            });
            Ok(slowly(items.collect::<Vec<_>>(), 1))
        })
        .subscription("forever", |(): (), _| async move {
            Ok(slowly(0u64.., 20).map(Ok::<_, RpcError>))
        })
        .subscription("subFail", |(): (), _| async move {
            let items = vec![Ok(1), Err(Code::Forbidden.error("no more ticks for you"))];
            Ok(slowly(items, 1))
        })
        .subscription("subCrash", |(): (), _| async move {
            let items = vec![
                Ok("before crash".to_owned()),
                Err(RpcError::msg("subscription blew up")),
            ];
            Ok(slowly(items, 1))
        })
}

/// The lab server: `/trpc` and `/ws` (development mode, as the captures' server), and
/// `/trpc-ping` without it.
async fn serve() -> SocketAddr {
    let dev = RpcServer::builder(Api::default())
        .trpc(lab(true).build().unwrap())
        .build()
        .unwrap();
    let prod = RpcServer::builder(Api::default())
        .trpc(lab(false).build().unwrap())
        .build()
        .unwrap();
    let app = dev
        .trpc_routes("/trpc")
        .merge(dev.trpc_routes("/ws"))
        .merge(prod.trpc_routes("/trpc-ping"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A reply with `data.stack` elided and validation wording (zod's, or ours) replaced.
fn normalize(text: &str, relax_messages: bool) -> String {
    fn walk(v: &mut Value, relax: bool) {
        match v {
            Value::Object(o) => {
                if o.get("stack").is_some() {
                    o.insert("stack", Value::from("<elided>"));
                }
                let validation = matches!(o.get("message"), Some(Value::String(m))
                    if m.starts_with("[\n  {") || m.starts_with("invalid input: ") || relax);
                if validation && o.get("code").is_some() {
                    o.insert("message", Value::from("<message>"));
                }
                for (_, child) in o.iter_mut() {
                    walk(child, relax);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, relax)),
            _ => {}
        }
    }
    let json = Json::new();
    text.split('\n')
        .map(|line| {
            let (prefix, doc) = line.split_at(if line.starts_with("data: ") { 6 } else { 0 });
            match json.decode_value(doc.as_bytes()) {
                Ok(mut v) if doc.starts_with(['{', '[']) => {
                    walk(&mut v, relax_messages);
                    let doc = String::from_utf8(json.encode_value(&v).unwrap()).unwrap();
                    format!("{prefix}{doc}")
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What JSON.parse words differently from serde_json: the code, status and path match.
const WORDING: &[&str] = &[
    "ws.invalidJson",
    "http.invalidJsonInput",
    "http.invalidJsonBody",
];

/// Probes left out, and why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "ws.keepAliveNoPong",
        "the server-side text keepAlive option is not implemented",
    ),
    (
        "ws.mutationStreaming",
        "queries returning async iterables are not supported",
    ),
    (
        "http.noContentType",
        "an artifact of the lab wrapper; see the hostile table",
    ),
    (
        "http.options",
        "an artifact of the lab wrapper; see the hostile table",
    ),
    (
        "http.sseUndefinedLastEventId",
        "trackedThenCrash is not in the lab router",
    ),
];

fn load() -> Value {
    let path = crate::common::codecs_path("trpc/captures.json");
    Json::new()
        .decode_value(&std::fs::read(path).unwrap())
        .unwrap()
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v.get(k)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn headers_of(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn captured_probes_replay_with_the_same_replies() {
    let addr = serve().await;
    let captures = load();
    let mut failures = Vec::new();
    let mut ran = 0;
    let probes = list(&captures, "probes");
    // A skip names a capture that exists: a renamed one must not leave a stale excuse.
    for (n, _) in SKIPPED {
        assert!(
            probes.iter().any(|p| text(p, "name") == *n),
            "stale skip {n}"
        );
    }
    for p in probes {
        let name = text(&p, "name");
        if SKIPPED.iter().any(|(n, _)| *n == name) {
            continue;
        }
        ran += 1;
        let relax = WORDING.contains(&name);
        if text(&p, "kind") == "ws" {
            let sent = list(&p, "sent")
                .into_iter()
                .map(|f| {
                    let t = f.as_str().unwrap().to_owned();
                    if name == "ws.binaryFrame" {
                        Out::Binary(t.into_bytes())
                    } else {
                        Out::Text(t)
                    }
                })
                .collect();
            let mut want: Vec<String> = list(&p, "received")
                .iter()
                .map(|f| normalize(f.as_str().unwrap(), relax))
                .collect();
            // The reference closes on the next tick, answering a request that came in
            // between; polycodec closes at once (the client then fails what it had sent).
            if name == "ws.connectionParamsMissing" {
                want.truncate(1);
            }
            let url = format!("ws://{addr}{}", text(&p, "url"));
            let (got, _) = ws_exchange(&url, sent, want.len(), Duration::from_millis(150)).await;
            let got: Vec<String> = got.iter().map(|f| normalize(f, relax)).collect();
            if got != want {
                failures.push(format!("{name}:\n  got  {got:?}\n  want {want:?}"));
            }
            continue;
        }
        let req = p.get("request").unwrap();
        let res = p.get("response").unwrap();
        let hs = headers_of(req.get("headers"));
        let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = req.get("body").and_then(Value::as_str);
        let got = http(addr, text(req, "method"), text(req, "path"), &hs, body).await;
        let want_status = res.get("status").and_then(Value::as_f64).unwrap() as u16;
        let want_body = normalize(text(res, "body"), relax);
        let got_body = normalize(&got.body, relax);
        let want_headers = headers_of(res.get("headers"));
        let mut problems = Vec::new();
        if got.status != want_status {
            problems.push(format!("status {} (want {want_status})", got.status));
        }
        if got_body != want_body {
            problems.push(format!("body\n  got  {got_body:?}\n  want {want_body:?}"));
        }
        for h in [
            "allow",
            "content-type",
            "cache-control",
            "x-accel-buffering",
        ] {
            let want = want_headers
                .iter()
                .find(|(k, _)| k == h)
                .map(|(_, v)| v.as_str());
            if got.header(h) != want {
                problems.push(format!("header {h}: {:?} (want {want:?})", got.header(h)));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran >= 50, "only {ran} probes ran");
}

/// Client scenarios whose replies depend on timing, or on what the lab router has and
/// polycodec leaves out.
const SCENARIOS_SKIPPED: &[&str] = &[
    "httpLink.abort",
    "httpLink.streamingNotAllowed",
    "httpBatchStreamLink.ordering",
    "httpBatchStreamLink.asyncGenerator",
    "httpBatchStreamLink.deferred",
    "sse.ping",
    "sse.retryableError",
    "sse.trackedReconnect",
    "sse.unsubscribe",
    "ws.reconnect",
    "ws.keepAlive.server",
    "ws.keepAlive.client",
    "ws.subscription.stop",
    "ws.lazy",
    "ws.abortQuery",
];

#[tokio::test]
async fn captured_client_scenarios_replay_with_the_same_replies() {
    let addr = serve().await;
    let captures = load();
    let mut failures = Vec::new();
    let mut ran = 0;
    let scenarios = list(&captures, "clientScenarios");
    for n in SCENARIOS_SKIPPED {
        assert!(
            scenarios.iter().any(|s| text(s, "name") == *n),
            "stale skip {n}"
        );
    }
    for s in scenarios {
        let name = text(&s, "name");
        if SCENARIOS_SKIPPED.contains(&name) {
            continue;
        }
        for w in list(&s, "wire") {
            ran += 1;
            if text(&w, "kind") == "http" {
                let hs: Vec<(String, String)> = headers_of(w.get("reqHeaders"))
                    .into_iter()
                    .filter(|(k, _)| {
                        !matches!(k.as_str(), "connection" | "host" | "content-length")
                    })
                    .collect();
                let hs: Vec<(&str, &str)> =
                    hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let body = w.get("reqBody").and_then(Value::as_str);
                let got = http(addr, text(&w, "method"), text(&w, "url"), &hs, body).await;
                let want: String = list(&w, "chunks")
                    .iter()
                    .map(|c| text(c, "data").to_owned())
                    .collect();
                let want_status = w.get("status").and_then(Value::as_f64).unwrap() as u16;
                let (got_body, want) = (normalize(&got.body, false), normalize(&want, false));
                if got.status != want_status || got_body != want {
                    failures.push(format!(
                        "{name}: {} {got_body:?}\n  want {want_status} {want:?}",
                        got.status
                    ));
                }
                continue;
            }
            // WebSocket: send what the client sent, each frame once the replies captured
            // before it came; compare what came back (as sets: a batch's replies come in
            // completion order).
            let url = format!("ws://{addr}{}", text(&w, "url"));
            let (mut got, mut want) = replay_ws(&url, &list(&w, "frames")).await;
            got.sort();
            want.sort();
            if got != want {
                failures.push(format!("{name}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran >= 40, "only {ran} exchanges ran");
}

/// Replay a captured WebSocket exchange: each client frame is sent once as many replies
/// came as the capture shows before it. Returns what came and what the capture has.
type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame within `wait`, normalized into `got`; false when none came.
async fn recv(ws: &mut Ws, got: &mut Vec<String>, wait: Duration) -> bool {
    use tokio_tungstenite::tungstenite::Message;
    match tokio::time::timeout(wait, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            got.push(normalize(&t, false));
            true
        }
        _ => false,
    }
}

async fn replay_ws(url: &str, frames: &[Value]) -> (Vec<String>, Vec<String>) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut want = Vec::new();
    let mut got = Vec::new();
    for f in frames {
        match text(f, "dir") {
            "s2c" => want.push(normalize(text(f, "data"), false)),
            "c2s" => {
                while got.len() < want.len() {
                    if !recv(&mut ws, &mut got, Duration::from_secs(5)).await {
                        break;
                    }
                }
                ws.send(Message::Text(text(f, "data").into()))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    while got.len() < want.len() {
        if !recv(&mut ws, &mut got, Duration::from_secs(5)).await {
            break;
        }
    }
    recv(&mut ws, &mut got, Duration::from_millis(100)).await;
    let _ = ws.close(None).await;
    (got, want)
}

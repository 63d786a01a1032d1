//! tRPC without node: hostile input over WebSocket and HTTP with the exact replies (never a
//! panic, never a non-JSON text frame but `PONG`, every id answered once), the `reconnect`
//! notice on shutdown, subscriptions per socket (the 11.25 client's hand-over), and a Rust
//! kkrpc client next to a tRPC peer on one path.

use crate::trpc_wire::{http, ws_exchange, Out};
use futures_util::{SinkExt, StreamExt};
use polycodec::codec::{Codec, Json};
use polycodec::rpc::trpc::Router;
use polycodec::rpc::{demo, demo_trpc, Client, RpcServer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn serve() -> (SocketAddr, RpcServer) {
    serve_router(demo_trpc::contract_router()).await
}

async fn serve_router(router: Router) -> (SocketAddr, RpcServer) {
    crate::serve::serve_trpc(router).await
}

/// `{"id":null,"error":...}` for a PARSE_ERROR with `message`.
fn parse_error(message: &str) -> String {
    let m = String::from_utf8(Json::new().encode_value(&message.into()).unwrap()).unwrap();
    format!(
        r#"{{"id":null,"error":{{"json":{{"message":{m},"code":-32700,"data":{{"code":"PARSE_ERROR","httpStatus":400}}}}}}}}"#
    )
}

fn q(id: &str, method: &str, path: &str, input: &str) -> String {
    format!(r#"{{"id":{id},"method":"{method}","params":{{"input":{input},"path":"{path}"}}}}"#)
}

#[tokio::test]
async fn hostile_websocket_frames_get_exact_replies() {
    let (addr, _rpc) = serve().await;
    let one = q("1", "query", "echo", r#"{"json":1}"#);
    let many = format!("[{}]", vec![one.as_str(); 101].join(","));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_input = q(
        "1",
        "query",
        "echo",
        &format!(r#"{{"json":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)),
    );
    let table: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        ("not JSON", vec!["{nope".into()], vec![parse_error("key must be a string at line 1 column 2")]),
        ("an empty batch", vec!["[]".into()], vec![]),
        ("a number", vec!["[1]".into()], vec![parse_error("Invalid message: not an object")]),
        ("null", vec!["null".into()], vec![parse_error("Invalid message: not an object")]),
        ("an array as params", vec![r#"{"id":1,"method":"query","params":[]}"#.into()], vec![parse_error("params must be an object")]),
        ("an object id", vec![r#"{"id":{},"method":"query"}"#.into()], vec![parse_error("Invalid request id")]),
        ("a number path", vec![r#"{"id":1,"method":"query","params":{"path":5,"input":{"json":1}}}"#.into()], vec![parse_error("path must be a string")]),
        ("a number lastEventId", vec![r#"{"id":1,"method":"subscription","params":{"path":"ticks","input":{"json":1},"lastEventId":5}}"#.into()], vec![parse_error("lastEventId must be a string")]),
        ("an unknown annotation", vec![q("1", "query", "echo", r#"{"json":1,"meta":{"values":["nonsense"],"v":1}}"#)], vec![parse_error("Unknown transformation: nonsense at path `values`")]),
        ("lower-case ping", vec!["ping".into()], vec![parse_error("expected value at line 1 column 1")]),
        ("JSON-RPC 1.0", vec![r#"{"id":1,"jsonrpc":"1.0","method":"query","params":{"path":"echo","input":{"json":1}}}"#.into()], vec![parse_error("Must be JSONRPC 2.0")]),
        ("a cut frame", vec![r#"{"id":1,"method":"query""#.into()], vec![parse_error("EOF while parsing an object at line 1 column 24")]),
        ("a batch of 101", vec![many], vec![parse_error("Batch call exceeds maximum size (100)")]),
        ("100 000 nested arrays", vec![deep], vec![parse_error("Invalid message: not an object")]),
        ("a stop for an unknown id", vec![r#"{"id":5,"method":"subscription.stop"}"#.into()], vec![]),
        ("PONG", vec!["PONG".into()], vec![]),
        ("PING", vec!["PING".into(), one.clone()], vec!["PONG".into(), r#"{"id":1,"result":{"type":"data","data":{"json":1}}}"#.into()]),
        ("deep input", vec![deep_input], vec![parse_error("nesting deeper than the depth limit of 1024 at byte 1033")]),
        (
            "a query on a subscription",
            vec![q("1", "query", "ticks", r#"{"json":{"n":1}}"#)],
            vec![r#"{"id":1,"error":{"json":{"message":"No \"query\"-procedure on path \"ticks\"","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"ticks"}}}}"#.into()],
        ),
        (
            "a subscription on a mutation",
            vec![q("\"s\"", "subscription", "echoMutation", r#"{"json":1}"#)],
            vec![r#"{"id":"s","error":{"json":{"message":"No \"subscription\"-procedure on path \"echoMutation\"","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"echoMutation"}}}}"#.into()],
        ),
        (
            "a duplicate subscription id",
            vec![
                q("7", "subscription", "ticks", r#"{"json":{"n":9,"delayMs":5000}}"#),
                q("7", "subscription", "ticks", r#"{"json":{"n":9,"delayMs":5000}}"#),
                r#"{"id":7,"method":"subscription.stop"}"#.into(),
            ],
            vec![
                r#"{"id":7,"result":{"type":"started"}}"#.into(),
                r#"{"id":7,"error":{"json":{"message":"Duplicate id 7","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400,"path":"ticks"}}}}"#.into(),
                r#"{"id":7,"result":{"type":"stopped"}}"#.into(),
            ],
        ),
        (
            "a mutation with a bad counter step",
            vec![q("2", "mutation", "counter.inc", r#"{"json":{"by":"x"}}"#)],
            vec![r#"{"id":2,"error":{"json":{"message":"invalid input: invalid type: string \"x\", expected f64 at path `by`","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400,"path":"counter.inc"}}}}"#.into()],
        ),
    ];
    let mut failures = Vec::new();
    for (name, sent, want) in table {
        let url = format!("ws://{addr}/trpc");
        let sent = sent.into_iter().map(Out::Text).collect();
        let (got, _) = ws_exchange(&url, sent, want.len(), Duration::from_millis(100)).await;
        for f in &got {
            let json = Json::new().decode_value(f.as_bytes()).is_ok();
            assert!(json || f == "PONG", "{name}: a non-JSON frame {f:?}");
        }
        if got != want {
            failures.push(format!("{name}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    // A binary frame, and connection params that are not strings (the socket then closes).
    let bin = vec![Out::Binary(b"{}".to_vec())];
    let (got, _) = ws_exchange(
        &format!("ws://{addr}/trpc?connectionParams=1"),
        bin,
        1,
        Duration::from_millis(100),
    )
    .await;
    let want = parse_error("jsonEncoder received binary data. JSON uses text frames. Use a binary encoder for binary data.");
    if got != [want.clone()] {
        failures.push(format!("binary: {got:?}"));
    }
    let params = vec![Out::Text(
        r#"{"method":"connectionParams","data":{"n":1}}"#.into(),
    )];
    let (got, closed) = ws_exchange(
        &format!("ws://{addr}/trpc?connectionParams=1"),
        params,
        1,
        Duration::from_millis(300),
    )
    .await;
    if got != [parse_error("Invalid connection params shape")] || closed != Some(1008) {
        failures.push(format!("connection params: {got:?} {closed:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_query_and_mutation_id_is_answered_exactly_once() {
    let (addr, _rpc) = serve().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/trpc"))
        .await
        .unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for frame in 0..20 {
        let mut batch = Vec::new();
        for k in 0..10 {
            let id = frame * 10 + k;
            let m = match k % 5 {
                0 => q(&id.to_string(), "query", "greet", r#"{"json":"x"}"#),
                1 => q(&id.to_string(), "query", "fail", r#"{"json":null}"#),
                2 => q(
                    &id.to_string(),
                    "mutation",
                    "counter.inc",
                    r#"{"json":{"by":"bad"}}"#,
                ),
                3 => q(&id.to_string(), "query", "no.such", r#"{"json":null}"#),
                _ => q(
                    &id.to_string(),
                    "mutation",
                    "echoMutation",
                    r#"{"json":[1,2]}"#,
                ),
            };
            batch.push(m);
            expected.insert(id.to_string(), 0);
        }
        ws.send(Message::Text(format!("[{}]", batch.join(",")).into()))
            .await
            .unwrap();
    }
    let mut seen = expected.clone();
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(500), ws.next()).await
    {
        let v = Json::new().decode_value(t.as_bytes()).unwrap();
        let id = match v.get("id") {
            Some(polycodec::Value::Number(n)) => n.to_string(),
            other => panic!("an answer without an id: {other:?}"),
        };
        *seen.get_mut(&id).expect("a known id") += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

/// A hostile HTTP request: name, method, target, headers, body, and the status and body
/// of the reply.
type HttpCase<'a> = (
    &'a str,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Option<&'a str>,
    u16,
    String,
);

#[tokio::test]
async fn hostile_http_requests_get_exact_replies() {
    let (addr, _rpc) = serve().await;
    let e = |msg: &str, code: i32, key: &str, status: u16, path: Option<&str>| {
        let path = path
            .map(|p| format!(r#","path":"{p}""#))
            .unwrap_or_default();
        format!(
            r#"{{"error":{{"json":{{"message":"{msg}","code":{code},"data":{{"code":"{key}","httpStatus":{status}{path}}}}}}}}}"#
        )
    };
    let big = "x".repeat((1 << 20) + 1);
    let long = format!("/trpc/greet?input={}", "a".repeat(17 * 1024));
    let batch = format!("/trpc/{}?batch=1", vec!["greet"; 101].join(","));
    let table: Vec<HttpCase> = vec![
        (
            "no content type",
            "POST",
            "/trpc/echoMutation".into(),
            vec![],
            Some("{}"),
            415,
            e(
                "Missing content-type header",
                -32015,
                "UNSUPPORTED_MEDIA_TYPE",
                415,
                None,
            ),
        ),
        (
            "OPTIONS",
            "OPTIONS",
            "/trpc/greet".into(),
            vec![],
            None,
            415,
            e(
                "Missing content-type header",
                -32015,
                "UNSUPPORTED_MEDIA_TYPE",
                415,
                None,
            ),
        ),
        (
            "PUT",
            "PUT",
            "/trpc/greet".into(),
            vec![("content-type", "application/json")],
            Some("{}"),
            405,
            e(
                r#"Unsupported PUT-request to query procedure at path \"greet\""#,
                -32005,
                "METHOD_NOT_SUPPORTED",
                405,
                Some("greet"),
            ),
        ),
        (
            "a batch of 101",
            "GET",
            batch,
            vec![],
            None,
            400,
            e(
                "Batch call exceeds maximum size",
                -32600,
                "BAD_REQUEST",
                400,
                None,
            ),
        ),
        (
            "a body over 1 MiB",
            "POST",
            "/trpc/echoMutation".into(),
            vec![("content-type", "application/json")],
            Some(big.as_str()),
            413,
            e(
                "the body is larger than 1048576 bytes",
                -32013,
                "PAYLOAD_TOO_LARGE",
                413,
                None,
            ),
        ),
        (
            "a URL over 16 KiB",
            "GET",
            long,
            vec![],
            None,
            400,
            e(
                "URL longer than 16384 bytes",
                -32600,
                "BAD_REQUEST",
                400,
                None,
            ),
        ),
        (
            "the empty path",
            "GET",
            "/trpc/".into(),
            vec![],
            None,
            404,
            e(
                r#"No procedure found on path \"\""#,
                -32004,
                "NOT_FOUND",
                404,
                Some(""),
            ),
        ),
        (
            "a cut batch input",
            "GET",
            "/trpc/greet?batch=1&input=%7B%220%22%3A".into(),
            vec![],
            None,
            400,
            format!(
                "[{}]",
                e(
                    "EOF while parsing a value at line 1 column 5",
                    -32600,
                    "BAD_REQUEST",
                    400,
                    Some("greet")
                )
            ),
        ),
        (
            "not JSON",
            "GET",
            "/trpc/greet?input=%7Bnope".into(),
            vec![],
            None,
            400,
            e(
                "expected a string key at byte 1",
                -32600,
                "BAD_REQUEST",
                400,
                Some("greet"),
            ),
        ),
        (
            "null input",
            "GET",
            "/trpc/echo?input=null".into(),
            vec![],
            None,
            400,
            e(
                "Cannot destructure property 'json' of 'payload' as it is null.",
                -32600,
                "BAD_REQUEST",
                400,
                Some("echo"),
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (name, method, target, headers, body, status, want) in table {
        let got = http(addr, method, &target, &headers, body).await;
        if got.status != status || got.body != want {
            failures.push(format!(
                "{name}: {} {}\n  want {status} {want}",
                got.status, got.body
            ));
        }
    }
    let head = http(addr, "HEAD", "/trpc/greet", &[], None).await;
    assert_eq!((head.status, head.body.as_str()), (204, ""));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a link with `methodOverride: 'POST'` sends: queries as POST, the input in the body
/// (batched: keyed "0", "1", ...).
#[tokio::test]
async fn method_override_runs_posted_queries_but_never_a_mutation_by_get() {
    let router = Router::builder()
        .query("greet", |name: String, _| async move {
            Ok(format!("Hello, {name}!"))
        })
        .mutation("shout", |s: String, _| async move { Ok(s.to_uppercase()) })
        .subscription("count", |n: u32, _| async move {
            Ok(futures_util::stream::iter(
                (0..n).map(|i| Ok::<_, polycodec::rpc::RpcError>(f64::from(i))),
            ))
        })
        .allow_method_override(true)
        .build()
        .unwrap();
    let (addr, _rpc) = serve_router(router).await;
    let json = [("content-type", "application/json")];
    let one = http(addr, "POST", "/trpc/greet", &json, Some(r#"{"json":"m"}"#)).await;
    assert_eq!(
        (one.status, one.body.as_str()),
        (200, r#"{"result":{"data":{"json":"Hello, m!"}}}"#)
    );
    let body = r#"{"0":{"json":"a"},"1":{"json":"b"}}"#;
    let batch = http(addr, "POST", "/trpc/greet,greet?batch=1", &json, Some(body)).await;
    assert_eq!(
        (batch.status, batch.body.as_str()),
        (
            200,
            r#"[{"result":{"data":{"json":"Hello, a!"}}},{"result":{"data":{"json":"Hello, b!"}}}]"#
        )
    );
    let get = http(
        addr,
        "GET",
        "/trpc/shout?input=%7B%22json%22%3A%22x%22%7D",
        &[],
        None,
    )
    .await;
    assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    assert!(
        get.body
            .contains(r#"Unsupported GET-request to mutation procedure at path \"shout\""#),
        "{}",
        get.body
    );
    // A subscription POSTed: its events, as for a GET.
    let sse = http(addr, "POST", "/trpc/count", &json, Some(r#"{"json":2}"#)).await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    for event in ["data: {\"json\":0}", "data: {\"json\":1}", "event: return"] {
        assert!(sse.body.contains(event), "{event} in {}", sse.body);
    }
    let put = http(addr, "PUT", "/trpc/greet", &json, Some(r#"{"json":"m"}"#)).await;
    assert_eq!((put.status, put.header("allow")), (405, Some("GET, POST")));
    // Off (the default, as `@trpc/server`): a posted query is 405 with `Allow: GET`.
    let (plain, _rpc) = serve().await;
    let off = http(plain, "POST", "/trpc/greet", &json, Some(r#"{"json":"m"}"#)).await;
    assert_eq!((off.status, off.header("allow")), (405, Some("GET")));
}

#[tokio::test]
async fn shutdown_sends_trpc_peers_the_reconnect_notice_then_closes() {
    let (addr, rpc) = serve().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/trpc"))
        .await
        .unwrap();
    ws.send(Message::Text(
        q("1", "query", "greet", r#"{"json":"a"}"#).into(),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("Hello, a!"));
    rpc.shutdown();
    let notice = ws.next().await.unwrap().unwrap();
    assert_eq!(
        notice.to_text().unwrap(),
        r#"{"id":null,"method":"reconnect"}"#
    );
    match ws.next().await {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 1001),
        other => panic!("no close: {other:?}"),
    }
}

#[tokio::test]
async fn subscriptions_are_per_socket_as_the_client_hands_over_to_a_new_one() {
    let (addr, _rpc) = serve().await;
    let url = format!("ws://{addr}/trpc");
    let (mut old, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut new, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let sub = |after: &str| {
        format!(
            r#"{{"id":1,"method":"subscription","params":{{"input":{{"json":{{"n":6,"delayMs":20}}}},"path":"tracked","lastEventId":"{after}"}}}}"#
        )
    };
    let text = |m: Message| m.to_text().unwrap().to_owned();
    old.send(Message::Text(sub("0").into())).await.unwrap();
    assert_eq!(
        text(old.next().await.unwrap().unwrap()),
        r#"{"id":1,"result":{"type":"started"}}"#
    );
    assert!(text(old.next().await.unwrap().unwrap()).ends_with(r#""id":"1"}}"#));
    // The same id on the new socket starts; stopping it on the old one leaves it running.
    new.send(Message::Text(sub("1").into())).await.unwrap();
    assert_eq!(
        text(new.next().await.unwrap().unwrap()),
        r#"{"id":1,"result":{"type":"started"}}"#
    );
    old.send(Message::Text(
        r#"{"id":1,"method":"subscription.stop"}"#.into(),
    ))
    .await
    .unwrap();
    old.send(Message::Text("PING".into())).await.unwrap();
    // PONG may overtake `stopped` (as with the reference, which stops at the producer's
    // next step): the client closes the old socket after PONG either way.
    let mut tail = Vec::new();
    while !(tail.contains(&"PONG".to_owned()) && tail.iter().any(|t| t.contains("stopped"))) {
        let m = tokio::time::timeout(Duration::from_secs(2), old.next()).await;
        tail.push(text(m.expect("stopped and PONG").unwrap().unwrap()));
    }
    let mut ids = Vec::new();
    loop {
        let t = text(new.next().await.unwrap().unwrap());
        if t.contains("stopped") {
            break;
        }
        ids.push(
            t.rsplit("\"id\":")
                .next()
                .unwrap()
                .trim_end_matches("}}")
                .to_owned(),
        );
    }
    assert_eq!(ids, [r#""2""#, r#""3""#, r#""4""#, r#""5""#]);
}

#[tokio::test]
async fn a_kkrpc_client_and_a_trpc_peer_share_one_path() {
    let (addr, _rpc) = serve().await;
    let url = format!("ws://{addr}/trpc");
    let kkrpc = Client::builder(&url)
        .codecs(["json"])
        .connect()
        .await
        .unwrap();
    let sent = vec![Out::Text(q("1", "query", "greet", r#"{"json":"t"}"#))];
    let trpc = ws_exchange(&url, sent, 1, Duration::from_millis(50));
    let call = kkrpc.call::<String, _>("greet", ("k",));
    let ((frames, _), greeting) = tokio::join!(trpc, call);
    assert_eq!(
        frames,
        [r#"{"id":1,"result":{"type":"data","data":{"json":"Hello, t!"}}}"#]
    );
    assert_eq!(greeting.unwrap(), "Hello, k!");
    // A kkrpc peer that offers nothing and speaks first is told apart by its frame too.
    let (mut raw, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    raw.send(Message::Text(
        r#"{"t":"q","id":"1","op":"call","p":["add"],"a":[2,3]}"#.into(),
    ))
    .await
    .unwrap();
    let reply = raw.next().await.unwrap().unwrap();
    assert_eq!(reply.to_text().unwrap(), r#"{"t":"r","id":"1","v":5}"#);
}

#[tokio::test]
async fn a_rooms_broadcasts_feed_a_trpc_subscription_in_the_chat_demo() {
    let chat = demo::chat_server(None).unwrap();
    let addr = crate::serve::serve_at("/chat/{room}", chat).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/chat/lobby?username=ann"))
            .await
            .unwrap();
    let sub = r#"{"id":1,"method":"subscription","params":{"input":{"json":null,"meta":{"values":["undefined"],"v":1}},"path":"messages"}}"#;
    ws.send(Message::Text(sub.into())).await.unwrap();
    // Before its first frame a peer of a route that serves both may get kkrpc's pushes
    // (a kkrpc listener that never speaks needs them): JSON, which a tRPC client ignores.
    let mut first = next(&mut ws).await;
    while !first.starts_with(r#"{"id":1,"#) {
        assert!(Json::new()
            .decode_value(first.trim_end().as_bytes())
            .is_ok());
        first = next(&mut ws).await;
    }
    assert_eq!(first, r#"{"id":1,"result":{"type":"started"}}"#);
    // A kkrpc peer joins the room and talks; the tRPC subscriber sees both, as Dates.
    let bob = Client::builder(format!("ws://{addr}/chat/lobby?username=bob"))
        .codecs(["superjson"])
        .connect()
        .await
        .unwrap();
    let joined = next(&mut ws).await;
    assert!(joined.contains(r#""text":"bob joined""#), "{joined}");
    assert!(joined.contains(r#""at":["Date"]"#), "{joined}");
    let _: polycodec::Value = bob.call("send", ("hi from kkrpc",)).await.unwrap();
    let said = next(&mut ws).await;
    assert!(
        said.contains(r#""user":"bob","text":"hi from kkrpc""#),
        "{said}"
    );
    // And the tRPC peer sends through its own mutation.
    let send = r#"{"id":2,"method":"mutation","params":{"input":{"json":"hello"},"path":"send"}}"#;
    ws.send(Message::Text(send.into())).await.unwrap();
    let mut frames = vec![next(&mut ws).await, next(&mut ws).await];
    frames.sort();
    assert!(
        frames[0].starts_with(r#"{"id":1,"result":{"type":"data""#),
        "{frames:?}"
    );
    assert!(
        frames[1].starts_with(r#"{"id":2,"result":{"type":"data""#),
        "{frames:?}"
    );
    assert!(frames
        .iter()
        .all(|f| f.contains(r#""user":"ann","text":"hello""#)));
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame's text, within 5 s.
async fn next(ws: &mut Ws) -> String {
    let m = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    m.expect("a frame")
        .unwrap()
        .unwrap()
        .to_text()
        .unwrap()
        .to_owned()
}

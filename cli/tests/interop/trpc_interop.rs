//! tRPC live: the real `@trpc/client` 11.25.2 with superjson 2.2.6 (and `ws`,
//! `eventsource@4.1.1`) against the contract router, through every link (the checks live in
//! `js/trpc-client.mjs`); the same raw requests against polycodec and against the real
//! `@trpc/server` (`js/trpc-reference-server.mjs`) answered with the same bytes wherever
//! tRPC is deterministic; and a tRPC client and a kkrpc client on one WebSocket path.

use crate::trpc_wire::{http, ws_exchange, HttpReply, Out};
use polycodec::codec::{Codec, Json};
use polycodec::rpc::demo_trpc;
use polycodec::Value;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// polycodec with the contract router on `/trpc` (HTTP and WebSocket; kkrpc peers get
/// the demo API there), as `polycodec serve` mounts it.
async fn serve() -> SocketAddr {
    serve_router(demo_trpc::contract_router()).await
}

/// The same with `allow_method_override` on: what a link with `methodOverride: 'POST'`
/// needs (`@trpc/server`'s `allowMethodOverride`).
async fn serve_with_method_override() -> SocketAddr {
    let router = demo_trpc::contract().allow_method_override(true).build();
    serve_router(router.unwrap()).await
}

async fn serve_router(router: polycodec::rpc::trpc::Router) -> SocketAddr {
    crate::serve::serve_trpc(router).await.0
}

/// The reference server under node; killed when dropped.
struct Reference {
    _child: tokio::process::Child,
    addr: SocketAddr,
}

async fn reference() -> Reference {
    let root = crate::common::repo_root();
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("js/trpc-reference-server.mjs"))
        .arg("0")
        .current_dir(&root)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node must be installed");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the reference server starts")
        .unwrap()
        .expect("a READY line");
    // READY http=http://127.0.0.1:PORT/trpc ws=ws://127.0.0.1:PORT/ws
    let host = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("an address");
    Reference {
        _child: child,
        addr: host.parse().unwrap(),
    }
}

pub async fn real_trpc_client_passes_every_check_through_every_link() {
    let addr = serve().await;
    let overridden = serve_with_method_override().await;
    let (http_url, ws_url) = (format!("http://{addr}/trpc"), format!("ws://{addr}/trpc"));
    let override_url = format!("http://{overridden}/trpc");
    let args = [http_url.as_str(), &ws_url, &override_url];
    let (passed, failed) = crate::run_node("js/trpc-client.mjs", &args).await;
    assert!(failed.is_empty(), "failed: {failed:#?}");
    assert!(passed.len() >= 200, "only {} checks passed", passed.len());
    for link in [
        "httpLink:",
        "httpBatchLink:",
        "httpBatchStreamLink:",
        "httpSubscriptionLink:",
        "wsLink:",
        "httpLink (methodOverride POST):",
        "httpBatchLink (methodOverride POST):",
        "httpBatchStreamLink (methodOverride POST):",
    ] {
        assert!(
            passed.iter().any(|p| p.starts_with(link)),
            "no {link} check"
        );
    }
}

pub async fn a_trpc_client_and_a_kkrpc_client_share_one_websocket_path() {
    let addr = serve().await;
    let (http_url, ws_url) = (format!("http://{addr}/trpc"), format!("ws://{addr}/trpc"));
    let (trpc_args, kkrpc_args) = ([http_url.as_str(), &ws_url], [ws_url.as_str(), "superjson"]);
    let trpc = crate::run_node("js/trpc-client.mjs", &trpc_args);
    let kkrpc = crate::run_node("js/kkrpc-client.mjs", &kkrpc_args);
    let ((tp, tf), (kp, kf)) = tokio::join!(trpc, kkrpc);
    assert!(tf.is_empty(), "tRPC failed: {tf:#?}");
    assert!(kf.is_empty(), "kkrpc failed: {kf:#?}");
    assert!(
        tp.len() >= 200 && kp.len() >= 50,
        "{} and {}",
        tp.len(),
        kp.len()
    );
}

/// One request of the differential table.
struct Req {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<&'static str>,
    /// The message is the validator's own (hand-written in the reference, serde here).
    message_differs: bool,
}

fn get(target: &str) -> Req {
    Req {
        method: "GET",
        target: target.to_owned(),
        headers: Vec::new(),
        body: None,
        message_differs: false,
    }
}

fn post(target: &str, body: &'static str) -> Req {
    Req {
        method: "POST",
        target: target.to_owned(),
        headers: vec![("content-type", "application/json")],
        body: Some(body),
        message_differs: false,
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/trpc/<path>?input=<superjson>`.
fn q(path: &str, input: &str) -> String {
    format!("/trpc/{path}?input={}", enc(input))
}

fn table() -> Vec<Req> {
    let rich = r#"{"json":{"big":"10","d":"1970-01-02T00:00:00.000Z","m":[[1,"one"]],"s":["a"],"u":null,"arr":[null,"1"],"re":"/a/g","url":"https://x.dev/","n":["NaN","-0","Infinity"]},"meta":{"values":{"big":["bigint"],"d":["Date"],"m":["map"],"s":["set"],"u":["undefined"],"arr.0":["undefined"],"arr.1":["bigint"],"re":["regexp"],"url":["URL"],"n.0":["number"],"n.1":["number"],"n.2":["number"]},"v":1}}"#;
    let undef = r#"{"json":null,"meta":{"values":["undefined"],"v":1}}"#;
    let mut t = vec![
        get(&q("greet", r#"{"json":"world"}"#)),
        get(&q("greet", r#"{"json":"é \u2028 \"q\""}"#)),
        get(&q("math.add", r#"{"json":{"a":1.5,"b":2}}"#)),
        get(&q("echo", rich)),
        get(&q("echo", undef)),
        get(&q("echo", r#"{"json":null}"#)),
        get(&q("echo", r#"{"json":"7","meta":{"values":["bigint"],"v":1}}"#)),
        get("/trpc/echo"),
        get(&q("typeOf", r#"{"json":"2020-01-01T00:00:00.000Z","meta":{"values":["Date"],"v":1}}"#)),
        get(&q("typeOf", r#"{"json":[[1,2]],"meta":{"values":["map"],"v":1}}"#)),
        get(&q("typeOf", undef)),
        get(&q("sample", undef)),
        get(&q("fail", undef)),
        get(&q("crash", undef)),
        get(&q("whoami", undef)),
        get(&format!("{}&connectionParams={}", q("whoami", undef), enc(r#"{"token":"t"}"#))),
        get(&format!("{}&connectionParams={}", q("whoami", undef), enc("{bad"))),
        get(&format!("{}&connectionParams={}", q("whoami", undef), enc(r#"{"n":1}"#))),
        get(&q("does.not.exist", undef)),
        get(&q("math/add", r#"{"json":{"a":1,"b":2}}"#)),
        get("/trpc/gr%ZZeet"),
        get(&q("greet/", r#"{"json":"slash"}"#)),
        get(&q("echoMutation", undef)),
        post("/trpc/greet", r#"{"json":"x"}"#),
        post("/trpc/echoMutation", rich),
        post("/trpc/echoMutation", ""),
        post("/trpc/counter.inc", r#"{"json":{"by":2}}"#),
        post("/trpc/ticks", undef),
        Req {
            headers: vec![("content-type", "text/plain")],
            ..post("/trpc/echoMutation", r#"{"json":1}"#)
        },
        Req {
            headers: vec![("content-type", "application/json; charset=utf-8")],
            ..post("/trpc/echoMutation", r#"{"json":1}"#)
        },
        Req {
            method: "HEAD",
            ..get("/trpc/greet")
        },
        get(&format!(
            "/trpc/greet,fail,sample?batch=1&input={}",
            enc(r#"{"0":{"json":"a"},"2":{"json":null,"meta":{"values":["undefined"],"v":1}}}"#)
        )),
        get(&format!("/trpc/fail,fail?batch=1&input={}", enc("{}"))),
        get("/trpc/greet%2Cgreet?batch=1&input=%7B%220%22%3A%7B%22json%22%3A%22a%22%7D%2C%221%22%3A%7B%22json%22%3A%22b%22%7D%7D"),
        get(&format!("/trpc/greet,greet?batch=1&input={}", enc(r#"[{"json":"a"}]"#))),
        get(&format!("/trpc/greet,echoMutation?batch=1&input={}", enc("{}"))),
        get(&format!("/trpc/ticks?batch=1&input={}", enc(r#"{"0":{"json":{"n":1}}}"#))),
        post("/trpc/echoMutation,counter.inc?batch=1", r#"{"0":{"json":{"d":"1970-01-01T00:00:01.000Z"},"meta":{"values":{"d":["Date"]},"v":1}}}"#),
        Req {
            headers: vec![("trpc-accept", "application/jsonl")],
            ..get(&format!("/trpc/math.add?batch=1&input={}", enc(r#"{"0":{"json":{"a":40,"b":2}}}"#)))
        },
        Req {
            headers: vec![("trpc-accept", "application/jsonl")],
            ..get(&format!("/trpc/sample?batch=1&input={}", enc("{}")))
        },
        Req {
            headers: vec![("trpc-accept", "application/jsonl")],
            ..get(&format!("/trpc/fail?batch=1&input={}", enc("{}")))
        },
        Req {
            headers: vec![("trpc-accept", "application/jsonl")],
            ..get(&q("greet", r#"{"json":"x"}"#))
        },
        get(&q("ticks", r#"{"json":{"n":3,"delayMs":0}}"#)),
        get(&q("ticks", r#"{"json":{"n":-1}}"#)),
        get(&q("tracked", r#"{"json":{"n":3,"delayMs":0}}"#)),
        Req {
            headers: vec![("last-event-id", "0")],
            ..get(&q("tracked", r#"{"json":{"n":3,"delayMs":0}}"#))
        },
        get(&format!("{}&lastEventId=1", q("tracked", r#"{"json":{"n":3,"delayMs":0}}"#))),
        get(&q("tracked", r#"{"json":{"n":2,"delayMs":0,"lastEventId":"x"}}"#)),
    ];
    for r in [
        q("math.add", r#"{"json":{"a":"x","b":2}}"#),
        q("greet", r#"{"json":5}"#),
        q("greet", r#""world""#),
    ] {
        t.push(Req {
            message_differs: true,
            ..get(&r)
        });
    }
    t
}

/// The reply with the error messages replaced (for validation messages).
fn without_messages(body: &str) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.get("code").is_some() && o.get("message").is_some() {
                    o.insert("message", Value::from("<message>"));
                }
                o.iter_mut().for_each(|(_, c)| walk(c));
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let json = Json::new();
    match json.decode_value(body.as_bytes()) {
        Ok(mut v) => {
            walk(&mut v);
            String::from_utf8(json.encode_value(&v).unwrap()).unwrap()
        }
        Err(_) => body.to_owned(),
    }
}

fn show(r: &HttpReply) -> String {
    let ct = r.header("content-type").unwrap_or("-");
    let allow = r
        .header("allow")
        .map(|a| format!(" allow={a}"))
        .unwrap_or_default();
    format!("{} {ct}{allow} {}", r.status, r.body)
}

pub async fn the_same_requests_get_the_same_bytes_as_the_reference_server() {
    let ours = serve().await;
    let reference = reference().await;
    let mut differ = Vec::new();
    let table = table();
    for req in &table {
        let mut replies = Vec::new();
        for addr in [ours, reference.addr] {
            let hs: Vec<(&str, &str)> = req.headers.clone();
            let mut r = http(addr, req.method, &req.target, &hs, req.body).await;
            if req.message_differs {
                r.body = without_messages(&r.body);
            }
            replies.push(show(&r));
        }
        if replies[0] != replies[1] {
            differ.push(format!(
                "{} {}\n  polycodec {}\n  reference {}",
                req.method, req.target, replies[0], replies[1]
            ));
        }
    }
    let ws = ws_table();
    for (url, frames, expect) in &ws {
        let mut got = Vec::new();
        for (addr, path) in [(ours, "/trpc"), (reference.addr, "/ws")] {
            let sent = frames.iter().map(|f| Out::Text(f.to_string())).collect();
            let url = format!("ws://{addr}{path}{url}");
            let (mut frames, _) =
                ws_exchange(&url, sent, *expect, Duration::from_millis(150)).await;
            frames.sort();
            got.push(frames);
        }
        if got[0] != got[1] {
            differ.push(format!(
                "WS {frames:?}\n  polycodec {:?}\n  reference {:?}",
                got[0], got[1]
            ));
        }
    }
    drop(reference);
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        table.len() + ws.len(),
        differ.join("\n")
    );
}

/// WebSocket exchanges: the URL's query, the frames sent, how many replies to wait for.
fn ws_table() -> Vec<(&'static str, Vec<&'static str>, usize)> {
    let undef = r#"{"json":null,"meta":{"values":["undefined"],"v":1}}"#;
    let q = |id: u32, method: &str, path: &str, input: &str| {
        format!(r#"{{"id":{id},"method":"{method}","params":{{"input":{input},"path":"{path}"}}}}"#)
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        (
            "",
            vec![leak(q(1, "query", "greet", r#"{"json":"ws"}"#))],
            1,
        ),
        ("", vec![leak(q(1, "query", "sample", undef))], 1),
        ("", vec![leak(q(1, "query", "echo", undef))], 1),
        (
            "",
            vec![leak(q(
                1,
                "mutation",
                "echoMutation",
                r#"{"json":{"d":"1970-01-01T00:00:01.000Z"},"meta":{"values":{"d":["Date"]},"v":1}}"#,
            ))],
            1,
        ),
        (
            "",
            vec![leak(format!(
                "[{},{},{}]",
                q(1, "query", "greet", r#"{"json":"a"}"#),
                q(2, "query", "math.add", r#"{"json":{"a":5,"b":6}}"#),
                q(3, "query", "fail", undef)
            ))],
            3,
        ),
        ("", vec![leak(q(1, "query", "crash", undef))], 1),
        ("", vec![leak(q(1, "query", "nope", undef))], 1),
        (
            "",
            vec![leak(q(1, "mutation", "greet", r#"{"json":"x"}"#))],
            1,
        ),
        (
            "",
            vec![leak(q(1, "query", "ticks", r#"{"json":{"n":1}}"#))],
            1,
        ),
        (
            "",
            vec![leak(q(
                1,
                "subscription",
                "ticks",
                r#"{"json":{"n":2,"delayMs":0}}"#,
            ))],
            4,
        ),
        (
            "",
            vec![leak(q(
                1,
                "subscription",
                "tracked",
                r#"{"json":{"n":2,"delayMs":0}}"#,
            ))],
            4,
        ),
        (
            "",
            vec![leak(q(1, "subscription", "ticks", r#"{"json":{"n":-1}}"#))],
            1,
        ),
        (
            "",
            vec![
                r#"{"id":1,"method":"subscription","params":{"input":{"json":{"n":3,"delayMs":0}},"path":"tracked","lastEventId":"0"}}"#,
            ],
            4,
        ),
        (
            "",
            vec![
                leak(q(
                    7,
                    "subscription",
                    "ticks",
                    r#"{"json":{"n":5,"delayMs":300}}"#,
                )),
                leak(q(
                    7,
                    "subscription",
                    "ticks",
                    r#"{"json":{"n":5,"delayMs":300}}"#,
                )),
                r#"{"id":7,"method":"subscription.stop"}"#,
            ],
            3,
        ),
        ("", vec![r#"{"id":99,"method":"subscription.stop"}"#], 0),
        ("", vec!["PING"], 1),
        ("", vec!["PONG"], 0),
        (
            "",
            vec![r#"{"id":"abc","method":"query","params":{"path":"greet","input":{"json":"s"}}}"#],
            1,
        ),
        (
            "",
            vec![
                r#"{"id":1,"method":"query","params":{"path":"greet","input":{"json":"rpc"}},"jsonrpc":"2.0"}"#,
            ],
            1,
        ),
        (
            "",
            vec![r#"{"id":null,"method":"query","params":{"path":"greet","input":{"json":"s"}}}"#],
            1,
        ),
        (
            "",
            vec![r#"{"method":"query","params":{"path":"greet","input":{"json":"m"}}}"#],
            1,
        ),
        (
            "",
            vec![
                r#"{"id":1,"method":"frobnicate","params":{"path":"greet","input":{"json":"x"}}}"#,
            ],
            1,
        ),
        (
            "",
            vec![r#"{"id":1,"method":"query","params":{"path":"echo"}}"#],
            1,
        ),
        (
            "",
            vec![r#"{"id":1,"method":"query","params":{"path":"echo","input":null}}"#],
            1,
        ),
        (
            "",
            vec![
                r#"[{"id":1,"method":"query","params":{"path":"greet","input":{"json":"b1"}}},{"id":2,"method":"nope"}]"#,
            ],
            1,
        ),
        (
            "?connectionParams=1",
            vec![
                r#"{"method":"connectionParams","data":{"token":"raw","lang":"en"}}"#,
                leak(q(1, "query", "whoami", undef)),
            ],
            1,
        ),
        (
            "?connectionParams=1",
            vec![
                r#"{"method":"connectionParams","data":null}"#,
                leak(q(1, "query", "whoami", undef)),
            ],
            1,
        ),
        (
            "",
            vec![
                r#"{"method":"connectionParams","data":{"token":"x"}}"#,
                leak(q(1, "query", "whoami", undef)),
            ],
            2,
        ),
    ]
}

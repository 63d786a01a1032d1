//! RPC over WebSocket: Rust client against Rust server over every codec, negotiation,
//! callbacks both ways, errors that survive the trip, and concurrency.

use polycodec::rpc::{codes, demo, Api, Call, CallArg, Client, Error, RpcError, RpcServer};

/// The error the peer answered with (any other failure fails the test).
fn remote(e: Error) -> RpcError {
    match e {
        Error::Remote(e) => e,
        other => panic!("not a remote error: {other:?}"),
    }
}

/// The HTTP status of a refused connect.
fn status(e: &Error) -> Option<u16> {
    match e {
        Error::Connect { status, .. } => *status,
        _ => None,
    }
}
use polycodec::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serve `server` on 127.0.0.1, port 0; returns the `ws://` base URL.
async fn serve(server: RpcServer) -> String {
    format!("ws://{}/rpc", crate::serve::serve_at("/rpc", server).await)
}

async fn demo_server() -> String {
    serve(RpcServer::builder(demo::api()).build().unwrap()).await
}

/// A client that offers exactly one codec.
async fn connect(url: &str, codec: &str) -> Client {
    Client::builder(url)
        .codecs([codec])
        .connect()
        .await
        .unwrap()
}

/// A raw WebSocket client, for frames the `Client` would never send.
type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The text of the next frame from `ws` (waiting at most 10 s).
async fn next_text(ws: &mut RawSocket) -> String {
    use futures_util::StreamExt;
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a frame in time")
        .expect("the socket open")
        .expect("no socket error");
    frame.to_text().expect("a text frame").to_owned()
}

/// The connection still answers a call (`add`, as the demo API and these tests define it).
async fn assert_still_answers(client: &Client) {
    let sum: f64 = client.call("add", (1, 2)).await.unwrap();
    assert_eq!(sum, 3.0);
}

fn codecs() -> Vec<&'static str> {
    let mut v = vec!["json", "superjson", "msgpack", "msgpackr"];
    if cfg!(feature = "bincode") {
        v.push("bincode");
    }
    v
}

#[tokio::test]
async fn every_demo_method_works_over_every_codec() {
    let url = demo_server().await;
    for codec in codecs() {
        let client = connect(&url, codec).await;
        assert_eq!(client.codec(), codec);
        let greeting: String = client.call("greet", ("Ann",)).await.unwrap();
        assert_eq!(greeting, "Hello, Ann!");
        let sum: f64 = client.call("add", (2, 3)).await.unwrap();
        assert_eq!(sum, 5.0);
        let product: f64 = client.call("math.multiply", (4, 6)).await.unwrap();
        assert_eq!(product, 24.0, "{codec}");
        let now: polycodec::Date = client.call("now", ()).await.unwrap();
        assert!(now.is_valid());
        // A rich value comes back equal wherever the codec can hold it.
        let rich = Value::from(vec![
            Value::Date(polycodec::Date::from_millis(1_700_000_000_123.0)),
            Value::Map(vec![(Value::from(1), Value::from("one"))]),
            Value::Set(vec![Value::from("a")]),
            Value::BigInt(u64::MAX.into()),
            Value::Undefined,
        ]);
        let back = client
            .call_args(
                "echo",
                vec![CallArg::Value(rich.clone())],
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        if codec != "json" {
            assert_eq!(back, rich, "{codec}");
        }
    }
}

#[tokio::test]
async fn a_thrown_error_reaches_the_rust_caller_typed() {
    let url = demo_server().await;
    for codec in codecs() {
        let client = connect(&url, codec).await;
        let err = client.call::<(), _>("fail", ("boom",)).await.unwrap_err();
        let err = remote(err);
        assert_eq!(err.name, "DemoError", "{codec}");
        assert_eq!(err.message, "boom");
    }
}

#[tokio::test]
async fn unknown_method_always_gets_an_error_reply() {
    let url = demo_server().await;
    let client = Client::connect(&url).await.unwrap();
    let err = client
        .call::<Value, _>("nope.deeper", ())
        .await
        .unwrap_err();
    let err = remote(err);
    assert_eq!(err.name, codes::NOT_FOUND);
    assert_eq!(err.message, "Method nope.deeper is not a function");
    let err = remote(client.call::<f64, _>("add", ("x", 1)).await.unwrap_err());
    assert_eq!(err.name, "TypeError");
    assert!(err.message.contains("invalid arguments for add"), "{err}");
}

#[tokio::test]
async fn callbacks_from_rust_are_called_in_order_before_the_reply() {
    let url = demo_server().await;
    let client = Client::builder(&url)
        .codecs(["msgpack"])
        .connect()
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let cb = CallArg::callback(move |args| s.lock().unwrap().push(args[0].clone()));
    let done = client
        .call_args("withCallback", vec![3.into(), cb], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done, Value::from("done"));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Value::from(1), Value::from(2), Value::from(3)]
    );
}

#[tokio::test]
async fn properties_read_and_write() {
    let url = demo_server().await;
    let client = Client::builder(&url)
        .codecs(["superjson"])
        .connect()
        .await
        .unwrap();
    assert_eq!(client.get("counter").await.unwrap(), Value::from(0));
    client.set("counter", Value::from(41)).await.unwrap();
    assert_eq!(client.get("counter").await.unwrap(), Value::from(41));
}

#[tokio::test]
async fn the_server_calls_an_api_the_client_exposes() {
    let url = demo_server().await;
    let api = Api::builder()
        .typed("clientHello", |(who,): (String,)| async move {
            Ok::<_, RpcError>(format!("hello {who} from client"))
        })
        .build()
        .unwrap();
    for codec in codecs() {
        let client = Client::builder(&url)
            .codecs([codec])
            .expose(api.clone())
            .connect()
            .await
            .unwrap();
        let r: String = client
            .call("callClient", ("clientHello", "server"))
            .await
            .unwrap();
        assert_eq!(r, "hello server from client", "{codec}");
    }
}

#[tokio::test]
async fn a_method_sees_its_connection() {
    let api = Api::builder()
        .method("whoami", |call: Call| async move {
            Ok(Value::from(vec![
                Value::from(call.peer().id() as f64),
                Value::from(call.peer().codec()),
            ]))
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = Client::builder(&url)
        .codecs(["msgpack"])
        .connect()
        .await
        .unwrap();
    let (id, codec): (f64, String) = client.call("whoami", ()).await.unwrap();
    assert!(id >= 1.0);
    assert_eq!(codec, "msgpack");
}

#[tokio::test]
async fn thousand_concurrent_calls_on_one_connection_are_each_answered_once() {
    let url = demo_server().await;
    for codec in ["json", "msgpack"] {
        let client = Arc::new(connect(&url, codec).await);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000u32 {
            let c = client.clone();
            tasks.spawn(async move { (i, c.call::<f64, _>("add", (i, 1)).await) });
        }
        let mut seen = vec![false; 1000];
        while let Some(r) = tasks.join_next().await {
            let (i, sum) = r.unwrap();
            assert_eq!(sum.unwrap(), f64::from(i) + 1.0);
            assert!(
                !std::mem::replace(&mut seen[i as usize], true),
                "answered twice"
            );
        }
        assert!(seen.iter().all(|&s| s), "{codec}");
    }
}

#[tokio::test]
async fn negotiation_picks_the_servers_preference_among_offered() {
    let server = RpcServer::builder(demo::api())
        .codecs(["msgpack", "superjson", "json"])
        .build()
        .unwrap();
    let url = serve(server).await;
    let client = Client::builder(&url)
        .codecs(["json", "superjson"])
        .connect()
        .await
        .unwrap();
    assert_eq!(client.codec(), "superjson");
    // ?codec= chooses without subprotocols.
    let client = Client::connect(format!("{url}?codec=superjson"))
        .await
        .unwrap();
    let v: f64 = client.call("add", (1, 1)).await.unwrap();
    assert_eq!(v, 2.0);
}

#[tokio::test]
async fn offered_but_none_allowed_is_400_before_upgrade() {
    let server = RpcServer::builder(demo::api())
        .codecs(["json"])
        .build()
        .unwrap();
    let url = serve(server).await;
    let err = Client::builder(&url)
        .codecs(["msgpack"])
        .connect()
        .await
        .err()
        .unwrap();
    assert_eq!(status(&err), Some(400));
    assert!(
        err.to_string()
            .contains("allowed codecs: json (polycodec.json)"),
        "{err}"
    );
    let err = Client::connect(format!("{url}?codec=msgpack"))
        .await
        .err()
        .unwrap();
    assert_eq!(status(&err), Some(400));
}

#[tokio::test]
async fn pending_calls_fail_at_once_when_the_connection_closes() {
    let api = Api::builder()
        .method("hang", |_call: Call| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(Value::Null)
        })
        .method("closeMe", |call: Call| async move {
            call.peer().close().await;
            Ok(Value::Null)
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = Arc::new(Client::connect(&url).await.unwrap());
    let c = client.clone();
    let hanging = tokio::spawn(async move { c.call::<Value, _>("hang", ()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let _ = client.call::<Value, _>("closeMe", ()).await;
    let err = hanging.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = client.call::<Value, _>("echo", (1,)).await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
}

#[tokio::test]
async fn per_call_timeout() {
    let api = Api::builder()
        .method("slow", |_call: Call| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(Value::Null)
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = Client::connect(&url).await.unwrap();
    let err = client
        .call_with_timeout::<Value, _>("slow", (), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().ends_with("timed out after 100ms"), "{err}");
}

#[test]
fn registering_a_path_twice_is_an_error() {
    let err = Api::builder()
        .property("x", Value::Null)
        .typed("x", |(): ()| async move { Ok::<_, RpcError>(()) })
        .build()
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "\"x\" is registered twice");
}

#[tokio::test]
async fn dropping_a_callback_stub_sends_the_release_message() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let api = Api::builder()
        .method("takeAndDrop", |call: Call| async move {
            let cb = call.callback(0)?;
            drop(cb);
            Ok(Value::from("dropped"))
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let q = r#"{"t":"q","id":"1","op":"call","p":["takeAndDrop"],"a":[{"__kkrpc_next_arg__":"callback","id":"cb-7"}]}"#;
    ws.send(Message::Text(q.into())).await.unwrap();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            frames.push(t.to_string());
        }
    }
    assert!(
        frames.contains(&r#"{"t":"cbr","ids":["cb-7"]}"#.to_owned()),
        "{frames:?}"
    );
    assert!(
        frames.contains(&r#"{"t":"r","id":"1","v":"dropped"}"#.to_owned()),
        "{frames:?}"
    );
}

/// Legacy kkrpc peers frame messages as newline-terminated lines, and a line need not match
/// a WebSocket frame: two lines may share a frame, and a line may be cut across frames.
#[tokio::test]
async fn legacy_lines_are_answered_however_frames_cut_them() {
    use futures_util::{SinkExt, StreamExt};
    use polycodec::codec::Codec;
    use tokio_tungstenite::tungstenite::Message;
    let url = demo_server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let line = |id: &str, x: u32| {
        format!(
            "{{\"id\":\"{id}\",\"method\":\"echo\",\"args\":[{x}],\"type\":\"request\",\"version\":\"json\"}}\n"
        )
    };
    let (a, b, c, d) = (line("a", 1), line("b", 2), line("c", 3), line("d", 4));
    let frames = [
        format!("{a}{b}"),                            // two whole lines in one frame
        c[..10].to_owned(),                           // the start of a line ...
        format!("{}{}", &c[10..], &d[..d.len() - 1]), // ... its end and another line's start
        "\n".to_owned(),                              // ... whose newline comes alone
    ];
    for f in frames {
        ws.send(Message::Text(f.into())).await.unwrap();
    }
    let mut got = Vec::new();
    let mut text = String::new();
    while got.len() < 4 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a reply for every line")
            .unwrap()
            .unwrap();
        text.push_str(msg.to_text().unwrap());
        while let Some(pos) = text.find('\n') {
            let reply: String = text.drain(..=pos).collect();
            let v = polycodec::codec::Json::new()
                .decode_value(reply.trim().as_bytes())
                .unwrap();
            let id = v.get("id").and_then(Value::as_str).unwrap().to_owned();
            let result = v.get("args").and_then(|a| a.get("result")).cloned();
            got.push((id, result));
        }
    }
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let want: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .zip(1..)
        .map(|(id, x)| (id.to_string(), Some(Value::from(x))))
        .collect();
    assert_eq!(got, want);
}

/// A handler that panics (at once, or after it has waited) gets an error reply with its own
/// name, and the connection goes on answering.
#[tokio::test]
async fn a_panicking_handler_gets_an_error_reply_and_the_connection_lives_on() {
    let api = Api::builder()
        .method("panicNow", |_: Call| async move {
            if true {
                panic!("handler bug");
            }
            Ok(Value::Null)
        })
        .method("panicLater", |_: Call| async move {
            tokio::task::yield_now().await;
            if true {
                panic!("handler bug after a wait");
            }
            Ok(Value::Null)
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    for codec in codecs() {
        let client = connect(&url, codec).await;
        for method in ["panicNow", "panicLater"] {
            let err = client.call::<(), _>(method, ()).await.unwrap_err();
            assert_eq!(
                remote(err).name,
                codes::HANDLER_PANICKED,
                "{codec} {method}"
            );
            let sum: f64 = client.call("add", (1, 2)).await.unwrap();
            assert_eq!(sum, 3.0, "{codec} {method}");
        }
    }
}

/// Calls that finish at once are answered as the connection reads; one that waits does not
/// hold up the calls after it.
#[tokio::test]
async fn a_waiting_call_does_not_hold_up_the_next_one() {
    let api = Api::builder()
        .typed("slow", |(): ()| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, RpcError>("slow")
        })
        .typed("quick", |(): ()| async move { Ok::<_, RpcError>("quick") })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = Arc::new(connect(&url, "json").await);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, method) in ["slow", "quick", "quick"].into_iter().enumerate() {
        let (c, order) = (client.clone(), order.clone());
        tasks.spawn(async move {
            // In this order on the wire.
            tokio::time::sleep(Duration::from_millis(20 * i as u64)).await;
            let r: String = c.call(method, ()).await.unwrap();
            order.lock().unwrap().push(r);
        });
    }
    while tasks.join_next().await.is_some() {}
    assert_eq!(*order.lock().unwrap(), ["quick", "quick", "slow"]);
}

/// kkrpc's remote references (`op:"ref"`, opt-in on the JS side) are not served: the caller
/// gets the error a default kkrpc channel gives, under its own id (it got an id-less parse
/// error and waited for its timeout).
#[tokio::test]
async fn a_remote_reference_request_gets_the_error_kkrpc_gives() {
    use futures_util::SinkExt;
    use polycodec::codec::Codec;
    use tokio_tungstenite::tungstenite::Message;
    let url = demo_server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let frame = r#"{"t":"q","id":"r1","op":"ref","p":["x"]}"#;
    ws.send(Message::Text(frame.into())).await.unwrap();
    let reply = next_text(&mut ws).await;
    let v = polycodec::codec::Json::new()
        .decode_value(reply.as_bytes())
        .unwrap();
    assert_eq!(v.get("id"), Some(&Value::from("r1")), "{v:?}");
    let e = v.get("e").expect("an error");
    assert_eq!(e.get("n"), Some(&Value::from("Error")));
    assert_eq!(
        e.get("m"),
        Some(&Value::from(
            "Remote reference operations require kkrpc/remote-refs"
        ))
    );
}

/// `Limits::unlimited()` on both ends (tokio panicked on the channel and semaphore sizes it
/// asked for).
#[tokio::test]
async fn unlimited_limits_work_on_server_and_client() {
    let server = RpcServer::builder(demo::api())
        .limits(polycodec::Limits::unlimited())
        .build()
        .unwrap();
    let url = serve(server).await;
    let client = Client::builder(&url)
        .limits(polycodec::Limits::unlimited())
        .connect()
        .await
        .unwrap();
    assert_still_answers(&client).await;
}

/// A local callback that panics is contained: the call it was passed with still gets its
/// reply and the connection goes on (the panic unwound out of the connection's task).
#[tokio::test]
async fn a_panicking_callback_does_not_end_the_connection() {
    let url = demo_server().await;
    let client = connect(&url, "json").await;
    let cb = CallArg::callback(|_| panic!("callback bug"));
    let done = client
        .call_args("withCallback", vec![2.into(), cb], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done, Value::from("done"));
    assert_still_answers(&client).await;
}

/// The callbacks passed with a call that timed out are forgotten with it: a late call from
/// the peer finds nothing to run.
#[tokio::test]
async fn callbacks_of_a_timed_out_call_are_forgotten() {
    let api = Api::builder()
        .method("later", |call: Call| async move {
            let cb = call.callback(0)?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // The caller forgot the callback: the invocation is an error or a no-op.
            let _ = cb.invoke(vec![Value::from(1)]).await;
            Ok(Value::Null)
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = connect(&url, "json").await;
    let ran = Arc::new(Mutex::new(0));
    let r = ran.clone();
    let cb = CallArg::callback(move |_| *r.lock().unwrap() += 1);
    let err = client
        .call_args("later", vec![cb], Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(*ran.lock().unwrap(), 0);
    assert_still_answers(&client).await;
}

/// A legacy line cut into thousands of frames is answered once, whole. This checks the
/// answer, not the time: the buffering was quadratic (4 MB in 1 KB frames took 1.1 s of
/// CPU), which this 200 KB line does not show and no test times.
#[tokio::test]
async fn a_legacy_line_in_thousands_of_frames_is_answered_once() {
    use futures_util::SinkExt;
    use polycodec::codec::Codec;
    use tokio_tungstenite::tungstenite::Message;
    let url = demo_server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let line = |id: &str, arg: &str| {
        format!(
            "{{\"id\":\"{id}\",\"method\":\"echo\",\"args\":[\"{arg}\"],\"type\":\"request\",\"version\":\"json\"}}\n"
        )
    };
    // A whole line first: the peer is a legacy one from then on.
    ws.send(Message::Text(line("small", "s").into()))
        .await
        .unwrap();
    let big = "x".repeat(200_000);
    for chunk in line("big", &big).as_bytes().chunks(100) {
        let text = std::str::from_utf8(chunk).unwrap().to_owned();
        ws.send(Message::Text(text.into())).await.unwrap();
    }
    let mut text = String::new();
    while text.matches('\n').count() < 2 {
        text.push_str(&next_text(&mut ws).await);
    }
    let last = text.trim_end().rsplit('\n').next().unwrap();
    let v = polycodec::codec::Json::new()
        .decode_value(last.as_bytes())
        .unwrap();
    assert_eq!(v.get("id"), Some(&Value::from("big")));
    assert_eq!(
        v.get("args").and_then(|a| a.get("result")),
        Some(&Value::from(big.as_str()))
    );
}

/// A function the peer passes in two calls is one stub: the release (`cbr`) goes out when
/// the last clone is dropped, not when the second call's copy is (the peer then ignored the
/// calls the first one still made).
#[tokio::test]
async fn a_function_passed_twice_is_released_once_its_last_stub_is_dropped() {
    use futures_util::SinkExt;
    use polycodec::rpc::Callback;
    use tokio_tungstenite::tungstenite::Message;
    let kept: Arc<Mutex<Option<Callback>>> = Arc::default();
    let (k1, k2) = (kept.clone(), kept.clone());
    let api = Api::builder()
        .method("keep", move |call: Call| {
            let k = k1.clone();
            async move {
                *k.lock().unwrap() = Some(call.callback(0)?);
                Ok(Value::from("kept"))
            }
        })
        .method("takeAndDrop", |call: Call| async move {
            drop(call.callback(0)?);
            Ok(Value::from("dropped"))
        })
        .method("release", move |_: Call| {
            let k = k2.clone();
            async move {
                k.lock().unwrap().take();
                Ok(Value::from("released"))
            }
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut frames = Vec::new();
    for (id, method) in [("1", "keep"), ("2", "takeAndDrop"), ("3", "release")] {
        let q = format!(
            r#"{{"t":"q","id":"{id}","op":"call","p":["{method}"],"a":[{{"__kkrpc_next_arg__":"callback","id":"U"}}]}}"#
        );
        ws.send(Message::Text(q.into())).await.unwrap();
        // Up to the reply to this call (a release comes before it, if any).
        loop {
            let t = next_text(&mut ws).await;
            let reply = t.contains(&format!(r#""id":"{id}""#));
            frames.push(t);
            if reply {
                break;
            }
        }
    }
    let release = r#"{"t":"cbr","ids":["U"]}"#.to_owned();
    assert_eq!(
        frames.iter().filter(|f| **f == release).count(),
        1,
        "{frames:?}"
    );
    // After the last stub went, not after the second call's.
    let at = frames.iter().position(|f| *f == release).unwrap();
    let released = frames.iter().position(|f| f.contains("released")).unwrap();
    let dropped = frames.iter().position(|f| f.contains("dropped")).unwrap();
    assert!(dropped < at && at < released, "{frames:?}");
}

/// `get` of the root (`p:[]`) or of a path that leads to others (`await api.settings`) reads
/// the object they make, as kkrpc gives the exposed object JSON-encoded: properties with
/// their values, methods left out. (It said "not found".)
#[tokio::test]
async fn get_of_the_root_or_a_prefix_reads_the_object_below_it() {
    let api = Api::builder()
        .property("settings.theme", Value::from("dark"))
        .property("settings.size", Value::from(12))
        .property("counter", Value::from(3))
        .typed("math.multiply", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a * b)
        })
        .build()
        .unwrap();
    let url = serve(RpcServer::builder(api).build().unwrap()).await;
    let client = connect(&url, "json").await;
    let json = |s: &str| {
        polycodec::codec::Codec::decode_value(&polycodec::codec::Json::new(), s.as_bytes()).unwrap()
    };
    assert_eq!(
        client.get("settings").await.unwrap(),
        json(r#"{"size":12,"theme":"dark"}"#)
    );
    assert_eq!(client.get("math").await.unwrap(), json("{}"));
    assert_eq!(
        client.get("").await.unwrap(),
        json(r#"{"counter":3,"math":{},"settings":{"size":12,"theme":"dark"}}"#)
    );
    let err = client.get("nope").await.unwrap_err();
    assert_eq!(remote(err).message, "Property path nope not found");
}

/// A raw WebSocket offering `codec`'s subprotocol (empty: none) on `url`.
async fn raw_offering(url: &str, token: &str) -> RawSocket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    if !token.is_empty() {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", token.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Send `msg` in `codec` over `ws` and decode the reply.
async fn exchange(ws: &mut RawSocket, codec: &dyn polycodec::codec::Codec, msg: &str) -> Value {
    use futures_util::{SinkExt, StreamExt};
    use polycodec::codec::FrameKind;
    use tokio_tungstenite::tungstenite::Message;
    let v = polycodec::codec::Codec::decode_value(&polycodec::codec::Json::new(), msg.as_bytes())
        .unwrap();
    let bytes = codec.encode_value(&v).unwrap();
    let frame = match codec.frame_kind() {
        FrameKind::Text => Message::Text(String::from_utf8(bytes).unwrap().into()),
        FrameKind::Binary => Message::Binary(bytes.into()),
    };
    ws.send(frame).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a reply in time")
        .expect("the socket open")
        .expect("no socket error");
    codec.decode_value(&reply.into_data()).unwrap()
}

/// An `echo` call whose argument is nested `depth` arrays deep.
fn deep_echo(depth: usize) -> String {
    format!(
        r#"{{"t":"q","id":"d{depth}","op":"call","p":["echo"],"a":[{}1{}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// The server's limits reach the codec a client negotiates, not only the JSON and
/// superjson it detects (a negotiated codec was the registry's, with the default limits:
/// a route limited to depth 8 read 20 levels from every negotiated codec).
#[tokio::test]
async fn server_limits_reach_every_negotiated_codec() {
    let server = RpcServer::builder(demo::api())
        .limits(polycodec::Limits::default().max_depth(8))
        .build()
        .unwrap();
    let url = serve(server).await;
    let registry = polycodec::codec::Registry::with_builtins();
    for name in codecs() {
        let codec = registry.get(name).unwrap();
        let mut ws = raw_offering(&url, codec.subprotocol()).await;
        let refused = exchange(&mut ws, &*codec, &deep_echo(20)).await;
        let message = refused
            .get("e")
            .and_then(|e| e.get("m"))
            .and_then(Value::as_str);
        assert!(
            message.is_some_and(|m| m.contains("depth limit of 8")),
            "{name}: {refused:?}"
        );
        // The connection lives on and reads what is within the limit.
        let ok = exchange(&mut ws, &*codec, &deep_echo(3)).await;
        assert_eq!(ok.get("id"), Some(&Value::from("d3")), "{name}: {ok:?}");
        assert!(ok.get("e").is_none(), "{name}: {ok:?}");
    }
}

/// The client's limits reach its codec (a reply deeper than its depth limit is refused)
/// and its socket (a message over tungstenite's 16 MiB frame default is read when the
/// limits allow it; the server's frame size follows its limits the same way).
#[tokio::test]
async fn client_and_server_limits_reach_the_codec_and_the_socket() {
    let big = polycodec::Limits::default().max_message_bytes(64 << 20);
    let api = Api::builder()
        .typed("deep", |(n,): (u32,)| async move {
            let mut v = Value::from(1);
            for _ in 0..n {
                v = Value::from(vec![v]);
            }
            Ok::<_, RpcError>(v)
        })
        .typed(
            "echo",
            |(s,): (String,)| async move { Ok::<_, RpcError>(s) },
        )
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .build()
        .unwrap();
    let server = RpcServer::builder(api).limits(big).build().unwrap();
    let url = serve(server).await;
    for name in codecs() {
        let client = Client::builder(&url)
            .codecs([name])
            .limits(polycodec::Limits::default().max_depth(8))
            .call_timeout(Duration::from_millis(500))
            .connect()
            .await
            .unwrap();
        let _: Value = client.call("deep", (5,)).await.unwrap();
        // A reply 20 deep cannot be read, so its id is not known: the call times out.
        let err = client
            .call::<Value, _>("deep", (20,))
            .await
            .expect_err(name);
        assert!(matches!(err, Error::Timeout { .. }), "{name}: {err}");
        assert_still_answers(&client).await;
    }
    let client = Client::builder(&url)
        .codecs(["json"])
        .limits(big)
        .connect()
        .await
        .unwrap();
    let text = "x".repeat(20 << 20);
    let back: String = client.call("echo", (text.clone(),)).await.unwrap();
    assert_eq!(back.len(), text.len());
}

/// A subprotocol the route allows wins over `?codec=` naming another: the handshake's
/// response must name an offered subprotocol (the query won, no subprotocol was named,
/// and tungstenite failed the handshake).
#[tokio::test]
async fn an_allowed_subprotocol_wins_over_a_query_naming_another_codec() {
    let url = demo_server().await;
    let client = Client::builder(format!("{url}?codec=json"))
        .codecs(["msgpack"])
        .connect()
        .await
        .unwrap();
    assert_eq!(client.codec(), "msgpack");
    assert_still_answers(&client).await;
}

/// The status line of a raw upgrade request to `url` offering `protocols`.
async fn upgrade_status(url: &str, protocols: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("ws://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    head.lines()
        .filter(|l| {
            l.starts_with("HTTP/") || l.to_ascii_lowercase().starts_with("sec-websocket-protocol")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Subprotocol tokens that name no codec (a JS app's own, `kkrpc`): next to a codec's token,
/// that codec is chosen; alone, 400 before upgrading (a response naming no subprotocol
/// fails the handshake in browsers and tungstenite).
#[tokio::test]
async fn subprotocol_tokens_that_name_no_codec_are_refused_alone() {
    let url = demo_server().await;
    assert_eq!(
        upgrade_status(&url, "kkrpc").await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        upgrade_status(&url, "kkrpc, polycodec.msgpack").await,
        "HTTP/1.1 101 Switching Protocols | sec-websocket-protocol: polycodec.msgpack"
    );
}

/// A route's codecs bind peers that offer none too: with neither plain JSON nor superjson
/// allowed (and no default codec) the upgrade is refused, and a route of plain JSON only
/// answers a superjson document with an error naming the reason (both were read with the
/// detected codec whatever the route allowed).
#[tokio::test]
async fn a_routes_codecs_bind_peers_that_offer_none() {
    let server = RpcServer::builder(demo::api())
        .codecs(["msgpack"])
        .build()
        .unwrap();
    let url = serve(server).await;
    let err = Client::connect(&url).await.err().expect("refused");
    assert_eq!(status(&err), Some(400), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no codec was offered") && text.contains("msgpack"),
        "{err}"
    );

    let server = RpcServer::builder(demo::api())
        .codecs(["json"])
        .build()
        .unwrap();
    let url = serve(server).await;
    let mut ws = raw_offering(&url, "").await;
    let json = polycodec::codec::Json::new();
    let doc = r#"{"json":{"t":"q","id":"s","op":"call","p":["add"],"a":[1,2]},"v":1}"#;
    let reply = exchange(&mut ws, &json, doc).await;
    assert_eq!(
        reply.get("e").and_then(|e| e.get("m")),
        Some(&Value::from("superjson is not allowed on this route")),
        "{reply:?}"
    );
    let reply = exchange(
        &mut ws,
        &json,
        r#"{"t":"q","id":"j","op":"call","p":["add"],"a":[1,2]}"#,
    )
    .await;
    assert_eq!(reply.get("v"), Some(&Value::from(3)), "{reply:?}");
}

/// A default codec serves a peer that offers none (it knows which, out of band), and must be
/// one of the route's codecs.
#[tokio::test]
async fn a_default_codec_serves_a_peer_that_offers_none() {
    let server = RpcServer::builder(demo::api())
        .codecs(["json", "msgpack"])
        .default_codec("msgpack")
        .build()
        .unwrap();
    let url = serve(server).await;
    let mut ws = raw_offering(&url, "").await;
    let msgpack = polycodec::codec::MsgPack::new();
    let reply = exchange(
        &mut ws,
        &msgpack,
        r#"{"t":"q","id":"m","op":"call","p":["add"],"a":[1,2]}"#,
    )
    .await;
    assert_eq!(reply.get("v"), Some(&Value::from(3)), "{reply:?}");

    let err = RpcServer::builder(demo::api())
        .codecs(["json"])
        .default_codec("msgpack")
        .build()
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        r#"the default codec "msgpack" is not one of this route's codecs"#
    );
}

/// Registering a codec whose name or subprotocol is taken fails the build (it was
/// dropped without a word, and the built-in kept serving under that name).
#[test]
fn registering_a_codec_whose_name_is_taken_fails_the_build() {
    let err = RpcServer::builder(demo::api())
        .register(polycodec::codec::Json::new())
        .build()
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        r#"a codec named "json" is already registered"#
    );
}

/// A document that is no kkrpc message gets an error reply naming what is wrong, under the
/// request's id when it could be read (kkrpc drops these silently and its caller times
/// out; every one of these got an id-less "no `t` or `type`", which was false, and the
/// caller timed out too), and the connection lives on.
#[tokio::test]
async fn invalid_messages_get_an_error_under_their_id_when_it_can_be_read() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let table = [
        (
            r#"{"t":"q","id":"a1","op":"call","p":"add"}"#,
            r#"{"t":"r","id":"a1","e":{"n":"ParseError","m":"`p` must be an array of strings"}}"#,
        ),
        (
            r#"{"t":"q","id":"a2","op":"call","p":["add",1]}"#,
            r#"{"t":"r","id":"a2","e":{"n":"ParseError","m":"`p` must be an array of strings"}}"#,
        ),
        (
            r#"{"t":"q","id":"a3","op":"fly","p":["add"]}"#,
            r#"{"t":"r","id":"a3","e":{"n":"ParseError","m":"unknown request op \"fly\""}}"#,
        ),
        (
            r#"{"t":"q","id":"a4","p":["add"]}"#,
            r#"{"t":"r","id":"a4","e":{"n":"ParseError","m":"unknown request op none"}}"#,
        ),
        (
            r#"{"t":"q","id":"a5","op":"call","p":["add"],"a":7}"#,
            r#"{"t":"r","id":"a5","e":{"n":"ParseError","m":"`a` must be an array"}}"#,
        ),
        (
            r#"{"t":"q","id":7,"op":"call","p":["add"]}"#,
            r#"{"t":"r","id":null,"e":{"n":"ParseError","m":"a request id must be a string, not number"}}"#,
        ),
        (
            r#"{"t":"zz","id":"a6"}"#,
            r#"{"t":"r","id":null,"e":{"n":"ParseError","m":"unknown message type `t`: \"zz\""}}"#,
        ),
        (
            r#"[1,2]"#,
            r#"{"t":"r","id":null,"e":{"n":"ParseError","m":"not a kkrpc message (not an object: Array)"}}"#,
        ),
        (
            r#"{"hello":1}"#,
            r#"{"t":"r","id":null,"e":{"n":"ParseError","m":"not a kkrpc message (no `t` or `type`)"}}"#,
        ),
    ];
    let url = demo_server().await;
    let mut ws = raw_offering(&url, "polycodec.json").await;
    for (frame, want) in table {
        ws.send(Message::Text(frame.into())).await.unwrap();
        assert_eq!(next_text(&mut ws).await, want, "{frame}");
    }
    ws.send(Message::Text(
        r#"{"t":"q","id":"ok","op":"call","p":["add"],"a":[1,2]}"#.into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_text(&mut ws).await, r#"{"t":"r","id":"ok","v":3}"#);
}

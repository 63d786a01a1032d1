//! Hostile input, each with the error it must give; over a socket each gets an error reply
//! and the connection keeps working. (The whole superjson malformed corpus is in
//! `superjson_malformed.rs`; exponential reference graphs in
//! `a_small_payload_never_expands_into_a_huge_tree` there.)

use futures_util::{SinkExt, StreamExt};
use polycodec::codec::{Codec, Json, MsgPack, SuperJson};
use polycodec::rpc::{demo, RpcServer};
use polycodec::{Category, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn deep_json(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn nesting_100_000_deep_is_a_limit_error_in_every_codec() {
    let json = deep_json(100_000);
    let err = Json::new().decode_value(json.as_bytes()).unwrap_err();
    assert_eq!(err.classify(), Category::Limit);
    assert_eq!(err.message(), "nesting deeper than the depth limit of 1024");
    let sj = format!("{{\"json\":{json}}}");
    assert_eq!(
        SuperJson::new()
            .decode_value(sj.as_bytes())
            .unwrap_err()
            .classify(),
        Category::Limit
    );
    let mut mp = vec![0x91u8; 100_000];
    mp.push(0xc0);
    let err = MsgPack::new().decode_value(&mp).unwrap_err();
    assert_eq!(err.classify(), Category::Limit);
    assert_eq!(err.offset(), Some(1024));
    #[cfg(feature = "bincode")]
    {
        // Wire::Array is variant 8: [8, len=1] repeated, then Null (variant 1).
        let mut bc = Vec::new();
        for _ in 0..100_000 {
            bc.extend_from_slice(&[8, 1]);
        }
        bc.push(1);
        let err = polycodec::codec::Bincode::new()
            .decode_value(&bc)
            .unwrap_err();
        assert!(err.to_string().contains("depth limit"), "{err}");
        assert_eq!(err.classify(), Category::Limit, "{err}");
    }
    // A typed target is protected the same way.
    let err = Json::new()
        .from_slice::<Value>(json.as_bytes())
        .unwrap_err();
    assert_eq!(err.classify(), Category::Limit);
}

#[test]
fn many_paths_into_one_large_set_stay_linear() {
    // 50,000 members, each referenced once from outside: every path is one step into the
    // Set (O(1) here; JS walks the Set from its start for each, #346).
    let n = 50_000;
    let members: Vec<String> = (0..n).map(|i| format!("{{\"i\":{i}}}")).collect();
    let refs: Vec<String> = (0..n).map(|i| format!("\"s.{i}\":[\"t.{i}\"]")).collect();
    let doc = format!(
        "{{\"json\":{{\"s\":[{}],\"t\":[{}]}},\"meta\":{{\"values\":{{\"s\":[\"set\"]}},\"referentialEqualities\":{{{}}},\"v\":1}}}}",
        members.join(","),
        vec!["null"; n].join(","),
        refs.join(",")
    );
    let started = std::time::Instant::now();
    let v = SuperJson::new().decode_value(doc.as_bytes()).unwrap();
    println!("{n} paths into one Set: {:?}", started.elapsed());
    let Some(Value::Array(t)) = v.get("t") else {
        panic!()
    };
    assert_eq!(t.len(), n);
    assert!(matches!(&t[n - 1], Value::Ref(_)));
}

#[test]
fn elements_made_from_nothing_are_bounded_by_the_documents_size() {
    // 124 bytes asked for three arrays of 16,777,216 holes (2.1 GB): references that
    // extend arrays, and typed arrays made from a length, may make no more elements than
    // the document has bytes (JS makes sparse arrays; a Value holds every element).
    let sj = SuperJson::new();
    let holes = r#"{"json":{"a":[],"b":[],"c":[],"x":1},"meta":{"referentialEqualities":{"x":["a.16777215","b.16777215","c.16777215"]},"v":1}}"#;
    let lengths = format!(
        "{{\"json\":[{}],\"meta\":{{\"values\":{{{}}},\"v\":1}}}}",
        vec!["\"1000000\""; 60].join(","),
        (0..60)
            .map(|i| format!("\"{i}\":[[\"typed-array\",\"Float64Array\"]]"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for doc in [holes, lengths.as_str()] {
        let err = sj.decode_value(doc.as_bytes()).unwrap_err();
        assert_eq!(err.classify(), Category::Limit, "{err}");
        assert_eq!(
            err.message(),
            "elements made from nothing (typed arrays from a length, array holes left by \
             references) are more than the document has bytes"
        );
    }
    // Within the budget both still work as in JS.
    let small = r#"{"json":{"a":[],"x":1},"meta":{"referentialEqualities":{"x":["a.2"]},"v":1}}"#;
    let v = sj.decode_value(small.as_bytes()).unwrap();
    let Some(Value::Array(a)) = v.get("a") else {
        panic!("{v:?}")
    };
    assert_eq!(a.len(), 3);
    assert!(a[0].is_undefined() && a[1].is_undefined());
    let three = r#"{"json":"3","meta":{"values":[["typed-array","Float64Array"]],"v":1}}"#;
    let Value::TypedArray(t) = sj.decode_value(three.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(t.elements, vec![0.0; 3]);
}

#[test]
fn numbers_too_large_for_any_type() {
    // JSON.parse reads 1e400 as Infinity; so does polycodec's Value.
    let v = Json::new().decode_value(b"[1e400, -1e400]").unwrap();
    assert_eq!(
        v,
        Value::from(vec![
            Value::Number(f64::INFINITY),
            Value::Number(f64::NEG_INFINITY)
        ])
    );
    // A typed integer gets a range error naming the place.
    let err = Json::new()
        .from_slice::<Vec<u64>>(b"[1, 123456789012345678901234567890]")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "number 123456789012345678901234567890 out of range for u64 at path `1` at byte 4"
    );
    let err = Json::new().from_slice::<u8>(b"256").unwrap_err();
    assert_eq!(err.to_string(), "number 256 out of range for u8 at byte 0");
    // A bigint annotation on something that is no integer.
    let err = SuperJson::new()
        .decode_value(br#"{"json":"1e400","meta":{"values":["bigint"],"v":1}}"#)
        .unwrap_err();
    assert_eq!(err.message(), "Cannot convert 1e400 to a BigInt");
}

#[test]
fn invalid_utf8_is_a_syntax_error_with_its_offset() {
    let err = Json::new()
        .decode_value(b"[\"ok\",\"\xc3\x28\"]")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid UTF-8 in string at path `1` at byte 7"
    );
    let err = MsgPack::new().decode_value(b"\xa2\xc3\x28").unwrap_err();
    assert_eq!(err.to_string(), "invalid UTF-8 in string at byte 1");
}

#[tokio::test]
async fn hostile_frames_get_error_replies_and_the_connection_keeps_working() {
    let rpc = RpcServer::builder(demo::api())
        .limits(polycodec::Limits::default().max_message_bytes(256 * 1024))
        .build()
        .unwrap();
    let addr = crate::serve::serve_at("/rpc", rpc).await;

    // Text codec negotiated: JSON.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{addr}/rpc"),
    )
    .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "polycodec.json".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hostile: Vec<Message> = vec![
        Message::Text("{not json".into()),
        Message::Text(deep_json(100_000).into()),
        Message::Text(r#"{"t":"q","id":"x","op":"call","p":["nope"],"a":[]}"#.into()),
        Message::Text(r#"{"t":"q","id":"y","op":"call","p":["add"],"a":["a",{}]}"#.into()),
        Message::Binary(vec![0x92, 0x01, 0x02].into()),
        Message::Text("{\"json\":{\"t\":\"q\"}}".into()),
        Message::Text(r#"{"t":"q","id":"z","op":"call","p":["echo"],"a":["\ud800"]}"#.into()),
    ];
    let mut replies = Vec::new();
    for m in hostile {
        ws.send(m).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an error reply, not silence");
        let Some(Ok(Message::Text(t))) = reply else {
            panic!("{reply:?}")
        };
        let v = Json::new().decode_value(t.as_bytes()).unwrap();
        assert!(v.get("e").is_some(), "{t}");
        replies.push(v.get("e").unwrap().get("n").cloned().unwrap_or_default());
    }
    assert_eq!(
        replies,
        [
            "ParseError",
            "ParseError",
            "MethodNotFoundError",
            "TypeError",
            "WrongFrameError",
            "ParseError",
            "ParseError"
        ]
        .map(Value::from)
    );
    // Still alive.
    ws.send(Message::Text(
        r#"{"t":"q","id":"ok","op":"call","p":["add"],"a":[2,3]}"#.into(),
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!()
    };
    assert_eq!(t.as_str(), r#"{"t":"r","id":"ok","v":5}"#);
}

#[tokio::test]
async fn too_many_calls_in_flight_get_an_error_each() {
    // Calls that wait, so that they are in flight together (with calls that finish at once
    // nothing was ever refused, and the test could not see a missing limit).
    let api = polycodec::rpc::Api::builder()
        .method("slow", |_: polycodec::rpc::Call| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(Value::from("done"))
        })
        .build()
        .unwrap();
    let rpc = RpcServer::builder(api)
        .limits(polycodec::Limits::default().max_pending_calls(2))
        .build()
        .unwrap();
    let addr = crate::serve::serve_at("/rpc", rpc).await;
    let client = std::sync::Arc::new(
        polycodec::rpc::Client::connect(format!("ws://{addr}/rpc"))
            .await
            .unwrap(),
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = client.clone();
        set.spawn(async move { c.call::<Value, _>("slow", ()).await });
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        polycodec::rpc::Error::Limit {
                            kind: polycodec::rpc::Limit::TooManyCalls,
                            ..
                        }
                    ),
                    "{e}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(ok + refused, 20);
    assert!(ok >= 2, "{ok} answered");
    assert!(refused >= 10, "{refused} refused");
    // The connection still answers.
    assert_eq!(
        client.call::<Value, _>("slow", ()).await.unwrap(),
        Value::from("done")
    );
}

/// An object whose key equals one of polycodec's magic names is data: it stays an object
/// in every codec, re-encodes byte for byte, and reads back through `from_value`, for every
/// name and for payloads each kind would accept. (Such an object used to become the JS
/// kind the name stands for: a client could make a server see a Date where it sent an
/// object.)
#[test]
fn an_object_keyed_by_a_magic_name_stays_an_object_in_every_codec() {
    let kinds = [
        "Date",
        "BigInt",
        "Undefined",
        "Map",
        "Set",
        "RegExp",
        "Error",
        "URL",
        "Annotated",
        "TypedArray",
        "Ref",
        "Optional",
    ];
    let payloads = [
        "5",
        r#""12""#,
        "null",
        "[[1,2]]",
        r#"["a","g"]"#,
        r#"{"name":"E","message":"m"}"#,
    ];
    for kind in kinds {
        let name = format!("$polycodec::{kind}");
        for payload in payloads {
            let json = format!(r#"{{"{name}":{payload}}}"#);
            let v = Json::new().decode_value(json.as_bytes()).unwrap();
            let Value::Object(o) = &v else {
                panic!("{json} read as {v:?}")
            };
            assert!(o.len() == 1 && o.get(name.as_str()).is_some(), "{json}");
            assert_eq!(Json::new().encode_value(&v).unwrap(), json.as_bytes());

            let sj = format!(r#"{{"json":[{json}]}}"#);
            let in_array = SuperJson::new().decode_value(sj.as_bytes()).unwrap();
            assert_eq!(in_array, Value::Array(vec![v.clone()]), "{sj}");
            assert_eq!(
                SuperJson::new().encode_value(&in_array).unwrap(),
                sj.as_bytes()
            );

            let mp = MsgPack::new().encode_value(&v).unwrap();
            assert_eq!(MsgPack::new().decode_value(&mp).unwrap(), v, "{json}");

            let back: Value = polycodec::from_value(v.clone()).unwrap();
            assert_eq!(back, v, "{json}");
        }
    }
    // In MessagePack, the key in every string width (fixstr, str 8, str 16, str 32).
    let name = b"$polycodec::Date";
    for head in [
        vec![0xa0 | name.len() as u8],
        vec![0xd9, name.len() as u8],
        vec![0xda, 0, name.len() as u8],
        vec![0xdb, 0, 0, 0, name.len() as u8],
    ] {
        let mut bytes = vec![0x81];
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(name);
        bytes.push(0x05);
        let v = MsgPack::new().decode_value(&bytes).unwrap();
        assert!(
            matches!(&v, Value::Object(o) if o.get("$polycodec::Date").is_some()),
            "{bytes:x?} read as {v:?}"
        );
    }
    // Escaped in the text, it is the same key.
    let v = Json::new()
        .decode_value(br#"{"$polycodec::D\u0061te":5}"#)
        .unwrap();
    assert!(matches!(&v, Value::Object(o) if o.get("$polycodec::Date").is_some()));
}

/// What bincode writes it reads back at the same depth limit, and a 1,024-deep array that
/// every other codec writes is written (the writer counted one level more than the reader).
#[cfg(feature = "bincode")]
#[test]
fn bincode_writes_what_it_and_the_other_codecs_read_at_the_depth_limit() {
    use polycodec::codec::Bincode;
    let bc = Bincode::new();
    for depth in [1023, 1024] {
        let mut v = Value::from(0);
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        assert!(polycodec::codec::Json::new().encode_value(&v).is_ok());
        let bytes = bc.encode_value(&v).unwrap();
        assert_eq!(bc.decode_value(&bytes).unwrap(), v, "{depth}");
    }
}

/// `max_collection_len` holds in every codec's `Value` decode and in MessagePack's typed
/// decode (it was read by the MessagePack reader only: a JSON or superjson array, or a
/// bincode one, of any length was read into a `Value`). The last element or member within
/// the limit is fine; one more is a `Limit` error. (Typed text and bincode decodes are
/// bounded by the input: the target keeps what it likes.)
#[test]
fn collection_length_limit_holds_in_every_codec() {
    use polycodec::codec::Registry;
    use polycodec::Limits;
    let limits = Limits::default().max_collection_len(3);
    let registry = Registry::with_builtins();
    let doc = |n: usize| Value::from((0..n).map(|i| Value::from(i as u32)).collect::<Vec<_>>());
    let obj = |n: usize| {
        let mut o = polycodec::Object::new();
        for i in 0..n {
            o.insert(format!("k{i}"), Value::from(1));
        }
        Value::Object(o)
    };
    for codec in registry.iter() {
        let name = codec.name();
        let limited = codec
            .limited(limits)
            .expect("a built-in codec takes limits");
        for (what, ok, over) in [("array", doc(3), doc(4)), ("object", obj(3), obj(4))] {
            let bytes = codec.encode_value(&ok).unwrap();
            assert_eq!(limited.decode_value(&bytes).unwrap(), ok, "{name} {what}");
            let bytes = codec.encode_value(&over).unwrap();
            let err = limited.decode_value(&bytes).unwrap_err();
            assert_eq!(err.classify(), Category::Limit, "{name} {what}: {err}");
        }
        if name == "msgpack" {
            let bytes = codec.encode_value(&doc(4)).unwrap();
            let err = limited.decode::<Vec<u32>>(&bytes).unwrap_err();
            assert_eq!(err.classify(), Category::Limit, "{name} typed: {err}");
            let bytes = codec.encode_value(&doc(3)).unwrap();
            assert_eq!(
                limited.decode::<Vec<u32>>(&bytes).unwrap(),
                [0, 1, 2],
                "{name}"
            );
        }
    }
    // superjson's `meta` has one entry per annotated path: 6 Dates in collections of 3
    // make a `meta.values` of 6 entries, which the collection limit does not cover (a
    // shared node adds `referentialEqualities`, so `meta` takes the general reader).
    let dates = || Value::from(vec![Value::Date(polycodec::Date::from_millis(0.0)); 3]);
    let mut o = polycodec::Object::new();
    for k in ["a", "b"] {
        o.insert(k, dates());
    }
    let shared = Value::from(vec![Value::from(1)]).into_shared();
    o.insert(
        "x",
        Value::from(vec![Value::Ref(shared.clone()), Value::Ref(shared)]),
    );
    let doc = SuperJson::new()
        .encode_value(&Value::Object(o.clone()))
        .unwrap();
    let back = SuperJson::new()
        .with_limits(limits)
        .decode_value(&doc)
        .unwrap();
    assert_eq!(back, Value::Object(o));

    let err = Json::new()
        .with_limits(limits)
        .decode_value(b"[1,2,3,4]")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "collection of more than 3 elements is over the limit at byte 7"
    );
}

/// A deep `Value` through a foreign serializer (serde_json's, which recurses once per level
/// and has no limit) does not overflow a small thread stack: `Value`'s containers grow the
/// stack where needed.
#[test]
fn a_deep_value_serializes_through_serde_json_on_a_small_stack() {
    let mut deep = Value::Null;
    for _ in 0..3_000 {
        deep = Value::from(vec![deep]);
    }
    let text = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn_scoped(s, || serde_json::to_string(&deep).unwrap())
            .unwrap()
            .join()
            .unwrap()
    });
    assert_eq!(text.len(), 3_000 * 2 + 4);
}

/// Input as deep as the default limit allows is read and written on a 128 KiB thread stack
/// in every codec, through `Value` and through `dyn Codec`'s typed path: the recursive
/// paths grow the stack on demand. (The values are dropped on the test's own thread:
/// dropping is recursive, as for serde_json's `Value`.)
#[test]
fn input_at_the_depth_limit_needs_no_large_stack() {
    let mut deep = Value::from(1);
    for _ in 0..1_023 {
        deep = Value::from(vec![deep]);
    }
    let registry = polycodec::codec::Registry::with_builtins();
    for codec in registry.iter() {
        let name = codec.name();
        let bytes = codec.encode_value(&deep).unwrap();
        let (read, typed, written) = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn_scoped(s, || {
                    let read = codec.decode_value(&bytes).unwrap();
                    let typed = (name != "bincode").then(|| codec.decode::<Value>(&bytes).unwrap());
                    let written = codec.encode_value(&deep).unwrap();
                    (read, typed, written)
                })
                .unwrap()
                .join()
                .unwrap()
        });
        assert_eq!(read, deep, "{name}");
        if let Some(typed) = typed {
            assert_eq!(typed, deep, "{name}");
        }
        assert_eq!(written, bytes, "{name}");
    }
}

//! The demo API that `polycodec serve` exposes on `/rpc` (and the tests call).

use super::api::{Api, Call};
use super::error::RpcError;
use crate::{Date, Value};
use std::time::Duration;

/// `echo`, `greet`, `add`, `math.multiply`, `fail`, `withCallback`, `now`, `counter`, and
/// `callClient` (the server calls the client's API).
pub fn api() -> Api {
    Api::builder()
        .method(
            "echo",
            |mut call: Call| async move { Ok(call.take_value(0)) },
        )
        .typed("greet", |(name,): (String,)| async move {
            Ok::<_, RpcError>(format!("Hello, {name}!"))
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .typed("math.multiply", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a * b)
        })
        .typed("fail", |(message,): (String,)| async move {
            Err::<(), _>(RpcError::new("DemoError", message))
        })
        .method("withCallback", |call: Call| async move {
            let n: u32 = call.arg(0)?;
            let cb = call.callback(1)?;
            for i in 1..=n {
                cb.invoke(vec![Value::from(i)]).await?;
            }
            Ok(Value::from("done"))
        })
        .typed(
            "now",
            |(): ()| async move { Ok::<_, RpcError>(Date::now()) },
        )
        .property("counter", Value::from(0))
        .method("callClient", |call: Call| async move {
            let method: String = call.arg(0)?;
            let arg = call.value(1).clone();
            let peer = call.peer().clone();
            peer.call_args(&method, vec![arg.into()], Duration::from_secs(10))
                .await
        })
        .build()
        .expect("the demo API registers each path once")
}

/// How many messages each chat room keeps for `history()`.
pub const HISTORY: usize = 50;

/// The chat demo behind `/chat/<room>?username=NAME`: `send(text)`, `history()`,
/// `members()`; the server pushes `message(msg)` to the room, joins and leaves included.
/// With `token`, upgrades without `?token=TOKEN` (or a `token` cookie, or
/// `Authorization: Bearer TOKEN`) are refused with 401.
pub fn chat_server(token: Option<String>) -> crate::Result<super::RpcServer> {
    use super::{AuthError, Hub, Identity, Peer};
    use crate::Object;
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};

    type Rooms = Arc<Mutex<HashMap<String, VecDeque<Value>>>>;
    let hub = Hub::new();
    let history: Rooms = Arc::default();

    fn room_of(peer: &Peer) -> String {
        peer.info()
            .path
            .rsplit('/')
            .next()
            .unwrap_or("lobby")
            .to_owned()
    }
    fn message(room: &str, user: &str, text: &str, system: bool) -> Value {
        let mut m = Object::new();
        m.insert("room", Value::from(room));
        m.insert("user", Value::from(user));
        m.insert("text", Value::from(text));
        m.insert("at", Value::Date(Date::now()));
        m.insert("system", Value::Bool(system));
        Value::Object(m)
    }
    fn record(history: &Rooms, room: &str, msg: &Value) {
        let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
        let q = h.entry(room.to_owned()).or_default();
        q.push_back(msg.clone());
        while q.len() > HISTORY {
            q.pop_front();
        }
    }

    let (h1, h2, h3) = (history.clone(), history.clone(), history.clone());
    let (hub1, hub2) = (hub.clone(), hub.clone());
    let api = Api::builder()
        .method("send", move |call: Call| {
            let (history, hub) = (h1.clone(), hub1.clone());
            async move {
                let text: String = call.arg(0)?;
                let room = room_of(call.peer());
                let user = call.peer().user().unwrap_or("anonymous").to_owned();
                let msg = message(&room, &user, &text, false);
                record(&history, &room, &msg);
                hub.broadcast(&room, "message", vec![msg.clone()], None);
                Ok(msg)
            }
        })
        .method("history", move |call: Call| {
            let history = h2.clone();
            async move {
                let room = room_of(call.peer());
                let h = history.lock().unwrap_or_else(|p| p.into_inner());
                Ok(Value::Array(
                    h.get(&room)
                        .map(|q| q.iter().cloned().collect())
                        .unwrap_or_default(),
                ))
            }
        })
        .method("members", move |call: Call| {
            let hub = hub2.clone();
            async move {
                let room = room_of(call.peer());
                Ok(hub
                    .members(&room)
                    .iter()
                    .map(|p| Value::from(p.user().unwrap_or("anonymous")))
                    .collect())
            }
        })
        .build()?;
    let (hub_join, h_close, h_join) = (hub.clone(), h3, history.clone());
    super::RpcServer::builder(api)
        .codecs(["superjson", "json", "msgpack"])
        .hub(hub)
        .authenticate(move |req| {
            if let Some(secret) = &token {
                let given = req
                    .query("token")
                    .or_else(|| req.cookie("token"))
                    .or_else(|| req.bearer());
                if given.as_deref() != Some(secret.as_str()) {
                    return Err(AuthError::unauthorized("a valid token is required"));
                }
            }
            let user = req.query("username").filter(|u| !u.trim().is_empty());
            Ok(Some(Identity {
                user: user.unwrap_or_else(|| "anonymous".into()),
                data: Value::Null,
            }))
        })
        .on_connect(move |peer| {
            let room = room_of(&peer);
            hub_join.join(peer.id(), &room);
            let user = peer.user().unwrap_or("anonymous").to_owned();
            let msg = message(&room, &user, &format!("{user} joined"), true);
            record(&h_join, &room, &msg);
            hub_join.broadcast(&room, "message", vec![msg], None);
        })
        .on_close(move |peer, hub| {
            let user = peer.user().unwrap_or("anonymous").to_owned();
            for room in hub.rooms_of(peer.id()) {
                let msg = message(&room, &user, &format!("{user} left"), true);
                record(&h_close, &room, &msg);
                hub.broadcast(&room, "message", vec![msg], Some(peer.id()));
            }
        })
        .heartbeat(Duration::from_secs(20), Duration::from_secs(60))
        .rate_limit(50.0, 100, 20)
        .build()
}

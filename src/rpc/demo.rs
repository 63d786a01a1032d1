//! The demo API that `polycodec serve` exposes on `/rpc` (and the tests call).

use super::api::{Api, Call};
use super::error::RpcError;
use super::{AuthError, AuthRequest};
use crate::types::{MethodSig, Ty};
use crate::{Date, Value};
use std::time::Duration;

/// The demo's upgrade check: the token from `?token=`, an `Authorization: Bearer` header, or
/// a `token` cookie, compared in constant time. The cookie counts only on a same-origin
/// upgrade ([`AuthRequest::same_origin`](super::AuthRequest::same_origin)): a browser sends
/// it with an upgrade any page opens, so another site could use it (cross-site WebSocket
/// hijacking). 401 without a valid token, 403 for a cookie from another origin.
pub fn check_token(req: &AuthRequest<'_>, secret: &str) -> Result<(), AuthError> {
    if secret.is_empty() {
        // An empty secret would let in `?token=`: nothing matches it.
        return Err(AuthError::unauthorized("a valid token is required"));
    }
    let explicit = req.query("token").or_else(|| req.bearer());
    let given = match explicit {
        Some(t) => t,
        None => match req.cookie("token") {
            Some(_) if !req.same_origin() => {
                return Err(AuthError::forbidden(
                    "a token cookie is not accepted from a page of another origin",
                ))
            }
            Some(t) => t,
            None => return Err(AuthError::unauthorized("a valid token is required")),
        },
    };
    if constant_time_eq(given.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::unauthorized("a valid token is required"))
    }
}

/// Equal bytes, in a time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    a.len() == b.len() && diff == 0
}

/// `echo`, `greet`, `add`, `math.multiply`, `fail`, `withCallback`, `now`, `counter`, and
/// `callClient` (the server calls the client's API).
pub fn api() -> Api {
    Api::builder()
        .method(
            "echo",
            |mut call: Call| async move { Ok(call.take_value(0)) },
        )
        .describe(
            "echo",
            MethodSig::new()
                .param("value", Ty::Unknown)
                .returns(Ty::Unknown),
        )
        .typed("greet", |(name,): (String,)| async move {
            Ok::<_, RpcError>(format!("Hello, {name}!"))
        })
        .param_names("greet", &["name"])
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .param_names("add", &["a", "b"])
        .typed("math.multiply", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a * b)
        })
        .param_names("math.multiply", &["a", "b"])
        .typed("fail", |(message,): (String,)| async move {
            Err::<(), _>(RpcError::new("DemoError", message))
        })
        .param_names("fail", &["message"])
        .method("withCallback", |call: Call| async move {
            let n: u32 = call.arg(0)?;
            let cb = call.callback(1)?;
            for i in 1..=n {
                cb.invoke(vec![Value::from(i)]).await?;
            }
            Ok(Value::from("done"))
        })
        .describe(
            "withCallback",
            MethodSig::new()
                .param("n", Ty::of::<u32>())
                .param("cb", Ty::callback([Ty::of::<u32>()]))
                .returns(Ty::of::<String>()),
        )
        .typed(
            "now",
            |(): ()| async move { Ok::<_, RpcError>(Date::now()) },
        )
        .property("counter", Value::from(0))
        .method("callClient", |call: Call| async move {
            let method: String = call.arg(0)?;
            let arg = call.value(1).clone();
            let peer = call.peer().clone();
            let reply = peer.call_args(&method, vec![arg.into()], Duration::from_secs(10));
            Ok(reply.await?)
        })
        .describe(
            "callClient",
            MethodSig::new()
                .param("method", Ty::of::<String>())
                .param("arg", Ty::Unknown)
                .returns(Ty::Unknown),
        )
        .build()
        .expect("the demo API registers each path once")
}

/// How many messages each chat room keeps for `history()`.
pub const HISTORY: usize = 50;

/// How many rooms keep a history on one node: past that, a new room's first message drops
/// the history of the room whose last message is the oldest (see [`LocalBackend`]).
///
/// [`LocalBackend`]: super::LocalBackend
pub const MAX_ROOMS: usize = 1024;

/// The chat demo behind `/chat/<room>?username=NAME`: `send(text)`, `history()`,
/// `members()`; the server pushes `message(msg)` to the room, joins and leaves included.
/// tRPC clients (`wsLink` on the same URL) get the same as the mutation `send`, the queries
/// `history` and `members`, and the subscription `messages`, fed from the room's broadcasts.
/// With `token`, upgrades are checked by [`check_token`] (401 without it, 403 for a cookie
/// sent from another origin). One node: history in process ([`chat_server_with`] takes a
/// hub that spans nodes).
pub fn chat_server(token: Option<String>) -> crate::Result<super::RpcServer> {
    chat_server_with(
        super::Hub::with_backend(super::LocalBackend::new(MAX_ROOMS)),
        token,
    )
}

/// [`chat_server`] on `hub`: with a cluster backend, rooms, `members()` and `history()`
/// span every node. A client that passes `?since=EPOCH:OFFSET` (the position of the last
/// push it got in a recoverable room: the trailing `{"__pc": …}` argument) gets what it
/// missed first, then `recovery({recovered, replayed, reason?})`.
pub fn chat_server_with(hub: super::Hub, token: Option<String>) -> crate::Result<super::RpcServer> {
    chat_server_builder(hub, token)?.build()
}

/// The builder of [`chat_server_with`], for options of one's own (its front door, say).
pub fn chat_server_builder(
    hub: super::Hub,
    token: Option<String>,
) -> crate::Result<super::RpcServerBuilder> {
    use super::{Call, Identity, Peer, Position};
    use crate::Object;
    use futures_util::FutureExt;

    fn room_of(peer: &Peer) -> String {
        let raw = peer.info().path.rsplit('/').next().unwrap_or("lobby");
        // Percent-decoded: the page opens `/chat/my%20room` for "my room". A name whose
        // escapes are no UTF-8 stays as sent (decoded lossily, `%FF` and `%FE` were one room).
        String::from_utf8(super::server::percent_decode_path(raw))
            .unwrap_or_else(|_| raw.to_owned())
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
    fn spawn(f: super::BoxFuture<()>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(f);
        }
    }

    let (hub1, hub2, hub3) = (hub.clone(), hub.clone(), hub.clone());
    let api = Api::builder()
        .method("send", move |call: Call| {
            let hub = hub1.clone();
            async move {
                let text: String = call.arg(0)?;
                let room = room_of(call.peer());
                let user = call.peer().user().unwrap_or("anonymous").to_owned();
                let msg = message(&room, &user, &text, false);
                // Queued before the broadcast; stored (on every node) when `send` returns.
                let stored = hub.append_history(&room, msg.clone(), HISTORY);
                hub.broadcast(&room, "message", vec![msg.clone()], None);
                stored.await;
                Ok(msg)
            }
        })
        .method("history", move |call: Call| {
            let hub = hub2.clone();
            async move {
                let room = room_of(call.peer());
                Ok(Value::Array(hub.history(&room, HISTORY).await))
            }
        })
        .method("members", move |call: Call| {
            let hub = hub3.clone();
            async move {
                let room = room_of(call.peer());
                Ok(hub
                    .room_presence(&room)
                    .await
                    .iter()
                    .map(|m| Value::from(m.user.as_deref().unwrap_or("anonymous")))
                    .collect())
            }
        })
        .describe("send", super::demo_types::chat_send())
        .describe("history", super::demo_types::chat_history())
        .describe("members", super::demo_types::chat_members())
        .build()?;
    let trpc = {
        use super::trpc::{Context, Router};
        use futures_util::StreamExt;
        let room = |ctx: &Context| ctx.peer().map_or_else(|| "lobby".to_owned(), room_of);
        let user = |ctx: &Context| ctx.identity().map_or("anonymous", |i| &i.user).to_owned();
        let (hub_send, hub_hist, hub_members, hub_listen) =
            (hub.clone(), hub.clone(), hub.clone(), hub.clone());
        Router::builder()
            .mutation("send", move |text: String, ctx: Context| {
                let (room, hub) = (room(&ctx), hub_send.clone());
                let msg = message(&room, &user(&ctx), &text, false);
                let stored = hub.append_history(&room, msg.clone(), HISTORY);
                hub.broadcast(&room, "message", vec![msg.clone()], None);
                async move {
                    stored.await;
                    Ok(msg)
                }
            })
            .query("history", move |(): (), ctx: Context| {
                let history = hub_hist.history(&room(&ctx), HISTORY);
                async move { Ok(Value::Array(history.await)) }
            })
            .query("members", move |(): (), ctx: Context| {
                let presence = hub_members.room_presence(&room(&ctx));
                async move {
                    let members = presence.await;
                    let names = members
                        .iter()
                        .map(|m| m.user.as_deref().unwrap_or("anonymous"));
                    Ok(names.map(str::to_owned).collect::<Vec<_>>())
                }
            })
            // The room's `message` broadcasts (joins and leaves included), from every node.
            // Started once this node hears the room from every node.
            .subscription("messages", move |(): (), ctx: Context| {
                let room = room(&ctx);
                let stream = hub_listen.listen(&room).filter_map(|b| {
                    let msg = (b.method == "message").then(|| b.args.into_iter().next());
                    std::future::ready(msg.flatten().map(Ok::<_, super::RpcError>))
                });
                let heard = hub_listen.listening(&room);
                async move {
                    heard.await;
                    Ok(stream)
                }
            })
            .build()?
    };
    let hub_join = hub.clone();
    // Members of a node that died without a word: each node tells its own members.
    hub.on_evicted(|hub, gone| {
        for (member, rooms) in gone {
            let user = member.user.as_deref().unwrap_or("anonymous");
            for room in rooms {
                let msg = message(room, user, &format!("{user} left"), true);
                let target = super::Target::Room { room, except: None };
                hub.deliver_local(target, "message", &[msg]);
            }
        }
    });
    Ok(super::RpcServer::builder(api)
        .trpc(trpc)
        .codecs(["superjson", "json", "msgpack", "msgpackr"])
        .hub(hub)
        .authenticate(move |req| {
            if let Some(secret) = &token {
                check_token(req, secret)?;
            }
            let user = req.query("username").filter(|u| !u.trim().is_empty());
            Ok(Some(Identity {
                user: user.unwrap_or_else(|| "anonymous".into()),
                data: Value::Null,
            }))
        })
        .on_connect(move |peer| {
            let room = room_of(&peer);
            let user = peer.user().unwrap_or("anonymous").to_owned();
            let msg = message(&room, &user, &format!("{user} joined"), true);
            let since = peer.info().query.iter().find(|(k, _)| k == "since");
            let since = since.and_then(|(_, v)| Position::parse(v));
            let hub = hub_join.clone();
            let Some(since) = since else {
                hub.join(peer.id(), &room);
                // "X joined" goes out once this node hears the room from every node (at
                // once on one node): a client that saw its own join notice misses nothing
                // sent after it, from any node.
                let mut listening = hub.listening(&room);
                let id = peer.id();
                let announce = move || {
                    if !hub.rooms_of(id).contains(&room) {
                        return; // it left before it was heard: no "joined" after its "left"
                    }
                    spawn(hub.append_history(&room, msg.clone(), HISTORY));
                    hub.broadcast(&room, "message", vec![msg], None);
                };
                match (&mut listening).now_or_never() {
                    Some(()) => announce(),
                    None => spawn(Box::pin(async move {
                        listening.await;
                        announce();
                    })),
                }
                return;
            };
            spawn(Box::pin(async move {
                let r = hub.join_from(peer.id(), &room, since).await;
                let mut o = Object::new();
                o.insert("recovered", Value::Bool(r.recovered));
                o.insert("replayed", Value::from(r.replayed));
                if let Some(reason) = r.reason {
                    o.insert("reason", Value::from(reason));
                }
                let _ = peer.push("recovery", vec![Value::Object(o)]);
                hub.append_history(&room, msg.clone(), HISTORY).await;
                hub.broadcast(&room, "message", vec![msg], None);
            }));
        })
        .on_close(move |peer, hub| {
            let user = peer.user().unwrap_or("anonymous").to_owned();
            for room in hub.rooms_of(peer.id()) {
                let msg = message(&room, &user, &format!("{user} left"), true);
                spawn(hub.append_history(&room, msg.clone(), HISTORY));
                hub.broadcast(&room, "message", vec![msg], Some(peer.id()));
            }
        })
        .heartbeat(Duration::from_secs(20), Duration::from_secs(60))
        .rate_limit(50.0, 100, 20))
}

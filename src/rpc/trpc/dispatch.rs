//! What the connection engine runs for a tRPC peer: queries and mutations against the
//! route's router, and subscriptions, each a task that writes `started`, its values and
//! `stopped`, and ends when the peer stops it (`subscription.stop`) or goes away.

use super::errors::Code;
use super::router::{Context, EventStream};
use crate::rpc::conn::streams::Refused;
use crate::rpc::conn::Connection;
use crate::rpc::error::{codes, RpcError};
use crate::rpc::peer::Peer;
use crate::rpc::protocol::{Arg, Encoding, Msg, Op, StreamEvent, WireProtocol};
use crate::Value;
use futures_util::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The input of a tRPC request (its one argument) and its `lastEventId` (in `value`).
fn input_of(args: Vec<Arg>, value: Value) -> (Value, Option<String>) {
    let input = match args.into_iter().next() {
        Some(Arg::Value(v)) => v,
        _ => Value::Undefined,
    };
    let last = match value {
        Value::String(s) => Some(s),
        _ => None,
    };
    (input, last)
}

fn context(conn: &Arc<Connection>, last_event_id: Option<String>) -> Option<Context> {
    let t = conn.proto.trpc()?;
    Some(Context {
        shared: t.shared(),
        peer: Some(Peer(conn.clone())),
        last_event_id,
    })
}

/// Run a query or mutation.
pub(crate) async fn call(
    conn: &Arc<Connection>,
    op: Op,
    path: String,
    args: Vec<Arg>,
    value: Value,
) -> Result<Value, RpcError> {
    let kind = match op {
        Op::Mutation => super::Kind::Mutation,
        _ => super::Kind::Query,
    };
    let (input, last) = input_of(args, value);
    let Some(ctx) = context(conn, last) else {
        return Err(RpcError::new(
            codes::NOT_FOUND,
            "no tRPC router on this route",
        ));
    };
    let Some(t) = conn.proto.trpc() else {
        return Err(RpcError::new(
            codes::NOT_FOUND,
            "no tRPC router on this route",
        ));
    };
    t.router().call(kind, &path, input, ctx).await
}

/// Write `msg` to the peer; false once the connection is gone.
async fn send(conn: &Connection, msg: Msg, enc: &Encoding) -> bool {
    match conn.proto.write(msg, enc) {
        Ok(Some(frame)) => conn.outbox.send(frame).await.is_ok(),
        Ok(None) => true,
        Err(e) => {
            tracing::debug!(conn = conn.id, error = %e, "a subscription value could not be written");
            true
        }
    }
}

/// `Duplicate id 7`, as tRPC words it (a string id as is).
fn duplicate(id: &Value) -> RpcError {
    let shown = match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::value::number::format(*n),
        _ => "null".into(),
    };
    Code::BadRequest.error(format!("Duplicate id {shown}"))
}

/// Start a subscription: refused at once when its id is running already; else a task
/// checks its input (an error then is the only reply), then writes `started`, its values
/// and `stopped` (after an `error` when it fails).
pub(crate) async fn subscribe(
    conn: &Arc<Connection>,
    id: Value,
    path: String,
    args: Vec<Arg>,
    value: Value,
    enc: Encoding,
) {
    let key = super::ws::key(&id);
    let max = conn.config.limits.pending_calls();
    let mut stop = match conn.streams.start(&key, max) {
        Ok(rx) => rx,
        Err(refused) => {
            let e = match refused {
                Refused::Duplicate => duplicate(&id),
                Refused::TooMany(n) => {
                    Code::TooManyRequests.error(format!("more than {n} subscriptions running"))
                }
            };
            let msg = Msg::Response { id, result: Err(e) };
            send(conn, msg, &enc).await;
            return;
        }
    };
    let (input, last) = input_of(args, value);
    let (Some(ctx), Some(t)) = (context(conn, last), conn.proto.trpc()) else {
        conn.streams.finish(&key);
        return;
    };
    let start = t.router().subscribe(&path, input, ctx);
    let conn = conn.clone();
    tokio::spawn(async move {
        let run = AssertUnwindSafe(run(&conn, id.clone(), start, &mut stop, &enc));
        if run.catch_unwind().await.is_err() {
            tracing::error!(conn = conn.id, "a subscription panicked");
            let e = RpcError::new(codes::HANDLER_PANICKED, "the subscription panicked");
            send(
                &conn,
                Msg::Response {
                    id: id.clone(),
                    result: Err(e),
                },
                &enc,
            )
            .await;
            let stopped = Msg::Stream {
                id,
                event: StreamEvent::Stopped,
            };
            send(&conn, stopped, &enc).await;
        }
        conn.streams.finish(&key);
    });
}

async fn run(
    conn: &Connection,
    id: Value,
    start: crate::rpc::BoxFuture<Result<EventStream, RpcError>>,
    stop: &mut tokio::sync::oneshot::Receiver<()>,
    enc: &Encoding,
) {
    let started = tokio::select! {
        s = start => s,
        _ = &mut *stop => {
            send(conn, Msg::Stream { id, event: StreamEvent::Stopped }, enc).await;
            return;
        }
    };
    let mut events = match started {
        Ok(s) => s,
        Err(e) => {
            send(conn, Msg::Response { id, result: Err(e) }, enc).await;
            return;
        }
    };
    let started = Msg::Stream {
        id: id.clone(),
        event: StreamEvent::Started,
    };
    if !send(conn, started, enc).await {
        return;
    }
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut *stop => break,
            next = events.next() => next,
        };
        let msg = match next {
            Some(Ok(ev)) => Msg::Stream {
                id: id.clone(),
                event: StreamEvent::Data(ev.data, ev.id),
            },
            Some(Err(e)) => {
                send(
                    conn,
                    Msg::Response {
                        id: id.clone(),
                        result: Err(e),
                    },
                    enc,
                )
                .await;
                break;
            }
            None => break,
        };
        if !send(conn, msg, enc).await {
            return;
        }
    }
    drop(events);
    let stopped = Msg::Stream {
        id,
        event: StreamEvent::Stopped,
    };
    send(conn, stopped, enc).await;
}

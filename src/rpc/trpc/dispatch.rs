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
    let mut start = t.router().subscribe(&path, input, ctx);
    // An input checked without waiting (most are) is answered here, in order with the
    // replies to the frames that follow; one that waits is checked in the task.
    let events = match (&mut start).now_or_never() {
        None => None,
        Some(Err(e)) => {
            conn.streams.finish(&key);
            send(conn, Msg::Response { id, result: Err(e) }, &enc).await;
            return;
        }
        Some(Ok(events)) => {
            let started = Msg::Stream {
                id: id.clone(),
                event: StreamEvent::Started,
            };
            if !send(conn, started, &enc).await {
                conn.streams.finish(&key);
                return;
            }
            Some(events)
        }
    };
    let conn = conn.clone();
    tokio::spawn(async move {
        let running = async {
            let events = match events {
                Some(events) => events,
                None => match started(&conn, id.clone(), start, &mut stop, &enc).await {
                    Some(events) => events,
                    None => return,
                },
            };
            run(&conn, id.clone(), events, &mut stop, &enc).await
        };
        if AssertUnwindSafe(running).catch_unwind().await.is_err() {
            tracing::error!(conn = conn.id, "a subscription panicked");
            let e = RpcError::new(codes::HANDLER_PANICKED, "the subscription panicked");
            let error = Msg::Response {
                id: id.clone(),
                result: Err(e),
            };
            send(&conn, error, &enc).await;
            let stopped = Msg::Stream {
                id,
                event: StreamEvent::Stopped,
            };
            send(&conn, stopped, &enc).await;
        }
        conn.streams.finish(&key);
    });
}

/// Wait for a subscription's start: its stream once `started` is written, or `None` when
/// it failed (its error written) or was stopped first.
async fn started(
    conn: &Connection,
    id: Value,
    start: crate::rpc::BoxFuture<Result<EventStream, RpcError>>,
    stop: &mut tokio::sync::oneshot::Receiver<()>,
    enc: &Encoding,
) -> Option<EventStream> {
    let result = tokio::select! {
        s = start => s,
        _ = &mut *stop => {
            send(conn, Msg::Stream { id, event: StreamEvent::Stopped }, enc).await;
            return None;
        }
    };
    match result {
        Ok(events) => {
            let started = Msg::Stream {
                id,
                event: StreamEvent::Started,
            };
            send(conn, started, enc).await.then_some(events)
        }
        Err(e) => {
            send(conn, Msg::Response { id, result: Err(e) }, enc).await;
            None
        }
    }
}

/// Write a started subscription's values until it ends, fails, or is stopped; then
/// `stopped`.
async fn run(
    conn: &Connection,
    id: Value,
    mut events: EventStream,
    stop: &mut tokio::sync::oneshot::Receiver<()>,
    enc: &Encoding,
) {
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
                let error = Msg::Response {
                    id: id.clone(),
                    result: Err(e),
                };
                send(conn, error, enc).await;
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

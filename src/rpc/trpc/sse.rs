//! `httpSubscriptionLink`'s server-sent events: `connected`, one `data:` event per value
//! (with an `id:` line for a tracked one), and `return` at the end, or `serialized-error`.
//! Every stream ends with one of those two: one that just ended would make `EventSource`
//! reconnect and run the subscription again. A quiet stream gets a `ping` event every 15 s.

use super::errors::shape;
use super::router::{Event, EventStream};
use super::transformer::Transformer;
use crate::rpc::api::BoxFuture;
use crate::rpc::error::RpcError;
use crate::{Limits, Value};
use axum::body::Bytes;
use futures_util::stream::{Stream, StreamExt};

const CONNECTED: &str = "event: connected\ndata: {}\n\n\n";
const RETURN: &str = "event: return\ndata: \n\n\n";

/// What the stream does next.
enum State {
    Connect(BoxFuture<Result<EventStream, RpcError>>),
    Start(BoxFuture<Result<EventStream, RpcError>>),
    Run(EventStream),
    Done,
}

/// How the events are written.
#[derive(Clone)]
struct Writer {
    t: Transformer,
    limits: Limits,
    dev: bool,
    path: String,
    /// The id the client holds (the last tracked one, or the one it resumed from).
    last_id: Option<String>,
}

impl Writer {
    fn encode(&self, v: &Value) -> String {
        let bytes = self.t.encode(v, self.limits).unwrap_or_else(|e| {
            tracing::debug!(error = %e, "an SSE value could not be written");
            b"null".to_vec()
        });
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn error(&self, e: &RpcError) -> Bytes {
        let shape = self.encode(&shape(e, Some(&self.path), self.dev));
        Bytes::from(format!("event: serialized-error\ndata: {shape}\n\n\n"))
    }

    /// A value; an untracked one after a tracked one goes with an empty id, then a
    /// `restore-id` event gives the client its id back (as tRPC does).
    fn data(&mut self, ev: Event) -> Bytes {
        let data = self.encode(&ev.data);
        match (ev.id, &self.last_id) {
            (Some(id), _) => {
                let out = format!("data: {data}\nid: {id}\n\n\n");
                self.last_id = Some(id);
                Bytes::from(out)
            }
            (None, Some(last)) => Bytes::from(format!(
                "data: {data}\nid: \n\n\nevent: restore-id\ndata: \nid: {last}\n\n\n"
            )),
            (None, None) => Bytes::from(format!("data: {data}\n\n\n")),
        }
    }
}

/// The event stream of a subscription that `start` starts, at `path`; `last_id` is the id
/// the client resumes from.
pub(crate) fn body(
    t: Transformer,
    limits: Limits,
    dev: bool,
    path: String,
    last_id: Option<String>,
    start: BoxFuture<Result<EventStream, RpcError>>,
) -> impl Stream<Item = Bytes> + Send {
    let w = Writer {
        t,
        limits,
        dev,
        path,
        last_id,
    };
    futures_util::stream::unfold((State::Connect(start), w), |(state, w)| async move {
        match state {
            State::Connect(start) => Some((Bytes::from(CONNECTED), (State::Start(start), w))),
            State::Start(start) => match start.await {
                Ok(events) => next(events, w).await,
                Err(e) => Some((w.error(&e), (State::Done, w))),
            },
            State::Run(events) => next(events, w).await,
            State::Done => None,
        }
    })
}

/// A `ping` event after this long without one: the client ignores it, and a client that
/// went away is noticed at the write (rather than at a value that may never come).
const PING_AFTER: std::time::Duration = std::time::Duration::from_secs(15);
const PING: &str = "event: ping\ndata: \n\n\n";

async fn next(mut events: EventStream, mut w: Writer) -> Option<(Bytes, (State, Writer))> {
    let Ok(next) = tokio::time::timeout(PING_AFTER, events.next()).await else {
        return Some((Bytes::from(PING), (State::Run(events), w)));
    };
    match next {
        Some(Ok(ev)) => Some((w.data(ev), (State::Run(events), w))),
        Some(Err(e)) => Some((w.error(&e), (State::Done, w))),
        None => Some((Bytes::from(RETURN), (State::Done, w))),
    }
}

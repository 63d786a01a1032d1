//! The read side of a connection, either side: frames from the transport go through the
//! protocol into messages; requests run against the [`Api`], replies reach the pending
//! calls, callback calls reach our functions. The hot path reads in order:
//! transport → [`Session::run`] → protocol `feed`/`next` → [`Session::dispatch`] → API.

use super::api::{not_found, Api, Call};
use super::conn::outbox::closed;
use super::conn::Connection;
use super::error::{codes, Error, RpcError};
use super::peer::{Callback, Peer};
use super::protocol::{Arg, Encoding, Inbound, Msg, Op, WireProtocol};
use super::rate_limit::Verdict;
use super::transport::Frame;
use crate::Value;
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use std::time::Duration;

/// A hook that sees every raw message (text or binary) before it is handled.
pub type OnMessage = Arc<dyn Fn(&Peer, &[u8]) + Send + Sync>;

/// One connection being read: the connection, and the API its peer calls.
pub(crate) struct Session {
    conn: Arc<Connection>,
    api: Arc<Api>,
    on_message: Option<OnMessage>,
}

type Reader = <super::protocol::Active as WireProtocol>::Reader;

impl Session {
    /// A session of `conn` serving `api`.
    pub(crate) fn new(
        conn: Arc<Connection>,
        api: Arc<Api>,
        on_message: Option<OnMessage>,
    ) -> Arc<Session> {
        Arc::new(Session {
            conn,
            api,
            on_message,
        })
    }

    /// Read frames until the peer goes away, then fail every pending call.
    pub(crate) async fn run(self: Arc<Self>, mut inbound: impl Stream<Item = Frame> + Unpin) {
        let mut reader = Reader::default();
        let mut kill = self.conn.outbox.subscribe();
        loop {
            let frame = tokio::select! {
                f = inbound.next() => match f {
                    Some(f) => f,
                    None => break,
                },
                _ = closed(&mut kill) => break,
            };
            self.conn.touch();
            if let Some(hook) = &self.on_message {
                match &frame {
                    Frame::Text(t) => hook(&Peer(self.conn.clone()), t.as_bytes()),
                    Frame::Binary(b) => hook(&Peer(self.conn.clone()), b),
                    _ => {}
                }
            }
            if let Frame::Close(code, reason) = &frame {
                self.conn.outbox.peer_closed(*code, reason);
                break;
            }
            self.on_frame(frame, &mut reader).await;
            if self.conn.outbox.is_closed() {
                break;
            }
        }
        self.conn.shutdown();
    }

    /// Everything one frame holds.
    async fn on_frame(self: &Arc<Self>, frame: Frame, reader: &mut Reader) {
        let proto = &self.conn.proto;
        if let Some(now) = proto.feed(reader, frame) {
            self.handle(now).await;
        }
        while let Some(item) = proto.next(reader, &self.conn.outbox) {
            self.handle(item).await;
        }
    }

    async fn handle(self: &Arc<Self>, item: Inbound<Encoding>) {
        match item {
            Inbound::Msg(msg, enc) => self.dispatch(msg, enc).await,
            Inbound::Reply(msg, enc) => self.reply(msg, &enc).await,
            Inbound::Send(frame) => {
                let _ = self.conn.outbox.send(frame).await;
            }
            // After what is queued (an error reply about why).
            Inbound::Close(code, reason) => self.conn.outbox.close_after_queued(code, &reason),
        }
    }

    /// Send `msg` to the peer, written in `enc` (a reply, or an error about a frame).
    async fn reply(&self, msg: Msg, enc: &Encoding) {
        if let Ok(Some(frame)) = self.conn.proto.write(msg, enc) {
            let _ = self.conn.outbox.send(frame).await;
        }
    }

    /// Answer request `id` with an error.
    async fn reply_err(&self, id: Value, enc: &Encoding, name: &str, message: String) {
        let result = Err(RpcError::new(name, message));
        self.reply(Msg::Response { id, result }, enc).await;
    }

    async fn dispatch(self: &Arc<Self>, msg: Msg, enc: Encoding) {
        match msg {
            Msg::Request {
                id,
                op,
                path,
                args,
                value,
            } => self.request(id, op, path, args, value, enc).await,
            Msg::Response { id, result } => {
                let result = result.map_err(Error::from_remote);
                if !self.conn.calls.answer(&id, result) {
                    tracing::debug!(conn = self.conn.id, ?id, "reply for an unknown call");
                }
            }
            Msg::Callback { id, args } => self.callback(&id, args),
            #[cfg(feature = "server")]
            Msg::Release { ids } if self.conn.proto.trpc().is_some() => {
                self.conn.streams.stop(&ids)
            }
            Msg::Release { ids } => self.conn.callbacks.release(ids),
            // Only a server writes stream events.
            Msg::Stream { .. } => {}
        }
    }

    /// Run our function `id` the peer called.
    fn callback(&self, id: &str, args: Vec<Value>) {
        let Some(f) = self.conn.callbacks.get(id) else {
            return;
        };
        // A panicking callback must not unwind out of the connection's task (the peer
        // would stay in the hub and pending calls would wait for timeouts).
        let run = std::panic::AssertUnwindSafe(|| f(args));
        if std::panic::catch_unwind(run).is_err() {
            tracing::warn!(conn = self.conn.id, ?id, "a local callback panicked");
        }
    }

    /// A request from the peer: within the rate limit and the calls in flight, run it. A
    /// call that finishes without waiting (most handlers) is answered here, as the
    /// connection reads; one that waits goes on in a task of its own, so the connection
    /// keeps reading (a callback's reply, the next call).
    async fn request(
        self: &Arc<Self>,
        id: Value,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
        enc: Encoding,
    ) {
        if self.conn.draining() {
            let message = "the server is shutting down; call again once reconnected".to_owned();
            return self
                .reply_err(id, &enc, codes::SHUTTING_DOWN, message)
                .await;
        }
        match self.conn.take_token() {
            Verdict::Allowed => {}
            Verdict::Refused => {
                let message = "too many requests; slow down".to_owned();
                return self.reply_err(id, &enc, codes::RATE_LIMITED, message).await;
            }
            Verdict::Close => {
                tracing::info!(conn = self.conn.id, "closing: repeated rate limit abuse");
                return self
                    .conn
                    .outbox
                    .close_after_queued(1008, "rate limit exceeded");
            }
        }
        #[cfg(feature = "server")]
        if op == Op::Subscription {
            let path = dotted(path);
            return crate::rpc::trpc::dispatch::subscribe(&self.conn, id, path, args, value, enc)
                .await;
        }
        let Ok(permit) = self.conn.inflight.clone().try_acquire_owned() else {
            let n = self.conn.config.limits.pending_calls();
            let message = format!("more than {n} calls in flight");
            return self
                .reply_err(id, &enc, codes::TOO_MANY_CALLS, message)
                .await;
        };
        let me = self.clone();
        let call = async move {
            let result = me.invoke_guarded(&id, op, path, args, value, &enc).await;
            me.answer(id, result, &enc).await;
            drop(permit);
        };
        let mut call = Box::pin(call);
        let waiting = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(call.as_mut(), cx).is_pending())
        })
        .await;
        if waiting {
            tokio::spawn(call);
        }
    }

    /// Send a request's result; one that cannot be written is answered with why.
    async fn answer(&self, id: Value, result: Result<Value, RpcError>, enc: &Encoding) {
        let reply = Msg::Response {
            id: id.clone(),
            result,
        };
        let frame = self.conn.proto.write(reply, enc).or_else(|e| {
            let reply = Msg::Response {
                id,
                result: Err(e.into()),
            };
            self.conn.proto.write(reply, enc)
        });
        if let Ok(Some(frame)) = frame {
            let _ = self.conn.outbox.send(frame).await;
        }
    }

    /// [`Session::invoke`], with a handler that panics answered by an error (the connection
    /// lives on).
    async fn invoke_guarded(
        self: &Arc<Self>,
        id: &Value,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
        enc: &Encoding,
    ) -> Result<Value, RpcError> {
        use futures_util::FutureExt;
        let invoked = self.invoke(op, path, args, value, enc);
        std::panic::AssertUnwindSafe(invoked)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!(conn = self.conn.id, ?id, "the handler panicked");
                Err(RpcError::new(
                    codes::HANDLER_PANICKED,
                    "the handler panicked",
                ))
            })
    }

    async fn invoke(
        self: &Arc<Self>,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
        enc: &Encoding,
    ) -> Result<Value, RpcError> {
        let dotted = dotted(path);
        match op {
            Op::Ref => Err(RpcError::new(
                "Error",
                "Remote reference operations require kkrpc/remote-refs",
            )),
            #[cfg(feature = "server")]
            Op::Query | Op::Mutation => {
                crate::rpc::trpc::dispatch::call(&self.conn, op, dotted, args, value).await
            }
            #[cfg(not(feature = "server"))]
            Op::Query | Op::Mutation | Op::Subscription => Err(not_found(&dotted, "method")),
            #[cfg(feature = "server")]
            Op::Subscription => Err(not_found(&dotted, "method")),
            Op::Get => self.api.get(&dotted),
            Op::Set => self.api.set(&dotted, value),
            Op::Call | Op::New => {
                let method = self
                    .api
                    .method_at(&dotted)
                    .ok_or_else(|| not_found(&dotted, "method"))?;
                let (args, callbacks) = self.split_args(args, enc);
                let call = Call {
                    args,
                    callbacks,
                    peer: Peer(self.conn.clone()),
                    path: dotted,
                };
                method(call).await
            }
        }
    }

    /// The values of a call's arguments (undefined for a function) and its callbacks.
    fn split_args(&self, args: Vec<Arg>, enc: &Encoding) -> (Vec<Value>, Vec<Option<Callback>>) {
        let mut values = Vec::with_capacity(args.len());
        let mut callbacks = Vec::with_capacity(args.len());
        for a in args {
            match a {
                Arg::Value(v) => {
                    values.push(v);
                    callbacks.push(None);
                }
                Arg::Callback(id) => {
                    values.push(Value::Undefined);
                    callbacks.push(Some(Callback(self.conn.stub(id, enc))));
                }
            }
        }
        (values, callbacks)
    }
}

/// After the connection's loop ended (on either side): the writer sends its close frame
/// and stops, while what the peer still sends is read and dropped up to its close frame (a
/// socket closed with unread input is reset, and the peer then loses the replies it had
/// not read: a client over the rate limit got no frame, not even its close code). After
/// 2 s a writer still stuck on a peer that stopped reading is aborted, which drops the
/// socket (only dropping its handle left the task, the socket and its buffers alive).
pub(crate) async fn finish(
    conn: Arc<Connection>,
    mut writer: tokio::task::JoinHandle<()>,
    mut inbound: impl Stream<Item = Frame> + Unpin,
) {
    conn.outbox.close_if_open(1000, "");
    drop(conn);
    let drain = async {
        while let Some(frame) = inbound.next().await {
            if matches!(frame, Frame::Close(..)) {
                break;
            }
        }
    };
    let both = async { tokio::join!(&mut writer, drain) };
    if tokio::time::timeout(Duration::from_secs(2), both)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// A request's path as one dotted name: the one segment itself when there is one (every tRPC
/// path, a legacy kkrpc `method` without dots), with no copy.
fn dotted(mut path: Vec<String>) -> String {
    if path.len() == 1 {
        path.pop().unwrap_or_default()
    } else {
        path.join(".")
    }
}

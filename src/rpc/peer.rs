//! [`Peer`], the handle to the other end of a connection (call it, push to it, close it),
//! and [`Callback`], a function the peer passed us.

use super::conn::callbacks::CallArg;
use super::conn::{ConnInfo, Connection, RemoteFn};
use super::error::{codes, CodecError, Error};
use super::protocol::kkrpc::Protocol;
use super::protocol::{Arg, Encoding, Msg, Op, WireProtocol};
use crate::value::de::from_value_ref;
use crate::{to_value, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The other end of a connection: call its API, see which codec and protocol it speaks.
///
/// Cheap to clone. Methods get one through [`Call::peer`](super::Call::peer); a
/// [`Client`](super::Client) derefs to one.
#[derive(Clone)]
pub struct Peer(pub(crate) Arc<Connection>);

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Peer(#{}, {})", self.id(), self.codec())
    }
}

/// A function the peer passed us: calling it sends a callback frame. Dropping the last
/// clone tells a compact-protocol peer it may release the function (`cbr`).
#[derive(Clone)]
pub struct Callback(pub(crate) Arc<RemoteFn>);

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Callback({})", self.0.id)
    }
}

impl Callback {
    /// Call the peer's function with these arguments. Fire and forget: kkrpc callbacks
    /// never reply. Fails only when the connection is gone (or the arguments cannot be
    /// written).
    pub async fn invoke(&self, args: Vec<Value>) -> Result<(), Error> {
        let conn = self.0.conn.upgrade().ok_or_else(Error::closed)?;
        let msg = Msg::Callback {
            id: self.0.id.clone(),
            args,
        };
        match conn.proto.write(msg, &self.0.enc)? {
            Some(frame) => conn.outbox.send(frame).await,
            None => Ok(()),
        }
    }

    /// The peer's id for this function.
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

impl Peer {
    /// This connection's id (unique within the process).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The name of the codec this connection speaks (negotiated, or detected from the
    /// peer's last message).
    pub fn codec(&self) -> String {
        self.0.proto.codec_name()
    }

    /// The protocol generation the peer speaks, once it has sent something (or was set).
    pub fn protocol(&self) -> Option<Protocol> {
        self.0.proto.generation()
    }

    /// The path, query and identity the connection was opened with.
    pub fn info(&self) -> &ConnInfo {
        &self.0.info
    }

    /// The user the auth hook named, if any.
    pub fn user(&self) -> Option<&str> {
        self.0.info.identity.as_ref().map(|i| i.user.as_str())
    }

    /// A query parameter of the connection's URL.
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = &self.0.info.query;
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Close this connection with a WebSocket close code and reason. What was already
    /// queued for the peer (replies, a last push) is sent before the close frame; pushes
    /// after this call are refused (one racing with it on another thread may still go
    /// first). A peer that stops reading meanwhile is cut off within 2 s.
    pub fn disconnect(&self, code: u16, reason: &str) {
        self.0.outbox.close_after_queued(code, reason);
    }

    /// Call the peer's method without waiting for (or expecting) a reply: the push a server
    /// sends to a client. Never blocks: when the peer's outbound queue is full, the peer is
    /// too slow and is disconnected with 1008 ([`Limit::SlowConsumer`](super::Limit))
    /// instead of being buffered for without bound.
    pub fn push(&self, method: &str, args: Vec<Value>) -> Result<(), Error> {
        self.0.proto.push(method, args, &self.0.outbox)
    }

    /// A push to a peer whose generation is unknown: held (see `Kkrpc::hold`). False when
    /// the generation is known and the push must be written in [`Peer::encoding`].
    pub(crate) fn hold(&self, method: &str, args: &[Value]) -> Result<bool, Error> {
        self.0.proto.hold(method, args, &self.0.outbox)
    }

    /// Queue a frame written for this peer, as a push.
    pub(crate) fn push_frame(&self, frame: super::transport::Frame) -> Result<(), Error> {
        self.0.outbox.push(frame)
    }

    /// What messages to this peer are written in (for encoding a push once per codec).
    pub(crate) fn encoding(&self) -> Encoding {
        self.0.proto.encoding()
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.0.outbox.is_closed()
    }

    /// Call the peer's method at `path` with `args` and typed result `R`.
    /// `args` is a tuple (or anything that serializes as an array); `()` means none.
    pub async fn call<R: DeserializeOwned, A: Serialize>(
        &self,
        path: &str,
        args: A,
    ) -> Result<R, Error> {
        let timeout = self.0.config.call_timeout;
        self.call_with_timeout(path, args, timeout).await
    }

    /// [`Peer::call`] with its own timeout.
    pub async fn call_with_timeout<R: DeserializeOwned, A: Serialize>(
        &self,
        path: &str,
        args: A,
        timeout: Duration,
    ) -> Result<R, Error> {
        let args = match to_value(&args)? {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let args = args.into_iter().map(CallArg::Value).collect();
        let v = self.call_args(path, args, timeout).await?;
        from_value_ref(&v).map_err(|e| {
            let message = format!("unexpected result from {path}: {e}");
            Error::Codec(CodecError::new(e, codes::BAD_ARGUMENTS, message))
        })
    }

    /// Call with explicit arguments (values and callbacks) and a timeout; the result is a
    /// [`Value`].
    pub async fn call_args(
        &self,
        path: &str,
        args: Vec<CallArg>,
        timeout: Duration,
    ) -> Result<Value, Error> {
        self.request(Op::Call, path, args, Value::Undefined, timeout)
            .await
    }

    /// Read the peer's property at `path` (kkrpc `get`).
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        let timeout = self.0.config.call_timeout;
        self.request(Op::Get, path, Vec::new(), Value::Undefined, timeout)
            .await
    }

    /// Write the peer's property at `path` (kkrpc `set`).
    pub async fn set(&self, path: &str, value: Value) -> Result<(), Error> {
        let timeout = self.0.config.call_timeout;
        self.request(Op::Set, path, Vec::new(), value, timeout)
            .await
            .map(|_| ())
    }

    /// Register the callbacks among `args`: the wire arguments, and the callbacks' ids.
    fn wire_args(&self, args: Vec<CallArg>) -> (Vec<Arg>, Vec<String>) {
        let c = &self.0;
        let mut wire = Vec::with_capacity(args.len());
        let mut callbacks = Vec::new();
        for a in args {
            match a {
                CallArg::Value(v) => wire.push(Arg::Value(v)),
                CallArg::Callback(f) => {
                    let id = format!("{}-cb-{}", c.id, c.calls.next_number());
                    c.callbacks.register(id.clone(), f);
                    callbacks.push(id.clone());
                    wire.push(Arg::Callback(id));
                }
            }
        }
        (wire, callbacks)
    }

    async fn request(
        &self,
        op: Op,
        path: &str,
        args: Vec<CallArg>,
        value: Value,
        timeout: Duration,
    ) -> Result<Value, Error> {
        let c = &self.0;
        if c.outbox.is_closed() {
            return Err(c.closed_error());
        }
        let n = c.calls.next_number();
        let (args, callbacks) = self.wire_args(args);
        // Forgets the call however this future ends (answered, timed out, failed to send,
        // or dropped by the caller, e.g. in a `select!`); the callbacks passed with it too,
        // unless the peer answered (it may still call them then).
        let mut guard = PendingCall {
            conn: c,
            id: format!("{}-{n}", c.id),
            callbacks,
            answered: false,
        };
        let msg = Msg::Request {
            id: Value::String(guard.id.clone()),
            op,
            path: path.split('.').map(str::to_owned).collect(),
            args,
            value,
        };
        let frame = c.proto.write(msg, &c.proto.encoding())?;
        let (tx, rx) = oneshot::channel();
        c.calls.insert(guard.id.clone(), tx);
        if let Some(frame) = frame {
            c.outbox.send(frame).await?;
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => {
                guard.answered = true;
                result
            }
            Ok(Err(_)) => Err(c.closed_error()),
            Err(_) => Err(Error::Timeout {
                request: guard.id.clone(),
                after: timeout,
            }),
        }
    }

    /// Close the connection (normal closure).
    pub async fn close(&self) {
        self.0
            .outbox
            .queue(super::transport::Frame::Close(1000, String::new()))
            .await;
        self.0.shutdown();
    }
}

/// An outgoing call in flight (see [`Peer::request`]).
struct PendingCall<'a> {
    conn: &'a Connection,
    id: String,
    callbacks: Vec<String>,
    answered: bool,
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        // Answered: the reader took the entry out, and the peer may still call back.
        if self.answered {
            return;
        }
        self.conn.calls.forget(&self.id);
        if !self.callbacks.is_empty() {
            self.conn.callbacks.release(&self.callbacks);
        }
    }
}

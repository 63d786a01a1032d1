//! The RPC layer's errors: [`RpcError`], an error that crosses the wire in the forms each
//! kkrpc generation uses (what handlers return and JS sees), and [`Error`], what a Rust
//! caller of [`Peer::call`](crate::rpc::Peer::call), [`Client::connect`](crate::rpc::Client)
//! or [`Callback::invoke`](crate::rpc::Callback::invoke) gets and can `match`.

use crate::value::{JsError, Object, Value};
use std::fmt;
use std::time::Duration;

/// An error raised by a remote method (or by the RPC layer), as a JS peer sees it: a
/// `name`, a `message`, an optional `stack`, and any extra properties (`code`, `details`).
///
/// On the compact protocol it travels as `e: {n, m, s?, ...props}`; on the legacy protocol
/// as a string (kkrpc 0.2) or `{name, message, stack?, ...props}` (kkrpc ≥ 0.4), see
/// [`LegacyErrors`](crate::rpc::LegacyErrors).
#[derive(Clone, PartialEq)]
pub struct RpcError {
    /// The error's name (`"Error"`, `"TypeError"`, `"DemoError"`).
    pub name: String,
    /// The message.
    pub message: String,
    /// The stack, when the peer sent one.
    pub stack: Option<String>,
    /// Extra enumerable properties.
    pub props: Object,
}

/// Names of the errors the RPC layer itself raises.
pub mod codes {
    /// No method or property at that path.
    pub const NOT_FOUND: &str = "MethodNotFoundError";
    /// The arguments do not match the method's parameters.
    pub const BAD_ARGUMENTS: &str = "TypeError";
    /// A message could not be decoded.
    pub const PARSE: &str = "ParseError";
    /// A frame of the wrong kind (binary on a text codec, text on a binary codec).
    pub const WRONG_FRAME: &str = "WrongFrameError";
    /// The connection closed before the reply came.
    pub const CLOSED: &str = "RPCTransportClosedError";
    /// The call took longer than its timeout.
    pub const TIMEOUT: &str = "RPCTimeoutError";
    /// Too many calls in flight on one connection.
    pub const TOO_MANY_CALLS: &str = "TooManyPendingCallsError";
    /// Over the connection's rate limit.
    pub const RATE_LIMITED: &str = "RateLimitedError";
    /// A message over the size limit.
    pub const TOO_LARGE: &str = "MessageTooLargeError";
    /// The handler panicked (the connection stays open).
    pub const HANDLER_PANICKED: &str = "HandlerPanickedError";
    /// A call that came while the server drains (it answers the calls it had, then closes
    /// with 1001): make it again once reconnected.
    pub const SHUTTING_DOWN: &str = "ServerShuttingDownError";
}

impl RpcError {
    /// An error with this name and message.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError {
            name: name.into(),
            message: message.into(),
            stack: None,
            props: Object::new(),
        }
    }

    /// Add an extra property (sent flat next to name and message).
    pub fn with_prop(mut self, key: impl Into<String>, value: impl Into<Value>) -> RpcError {
        self.props.insert(key, value.into());
        self
    }

    /// A plain `Error` with this message.
    pub fn msg(message: impl Into<String>) -> RpcError {
        RpcError::new("Error", message)
    }

    /// The compact protocol's error object `{n, m, s?, ...props}`.
    pub(crate) fn to_compact(&self) -> Value {
        let mut o = Object::with_capacity(2 + self.props.len());
        o.insert("n", Value::String(self.name.clone()));
        o.insert("m", Value::String(self.message.clone()));
        if let Some(s) = &self.stack {
            o.insert("s", Value::String(s.clone()));
        }
        for (k, v) in &self.props {
            if !matches!(k.as_str(), "n" | "m" | "s") {
                o.insert(k.clone(), v.clone());
            }
        }
        Value::Object(o)
    }

    /// The legacy object form `{name, message, stack?, ...props}`.
    pub(crate) fn to_legacy_object(&self) -> Value {
        let mut o = Object::with_capacity(2 + self.props.len());
        o.insert("name", Value::String(self.name.clone()));
        o.insert("message", Value::String(self.message.clone()));
        if let Some(s) = &self.stack {
            o.insert("stack", Value::String(s.clone()));
        }
        for (k, v) in &self.props {
            o.insert(k.clone(), v.clone());
        }
        Value::Object(o)
    }

    /// Read an error in any of the wire forms: compact `{n, m, s}`, legacy
    /// `{name, message, stack}`, a JS Error value, or a plain string.
    pub(crate) fn from_wire(v: Value) -> RpcError {
        match v {
            Value::String(m) => RpcError::msg(m),
            Value::Error(e) => RpcError {
                name: e.name,
                message: e.message,
                stack: e.stack,
                props: e.props,
            },
            Value::Object(mut o) => {
                let text = |v: Option<Value>| match v {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                let (name, message, stack) = if o.contains_key("n") || o.contains_key("m") {
                    (
                        text(o.remove("n")),
                        text(o.remove("m")),
                        text(o.remove("s")),
                    )
                } else {
                    (
                        text(o.remove("name")),
                        text(o.remove("message")),
                        text(o.remove("stack")),
                    )
                };
                RpcError {
                    name: name.unwrap_or_else(|| "Error".into()),
                    message: message.unwrap_or_default(),
                    stack,
                    props: o,
                }
            }
            other => RpcError::msg(format!("{other:?}")),
        }
    }
}

impl From<JsError> for RpcError {
    fn from(e: JsError) -> RpcError {
        RpcError {
            name: e.name,
            message: e.message,
            stack: e.stack,
            props: e.props,
        }
    }
}

impl From<crate::Error> for RpcError {
    /// A codec error while reading arguments or writing a result: a `TypeError` with the
    /// codec's message (which names the path).
    fn from(e: crate::Error) -> RpcError {
        RpcError::new(codes::BAD_ARGUMENTS, e.to_string())
    }
}

impl fmt::Debug for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcError({}: {}", self.name, self.message)?;
        if !self.props.is_empty() {
            write!(f, ", {:?}", self.props)?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for RpcError {}

/// Why a call, a push or a connect failed, for a Rust caller to `match`.
///
/// Each variant has the wire form it had as an [`RpcError`] (its [`codes`] name and
/// message): a handler that returns one with `?` answers its own caller with that form.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered with an error: a handler's, or one its RPC layer raised (not found,
    /// bad arguments, a handler panic).
    Remote(RpcError),
    /// No reply came in time.
    Timeout {
        /// The request's id.
        request: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The connection is closed (before the call or while it waited).
    Closed {
        /// The close code, when one was decided or received.
        code: Option<u16>,
        /// The close reason (may be empty).
        reason: String,
    },
    /// The connection could not be opened.
    Connect {
        /// The HTTP status of a refused upgrade (400 no codec, 401/403 auth).
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The arguments could not be written or the result read.
    Codec(CodecError),
    /// A limit: the peer refused the request (rate limit, too many calls in flight, a
    /// message too large) or this side gave up on a peer that reads too slowly.
    Limit {
        /// Which limit.
        kind: Limit,
        /// The error as it travels (the peer's, for a refusal).
        error: RpcError,
    },
}

/// The limit behind an [`Error::Limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// Over the connection's rate limit ([`codes::RATE_LIMITED`]).
    RateLimited,
    /// Too many calls in flight on the connection ([`codes::TOO_MANY_CALLS`]).
    TooManyCalls,
    /// A message over the size limit ([`codes::TOO_LARGE`]).
    TooLarge,
    /// The peer's outbound queue was full: it was disconnected (1008).
    SlowConsumer,
}

/// A codec failure while writing arguments or reading a result: the codec's error, with
/// what was being done.
#[derive(Debug)]
pub struct CodecError {
    error: crate::Error,
    name: &'static str,
    message: String,
}

impl CodecError {
    /// The codec's error.
    pub fn error(&self) -> &crate::Error {
        &self.error
    }

    pub(crate) fn new(error: crate::Error, name: &'static str, message: String) -> CodecError {
        CodecError {
            error,
            name,
            message,
        }
    }
}

impl Error {
    /// A reply error from the peer, as a variant: the RPC layer's own limit refusals are
    /// [`Error::Limit`], everything else [`Error::Remote`].
    pub(crate) fn from_remote(e: RpcError) -> Error {
        let kind = match e.name.as_str() {
            codes::RATE_LIMITED => Limit::RateLimited,
            codes::TOO_MANY_CALLS => Limit::TooManyCalls,
            codes::TOO_LARGE => Limit::TooLarge,
            _ => return Error::Remote(e),
        };
        Error::Limit { kind, error: e }
    }

    /// The connection is closed, for no known code.
    pub(crate) fn closed() -> Error {
        Error::Closed {
            code: None,
            reason: String::new(),
        }
    }

    /// A failure to encode a message for the wire.
    pub(crate) fn encode(e: crate::Error) -> Error {
        let message = format!("cannot encode the reply: {e}");
        Error::Codec(CodecError::new(e, "EncodeError", message))
    }

    /// The error as it travels on the wire (what it was before errors were typed).
    pub fn to_rpc_error(&self) -> RpcError {
        match self {
            Error::Remote(e) | Error::Limit { error: e, .. } => e.clone(),
            Error::Timeout { request, after } => RpcError::new(
                codes::TIMEOUT,
                format!(
                    "RPC request {request} timed out after {}ms",
                    after.as_millis()
                ),
            ),
            Error::Closed { .. } => RpcError::new(codes::CLOSED, "the connection is closed"),
            Error::Connect { status, message } => {
                let e = RpcError::new("ConnectError", message.clone());
                match status {
                    Some(s) => e.with_prop("status", *s),
                    None => e,
                }
            }
            Error::Codec(c) => RpcError::new(c.name, c.message.clone()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_rpc_error(), f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Remote(e) | Error::Limit { error: e, .. } => Some(e),
            Error::Codec(c) => Some(&c.error),
            _ => None,
        }
    }
}

impl From<Error> for RpcError {
    /// The wire form, so that a handler can `?` a call it made.
    fn from(e: Error) -> RpcError {
        match e {
            Error::Remote(e) | Error::Limit { error: e, .. } => e,
            other => other.to_rpc_error(),
        }
    }
}

impl From<crate::Error> for Error {
    /// Arguments that could not be written: a `TypeError` on the wire.
    fn from(e: crate::Error) -> Error {
        let message = e.to_string();
        Error::Codec(CodecError::new(e, codes::BAD_ARGUMENTS, message))
    }
}

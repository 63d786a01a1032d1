//! [`RpcError`]: an error that crosses the wire, in the forms each kkrpc generation uses.

use crate::value::{JsError, Object, Value};
use std::fmt;

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

//! The kkrpc messages of both protocol generations, read from and written to [`Value`]s.
//!
//! * **Compact** (kkrpc ≥ 1.0): `{t:"q"|"r"|"cb"|"cbr", ...}`, one document per frame,
//!   arguments wrapped in `__kkrpc_next_arg__` envelopes.
//! * **Legacy** (kkrpc 0.2 – 0.7): `{id, method, args, type, version}` followed by `\n`,
//!   callbacks as `"__callback__<id>"` strings.
//!
//! Messages are decoded by the connection's codec first; this module only interprets the
//! resulting value, so every codec carries the same structure.

use super::error::RpcError;
use crate::value::{Object, Value};

/// Which protocol generation a peer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// kkrpc ≥ 1.0: `t`/`q`/`r`/`cb`/`cbr` messages.
    Compact,
    /// kkrpc 0.2 – 0.7: `type`/`request`/`response` messages with newline framing.
    Legacy,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Call,
    Get,
    Set,
    New,
    /// kkrpc's remote-reference operation (`op:"ref"`, opt-in `kkrpc/remote-refs`), which
    /// polycodec does not serve: answered with the error a default kkrpc channel gives.
    Ref,
}

/// One argument: a value, or a function the caller passed (a callback id).
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Value(Value),
    Callback(String),
}

/// A message.
#[derive(Debug)]
pub(crate) enum Msg {
    Request {
        id: Value,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
    },
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
    Callback {
        id: String,
        args: Vec<Value>,
    },
    Release {
        ids: Vec<String>,
    },
}

const ENVELOPE: &str = "__kkrpc_next_arg__";
const CALLBACK_PREFIX: &str = "__callback__";

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// Unwrap one compact argument: an envelope, or a raw value (accepted, as kkrpc does).
fn compact_arg(v: Value) -> Arg {
    if let Value::Object(o) = &v {
        match o.get(ENVELOPE).and_then(Value::as_str) {
            Some("value") => return Arg::Value(o.get("v").cloned().unwrap_or(Value::Undefined)),
            Some("callback") => {
                if let Some(id) = string(o.get("id")) {
                    return Arg::Callback(id);
                }
            }
            _ => {}
        }
    }
    Arg::Value(v)
}

fn envelope(arg: Arg) -> Value {
    let mut o = Object::with_capacity(2);
    match arg {
        Arg::Value(v) => {
            o.insert(ENVELOPE, Value::from("value"));
            // Plain JSON leaves an undefined `v` out; superjson keeps it, as kkrpc does.
            o.insert("v", v);
        }
        Arg::Callback(id) => {
            o.insert(ENVELOPE, Value::from("callback"));
            o.insert("id", Value::String(id));
        }
    }
    Value::Object(o)
}

/// A document that is no kkrpc message (kkrpc drops these silently; polycodec answers them
/// with an error).
#[derive(Debug)]
pub(crate) struct Invalid {
    /// The protocol its fields show, if any.
    pub(crate) protocol: Option<Protocol>,
    /// The request's id when it is a readable string (the caller can then match the error
    /// to its call), else null.
    pub(crate) id: Value,
    /// What is wrong, for the error reply.
    pub(crate) reason: String,
}

fn invalid(protocol: Option<Protocol>, id: Value, reason: impl Into<String>) -> Invalid {
    Invalid {
        protocol,
        id,
        reason: reason.into(),
    }
}

/// Interpret a decoded document. An [`Invalid`] for what kkrpc silently drops (no
/// `t`/`type`, a compact request whose id is not a string, an unknown `op`, ...).
pub(crate) fn parse(doc: Value) -> Result<(Protocol, Msg), Invalid> {
    let Value::Object(mut o) = doc else {
        return Err(invalid(
            None,
            Value::Null,
            format!("not a kkrpc message (not an object: {})", doc.kind_name()),
        ));
    };
    if let Some(t) = string(o.get("t")) {
        return parse_compact(&t, o).map(|m| (Protocol::Compact, m));
    }
    let Some(ty) = string(o.get("type")) else {
        return Err(invalid(
            None,
            Value::Null,
            "not a kkrpc message (no `t` or `type`)",
        ));
    };
    let msg = match ty.as_str() {
        "request" | "get" | "set" | "construct" => {
            let id = o.remove("id").unwrap_or(Value::Null);
            let method = string(o.get("method")).unwrap_or_default();
            let (op, path) = match ty.as_str() {
                "get" | "set" => {
                    let path = match o.get("path") {
                        Some(Value::Array(p)) => p
                            .iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect(),
                        _ => Vec::new(),
                    };
                    (if ty == "get" { Op::Get } else { Op::Set }, path)
                }
                _ => (
                    if ty == "construct" { Op::New } else { Op::Call },
                    method.split('.').map(str::to_owned).collect(),
                ),
            };
            let args = match o.remove("args") {
                Some(Value::Array(a)) => a
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) if s.starts_with(CALLBACK_PREFIX) => {
                            Arg::Callback(s[CALLBACK_PREFIX.len()..].to_owned())
                        }
                        v => Arg::Value(v),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Msg::Request {
                id,
                op,
                path,
                args,
                value: o.remove("value").unwrap_or(Value::Undefined),
            }
        }
        "response" => {
            let id = o.remove("id").unwrap_or(Value::Null);
            let mut args = match o.remove("args") {
                Some(Value::Object(a)) => a,
                _ => Object::new(),
            };
            let result = match args.remove("error") {
                Some(e) if !matches!(e, Value::Null | Value::Undefined) => {
                    Err(RpcError::from_wire(e))
                }
                _ => Ok(args.remove("result").unwrap_or(Value::Undefined)),
            };
            Msg::Response { id, result }
        }
        "callback" => Msg::Callback {
            id: string(o.get("method")).ok_or_else(|| {
                invalid(
                    Some(Protocol::Legacy),
                    Value::Null,
                    "a callback message needs its callback id in `method`",
                )
            })?,
            args: match o.remove("args") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
        },
        other => {
            return Err(invalid(
                Some(Protocol::Legacy),
                o.remove("id").unwrap_or(Value::Null),
                format!("unknown message type {other:?}"),
            ))
        }
    };
    Ok((Protocol::Legacy, msg))
}

fn parse_compact(t: &str, mut o: Object) -> Result<Msg, Invalid> {
    let bad = |id: &Value, reason: String| invalid(Some(Protocol::Compact), id.clone(), reason);
    Ok(match t {
        "q" => {
            let id = match o.remove("id") {
                Some(Value::String(s)) => Value::String(s),
                other => {
                    let reason = match other {
                        None => "a request needs a string id".to_owned(),
                        Some(v) => format!("a request id must be a string, not {}", v.kind_name()),
                    };
                    return Err(bad(&Value::Null, reason));
                }
            };
            let op = match o.get("op").and_then(Value::as_str) {
                Some("call") => Op::Call,
                Some("get") => Op::Get,
                Some("set") => Op::Set,
                Some("new") => Op::New,
                Some("ref") => Op::Ref,
                _ => {
                    let op = match o.get("op") {
                        None => "none".to_owned(),
                        Some(Value::String(s)) => format!("{s:?}"),
                        Some(v) => format!("of type {}", v.kind_name()),
                    };
                    return Err(bad(&id, format!("unknown request op {op}")));
                }
            };
            let path = match o.remove("p") {
                Some(Value::Array(p)) => p
                    .into_iter()
                    .map(|s| match s {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            };
            let Some(path) = path else {
                return Err(bad(&id, "`p` must be an array of strings".into()));
            };
            let args = match o.remove("a") {
                None | Some(Value::Undefined) => Vec::new(),
                Some(Value::Array(a)) => a.into_iter().map(compact_arg).collect(),
                _ => return Err(bad(&id, "`a` must be an array".into())),
            };
            Msg::Request {
                id,
                op,
                path,
                args,
                value: o.remove("v").unwrap_or(Value::Undefined),
            }
        }
        "r" => {
            let Some(id) = o.remove("id") else {
                return Err(bad(&Value::Null, "a response needs an id".into()));
            };
            let result = match o.remove("e") {
                Some(e) => Err(RpcError::from_wire(e)),
                None => Ok(o.remove("v").unwrap_or(Value::Undefined)),
            };
            Msg::Response { id, result }
        }
        "cb" => Msg::Callback {
            id: string(o.get("id"))
                .ok_or_else(|| bad(&Value::Null, "a callback message needs a string id".into()))?,
            args: match o.remove("a") {
                Some(Value::Array(a)) => a
                    .into_iter()
                    .map(|x| match compact_arg(x) {
                        Arg::Value(v) => v,
                        Arg::Callback(_) => Value::Undefined,
                    })
                    .collect(),
                _ => Vec::new(),
            },
        },
        "cbr" => Msg::Release {
            ids: match o.get("ids") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
        },
        other => {
            return Err(bad(
                &Value::Null,
                format!("unknown message type `t`: {other:?}"),
            ))
        }
    })
}

/// How a legacy peer wants errors: kkrpc 0.2 reads strings, ≥ 0.4 reads objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LegacyErrors {
    /// `args.error` is the message string (what kkrpc 0.2.x, the newest on npm here, reads).
    #[default]
    String,
    /// `args.error` is `{name, message, stack?, ...props}` (kkrpc ≥ 0.4).
    Object,
}

/// Write a message as a document for `protocol`. `version` is the legacy `version` field
/// (`"json"` or `"superjson"`).
pub(crate) fn write(msg: Msg, protocol: Protocol, version: &str, errors: LegacyErrors) -> Value {
    let mut o = Object::with_capacity(6);
    match (protocol, msg) {
        (
            Protocol::Compact,
            Msg::Request {
                id,
                op,
                path,
                args,
                value,
            },
        ) => {
            o.insert("t", Value::from("q"));
            o.insert("id", id);
            o.insert(
                "op",
                Value::from(match op {
                    Op::Call => "call",
                    Op::Get => "get",
                    Op::Set => "set",
                    Op::New => "new",
                    Op::Ref => "ref",
                }),
            );
            o.insert("p", path.into_iter().map(Value::String).collect());
            if op == Op::Set {
                o.insert("v", value);
            } else if matches!(op, Op::Call | Op::New) {
                o.insert("a", Value::Array(args.into_iter().map(envelope).collect()));
            }
        }
        (Protocol::Compact, Msg::Response { id, result }) => {
            o.insert("t", Value::from("r"));
            o.insert("id", id);
            match result {
                // An undefined `v` is left out by plain JSON and kept by superjson, as kkrpc does.
                Ok(v) => {
                    o.insert("v", v);
                }
                Err(e) => {
                    o.insert("e", e.to_compact());
                }
            }
        }
        (Protocol::Compact, Msg::Callback { id, args }) => {
            o.insert("t", Value::from("cb"));
            o.insert("id", Value::String(id));
            o.insert(
                "a",
                Value::Array(args.into_iter().map(|v| envelope(Arg::Value(v))).collect()),
            );
        }
        (Protocol::Compact, Msg::Release { ids }) => {
            o.insert("t", Value::from("cbr"));
            o.insert("ids", ids.into_iter().map(Value::String).collect());
        }
        (
            Protocol::Legacy,
            Msg::Request {
                id,
                op,
                path,
                args,
                value,
            },
        ) => {
            o.insert("id", id);
            let callbacks: Vec<Value> = args
                .iter()
                .filter_map(|a| match a {
                    Arg::Callback(c) => Some(Value::String(c.clone())),
                    Arg::Value(_) => None,
                })
                .collect();
            match op {
                // polycodec never sends `ref` (legacy kkrpc has no such type).
                Op::Get | Op::Set | Op::Ref => {
                    o.insert("method", Value::from(""));
                    o.insert("args", Value::Object(Object::new()));
                    o.insert(
                        "type",
                        Value::from(match op {
                            Op::Get => "get",
                            Op::Set => "set",
                            _ => "ref",
                        }),
                    );
                    o.insert("path", path.into_iter().map(Value::String).collect());
                    if op == Op::Set {
                        o.insert("value", value);
                    }
                }
                Op::Call | Op::New => {
                    o.insert("method", Value::String(path.join(".")));
                    o.insert(
                        "args",
                        Value::Array(
                            args.into_iter()
                                .map(|a| match a {
                                    Arg::Value(v) => v,
                                    Arg::Callback(c) => {
                                        Value::String(format!("{CALLBACK_PREFIX}{c}"))
                                    }
                                })
                                .collect(),
                        ),
                    );
                    o.insert(
                        "type",
                        Value::from(if op == Op::New {
                            "construct"
                        } else {
                            "request"
                        }),
                    );
                    if !callbacks.is_empty() {
                        o.insert("callbackIds", Value::Array(callbacks));
                    }
                }
            }
            o.insert("version", Value::from(version));
        }
        (Protocol::Legacy, Msg::Response { id, result }) => {
            o.insert("id", id);
            o.insert("method", Value::from(""));
            let mut args = Object::with_capacity(1);
            match result {
                Ok(v) => {
                    args.insert("result", v);
                }
                Err(e) => {
                    let err = match errors {
                        // An empty string would read as success on kkrpc 0.2.
                        LegacyErrors::String if e.message.is_empty() => Value::String(e.name),
                        LegacyErrors::String => Value::String(e.message),
                        LegacyErrors::Object => e.to_legacy_object(),
                    };
                    args.insert("error", err);
                }
            }
            o.insert("args", Value::Object(args));
            o.insert("type", Value::from("response"));
            o.insert("version", Value::from(version));
        }
        (Protocol::Legacy, Msg::Callback { id, args }) => {
            o.insert("id", Value::String(format!("cb-{id}")));
            o.insert("method", Value::String(id));
            o.insert("args", Value::Array(args));
            o.insert("type", Value::from("callback"));
            o.insert("version", Value::from(version));
        }
        // Legacy peers have no release message.
        (Protocol::Legacy, Msg::Release { .. }) => return Value::Undefined,
    }
    Value::Object(o)
}

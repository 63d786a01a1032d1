//! kkrpc ≥ 1.0: `{t:"q"|"r"|"cb"|"cbr", ...}`, one document per frame, arguments wrapped
//! in `__kkrpc_next_arg__` envelopes.

use super::{invalid, string, Invalid, Protocol};
use crate::rpc::error::RpcError;
use crate::rpc::protocol::{Arg, Msg, Op};
use crate::value::{Object, Value};

const ENVELOPE: &str = "__kkrpc_next_arg__";

/// Unwrap one argument: an envelope, or a raw value (accepted, as kkrpc does).
fn arg(v: Value) -> Arg {
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

fn bad(id: &Value, reason: String) -> Invalid {
    invalid(Some(Protocol::Compact), id.clone(), reason)
}

/// Read a message whose `t` is `t`.
pub(super) fn parse(t: &str, mut o: Object) -> Result<Msg, Invalid> {
    Ok(match t {
        "q" => request(o)?,
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
                    .map(|x| match arg(x) {
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

fn request(mut o: Object) -> Result<Msg, Invalid> {
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
        Some(Value::Array(a)) => a.into_iter().map(arg).collect(),
        _ => return Err(bad(&id, "`a` must be an array".into())),
    };
    Ok(Msg::Request {
        id,
        op,
        path,
        args,
        value: o.remove("v").unwrap_or(Value::Undefined),
    })
}

/// Write a message as a compact document.
pub(super) fn write(msg: Msg) -> Value {
    let mut o = Object::with_capacity(6);
    match msg {
        Msg::Request {
            id,
            op,
            path,
            args,
            value,
        } => {
            o.insert("t", Value::from("q"));
            o.insert("id", id);
            o.insert("op", Value::from(op_name(op)));
            o.insert("p", path.into_iter().map(Value::String).collect());
            if op == Op::Set {
                o.insert("v", value);
            } else if matches!(op, Op::Call | Op::New) {
                o.insert("a", Value::Array(args.into_iter().map(envelope).collect()));
            }
        }
        Msg::Response { id, result } => {
            o.insert("t", Value::from("r"));
            o.insert("id", id);
            match result {
                // An undefined `v` is left out by plain JSON and kept by superjson, as kkrpc does.
                Ok(v) => o.insert("v", v),
                Err(e) => o.insert("e", e.to_compact()),
            };
        }
        Msg::Callback { id, args } => {
            o.insert("t", Value::from("cb"));
            o.insert("id", Value::String(id));
            let args = args.into_iter().map(|v| envelope(Arg::Value(v)));
            o.insert("a", Value::Array(args.collect()));
        }
        Msg::Release { ids } => {
            o.insert("t", Value::from("cbr"));
            o.insert("ids", ids.into_iter().map(Value::String).collect());
        }
        // Filtered out by the caller: kkrpc has no streams.
        Msg::Stream { .. } => {}
    }
    Value::Object(o)
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Call => "call",
        Op::Get => "get",
        Op::Set => "set",
        Op::New => "new",
        Op::Ref => "ref",
        // tRPC's kinds never reach a kkrpc peer.
        Op::Query | Op::Mutation | Op::Subscription => "call",
    }
}

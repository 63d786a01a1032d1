//! kkrpc 0.2 – 0.7: `{id, method, args, type, version}` followed by `\n`, callbacks as
//! `"__callback__<id>"` strings.

use super::{invalid, string, Invalid, LegacyErrors, Protocol};
use crate::rpc::error::RpcError;
use crate::rpc::protocol::{Arg, Msg, Op};
use crate::value::{Object, Value};

const CALLBACK_PREFIX: &str = "__callback__";

/// Read a message whose `type` is `ty`.
pub(super) fn parse(ty: &str, mut o: Object) -> Result<Msg, Invalid> {
    Ok(match ty {
        "request" | "get" | "set" | "construct" => request(ty, o),
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
    })
}

fn request(ty: &str, mut o: Object) -> Msg {
    let id = o.remove("id").unwrap_or(Value::Null);
    let method = string(o.get("method")).unwrap_or_default();
    let (op, path) = match ty {
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

/// Write a message as a legacy document; `version` is its `version` field (`"json"` or
/// `"superjson"`). `None` for a release: legacy peers have none.
pub(super) fn write(msg: Msg, version: &str, errors: LegacyErrors) -> Option<Value> {
    let mut o = Object::with_capacity(6);
    match msg {
        Msg::Request {
            id,
            op,
            path,
            args,
            value,
        } => {
            o.insert("id", id);
            write_request(&mut o, op, path, args, value);
        }
        Msg::Response { id, result } => {
            o.insert("id", id);
            o.insert("method", Value::from(""));
            let mut args = Object::with_capacity(1);
            match result {
                Ok(v) => args.insert("result", v),
                Err(e) => args.insert("error", error(e, errors)),
            };
            o.insert("args", Value::Object(args));
            o.insert("type", Value::from("response"));
        }
        Msg::Callback { id, args } => {
            o.insert("id", Value::String(format!("cb-{id}")));
            o.insert("method", Value::String(id));
            o.insert("args", Value::Array(args));
            o.insert("type", Value::from("callback"));
        }
        Msg::Release { .. } | Msg::Stream { .. } => return None,
    }
    o.insert("version", Value::from(version));
    Some(Value::Object(o))
}

fn error(e: RpcError, errors: LegacyErrors) -> Value {
    match errors {
        // An empty string would read as success on kkrpc 0.2.
        LegacyErrors::String if e.message.is_empty() => Value::String(e.name),
        LegacyErrors::String => Value::String(e.message),
        LegacyErrors::Object => e.to_legacy_object(),
    }
}

fn write_request(o: &mut Object, op: Op, path: Vec<String>, args: Vec<Arg>, value: Value) {
    match op {
        // polycodec never sends `ref` (legacy kkrpc has no such type).
        Op::Get | Op::Set | Op::Ref => {
            o.insert("method", Value::from(""));
            o.insert("args", Value::Object(Object::new()));
            let ty = match op {
                Op::Get => "get",
                Op::Set => "set",
                _ => "ref",
            };
            o.insert("type", Value::from(ty));
            o.insert("path", path.into_iter().map(Value::String).collect());
            if op == Op::Set {
                o.insert("value", value);
            }
        }
        Op::Call | Op::New | Op::Query | Op::Mutation | Op::Subscription => {
            let callbacks: Vec<Value> = args
                .iter()
                .filter_map(|a| match a {
                    Arg::Callback(c) => Some(Value::String(c.clone())),
                    Arg::Value(_) => None,
                })
                .collect();
            o.insert("method", Value::String(path.join(".")));
            let args = args.into_iter().map(|a| match a {
                Arg::Value(v) => v,
                Arg::Callback(c) => Value::String(format!("{CALLBACK_PREFIX}{c}")),
            });
            o.insert("args", Value::Array(args.collect()));
            let ty = if op == Op::New {
                "construct"
            } else {
                "request"
            };
            o.insert("type", Value::from(ty));
            if !callbacks.is_empty() {
                o.insert("callbackIds", Value::Array(callbacks));
            }
        }
    }
}

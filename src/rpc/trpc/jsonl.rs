//! `httpBatchStreamLink`'s JSON Lines body: a head line that promises each call's result,
//! then, as each call finishes, the lines that settle it (in completion order). Each line is
//! one document of the transformer, ending in `\n`.
//!
//! A call's value travels as tRPC writes it: `Promise<{result: Promise<{data: Promise<v>}>}>`,
//! three promise chunks, or one chunk `{error: shape}` for an error:
//!
//! ```text
//! {"json":{"0":[[0],[null,0,0]]}}
//! {"json":[0,0,[[{"result":0}],["result",0,1]]]}
//! {"json":[1,0,[[{"data":0}],["data",0,2]]]}
//! {"json":[2,0,[[42]]]}
//! ```

use super::errors::shape;
use super::transformer::Transformer;
use crate::rpc::error::RpcError;
use crate::{Limits, Object, Value};
use axum::body::Bytes;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use std::future::Future;

/// A line's document, encoded and ended with `\n`.
fn line(t: Transformer, v: &Value, limits: Limits) -> Bytes {
    let mut bytes = t.encode(v, limits).unwrap_or_else(|e| {
        tracing::debug!(error = %e, "a JSON Lines chunk could not be written");
        b"null".to_vec()
    });
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn num(n: usize) -> Value {
    Value::from(n as f64)
}

/// `[[v]]` (`[[]]` for undefined): how a settled value is written.
fn settled(v: Value) -> Value {
    if v.is_undefined() {
        Value::Array(vec![Value::Array(Vec::new())])
    } else {
        Value::Array(vec![Value::Array(vec![v])])
    }
}

/// `[[{key: 0}], [key, 0, chunk]]`: an object whose `key` is a promise settled by `chunk`.
fn deferred(key: &str, chunk: usize) -> Value {
    let mut o = Object::with_capacity(1);
    o.insert(key, Value::from(0.0));
    let def = Value::Array(vec![Value::from(key), num(0), num(chunk)]);
    Value::Array(vec![Value::Array(vec![Value::Object(o)]), def])
}

fn chunk(id: usize, payload: Value) -> Value {
    Value::Array(vec![num(id), num(0), payload])
}

/// The body for `calls` (each the call's index, path and result), written with `t`.
pub(crate) fn body<F>(
    t: Transformer,
    limits: Limits,
    dev: bool,
    calls: Vec<F>,
) -> impl Stream<Item = Bytes> + Send
where
    F: Future<Output = (usize, String, Result<Value, RpcError>)> + Send + 'static,
{
    let n = calls.len();
    let mut head = Object::with_capacity(n);
    for i in 0..n {
        let promise = Value::Array(vec![Value::Array(vec![num(0)]), {
            Value::Array(vec![Value::Null, num(0), num(i)])
        }]);
        head.insert(i.to_string(), promise);
    }
    let head =
        futures_util::stream::once(std::future::ready(line(t, &Value::Object(head), limits)));
    let pending: FuturesUnordered<F> = calls.into_iter().collect();
    let rest = pending
        .scan(n, move |next, (i, path, result)| {
            let lines: Vec<Bytes> = match result {
                Ok(v) => {
                    let (a, b) = (*next, *next + 1);
                    *next += 2;
                    vec![
                        line(t, &chunk(i, deferred("result", a)), limits),
                        line(t, &chunk(a, deferred("data", b)), limits),
                        line(t, &chunk(b, settled(v)), limits),
                    ]
                }
                Err(e) => {
                    let mut o = Object::with_capacity(1);
                    o.insert("error", shape(&e, Some(&path), dev));
                    vec![line(t, &chunk(i, settled(Value::Object(o))), limits)]
                }
            };
            std::future::ready(Some(futures_util::stream::iter(lines)))
        })
        .flatten();
    head.chain(rest)
}

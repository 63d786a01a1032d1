//! The tRPC contract router that `polycodec serve` exposes on `/trpc` (HTTP and WebSocket):
//! the same procedures as `js/trpc-reference-server.mjs`, the real `@trpc/server`.
//!
//! | path | kind | behaviour |
//! |---|---|---|
//! | `greet` | query | string `name` → `"Hello, <name>!"` |
//! | `math.add` | query | `{a, b}` (finite numbers) → `a + b` |
//! | `echo` | query | any value → that value |
//! | `echoMutation` | mutation | the same |
//! | `typeOf` | query | any → the kind of the decoded input (`"Date"`, `"Map"`, `"bigint"`, …) |
//! | `sample` | query | a fixed value with a Date, a bigint, a Map, a Set, undefined, NaN, -0, a RegExp |
//! | `counter.inc` | mutation | `{by?}` (default 1) → the counter after adding `by` |
//! | `fail` | query | NOT_FOUND `"Nothing to see here"` |
//! | `crash` | query | INTERNAL_SERVER_ERROR `"boom"` |
//! | `whoami` | query | the connection params as an object of strings, or null |
//! | `ticks` | subscription | `{n, delayMs?}` → 0 … n−1, `delayMs` (10) before each |
//! | `tracked` | subscription | `{n, delayMs?, lastEventId?}` → tracked `String(i)`, `{i, at, big}` |

use super::error::RpcError;
use super::trpc::{tracked, Code, Router, RouterBuilder};
use crate::types::{Field, JsType, Ty};
use crate::value::BigInt;
use crate::{Date, Object, RegExp, Value};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `math.add`'s input.
#[derive(Deserialize, JsType)]
struct Add {
    a: f64,
    b: f64,
}

/// `counter.inc`'s input (the whole input may be left out too).
#[derive(Deserialize, JsType)]
struct Inc {
    by: Option<f64>,
}

/// `ticks`' input.
#[derive(Deserialize, JsType)]
#[serde(rename_all = "camelCase")]
struct Ticks {
    n: f64,
    delay_ms: Option<f64>,
}

/// `tracked`'s input: `ticks`' and the id to resume after.
#[derive(Deserialize, JsType)]
#[serde(rename_all = "camelCase")]
struct TrackedTicks {
    n: f64,
    delay_ms: Option<f64>,
    last_event_id: Option<String>,
}

/// What `tracked` yields (tracked under `String(i)`).
#[derive(Serialize, JsType)]
struct Tick {
    i: f64,
    at: Date,
    #[serde(with = "crate::js::bigint")]
    big: BigInt,
}

/// `whoami`'s output: the connection params as an object of strings, in the order sent.
struct Params(Vec<(String, String)>);

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl JsType for Params {
    fn js_type() -> Ty {
        Ty::of::<std::collections::BTreeMap<String, String>>()
    }
}

fn bad(message: &str) -> RpcError {
    Code::BadRequest.error(message)
}

fn finite(x: f64, name: &str) -> Result<f64, RpcError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(bad(&format!("{name} must be a finite number")))
    }
}

/// `n` (an integer in 0..=100000) and the delay (0..=10000 ms, default 10).
fn ticks_input(t: &Ticks) -> Result<(u64, Duration), RpcError> {
    let n = finite(t.n, "n")?;
    if n.fract() != 0.0 || !(0.0..=100_000.0).contains(&n) {
        return Err(bad("n must be an integer in 0..100000"));
    }
    let delay = finite(t.delay_ms.unwrap_or(10.0), "delayMs")?;
    if !(0.0..=10_000.0).contains(&delay) {
        return Err(bad("delayMs must be in 0..10000"));
    }
    Ok((n as u64, Duration::from_secs_f64(delay / 1000.0)))
}

/// `from..n`, each after `delay`.
fn counting(from: u64, n: u64, delay: Duration) -> impl Stream<Item = u64> + Send {
    stream::iter(from..n).then(move |i| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        i
    })
}

/// The kind `typeOf` reports, as the reference server's `tagOf`.
pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Undefined => "undefined",
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::BigInt(_) => "bigint",
        Value::Array(_) => "array",
        Value::Date(_) => "Date",
        Value::Map(_) => "Map",
        Value::Set(_) => "Set",
        Value::RegExp(_) => "RegExp",
        Value::Url(_) => "URL",
        Value::Error(_) => "Error",
        Value::Ref(r) => match r.resolve() {
            Some(v) => type_of(&v),
            None => "undefined",
        },
        _ => "object",
    }
}

/// The kinds `typeOf` may report.
const KINDS: [&str; 14] = [
    "undefined",
    "null",
    "boolean",
    "number",
    "string",
    "bigint",
    "array",
    "Date",
    "Map",
    "Set",
    "RegExp",
    "URL",
    "Error",
    "object",
];

/// `typeOf`'s output: one of [`KINDS`].
fn kind_type() -> Ty {
    Ty::Union(KINDS.iter().map(|k| Ty::Literal((*k).into())).collect())
}

/// The type of [`sample`]'s value.
fn sample_type() -> Ty {
    let obj = Ty::Object;
    obj(vec![
        Field::new("date", Ty::Date),
        Field::new("big", Ty::BigInt),
        Field::new(
            "map",
            Ty::Map(
                Box::new(Ty::String),
                Box::new(Ty::Union(vec![Ty::Number, Ty::Set(Box::new(Ty::BigInt))])),
            ),
        ),
        Field::new(
            "set",
            Ty::Set(Box::new(Ty::Union(vec![Ty::String, Ty::Date]))),
        ),
        Field::new("undef", Ty::Undefined),
        Field::new(
            "nested",
            obj(vec![
                Field::new(
                    "list",
                    Ty::Array(Box::new(Ty::Union(vec![
                        Ty::Date,
                        Ty::Number,
                        Ty::Undefined,
                    ]))),
                ),
                Field::new("re", Ty::RegExp),
            ]),
        ),
    ])
}

/// The value `sample` returns.
pub fn sample() -> Value {
    let obj = |pairs: Vec<(&str, Value)>| {
        let mut o = Object::new();
        for (k, v) in pairs {
            o.insert(k, v);
        }
        Value::Object(o)
    };
    let date = |ms: f64| Value::Date(Date::from_millis(ms));
    obj(vec![
        ("date", date(1_577_836_800_000.0)),
        ("big", Value::BigInt(BigInt::from(9_007_199_254_740_993u64))),
        (
            "map",
            Value::Map(vec![
                (Value::from("one"), Value::from(1)),
                (
                    Value::from("two"),
                    Value::Set(vec![Value::BigInt(BigInt::from(2))]),
                ),
            ]),
        ),
        ("set", Value::Set(vec![Value::from("s"), date(1.0)])),
        ("undef", Value::Undefined),
        (
            "nested",
            obj(vec![
                (
                    "list",
                    Value::Array(vec![
                        date(0.0),
                        Value::Number(-0.0),
                        Value::Number(f64::NAN),
                        Value::Number(f64::INFINITY),
                        Value::Undefined,
                    ]),
                ),
                (
                    "re",
                    RegExp::new("^x$", "m")
                        .map_or(Value::Undefined, |r| Value::RegExp(Box::new(r))),
                ),
            ]),
        ),
    ])
}

/// The contract router (superjson), with its own counter.
pub fn contract_router() -> Router {
    contract()
        .build()
        .expect("the contract router registers each path once")
}

/// The contract router's procedures, before [`RouterBuilder::build`]: for a server that
/// sets options of its own on them (e.g. [`RouterBuilder::allow_method_override`]).
pub fn contract() -> RouterBuilder {
    let counter = Arc::new(AtomicU64::new(0f64.to_bits()));
    Router::builder()
        .query("greet", |name: String, _| async move {
            Ok(format!("Hello, {name}!"))
        })
        .query("math.add", |x: Add, _| async move {
            Ok(finite(x.a, "a")? + finite(x.b, "b")?)
        })
        .query("echo", |v: Value, _| async move { Ok(v) })
        .mutation("echoMutation", |v: Value, _| async move { Ok(v) })
        .query("typeOf", |v: Value, _| async move { Ok(type_of(&v)) })
        .query("sample", |(): (), _| async move { Ok(sample()) })
        .mutation("counter.inc", move |inc: Option<Inc>, _| {
            let counter = counter.clone();
            async move {
                let by = finite(inc.and_then(|i| i.by).unwrap_or(1.0), "by")?;
                let mut now = 0.0;
                let _ = counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
                    now = f64::from_bits(bits) + by;
                    Some(now.to_bits())
                });
                Ok(now)
            }
        })
        .query("fail", |(): (), _| async move {
            Err::<(), _>(Code::NotFound.error("Nothing to see here"))
        })
        .query("crash", |(): (), _| async move {
            Err::<(), _>(RpcError::msg("boom"))
        })
        .query("whoami", |(): (), ctx| async move {
            Ok(ctx.connection_params().map(|p| Params(p.to_vec())))
        })
        .subscription("ticks", |t: Ticks, _| async move {
            let (n, delay) = ticks_input(&t)?;
            Ok(counting(0, n, delay).map(|i| Ok::<_, RpcError>(i as f64)))
        })
        .subscription("tracked", |t: TrackedTicks, _| async move {
            let ticks = Ticks {
                n: t.n,
                delay_ms: t.delay_ms,
            };
            let (n, delay) = ticks_input(&ticks)?;
            let from = match &t.last_event_id {
                None => 0,
                Some(id) => match id.parse::<u64>() {
                    Ok(i) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => i + 1,
                    _ => return Err(bad("lastEventId must be a decimal string")),
                },
            };
            Ok(counting(from, n, delay).map(|i| {
                let tick = Tick {
                    i: i as f64,
                    at: Date::from_millis(i as f64 * 1000.0),
                    big: BigInt::from(i) * BigInt::from(10u8).pow(20),
                };
                Ok::<_, RpcError>(tracked(i.to_string(), tick))
            }))
        })
        // What the Rust types do not say: any value in and out (`echo` and `echoMutation`
        // are `unknown` as they are), the kinds `typeOf` reports, the shape of `sample`, and
        // the queries that only fail.
        .describe("typeOf", Ty::Unknown, kind_type())
        .describe("sample", Ty::Null, sample_type())
        .describe("fail", Ty::Null, Ty::Raw("never".into()))
        .describe("crash", Ty::Null, Ty::Raw("never".into()))
}

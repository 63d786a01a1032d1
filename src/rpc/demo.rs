//! The demo API that `polycodec serve` exposes on `/rpc` (and the tests call).

use super::api::{Api, Call};
use super::error::RpcError;
use crate::{Date, Value};
use std::time::Duration;

/// `echo`, `greet`, `add`, `math.multiply`, `fail`, `withCallback`, `now`, `counter`, and
/// `callClient` (the server calls the client's API).
pub fn api() -> Api {
    Api::builder()
        .method(
            "echo",
            |call: Call| async move { Ok(call.value(0).clone()) },
        )
        .typed("greet", |(name,): (String,)| async move {
            Ok::<_, RpcError>(format!("Hello, {name}!"))
        })
        .typed("add", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a + b)
        })
        .typed("math.multiply", |(a, b): (f64, f64)| async move {
            Ok::<_, RpcError>(a * b)
        })
        .typed("fail", |(message,): (String,)| async move {
            Err::<(), _>(RpcError::new("DemoError", message))
        })
        .method("withCallback", |call: Call| async move {
            let n: u32 = call.arg(0)?;
            let cb = call.callback(1)?;
            for i in 1..=n {
                cb.invoke(vec![Value::from(i)]).await?;
            }
            Ok(Value::from("done"))
        })
        .typed(
            "now",
            |(): ()| async move { Ok::<_, RpcError>(Date::now()) },
        )
        .property("counter", Value::from(0))
        .method("callClient", |call: Call| async move {
            let method: String = call.arg(0)?;
            let arg = call.value(1).clone();
            let peer = call.peer().clone();
            peer.call_args(&method, vec![arg.into()], Duration::from_secs(10))
                .await
        })
        .build()
        .expect("the demo API registers each path once")
}

//! [`Api`]: the methods and properties one side exposes, by dotted path.

use super::error::{codes, RpcError};
use super::peer::{Callback, Peer};
use crate::types::{ApiTypes, JsType, MethodSig, Ty};
use crate::value::de::{from_value_ref, from_values};
use crate::{to_value, Error, Object, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// A boxed future, as methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A handler as the RPC layer keeps it: what it is called with in, a result or an error out.
pub(crate) type Handler<In, Out> =
    Arc<dyn Fn(In) -> BoxFuture<Result<Out, RpcError>> + Send + Sync>;

type MethodFn = Handler<Call, Value>;

/// The typed-handler machinery that [`ApiBuilder::typed`] methods and tRPC procedures
/// share: `read` takes the typed arguments out of what the handler is called with (serde
/// in; its error is the reply, saying what did not fit), `f` runs with them, and `write`
/// turns its result into what goes back (serde out). An error from `f` is the reply as is.
pub(crate) fn typed_handler<In, A, R, Out, F, Fut>(
    read: impl Fn(In) -> Result<A, RpcError> + Send + Sync + 'static,
    f: F,
    write: fn(R) -> Result<Out, RpcError>,
) -> Handler<In, Out>
where
    In: 'static,
    A: 'static,
    R: 'static,
    Out: Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
{
    Arc::new(move |input: In| -> BoxFuture<Result<Out, RpcError>> {
        match read(input) {
            Ok(args) => {
                let run = f(args);
                Box::pin(async move { write(run.await?) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    })
}

/// The typed result of a handler as a [`Value`].
pub(crate) fn output<R: Serialize>(out: R) -> Result<Value, RpcError> {
    to_value(&out).map_err(RpcError::from)
}

/// A shared, writable property value (kkrpc `get`/`set`).
pub type Property = Arc<RwLock<Value>>;

/// The methods and properties exposed to the peer.
///
/// Build one with [`Api::builder`]. Paths are dotted (`"math.multiply"` is what JS calls as
/// `api.math.multiply(...)`); registering the same path twice is an error.
///
/// A method runs on its connection's task until it first waits: one that finishes without
/// waiting (most do) is answered there, without a task of its own; one that waits (on a
/// timer, I/O, a call to the peer) goes on in its own task while the connection reads on.
/// So, as in any async server, a method must not block: move heavy or blocking work to
/// [`tokio::task::spawn_blocking`], or the connection's next messages wait for it. A method
/// that panics gets a [`codes::HANDLER_PANICKED`](crate::rpc::codes::HANDLER_PANICKED)
/// reply; the connection stays open.
///
/// ```
/// use polycodec::rpc::{Api, RpcError};
/// use polycodec::Value;
/// let api = Api::builder()
///     .typed("add", |(a, b): (f64, f64)| async move { Ok::<_, RpcError>(a + b) })
///     .typed("math.multiply", |(a, b): (f64, f64)| async move { Ok::<_, RpcError>(a * b) })
///     .property("counter", Value::from(0))
///     .build()
///     .unwrap();
/// assert!(api.has_method("math.multiply"));
/// ```
///
/// Typed methods carry their argument and result types to TypeScript ([`Api::types`]);
/// [`ApiBuilder::describe`] gives a [`method`](ApiBuilder::method) its signature.
#[derive(Clone, Default)]
pub struct Api {
    methods: HashMap<String, MethodFn>,
    props: HashMap<String, Property>,
    sigs: HashMap<String, MethodSig>,
}

/// Builds an [`Api`]; errors (a duplicate path) are reported by [`ApiBuilder::build`].
#[derive(Default)]
pub struct ApiBuilder {
    api: Api,
    error: Option<Error>,
}

impl Api {
    /// Start building an API.
    pub fn builder() -> ApiBuilder {
        ApiBuilder::default()
    }

    /// True if a method is registered at `path`.
    pub fn has_method(&self, path: &str) -> bool {
        self.methods.contains_key(path)
    }

    /// The property at `path`, to read or change it from Rust.
    pub fn property(&self, path: &str) -> Option<Property> {
        self.props.get(path).cloned()
    }

    /// The API's types, for TypeScript ([`crate::types`]): typed methods with their
    /// signatures, described methods with theirs, other methods as
    /// `(...args: unknown[]) => unknown`, properties as `unknown`.
    pub fn types(&self) -> ApiTypes {
        let mut types = ApiTypes::new();
        for path in self.methods.keys() {
            let sig = self.sigs.get(path).cloned();
            types = types.method(path, sig.unwrap_or_else(MethodSig::untyped));
        }
        for path in self.props.keys() {
            types = types.property(path, Ty::Unknown);
        }
        types
    }

    pub(crate) fn method_at(&self, path: &str) -> Option<MethodFn> {
        self.methods.get(path).cloned()
    }

    /// Read a property (kkrpc `get`). Methods read as undefined (a function has no JSON form).
    /// The root (`p:[]`) or a path that only leads to others (`math` for `math.multiply`)
    /// reads as the object they make, as kkrpc gives the exposed object JSON-encoded:
    /// properties with their values, methods left out (an object of methods only is `{}`),
    /// keys in sorted order (registration order is not kept).
    pub(crate) fn get(&self, path: &str) -> Result<Value, RpcError> {
        if let Some(p) = self.props.get(path) {
            return Ok(p.read().map(|v| v.clone()).unwrap_or_default());
        }
        if self.methods.contains_key(path) {
            return Ok(Value::Undefined);
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        let mut below: Vec<&String> = self
            .props
            .keys()
            .chain(self.methods.keys())
            .filter(|k| k.starts_with(&prefix))
            .collect();
        if below.is_empty() && !path.is_empty() {
            return Err(not_found(path, "property"));
        }
        below.sort();
        let mut out = Object::new();
        for key in below {
            let segs: Vec<&str> = key[prefix.len()..].split('.').collect();
            let value = self
                .props
                .get(key)
                .map(|p| p.read().map(|v| v.clone()).unwrap_or_default());
            insert_at(&mut out, &segs, value);
        }
        Ok(Value::Object(out))
    }

    /// Write a property (kkrpc `set`).
    pub(crate) fn set(&self, path: &str, value: Value) -> Result<Value, RpcError> {
        match self.props.get(path) {
            Some(p) => {
                if let Ok(mut slot) = p.write() {
                    *slot = value;
                }
                Ok(Value::Bool(true))
            }
            None => Err(not_found(path, "property")),
        }
    }
}

/// Put `value` at the dotted `segs` below `o`, making the objects on the way; a method (no
/// value) only makes the objects that lead to it.
fn insert_at(o: &mut Object, segs: &[&str], value: Option<Value>) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Some(v) = value {
            o.insert(*first, v);
        }
        return;
    }
    if o.get(first).is_none() {
        o.insert(*first, Value::Object(Object::new()));
    }
    // A property that is also a path's prefix keeps its value.
    if let Some(Value::Object(child)) = o.get_mut(first) {
        insert_at(child, rest, value);
    }
}

/// The error for an unknown path. The message is kkrpc's legacy wording, which JS callers
/// of every generation print as is.
pub(crate) fn not_found(path: &str, what: &str) -> RpcError {
    let message = if what == "method" {
        format!("Method {path} is not a function")
    } else {
        format!("Property path {path} not found")
    };
    RpcError::new(codes::NOT_FOUND, message).with_prop("path", path)
}

impl ApiBuilder {
    fn insert(mut self, path: &str, m: Option<MethodFn>, p: Option<Property>) -> Self {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            self.error
                .get_or_insert(Error::data(format!("invalid API path {path:?}")));
            return self;
        }
        if self.api.methods.contains_key(path) || self.api.props.contains_key(path) {
            self.error
                .get_or_insert(Error::data(format!("{path:?} is registered twice")));
            return self;
        }
        if let Some(m) = m {
            self.api.methods.insert(path.to_owned(), m);
        }
        if let Some(p) = p {
            self.api.props.insert(path.to_owned(), p);
        }
        self
    }

    /// A method that sees the whole call: positional arguments as [`Value`]s, callbacks the
    /// caller passed, and the [`Peer`] (connection id, codec, a handle to call back).
    pub fn method<F, Fut>(self, path: &str, f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, RpcError>> + Send + 'static,
    {
        let f: MethodFn = Arc::new(move |call| Box::pin(f(call)));
        self.insert(path, Some(f), None)
    }

    /// A method with typed positional arguments (a tuple) and a typed result. Arguments that
    /// do not match reach the caller as a `TypeError` naming the position. Its TypeScript
    /// signature comes from the types ([`JsType`]); [`ApiBuilder::param_names`] names the
    /// parameters.
    pub fn typed<A, R, F, Fut>(self, path: &str, f: F) -> Self
    where
        A: DeserializeOwned + JsType + Send + 'static,
        R: Serialize + JsType + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let m = typed_handler(|call: Call| call.args::<A>(), f, output::<R>);
        self.insert(path, Some(m), None)
            .describe(path, MethodSig::of::<A, R>())
    }

    /// The TypeScript signature of the method at `path` (registered before or after), for a
    /// [`method`](ApiBuilder::method) that takes its arguments from the [`Call`]: callbacks
    /// as [`Ty::callback`], results as any [`Ty`].
    pub fn describe(mut self, path: &str, sig: MethodSig) -> Self {
        self.api.sigs.insert(path.to_owned(), sig);
        self
    }

    /// Name the parameters of the method at `path` in its TypeScript signature
    /// (`arg0`, `arg1`, … until named).
    pub fn param_names(mut self, path: &str, names: &[&str]) -> Self {
        if let Some(sig) = self.api.sigs.remove(path) {
            self.api.sigs.insert(path.to_owned(), sig.names(names));
        }
        self
    }

    /// A readable and writable value (kkrpc `get`/`set`).
    pub fn property(self, path: &str, initial: Value) -> Self {
        self.insert(path, None, Some(Arc::new(RwLock::new(initial))))
    }

    /// A property backed by a cell the application also holds.
    pub fn property_cell(self, path: &str, cell: Property) -> Self {
        self.insert(path, None, Some(cell))
    }

    /// The API, or the first registration error.
    pub fn build(self) -> crate::Result<Api> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.api),
        }
    }
}

/// One incoming call: its arguments, the callbacks among them, and the peer that made it.
pub struct Call {
    pub(crate) args: Vec<Value>,
    pub(crate) callbacks: Vec<Option<Callback>>,
    pub(crate) peer: Peer,
    pub(crate) path: String,
}

impl Call {
    /// The positional arguments as a tuple (or any type a JS array reads as). A callback's
    /// position reads as undefined; take it with [`Call::callback`].
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, RpcError> {
        from_values(&self.args).map_err(|e| {
            RpcError::new(
                codes::BAD_ARGUMENTS,
                format!("invalid arguments for {}: {e}", self.path),
            )
        })
    }

    /// Argument `i`, typed.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, RpcError> {
        from_value_ref(self.value(i)).map_err(|e| {
            RpcError::new(
                codes::BAD_ARGUMENTS,
                format!("invalid argument {i} for {}: {e}", self.path),
            )
        })
    }

    /// Argument `i` as it arrived.
    pub fn value(&self, i: usize) -> &Value {
        static UNDEFINED: Value = Value::Undefined;
        self.args.get(i).unwrap_or(&UNDEFINED)
    }

    /// All arguments.
    pub fn values(&self) -> &[Value] {
        &self.args
    }

    /// Moves argument `i` out of the call, leaving undefined in its place (undefined if
    /// there is no such argument). For handlers that return or keep an argument as it
    /// arrived, without copying it.
    pub fn take_value(&mut self, i: usize) -> Value {
        self.args
            .get_mut(i)
            .map(std::mem::take)
            .unwrap_or(Value::Undefined)
    }

    /// The function the caller passed at position `i`.
    pub fn callback(&self, i: usize) -> Result<Callback, RpcError> {
        self.callbacks.get(i).and_then(Clone::clone).ok_or_else(|| {
            RpcError::new(
                codes::BAD_ARGUMENTS,
                format!("argument {i} of {} is not a function", self.path),
            )
        })
    }

    /// The connection the call came on.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The dotted path that was called.
    pub fn path(&self) -> &str {
        &self.path
    }
}

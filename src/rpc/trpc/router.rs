//! [`Router`]: a route's tRPC procedures by dotted path, each a query, a mutation or a
//! subscription, with typed input and output through the typed-handler machinery the kkrpc
//! [`Api`](crate::rpc::Api) uses; and the [`Context`] handlers get.

use super::errors::Code;
use super::transformer::Transformer;
use crate::rpc::api::{output, typed_handler, BoxFuture, Handler};
use crate::rpc::conn::Identity;
use crate::rpc::error::RpcError;
use crate::rpc::peer::Peer;
use crate::{from_value, to_value, Limits, Object, Value};
use axum::http::HeaderMap;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What kind of procedure a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A query: `GET` over HTTP.
    Query,
    /// A mutation: `POST` over HTTP.
    Mutation,
    /// A subscription: SSE over HTTP, `started`/data/`stopped` over WebSocket.
    Subscription,
}

impl Kind {
    /// tRPC's name for it (`"query"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
            Kind::Subscription => "subscription",
        }
    }
}

/// One value a subscription yields: its data, and the id it is tracked under (tRPC's
/// `tracked(id, data)`), which a client that reconnects sends back as `lastEventId`.
#[derive(Clone, Debug)]
pub struct Event {
    pub(crate) id: Option<String>,
    pub(crate) data: Value,
}

impl Event {
    /// An untracked value.
    pub fn new(data: Value) -> Event {
        Event { id: None, data }
    }

    /// A value tracked under `id`.
    pub fn tracked(id: impl Into<String>, data: Value) -> Event {
        Event {
            id: Some(id.into()),
            data,
        }
    }
}

/// A typed value tracked under an id (see [`tracked`]).
#[derive(Clone, Debug)]
pub struct Tracked<T> {
    /// The id a client resumes from (`lastEventId`).
    pub id: String,
    /// The value.
    pub data: T,
}

/// `data`, tracked under `id`: what tRPC's `tracked(id, data)` yields.
pub fn tracked<T>(id: impl Into<String>, data: T) -> Tracked<T> {
    Tracked {
        id: id.into(),
        data,
    }
}

/// What a subscription's stream may yield: any `T: Serialize` (an untracked value), a
/// [`Tracked`] value, or an [`Event`].
pub trait Yield: Send + 'static {
    /// The event it is.
    fn into_event(self) -> Result<Event, RpcError>;
}

impl<T: Serialize + Send + 'static> Yield for T {
    fn into_event(self) -> Result<Event, RpcError> {
        Ok(Event::new(to_value(&self)?))
    }
}

impl<T: Serialize + Send + 'static> Yield for Tracked<T> {
    fn into_event(self) -> Result<Event, RpcError> {
        Ok(Event::tracked(self.id, to_value(&self.data)?))
    }
}

impl Yield for Event {
    fn into_event(self) -> Result<Event, RpcError> {
        Ok(self)
    }
}

/// A running subscription's values, as the engine drives them.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, RpcError>> + Send>>;

/// What a handler knows about the call: the request's headers (the upgrade's, over
/// WebSocket), the connection params the client sent, what the auth hook returned, the
/// WebSocket peer, and the `lastEventId` a subscription resumes from. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub(crate) shared: Arc<Shared>,
    pub(crate) peer: Option<Peer>,
    pub(crate) last_event_id: Option<String>,
}

/// What the calls of one connection (or one HTTP request) share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) headers: HeaderMap,
    pub(crate) params: Option<Vec<(String, String)>>,
    pub(crate) identity: Option<Identity>,
}

impl Context {
    /// The HTTP request's headers (over WebSocket: the upgrade request's).
    pub fn headers(&self) -> &HeaderMap {
        &self.shared.headers
    }

    /// One header, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.shared.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The connection params (`connectionParams` on the client: the first WebSocket message,
    /// or `?connectionParams=` over HTTP), in the order sent; `None` when there are none.
    pub fn connection_params(&self) -> Option<&[(String, String)]> {
        self.shared.params.as_deref()
    }

    /// One connection param.
    pub fn connection_param(&self, name: &str) -> Option<&str> {
        let params = self.shared.params.as_ref()?;
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// What the route's auth hook returned
    /// ([`RpcServerBuilder::authenticate`](crate::rpc::RpcServerBuilder::authenticate)).
    pub fn identity(&self) -> Option<&Identity> {
        self.shared.identity.as_ref()
    }

    /// The WebSocket connection the call came on (`None` over HTTP).
    pub fn peer(&self) -> Option<&Peer> {
        self.peer.as_ref()
    }

    /// The id of the last event the client saw, for a subscription that resumes (from the
    /// SSE `Last-Event-ID` header, the WebSocket `lastEventId`, or the input's).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }
}

type Proc = Handler<(Value, Context), Value>;
type Sub = Handler<(Value, Context), EventStream>;

#[derive(Clone)]
enum Procedure {
    Query(Proc),
    Mutation(Proc),
    Subscription(Sub),
}

/// Limits of a tRPC route's HTTP side (see [`RouterBuilder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpLimits {
    pub(crate) max_body: usize,
    pub(crate) max_batch: usize,
    pub(crate) max_url: usize,
}

/// A route's tRPC procedures: what a `createTRPCClient` calls. Cheap to clone.
///
/// ```
/// use polycodec::rpc::trpc::{Code, Router};
/// let router = Router::builder()
///     .query("greet", |name: String, _ctx| async move { Ok(format!("Hello, {name}!")) })
///     .query("math.add", |(a, b): (f64, f64), _| async move { Ok(a + b) })
///     .mutation("fail", |(): (), _| async move { Err::<(), _>(Code::NotFound.error("nope")) })
///     .build()
///     .unwrap();
/// assert!(router.kind("math.add").is_some());
/// ```
#[derive(Clone)]
pub struct Router(Arc<Inner>);

struct Inner {
    procs: HashMap<String, Procedure>,
    transformer: Transformer,
    dev: bool,
    http: HttpLimits,
    limits: Limits,
}

/// Builds a [`Router`]; errors (a path registered twice) are reported by
/// [`RouterBuilder::build`].
pub struct RouterBuilder {
    procs: HashMap<String, Procedure>,
    transformer: Transformer,
    dev: bool,
    http: HttpLimits,
    limits: Limits,
    error: Option<crate::Error>,
}

impl Default for RouterBuilder {
    fn default() -> Self {
        RouterBuilder {
            procs: HashMap::new(),
            transformer: Transformer::SuperJson,
            dev: false,
            http: HttpLimits {
                max_body: 1 << 20,
                max_batch: 100,
                max_url: 16 * 1024,
            },
            limits: Limits::default(),
            error: None,
        }
    }
}

/// The typed input of a procedure (undefined reads as `()` or `None`); what does not fit is
/// BAD_REQUEST, saying what.
fn read_input<I: DeserializeOwned + 'static>(
    (input, ctx): (Value, Context),
) -> Result<(I, Context), RpcError> {
    // A `Value` input is the value as decoded, moved (not read back through serde).
    let input = match (Box::new(input) as Box<dyn std::any::Any>).downcast::<I>() {
        Ok(same) => return Ok((*same, ctx)),
        Err(other) => match other.downcast::<Value>() {
            Ok(v) => *v,
            Err(_) => Value::Undefined,
        },
    };
    match from_value(input) {
        Ok(i) => Ok((i, ctx)),
        Err(e) => Err(Code::BadRequest.error(format!("invalid input: {e}"))),
    }
}

fn into_events<S, Y>(s: S) -> Result<EventStream, RpcError>
where
    S: Stream<Item = Result<Y, RpcError>> + Send + 'static,
    Y: Yield,
{
    Ok(Box::pin(s.map(|r| r.and_then(Yield::into_event))))
}

impl RouterBuilder {
    fn insert(mut self, path: &str, p: Procedure) -> Self {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            let e = crate::Error::data(format!("invalid procedure path {path:?}"));
            self.error.get_or_insert(e);
        } else if self.procs.insert(path.to_owned(), p).is_some() {
            let e = crate::Error::data(format!("{path:?} is registered twice"));
            self.error.get_or_insert(e);
        }
        self
    }

    /// A query at `path`: `f(input, context)`, its input read with serde from what the
    /// client sent (undefined when it sent none: take `()` or an `Option`), its output
    /// written with serde.
    pub fn query<I, R, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + 'static,
        R: Serialize + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), output::<R>);
        self.insert(path, Procedure::Query(h))
    }

    /// A mutation at `path` (as [`RouterBuilder::query`]).
    pub fn mutation<I, R, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + 'static,
        R: Serialize + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), output::<R>);
        self.insert(path, Procedure::Mutation(h))
    }

    /// A subscription at `path`: `f(input, context)` checks the input and returns a
    /// [`Stream`] of values ([`Yield`]: any serializable value, or [`tracked`] ones); an
    /// `Err` before the stream is the call's error (nothing started), an `Err` item ends the
    /// subscription with that error. The stream is dropped when the client stops it or goes
    /// away. A resumed subscription finds the last event id in
    /// [`Context::last_event_id`], and merged into an object input as `lastEventId` (as
    /// tRPC does).
    pub fn subscription<I, Y, S, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + 'static,
        Y: Yield,
        S: Stream<Item = Result<Y, RpcError>> + Send + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), into_events::<S, Y>);
        self.insert(path, Procedure::Subscription(h))
    }

    /// Every procedure of `other` under `prefix` (`nest("math", ...)` makes `add` into
    /// `math.add`), as tRPC's nested routers.
    pub fn nest(mut self, prefix: &str, other: RouterBuilder) -> Self {
        if let Some(e) = other.error {
            self.error.get_or_insert(e);
        }
        for (path, p) in other.procs {
            self = self.insert(&format!("{prefix}.{path}"), p);
        }
        self
    }

    /// The transformer inputs and outputs travel through. Default: superjson.
    pub fn transformer(mut self, t: Transformer) -> Self {
        self.transformer = t;
        self
    }

    /// Development mode: errors carry `data.stack` (tRPC's `isDev`). Default: off.
    pub fn dev(mut self, on: bool) -> Self {
        self.dev = on;
        self
    }

    /// The largest HTTP request body read, in bytes (past it: 413 PAYLOAD_TOO_LARGE).
    /// Default: 1 MiB.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.http.max_body = bytes;
        self
    }

    /// The most calls in one HTTP batch (past it: 400 BAD_REQUEST, `Batch call exceeds
    /// maximum size`, tRPC's `maxBatchSize`). Default: 100.
    pub fn max_batch(mut self, calls: usize) -> Self {
        self.http.max_batch = calls.max(1);
        self
    }

    /// The longest request URL (path and query) read, in bytes (past it: 400
    /// BAD_REQUEST). Default: 16 KiB.
    pub fn max_url(mut self, bytes: usize) -> Self {
        self.http.max_url = bytes;
        self
    }

    /// Limits on the values read and written (size, depth, ...). Default:
    /// [`Limits::default()`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The router, or the first registration error.
    pub fn build(self) -> crate::Result<Router> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(Router(Arc::new(Inner {
            procs: self.procs,
            transformer: self.transformer,
            dev: self.dev,
            http: self.http,
            limits: self.limits,
        })))
    }
}

/// `No "query"-procedure on path "x"`: what tRPC answers over WebSocket for an unknown path
/// or one of another kind.
pub(crate) fn no_procedure(kind: Kind, path: &str) -> RpcError {
    Code::NotFound.error(format!(
        "No \"{}\"-procedure on path \"{path}\"",
        kind.name()
    ))
}

impl Router {
    /// Start building a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The kind of the procedure at `path`, if there is one.
    pub fn kind(&self, path: &str) -> Option<Kind> {
        self.0.procs.get(path).map(|p| match p {
            Procedure::Query(_) => Kind::Query,
            Procedure::Mutation(_) => Kind::Mutation,
            Procedure::Subscription(_) => Kind::Subscription,
        })
    }

    /// The transformer of this route.
    pub fn transformer(&self) -> Transformer {
        self.0.transformer
    }

    pub(crate) fn dev(&self) -> bool {
        self.0.dev
    }

    pub(crate) fn http_limits(&self) -> HttpLimits {
        self.0.http
    }

    pub(crate) fn limits(&self) -> Limits {
        self.0.limits
    }

    /// Run the query or mutation at `path` (`kind` must match: NOT_FOUND otherwise).
    pub(crate) fn call(
        &self,
        kind: Kind,
        path: &str,
        input: Value,
        ctx: Context,
    ) -> BoxFuture<Result<Value, RpcError>> {
        match (kind, self.0.procs.get(path)) {
            (Kind::Query, Some(Procedure::Query(h)))
            | (Kind::Mutation, Some(Procedure::Mutation(h))) => h((input, ctx)),
            _ => Box::pin(std::future::ready(Err(no_procedure(kind, path)))),
        }
    }

    /// Start the subscription at `path` with `input` (with the context's `lastEventId`
    /// merged in).
    pub(crate) fn subscribe(
        &self,
        path: &str,
        input: Value,
        ctx: Context,
    ) -> BoxFuture<Result<EventStream, RpcError>> {
        match self.0.procs.get(path) {
            Some(Procedure::Subscription(h)) => {
                let input = merge_last_event_id(input, ctx.last_event_id.as_deref());
                h((input, ctx))
            }
            _ => Box::pin(std::future::ready(Err(no_procedure(
                Kind::Subscription,
                path,
            )))),
        }
    }
}

/// tRPC's merge of a resumed subscription's last event id into its input: an object gets
/// `lastEventId`, null or undefined becomes `{lastEventId}`, anything else is left as is.
pub(crate) fn merge_last_event_id(input: Value, id: Option<&str>) -> Value {
    let Some(id) = id else {
        return input;
    };
    match input {
        Value::Object(mut o) => {
            o.insert("lastEventId", Value::from(id));
            Value::Object(o)
        }
        Value::Null | Value::Undefined => {
            let mut o = Object::with_capacity(1);
            o.insert("lastEventId", Value::from(id));
            Value::Object(o)
        }
        other => other,
    }
}

//! [`Router`]: a route's tRPC procedures by dotted path, each a query, a mutation or a
//! subscription, with typed input and output through the typed-handler machinery the kkrpc
//! [`Api`](crate::rpc::Api) uses; and the [`Context`] handlers get.

use super::errors::Code;
use super::transformer::Transformer;
use crate::rpc::api::{output, typed_handler, BoxFuture, Handler};
use crate::rpc::conn::Identity;
use crate::rpc::error::RpcError;
use crate::rpc::peer::Peer;
use crate::types::{self, JsType, ProcedureKind, ProcedureTypes, RouterTypes, Ty};
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

/// A tracked value reaches the client as `{ id, data }` (`onData` over
/// `httpSubscriptionLink` and `wsLink` alike, as tRPC's `inferTrackedOutput`).
impl<T: JsType> JsType for Tracked<T> {
    fn js_type() -> Ty {
        Ty::Object(vec![
            types::Field::new("id", Ty::String),
            types::Field::new("data", T::js_type()),
        ])
    }
}

/// An [`Event`] may be tracked or not and carries any value: `unknown`.
impl JsType for Event {
    fn js_type() -> Ty {
        Ty::Unknown
    }
}

/// What a subscription's stream may yield: any `T: Serialize` (an untracked value), a
/// [`Tracked`] value, or an [`Event`]. Its [`JsType`] is what the client's `onData` gets.
pub trait Yield: JsType + Send + 'static {
    /// The event it is.
    fn into_event(self) -> Result<Event, RpcError>;
}

impl<T: Serialize + JsType + Send + 'static> Yield for T {
    fn into_event(self) -> Result<Event, RpcError> {
        Ok(Event::new(to_value(&self)?))
    }
}

impl<T: Serialize + JsType + Send + 'static> Yield for Tracked<T> {
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

/// A registered procedure and its TypeScript input and output types.
#[derive(Clone)]
struct Entry {
    proc: Procedure,
    input: Ty,
    output: Ty,
}

impl Procedure {
    fn kind(&self) -> Kind {
        match self {
            Procedure::Query(_) => Kind::Query,
            Procedure::Mutation(_) => Kind::Mutation,
            Procedure::Subscription(_) => Kind::Subscription,
        }
    }
}

/// Limits and options of a tRPC route's HTTP side (see [`RouterBuilder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpOptions {
    pub(crate) max_body: usize,
    pub(crate) max_batch: usize,
    pub(crate) max_url: usize,
    pub(crate) allow_method_override: bool,
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
    procs: HashMap<String, Entry>,
    transformer: Transformer,
    dev: bool,
    http: HttpOptions,
    limits: Limits,
}

/// Builds a [`Router`]; errors (a path registered twice) are reported by
/// [`RouterBuilder::build`].
pub struct RouterBuilder {
    procs: HashMap<String, Entry>,
    described: HashMap<String, (Ty, Ty)>,
    transformer: Transformer,
    dev: bool,
    http: HttpOptions,
    limits: Limits,
    error: Option<crate::Error>,
}

impl Default for RouterBuilder {
    fn default() -> Self {
        RouterBuilder {
            procs: HashMap::new(),
            described: HashMap::new(),
            transformer: Transformer::SuperJson,
            dev: false,
            http: HttpOptions {
                max_body: 1 << 20,
                max_batch: 100,
                max_url: 16 * 1024,
                allow_method_override: false,
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

/// A procedure with the types of its input and output.
fn entry<I: JsType, O: JsType>(proc: Procedure) -> Entry {
    Entry {
        proc,
        input: I::js_type(),
        output: O::js_type(),
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
    fn insert(mut self, path: &str, p: Entry) -> Self {
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
    /// written with serde. Both types go to TypeScript ([`Router::types`]; see
    /// [`RouterBuilder::describe`] for a [`Value`] one).
    pub fn query<I, R, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + JsType + 'static,
        R: Serialize + JsType + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), output::<R>);
        self.insert(path, entry::<I, R>(Procedure::Query(h)))
    }

    /// A mutation at `path` (as [`RouterBuilder::query`]).
    pub fn mutation<I, R, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + JsType + 'static,
        R: Serialize + JsType + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), output::<R>);
        self.insert(path, entry::<I, R>(Procedure::Mutation(h)))
    }

    /// A subscription at `path`: `f(input, context)` checks the input and returns a
    /// [`Stream`] of values ([`Yield`]: any serializable value, or [`tracked`] ones); an
    /// `Err` before the stream is the call's error (nothing started), an `Err` item ends the
    /// subscription with that error. The stream is dropped when the client stops it or goes
    /// away. Its TypeScript output is the item's type (a [`Tracked<T>`]: `{ id: string;
    /// data: T }`). A resumed subscription finds the last event id in
    /// [`Context::last_event_id`], and merged into an object input as `lastEventId` (as
    /// tRPC does).
    pub fn subscription<I, Y, S, F, Fut>(self, path: &str, f: F) -> Self
    where
        I: DeserializeOwned + JsType + 'static,
        Y: Yield,
        S: Stream<Item = Result<Y, RpcError>> + Send + 'static,
        F: Fn(I, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, RpcError>> + Send + 'static,
    {
        let h = typed_handler(read_input::<I>, move |(i, c)| f(i, c), into_events::<S, Y>);
        self.insert(path, entry::<I, Y>(Procedure::Subscription(h)))
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
        for (path, types) in other.described {
            self.described.insert(format!("{prefix}.{path}"), types);
        }
        self
    }

    /// The TypeScript input and output types of the procedure at `path` (registered before
    /// or after, here or in a router [`nest`](RouterBuilder::nest)ed with its path), in
    /// place of those of its Rust types: for a procedure that takes or returns a [`Value`]
    /// (`unknown`) but means something more precise. A subscription's output is the type of
    /// each value it yields. A path no procedure has is an error at
    /// [`build`](RouterBuilder::build).
    pub fn describe(mut self, path: &str, input: Ty, output: Ty) -> Self {
        self.described.insert(path.to_owned(), (input, output));
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

    /// Accept queries and subscriptions sent as `POST` (the input in the body), as
    /// `@trpc/server`'s `allowMethodOverride` does: what a client link with
    /// `methodOverride: 'POST'` sends. A mutation is never run by `GET`. Default: off (a
    /// `POST` to a query is 405 with `Allow: GET`).
    pub fn allow_method_override(mut self, on: bool) -> Self {
        self.http.allow_method_override = on;
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
        let mut procs = self.procs;
        for (path, (input, output)) in self.described {
            let Some(entry) = procs.get_mut(&path) else {
                return Err(crate::Error::data(format!(
                    "describe: no procedure at {path:?}"
                )));
            };
            entry.input = input;
            entry.output = output;
        }
        Ok(Router(Arc::new(Inner {
            procs,
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
        self.0.procs.get(path).map(|e| e.proc.kind())
    }

    /// The router's TypeScript types ([`crate::types`]): each procedure with its kind, input
    /// and output (from its Rust types, or [`RouterBuilder::describe`]), by path, and the
    /// transformer. [`RouterTypes::render`] writes it as an `AppRouter`.
    pub fn types(&self) -> RouterTypes {
        let transformer = match self.0.transformer {
            Transformer::SuperJson => types::Transformer::SuperJson,
            Transformer::None => types::Transformer::None,
        };
        let mut paths: Vec<_> = self.0.procs.iter().collect();
        paths.sort_by(|a, b| a.0.cmp(b.0));
        paths
            .into_iter()
            .fold(RouterTypes::new(transformer), |t, (path, e)| {
                t.procedure(ProcedureTypes {
                    path: path.clone(),
                    kind: match e.proc.kind() {
                        Kind::Query => ProcedureKind::Query,
                        Kind::Mutation => ProcedureKind::Mutation,
                        Kind::Subscription => ProcedureKind::Subscription,
                    },
                    input: e.input.clone(),
                    output: e.output.clone(),
                })
            })
    }

    /// The transformer of this route.
    pub fn transformer(&self) -> Transformer {
        self.0.transformer
    }

    pub(crate) fn dev(&self) -> bool {
        self.0.dev
    }

    pub(crate) fn http_options(&self) -> HttpOptions {
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
        match (kind, self.0.procs.get(path).map(|e| &e.proc)) {
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
        match self.0.procs.get(path).map(|e| &e.proc) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Wire;

    #[test]
    fn types_carry_through_nest_and_describe() {
        let inner = Router::builder()
            .query("add", |(a, b): (f64, f64), _| async move { Ok(a + b) })
            .mutation("any", |v: Value, _| async move { Ok(v) })
            .describe("any", Ty::String, Ty::Number);
        let router = Router::builder()
            .subscription("ticks", |(): (), _| async move {
                Ok(futures_util::stream::iter([Ok(tracked("0", 1u8))]))
            })
            .nest("math", inner)
            .build()
            .unwrap();
        let t = router.types();
        let paths: Vec<_> = t.procedures.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["math.add", "math.any", "ticks"]);
        assert_eq!(
            t.procedures[0].input,
            Ty::Tuple(vec![Ty::Number, Ty::Number])
        );
        assert_eq!(t.procedures[1].kind, ProcedureKind::Mutation);
        assert_eq!(t.procedures[1].input, Ty::String);
        assert_eq!(
            t.procedures[2]
                .output
                .render(Wire::SUPERJSON, crate::types::Dir::Out),
            "{ id: string; data: number }"
        );
        let ts = t.render("R");
        assert!(ts.contains(r#"ticks: TrpcProcedure<"subscription", undefined, AsyncIterable<"#));
        let typo = Router::builder()
            .query("a", |(): (), _| async move { Ok(()) })
            .describe("b", Ty::Null, Ty::Null)
            .build();
        assert!(typo.is_err());
    }
}

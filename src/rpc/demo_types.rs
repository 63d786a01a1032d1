//! The TypeScript types of the demo server (what `polycodec types` writes): the `/rpc` API,
//! the chat room API and the tRPC contract router on `/trpc`.

use super::{demo, RpcServer};
use crate::types::{
    ApiTypes, Field, JsType, MethodSig, ProcedureKind, ProcedureTypes, RouterTypes, Side,
    Transformer, TsModule, Ty, Wire,
};
use crate::Date;

/// A chat message, as the chat server sends it (`send`'s result, `history()`, the
/// `message(msg)` pushes).
#[derive(JsType)]
#[allow(dead_code)] // a description: the server builds the message as a `Value`
pub struct ChatMessage {
    /// The room's name.
    pub room: String,
    /// Who wrote it (`anonymous` without a name).
    pub user: String,
    /// The text (for a join or leave notice: `"ann joined"`).
    pub text: String,
    /// When the server received it.
    pub at: Date,
    /// A join or leave notice rather than a message.
    pub system: bool,
}

/// The chat room API's methods (described on [`demo::chat_server`]'s API).
pub(crate) fn chat_send() -> MethodSig {
    MethodSig::new()
        .param("text", Ty::of::<String>())
        .returns(Ty::of::<ChatMessage>())
}

/// `history()`: the room's last [`demo::HISTORY`] messages.
pub(crate) fn chat_history() -> MethodSig {
    MethodSig::new().returns(Ty::of::<Vec<ChatMessage>>())
}

/// `members()`: the names of the room's members.
pub(crate) fn chat_members() -> MethodSig {
    MethodSig::new().returns(Ty::of::<Vec<String>>())
}

/// What a chat client exposes: the server calls `message(msg)` for every message, joins and
/// leaves included.
pub fn chat_client_types() -> ApiTypes {
    ApiTypes::new().method(
        "message",
        MethodSig::new()
            .param("msg", Ty::of::<ChatMessage>())
            .returns(Ty::Raw("void".into())),
    )
}

/// The tRPC contract router on `/trpc` (transformer superjson), as the tRPC issue's table
/// describes it.
pub fn contract_router_types() -> RouterTypes {
    let obj = |fields: Vec<Field>| Ty::Object(fields);
    let opt = |name: &str, ty: Ty| Field {
        absent_in: true,
        ..Field::new(name, ty)
    };
    let kinds = [
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
    let sample = obj(vec![
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
    ]);
    let ticks = vec![Field::new("n", Ty::Number), opt("delayMs", Ty::Number)];
    let mut tracked = ticks.clone();
    tracked.push(opt("lastEventId", Ty::String));
    let tracked_item = obj(vec![
        Field::new("id", Ty::String),
        Field::new(
            "data",
            obj(vec![
                Field::new("i", Ty::Number),
                Field::new("at", Ty::Date),
                Field::new("big", Ty::BigInt),
            ]),
        ),
    ]);
    let never = || Ty::Raw("never".into());
    let p = |path: &str, kind, input, output| ProcedureTypes {
        path: path.to_owned(),
        kind,
        input,
        output,
    };
    use ProcedureKind::{Mutation, Query, Subscription};
    RouterTypes::new(Transformer::SuperJson)
        .procedure(p("greet", Query, Ty::String, Ty::String))
        .procedure(p(
            "math.add",
            Query,
            obj(vec![
                Field::new("a", Ty::Number),
                Field::new("b", Ty::Number),
            ]),
            Ty::Number,
        ))
        .procedure(p("echo", Query, Ty::Unknown, Ty::Unknown))
        .procedure(p("echoMutation", Mutation, Ty::Unknown, Ty::Unknown))
        .procedure(p(
            "typeOf",
            Query,
            Ty::Unknown,
            Ty::Union(kinds.iter().map(|k| Ty::Literal((*k).into())).collect()),
        ))
        .procedure(p("sample", Query, Ty::Null, sample))
        .procedure(p(
            "counter.inc",
            Mutation,
            Ty::Nullable(Box::new(obj(vec![opt("by", Ty::Number)]))),
            Ty::Number,
        ))
        .procedure(p("fail", Query, Ty::Null, never()))
        .procedure(p("crash", Query, Ty::Null, never()))
        .procedure(p(
            "whoami",
            Query,
            Ty::Null,
            Ty::of::<Option<std::collections::BTreeMap<String, String>>>(),
        ))
        .procedure(p("ticks", Subscription, obj(ticks), Ty::Number))
        .procedure(p("tracked", Subscription, obj(tracked), tracked_item))
}

/// The demo server's TypeScript module: `RpcApi` (the `/rpc` API through superjson, and
/// `RpcApiJson`, `RpcApiMsgpack`), `ChatApi` (and its variants), `ChatClientApi` (the
/// `message(msg)` a chat client exposes) and `AppRouter` (`/trpc`).
pub fn module() -> crate::Result<TsModule> {
    let rpc = RpcServer::builder(demo::api()).build()?;
    let chat = demo::chat_server(None)?;
    let chat_wires: Vec<&Wire> = [Wire::SUPERJSON, Wire::JSON, Wire::MSGPACK]
        .into_iter()
        .filter(|w| chat.allowed().iter().any(|a| a == w.name))
        .collect();
    Ok(TsModule::new()
        .doc("The demo API on `ws://HOST/rpc`, as a kkrpc client with superjson sees it:\n`new RPCChannel<{}, RpcApi>(io).getAPI()`.")
        .server("RpcApi", &rpc, Side::Remote)
        .doc("The chat room API on `ws://HOST/chat/<room>?username=NAME`, through superjson.")
        .server("ChatApi", &chat, Side::Remote)
        .doc("What a chat client exposes: the server calls `message(msg)` for every message\nof the room, joins and leaves included.")
        .api("ChatClientApi", &chat_client_types(), Side::Local, &chat_wires)
        .doc("The tRPC contract router on `http://HOST/trpc` and `ws://HOST/trpc` (transformer\nsuperjson): `createTRPCClient<AppRouter>({ links: [httpBatchLink({ url, transformer: superjson })] })`.")
        .router("AppRouter", &contract_router_types()))
}

/// The demo server's TypeScript module as text (what `polycodec types` writes).
pub fn typescript() -> crate::Result<String> {
    Ok(module()?.render())
}

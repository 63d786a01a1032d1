//! The TypeScript types of the demo server (what `polycodec types` writes): the `/rpc` API,
//! the chat room API and the tRPC contract router on `/trpc`.

use super::{demo, RpcServer};
use crate::types::{ApiTypes, JsType, MethodSig, Side, TsModule, Ty, Wire};
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
        .router("AppRouter", &super::demo_trpc::contract_router().types()))
}

/// The demo server's TypeScript module as text (what `polycodec types` writes).
pub fn typescript() -> crate::Result<String> {
    Ok(module()?.render())
}

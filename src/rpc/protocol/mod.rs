//! The protocol seam: how the connection engine reads a peer's frames and writes to it,
//! without knowing any message shape.
//!
//! The engine ([`inbound`](super::inbound), [`conn`](super::conn), [`peer`](super::peer))
//! speaks a small vocabulary, [`Msg`]: a request (with its own id, echoed as sent, an
//! [`Op`], a dotted path and [`Arg`]s), a response, a callback call, a callback release.
//! A protocol ([`WireProtocol`]) turns frames into that vocabulary and back:
//!
//! * [`feed`](WireProtocol::feed) takes one text or binary frame into its per-connection
//!   [`Reader`](WireProtocol::Reader) (owned by the read loop: no lock). It may answer at
//!   once (a frame of the wrong kind, a raw `PING`).
//! * [`next`](WireProtocol::next) pulls the frame's messages one at a time (a kkrpc legacy
//!   frame holds several lines, a tRPC frame may be a batch array), each with the
//!   [`Encoding`](WireProtocol::Encoding) its reply must be written in. It may also hand back
//!   a [`Inbound::Reply`] (an invalid message) or an [`Inbound::Close`].
//! * [`write`](WireProtocol::write) writes a message as a frame (`None`: this protocol has
//!   no such message, as legacy kkrpc has no release).
//! * [`push`](WireProtocol::push) writes a server push (a call nobody waits for).
//!
//! Two protocols implement it: kkrpc, both generations ([`kkrpc::Kkrpc`]), and tRPC's
//! WebSocket protocol ([`Trpc`](crate::rpc::trpc::ws::Trpc), in the tRPC module). A
//! connection's [`Active`] is an enum over them whose methods forward with one `match` (no
//! dynamic dispatch per frame); on a route that serves both, a peer that named neither at
//! the upgrade is told apart by its first frame ([`Active::Either`]). tRPC maps on the
//! engine so:
//!
//! * its ids (numbers or strings) travel as the [`Msg`] ids, echoed as sent;
//! * a batch array frame is several [`next`](WireProtocol::next) results;
//! * `PING` is answered from [`feed`](WireProtocol::feed) with an [`Inbound::Send`] of
//!   `PONG`, in order with the replies;
//! * `connectionParams` as the first frame is reader state: requests are held in the
//!   reader until it came, and a bad one is an [`Inbound::Reply`] then [`Inbound::Close`];
//! * `query`/`mutation`/`subscription` are requests of [`Op::Query`], [`Op::Mutation`]
//!   and [`Op::Subscription`], which the engine runs against the route's tRPC router; a
//!   subscription's `started`, values and `stopped` are [`Msg::Stream`] events, and
//!   `subscription.stop` reads as a [`Msg::Release`] of that id, which cancels it;
//! * its error envelope is how it writes [`Msg::Response`] errors;
//! * the `reconnect` notice on shutdown is a [`push`](WireProtocol::push).

pub(crate) mod kkrpc;

use super::conn::outbox::Outbox;
use super::error::{Error, RpcError};
use super::transport::Frame;
use crate::Value;

#[cfg(feature = "server")]
mod active;
#[cfg(not(feature = "server"))]
mod active {
    //! Without the server there is no tRPC: connections speak kkrpc.
    pub(crate) type Active = super::kkrpc::Kkrpc;
}
pub(crate) use active::Active;

/// A connection that speaks kkrpc only (a client's).
#[cfg(feature = "client")]
pub(crate) fn kkrpc_only(k: kkrpc::Kkrpc) -> Active {
    #[cfg(feature = "server")]
    return Active::Kkrpc(k);
    #[cfg(not(feature = "server"))]
    return k;
}

/// What a reply of the active protocol is written in.
pub(crate) type Encoding = <Active as WireProtocol>::Encoding;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Call,
    Get,
    Set,
    New,
    /// kkrpc's remote-reference operation (`op:"ref"`, opt-in `kkrpc/remote-refs`), which
    /// polycodec does not serve: answered with the error a default kkrpc channel gives.
    Ref,
    /// A tRPC query.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Query,
    /// A tRPC mutation.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Mutation,
    /// A tRPC subscription: a stream of values, written as [`Msg::Stream`] events.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Subscription,
}

/// One argument: a value, or a function the caller passed (a callback id).
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Value(Value),
    Callback(String),
}

/// A message, in the engine's terms.
#[derive(Debug)]
pub(crate) enum Msg {
    Request {
        id: Value,
        op: Op,
        path: Vec<String>,
        args: Vec<Arg>,
        value: Value,
    },
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
    Callback {
        id: String,
        args: Vec<Value>,
    },
    Release {
        ids: Vec<String>,
    },
    /// An event of a running subscription (tRPC): protocols without streams write nothing.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Stream {
        id: Value,
        event: StreamEvent,
    },
}

/// What happens to a subscription.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum StreamEvent {
    /// It runs (its input was accepted).
    Started,
    /// A value, with the id it was tracked under.
    Data(Value, Option<String>),
    /// It ended (returned, was stopped, or failed after an error reply).
    Stopped,
}

/// What reading gave the engine.
pub(crate) enum Inbound<E> {
    /// A message to handle; replies to it are written in `E`.
    Msg(Msg, E),
    /// A message to send back at once (an error about what was read).
    Reply(Msg, E),
    /// A frame to send back at once, as is (a protocol-level answer such as a pong).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Send(Frame),
    /// Close the connection with this close frame (the peer asked to end it).
    Close(u16, String),
}

/// One connection's protocol (see the module docs).
pub(crate) trait WireProtocol: Send + Sync + 'static {
    /// What a message is written in (kkrpc: the codec and generation).
    type Encoding: Clone + Send + Sync + 'static;
    /// The read state, owned by the connection's read loop.
    type Reader: Default + Send + 'static;

    /// Take one text or binary frame in; `Some` answers it at once.
    fn feed(&self, reader: &mut Self::Reader, frame: Frame) -> Option<Inbound<Self::Encoding>>;

    /// The next message of the frames fed, if any. `out` is for frames the protocol queues
    /// on its own (kkrpc re-sends held pushes once the peer's generation is known).
    fn next(&self, reader: &mut Self::Reader, out: &Outbox) -> Option<Inbound<Self::Encoding>>;

    /// What a message to the peer is written in now.
    fn encoding(&self) -> Self::Encoding;

    /// Write a message; `None` when this protocol has no such message.
    fn write(&self, msg: Msg, enc: &Self::Encoding) -> Result<Option<Frame>, Error>;

    /// Queue a push (`method(args)`, no reply) for the peer.
    fn push(&self, method: &str, args: Vec<Value>, out: &Outbox) -> Result<(), Error>;
}

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
//! kkrpc, both generations, is [`kkrpc::Kkrpc`]. **Adding a protocol** (tRPC over
//! WebSocket, say) is a new module here implementing [`WireProtocol`], and [`Active`]
//! becoming an enum over the two that forwards each method; the engine is untouched:
//!
//! * its ids (numbers or strings) travel as the [`Msg`] ids, echoed as sent;
//! * a batch array frame is several [`next`](WireProtocol::next) results;
//! * `PING` is answered from [`feed`](WireProtocol::feed) with an [`Inbound::Send`] of
//!   `PONG`, in order with the replies;
//! * `connectionParams` as the first frame is reader state: requests are held in the
//!   reader until it came, and a bad one is an [`Inbound::Reply`] then [`Inbound::Close`];
//! * `query`/`mutation` are [`Op::Call`]s; a subscription is a call whose handler gets a
//!   callback ([`Arg::Callback`], the subscription's id): each callback call is written as
//!   a `data` result, the call's response as `stopped` (or `error`), `started` is sent
//!   from [`next`](WireProtocol::next); `subscription.stop` reads as a [`Msg::Release`] of
//!   that id;
//! * its error envelope is how it writes [`Msg::Response`] errors;
//! * the `reconnect` notice on shutdown is a [`push`](WireProtocol::push).

pub(crate) mod kkrpc;

use super::conn::outbox::Outbox;
use super::error::{Error, RpcError};
use super::transport::Frame;
use crate::Value;

/// The protocol connections speak: kkrpc (both generations) for now.
pub(crate) type Active = kkrpc::Kkrpc;

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
}

/// What reading gave the engine.
pub(crate) enum Inbound<E> {
    /// A message to handle; replies to it are written in `E`.
    Msg(Msg, E),
    /// A message to send back at once (an error about what was read).
    Reply(Msg, E),
    /// A frame to send back at once, as is (a protocol-level answer such as a pong).
    #[allow(dead_code)] // for protocols with text-level keep-alives (tRPC's PING/PONG)
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

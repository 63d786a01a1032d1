//! [`Active`]: the protocol a connection speaks, an enum over kkrpc and tRPC whose methods
//! forward with one `match`, and [`Active::Either`] for a route that serves both, until the
//! peer's first frame tells which.

use super::kkrpc::{self, Kkrpc, Protocol};
use super::{Inbound, Msg, WireProtocol};
use crate::rpc::conn::outbox::Outbox;
use crate::rpc::error::Error;
use crate::rpc::transport::Frame;
use crate::rpc::trpc::ws::{self as trpc, looks_like_kkrpc, Trpc};
use crate::Value;
use std::sync::OnceLock;

/// The protocol of one connection.
pub(crate) enum Active {
    /// kkrpc, either generation.
    Kkrpc(Kkrpc),
    /// tRPC's WebSocket protocol.
    Trpc(Trpc),
    /// Either, decided by the first frame (a route with a tRPC router whose peer named
    /// neither at the upgrade): kkrpc when it is a kkrpc message, else tRPC. Until then it
    /// is kkrpc: pushes go out in kkrpc's legacy form, as to any kkrpc peer that has not
    /// spoken (a kkrpc 0.x listener that never speaks needs them); a tRPC client ignores
    /// them (JSON that answers none of its ids).
    Either(Box<Either>),
}

/// Both, and which one the peer speaks once known (`true`: tRPC).
pub(crate) struct Either {
    kkrpc: Kkrpc,
    trpc: Trpc,
    is_trpc: OnceLock<bool>,
}

/// What a message is written in.
#[derive(Clone)]
pub(crate) enum Encoding {
    Kkrpc(kkrpc::Encoding),
    Trpc(trpc::Encoding),
}

impl Encoding {
    /// The group of peers a push written in this encoding can be shared with.
    pub(crate) fn key(&self) -> (&str, bool) {
        match self {
            Encoding::Kkrpc(e) => e.key(),
            Encoding::Trpc(_) => ("trpc", false),
        }
    }
}

/// The read state of either protocol.
#[derive(Default)]
pub(crate) struct Reader {
    kkrpc: kkrpc::Reader,
    trpc: trpc::Reader,
}

impl<E> Inbound<E> {
    fn map<F>(self, f: impl FnOnce(E) -> F) -> Inbound<F> {
        match self {
            Inbound::Msg(m, e) => Inbound::Msg(m, f(e)),
            Inbound::Reply(m, e) => Inbound::Reply(m, f(e)),
            Inbound::Send(frame) => Inbound::Send(frame),
            Inbound::Close(c, r) => Inbound::Close(c, r),
        }
    }
}

/// Which of the two a connection speaks now.
enum Now<'a> {
    Kkrpc(&'a Kkrpc),
    Trpc(&'a Trpc),
}

impl Active {
    /// A route serving both: decided by the first frame.
    pub(crate) fn either(kkrpc: Kkrpc, trpc: Trpc) -> Active {
        Active::Either(Box::new(Either {
            kkrpc,
            trpc,
            is_trpc: OnceLock::new(),
        }))
    }

    fn now(&self) -> Now<'_> {
        match self {
            Active::Kkrpc(k) => Now::Kkrpc(k),
            Active::Trpc(t) => Now::Trpc(t),
            Active::Either(e) => match e.is_trpc.get() {
                Some(true) => Now::Trpc(&e.trpc),
                _ => Now::Kkrpc(&e.kkrpc),
            },
        }
    }

    /// The tRPC state, when the peer speaks tRPC.
    pub(crate) fn trpc(&self) -> Option<&Trpc> {
        match self.now() {
            Now::Trpc(t) => Some(t),
            Now::Kkrpc(_) => None,
        }
    }

    /// The kkrpc generation the peer speaks, once known (`None` for tRPC).
    pub(crate) fn generation(&self) -> Option<Protocol> {
        match self.now() {
            Now::Kkrpc(k) => k.generation(),
            Now::Trpc(_) => None,
        }
    }

    /// The name of the codec (for tRPC: the transformer's).
    pub(crate) fn codec_name(&self) -> String {
        match self.now() {
            Now::Kkrpc(k) => k.codec_name(),
            Now::Trpc(t) => t.router().transformer().name().to_owned(),
        }
    }

    /// Write a push in `enc` (for a broadcast: once per encoding in use).
    pub(crate) fn push_frame(
        &self,
        method: &str,
        args: Vec<Value>,
        enc: &Encoding,
    ) -> Result<Option<Frame>, Error> {
        match (self.now(), enc) {
            (Now::Kkrpc(k), Encoding::Kkrpc(e)) => k.push_frame(method, args, e),
            (Now::Trpc(_), _) => Ok(trpc::reconnect_frame(method)),
            _ => Ok(None),
        }
    }

    /// A push to a kkrpc peer whose generation is unknown (see `Kkrpc::hold`).
    pub(crate) fn hold(&self, method: &str, args: &[Value], out: &Outbox) -> Result<bool, Error> {
        match self.now() {
            Now::Kkrpc(k) => k.hold(method, args, out),
            Now::Trpc(_) => Ok(false),
        }
    }
}

impl WireProtocol for Active {
    type Encoding = Encoding;
    type Reader = Reader;

    fn feed(&self, r: &mut Reader, frame: Frame) -> Option<Inbound<Encoding>> {
        if let Active::Either(e) = self {
            e.is_trpc.get_or_init(|| !looks_like_kkrpc(&frame));
        }
        match self.now() {
            Now::Kkrpc(k) => k.feed(&mut r.kkrpc, frame).map(|i| i.map(Encoding::Kkrpc)),
            Now::Trpc(t) => t.feed(&mut r.trpc, frame).map(|i| i.map(Encoding::Trpc)),
        }
    }

    fn next(&self, r: &mut Reader, out: &Outbox) -> Option<Inbound<Encoding>> {
        match self.now() {
            Now::Kkrpc(k) => k.next(&mut r.kkrpc, out).map(|i| i.map(Encoding::Kkrpc)),
            Now::Trpc(t) => t.next(&mut r.trpc, out).map(|i| i.map(Encoding::Trpc)),
        }
    }

    fn encoding(&self) -> Encoding {
        match self.now() {
            Now::Kkrpc(k) => Encoding::Kkrpc(k.encoding()),
            Now::Trpc(t) => Encoding::Trpc(t.encoding()),
        }
    }

    fn write(&self, msg: Msg, enc: &Encoding) -> Result<Option<Frame>, Error> {
        match (self.now(), enc) {
            (Now::Kkrpc(k), Encoding::Kkrpc(e)) => k.write(msg, e),
            (Now::Trpc(t), Encoding::Trpc(e)) => t.write(msg, e),
            // A message written for the other protocol (a push held before the first frame).
            _ => Ok(None),
        }
    }

    fn push(&self, method: &str, args: Vec<Value>, out: &Outbox) -> Result<(), Error> {
        match self.now() {
            Now::Kkrpc(k) => k.push(method, args, out),
            Now::Trpc(t) => t.push(method, args, out),
        }
    }
}

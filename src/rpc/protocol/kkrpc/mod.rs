//! kkrpc, both generations, behind the [`WireProtocol`] seam.
//!
//! * **Compact** (kkrpc ≥ 1.0, [`compact`]): one document per frame.
//! * **Legacy** (kkrpc 0.2 – 0.7, [`legacy`]): newline-framed documents.
//!
//! Documents are decoded by the connection's codec, negotiated or detected (plain JSON or
//! superjson, by the `{"json":` prefix): the generation modules only interpret the
//! resulting [`Value`], so every codec carries the same structure. [`classify`] runs this
//! very read path on one frame.

mod compact;
mod legacy;

use super::{Inbound, Msg, WireProtocol};
use crate::codec::{Codec, FrameKind, Json, SuperJson};
use crate::rpc::conn::outbox::Outbox;
use crate::rpc::error::{codes, CodecError, Error, RpcError};
use crate::rpc::legacy_framing::{LegacyFraming, Pushed};
use crate::rpc::protocol::{Arg, Op};
use crate::rpc::transport::Frame;
use crate::value::Value;
use crate::Limits;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which protocol generation a peer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// kkrpc ≥ 1.0: `t`/`q`/`r`/`cb`/`cbr` messages.
    Compact,
    /// kkrpc 0.2 – 0.7: `type`/`request`/`response` messages with newline framing.
    Legacy,
}

/// How a legacy peer wants errors: kkrpc 0.2 reads strings, ≥ 0.4 reads objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LegacyErrors {
    /// `args.error` is the message string (what kkrpc 0.2.x, the newest on npm here, reads).
    #[default]
    String,
    /// `args.error` is `{name, message, stack?, ...props}` (kkrpc ≥ 0.4).
    Object,
}

/// The codecs a connection without a negotiated one may find in what the peer sends: the
/// route's allowed plain JSON and superjson, with the endpoint's limits (`None`: not allowed).
#[derive(Clone, Default)]
pub(crate) struct Detection {
    pub(crate) json: Option<Arc<dyn Codec>>,
    pub(crate) superjson: Option<Arc<dyn Codec>>,
}

impl Detection {
    /// Whether any is allowed.
    #[cfg(feature = "server")]
    pub(crate) fn any(&self) -> bool {
        self.json.is_some() || self.superjson.is_some()
    }

    /// The codec `doc` is written in, by its first bytes, and whether it is allowed.
    fn find(&self, doc: &[u8]) -> Result<&Arc<dyn Codec>, &'static str> {
        if is_superjson(doc) {
            self.superjson.as_ref().ok_or("superjson")
        } else {
            self.json.as_ref().ok_or("plain JSON")
        }
    }
}

/// True when a document reads as superjson (what kkrpc peers send starts so).
fn is_superjson(doc: &[u8]) -> bool {
    doc.starts_with(b"{\"json\":")
}

/// What a message is written in: the codec and the generation.
#[derive(Clone)]
pub(crate) struct Encoding {
    pub(crate) codec: Arc<dyn Codec>,
    pub(crate) generation: Protocol,
}

impl Encoding {
    /// The group of peers a push written in this encoding can be shared with.
    pub(crate) fn key(&self) -> (&str, bool) {
        (self.codec.name(), self.generation == Protocol::Legacy)
    }
}

struct Negotiated {
    codec: Arc<dyn Codec>,
    negotiated: bool,
    generation: Option<Protocol>,
}

/// One connection's kkrpc state, shared by its reader and everyone who writes to it.
pub(crate) struct Kkrpc {
    wire: Mutex<Negotiated>,
    /// Pushes sent before the peer revealed its generation. They go out at once in the
    /// legacy form (what kkrpc 0.x, the version npm serves, reads; 2.x drops it silently)
    /// and are kept here: if the peer's first message is compact, they are sent again in
    /// that form.
    held: Mutex<VecDeque<(String, Vec<Value>)>>,
    detect: Detection,
    errors: LegacyErrors,
    limits: Limits,
}

/// What the read loop keeps between frames.
#[derive(Default)]
pub(crate) struct Reader {
    framing: LegacyFraming,
    /// A whole document (compact, or on a binary codec) waiting to be read.
    doc: Option<Doc>,
}

enum Doc {
    Text(String),
    Bytes(Vec<u8>),
}

static NEXT_PUSH: AtomicU64 = AtomicU64::new(1);

/// Write `msg` for `generation` (`None`: legacy has no such message).
fn write_doc(msg: Msg, generation: Protocol, version: &str, errors: LegacyErrors) -> Option<Value> {
    if matches!(msg, Msg::Stream { .. }) {
        return None;
    }
    match generation {
        Protocol::Compact => Some(compact::write(msg)),
        Protocol::Legacy => legacy::write(msg, version, errors),
    }
}

/// A push: a call whose reply nobody waits for (its id starts with `push-`).
fn push_msg(method: &str, args: Vec<Value>) -> Msg {
    let n = NEXT_PUSH.fetch_add(1, Ordering::Relaxed);
    Msg::Request {
        id: Value::String(format!("push-{n}")),
        op: Op::Call,
        path: method.split('.').map(str::to_owned).collect(),
        args: args.into_iter().map(Arg::Value).collect(),
        value: Value::Undefined,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Kkrpc {
    /// A connection's state. `codec` is the negotiated codec, or `None` to detect plain
    /// JSON or superjson (those of `detect`); `generation` is known from the start when a
    /// codec was negotiated.
    pub(crate) fn new(
        codec: Option<Arc<dyn Codec>>,
        detect: Detection,
        generation: Option<Protocol>,
        limits: Limits,
        errors: LegacyErrors,
    ) -> Kkrpc {
        let negotiated = codec.is_some();
        // Until the peer shows its codec, pushes go out in one it may detect.
        let first = codec
            .or_else(|| detect.json.clone())
            .or_else(|| detect.superjson.clone())
            .unwrap_or_else(|| Arc::new(Json::new().with_limits(limits)));
        Kkrpc {
            wire: Mutex::new(Negotiated {
                codec: first,
                negotiated,
                generation,
            }),
            held: Mutex::new(VecDeque::new()),
            detect,
            errors,
            limits,
        }
    }

    /// The generation the peer speaks, once known.
    pub(crate) fn generation(&self) -> Option<Protocol> {
        lock(&self.wire).generation
    }

    /// The name of the codec the connection speaks.
    pub(crate) fn codec_name(&self) -> String {
        lock(&self.wire).codec.name().to_owned()
    }

    /// Write a push in `enc` (for a broadcast: once per encoding in use).
    pub(crate) fn push_frame(
        &self,
        method: &str,
        args: Vec<Value>,
        enc: &Encoding,
    ) -> Result<Option<Frame>, Error> {
        self.write(push_msg(method, args), enc)
    }

    /// A push to a peer that has not said which generation it speaks: sent now in the
    /// legacy superjson form and kept in case the peer speaks compact. Returns false when
    /// the generation is known. Only the last pushes are kept, as many as the outbound
    /// queue holds: a peer that listens without speaking is no slow consumer (it was
    /// disconnected after that many pushes), and one that speaks compact after more pushes
    /// than that gets the last ones.
    pub(crate) fn hold(&self, method: &str, args: &[Value], out: &Outbox) -> Result<bool, Error> {
        // Once known the generation never changes: most pushes return here, without the
        // `held` lock. It is checked again under the lock, which the first message sets
        // it under.
        if self.generation().is_some() {
            return Ok(false);
        }
        {
            let mut held = lock(&self.held);
            if self.generation().is_some() {
                return Ok(false);
            }
            if held.len() >= self.limits.outbound_queue_len() {
                held.pop_front();
            }
            held.push_back((method.to_owned(), args.to_vec()));
        }
        // In superjson, what a kkrpc 0.x peer sends by default, where the route allows it.
        let codec = match (&self.detect.superjson, &self.detect.json) {
            (Some(c), _) | (None, Some(c)) => c.clone(),
            (None, None) => lock(&self.wire).codec.clone(),
        };
        let enc = Encoding {
            codec,
            generation: Protocol::Legacy,
        };
        if let Some(frame) = self.push_frame(method, args.to_vec(), &enc)? {
            out.push(frame)?;
        }
        Ok(true)
    }

    /// An error about a frame that carries no usable id: answered with `id: null`.
    fn protocol_error(&self, name: &str, message: String) -> Inbound<Encoding> {
        tracing::debug!(%name, %message, "protocol error");
        let msg = Msg::Response {
            id: Value::Null,
            result: Err(RpcError::new(name, message)),
        };
        Inbound::Reply(msg, self.encoding())
    }

    /// Answer a document that is no kkrpc message: under the request's id when it could be
    /// read (the caller's call fails at once instead of timing out), in the generation its
    /// fields show.
    fn invalid_message(&self, bad: Invalid) -> Inbound<Encoding> {
        tracing::debug!(reason = %bad.reason, "invalid message");
        let mut enc = self.encoding();
        enc.generation = bad.protocol.unwrap_or(enc.generation);
        let msg = Msg::Response {
            id: bad.id,
            result: Err(RpcError::new(codes::PARSE, bad.reason)),
        };
        Inbound::Reply(msg, enc)
    }

    fn feed_text(&self, r: &mut Reader, text: String) -> Option<Inbound<Encoding>> {
        let known_legacy = {
            let w = lock(&self.wire);
            if w.negotiated && w.codec.frame_kind() == FrameKind::Binary {
                let what = format!("a text frame on the binary codec {}", w.codec.name());
                drop(w);
                return Some(self.protocol_error(codes::WRONG_FRAME, what));
            }
            w.generation == Some(Protocol::Legacy)
        };
        if text.trim() == "__DESTROY__" {
            return Some(Inbound::Close(1000, "destroyed by peer".into()));
        }
        let legacy = text.ends_with('\n') || !r.framing.is_empty() || known_legacy;
        if !legacy {
            r.doc = Some(Doc::Text(text));
            return None;
        }
        match r.framing.push(text, self.limits.message_bytes()) {
            Pushed::TooLarge => Some(self.protocol_error(
                codes::TOO_LARGE,
                "a legacy message grew past the size limit without a newline".into(),
            )),
            Pushed::Buffered | Pushed::Lines => None,
        }
    }

    fn feed_binary(&self, r: &mut Reader, bytes: Vec<u8>) -> Option<Inbound<Encoding>> {
        let wrong = {
            let w = lock(&self.wire);
            match (w.negotiated, w.codec.frame_kind()) {
                (true, FrameKind::Binary) => None,
                (true, _) => Some(format!(
                    "a binary frame on the text codec {}",
                    w.codec.name()
                )),
                (false, _) => Some(String::new()),
            }
        };
        match wrong {
            None => {
                r.doc = Some(Doc::Bytes(bytes));
                None
            }
            Some(what) if !what.is_empty() => Some(self.protocol_error(codes::WRONG_FRAME, what)),
            // Nothing negotiated: read JSON text sent in a binary frame, as kkrpc's node
            // peers do.
            Some(_) => match String::from_utf8(bytes) {
                Ok(text) => self.feed_text(r, text),
                Err(_) => Some(self.protocol_error(
                    codes::WRONG_FRAME,
                    "a binary frame that is not UTF-8 text; offer a binary codec as a subprotocol"
                        .into(),
                )),
            },
        }
    }

    /// The codec a document is read with: the negotiated one, or the one detected (`Err`
    /// names the kind detected when the route does not allow it).
    fn codec_for(&self, doc: &[u8]) -> Result<Arc<dyn Codec>, &'static str> {
        {
            let w = lock(&self.wire);
            if w.negotiated {
                return Ok(w.codec.clone());
            }
        }
        self.detect.find(doc).cloned()
    }

    /// Read one document: a message, or the error reply for it.
    fn read_doc(&self, bytes: &[u8], hint: Option<Protocol>, out: &Outbox) -> Inbound<Encoding> {
        let codec = match self.codec_for(bytes) {
            Ok(c) => c,
            Err(what) => {
                let message = format!("{what} is not allowed on this route");
                return self.protocol_error(codes::PARSE, message);
            }
        };
        let doc = match codec.decode_value(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                let message = format!("cannot decode the message: {e}");
                return self.protocol_error(codes::PARSE, message);
            }
        };
        let (generation, msg) = match parse(doc) {
            Ok(m) => m,
            Err(bad) => return self.invalid_message(bad),
        };
        if hint.is_some_and(|h| h != generation) {
            tracing::debug!("a compact message with a trailing newline");
        }
        if !self.note_known(&codec, generation) {
            self.first_message(&codec, generation, out);
        }
        Inbound::Msg(msg, Encoding { codec, generation })
    }

    /// Once the generation is known (it never reverts), one lock per message: answer in
    /// kind (server-initiated calls use the codec the peer last sent). False when this is
    /// the first message.
    fn note_known(&self, codec: &Arc<dyn Codec>, generation: Protocol) -> bool {
        let mut w = lock(&self.wire);
        let known = w.generation.is_some();
        if known {
            if !w.negotiated && !Arc::ptr_eq(&w.codec, codec) {
                w.codec = codec.clone();
            }
            w.generation = Some(generation);
        }
        known
    }

    /// The first message: the held pushes are re-sent and the generation set under the
    /// `held` lock, which [`Kkrpc::hold`] checks the generation under: a push either is
    /// held and re-sent here, or sees the generation and is queued after the re-sent ones
    /// (set first, a concurrent broadcast that saw it overtook the held pushes).
    fn first_message(&self, codec: &Arc<dyn Codec>, generation: Protocol, out: &Outbox) {
        let mut held = lock(&self.held);
        let wire_codec = {
            let mut w = lock(&self.wire);
            if !w.negotiated {
                w.codec = codec.clone();
            }
            w.codec.clone()
        };
        let held = std::mem::take(&mut *held);
        // Legacy peers already got them; compact peers get them now, in their form
        // (encoded under the `held` lock only: `wire` is taken by every send).
        if generation == Protocol::Compact {
            let enc = Encoding {
                codec: wire_codec,
                generation,
            };
            for (method, args) in held {
                if let Ok(Some(f)) = self.push_frame(&method, args, &enc) {
                    let _ = out.push(f);
                }
            }
        }
        lock(&self.wire).generation = Some(generation);
    }
}

impl WireProtocol for Kkrpc {
    type Encoding = Encoding;
    type Reader = Reader;

    fn feed(&self, r: &mut Reader, frame: Frame) -> Option<Inbound<Encoding>> {
        match frame {
            Frame::Text(text) => self.feed_text(r, text),
            Frame::Binary(bytes) => self.feed_binary(r, bytes),
            Frame::Ping(_) | Frame::Pong | Frame::Close(..) => None,
        }
    }

    fn next(&self, r: &mut Reader, out: &Outbox) -> Option<Inbound<Encoding>> {
        match r.doc.take() {
            Some(Doc::Text(text)) => return Some(self.read_doc(text.trim().as_bytes(), None, out)),
            Some(Doc::Bytes(bytes)) => return Some(self.read_doc(&bytes, None, out)),
            None => {}
        }
        loop {
            let line = r.framing.next_line()?;
            if line.starts_with('{') {
                return Some(self.read_doc(line.as_bytes(), Some(Protocol::Legacy), out));
            }
        }
    }

    fn encoding(&self) -> Encoding {
        let w = lock(&self.wire);
        Encoding {
            codec: w.codec.clone(),
            generation: w.generation.unwrap_or(Protocol::Compact),
        }
    }

    /// Encode as a frame of the codec's kind (legacy text ends with a newline).
    fn write(&self, msg: Msg, enc: &Encoding) -> Result<Option<Frame>, Error> {
        let codec = &*enc.codec;
        let version = if codec.name() == "superjson" {
            "superjson"
        } else {
            "json"
        };
        let Some(doc) = write_doc(msg, enc.generation, version, self.errors) else {
            return Ok(None);
        };
        let bytes = codec.encode_value(&doc).map_err(Error::encode)?;
        Ok(Some(match codec.frame_kind() {
            FrameKind::Binary => Frame::Binary(bytes),
            FrameKind::Text => {
                let mut text = String::from_utf8(bytes).map_err(|_| {
                    let message = "a text codec wrote invalid UTF-8";
                    Error::Codec(CodecError::new(
                        crate::Error::data(message),
                        "EncodeError",
                        message.to_owned(),
                    ))
                })?;
                if enc.generation == Protocol::Legacy {
                    text.push('\n');
                }
                Frame::Text(text)
            }
        }))
    }

    fn push(&self, method: &str, args: Vec<Value>, out: &Outbox) -> Result<(), Error> {
        if self.hold(method, &args, out)? {
            return Ok(());
        }
        match self.push_frame(method, args, &self.encoding())? {
            Some(frame) => out.push(frame),
            None => Ok(()),
        }
    }
}

/// A document that is no kkrpc message (kkrpc drops these silently; polycodec answers them
/// with an error).
#[derive(Debug)]
pub(crate) struct Invalid {
    /// The generation its fields show, if any.
    protocol: Option<Protocol>,
    /// The request's id when it is a readable string (the caller can then match the error
    /// to its call), else null.
    id: Value,
    /// What is wrong, for the error reply.
    reason: String,
}

fn invalid(protocol: Option<Protocol>, id: Value, reason: impl Into<String>) -> Invalid {
    Invalid {
        protocol,
        id,
        reason: reason.into(),
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// Interpret a decoded document. An [`Invalid`] for what kkrpc silently drops (no
/// `t`/`type`, a compact request whose id is not a string, an unknown `op`, ...).
fn parse(doc: Value) -> Result<(Protocol, Msg), Invalid> {
    let Value::Object(o) = doc else {
        let reason = format!("not a kkrpc message (not an object: {})", doc.kind_name());
        return Err(invalid(None, Value::Null, reason));
    };
    if let Some(t) = string(o.get("t")) {
        return compact::parse(&t, o).map(|m| (Protocol::Compact, m));
    }
    let Some(ty) = string(o.get("type")) else {
        let reason = "not a kkrpc message (no `t` or `type`)";
        return Err(invalid(None, Value::Null, reason));
    };
    legacy::parse(&ty, o).map(|m| (Protocol::Legacy, m))
}

/// Classify one frame the way the server reads it on a route that allows plain JSON and
/// superjson with nothing negotiated: a kkrpc message of which protocol generation, or
/// `None` for anything kkrpc would drop (not JSON or superjson, no `t` or `type`). Legacy
/// frames may hold several newline-separated messages; the first decides.
///
/// ```
/// use polycodec::rpc::{classify, Protocol};
/// assert_eq!(classify(br#"{"t":"q","id":"1","op":"call","p":["add"],"a":[]}"#), Some(Protocol::Compact));
/// assert_eq!(classify(b"{\"id\":1,\"method\":\"add\",\"args\":[],\"type\":\"request\"}\n"), Some(Protocol::Legacy));
/// assert_eq!(classify(b"hello"), None);
/// ```
pub fn classify(frame: &[u8]) -> Option<Protocol> {
    let limits = Limits::default();
    let detect = Detection {
        json: Some(Arc::new(Json::new().with_limits(limits))),
        superjson: Some(Arc::new(SuperJson::new().with_limits(limits))),
    };
    let kkrpc = Kkrpc::new(None, detect, None, limits, LegacyErrors::default());
    let (out, _queue) = Outbox::new(0, 1);
    let mut reader = Reader::default();
    if let Some(now) = kkrpc.feed(&mut reader, Frame::Binary(frame.to_vec())) {
        return match now {
            Inbound::Msg(_, enc) => Some(enc.generation),
            _ => None,
        };
    }
    match kkrpc.next(&mut reader, &out)? {
        Inbound::Msg(_, enc) => Some(enc.generation),
        _ => None,
    }
}

/// The wire form of a message as a [`Value`], for tests of the generations.
#[cfg(test)]
fn written(msg: Msg, generation: Protocol) -> Option<Value> {
    write_doc(msg, generation, "json", LegacyErrors::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_has_no_legacy_form() {
        let release = || Msg::Release {
            ids: vec!["a".into()],
        };
        assert!(written(release(), Protocol::Legacy).is_none());
        let compact = written(release(), Protocol::Compact).unwrap();
        assert_eq!(compact.get("t"), Some(&Value::from("cbr")));
    }

    #[test]
    fn what_is_written_reads_back() {
        for generation in [Protocol::Compact, Protocol::Legacy] {
            let msg = Msg::Request {
                id: Value::from("7"),
                op: Op::Call,
                path: vec!["math".into(), "add".into()],
                args: vec![Arg::Value(Value::from(1)), Arg::Callback("cb".into())],
                value: Value::Undefined,
            };
            let doc = written(msg, generation).unwrap();
            let (g, back) = parse(doc).unwrap();
            assert_eq!(g, generation);
            let Msg::Request { path, args, .. } = back else {
                panic!("{back:?}")
            };
            assert_eq!(path, ["math", "add"]);
            assert!(matches!(&args[1], Arg::Callback(c) if c == "cb"));
        }
    }
}

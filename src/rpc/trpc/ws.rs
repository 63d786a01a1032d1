//! tRPC's WebSocket protocol (`wsLink`) behind the [`WireProtocol`] seam: JSON text frames,
//! one message or an array of them; `query`/`mutation`/`subscription` requests with ids
//! echoed as sent; `subscription.stop`; `connectionParams` as the first frame when the URL
//! asks for it; raw `PING`/`PONG`; the `reconnect` notice.

use super::errors::{shape, Code};
use super::router::{Router, Shared};
use crate::codec::{Codec, Json};
use crate::rpc::conn::outbox::Outbox;
use crate::rpc::conn::Identity;
use crate::rpc::error::{Error, RpcError};
use crate::rpc::protocol::{Arg, Inbound, Msg, Op, StreamEvent, WireProtocol};
use crate::rpc::transport::Frame;
use crate::{Limits, Value};
use axum::http::HeaderMap;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// What a tRPC reply is written with: whether the request said `jsonrpc: "2.0"` (echoed),
/// and the procedure's path (errors carry it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Encoding {
    pub(crate) jsonrpc: bool,
    pub(crate) path: Option<Arc<str>>,
}

/// One connection's tRPC state.
pub(crate) struct Trpc {
    router: Router,
    /// The URL said `connectionParams=1`: the first frame is the params.
    expects_params: bool,
    /// What the calls share once known (at once, or when the params came).
    shared: OnceLock<Arc<Shared>>,
    /// The headers and identity, until the params came.
    pending: Mutex<Option<Shared>>,
}

/// What the read loop keeps between frames.
#[derive(Default)]
pub(crate) struct Reader {
    queue: VecDeque<Inbound<Encoding>>,
    params_done: bool,
}

const BINARY: &str =
    "jsonEncoder received binary data. JSON uses text frames. Use a binary encoder for binary data.";
const PARAMS_SHAPE: &str = "Invalid connection params shape";

/// A field that is there, even as `null` (a missing one stays `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct RawMsg<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParams<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    input: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    path: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    last_event_id: Option<&'a RawValue>,
}

fn text_of(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
}

/// Whether a JSON text is an object (by its first character; it is parsed after).
fn is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// The parse error of a whole frame: `id: null`, PARSE_ERROR.
fn parse_error(message: impl Into<String>) -> Inbound<Encoding> {
    let msg = Msg::Response {
        id: Value::Null,
        result: Err(Code::ParseError.error(message)),
    };
    Inbound::Reply(msg, Encoding::default())
}

/// The connection params of a `connectionParams` message: an object of strings, or null.
pub(crate) fn read_params(data: &str) -> Result<Option<Vec<(String, String)>>, &'static str> {
    let v = Json::new()
        .decode_value(data.as_bytes())
        .map_err(|_| PARAMS_SHAPE)?;
    let map = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(PARAMS_SHAPE),
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map.iter() {
        match v {
            Value::String(s) => out.push((k.clone(), s.clone())),
            _ => return Err(PARAMS_SHAPE),
        }
    }
    Ok(Some(out))
}

impl Trpc {
    /// A connection's state: `headers` of the upgrade, the auth hook's `identity`, and
    /// whether the URL asked for connection params.
    pub(crate) fn new(
        router: Router,
        headers: HeaderMap,
        identity: Option<Identity>,
        expects_params: bool,
    ) -> Trpc {
        let s = Shared {
            headers,
            params: None,
            identity,
        };
        let t = Trpc {
            router,
            expects_params,
            shared: OnceLock::new(),
            pending: Mutex::new(None),
        };
        if expects_params {
            *t.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
        } else {
            let _ = t.shared.set(Arc::new(s));
        }
        t
    }

    /// The route's router.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// What the calls share (the connection params, once they came).
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.get().cloned().unwrap_or_default()
    }

    fn limits(&self) -> Limits {
        self.router.limits()
    }

    /// The first frame, when the URL asked for connection params.
    fn params_frame(&self, r: &mut Reader, text: &str) -> Option<Inbound<Encoding>> {
        r.params_done = true;
        let params = serde_json::from_str::<RawMsg<'_>>(text)
            .ok()
            .filter(|m| text_of(m.method).as_deref() == Some("connectionParams"))
            .and_then(|m| m.data)
            .ok_or(PARAMS_SHAPE)
            .and_then(|d| read_params(d.get()));
        let mut shared = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        match params {
            Ok(params) => {
                shared.params = params;
                let _ = self.shared.set(Arc::new(shared));
                None
            }
            Err(message) => {
                let _ = self.shared.set(Arc::new(shared));
                r.queue
                    .push_back(Inbound::Close(1008, "invalid connection params".into()));
                Some(parse_error(message))
            }
        }
    }

    /// Every message of a frame, or the one error of the frame (then none of them runs).
    fn parse_frame(&self, text: &str) -> Result<Vec<(Msg, Encoding)>, String> {
        let first = text.bytes().find(|b| !b.is_ascii_whitespace());
        if first == Some(b'[') {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let max = self.router.http_options().max_batch;
            if items.len() > max {
                return Err(format!("Batch call exceeds maximum size ({max})"));
            }
            return items.iter().map(|raw| self.parse_one(raw.get())).collect();
        }
        Ok(vec![self.parse_one(text)?])
    }

    /// One message, checked as `@trpc/server` checks it (its messages where it has them).
    fn parse_one(&self, text: &str) -> Result<(Msg, Encoding), String> {
        // serde would read an array as a struct's fields in order: objects only.
        if !is_object(text) {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "Invalid message: not an object".into(),
                Err(e) => e.to_string(),
            });
        }
        let m: RawMsg<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let id = match m.id {
            Some(raw) => match Json::new().decode_value(raw.get().as_bytes()) {
                Ok(v @ (Value::Null | Value::Number(_) | Value::String(_))) => v,
                _ => return Err("Invalid request id".into()),
            },
            None => return Err("Invalid request id".into()),
        };
        let jsonrpc = match m.jsonrpc {
            None => false,
            Some(raw) if raw.get() == "\"2.0\"" => true,
            Some(_) => return Err("Must be JSONRPC 2.0".into()),
        };
        let method = text_of(m.method).unwrap_or_default();
        if method == "subscription.stop" {
            if id.is_null() {
                return Err("`id` is required".into());
            }
            let enc = Encoding {
                jsonrpc,
                path: None,
            };
            return Ok((
                Msg::Release {
                    ids: vec![key(&id)],
                },
                enc,
            ));
        }
        let op = match method.as_str() {
            "query" => Op::Query,
            "mutation" => Op::Mutation,
            "subscription" => Op::Subscription,
            _ => return Err("Invalid procedure type".into()),
        };
        let params: RawParams<'_> = m
            .params
            .filter(|p| is_object(p.get()))
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .ok_or("params must be an object")?;
        let path = text_of(params.path).ok_or("path must be a string")?;
        let last_event_id = match params.last_event_id {
            None => Value::Undefined,
            Some(raw) if raw.get() == "null" => Value::Undefined,
            Some(raw) => Value::String(text_of(Some(raw)).ok_or("lastEventId must be a string")?),
        };
        let transformer = self.router.transformer();
        let input = match params.input {
            Some(raw) => transformer
                .decode(raw.get().as_bytes(), self.limits())
                .map_err(|e| e.to_string())?,
            None if transformer == super::Transformer::None => Value::Undefined,
            None => {
                return Err(
                    "Cannot destructure property 'json' of 'payload' as it is undefined.".into(),
                )
            }
        };
        if id.is_null() {
            return Err("`id` is required".into());
        }
        let enc = Encoding {
            jsonrpc,
            path: Some(Arc::from(path.as_str())),
        };
        let msg = Msg::Request {
            id,
            op,
            path: vec![path],
            args: vec![Arg::Value(input)],
            value: last_event_id,
        };
        Ok((msg, enc))
    }

    /// `{"id":ID,("jsonrpc":"2.0",)` of a reply.
    fn head(&self, out: &mut Vec<u8>, id: &Value, enc: &Encoding) -> Result<(), Error> {
        out.extend_from_slice(b"{\"id\":");
        let id = super::transformer::json_text(id, self.limits()).map_err(Error::encode)?;
        out.extend_from_slice(&id);
        if enc.jsonrpc {
            out.extend_from_slice(b",\"jsonrpc\":\"2.0\"");
        }
        Ok(())
    }

    /// `,"data":<value>` through the transformer (left out for undefined without one, as
    /// `JSON.stringify` does).
    fn data(&self, out: &mut Vec<u8>, v: &Value) -> Result<(), Error> {
        let t = self.router.transformer();
        if t == super::Transformer::None && v.is_undefined() {
            return Ok(());
        }
        out.extend_from_slice(b",\"data\":");
        out.extend(t.encode(v, self.limits()).map_err(Error::encode)?);
        Ok(())
    }

    fn error(&self, out: &mut Vec<u8>, e: &RpcError, enc: &Encoding) -> Result<(), Error> {
        let shape = shape(e, enc.path.as_deref(), self.router.dev());
        out.extend_from_slice(b",\"error\":");
        let t = self.router.transformer();
        out.extend(t.encode(&shape, self.limits()).map_err(Error::encode)?);
        out.push(b'}');
        Ok(())
    }
}

/// The key a subscription is known by on its connection: its id as JSON (`1` and `"1"`
/// are two ids, as in tRPC's map).
pub(crate) fn key(id: &Value) -> String {
    match id {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => crate::value::number::format(*n),
        _ => "null".into(),
    }
}

fn text_frame(bytes: Vec<u8>) -> Result<Option<Frame>, Error> {
    String::from_utf8(bytes)
        .map(|t| Some(Frame::Text(t)))
        .map_err(|_| Error::encode(crate::Error::data("a reply was not UTF-8")))
}

impl WireProtocol for Trpc {
    type Encoding = Encoding;
    type Reader = Reader;

    fn feed(&self, r: &mut Reader, frame: Frame) -> Option<Inbound<Encoding>> {
        let text = match frame {
            Frame::Text(t) => t,
            Frame::Binary(_) => return Some(parse_error(BINARY)),
            Frame::Ping(_) | Frame::Pong | Frame::Close(..) => return None,
        };
        match text.as_str() {
            "PING" => return Some(Inbound::Send(Frame::Text("PONG".into()))),
            "PONG" => return None,
            _ => {}
        }
        if self.expects_params && !r.params_done {
            return self.params_frame(r, &text);
        }
        match self.parse_frame(&text) {
            Ok(msgs) => {
                let msgs = msgs.into_iter().map(|(m, e)| Inbound::Msg(m, e));
                r.queue.extend(msgs);
                None
            }
            Err(message) => {
                tracing::debug!(%message, "invalid tRPC frame");
                Some(parse_error(message))
            }
        }
    }

    fn next(&self, r: &mut Reader, _out: &Outbox) -> Option<Inbound<Encoding>> {
        r.queue.pop_front()
    }

    fn encoding(&self) -> Encoding {
        Encoding::default()
    }

    fn write(&self, msg: Msg, enc: &Encoding) -> Result<Option<Frame>, Error> {
        let mut out = Vec::with_capacity(64);
        match msg {
            Msg::Response { id, result } => {
                self.head(&mut out, &id, enc)?;
                match result {
                    Ok(v) => {
                        out.extend_from_slice(b",\"result\":{\"type\":\"data\"");
                        self.data(&mut out, &v)?;
                        out.extend_from_slice(b"}}");
                    }
                    Err(e) => self.error(&mut out, &e, enc)?,
                }
            }
            Msg::Stream { id, event } => {
                self.head(&mut out, &id, enc)?;
                match event {
                    StreamEvent::Started => {
                        out.extend_from_slice(b",\"result\":{\"type\":\"started\"}}")
                    }
                    StreamEvent::Stopped => {
                        out.extend_from_slice(b",\"result\":{\"type\":\"stopped\"}}")
                    }
                    StreamEvent::Data(v, None) => {
                        out.extend_from_slice(b",\"result\":{\"type\":\"data\"");
                        self.data(&mut out, &v)?;
                        out.extend_from_slice(b"}}");
                    }
                    StreamEvent::Data(v, Some(tid)) => {
                        let mut env = crate::Object::with_capacity(2);
                        env.insert("id", Value::String(tid.clone()));
                        env.insert("data", v);
                        out.extend_from_slice(b",\"result\":{\"type\":\"data\"");
                        self.data(&mut out, &Value::Object(env))?;
                        out.extend_from_slice(b",\"id\":");
                        let id = Value::String(tid);
                        out.extend(
                            super::transformer::json_text(&id, self.limits())
                                .map_err(Error::encode)?,
                        );
                        out.extend_from_slice(b"}}");
                    }
                }
            }
            // tRPC has no calls from the server, callbacks or releases.
            Msg::Request { .. } | Msg::Callback { .. } | Msg::Release { .. } => return Ok(None),
        }
        text_frame(out)
    }

    /// Only `reconnect` (asking the client to move to a new socket) means something to a
    /// tRPC client; other pushes are dropped (it would ignore them).
    fn push(&self, method: &str, _args: Vec<Value>, out: &Outbox) -> Result<(), Error> {
        match reconnect_frame(method) {
            Some(f) => out.push(f),
            None => Ok(()),
        }
    }
}

/// The frame of a push to a tRPC client: only `reconnect` has one.
pub(crate) fn reconnect_frame(method: &str) -> Option<Frame> {
    (method == "reconnect").then(|| Frame::Text(r#"{"id":null,"method":"reconnect"}"#.into()))
}

/// Whether a first frame is kkrpc's rather than tRPC's: a document (the first line of a
/// legacy frame; text, or JSON text in a binary frame, as kkrpc's node peers send) with
/// kkrpc's `t` or `type`, in plain JSON or inside superjson's `json`, or `__DESTROY__`.
/// Anything else (a tRPC message, `PING`, an array, what reads as no message at all) is
/// tRPC's, which answers it in its own envelope.
pub(crate) fn looks_like_kkrpc(frame: &Frame) -> bool {
    let bytes = match frame {
        Frame::Text(t) => t.as_bytes(),
        Frame::Binary(b) => b.as_slice(),
        _ => return false,
    };
    let Some(line) = bytes
        .split(|b| *b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
    else {
        return false;
    };
    if line.trim_ascii() == b"__DESTROY__" {
        return true;
    }
    type Doc = serde_json::Map<String, serde_json::Value>;
    let Ok(doc) = serde_json::from_slice::<Doc>(line) else {
        return false;
    };
    let kkrpc = |o: &Doc| o.contains_key("t") || o.contains_key("type");
    kkrpc(&doc)
        || doc
            .get("json")
            .and_then(|j| j.as_object())
            .is_some_and(kkrpc)
}

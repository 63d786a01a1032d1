//! The upgrade: auth, then the codec (subprotocol, `?codec=`, default, or detection), then
//! the socket's limits.

use super::auth::{query_pairs, AuthRequest};
use super::{RpcServer, Speaks};
use crate::codec::Codec;
use crate::rpc::conn::ConnInfo;
use crate::rpc::negotiation::{codec_param, offered_tokens};
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The subprotocol a tRPC peer may offer to say so (tRPC's own clients offer none).
pub const TRPC_TOKEN: &str = "trpc";

/// The codec chosen for a connection: `Ok(None)` detects it from what the peer sends;
/// `Err` says what is not allowed (answered with 400).
type Choice = Result<Option<Arc<dyn Codec>>, String>;

impl RpcServer {
    /// Negotiate and upgrade one request. The codec is, in this order: the first of the
    /// route's codecs (in its order of preference) whose subprotocol the client offered; the
    /// one `?codec=` names; the default codec; or none, and then plain JSON or superjson is
    /// detected in what the client sends (those of them the route allows). Answers 400
    /// (before upgrading) when the client offered subprotocols and none is an allowed
    /// codec's (the handshake's response must name one of them), when `?codec=` names one
    /// that is not allowed, or when it offered none and the route allows neither plain JSON
    /// nor superjson (nor has a default codec). The front door's caps apply first (see
    /// [`RpcServer::upgrade_from`]; here the peer's address is unknown, so per-client limits
    /// do not apply).
    pub fn upgrade(&self, ws: WebSocketUpgrade, headers: &HeaderMap, uri: &Uri) -> Response {
        self.upgrade_from(None, ws, headers, uri)
    }

    /// [`RpcServer::upgrade`] for a request from `peer` (the socket's address): first the
    /// front door (503 with `Retry-After` while draining or past the endpoint's cap, 429 past
    /// a per-client limit, the client read from `X-Forwarded-For` behind a trusted proxy),
    /// then auth, then negotiation.
    pub fn upgrade_from(
        &self,
        peer: Option<SocketAddr>,
        ws: WebSocketUpgrade,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Response {
        let inner = &self.0;
        let admission = match inner.gate.admit(peer.map(|p| p.ip()), headers) {
            Ok(a) => a,
            Err(refused) => return refused.into_response(),
        };
        let identity = match &inner.authenticate {
            Some(auth) => match auth(&AuthRequest { headers, uri }) {
                Ok(id) => id,
                Err(e) => {
                    tracing::info!(path = uri.path(), status = e.status(), "upgrade refused");
                    return (e.http_status(), format!("{}\n", e.message())).into_response();
                }
            },
            None => None,
        };
        let info = ConnInfo {
            path: uri.path().to_owned(),
            query: query_pairs(uri),
            identity,
        };
        let offered = offered_tokens(
            headers
                .get_all("sec-websocket-protocol")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let query = uri.query().unwrap_or("");
        let speaks = self.speaks(&offered, query);
        let chosen = match speaks {
            // A tRPC peer negotiates no codec: its transformer is the router's.
            Speaks::Trpc { .. } => Ok(None),
            _ => self.choose(&offered, codec_param(query)),
        };
        let chosen = match chosen {
            Ok(c) => c,
            Err(what) => return self.refuse(&what),
        };
        let speaks = match speaks {
            Speaks::Either if chosen.is_some() => Speaks::Kkrpc,
            s => s,
        };
        // Both: kkrpc sends a message as one frame, and tungstenite's frame limit (16 MiB
        // by default) would cap a larger message limit.
        let limit = inner.config.limits.message_bytes();
        let mut ws = ws
            .max_message_size(limit)
            .max_frame_size(limit)
            .read_buffer_size(inner.buffers.0)
            .write_buffer_size(inner.buffers.1);
        if let Some(c) = &chosen {
            if offered.iter().any(|t| t == c.subprotocol()) {
                ws = ws.protocols([c.subprotocol().to_owned()]);
            }
        }
        if matches!(speaks, Speaks::Trpc { .. }) && offered.iter().any(|t| t == TRPC_TOKEN) {
            ws = ws.protocols([TRPC_TOKEN]);
        }
        let me = self.clone();
        let headers = if matches!(speaks, Speaks::Kkrpc) {
            HeaderMap::new()
        } else {
            headers.clone()
        };
        ws.on_upgrade(move |socket| async move {
            me.serve_socket(socket, chosen, info, admission, speaks, headers)
                .await
        })
        .into_response()
    }

    /// Which protocol the upgrade says the peer speaks: tRPC when the route has a router
    /// and the peer offered the `trpc` subprotocol or opens `?connectionParams=1` (what
    /// `wsLink` adds when it sends connection params); kkrpc when the route has none;
    /// else the first frame tells.
    fn speaks(&self, offered: &[String], query: &str) -> Speaks {
        if self.trpc_router().is_none() {
            return Speaks::Kkrpc;
        }
        let params = query
            .split('&')
            .any(|kv| kv == "connectionParams=1" || kv == "connectionParams=true");
        if params || offered.iter().any(|t| t == TRPC_TOKEN) {
            return Speaks::Trpc { params };
        }
        Speaks::Either
    }

    /// The codec for the subprotocols `offered` and the `?codec=` `query` (see
    /// [`RpcServer::upgrade`]).
    fn choose(&self, offered: &[String], query: Option<&str>) -> Choice {
        let inner = &self.0;
        // A subprotocol first: the response must then name it, and a client that offered
        // subprotocols fails a handshake whose response names none (tungstenite does).
        let by_token = inner
            .allowed
            .iter()
            .find(|c| offered.iter().any(|t| t == c.subprotocol()));
        if let Some(c) = by_token {
            return Ok(Some(c.clone()));
        }
        if !offered.is_empty() {
            // Also when no offered token names a codec: the response would name no
            // subprotocol, and browsers and tungstenite fail such a handshake.
            return Err(format!("none of the offered subprotocols {offered:?} is"));
        }
        if let Some(name) = query {
            return match inner.allowed.iter().find(|c| c.name() == name) {
                Some(c) => Ok(Some(c.clone())),
                None => Err(format!("the codec {name:?} (from ?codec=) is not")),
            };
        }
        if inner.default_codec.is_some() {
            return Ok(inner.default_codec.clone());
        }
        if inner.detect.any() {
            return Ok(None);
        }
        Err(
            "no codec was offered (as a subprotocol or ?codec=); plain JSON or superjson is not"
                .into(),
        )
    }

    fn refuse(&self, what: &str) -> Response {
        let allowed: Vec<String> = self
            .0
            .allowed
            .iter()
            .map(|c| format!("{} ({})", c.name(), c.subprotocol()))
            .collect();
        let body = format!(
            "{what} allowed here; allowed codecs: {}\n",
            allowed.join(", ")
        );
        (StatusCode::BAD_REQUEST, body).into_response()
    }
}

//! The load driver's protocol adapters: how a member or the sender connects to each kind of
//! server, what the sender writes to broadcast one message, and how a receipt is read.
//!
//! * polycodec: kkrpc compact frames in plain JSON (subprotocol `polycodec.json`); the
//!   sender calls `say(payload)`, members receive the push `m(payload)`.
//! * Socket.IO: Engine.IO v4 over WebSocket only (`0{…}` open packet, `40` to connect the
//!   main namespace, `40{"sid":…}` back, events `42["name",…]`, ping `2` answered by `3`);
//!   the sender emits `say`, members receive the event `m`.
//! * Plain: WebSocket text, the payload itself both ways (Hono and Bun).
//!
//! The payload is the same JSON object everywhere: a sequence number, the send time in ms
//! since the driver's epoch, and 96 bytes of text.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket to a server.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The protocol a server speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    /// polycodec's RPC server, kkrpc compact frames in JSON.
    Polycodec,
    /// Socket.IO 4 (Engine.IO v4), WebSocket transport only.
    SocketIo,
    /// Plain WebSocket text (Hono's room loop, Bun's `publish`).
    Plain,
}

/// The JSON payload of broadcast `seq`, sent at `sent_ms`.
pub fn payload(seq: u64, sent_ms: f64) -> String {
    format!(
        "{{\"seq\":{seq},\"sent\":{sent_ms:.4},\"text\":\"{}\"}}",
        "x".repeat(96)
    )
}

/// The URL a member (`member`) or the sender connects to, on the server at `port`.
pub fn url(proto: Proto, port: u16, member: bool) -> String {
    match (proto, member) {
        (Proto::SocketIo, true) => {
            format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&member=1")
        }
        (Proto::SocketIo, false) => {
            format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
        }
        (_, true) => format!("ws://127.0.0.1:{port}/member"),
        (_, false) => format!("ws://127.0.0.1:{port}/send"),
    }
}

/// Connect, and finish the protocol's handshake.
pub async fn connect(proto: Proto, url: &str) -> Result<Ws, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if proto == Proto::Polycodec {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "polycodec.json".parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if proto == Proto::SocketIo {
        let open = next_text(&mut ws).await?;
        if !open.starts_with("0{") {
            return Err(format!("expected the Engine.IO open packet, got {open:?}"));
        }
        ws.send(Message::text("40"))
            .await
            .map_err(|e| e.to_string())?;
        let ok = next_text(&mut ws).await?;
        if !ok.starts_with("40") {
            return Err(format!("expected the namespace's `40{{sid}}`, got {ok:?}"));
        }
    }
    Ok(ws)
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .map_err(|_| "handshake timed out".to_owned())?;
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed during the handshake".into()),
        }
    }
}

/// The frame the sender writes to broadcast `payload` (request id `seq` for polycodec).
pub fn say(proto: Proto, seq: u64, payload: &str) -> Message {
    Message::text(match proto {
        Proto::Polycodec => format!(
            "{{\"t\":\"q\",\"id\":\"s{seq}\",\"op\":\"call\",\"p\":[\"say\"],\
             \"a\":[{{\"__kkrpc_next_arg__\":\"value\",\"v\":{payload}}}]}}"
        ),
        Proto::SocketIo => format!("42[\"say\",{payload}]"),
        Proto::Plain => payload.to_owned(),
    })
}

/// What a text frame from the server is.
pub enum Incoming {
    /// A broadcast payload, with its send time.
    Receipt(f64),
    /// An Engine.IO ping: answer `3`.
    Ping,
    /// Anything else (a response to the sender's call).
    Other,
}

/// Read one text frame (every adapter's receipts carry `"sent":` once).
pub fn read(proto: Proto, text: &str) -> Incoming {
    if proto == Proto::SocketIo && text == "2" {
        return Incoming::Ping;
    }
    let Some(at) = text.find("\"sent\":") else {
        return Incoming::Other;
    };
    let rest = &text[at + 7..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+'))
        .unwrap_or(rest.len());
    rest[..end]
        .parse()
        .map_or(Incoming::Other, Incoming::Receipt)
}

//! Raw tRPC traffic for the tests: an HTTP/1.1 request over a plain socket (the exact
//! bytes of the reply, chunked bodies joined) and a WebSocket exchange of text frames.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// An HTTP reply: status, headers (lower-case names) and the body as text.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Send one request (`target` is the path and query, as sent) and read the whole reply.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpReply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 || {
                raw.extend_from_slice(&buf[..n]);
                ended_event_stream(&raw)
            } {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the reply within 10 s");
    parse(&raw)
}

/// An event stream whose last event (`return` or `serialized-error`) came: a server may
/// keep the connection a while after it (node does).
fn ended_event_stream(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    if !text.contains("text/event-stream") {
        return false;
    }
    text.contains("event: return\ndata: \n\n")
        || text
            .split("event: serialized-error\n")
            .nth(1)
            .is_some_and(|rest| rest.contains("\n\n"))
}

fn parse(raw: &[u8]) -> HttpReply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpReply {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&b[..eol])
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        let end = (eol + 2 + n).min(b.len());
        out.extend_from_slice(&b[eol + 2..end]);
        b = &b[(end + 2).min(b.len())..];
    }
}

/// A frame to send: text, or binary.
pub enum Out {
    Text(String),
    Binary(Vec<u8>),
}

/// Open `url`, send `sent` in order, and collect the text frames received until `expect`
/// came (then `linger` more, to catch extra frames) or, with fewer, `linger` of silence.
/// Returns the frames and the close code if the server closed.
pub async fn ws_exchange(
    url: &str,
    sent: Vec<Out>,
    expect: usize,
    linger: Duration,
) -> (Vec<String>, Option<u16>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for f in sent {
        let m = match f {
            Out::Text(t) => Message::Text(t.into()),
            Out::Binary(b) => Message::Binary(b.into()),
        };
        ws.send(m).await.unwrap();
    }
    let mut got = Vec::new();
    let mut closed = None;
    loop {
        let wait = if got.len() >= expect {
            linger
        } else {
            Duration::from_secs(5)
        };
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => got.push(t.to_string()),
            Ok(Some(Ok(Message::Close(c)))) => {
                closed = Some(c.map_or(1005, |c| u16::from(c.code)));
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => break,
            Err(_) => break,
        }
    }
    let _ = ws.close(None).await;
    (got, closed)
}

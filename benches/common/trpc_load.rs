//! A tRPC load client written once and used against every server (polycodec, and the real
//! `@trpc/server` on node and on Bun): `echo(input)` queries, superjson input, over
//! WebSocket the way `wsLink` sends them (one request per frame, ids counting up, `depth`
//! in flight) and over HTTP the way `httpBatchLink` does (`GET /echo,echo,…?batch=1` with
//! the inputs keyed `"0"`…, `depth` calls per batch, on one keep-alive connection). It
//! records each call's round trip.
#![allow(dead_code)]

use super::load::LoadResult;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn result(mut lat: Vec<Duration>, started: Instant) -> LoadResult {
    lat.sort();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        lat[((lat.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6
    };
    LoadResult {
        calls: lat.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// `depth` `echo(input)` queries in flight over one WebSocket to `url`, for `duration`;
/// `input` is the superjson document.
pub async fn ws(url: &str, depth: usize, duration: Duration, input: &str) -> LoadResult {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let (mut tx, mut rx) = ws.split();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let frame = |id: u64| {
        Message::Text(
            format!(r#"{{"id":{id},"method":"query","params":{{"input":{input},"path":"echo"}}}}"#)
                .into(),
        )
    };
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let mut lat = Vec::new();
    let mut next = 1u64;
    for _ in 0..depth {
        tx.send(frame(next)).await.expect("send");
        sent_at.insert(next, Instant::now());
        next += 1;
    }
    while !sent_at.is_empty() {
        let Some(Ok(Message::Text(t))) = rx.next().await else {
            break;
        };
        // {"id":N,"result":...
        let Some(id) = t
            .strip_prefix("{\"id\":")
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if let Some(at) = sent_at.remove(&id) {
            lat.push(at.elapsed());
        }
        if Instant::now() < deadline {
            tx.send(frame(next)).await.expect("send");
            sent_at.insert(next, Instant::now());
            next += 1;
        }
    }
    let _ = tx.send(Message::Close(None)).await;
    result(lat, started)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Read one HTTP/1.1 response (content-length or chunked) from `s`; its body length.
async fn read_response(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> usize {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 64 * 1024];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut pos = head_end;
    let mut body = 0;
    loop {
        let need_more = match length {
            Some(n) => buf.len() < head_end + n,
            None => {
                // Chunked: walk complete chunks; the last is `0\r\n\r\n`.
                let mut done = false;
                while let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                    let size = std::str::from_utf8(&buf[pos..pos + eol]).unwrap_or("0");
                    let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
                        .unwrap_or(0);
                    let end = pos + eol + 2 + size + 2;
                    if buf.len() < end {
                        break;
                    }
                    body += size;
                    pos = end;
                    if size == 0 {
                        done = true;
                        break;
                    }
                }
                !done
            }
        };
        if !need_more {
            break;
        }
        let mut chunk = [0u8; 64 * 1024];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = match length {
        Some(n) => {
            body = n;
            head_end + n
        }
        None => pos,
    };
    buf.drain(..end);
    body
}

/// Batches of `depth` `echo(input)` queries, one batch in flight on one keep-alive
/// connection to `addr` (`base` is the tRPC path, `/trpc`), for `duration`.
pub async fn http_batch(
    addr: std::net::SocketAddr,
    base: &str,
    depth: usize,
    duration: Duration,
    input: &str,
) -> LoadResult {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).ok();
    let paths = vec!["echo"; depth].join(",");
    let inputs: Vec<String> = (0..depth).map(|i| format!("\"{i}\":{input}")).collect();
    let query = encode(&format!("{{{}}}", inputs.join(",")));
    let request = format!(
        "GET {base}/{paths}?batch=1&input={query} HTTP/1.1\r\nhost: {addr}\r\naccept: */*\r\n\r\n"
    );
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut buf = Vec::new();
    while Instant::now() < deadline {
        let at = Instant::now();
        s.write_all(request.as_bytes()).await.expect("write");
        let body = read_response(&mut s, &mut buf).await;
        assert!(body > 0, "an empty batch reply");
        let took = at.elapsed();
        lat.extend(std::iter::repeat_n(took, depth));
    }
    result(lat, started)
}

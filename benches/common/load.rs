//! A load client written once and used against every server: it speaks the kkrpc legacy
//! protocol in JSON mode (what every kkrpc generation from 0.2 understands), keeps `depth`
//! calls in flight on each connection, and records each call's round trip.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub calls: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.calls as f64 / self.seconds
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// `connections` sockets to `url`, each with `depth` legacy `echo(arg_json)` calls in
/// flight, for `duration`.
pub async fn run(
    url: &str,
    connections: usize,
    depth: usize,
    duration: Duration,
    arg_json: &str,
) -> LoadResult {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let url = url.to_owned();
        let arg = arg_json.to_owned();
        tasks.push(tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("connect");
            let (mut tx, mut rx) = ws.split();
            let mut sent_at: HashMap<u64, Instant> = HashMap::new();
            let mut lat = Vec::new();
            let mut next = 0u64;
            let mut buf = String::new();
            let prefix = format!("\"c{c}-");
            let send = |id: u64| {
                Message::Text(
                    format!(
                        "{{\"id\":\"c{c}-{id}\",\"method\":\"echo\",\"args\":[{arg}],\"type\":\"request\",\"version\":\"json\"}}\n"
                    )
                    .into(),
                )
            };
            for _ in 0..depth {
                tx.send(send(next)).await.expect("send");
                sent_at.insert(next, Instant::now());
                next += 1;
            }
            while !sent_at.is_empty() {
                let Some(Ok(msg)) = rx.next().await else { break };
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                    _ => continue,
                };
                buf.push_str(&text);
                let mut done = 0;
                while let Some(pos) = buf[done..].find('\n') {
                    let line = &buf[done..done + pos];
                    done += pos + 1;
                    // The id is the first field: {"id":"cN-M",...
                    let Some(start) = line.find(&prefix) else { continue };
                    let rest = &line[start + prefix.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let Ok(id) = rest[..end].parse::<u64>() else { continue };
                    if let Some(t) = sent_at.remove(&id) {
                        lat.push(t.elapsed());
                    }
                    if Instant::now() < deadline {
                        if tx.send(send(next)).await.is_err() {
                            break;
                        }
                        sent_at.insert(next, Instant::now());
                        next += 1;
                    }
                }
                buf.drain(..done);
            }
            let _ = tx.send(Message::Close(None)).await;
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort();
    LoadResult {
        calls: all.len() as u64,
        seconds,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
    }
}

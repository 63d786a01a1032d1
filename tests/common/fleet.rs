//! `polycodec serve --redis` nodes for the cluster tests, and chat members that record what
//! they are pushed. Nodes are killed (and waited for) on drop, panics included.
#![allow(dead_code)]

use polycodec::rpc::{Api, Call, Client};
use polycodec::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One `polycodec serve --redis` process.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its `--node-id`.
    pub id: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Node {
    /// Start node `id` on the Redis at `url`; a node silent for `down_after_ms` is dropped.
    pub fn start(url: &str, id: &str, down_after_ms: u64) -> Node {
        let root = crate::common::repo_root();
        let mut child = Command::new(env!("CARGO_BIN_EXE_polycodec"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--redis",
                url,
                "--node-id",
                id,
            ])
            .args(["--down-after-ms", &down_after_ms.to_string()])
            .current_dir(root)
            .env("RUST_LOG", "polycodec=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start polycodec serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the address line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Node {
            child,
            base,
            id: id.to_owned(),
            _stdout: stdout,
        }
    }

    /// `ws://…/chat/<room>?username=<user>`.
    pub fn chat_url(&self, room: &str, user: &str) -> String {
        format!(
            "{}/chat/{room}?username={user}",
            self.base.replace("http://", "ws://")
        )
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send a signal by name (`STOP`, `CONT`).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name}");
    }

    /// `GET /healthz`: the status code and the body.
    pub fn healthz(&self) -> (u16, String) {
        let addr = self.base.trim_start_matches("http://");
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            return (0, String::new());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let code = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (code, body)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // A stopped process dies of SIGKILL all the same.
            self.kill9();
        }
    }
}

/// A pushed chat message: its fields and, in a recoverable room, its position.
#[derive(Clone, Debug)]
pub struct Got {
    pub user: String,
    pub text: String,
    pub system: bool,
    /// `(epoch, offset)`.
    pub pos: Option<(String, u64)>,
}

/// A chat client that records every `message(msg, position?)` and `recovery(r)` push.
pub struct Member {
    pub client: Client,
    pub got: Arc<Mutex<Vec<Got>>>,
    pub recovery: Arc<Mutex<Vec<Value>>>,
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn pos(v: &Value) -> Option<(String, u64)> {
    let p = v.get("__pc")?;
    Some((text(p, "epoch"), p.get("offset")?.as_f64()? as u64))
}

impl Member {
    /// Connect `url` offering `codec`.
    pub async fn join(url: &str, codec: &str) -> Member {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let recovery: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (g, r) = (got.clone(), recovery.clone());
        let api = Api::builder()
            .method("message", move |call: Call| {
                let m = call.value(0);
                g.lock().unwrap().push(Got {
                    user: text(m, "user"),
                    text: text(m, "text"),
                    system: m.get("system").and_then(Value::as_bool).unwrap_or(false),
                    pos: pos(call.value(1)),
                });
                async { Ok(Value::Undefined) }
            })
            .method("recovery", move |call: Call| {
                r.lock().unwrap().push(call.value(0).clone());
                async { Ok(Value::Undefined) }
            })
            .build()
            .unwrap();
        let client = Client::builder(url)
            .codecs([codec])
            .expose(api)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Member {
            client,
            got,
            recovery,
        }
    }

    /// The chat messages (not the joins and leaves) received so far.
    pub fn chat(&self) -> Vec<Got> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| !g.system)
            .cloned()
            .collect()
    }

    /// `members()`, sorted.
    pub async fn members(&self) -> Vec<String> {
        let mut m: Vec<String> = self.client.call("members", ()).await.unwrap();
        m.sort();
        m
    }

    /// `send(text)`.
    pub async fn send(&self, text: &str) {
        let _: Value = self.client.call("send", (text,)).await.unwrap();
    }
}

/// Wait until `f` holds, polling every 20 ms, for at most `limit`; panics with `what`.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

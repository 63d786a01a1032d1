//! The demo server as a person and as a JS program meet it: `polycodec serve` on a free
//! port, a headless Chromium (Debian's, driven by playwright-core) running two chat pages,
//! and the real npm `kkrpc@0.2.2` client joining a room. `scripts/test` installs Chromium and
//! the npm packages when they are missing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    base: String,
    // Kept open: the server may print more.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Server {
    let root = &crate::common::repo_root();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polycodec"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start polycodec serve");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    // "polycodec serving http://127.0.0.1:PORT/ (chat page), ..."
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address line")
        .trim_end_matches('/')
        .to_owned();
    Server {
        child,
        base,
        _stdout: stdout,
    }
}

fn node(script: &str, args: &[&str]) -> (bool, String, String) {
    let root = &crate::common::repo_root();
    assert!(
        root.join("node_modules/playwright-core").exists(),
        "run scripts/test (npm ci)"
    );
    let out = Command::new("node")
        .arg(root.join("js").join(script))
        .args(args)
        .current_dir(root)
        .output()
        .expect("node");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn two_browser_pages_chat_in_one_room_and_a_screenshot_is_written() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: scripts/test installs Debian's chromium"
    );
    let server = serve(&[]);
    let shot = crate::common::repo_root().join("target/chat-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let (ok, out, err) = node(
        "browser-chat-test.mjs",
        &[&server.base, shot.to_str().unwrap()],
    );
    assert!(ok, "browser test failed:\n{out}\n{err}");
    assert!(out.contains("\"failed\":[]"), "{out}");
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "no screenshot"
    );
}

pub fn kkrpc_0_2_2_client_joins_a_chat_room_and_receives_broadcasts() {
    let server = serve(&[]);
    let ws = server.base.replace("http://", "ws://");
    let (ok, out, err) = node("kkrpc-chat-client.mjs", &[&ws, "kkrpc-room"]);
    assert!(ok, "kkrpc chat client failed:\n{out}\n{err}");
}

pub fn with_a_token_the_page_routes_still_load_but_upgrades_need_it() {
    let server = serve(&["--token", "s3cret"]);
    let ws = server.base.replace("http://", "ws://");
    // The page itself is plain HTTP (with CORS headers); sockets without the token get 401.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let err = polycodec::rpc::Client::connect(format!("{ws}/rpc"))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                polycodec::rpc::Error::Connect {
                    status: Some(401),
                    ..
                }
            ),
            "{err}"
        );
        let ok = polycodec::rpc::Client::connect(format!("{ws}/rpc?token=s3cret"))
            .await
            .unwrap();
        let v: f64 = ok.call("add", (1, 2)).await.unwrap();
        assert_eq!(v, 3.0);
        let err = polycodec::rpc::Client::connect(format!("{ws}/chat/x?username=a"))
            .await
            .err()
            .unwrap();
        assert!(matches!(
            err,
            polycodec::rpc::Error::Connect {
                status: Some(401),
                ..
            }
        ));
    });
}

pub fn cors_headers_are_on_http_routes_and_never_on_the_upgrade() {
    use std::io::{Read, Write};
    let server = serve(&[]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let raw = |req: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_lowercase()
    };
    let health = raw("GET /health HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere.test\r\nConnection: close\r\n\r\n");
    assert!(health.starts_with("http/1.1 200"), "{health}");
    assert!(
        health.contains("access-control-allow-origin: *"),
        "{health}"
    );
    let upgrade = raw(
        "GET /rpc HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere.test\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(upgrade.starts_with("http/1.1 101"), "{upgrade}");
    assert!(!upgrade.contains("access-control"), "{upgrade}");
}

//! A real `redis-server` for the cluster tests: its own temporary directory and unix
//! socket (no port to collide on), no persistence, stopped (and its directory removed) on
//! drop, panics included. `scripts/test` installs Debian's `redis-server` when it is
//! missing; `POLYCODEC_REDIS_SERVER` names another binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    /// Its unix socket.
    pub sock: PathBuf,
    extra: Vec<String>,
}

/// The `redis-server` binary, or why there is none.
pub fn binary() -> Result<String, String> {
    let bin = std::env::var("POLYCODEC_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(bin),
        _ => Err(format!(
            "{bin} is missing: run scripts/test (it installs Debian's redis-server)"
        )),
    }
}

impl RedisServer {
    /// Start one (panics, naming `scripts/test`, when `redis-server` is missing).
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Start one with extra `--name value` settings.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("polycodec-redis-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut server = RedisServer {
            child: None,
            sock: dir.join("redis.sock"),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.restart();
        server
    }

    /// `unix://…` for `--redis`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// Start it again (after [`RedisServer::kill`]) on the same socket: a new `run_id`,
    /// and no keys (no persistence).
    pub fn restart(&mut self) {
        self.kill();
        let bin = binary().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(bin)
            .args(["--port", "0", "--unixsocket"])
            .arg(&self.sock)
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send it a signal (`STOP`: hung, not dead; `CONT`).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid}");
    }

    /// `kill -9` it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.sock);
    }

    /// One command, its reply's first line (`+OK`, `:3`, `$5` …), or None if unreachable.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut s = UnixStream::connect(&self.sock).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = vec![0u8; 64 * 1024];
        let n = s.read(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        Some(text.trim_end().to_owned())
    }

    /// The full reply text of one command (for `INFO`, `CLIENT LIST`).
    pub fn text(&self, args: &[&str]) -> String {
        self.command(args).unwrap_or_default()
    }

    /// Redis's own CPU time so far (user + system), from `INFO cpu`.
    pub fn cpu_seconds(&self) -> f64 {
        let info = self.text(&["INFO", "cpu"]);
        ["used_cpu_sys:", "used_cpu_user:"]
            .iter()
            .filter_map(|k| {
                info.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .sum()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

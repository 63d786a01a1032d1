//! The servers under test, each its own process: polycodec nodes (this bench binary run
//! again with `--fanout-node`), Socket.IO on node, Hono and Bun's `publish` on Bun. Also
//! the CPU time of a process, from /proc, and the npm installs the anchors need.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A server process (killed on drop) and the port it listens on.
pub struct Server {
    child: tokio::process::Child,
    /// Its pid, for its CPU time.
    pub pid: u32,
    /// Its port on 127.0.0.1.
    pub port: u16,
    // Kept open: a server whose stdout closed could fail on its next write.
    _stdout: BufReader<tokio::process::ChildStdout>,
}

impl Server {
    /// Start `program args…` and wait for its `listening PORT` line.
    pub async fn start(program: &Path, args: &[String]) -> Result<Server, String> {
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        let pid = child.id().unwrap_or(0);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(30), out.read_line(&mut line)).await;
        let port = match read {
            Ok(Ok(_)) => line
                .trim()
                .strip_prefix("listening ")
                .and_then(|p| p.parse().ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.start_kill();
            return Err(format!(
                "{} {args:?} did not say `listening PORT` (it said {line:?})",
                program.display()
            ));
        };
        Ok(Server {
            child,
            pid,
            port,
            _stdout: out,
        })
    }

    /// Its CPU seconds so far.
    pub fn cpu(&self) -> f64 {
        cpu_of(&self.pid.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// CPU seconds (user + system, all threads) of `/proc/<pid>` (`self` for this process).
pub fn cpu_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime, in ticks of 10 ms) are the 12th and 13th after the
    // command name.
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the anchors run on, or why one cannot run.
pub struct Anchors {
    /// `node`, with Socket.IO and its Redis adapter installed in `benches/fanout`.
    pub node: Result<String, String>,
    /// Bun's binary, with Hono installed in `benches/fanout`.
    pub bun: Result<PathBuf, String>,
}

fn version(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `npm ci` in `dir` (relative to the root: the message may end up in the report).
fn npm_ci(dir: &str) -> Result<(), String> {
    eprintln!("fanout: npm ci in {dir}");
    let ok = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(root().join(dir))
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
        .ok_or_else(|| format!("npm ci failed in {dir}"))
}

/// Install the anchors' packages when missing (pinned by their lock files); each anchor
/// that cannot run says why.
pub fn anchors() -> Anchors {
    let dir = root().join("benches/fanout");
    let node = match version(Path::new("node")) {
        None => Err("node is not installed".to_owned()),
        Some(v) => {
            let have = |p: &str| dir.join("node_modules").join(p).is_dir();
            if !(have("socket.io") && have("@socket.io/redis-adapter") && have("hono")) {
                npm_ci("benches/fanout").map(|()| v)
            } else {
                Ok(v)
            }
        }
    };
    let bun_dir = root().join("benches/compare/bun");
    let bun = bun_dir.join("node_modules/.bin/bun");
    if version(&bun).is_none() {
        let _ = npm_ci("benches/compare/bun");
    }
    let bun = match (&node, version(&bun)) {
        (Err(e), _) => Err(format!("Hono's packages: {e}")),
        (_, None) => Err("Bun could not be installed from npm (benches/compare/bun)".into()),
        (Ok(_), Some(_)) => Ok(bun),
    };
    Anchors { node, bun }
}

/// Bun's version, for the report.
pub fn bun_version(bun: &Path) -> String {
    version(bun).unwrap_or_default()
}

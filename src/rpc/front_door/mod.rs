//! The front door: what guards a server before a WebSocket is open. [`Limits`](crate::Limits)
//! guard everything after (message size, depth, rate, queue); [`FrontDoor`] guards the
//! door: how long a client may take to send its request and to complete the WebSocket
//! handshake, how long an idle HTTP connection stays, how many connections the process and
//! one address may hold, how fast one address may open them, how large a request may be, and
//! how long a shutdown waits for calls in flight.
//!
//! One config, read in two places:
//!
//! * the **listener**, [`serve`] (a drop-in for `axum::serve`): it owns the accept loop and
//!   each HTTP connection, so it enforces what only the socket can see: the request-head,
//!   request-body and keep-alive timeouts, header and body sizes, the process-wide cap on TCP connections (and
//!   an optional per-address one), and the drain of HTTP connections at shutdown;
//! * the **handler**, [`RpcServerBuilder::front_door`](super::RpcServerBuilder::front_door)
//!   (works in any axum app, served by [`serve`] or by `axum::serve`): it decides each
//!   upgrade, so it enforces the cap on this endpoint's WebSockets (503 before upgrading), the
//!   per-client caps (429, the client's address taken from `X-Forwarded-For` only behind the
//!   configured proxies), the WebSocket handshake timeout, and the drain of RPC calls.

mod gate;
mod ip;
mod listen;

pub(crate) use gate::{handshake_watch, Admission, Gate};
pub use listen::{serve, Serve};

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// The front door's settings: timeouts, connection caps, per-client limits and HTTP sizes.
/// Each setter states its default and which side reads it (the listener, [`serve`]; the
/// handler, [`RpcServerBuilder::front_door`](super::RpcServerBuilder::front_door); or both).
///
/// ```
/// use polycodec::rpc::FrontDoor;
/// use std::time::Duration;
/// let door = FrontDoor::new()
///     .header_timeout(Duration::from_secs(5))
///     .max_connections(20_000)
///     .max_connections_per_ip(64)
///     .trusted_proxies(["10.0.0.0/8".parse().unwrap()]);
/// assert_eq!(door.connection_cap(), 20_000);
/// ```
#[derive(Clone, Debug)]
pub struct FrontDoor {
    pub(crate) header_timeout: Option<Duration>,
    pub(crate) body_timeout: Option<Duration>,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_ip: Option<usize>,
    pub(crate) upgrades_per_ip_per_second: Option<f64>,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_body_bytes: usize,
    pub(crate) grace: Duration,
    pub(crate) retry_after: Duration,
    pub(crate) trusted_proxies: Vec<TrustedProxy>,
}

impl Default for FrontDoor {
    fn default() -> FrontDoor {
        FrontDoor {
            header_timeout: Some(Duration::from_secs(10)),
            body_timeout: Some(Duration::from_secs(30)),
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            max_connections: None,
            max_connections_per_ip: None,
            upgrades_per_ip_per_second: None,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 2 * 1024 * 1024,
            grace: Duration::from_secs(10),
            retry_after: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The default connection cap is the open-file limit less this share of it (at least
/// [`FD_RESERVE_MIN`]), for the listener, files, logs and the answers to connections beyond
/// the cap.
const FD_RESERVE_DIVISOR: u64 = 8;
const FD_RESERVE_MIN: u64 = 64;

impl FrontDoor {
    /// Every default (the same as `FrontDoor::default()`).
    pub fn new() -> FrontDoor {
        FrontDoor::default()
    }

    /// The most a client may take, from the connection's start (or the first byte of a
    /// later request on a kept-alive connection), to send a request's line and headers. Past
    /// it the connection is closed: with `408 Request Timeout` when some of the request came,
    /// silently when nothing did. `None` turns it off. Default: 10 s. Listener.
    pub fn header_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.header_timeout = timeout.into();
        self
    }

    /// The most a request's body may keep its handler waiting, in all: the times the
    /// handler waits for body bytes that have not come yet, added up over the body, so a body
    /// trickled a byte at a time runs it out however the bytes are spaced. Past it the
    /// connection is closed with `408 Request Timeout` (silently when the response has
    /// already begun). The handler's own time (before it reads the body, between reads, a
    /// queue in front of it) does not count. `None` turns it off. Default: 30 s (2 MiB, the
    /// default body limit, at 70 KB/s). Listener.
    pub fn body_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.body_timeout = timeout.into();
        self
    }

    /// The most a WebSocket may take, from the upgrade, to exchange a first frame: any frame
    /// from the peer counts (a call, a pong, a close). A peer still silent at half the time
    /// is sent one ping, which every WebSocket stack answers with a pong on its own (browsers
    /// included), so a peer that only listens passes; one that answers nothing by the end is
    /// closed with 1001, as the heartbeat closes a peer that stopped answering (after the 101
    /// no HTTP status is possible). `None` turns it off. Default: 10 s. Handler.
    pub fn handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.handshake_timeout = timeout.into();
        self
    }

    /// How long a kept-alive HTTP connection may wait, idle, for its next request; then it
    /// is closed (silently: no request is waiting for an answer). `None` turns it off.
    /// Default: 60 s. Listener.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// The most connections at once. The listener counts TCP connections (HTTP and
    /// upgraded): beyond the cap a new connection is answered `503 Service Unavailable` with
    /// `Retry-After` and closed, and connections already open are untouched. The handler
    /// counts this endpoint's WebSockets: beyond the cap an upgrade is answered 503 with
    /// `Retry-After` before upgrading. Default: the open-file limit read at start
    /// (`RLIMIT_NOFILE`) less an eighth of it (at least 64) kept for files, logs and those
    /// 503 answers, and at most 16,384 (above the 10,000-connection load test); see
    /// [`FrontDoor::connection_cap`]. Both.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// The most connections at once from one client address (IPv6: one /64). The listener
    /// counts TCP connections by their socket address (but not those of a trusted proxy); the
    /// handler counts this endpoint's WebSockets by client address (see
    /// [`FrontDoor::trusted_proxies`]). Beyond it: `429 Too Many Requests` with
    /// `Retry-After`. `None` turns it off. Default: off (behind a load balancer every client
    /// has its address: turn it on with the proxy trusted). Both.
    pub fn max_connections_per_ip(mut self, max: impl Into<Option<usize>>) -> Self {
        self.max_connections_per_ip = max.into().map(|m| m.max(1));
        self
    }

    /// The most WebSocket upgrades per second from one client address (a token bucket:
    /// this many per second sustained, as many at once, at least one). Beyond it: 429 with
    /// `Retry-After`. `None` turns it off. Default: off. Handler.
    pub fn upgrades_per_ip_per_second(mut self, rate: impl Into<Option<f64>>) -> Self {
        self.upgrades_per_ip_per_second = rate.into().filter(|r| r.is_finite() && *r > 0.0);
        self
    }

    /// The most bytes a request's line and headers may take: beyond it the request is
    /// answered `431 Request Header Fields Too Large` and the connection closed (at most 100
    /// headers, hyper's own bound). Default: 16 KiB. Listener.
    pub fn max_header_bytes(mut self, max: usize) -> Self {
        self.max_header_bytes = max.max(1024);
        self
    }

    /// The most bytes of a request body, on every HTTP route: a request that declares more
    /// (`Content-Length`) is answered `413 Payload Too Large` before the router sees it; a
    /// body that turns out larger fails to read, which axum's body extractors answer with
    /// 413 too. Default: 2 MiB (axum's `DefaultBodyLimit`). Listener.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// How long a graceful shutdown waits for calls in flight (the handler, see
    /// [`RpcServer::drain`](super::RpcServer::drain)) and for HTTP requests in flight (the
    /// listener, which then gives WebSockets up to 5 s more for their close handshakes before
    /// it returns). Default: 10 s. Both.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The `Retry-After` a refused connection or upgrade is given (a 503 past the connection
    /// cap, a 429 past the per-client cap; a 429 past the upgrade rate says when the next
    /// token comes instead), in whole seconds, at least 1. Default: 5 s. Both.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// The proxies whose `X-Forwarded-For` is believed. A request whose socket comes from one
    /// of them is counted under the client address the header names: the right-most address
    /// in it that is not a trusted proxy (each proxy appends the address it was connected
    /// from; what is left of that, the client wrote itself). A request from any other socket
    /// is counted under its socket address, whatever its headers say. Default: none (the
    /// header is never read). Handler (and the listener exempts these sockets from its
    /// per-address cap).
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = TrustedProxy>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The connection cap in force: the one set with [`FrontDoor::max_connections`], or the
    /// default derived from the open-file limit (read now).
    pub fn connection_cap(&self) -> usize {
        self.max_connections
            .unwrap_or_else(|| default_connection_cap(open_file_limit()).0)
    }

    /// The connection cap and a sentence for the log saying where it comes from.
    pub(crate) fn connection_cap_explained(&self) -> (usize, String) {
        match self.max_connections {
            Some(n) => (n, format!("at most {n} connections (set)")),
            None => {
                let limit = open_file_limit();
                let (n, why) = default_connection_cap(limit);
                (n, format!("at most {n} connections ({why})"))
            }
        }
    }

    pub(crate) fn retry_after_secs(&self) -> u64 {
        retry_secs(self.retry_after)
    }
}

/// Refusals, logged at info at most once per [`RefusalLog::EVERY`] (saying how many there
/// were), each one at debug: a flood must not flood the log (nor block a server whose log
/// goes to a pipe nobody reads).
pub(crate) struct RefusalLog {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    since: std::sync::atomic::AtomicU64,
}

impl RefusalLog {
    const EVERY: Duration = Duration::from_secs(10);

    pub(crate) fn new() -> RefusalLog {
        RefusalLog {
            last: std::sync::Mutex::new(None),
            since: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// One refusal, of `what` (a connection or an upgrade), because of `why`.
    pub(crate) fn note(&self, what: &str, why: &str, client: Option<IpAddr>) {
        use std::sync::atomic::Ordering;
        let n = self.since.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            *last = Some(std::time::Instant::now());
            self.since.store(0, Ordering::Relaxed);
            tracing::info!(refused = n, "{what} refused: {why} (logged once per 10 s)");
        } else {
            tracing::debug!(client = ?client, "{what} refused: {why}");
        }
    }
}

/// `d` in whole seconds, rounded up, at least 1 (what a `Retry-After` header holds).
pub(crate) fn retry_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// The highest default connection cap: above the 10,000-connection load test, and about
/// 250 MB of idle WebSockets (15.5 KB each, as measured).
pub(crate) const DEFAULT_CAP_CEILING: usize = 16_384;

/// The soft open-file limit of this process, when the platform has one.
pub(crate) fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The default connection cap for an open-file limit, and why, in words.
pub(crate) fn default_connection_cap(limit: Option<u64>) -> (usize, String) {
    let ceiling = DEFAULT_CAP_CEILING as u64;
    match limit {
        Some(limit) if limit != u64::MAX => {
            let reserve = (limit / FD_RESERVE_DIVISOR).max(FD_RESERVE_MIN);
            let room = limit.saturating_sub(reserve).max(1);
            let cap = room.min(ceiling);
            let why = if room < ceiling {
                format!(
                    "the open-file limit is {limit}; {reserve} of it kept for files, logs and \
                     refusals; raise `ulimit -n` for more"
                )
            } else {
                format!(
                    "the default ceiling; the open-file limit of {limit} would allow {room} \
                     with {reserve} kept"
                )
            };
            (cap as usize, why)
        }
        _ => (
            DEFAULT_CAP_CEILING,
            "the default ceiling; the open-file limit is unlimited or unknown".into(),
        ),
    }
}

/// A proxy (one address, or a network in CIDR notation) whose `X-Forwarded-For` header is
/// believed: see [`FrontDoor::trusted_proxies`]. Parsed from `"10.0.0.7"`, `"10.0.0.0/8"`,
/// `"::1"` or `"fd00::/8"`; IPv4 addresses mapped into IPv6 (`::ffff:10.0.0.7`, what a
/// dual-stack socket reports) match their IPv4 form.
///
/// ```
/// use polycodec::rpc::TrustedProxy;
/// let lan: TrustedProxy = "10.0.0.0/8".parse().unwrap();
/// assert!(lan.contains("10.1.2.3".parse().unwrap()));
/// assert!(!lan.contains("192.168.0.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    net: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// True when `ip` is this proxy (or in this network).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// True when the first `bits` bits of `a` and `b` are equal.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

impl From<IpAddr> for TrustedProxy {
    fn from(ip: IpAddr) -> TrustedProxy {
        let ip = ip.to_canonical();
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        TrustedProxy { net: ip, prefix }
    }
}

impl FromStr for TrustedProxy {
    type Err = ParseProxyError;

    fn from_str(s: &str) -> Result<TrustedProxy, ParseProxyError> {
        let bad = || ParseProxyError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let mut proxy = TrustedProxy::from(ip);
        if let Some(p) = prefix {
            // A prefix is counted on the address as written (`::ffff:10.0.0.0/104` is IPv6).
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let p: u8 = p.parse().map_err(|_| bad())?;
            if p > max {
                return Err(bad());
            }
            proxy = match (ip, ip.to_canonical()) {
                (IpAddr::V6(_), IpAddr::V4(v4)) if p >= 96 => TrustedProxy {
                    net: IpAddr::V4(v4),
                    prefix: p - 96,
                },
                _ => TrustedProxy { net: ip, prefix: p },
            };
        }
        Ok(proxy)
    }
}

/// A trusted proxy that is no IP address or CIDR network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseProxyError(String);

impl std::fmt::Display for ParseProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is no IP address or network (write 10.0.0.7, 10.0.0.0/8, ::1 or fd00::/8)",
            self.0
        )
    }
}

impl std::error::Error for ParseProxyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_stays_below_the_open_file_limit_and_above_the_load_test() {
        // This machine's kind of limit: the ceiling, above 10,000.
        assert_eq!(default_connection_cap(Some(20_000)).0, 16_384);
        assert!(default_connection_cap(Some(20_000)).0 > 10_000);
        // A small limit: below it, with room kept.
        assert_eq!(default_connection_cap(Some(1024)).0, 896);
        assert_eq!(default_connection_cap(Some(256)).0, 192);
        assert_eq!(default_connection_cap(Some(10)).0, 1);
        assert_eq!(default_connection_cap(None).0, 16_384);
        assert_eq!(default_connection_cap(Some(u64::MAX)).0, 16_384);
        assert!(default_connection_cap(Some(1024)).1.contains("1024"));
    }

    #[test]
    fn trusted_proxies_parse_and_match() {
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let net: TrustedProxy = "172.16.0.0/12".parse().unwrap();
        assert!(net.contains("172.31.255.1".parse().unwrap()));
        assert!(!net.contains("172.32.0.1".parse().unwrap()));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let mapped: TrustedProxy = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains("10.9.9.9".parse().unwrap()));
        let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "localhost",
            "10.0.0.0/x",
            "10.0.0/8",
        ] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(retry_secs(Duration::ZERO), 1);
        assert_eq!(retry_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_secs(Duration::from_secs(5)), 5);
    }
}

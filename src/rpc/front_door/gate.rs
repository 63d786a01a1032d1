//! The handler's side of the front door: which upgrades may happen (the endpoint's cap, the
//! per-client caps, the drain), and the WebSocket handshake timeout after an upgrade.

use super::ip::{client_ip, IpPermit, PerIp, UpgradeRate};
use super::{retry_secs, FrontDoor, RefusalLog};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The admission state of one endpoint: its WebSockets, per client, and whether it drains.
pub(crate) struct Gate {
    door: FrontDoor,
    cap: usize,
    slots: Arc<Semaphore>,
    per_ip: Option<Arc<PerIp>>,
    rate: Option<UpgradeRate>,
    closed: AtomicBool,
    /// Said once: per-client limits are configured but requests carry no peer address.
    warned_no_peer: AtomicBool,
    log: RefusalLog,
}

/// What an admitted upgrade holds while its connection lives; released on drop.
pub(crate) struct Admission {
    _slot: OwnedSemaphorePermit,
    _ip: Option<IpPermit>,
}

impl Gate {
    pub(crate) fn new(door: FrontDoor) -> Gate {
        let (cap, why) = door.connection_cap_explained();
        tracing::debug!("WebSocket endpoint: {why}");
        Gate {
            cap,
            slots: Arc::new(Semaphore::new(cap.min(Semaphore::MAX_PERMITS))),
            per_ip: door.max_connections_per_ip.map(PerIp::new),
            rate: door.upgrades_per_ip_per_second.map(UpgradeRate::new),
            closed: AtomicBool::new(false),
            warned_no_peer: AtomicBool::new(false),
            log: RefusalLog::new(),
            door,
        }
    }

    /// The WebSocket handshake timeout.
    pub(crate) fn handshake_timeout(&self) -> Option<Duration> {
        self.door.handshake_timeout.filter(|t| !t.is_zero())
    }

    /// The client a request comes from (see [`FrontDoor::trusted_proxies`]), when the peer's
    /// socket address is known.
    pub(crate) fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        let xff = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Some(client_ip(peer, xff, &self.door.trusted_proxies))
    }

    /// Admit an upgrade from `peer` (the socket's address, when known), or the response that
    /// refuses it: 503 while draining or past the endpoint's cap, 429 past a per-client
    /// limit; each with `Retry-After`.
    pub(crate) fn admit(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Admission, Refusal> {
        let retry = self.door.retry_after_secs();
        if self.closed.load(Ordering::Acquire) {
            self.log.note("upgrade", "draining", None);
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                retry,
                "the server is shutting down",
            ));
        }
        let client = self.client(peer, headers);
        let per_client = self.rate.is_some() || self.per_ip.is_some();
        if per_client && client.is_none() && !self.warned_no_peer.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "per-client limits are set but requests carry no peer address: serve with \
                 polycodec::rpc::serve, or axum's into_make_service_with_connect_info::<SocketAddr>()"
            );
        }
        if let (Some(rate), Some(ip)) = (&self.rate, client) {
            if let Err(wait) = rate.check(ip, Instant::now()) {
                self.log
                    .note("upgrade", "upgrade rate per address", Some(ip));
                return Err(refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    retry_secs(wait),
                    "too many upgrades from your address; slow down",
                ));
            }
        }
        let ip_permit = match (&self.per_ip, client) {
            (Some(per_ip), Some(ip)) => match per_ip.try_take(ip) {
                Some(p) => Some(p),
                None => {
                    self.log
                        .note("upgrade", "connections per address", Some(ip));
                    return Err(refusal(
                        StatusCode::TOO_MANY_REQUESTS,
                        retry,
                        "too many connections from your address",
                    ));
                }
            },
            _ => None,
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            self.log.note("upgrade", "connection cap", client);
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                retry,
                &format!("the server is at its cap of {} connections", self.cap),
            ));
        };
        Ok(Admission {
            _slot: slot,
            _ip: ip_permit,
        })
    }

    /// Refuse every upgrade from now on (a drain began).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// Why an upgrade is refused: answered with `status`, `Retry-After` and `why` as plain text.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: u64,
    pub(crate) why: String,
}

fn refusal(status: StatusCode, retry_after: u64, why: &str) -> Refusal {
    Refusal {
        status,
        retry_after,
        why: why.to_owned(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut res = (self.status, format!("{}\n", self.why)).into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        res
    }
}

/// The handshake timeout of one WebSocket: at half `timeout`, a peer not `heard` from yet is
/// sent a `ping` (its WebSocket stack answers with a pong, which counts); at `timeout`, one
/// still not heard from is `close`d. Run it in a task and abort it when the connection ends.
pub(crate) async fn handshake_watch(
    timeout: Duration,
    heard: impl Fn() -> bool,
    ping: impl FnOnce(),
    close: impl FnOnce(),
) {
    let half = timeout / 2;
    tokio::time::sleep(half).await;
    if heard() {
        return;
    }
    ping();
    tokio::time::sleep(timeout - half).await;
    if !heard() {
        close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn status(r: Result<Admission, Refusal>) -> (u16, Option<String>) {
        match r {
            Ok(_) => (101, None),
            Err(refused) => {
                let res = refused.into_response();
                let retry = res.headers().get("retry-after");
                let retry = retry.map(|v| v.to_str().unwrap().to_owned());
                (res.status().as_u16(), retry)
            }
        }
    }

    #[test]
    fn the_cap_refuses_with_503_and_frees_on_drop() {
        let gate = Gate::new(FrontDoor::new().max_connections(2));
        let h = HeaderMap::new();
        let a = gate.admit(ip("127.0.0.1"), &h).unwrap();
        let _b = gate.admit(None, &h).unwrap();
        assert_eq!(
            status(gate.admit(ip("127.0.0.1"), &h)),
            (503, Some("5".into()))
        );
        drop(a);
        assert!(gate.admit(ip("127.0.0.1"), &h).is_ok());
        gate.close();
        assert_eq!(status(gate.admit(ip("127.0.0.9"), &h)).0, 503);
    }

    #[test]
    fn per_client_caps_answer_429_and_read_the_header_only_behind_a_proxy() {
        let door = FrontDoor::new()
            .max_connections_per_ip(1)
            .trusted_proxies(["10.0.0.1".parse().unwrap()])
            .retry_after(Duration::from_secs(3));
        let gate = Gate::new(door);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        let _a = gate.admit(ip("127.0.0.2"), &h).unwrap();
        assert_eq!(
            status(gate.admit(ip("127.0.0.2"), &h)),
            (429, Some("3".into()))
        );
        // Through the proxy: two clients, one each.
        let _p1 = gate.admit(ip("10.0.0.1"), &h).unwrap();
        assert_eq!(status(gate.admit(ip("10.0.0.1"), &h)).0, 429);
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.2"));
        assert!(gate.admit(ip("10.0.0.1"), &h).is_ok());
        // The same header from an untrusted socket counts that socket.
        assert!(gate.admit(ip("127.0.0.3"), &h).is_ok());
        // No peer address: per-client limits cannot apply; the upgrade goes on.
        assert!(gate.admit(None, &h).is_ok());
        assert!(gate.admit(None, &h).is_ok());
    }

    #[test]
    fn the_upgrade_rate_answers_429_with_the_wait() {
        let gate = Gate::new(FrontDoor::new().upgrades_per_ip_per_second(0.5));
        let h = HeaderMap::new();
        let _a = gate.admit(ip("127.0.0.2"), &h).unwrap();
        assert_eq!(
            status(gate.admit(ip("127.0.0.2"), &h)),
            (429, Some("2".into()))
        );
        assert!(gate.admit(ip("127.0.0.3"), &h).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_handshake_pings_a_silent_peer_then_closes_it() {
        use std::sync::atomic::AtomicU8;
        let t = Duration::from_secs(10);
        // Silent: pinged, then closed.
        let seen = Arc::new(AtomicU8::new(0));
        let (p, c) = (seen.clone(), seen.clone());
        handshake_watch(
            t,
            || false,
            move || {
                p.fetch_or(1, Ordering::Relaxed);
            },
            move || {
                c.fetch_or(2, Ordering::Relaxed);
            },
        )
        .await;
        assert_eq!(seen.load(Ordering::Relaxed), 3);
        // Answers the ping: pinged, kept.
        let heard = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicU8::new(0));
        let (p, c, h) = (seen.clone(), seen.clone(), heard.clone());
        handshake_watch(
            t,
            || h.load(Ordering::Relaxed),
            move || {
                p.fetch_or(1, Ordering::Relaxed);
                heard.store(true, Ordering::Relaxed);
            },
            move || {
                c.fetch_or(2, Ordering::Relaxed);
            },
        )
        .await;
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        // Spoke first: no ping at all.
        let seen = Arc::new(AtomicU8::new(0));
        let (p, c) = (seen.clone(), seen.clone());
        handshake_watch(
            t,
            || true,
            move || {
                p.fetch_or(1, Ordering::Relaxed);
            },
            move || {
                c.fetch_or(2, Ordering::Relaxed);
            },
        )
        .await;
        assert_eq!(seen.load(Ordering::Relaxed), 0);
    }
}

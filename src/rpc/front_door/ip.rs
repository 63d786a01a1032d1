//! Per-client bookkeeping, free of I/O: which address a request comes from, how many
//! connections each address holds, and how fast each opens them.

use super::TrustedProxy;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client a request comes from: `peer` (the socket's address) unless `peer` is a trusted
/// proxy; then the right-most address in `forwarded_for` (the `X-Forwarded-For` values, in
/// header order) that is not a trusted proxy. Each proxy appends the address it was
/// connected from, so what stands right of the first untrusted address was written by
/// trusted proxies, and what stands left of it by the client, who may write anything.
/// When every address is trusted, the left-most is the client; when the header is missing
/// or an entry is no address, the client is unknown and `peer` it stays.
pub(crate) fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[TrustedProxy],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded(entry) else {
            return peer;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    let ip = e
        .parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))?;
    Some(ip.to_canonical())
}

/// The key a client is counted under: its IPv4 address, or its IPv6 /64 (one subscriber's
/// allocation: per address, an IPv6 client could take a fresh one for each connection).
pub(crate) fn ip_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Connections held per client key, up to `max` each.
pub(crate) struct PerIp {
    max: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted for a client; released on drop.
pub(crate) struct IpPermit {
    owner: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    pub(crate) fn new(max: usize) -> Arc<PerIp> {
        Arc::new(PerIp {
            max,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// Count one more connection for `ip`, or `None` when it already holds `max`.
    pub(crate) fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<IpPermit> {
        let key = ip_key(ip);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpPermit {
            owner: self.clone(),
            key,
        })
    }

    /// How many connections `ip` holds.
    #[cfg(test)]
    pub(crate) fn held(&self, ip: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&ip_key(ip)).copied().unwrap_or(0)
    }

    /// How many clients hold a connection (an address that holds none takes no memory).
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut held = self.owner.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Upgrades per second per client key: a token bucket each, `rate` per second sustained and
/// as many (at least one) at once. A bucket that has filled up again is forgotten, so the
/// table holds only the clients of the last few seconds.
pub(crate) struct UpgradeRate {
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    by_key: HashMap<IpAddr, (f64, Instant)>,
    /// Sweep full buckets out once the table is this large, or at this time (by when every
    /// bucket of the last sweep has refilled).
    sweep_at: usize,
    sweep_by: Instant,
}

const SWEEP_MIN: usize = 1024;

impl UpgradeRate {
    pub(crate) fn new(rate: f64) -> UpgradeRate {
        UpgradeRate {
            rate,
            burst: rate.ceil().max(1.0),
            buckets: Mutex::new(Buckets {
                by_key: HashMap::new(),
                sweep_at: SWEEP_MIN,
                sweep_by: Instant::now(),
            }),
        }
    }

    /// Take a token for an upgrade from `ip` at `now`; `Err(wait)` says how long until the
    /// next token.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = ip_key(ip);
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.by_key.len() >= b.sweep_at || (now >= b.sweep_by && !b.by_key.is_empty()) {
            let (rate, burst) = (self.rate, self.burst);
            b.by_key.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
            b.sweep_at = (b.by_key.len() * 2).max(SWEEP_MIN);
            // At most one timed sweep per refill time (at least a second apart).
            b.sweep_by = now + Duration::from_secs_f64((burst / rate).max(1.0));
        }
        let (tokens, at) = b.by_key.entry(key).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // An untrusted socket: its address, whatever it claims.
        let got = client_ip(ip("203.0.113.9"), ["1.1.1.1"].into_iter(), &trusted);
        assert_eq!(got, ip("203.0.113.9"));
        // No proxies configured: the header is never read.
        let got = client_ip(ip("10.0.0.1"), ["1.1.1.1"].into_iter(), &[]);
        assert_eq!(got, ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged "6.6.6.6"; the edge proxy appended what it saw.
        let xff = ["6.6.6.6, 198.51.100.7", "10.1.1.1"];
        let got = client_ip(ip("192.0.2.1"), xff.into_iter(), &trusted);
        assert_eq!(got, ip("198.51.100.7"));
        // Every hop trusted: the left-most.
        let got = client_ip(ip("10.0.0.2"), ["10.0.0.9, 10.0.0.8"].into_iter(), &trusted);
        assert_eq!(got, ip("10.0.0.9"));
        // No header: the proxy itself.
        let got = client_ip(ip("10.0.0.2"), std::iter::empty(), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
        // An entry that is no address: unknown, so the socket's.
        let got = client_ip(ip("10.0.0.2"), ["1.2.3.4, junk"].into_iter(), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
        // Ports and mapped addresses.
        let got = client_ip(
            ip("::ffff:10.0.0.2"),
            ["198.51.100.7:4431"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("198.51.100.7"));
        let got = client_ip(ip("10.0.0.2"), ["[2001:db8::1]:80"].into_iter(), &trusted);
        assert_eq!(got, ip("2001:db8::1"));
    }

    #[test]
    fn per_ip_counts_release_on_drop_and_forget_idle_clients() {
        let per = PerIp::new(2);
        let a = ip("127.0.0.2");
        let p1 = per.try_take(a).unwrap();
        let p2 = per.try_take(a).unwrap();
        assert!(per.try_take(a).is_none());
        // Another client is counted apart.
        let other = per.try_take(ip("127.0.0.3")).unwrap();
        assert_eq!(per.held(a), 2);
        drop(p1);
        let p3 = per.try_take(a).unwrap();
        drop((p2, p3, other));
        assert_eq!(per.held(a), 0);
        assert_eq!(per.clients(), 0);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let per = PerIp::new(1);
        let _p = per.try_take(ip("2001:db8:1:2::1")).unwrap();
        assert!(per.try_take(ip("2001:db8:1:2::ffff")).is_none());
        assert!(per.try_take(ip("2001:db8:1:3::1")).is_some());
        assert_eq!(ip_key(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }

    #[test]
    fn upgrade_rate_is_a_token_bucket_per_client() {
        let rate = UpgradeRate::new(2.0);
        let t0 = Instant::now();
        let a = ip("127.0.0.2");
        assert!(rate.check(a, t0).is_ok());
        assert!(rate.check(a, t0).is_ok());
        let wait = rate.check(a, t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        // Another client has its own bucket.
        assert!(rate.check(ip("127.0.0.3"), t0).is_ok());
        // Half a second later, one more token.
        assert!(rate.check(a, t0 + Duration::from_millis(500)).is_ok());
        assert!(rate.check(a, t0 + Duration::from_millis(500)).is_err());
        // A slow rate still lets one through at once.
        let slow = UpgradeRate::new(0.1);
        assert!(slow.check(a, t0).is_ok());
        assert!(slow.check(a, t0).unwrap_err() > Duration::from_secs(9));
    }

    #[test]
    fn the_rate_table_forgets_clients_whose_bucket_refilled() {
        let rate = UpgradeRate::new(1.0);
        let t0 = Instant::now();
        for i in 0..5000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
            assert!(rate.check(a, t0).is_ok());
        }
        // Ten seconds later every bucket is full again: the next sweep drops them.
        let later = t0 + Duration::from_secs(10);
        for i in 0..SWEEP_MIN as u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000u32 + i));
            assert!(rate.check(a, later).is_ok());
        }
        assert!(rate.tracked() <= 2 * SWEEP_MIN, "{}", rate.tracked());
    }
}

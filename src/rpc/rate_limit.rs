//! The per-connection rate limit: a token bucket. Pure: an instant in, a verdict out.

use std::time::Instant;

/// Per-connection rate limit: a token bucket refilled at `per_second`, holding at most
/// `burst` tokens. A request without a token gets a `RateLimitedError` reply, except the
/// `close_after`-th in a row: that one closes the connection with 1008 (after the replies
/// already queued). So `close_after` 20 answers 19 refusals and closes at the 20th; 0 and
/// 1 close at the first. Only requests are counted (not callbacks, replies or frames that
/// are no kkrpc message).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: u32,
    /// The over-limit request, counted in a row, that closes the connection (1008).
    pub close_after: u32,
}

/// What the bucket says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A token was taken.
    Allowed,
    /// No token: refuse this request.
    Refused,
    /// No token, and the abuse is repeated: close the connection.
    Close,
}

/// The tokens of one connection.
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
    strikes: u32,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(rate: &RateLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate.burst),
            last: now,
            strikes: 0,
        }
    }

    /// Take a token for one request at `now`.
    pub(crate) fn take(&mut self, rate: &RateLimit, now: Instant) -> Verdict {
        let refill = now.duration_since(self.last).as_secs_f64() * rate.per_second;
        self.tokens = (self.tokens + refill).min(f64::from(rate.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            return Verdict::Allowed;
        }
        self.strikes += 1;
        if self.strikes >= rate.close_after {
            Verdict::Close
        } else {
            Verdict::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refusals_then_close_then_refill() {
        let rate = RateLimit {
            per_second: 10.0,
            burst: 2,
            close_after: 3,
        };
        let t0 = Instant::now();
        let mut b = Bucket::new(&rate, t0);
        assert_eq!(b.take(&rate, t0), Verdict::Allowed);
        assert_eq!(b.take(&rate, t0), Verdict::Allowed);
        assert_eq!(b.take(&rate, t0), Verdict::Refused);
        assert_eq!(b.take(&rate, t0), Verdict::Refused);
        assert_eq!(b.take(&rate, t0), Verdict::Close);
        let later = t0 + Duration::from_millis(100);
        assert_eq!(
            b.take(&rate, later),
            Verdict::Allowed,
            "one token per 100 ms"
        );
        assert_eq!(b.take(&rate, later), Verdict::Refused, "strikes start over");
    }
}

//! Per-IP rate limiting for the public endpoints: a token bucket per client address, kept in
//! memory (a restart forgives everyone, which is fine for a limit against floods).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// How many requests one address may make: `burst` at once, then `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per minute one address may sustain. Defaults to 60.
    #[serde(default = "default_per_minute")]
    pub per_minute: u32,
    /// Requests one address may make at once before it is slowed down. Defaults to 30.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_per_minute() -> u32 {
    60
}

fn default_burst() -> u32 {
    30
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit { per_minute: default_per_minute(), burst: default_burst() }
    }
}

/// The buckets of every address seen lately.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Above this many addresses, full buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    /// A limiter applying `limit`.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `ip`'s bucket at `now`: `Ok` if allowed, else `Err(seconds)`
    /// to wait (the `Retry-After`).
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst.max(1));
        let per_sec = f64::from(self.limit.per_minute.max(1)) / 60.0;
        // A poisoned map only means a panic mid-update: the counts are still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < burst
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit { per_minute: 60, burst: 3 });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        // (address, seconds after t0, expected)
        let cases = [
            (a, 0.0, Ok(())),
            (a, 0.0, Ok(())),
            (a, 0.0, Ok(())),
            (a, 0.0, Err(1)),
            (b, 0.0, Ok(())),
            (a, 0.5, Err(1)),
            (a, 1.0, Ok(())),
            (a, 1.0, Err(1)),
        ];
        for (i, (ip, secs, want)) in cases.into_iter().enumerate() {
            let at = t0 + Duration::from_secs_f64(secs);
            assert_eq!(limiter.check(ip, at), want, "case {i}");
        }
    }
}

//! Request rate limiting per API token: a token bucket per token id, refilled continuously at
//! `per_minute / 60` requests a second up to `burst`. A request that finds the bucket empty is
//! answered 429 `rate_limited` with `Retry-After`.
//!
//! The buckets live in this process: with several instances behind a balancer each enforces its
//! own share (the limit protects the service from a runaway client; it is not an accounting
//! rule, so nothing depends on instances agreeing).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many tokens' buckets are kept before idle ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute sustained, `burst` at once; `per_minute == 0` disables.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket at `now`; `Err(wait)` when it is empty.
    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }

    /// [`check_at`](Self::check_at) now.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(60, 3); // one a second, three at once
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("a", t0).is_ok());
        }
        let wait = limiter.check_at("a", t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another token has its own bucket.
        assert!(limiter.check_at("b", t0).is_ok());
        // A second later one more request is allowed, not two.
        let t1 = t0 + Duration::from_secs(1);
        assert!(limiter.check_at("a", t1).is_ok());
        assert!(limiter.check_at("a", t1).is_err());
        // Idle for a long time refills to the burst, no more.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(limiter.check_at("a", t2).is_ok());
        }
        assert!(limiter.check_at("a", t2).is_err());
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, 1);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.check_at("a", t0).is_ok());
        }
    }

    #[test]
    fn idle_buckets_are_dropped_when_there_are_many() {
        let limiter = RateLimiter::new(60, 2);
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            let _ = limiter.check_at(&i.to_string(), t0);
        }
        let later = t0 + Duration::from_secs(10);
        let _ = limiter.check_at("new", later);
        let kept = limiter.buckets.lock().map(|b| b.len()).unwrap_or(0);
        assert_eq!(kept, 1, "only the fresh bucket stays");
    }
}

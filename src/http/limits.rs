//! Request rate limiting per bucket (an API token; the sign-in form's client address), shared
//! by every instance on the database. A request that finds no allowance is answered 429
//! `rate_limited` with `Retry-After`.
//!
//! Two counts decide:
//!
//! - **The shared allowance**: `per_minute` requests per bucket in each fixed minute of the
//!   clock, counted in the database (`rate_windows`). An instance does not write per request:
//!   it *leases* a chunk ([`RateLimiter::chunk`], a twentieth of the limit, at least 1, at
//!   most 1,000) and serves that many from memory; when a chunk no longer fits it asks for a
//!   single request, and when even that is refused it refuses locally until the minute ends.
//!   Leases are only spent in the minute they were taken for.
//!
//!   The bound, with `n` instances: at most `per_minute` requests of a bucket are served in
//!   one minute of the clock (the database never leases past it), and at least
//!   `per_minute − n × (chunk − 1)` before the first refusal (what other instances still hold
//!   unspent). Like every fixed window, two adjacent minutes may serve up to twice the limit
//!   in the 60 seconds around their boundary. Clocks of the instances should agree (NTP).
//! - **The burst, per instance**: a token bucket of `burst` refilled at `per_minute / 60` a
//!   second, so that a client cannot spend a minute's allowance in one second. Kept in memory:
//!   with `n` instances a client may burst `n × burst` at once, still within the shared limit.
//!
//! `per_minute == 0` disables both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{shared, DbConn, DbError};

/// How many buckets are kept before idle ones are dropped.
const PRUNE_ABOVE: usize = 10_000;
/// The largest chunk an instance leases at once.
const MAX_CHUNK: u32 = 1_000;
/// Seconds in one window of the shared allowance.
const WINDOW_SECS: i64 = 60;

/// One bucket as this instance sees it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The local burst bucket.
    tokens: f64,
    at: Instant,
    /// The minute the lease below belongs to.
    window: i64,
    /// Requests leased for `window` and not yet served.
    leased: u64,
    /// The shared allowance of `window` is spent: refuse without asking again.
    spent: bool,
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    per_second: f64,
    burst: f64,
    slots: Mutex<HashMap<String, Slot>>,
    /// The last minute whose older allowance rows this instance deleted.
    swept: AtomicI64,
}

/// The minute of the clock a Unix time falls in.
fn window_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(WINDOW_SECS)
}

/// Time from `unix_secs` to the start of the next minute (1–60 s).
fn until_next_window(unix_secs: i64) -> Duration {
    let left = WINDOW_SECS - unix_secs.rem_euclid(WINDOW_SECS);
    Duration::from_secs(u64::try_from(left).unwrap_or(1))
}

impl RateLimiter {
    /// `per_minute` requests a minute across all instances, `burst` at once on one;
    /// `per_minute == 0` disables.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            slots: Mutex::new(HashMap::new()),
            swept: AtomicI64::new(0),
        }
    }

    /// How many requests an instance leases at once.
    pub fn chunk(&self) -> u32 {
        (self.per_minute / 20).clamp(1, MAX_CHUNK)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock leaves only counts behind: keep going.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request from `key` at `now` (the clock's `unix_secs`), leasing from the shared
    /// allowance through `lease(window, want) -> granted?` when this instance holds none.
    /// `Ok(Err(wait))` when the request must wait; `Err` when the lease could not be asked.
    pub fn check_at(
        &self,
        key: &str,
        now: Instant,
        unix_secs: i64,
        lease: &mut dyn FnMut(i64, u64) -> Result<bool, DbError>,
    ) -> Result<Result<(), Duration>, DbError> {
        if self.per_minute == 0 {
            return Ok(Ok(()));
        }
        let window = window_of(unix_secs);
        {
            let mut slots = self.slots();
            if slots.len() > PRUNE_ABOVE {
                let full_after = Duration::from_secs_f64(self.burst / self.per_second);
                slots.retain(|_, s| {
                    s.window >= window && now.saturating_duration_since(s.at) < full_after
                });
            }
            let slot = slots.entry(key.to_string()).or_insert(Slot {
                tokens: self.burst,
                at: now,
                window,
                leased: 0,
                spent: false,
            });
            let elapsed = now.saturating_duration_since(slot.at).as_secs_f64();
            slot.tokens = (slot.tokens + elapsed * self.per_second).min(self.burst);
            slot.at = now;
            if slot.tokens < 1.0 {
                return Ok(Err(Duration::from_secs_f64(
                    (1.0 - slot.tokens) / self.per_second,
                )));
            }
            if slot.window != window {
                // A lease is spent only in its own minute.
                *slot = Slot {
                    window,
                    leased: 0,
                    spent: false,
                    ..*slot
                };
            }
            if slot.leased > 0 {
                slot.leased -= 1;
                slot.tokens -= 1.0;
                return Ok(Ok(()));
            }
            if slot.spent {
                return Ok(Err(until_next_window(unix_secs)));
            }
        }
        // Ask the database without holding the lock: other buckets go on meanwhile. Two
        // requests of one bucket may both lease here; the second chunk is served later.
        let chunk = u64::from(self.chunk());
        let granted = if lease(window, chunk)? {
            chunk
        } else if chunk > 1 && lease(window, 1)? {
            1
        } else {
            0
        };
        let mut slots = self.slots();
        let slot = slots.entry(key.to_string()).or_insert(Slot {
            tokens: self.burst,
            at: now,
            window,
            leased: 0,
            spent: false,
        });
        if slot.window < window {
            *slot = Slot {
                window,
                leased: 0,
                spent: false,
                ..*slot
            };
        }
        if slot.window != window {
            // The clock moved on while leasing: this lease's minute is over.
            return Ok(Err(Duration::from_secs(1)));
        }
        if granted == 0 {
            slot.spent = true;
            return Ok(Err(until_next_window(unix_secs)));
        }
        slot.leased += granted - 1;
        slot.tokens -= 1.0;
        Ok(Ok(()))
    }

    /// [`check_at`](Self::check_at) now from memory alone: `None` when a lease is needed
    /// (then [`check`](Self::check) asks the database). What it changed before finding that
    /// out — the burst bucket's refill, a new minute — is what `check` would change again.
    pub fn check_local(&self, key: &str) -> Option<Result<(), Duration>> {
        let unix_secs = chrono::Utc::now().timestamp();
        let mut needed = false;
        let answer = self.check_at(key, Instant::now(), unix_secs, &mut |_, _| {
            needed = true;
            Err(DbError::Pool("a lease is needed".into()))
        });
        if needed {
            return None;
        }
        answer.ok()
    }

    /// [`check_at`](Self::check_at) now, leasing from the database through `conn`; the rows
    /// of minutes gone by are deleted once a minute by the first lease of the next.
    pub fn check(&self, conn: &mut DbConn, key: &str) -> Result<Result<(), Duration>, DbError> {
        let unix_secs = chrono::Utc::now().timestamp();
        let limit = i64::from(self.per_minute);
        self.check_at(key, Instant::now(), unix_secs, &mut |window, want| {
            if self.swept.swap(window, Ordering::Relaxed) != window {
                shared::forget_windows_before(conn, window - 1)?;
            }
            let want = i64::try_from(want).unwrap_or(i64::MAX);
            shared::lease_allowance(conn, key, window, want, limit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database's part, in memory: leases per window up to `limit`.
    struct Shared {
        limit: u64,
        used: HashMap<i64, u64>,
        asked: usize,
    }

    impl Shared {
        fn new(limit: u32) -> Shared {
            Shared {
                limit: u64::from(limit),
                used: HashMap::new(),
                asked: 0,
            }
        }

        fn lease(&mut self, window: i64, want: u64) -> Result<bool, DbError> {
            self.asked += 1;
            let used = self.used.entry(window).or_default();
            if *used + want <= self.limit {
                *used += want;
                Ok(true)
            } else {
                Ok(false)
            }
        }
    }

    fn ok(l: &RateLimiter, s: &mut Shared, key: &str, now: Instant, unix: i64) -> bool {
        l.check_at(key, now, unix, &mut |w, n| s.lease(w, n))
            .expect("lease")
            .is_ok()
    }

    /// 12:00:00 on some day, a minute boundary.
    const T0: i64 = 1_764_478_800;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(60, 3); // one a second, three at once
        let mut shared = Shared::new(60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(ok(&limiter, &mut shared, "a", t0, T0));
        }
        let wait = limiter
            .check_at("a", t0, T0, &mut |w, n| shared.lease(w, n))
            .unwrap()
            .unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another token has its own bucket.
        assert!(ok(&limiter, &mut shared, "b", t0, T0));
        // A second later one more request is allowed, not two.
        let t1 = t0 + Duration::from_secs(1);
        assert!(ok(&limiter, &mut shared, "a", t1, T0 + 1));
        assert!(!ok(&limiter, &mut shared, "a", t1, T0 + 1));
    }

    #[test]
    fn instances_share_one_allowance_a_minute() {
        // Two instances, 100 a minute between them, bursts large enough not to matter.
        let a = RateLimiter::new(100, 1_000);
        let b = RateLimiter::new(100, 1_000);
        assert_eq!(a.chunk(), 5);
        let mut shared = Shared::new(100);
        let t0 = Instant::now();
        let mut served = 0;
        let mut first_refusal = None;
        for i in 0..400 {
            let l = if i % 3 == 0 { &a } else { &b };
            if ok(l, &mut shared, "tok", t0, T0 + 10) {
                served += 1;
            } else if first_refusal.is_none() {
                first_refusal = Some(served);
            }
        }
        assert_eq!(served, 100, "never more than the limit in a minute");
        // Neither holds anything back once both were refused: the bound is the limit exactly.
        assert!(first_refusal.unwrap() >= 100 - 2 * (5 - 1));
        // Far fewer database writes than requests.
        assert!(shared.asked < 60, "{} leases", shared.asked);
        // Once refused, the minute's end is the wait, without asking again.
        let asked = shared.asked;
        let wait = b
            .check_at("tok", t0, T0 + 10, &mut |w, n| shared.lease(w, n))
            .unwrap()
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(shared.asked, asked);
        // The next minute has a fresh allowance; a lease left over is not carried into it.
        assert!(ok(&a, &mut shared, "tok", t0, T0 + 60));
        assert_eq!(shared.used.get(&window_of(T0 + 60)), Some(&5));
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, 1);
        let mut shared = Shared::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(ok(&limiter, &mut shared, "a", t0, T0));
        }
        assert_eq!(shared.asked, 0, "a disabled limit never asks the database");
    }

    #[test]
    fn idle_buckets_are_dropped_when_there_are_many() {
        let limiter = RateLimiter::new(60, 2);
        let mut shared = Shared::new(u32::MAX);
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            let _ = ok(&limiter, &mut shared, &i.to_string(), t0, T0);
        }
        let later = t0 + Duration::from_secs(10);
        let _ = ok(&limiter, &mut shared, "new", later, T0 + 10);
        assert_eq!(limiter.slots().len(), 1, "only the fresh bucket stays");
    }
}

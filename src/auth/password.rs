//! Staff passwords and lock-out, pure: PBKDF2-HMAC-SHA256 hashes (ring) at
//! [`PBKDF2_ITERATIONS`], checked in constant time, and the count of failed attempts that locks
//! an account for [`LOCK_MINUTES`] after [`MAX_FAILURES`]. Sign-in ([`super::staff`]) stores
//! and reads them.

use chrono::{Duration, NaiveDateTime};
use ring::pbkdf2;
use std::num::NonZeroU32;

use super::AuthError;
use crate::keys::random_bytes;

/// PBKDF2-HMAC-SHA256 iterations for new passwords (OWASP's 2023 figure).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Failed attempts in a row that lock an account.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_MINUTES: i64 = 15;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A stored password: PBKDF2 output, its salt and iteration count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// 32 bytes of PBKDF2-HMAC-SHA256 output.
    pub hash: Vec<u8>,
    /// 16 random bytes.
    pub salt: Vec<u8>,
    /// Iterations it was made with.
    pub iterations: u32,
}

/// Hashes a password with a fresh salt.
pub fn hash_password(password: &str, iterations: u32) -> Result<PasswordHash, AuthError> {
    let salt = random_bytes::<16>()?.to_vec();
    let mut hash = vec![0u8; 32];
    let n = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        n,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    Ok(PasswordHash {
        hash,
        salt,
        iterations: n.get(),
    })
}

/// Checks a password against a stored hash, in constant time.
pub fn password_matches(stored: &PasswordHash, password: &str) -> bool {
    let Some(n) = NonZeroU32::new(stored.iterations) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        n,
        &stored.salt,
        password.as_bytes(),
        &stored.hash,
    )
    .is_ok()
}

/// Where an account stands for a sign-in attempt at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Failed attempts in a row so far.
    pub failures: i64,
    /// Locked until then, if locked.
    pub locked_until: Option<NaiveDateTime>,
}

impl Lockout {
    /// Whether the account refuses sign-in at `now` (even with the right password).
    pub fn locked_at(&self, now: NaiveDateTime) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// After a failed attempt at `now`: one more failure; the [`MAX_FAILURES`]th locks.
    pub fn after_failure(&self, now: NaiveDateTime) -> Lockout {
        // A lock that has run out starts a fresh count.
        let failures = if self.locked_until.is_some_and(|t| now >= t) {
            1
        } else {
            self.failures + 1
        };
        Lockout {
            failures,
            locked_until: (failures >= MAX_FAILURES)
                .then(|| now + Duration::minutes(LOCK_MINUTES))
                .or(self.locked_until.filter(|t| now < *t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_764_478_800 + min * 60, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn passwords_verify_only_themselves() {
        // Few iterations keep the unit test fast; the service uses PBKDF2_ITERATIONS.
        let h = hash_password("correct horse battery", 1_000).unwrap();
        assert_eq!(h.hash.len(), 32);
        assert!(password_matches(&h, "correct horse battery"));
        assert!(!password_matches(&h, "correct horse batterY"));
        let again = hash_password("correct horse battery", 1_000).unwrap();
        assert_ne!(h.salt, again.salt, "a fresh salt each time");
        assert_ne!(h.hash, again.hash);
        assert!(!password_matches(
            &PasswordHash { iterations: 0, ..h },
            "correct horse battery"
        ));
    }

    #[test]
    fn the_fifth_failure_locks_for_fifteen_minutes_then_counting_starts_again() {
        let mut l = Lockout {
            failures: 0,
            locked_until: None,
        };
        for i in 1..MAX_FAILURES {
            l = l.after_failure(at(0));
            assert_eq!(l.failures, i);
            assert!(!l.locked_at(at(0)));
        }
        l = l.after_failure(at(1));
        assert!(l.locked_at(at(1)));
        assert!(l.locked_at(at(15)));
        assert!(!l.locked_at(at(16)));
        // Failing while locked keeps it locked; after the lock a failure counts from one.
        assert!(l.after_failure(at(2)).locked_at(at(10)));
        let fresh = l.after_failure(at(17));
        assert_eq!(fresh.failures, 1);
        assert!(!fresh.locked_at(at(17)));
    }
}

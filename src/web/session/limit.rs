//! The sign-in rate limit: how many attempts one client address may make, and the check the
//! sign-in form runs before it looks at a password. The limiter itself is the API's
//! (`http::limits`); this file only holds the sign-in's numbers and its refusal.

use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use crate::http::problem::ApiError;

/// Sign-in attempts one client address may make a minute, sustained, and at once: enough for a
/// whole shift signing in behind one proxy, too few for guessing passwords across accounts
/// (each account also locks itself after five failures).
pub const SIGN_IN_PER_MINUTE: u32 = 30;
/// See [`SIGN_IN_PER_MINUTE`].
pub const SIGN_IN_BURST: u32 = 20;

/// The sign-in attempts of each client address (kept in the app data).
pub struct SignInLimiter(pub crate::http::limits::RateLimiter);

impl Default for SignInLimiter {
    fn default() -> Self {
        SignInLimiter(crate::http::limits::RateLimiter::new(
            SIGN_IN_PER_MINUTE,
            SIGN_IN_BURST,
        ))
    }
}

impl SignInLimiter {
    /// Counts a sign-in attempt from the request's client address: a 429 `rate_limited` with
    /// `retry_after_seconds` once the address has used up its attempts.
    pub(super) fn admit(&self, req: &HttpRequest) -> Result<(), ApiError> {
        // Without a peer address (a test request) every attempt shares one allowance.
        let client = crate::http::client::client_ip(req)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        self.0.check(&format!("sign-in {client}")).map_err(|wait| {
            let secs = wait.as_secs().max(1);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                format!("too many sign-in attempts from this address; try again in {secs} s"),
            )
            .with("retry_after_seconds", secs)
        })
    }
}

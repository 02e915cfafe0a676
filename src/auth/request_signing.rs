//! The treasury's signed requests (API.md §Remittance, DESIGN §7): HMAC-SHA256 over
//!
//! ```text
//! METHOD\nPATH?QUERY\nTIMESTAMP\nhex(SHA-256(body))
//! ```
//!
//! (`?QUERY` only when there is one; lowercase hex; an empty body hashes the empty string),
//! keyed with the client's secret as ASCII bytes, sent as
//! `X-Onecard-Request-Signature: hmac-sha256=<base64>` with `X-Onecard-Timestamp: <unix seconds>`.
//! A timestamp more than [`MAX_AGE_SECS`] away from now is stale; the same signature twice is a
//! replay (the caller keeps the seen signatures: see the HTTP layer). Pure: no I/O.

use base64::Engine;
use ring::{digest, hmac};

/// How far a request's timestamp may be from the service's clock, either way.
pub const MAX_AGE_SECS: i64 = 300;

/// Header carrying the unix timestamp.
pub const TIMESTAMP_HEADER: &str = "X-Onecard-Timestamp";

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Onecard-Request-Signature";

const SCHEME: &str = "hmac-sha256=";

/// Why a signed request is refused. All of them are 401 to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing.
    #[error("send the {0} header")]
    Missing(&'static str),
    /// A header is not in the expected form.
    #[error("{0}")]
    Malformed(String),
    /// The timestamp is too far from now.
    #[error(
        "the request timestamp is {age_secs} s from the service's clock (at most {MAX_AGE_SECS} s)"
    )]
    Stale {
        /// Seconds between the timestamp and now (absolute).
        age_secs: i64,
    },
    /// The signature does not match the request.
    #[error("the request signature does not match (method, path and query, timestamp, body hash)")]
    Mismatch,
    /// This signature was already used.
    #[error("this request signature was already used: sign each request afresh")]
    Replayed,
}

/// The string a request's signature covers.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(digest::digest(&digest::SHA256, body));
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    format!("{method}\n{target}\n{timestamp}\n{body_hash}")
}

/// The client's secret, as ASCII bytes, as the HMAC key.
fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

/// The header value a client sends: `hmac-sha256=<base64>`.
pub fn sign(secret: &str, canonical: &str) -> String {
    let tag = hmac::sign(&key(secret), canonical.as_bytes());
    format!(
        "{SCHEME}{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// Checks the timestamp header against `now` (unix seconds); returns it parsed.
pub fn check_timestamp(timestamp: &str, now: i64) -> Result<i64, SignatureError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| {
        SignatureError::Malformed(format!(
            "{TIMESTAMP_HEADER} must be unix seconds, not '{}'",
            timestamp.chars().take(40).collect::<String>()
        ))
    })?;
    let age_secs = now.saturating_sub(ts).saturating_abs();
    if age_secs > MAX_AGE_SECS {
        return Err(SignatureError::Stale { age_secs });
    }
    Ok(ts)
}

/// Verifies a presented signature header over `canonical` in constant time; returns the raw
/// signature bytes (what the replay check remembers).
pub fn verify(secret: &str, canonical: &str, presented: &str) -> Result<Vec<u8>, SignatureError> {
    let b64 = presented.trim().strip_prefix(SCHEME).ok_or_else(|| {
        SignatureError::Malformed(format!("{SIGNATURE_HEADER} must be '{SCHEME}<base64>'"))
    })?;
    let tag = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| {
            SignatureError::Malformed(format!("{SIGNATURE_HEADER}: the signature is not base64"))
        })?;
    hmac::verify(&key(secret), canonical.as_bytes(), &tag).map_err(|_| SignatureError::Mismatch)?;
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixed vectors, computed independently with Python's hmac/hashlib:
    //   hmac.new(b"test-secret", msg.encode(), hashlib.sha256).digest() in base64.
    const SECRET: &str = "test-secret";

    #[test]
    fn canonical_form_of_a_get_with_query() {
        let c = canonical_request(
            "GET",
            "/v1/treasury/remittances",
            "after=3&limit=2",
            "1764478800",
            b"",
        );
        assert_eq!(
            c,
            "GET\n/v1/treasury/remittances?after=3&limit=2\n1764478800\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn fixed_vector_get_without_query() {
        let c = canonical_request("GET", "/v1/treasury/remittances", "", "1764478800", b"");
        assert_eq!(
            c,
            "GET\n/v1/treasury/remittances\n1764478800\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sign(SECRET, &c), GET_VECTOR);
        assert!(verify(SECRET, &c, GET_VECTOR).is_ok());
    }

    #[test]
    fn fixed_vector_post_with_body() {
        let body = br#"{"treasury_reference":"GK20261125001","amount":"300.00"}"#;
        let c = canonical_request(
            "POST",
            "/v1/treasury/remittances/rem_20261124/ack",
            "",
            "1764478800",
            body,
        );
        assert_eq!(sign(SECRET, &c), POST_VECTOR);
    }

    const GET_VECTOR: &str = "hmac-sha256=oWjev3d1kcEPAuMBdb8CeFmGAZcZrWA3AT6TFR6MgtY=";
    const POST_VECTOR: &str = "hmac-sha256=3+w+OjBifWlrxIPNQGGo1yJimBE5dhUhq0O4w+y1fxI=";

    #[test]
    fn any_change_breaks_the_signature() {
        let c = canonical_request("POST", "/v1/x", "", "100", b"{}");
        let sig = sign(SECRET, &c);
        for other in [
            canonical_request("GET", "/v1/x", "", "100", b"{}"),
            canonical_request("POST", "/v1/y", "", "100", b"{}"),
            canonical_request("POST", "/v1/x", "a=1", "100", b"{}"),
            canonical_request("POST", "/v1/x", "", "101", b"{}"),
            canonical_request("POST", "/v1/x", "", "100", b"{ }"),
        ] {
            assert_eq!(verify(SECRET, &other, &sig), Err(SignatureError::Mismatch));
        }
        assert_eq!(verify("other", &c, &sig), Err(SignatureError::Mismatch));
        assert!(matches!(
            verify(SECRET, &c, "sha1=abc"),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(SECRET, &c, "hmac-sha256=***"),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn timestamps_older_or_newer_than_five_minutes_are_stale() {
        assert_eq!(check_timestamp("1000", 1300), Ok(1000));
        assert_eq!(check_timestamp("1600", 1300), Ok(1600));
        assert_eq!(
            check_timestamp("999", 1300),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            check_timestamp("1601", 1300),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert!(matches!(
            check_timestamp("soon", 1300),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            check_timestamp(&i64::MIN.to_string(), i64::MAX),
            Err(SignatureError::Stale { .. })
        ));
    }
}

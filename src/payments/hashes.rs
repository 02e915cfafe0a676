//! Stored request hashes (DESIGN §7): every one is keyed ([`crate::keys::ServiceKeys::request_hash`]).
//! Rows written before hashes were keyed hold the plain SHA-256 of the canonical body
//! (`hash_version` 1); [`rekey_legacy`] converts them in place, once, on start.

use diesel::prelude::*;

use crate::db::schema::idempotency_keys;
use crate::db::{DbConn, DbError};
use crate::keys::{BodyDigest, ServiceKeys};

/// `hash_version` of a plain SHA-256 written before request hashes were keyed.
pub const PLAIN_SHA256: i64 = 1;
/// `hash_version` of a keyed request hash: `HMAC(key, SHA-256(canonical body))`.
pub const KEYED_HASH: i64 = 2;

/// Converts every legacy request hash to its keyed form, `HMAC(key, stored)` — which is what a
/// new request with the same body hashes to, so a retry of an old request is still answered.
/// Each row is converted only while it is still marked legacy, so two instances starting at
/// once cannot convert a row twice. Returns how many rows were converted.
pub fn rekey_legacy(conn: &mut DbConn, keys: &ServiceKeys) -> Result<usize, DbError> {
    crate::db::write_txn(conn, |conn| {
        let legacy: Vec<(String, Vec<u8>)> = idempotency_keys::table
            .filter(idempotency_keys::hash_version.eq(PLAIN_SHA256))
            .select((idempotency_keys::idem_key, idempotency_keys::request_hash))
            .load(conn)?;
        let mut converted = 0;
        for (key, stored) in legacy {
            // A stored hash that is not 32 bytes matches no request anyway; it is replaced by
            // the keyed hash of nothing so that no plain digest is left behind.
            let digest = BodyDigest::legacy(&stored).unwrap_or_else(|| BodyDigest::of(&[]));
            let keyed = keys.request_hash_of_digest(&digest);
            converted += diesel::update(
                idempotency_keys::table
                    .filter(idempotency_keys::idem_key.eq(&key))
                    .filter(idempotency_keys::hash_version.eq(PLAIN_SHA256)),
            )
            .set((
                idempotency_keys::request_hash.eq(keyed.to_vec()),
                idempotency_keys::hash_version.eq(KEYED_HASH),
            ))
            .execute(conn)?;
        }
        Ok(converted)
    })
}

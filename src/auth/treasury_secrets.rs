//! Treasury request-signing secrets that rotate with an overlap (API.md §Conventions).
//!
//! A treasury client's secret is derived from the service's master key and the token id, never
//! stored. Generation 0 is the secret `onecard keys create` printed (derived as it always was,
//! so clients made before rotation existed keep working); `onecard keys rotate-secret <id>`
//! adds the next generation, derived from the same master key, the token id and the generation
//! number. During the overlap both the new secret and the one before it are accepted; after it,
//! only the new one. Each rotation is a `treasury_secrets` row and an audit record.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{treasury_secret, Role};
use crate::audit::{self, AuditEvent};
use crate::db::schema::{api_tokens, treasury_secrets};
use crate::db::{DbConn, DbError};
use crate::keys::ServiceKeys;

/// The default overlap during which the previous secret is still accepted.
pub const DEFAULT_OVERLAP_HOURS: u32 = 24;

/// The longest overlap allowed (a rotation is meant to end the old secret).
pub const MAX_OVERLAP_HOURS: u32 = 24 * 30;

/// Why a secret cannot be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateSecretError {
    /// No token has this id.
    #[error("no token '{0}' (onecard keys list shows them)")]
    UnknownToken(String),
    /// The token is not a treasury client's.
    #[error("token '{0}' is not a treasury token: only treasury clients sign requests")]
    NotTreasury(String),
    /// The token is revoked.
    #[error("token '{0}' is revoked")]
    Revoked(String),
    /// The overlap is longer than allowed.
    #[error("an overlap is at most {MAX_OVERLAP_HOURS} hours")]
    OverlapTooLong,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for RotateSecretError {
    fn from(e: diesel::result::Error) -> Self {
        RotateSecretError::Db(DbError::Query(e))
    }
}

/// The secret of one generation of a treasury token (0: the one first printed).
pub fn secret_of(keys: &ServiceKeys, token_id: &str, generation: i64) -> String {
    if generation == 0 {
        treasury_secret(keys, token_id)
    } else {
        keys.derive_secret(&format!(
            "onecard-treasury-request-secret\n{token_id}\ngeneration {generation}"
        ))
    }
}

/// The generations accepted at `now`, newest first: the latest, and the one before it while
/// the overlap lasts. Pure: `latest` is the newest stored (generation, previous_valid_until).
pub fn accepted_generations(latest: Option<(i64, NaiveDateTime)>, now: NaiveDateTime) -> Vec<i64> {
    match latest {
        None => vec![0],
        Some((generation, previous_until)) if now < previous_until => {
            vec![generation, generation - 1]
        }
        Some((generation, _)) => vec![generation],
    }
}

fn latest(
    conn: &mut DbConn,
    token_id: &str,
) -> Result<Option<(i64, NaiveDateTime)>, diesel::result::Error> {
    treasury_secrets::table
        .filter(treasury_secrets::token_id.eq(token_id))
        .order(treasury_secrets::generation.desc())
        .select((
            treasury_secrets::generation,
            treasury_secrets::previous_valid_until,
        ))
        .first(conn)
        .optional()
}

/// The secrets a treasury token's requests may be signed with at `now`, newest first.
pub fn accepted(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    token_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<String>, DbError> {
    let latest = latest(conn, token_id)?;
    Ok(accepted_generations(latest, now)
        .into_iter()
        .map(|g| secret_of(keys, token_id, g))
        .collect())
}

/// Makes the next secret of a treasury token: the previous one stays accepted for
/// `overlap_hours`; audited (without the secret). Answers the new secret.
pub fn rotate(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    token_id: &str,
    overlap_hours: u32,
    actor: &str,
    now: NaiveDateTime,
) -> Result<String, RotateSecretError> {
    if overlap_hours > MAX_OVERLAP_HOURS {
        return Err(RotateSecretError::OverlapTooLong);
    }
    let generation = crate::db::write_txn::<_, RotateSecretError, _>(conn, |conn| {
        let token: Option<(String, Option<NaiveDateTime>)> = api_tokens::table
            .find(token_id)
            .select((api_tokens::role, api_tokens::revoked_at))
            .first(conn)
            .optional()?;
        let Some((role, revoked_at)) = token else {
            return Err(RotateSecretError::UnknownToken(token_id.to_string()));
        };
        if role != Role::Treasury.as_str() {
            return Err(RotateSecretError::NotTreasury(token_id.to_string()));
        }
        if revoked_at.is_some() {
            return Err(RotateSecretError::Revoked(token_id.to_string()));
        }
        let generation = latest(conn, token_id)?.map_or(1, |(g, _)| g + 1);
        let previous_until = now + Duration::hours(i64::from(overlap_hours));
        diesel::insert_into(treasury_secrets::table)
            .values((
                treasury_secrets::token_id.eq(token_id),
                treasury_secrets::generation.eq(generation),
                treasury_secrets::created_at.eq(now),
                treasury_secrets::created_by.eq(actor),
                treasury_secrets::previous_valid_until.eq(previous_until),
            ))
            .execute(conn)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor,
                action: "treasury_secret.rotate",
                subject: &format!("token:{token_id}"),
                before: Some(serde_json::json!({
                    "generation": generation - 1, "accepted_until": previous_until,
                })),
                after: Some(serde_json::json!({"generation": generation})),
            },
            now,
        )?;
        Ok(generation)
    })?;
    Ok(secret_of(keys, token_id, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .unwrap_or_default()
    }

    #[test]
    fn the_previous_generation_is_accepted_only_until_the_overlap_ends() {
        assert_eq!(accepted_generations(None, at(1)), vec![0]);
        assert_eq!(accepted_generations(Some((1, at(10))), at(9)), vec![1, 0]);
        assert_eq!(accepted_generations(Some((1, at(10))), at(10)), vec![1]);
        assert_eq!(accepted_generations(Some((3, at(10))), at(11)), vec![3]);
        // Never two generations back.
        assert_eq!(accepted_generations(Some((3, at(10))), at(2)), vec![3, 2]);
    }

    #[test]
    fn every_generation_has_its_own_secret_and_generation_0_is_the_first_printed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let keys = ServiceKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(secret_of(&keys, "t1", 0), treasury_secret(&keys, "t1"));
        let all: std::collections::BTreeSet<String> =
            (0..4).map(|g| secret_of(&keys, "t1", g)).collect();
        assert_eq!(all.len(), 4);
        assert_ne!(secret_of(&keys, "t1", 1), secret_of(&keys, "t2", 1));
    }
}

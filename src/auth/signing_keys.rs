//! The signing keys the service has used (DESIGN §7, API.md §Remittance): one `signing_keys`
//! row per key id, with the time it signed from and, once retired, until; at most one current.
//! Old keys stay published (`GET /v1/signing-keys`), so seals and files signed before a
//! rotation still verify with the key their id names.
//!
//! A signature stored before key ids were recorded has none: it was made by the first key the
//! service registered ([`register_first`] runs on the first start with the table empty, with
//! the key file then in place), so [`resolve`] names that key for it.
//!
//! Signing goes through [`sign`]: it reads the current key id on each signature (signatures are
//! rare), reloads the key file when another instance or `onecard keys rotate-signing` has
//! rotated it, and the signature always names the key that made it.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{business_days, refund_requests, remittances, signing_keys};
use crate::db::{DbConn, DbError};
use crate::keys::{ServiceKeys, Signature, StagedKey};

/// The one algorithm.
pub const ALG: &str = "ed25519";

/// A signing key as `GET /v1/signing-keys` publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// Key id: the first 16 hex digits of the SHA-256 of the raw public key.
    pub kid: String,
    /// Always `ed25519`.
    pub alg: String,
    /// Base64 of the 32-byte public key.
    pub public_key: String,
    /// Signing with it from (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub from: chrono::DateTime<chrono::Utc>,
    /// Retired at (RFC 3339, UTC); none while it is the current key.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

type KeyRow = (
    String,
    String,
    Vec<u8>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// Every key ever used, oldest first.
pub fn list(conn: &mut DbConn) -> Result<Vec<PublishedKey>, DbError> {
    let rows: Vec<KeyRow> = signing_keys::table
        .select((
            signing_keys::kid,
            signing_keys::alg,
            signing_keys::public_key,
            signing_keys::valid_from,
            signing_keys::valid_until,
        ))
        .order((signing_keys::valid_from, signing_keys::kid))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(kid, alg, public_key, from, until)| PublishedKey {
            kid,
            alg,
            public_key: base64::engine::general_purpose::STANDARD.encode(public_key),
            from: from.and_utc(),
            until: until.map(|u| u.and_utc()),
        })
        .collect())
}

/// Every key's raw public key by id.
pub fn public_keys(conn: &mut DbConn) -> Result<BTreeMap<String, Vec<u8>>, DbError> {
    let rows: Vec<(String, Vec<u8>)> = signing_keys::table
        .select((signing_keys::kid, signing_keys::public_key))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The current key's id, once one is registered.
pub fn current_kid(conn: &mut DbConn) -> Result<Option<String>, DbError> {
    Ok(signing_keys::table
        .filter(signing_keys::valid_until.is_null())
        .select(signing_keys::kid)
        .first(conn)
        .optional()?)
}

/// The first key registered: the one that made every signature stored without a key id.
pub fn first_kid(conn: &mut DbConn) -> Result<Option<String>, DbError> {
    Ok(signing_keys::table
        .order((signing_keys::valid_from, signing_keys::kid))
        .select(signing_keys::kid)
        .first(conn)
        .optional()?)
}

/// The key id of a stored signature: its own, or, for one stored before key ids were
/// recorded, the first key's.
pub fn resolve(conn: &mut DbConn, stored: Option<String>) -> Result<Option<String>, DbError> {
    match stored {
        Some(kid) => Ok(Some(kid)),
        None => first_kid(conn),
    }
}

/// Signs `message` with the service's key, reloading the key file first when the database
/// says another key is current now (a rotation by another instance or the CLI). The signature
/// names the key that made it whatever happens.
pub fn sign(conn: &mut DbConn, keys: &ServiceKeys, message: &[u8]) -> Result<Signature, DbError> {
    let current = current_kid(conn)?;
    if let Some(current) = current.filter(|c| *c != keys.kid()) {
        match keys.reload_signing() {
            Ok(kid) if kid == current => {
                tracing::info!(%kid, "signing key rotated elsewhere: now signing with it")
            }
            Ok(kid) => tracing::warn!(
                %kid, %current,
                "the key file is not the current signing key; signing with the file's key, named by its id"
            ),
            Err(e) => tracing::warn!(error = %e, "the rotated signing key could not be read"),
        }
    }
    Ok(keys.sign(message))
}

/// What the database holds that was signed with a signing key, in words (empty: nothing).
pub fn signed_data(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let days: i64 = business_days::table
        .filter(business_days::seal.is_not_null())
        .count()
        .get_result(conn)?;
    let batches: i64 = remittances::table
        .filter(remittances::signature.is_not_null())
        .count()
        .get_result(conn)?;
    let returns: i64 = refund_requests::table
        .filter(refund_requests::signature.is_not_null())
        .count()
        .get_result(conn)?;
    let keys: i64 = signing_keys::table.count().get_result(conn)?;
    Ok([
        (days, "sealed day(s)"),
        (batches, "signed remittance file(s)"),
        (returns, "signed refund-request (退库) file(s)"),
        (keys, "registered signing key(s)"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect())
}

/// The earliest signature the database holds (a day's close, a batch's approval, a request's
/// offer), if any.
fn earliest_signature(conn: &mut DbConn) -> Result<Option<NaiveDateTime>, DbError> {
    let day: Option<NaiveDateTime> = business_days::table
        .filter(business_days::seal.is_not_null())
        .select(diesel::dsl::min(business_days::closed_at))
        .first(conn)?;
    let batch: Option<NaiveDateTime> = remittances::table
        .filter(remittances::signature.is_not_null())
        .select(diesel::dsl::min(remittances::approved_at))
        .first(conn)?;
    let request: Option<NaiveDateTime> = refund_requests::table
        .filter(refund_requests::signature.is_not_null())
        .select(diesel::dsl::min(refund_requests::offered_at))
        .first(conn)?;
    Ok([day, batch, request].into_iter().flatten().min())
}

/// Is this a unique-constraint refusal (another instance registered the same key first)?
fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// On a start with no key registered: registers the key in the key file as the current key,
/// valid from the earliest signature the database holds (made with it) or `now`; audited.
/// Answers whether it registered (false: a key was registered already, here or by another
/// instance starting at the same time).
pub fn register_first(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    if signing_keys::table.count().get_result::<i64>(conn)?.gt(&0) {
        return Ok(false);
    }
    let from = earliest_signature(conn)?.map_or(now, |t| t.min(now));
    let (kid, public_key) = (keys.kid(), keys.public_key());
    let done = crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        diesel::insert_into(signing_keys::table)
            .values((
                signing_keys::kid.eq(&kid),
                signing_keys::alg.eq(ALG),
                signing_keys::public_key.eq(&public_key),
                signing_keys::valid_from.eq(from),
            ))
            .execute(conn)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor: "system",
                action: "signing_key.register",
                subject: &format!("signing_key:{kid}"),
                before: None,
                after: Some(serde_json::json!({
                    "kid": kid, "alg": ALG, "from": from,
                    "public_key": base64::engine::general_purpose::STANDARD.encode(&public_key),
                })),
            },
            now,
        )
    });
    match done {
        Ok(()) => Ok(true),
        Err(DbError::Query(e)) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Why a signing key is recorded lost, or rotated routinely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// `onecard keys rotate-signing`: the old key was in hand and is retired.
    Rotated,
    /// `onecard keys rotate-signing --after-loss`: the old key file is gone for good.
    Lost,
}

/// Records `next` as the current key from `now`, retiring the current one (if any) at the same
/// moment; audited as `signing_key.rotate` or `signing_key.lost`. One transaction.
pub fn record_rotation(
    conn: &mut DbConn,
    next: &StagedKey,
    why: Retirement,
    actor: &str,
    now: NaiveDateTime,
) -> Result<Option<String>, DbError> {
    crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        let current: Option<(String, NaiveDateTime)> = signing_keys::table
            .filter(signing_keys::valid_until.is_null())
            .select((signing_keys::kid, signing_keys::valid_from))
            .first(conn)
            .optional()?;
        let at = current.as_ref().map_or(now, |(_, from)| now.max(*from));
        if let Some((kid, _)) = &current {
            diesel::update(signing_keys::table.find(kid))
                .set(signing_keys::valid_until.eq(Some(at)))
                .execute(conn)?;
        }
        diesel::insert_into(signing_keys::table)
            .values((
                signing_keys::kid.eq(&next.kid),
                signing_keys::alg.eq(ALG),
                signing_keys::public_key.eq(&next.public_key),
                signing_keys::valid_from.eq(at),
            ))
            .execute(conn)?;
        let old = current.map(|(kid, _)| kid);
        audit::record_at(
            conn,
            AuditEvent {
                actor,
                action: match why {
                    Retirement::Rotated => "signing_key.rotate",
                    Retirement::Lost => "signing_key.lost",
                },
                subject: &format!("signing_key:{}", next.kid),
                before: Some(serde_json::json!({"current_kid": old})),
                after: Some(serde_json::json!({
                    "kid": next.kid, "alg": ALG, "from": at,
                    "public_key": base64::engine::general_purpose::STANDARD.encode(&next.public_key),
                    "lost": why == Retirement::Lost,
                })),
            },
            now,
        )?;
        Ok(old)
    })
}

/// Audits the loss of the HMAC master key (`onecard keys replace-master --after-loss`), with
/// what depended on it.
pub fn record_master_loss(conn: &mut DbConn, holds: &[String], actor: &str) -> Result<(), DbError> {
    audit::record(
        conn,
        AuditEvent {
            actor,
            action: "hmac_master.lost",
            subject: "key:hmac-master",
            before: Some(serde_json::json!({"depended_on_it": holds})),
            after: Some(serde_json::json!({"replaced": true})),
        },
    )
}

//! Withdrawing an import finance should not have made (the wrong file, the wrong day): the
//! file and its rows stay, as evidence, with a withdrawal row saying who, when and why; its
//! statement lines leave the identity register, so they may come again in another file; no
//! later run or report reads its rows (readers filter on [`super::withdrawn_ids`]); and the
//! same bytes may be imported again, as a new import. Audited.
//!
//! Only an import no reconciliation run has used may be withdrawn: the caller says which are
//! in use (reconciliation knows its runs; this module does not).
//!
//! Depends on: `db`, `audit`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{get, Imported};
use crate::audit::{self, AuditEvent};
use crate::db::schema::{settlement_file_withdrawals, statement_lines};
use crate::db::{DbConn, DbError};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A withdrawal as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = settlement_file_withdrawals)]
pub struct Withdrawal {
    /// The withdrawn import.
    pub file_id: String,
    /// When (UTC).
    pub withdrawn_at: NaiveDateTime,
    /// By whom.
    pub withdrawn_by: String,
    /// Why.
    pub reason: String,
}

/// Why a withdrawal did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    /// No import with that id.
    #[error("no settlement file {0}")]
    NotFound(String),
    /// The reason is empty or too long.
    #[error("reason must be 1–{MAX_REASON_CHARS} characters")]
    Reason,
    /// A stored reconciliation run used the file: withdrawing it would change a result.
    #[error("settlement file {0} was used by a reconciliation run and cannot be withdrawn")]
    InUse(String),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for WithdrawError {
    fn from(e: diesel::result::Error) -> Self {
        WithdrawError::Db(DbError::from(e))
    }
}

/// The withdrawal of import `id`, if it was withdrawn.
pub(super) fn of(conn: &mut DbConn, id: &str) -> Result<Option<Withdrawal>, DbError> {
    Ok(settlement_file_withdrawals::table
        .find(id)
        .select(Withdrawal::as_select())
        .first(conn)
        .optional()?)
}

/// The withdrawals of the imports `ids` that were withdrawn, by import id.
pub(super) fn of_many(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<std::collections::BTreeMap<String, Withdrawal>, DbError> {
    let rows: Vec<Withdrawal> = settlement_file_withdrawals::table
        .filter(settlement_file_withdrawals::file_id.eq_any(ids))
        .select(Withdrawal::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|w| (w.file_id.clone(), w)).collect())
}

/// Withdraws import `id` for `reason` (1–[`MAX_REASON_CHARS`] characters, trimmed), unless
/// `in_use` says a run used it; one transaction with its audit entry. Withdrawing a withdrawn
/// import again changes nothing and answers it as it stands.
pub fn withdraw(
    conn: &mut DbConn,
    id: &str,
    reason: &str,
    actor: &str,
    in_use: &mut dyn FnMut(&mut DbConn, &str) -> Result<bool, DbError>,
) -> Result<Imported, WithdrawError> {
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        return Err(WithdrawError::Reason);
    }
    crate::db::write_txn::<_, WithdrawError, _>(conn, |conn| {
        let file = get(conn, id)?.ok_or_else(|| WithdrawError::NotFound(id.to_string()))?;
        if file.withdrawn {
            return Ok(file);
        }
        if in_use(conn, id)? {
            return Err(WithdrawError::InUse(id.to_string()));
        }
        let now = Utc::now().naive_utc();
        diesel::insert_into(settlement_file_withdrawals::table)
            .values((
                settlement_file_withdrawals::file_id.eq(id),
                settlement_file_withdrawals::withdrawn_at.eq(now),
                settlement_file_withdrawals::withdrawn_by.eq(actor),
                settlement_file_withdrawals::reason.eq(reason),
            ))
            .execute(conn)?;
        // its lines are free to come again, in another file or in these bytes re-imported
        diesel::delete(statement_lines::table.filter(statement_lines::file_id.eq(id)))
            .execute(conn)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor,
                action: "settlement_file.withdraw",
                subject: &format!("settlement_file:{id}"),
                before: Some(serde_json::json!({"withdrawn": false, "sha256": file.sha256})),
                after: Some(serde_json::json!({"withdrawn": true, "reason": reason})),
            },
            now,
        )?;
        get(conn, id)?.ok_or_else(|| WithdrawError::NotFound(id.to_string()))
    })
}

//! Claims the bank paid: a run that matches a carried file's credit settles the claims about
//! that file.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{audit_change, get, ExceptionStatus, Step};
use crate::db::schema::recon_exceptions;
use crate::db::{DbConn, DbError};
use crate::recon::matcher::Category;

/// Marks the claimed exceptions about these settlement files (`cash_missing` /
/// `cash_mismatch` naming the file) resolved: the run `run_id` found their money, and the run
/// posts the file's settlement itself. Recorded as approved by
/// `system:reconciliation <run_id>` at `at`, audited. Returns their ids.
pub fn claims_paid(
    conn: &mut DbConn,
    file_ids: &[String],
    run_id: &str,
    at: NaiveDateTime,
) -> Result<Vec<String>, DbError> {
    if file_ids.is_empty() {
        return Ok(Vec::new());
    }
    let actor = format!("system:reconciliation {run_id}");
    let Some(resolved) = ExceptionStatus::Claimed.after(Step::ClaimPaid) else {
        return Ok(Vec::new());
    };
    crate::db::write_txn(conn, |conn| {
        // Read, then write: take the write lock first (SQLite), so a concurrent run makes this
        // wait rather than fail ("CLAIMS" in ASCII).
        crate::db::lock_for_rewrite(conn, 0x434c_4149_4d53)?;
        let ids: Vec<String> = recon_exceptions::table
            .filter(recon_exceptions::active.eq(true))
            .filter(recon_exceptions::status.eq(ExceptionStatus::Claimed.as_ref()))
            .filter(recon_exceptions::kind.eq_any([
                Category::CashMissing.as_ref(),
                Category::CashMismatch.as_ref(),
            ]))
            .filter(recon_exceptions::file_id.eq_any(file_ids))
            .select(recon_exceptions::id)
            .order(recon_exceptions::id)
            .load(conn)?;
        for id in &ids {
            let Some(before) = get(conn, id)? else {
                continue;
            };
            diesel::update(recon_exceptions::table.find(id))
                .set((
                    recon_exceptions::status.eq(resolved.as_ref()),
                    recon_exceptions::approved_by.eq(&actor),
                    recon_exceptions::approved_at.eq(at),
                ))
                .execute(conn)?;
            if let Some(after) = get(conn, id)? {
                audit_change(conn, &actor, "exception.claim_paid", &before, &after, at)?;
            }
        }
        Ok(ids)
    })
}

//! A batch that ends without reaching the treasury (DESIGN §6): finance cancels a prepared
//! batch (stale: a refund or a late correction changed the day), the treasury rejects an
//! approved one it pulled. Nothing is posted either way; the batch keeps who ended it, when and
//! why, and the day can be prepared again ([`crate::ledger::days::remittance_of`] no longer
//! sees it).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::read::{load_row, view, Remittance};
use super::RemitError;
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::remittances;
use crate::db::DbConn;
use crate::ledger::days::RemittanceStatus;
use crate::ledger::writer::{Batch, LedgerWriter, WriteError};
use crate::treasury::batch::{self, Withdrawal};

/// Ends batch `id` with status `to` (cancelled or rejected) inside a writer job, audited as
/// `actor` with `reason`. The same ending again answers the batch unchanged.
pub fn withdraw_in(
    conn: &mut DbConn,
    now: NaiveDateTime,
    id: &str,
    to: RemittanceStatus,
    actor: &str,
    reason: &str,
) -> Result<Remittance, RemitError> {
    let row = load_row(conn, id)?.ok_or_else(|| RemitError::NotFound(id.to_string()))?;
    let before = row.status;
    let reason = reason.trim();
    match batch::decide_withdrawal(before, to, reason)? {
        Withdrawal::AlreadyDone => return Ok(view(conn, row)?),
        Withdrawal::Apply(_) => {}
    }
    diesel::update(remittances::table.find(id))
        .set((
            remittances::status.eq(to.as_ref()),
            remittances::withdrawn_at.eq(Some(now)),
            remittances::withdrawn_by.eq(Some(actor)),
            remittances::withdrawn_reason.eq(Some(reason)),
        ))
        .execute(conn)?;
    let out = super::read::get(conn, id)?.ok_or_else(|| RemitError::NotFound(id.to_string()))?;
    let action = match to {
        RemittanceStatus::Cancelled => "remittance.cancel",
        _ => "remittance.reject",
    };
    audit::record_at(
        conn,
        AuditEvent {
            actor,
            action,
            subject: &format!("remittance:{id}"),
            before: Some(json!({"status": before})),
            after: Some(json!({"status": to, "reason": reason})),
        },
        now,
    )?;
    Ok(out)
}

/// Finance cancels a prepared batch; the day can be prepared again.
pub async fn cancel(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    reason: String,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let now = b.now();
            let conn = b.conn()?;
            withdraw_in(
                conn,
                now,
                &id,
                RemittanceStatus::Cancelled,
                &by.actor(),
                &reason,
            )
        })
        .await
}

/// The treasury rejects an approved batch it was offered (not one it acknowledged); the day can
/// be prepared again. A batch never offered is not the treasury's to see.
pub async fn reject(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    reason: String,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let now = b.now();
            let conn = b.conn()?;
            if !load_row(conn, &id)?.is_some_and(|r| r.status.offered_to_treasury()) {
                return Err(RemitError::NotFound(id.clone()));
            }
            withdraw_in(
                conn,
                now,
                &id,
                RemittanceStatus::Rejected,
                &by.actor(),
                &reason,
            )
        })
        .await
}

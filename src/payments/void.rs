//! The same-day void: the reversal of the capture entry, the payment marked voided and its
//! receipt red-reversed (冲红), in one ledger-writer job.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{load, view, PaymentEvent, PaymentStatus, ReceiptStatus, StoredPayment};
use crate::audit::{self, AuditEvent};
use crate::db::schema::{payments, receipts};
use crate::db::DbError;
use crate::ledger::templates;
use crate::ledger::writer::{LedgerWriter, PostError, WriteError};
use crate::ledger::LedgerError;

/// Why a void was refused.
#[derive(Debug, thiserror::Error)]
pub enum VoidError {
    /// No such payment.
    #[error("no payment '{0}'")]
    NotFound(String),
    /// Only a captured payment can be voided, and only on its business date.
    #[error("{0}")]
    NotAllowed(String),
    /// The reversal entry was refused, or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
}

impl From<DbError> for VoidError {
    fn from(e: DbError) -> Self {
        VoidError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for VoidError {
    fn from(e: diesel::result::Error) -> Self {
        VoidError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// Voids a payment on its business date, before settlement: posts the reversal of its capture
/// entry, marks the payment voided and its receipt red-reversed (冲红) — nothing is deleted.
pub async fn void(
    writer: &LedgerWriter,
    id: String,
    actor: String,
    today: NaiveDate,
) -> Result<StoredPayment, WriteError<VoidError>> {
    writer
        .submit(move |batch| {
            // Batches are serialised by the chain-head lock, so the status read here cannot
            // change before this job commits.
            let before = load(batch.conn()?, &id)?.ok_or_else(|| VoidError::NotFound(id.clone()))?;
            if before.status.after(PaymentEvent::Void) != Some(PaymentStatus::Voided) {
                return Err(VoidError::NotAllowed(format!("payment {id} is {}; only a captured payment can be voided", before.status)));
            }
            if before.business_date != today {
                return Err(VoidError::NotAllowed(format!(
                    "payment {id} was taken on {}; a void is only possible on the same business day ({today}) — request a refund instead",
                    before.business_date
                )));
            }
            // A void gives back the whole fee; after a refund that would pay part of it twice. A
            // rejected or cancelled refund paid nothing and does not stand in the way.
            let live = super::refunds::refunds_of(batch.conn()?, &id)?
                .iter()
                .any(|r| r.status.is_live());
            if live {
                return Err(VoidError::NotAllowed(format!(
                    "payment {id} has refunds; it can no longer be voided — refund the rest instead"
                )));
            }
            let original = crate::ledger::repo::load_entry(batch.conn()?, before.entry_seq)?
                .ok_or(PostError::Rule(LedgerError::UnknownEntry(before.entry_seq)))?;
            batch.post(templates::void(&original, &before.reference, actor.clone()))?;
            let now = batch.now();
            let conn = batch.conn()?;
            // Only if still as read: a reconciliation run settling it meanwhile wins, and the
            // reversal above is rolled back with this job.
            let voided = diesel::update(payments::table.filter(payments::id.eq(&id)))
                .filter(payments::status.eq(before.status.as_ref()))
                .set(payments::status.eq(PaymentStatus::Voided.as_ref()))
                .execute(conn)?;
            if voided != 1 {
                return Err(VoidError::NotAllowed(format!("payment {id} was settled meanwhile; request a refund instead")));
            }
            diesel::update(receipts::table.filter(receipts::payment_id.eq(&id)))
                .set(receipts::status.eq(ReceiptStatus::RedReversed.as_ref()))
                .execute(conn)?;
            let after = StoredPayment {
                status: PaymentStatus::Voided,
                receipt_status: ReceiptStatus::RedReversed,
                ..before.clone()
            };
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "payment.void",
                    subject: &format!("payment:{id}"),
                    before: Some(view(&before)?),
                    after: Some(view(&after)?),
                },
                now,
            )?;
            Ok(after)
        })
        .await
}

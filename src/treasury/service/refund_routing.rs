//! The treasury's side of a refund's approval ([`Remittances`]): a prepared batch the refund
//! makes stale is cancelled and the day prepared again; a refund of remitted revenue becomes
//! 退库 requests. Payments may not depend on the treasury, so the HTTP and page layers hand this
//! implementation to `payments::refunds::approve`.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::{prepare_day, read, returns, withdraw_in, RemitError};
use crate::audit::{self, AuditEvent};
use crate::db::{DbConn, DbError};
use crate::ledger::days::RemittanceStatus;
use crate::ledger::Chart;
use crate::payments::refunds::{RefundError, Remittances, ReturnRequest};
use crate::treasury::batch::{self, BatchError};

/// The treasury's [`Remittances`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RefundRemittances;

impl From<RemitError> for RefundError {
    fn from(e: RemitError) -> Self {
        match e {
            RemitError::Post(p) => RefundError::Post(p),
            other => RefundError::NotAllowed(format!(
                "the day's remittance batch could not follow the refund: {other}"
            )),
        }
    }
}

fn stored(e: serde_json::Error) -> DbError {
    DbError::Query(diesel::result::Error::SerializationError(e.into()))
}

impl Remittances for RefundRemittances {
    fn cancel_stale(
        &self,
        conn: &mut DbConn,
        now: NaiveDateTime,
        stale: &str,
        actor: &str,
        reason: &str,
    ) -> Result<String, RefundError> {
        withdraw_in(conn, now, stale, RemittanceStatus::Cancelled, actor, reason)?;
        Ok(stale.to_string())
    }

    fn prepare_again(
        &self,
        conn: &mut DbConn,
        chart: &Chart,
        now: NaiveDateTime,
        cancelled: &str,
        why: &str,
        actor: &str,
    ) -> Result<(), RefundError> {
        let old = read::get(conn, cancelled)?
            .ok_or_else(|| RefundError::NotFound(format!("no remittance '{cancelled}'")))?;
        let base = batch::message_base(&old.message_id).to_string();
        // Prepared again on behalf of whoever prepared the day (the approver of the refund
        // may then approve the new batch only if that was someone else).
        use diesel::prelude::*;
        let person: Option<String> = crate::db::schema::remittances::table
            .find(cancelled)
            .select(crate::db::schema::remittances::prepared_by_person)
            .first(conn)
            .map_err(DbError::from)?;
        match prepare_day(
            conn,
            chart,
            now,
            old.business_date,
            &base,
            &old.prepared_by,
            person.as_deref(),
        ) {
            Ok(again) => {
                audit::record_at(
                    conn,
                    AuditEvent {
                        actor,
                        action: "remittance.prepare",
                        subject: &format!("remittance:{}", again.id),
                        before: Some(serde_json::json!({"replaces": cancelled, "because": why})),
                        after: Some(serde_json::to_value(&again).map_err(stored)?),
                    },
                    now,
                )?;
                Ok(())
            }
            // The refund took all the day had: nothing is left to remit, so no batch.
            Err(RemitError::Batch(BatchError::NothingToRemit(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn request_return(
        &self,
        conn: &mut DbConn,
        chart: &Chart,
        now: NaiveDateTime,
        r: ReturnRequest<'_>,
    ) -> Result<(), RefundError> {
        returns::request_in(
            conn,
            chart,
            now,
            returns::NewReturn {
                refund_id: r.refund_id,
                payment_id: r.payment_id,
                business_date: r.business_date,
                allocation: r.allocation,
                actor: r.actor,
                offer_now: r.offer_now,
            },
        )?;
        Ok(())
    }

    fn taken_by_subject(
        &self,
        conn: &mut DbConn,
        payment_id: &str,
    ) -> Result<BTreeMap<String, i64>, DbError> {
        returns::taken_by_subject(conn, payment_id)
    }
}

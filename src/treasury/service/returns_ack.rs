//! The treasury's answer to a 退库 refund request: acknowledged — the return posts
//! ([`templates::treasury_return`], Dr collection bank / Cr refund payable), then the payer's
//! refund ([`templates::refund_payout`], Dr refund payable / Cr in transit or bank), and the
//! refund is `refunded` once all its requests are — or rejected: nothing posts and the refund is
//! `rejected` (the payment may be refunded again). 2103 is never touched: the revenue left with
//! the remittance.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::returns::{load_request, requests_of, RefundRequestView, RequestRow};
use super::RemitError;
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::{payments, refund_requests, refunds};
use crate::ledger::templates::{self, Header};
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::LedgerError;
use crate::money::format_minor;
use crate::treasury::batch::AckDecision;
use crate::treasury::refund_request::{
    decide_return_ack, decide_return_reject, RejectDecision, RequestError, RequestStatus,
    PAYMENT_SETTLEMENT_POSTED, REFUND_AWAITING_TREASURY, REFUND_REFUNDED, REFUND_REJECTED,
};

/// The outcome of an acknowledgement.
#[derive(Debug, Clone)]
pub struct ReturnAcknowledged {
    /// The request after it.
    pub request: RefundRequestView,
    /// False when the same acknowledgement had been made before.
    pub posted: bool,
}

fn offered(b: &mut Batch<'_>, id: &str) -> Result<RequestRow, RemitError> {
    load_request(b.conn()?, id)?
        .filter(|r| r.pull_seq.is_some())
        .ok_or_else(|| RemitError::NotFound(format!("refund request {id}")))
}

fn rule(e: templates::TemplateError) -> RemitError {
    RemitError::Post(PostError::Rule(LedgerError::from(e)))
}

/// The treasury acknowledges an offered request: the return and the payer's refund post,
/// dated `today`.
pub async fn acknowledge_return(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    treasury_reference: String,
    amount_minor: i64,
    today: NaiveDate,
) -> Result<ReturnAcknowledged, WriteError<RemitError>> {
    writer
        .submit(
            move |b: &mut Batch<'_>| -> Result<ReturnAcknowledged, RemitError> {
                let row = offered(b, &id)?;
                let reference = treasury_reference.trim().to_string();
                let decision = decide_return_ack(
                    row.status,
                    row.treasury_reference.as_deref(),
                    row.amount_minor,
                    &reference,
                    amount_minor,
                )
                .map_err(RemitError::from)?;
                if decision == AckDecision::AlreadyDone {
                    return Ok(ReturnAcknowledged {
                        request: row.into(),
                        posted: false,
                    });
                }
                let actor = by.actor();
                let (payment_reference, payment_status): (String, String) = payments::table
                    .find(&row.payment_id)
                    .select((payments::reference, payments::status))
                    .first(b.conn()?)?;
                let settled = payment_status == PAYMENT_SETTLEMENT_POSTED;
                let chart = b.chart().clone();
                let back = templates::treasury_return(
                    &chart,
                    Header {
                        business_date: today,
                        reference: Some(reference.clone()),
                        actor: actor.clone(),
                    },
                    format!(
                        "退库 {} of refund {} (payment {}), treasury reference {reference}",
                        row.message_id, row.refund_id, payment_reference
                    ),
                    row.amount_minor,
                )
                .map_err(rule)?;
                let back = b.post(back)?;
                let payout = templates::refund_payout(
                    &chart,
                    Header {
                        business_date: today,
                        reference: Some(row.payment_id.clone()),
                        actor: actor.clone(),
                    },
                    format!(
                        "refund {} of payment {} paid from the treasury's return {reference}",
                        row.refund_id, payment_reference
                    ),
                    settled,
                    row.amount_minor,
                )
                .map_err(rule)?;
                let payout = b.post(payout)?;
                let now = b.now();
                let conn = b.conn()?;
                diesel::update(refund_requests::table.find(&id))
                    .set((
                        refund_requests::status.eq(RequestStatus::Acknowledged.as_ref()),
                        refund_requests::acknowledged_at.eq(Some(now)),
                        refund_requests::acknowledged_by.eq(Some(&actor)),
                        refund_requests::treasury_reference.eq(Some(&reference)),
                        refund_requests::return_entry_seq.eq(Some(back.seq)),
                        refund_requests::payout_entry_seq.eq(Some(payout.seq)),
                    ))
                    .execute(conn)?;
                // The refund is refunded once every part of it came back.
                let all_back = requests_of(conn, &row.refund_id)?
                    .iter()
                    .all(|r| r.status == RequestStatus::Acknowledged);
                if all_back {
                    diesel::update(refunds::table.find(&row.refund_id))
                        .filter(refunds::status.eq(REFUND_AWAITING_TREASURY))
                        .set((
                            refunds::status.eq(REFUND_REFUNDED),
                            refunds::entry_seq.eq(Some(payout.seq)),
                        ))
                        .execute(conn)?;
                }
                audit::record_at(
                    conn,
                    AuditEvent {
                        actor: &actor,
                        action: "refund_request.acknowledge",
                        subject: &format!("refund_request:{id}"),
                        before: Some(json!({"status": RequestStatus::Offered})),
                        after: Some(json!({
                            "status": RequestStatus::Acknowledged,
                            "refund_id": row.refund_id,
                            "treasury_reference": reference,
                            "amount": format_minor(amount_minor),
                            "return_entry_seq": back.seq,
                            "payout_entry_seq": payout.seq,
                            "refund_status": if all_back { REFUND_REFUNDED } else { REFUND_AWAITING_TREASURY },
                        })),
                    },
                    now,
                )?;
                let request = load_request(conn, &id)?
                    .ok_or_else(|| RemitError::NotFound(format!("refund request {id}")))?;
                Ok(ReturnAcknowledged {
                    request: request.into(),
                    posted: true,
                })
            },
        )
        .await
}

/// The treasury rejects an offered request: it and the rest of its refund are rejected, the
/// refund becomes `rejected`; nothing posts.
pub async fn reject_return(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    reason: String,
) -> Result<RefundRequestView, WriteError<RemitError>> {
    writer
        .submit(
            move |b: &mut Batch<'_>| -> Result<RefundRequestView, RemitError> {
                let row = offered(b, &id)?;
                let now = b.now();
                let conn = b.conn()?;
                let siblings = requests_of(conn, &row.refund_id)?;
                let sibling_back = siblings
                    .iter()
                    .any(|r| r.id != row.id && r.status == RequestStatus::Acknowledged)
                    .then_some(row.refund_id.as_str());
                let reason = reason.trim().to_string();
                match decide_return_reject(
                    row.status,
                    row.treasury_reference.as_deref(),
                    sibling_back,
                    &reason,
                )
                .map_err(RemitError::from)?
                {
                    RejectDecision::AlreadyDone => return Ok(row.into()),
                    RejectDecision::Reject => {}
                }
                let actor = by.actor();
                for r in siblings
                    .iter()
                    .filter(|r| matches!(r.status, RequestStatus::Waiting | RequestStatus::Offered))
                {
                    diesel::update(refund_requests::table.find(&r.id))
                        .set((
                            refund_requests::status.eq(RequestStatus::Rejected.as_ref()),
                            refund_requests::rejected_at.eq(Some(now)),
                            refund_requests::rejected_by.eq(Some(&actor)),
                            refund_requests::reject_reason.eq(Some(&reason)),
                        ))
                        .execute(conn)?;
                }
                diesel::update(refunds::table.find(&row.refund_id))
                    .filter(refunds::status.eq(REFUND_AWAITING_TREASURY))
                    .set(refunds::status.eq(REFUND_REJECTED))
                    .execute(conn)?;
                audit::record_at(
                    conn,
                    AuditEvent {
                        actor: &actor,
                        action: "refund_request.reject",
                        subject: &format!("refund_request:{id}"),
                        before: Some(json!({"status": row.status})),
                        after: Some(json!({
                            "status": RequestStatus::Rejected,
                            "refund_id": row.refund_id,
                            "reason": reason,
                            "refund_status": REFUND_REJECTED,
                        })),
                    },
                    now,
                )?;
                let request = load_request(conn, &id)?
                    .ok_or_else(|| RemitError::NotFound(format!("refund request {id}")))?;
                Ok(request.into())
            },
        )
        .await
}

impl From<RequestError> for RemitError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Ack(a) => RemitError::Ack(a),
            other => RemitError::Return(other),
        }
    }
}

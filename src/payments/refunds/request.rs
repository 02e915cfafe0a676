//! A refund request: bound to an Idempotency-Key as a payment is (the same key and request
//! answer what the first attempt answered; the same key with another request is refused),
//! checked against the payment and its other live refunds, recorded, audited — the key's check
//! and its record in the same ledger-writer job, so concurrent retries make one refund.

use super::*;
use crate::db::schema::idempotency_keys;
use crate::payments::capture::{replay, stored_answer, Answer};
use crate::payments::intake;

/// A refund request as the API or a page received it, checked for shape.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// The Idempotency-Key (1–64 of `[A-Za-z0-9_-]`).
    pub key: String,
    /// [`request_hash`] of the request.
    pub request_hash: [u8; 32],
    /// The payment to refund.
    pub payment_id: String,
    /// Amount, more than 0.00 ([`refund_amount`]).
    pub amount_minor: i64,
    /// Why, 1–[`MAX_TEXT_CHARS`] characters.
    pub reason: String,
    /// The business day it is made on.
    pub business_date: NaiveDate,
}

/// What an Idempotency-Key is bound to for a refund request: the payment's request hash
/// ([`intake::request_hash`]) over the payment refunded and the body as sent, so the same key
/// and body sent for another payment is another request.
pub fn request_hash(
    keys: &crate::keys::ServiceKeys,
    payment_id: &str,
    body: &serde_json::Value,
) -> [u8; 32] {
    intake::request_hash(
        keys,
        &serde_json::json!({ "payment_id": payment_id, "refund": body }),
    )
}

/// Records a refund request after checking that the payment can be refunded and that its live
/// refunds together stay within it; answers `201` and the refund's view, or the first answer
/// again for a retry of the same request.
pub async fn request(
    writer: &LedgerWriter,
    r: RefundRequest,
    by: Principal,
) -> Result<Answer, WriteError<RefundError>> {
    if !text_ok(&r.reason) {
        return Err(WriteError::Rejected(RefundError::BadReason));
    }
    writer
        .submit(move |batch| {
            // Batches are serialised by the chain-head lock, so this read sees every committed
            // key and every key of earlier jobs; the primary key on the keys is the backstop.
            if let Some(stored) = stored_answer(batch.conn()?, &r.key)? {
                return replay(stored, &r.request_hash, RefundError::KeyReused);
            }
            let conn = batch.conn()?;
            let payment_id = r.payment_id.clone();
            let payment = load(conn, &payment_id)?.ok_or_else(|| RefundError::NotFound(format!("no payment '{payment_id}'")))?;
            if !payment.status.refundable() {
                return Err(RefundError::NotAllowed(format!("payment {payment_id} was voided; there is nothing to refund")));
            }
            let already = live_total(&refunds_of(conn, &payment_id)?);
            if already + r.amount_minor > payment.amount_minor {
                return Err(RefundError::ExceedsPayment(format!(
                    "payment {payment_id} is {}; refunds requested or approved come to {}, so at most {} more can be refunded",
                    format_minor(payment.amount_minor),
                    format_minor(already),
                    format_minor(payment.amount_minor - already)
                )));
            }
            let route = routing_of_day(conn, payment.business_date)?.route();
            let now = batch.now();
            let id = format!("ref_{}", hex::encode(crate::keys::random_bytes::<8>().map_err(|_| DbError::Connect("no randomness".into()))?));
            let refund = Refund {
                id: id.clone(),
                payment_id,
                amount_minor: r.amount_minor,
                reason: r.reason.clone(),
                status: RefundStatus::Requested,
                requested_by_token: by.token_id.clone(),
                requested_by: by.actor(),
                approved_by: None,
                entry_seq: None,
                created_at: now,
                approved_at: None,
                requested_by_person: Some(by.person_id.clone()),
                business_date: r.business_date,
                closed_by: None,
                closed_at: None,
                closed_on: None,
                closed_note: None,
                route,
            };
            let conn = batch.conn()?;
            insert_refund(conn, &refund)?;
            let after = view(&refund)?;
            let body = after.to_string();
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::idem_key.eq(&r.key),
                    idempotency_keys::request_hash.eq(r.request_hash.to_vec()),
                    idempotency_keys::status_code.eq(201i64),
                    idempotency_keys::response_body.eq(&body),
                    idempotency_keys::refund_id.eq(Some(&id)),
                    idempotency_keys::hash_version.eq(crate::payments::hashes::KEYED_HASH),
                    idempotency_keys::created_at.eq(now),
                ))
                .execute(conn)?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &refund.requested_by,
                    action: "refund.request",
                    subject: &format!("refund:{id}"),
                    before: None,
                    after: Some(after),
                },
                now,
            )?;
            Ok(Answer { status: 201, body })
        })
        .await
}

fn insert_refund(conn: &mut DbConn, refund: &Refund) -> Result<(), DbError> {
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(&refund.id),
            refunds::payment_id.eq(&refund.payment_id),
            refunds::amount_minor.eq(refund.amount_minor),
            refunds::reason.eq(&refund.reason),
            refunds::status.eq(refund.status.as_ref()),
            refunds::requested_by_token.eq(&refund.requested_by_token),
            refunds::requested_by.eq(&refund.requested_by),
            refunds::requested_by_person.eq(&refund.requested_by_person),
            refunds::created_at.eq(refund.created_at),
            refunds::route.eq(refund.route.as_ref()),
            refunds::business_date.eq(refund.business_date),
        ))
        .execute(conn)?;
    Ok(())
}

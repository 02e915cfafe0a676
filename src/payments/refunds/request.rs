//! A refund request: checked against the payment and its other refunds, recorded, audited.

use super::*;

/// Records a refund request after checking that the payment can be refunded and that all its
/// refunds together stay within it.
pub async fn request(
    writer: &LedgerWriter,
    payment_id: String,
    amount_minor: i64,
    reason: String,
    by: Principal,
) -> Result<Refund, WriteError<RefundError>> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(WriteError::Rejected(RefundError::BadReason));
    }
    writer
        .submit(move |batch| {
            let conn = batch.conn()?;
            let payment = load(conn, &payment_id)?.ok_or_else(|| RefundError::NotFound(format!("no payment '{payment_id}'")))?;
            if !payment.status.refundable() {
                return Err(RefundError::NotAllowed(format!("payment {payment_id} was voided; there is nothing to refund")));
            }
            let already: i64 = refunds_of(conn, &payment_id)?.iter().filter(|r| r.status.counts_against_payment()).map(|r| r.amount_minor).sum();
            if already + amount_minor > payment.amount_minor {
                return Err(RefundError::ExceedsPayment(format!(
                    "payment {payment_id} is {}; refunds already requested come to {}, so at most {} more can be refunded",
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
                payment_id: payment_id.clone(),
                amount_minor,
                reason,
                status: RefundStatus::Requested,
                requested_by_token: by.token_id.clone(),
                requested_by: by.actor(),
                approved_by: None,
                entry_seq: None,
                created_at: now,
                approved_at: None,
                route,
            };
            let conn = batch.conn()?;
            diesel::insert_into(refunds::table)
                .values((
                    refunds::id.eq(&refund.id),
                    refunds::payment_id.eq(&refund.payment_id),
                    refunds::amount_minor.eq(refund.amount_minor),
                    refunds::reason.eq(&refund.reason),
                    refunds::status.eq(refund.status.as_ref()),
                    refunds::requested_by_token.eq(&refund.requested_by_token),
                    refunds::requested_by.eq(&refund.requested_by),
                    refunds::created_at.eq(now),
                    refunds::route.eq(refund.route.as_ref()),
                ))
                .execute(conn)?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &refund.requested_by,
                    action: "refund.request",
                    subject: &format!("refund:{id}"),
                    before: None,
                    after: Some(view(&refund)?),
                },
                now,
            )?;
            Ok(refund)
        })
        .await
}

//! A refund's approval: four eyes, the allocation over revenue subjects, the refund entry.

use super::*;

/// The refund entry ([`templates::refund`]): Dr 2103.<subject> per allocated subject / Cr in
/// transit until the payment's settlement entry has posted (reconciled), the collection bank
/// after.
fn refund_entry(
    batch: &Batch<'_>,
    payment: &StoredPayment,
    refund: &Refund,
    allocation: &[(String, i64)],
    actor: &str,
    business_date: NaiveDate,
) -> Result<NewEntry, RefundError> {
    let header = Header {
        business_date,
        reference: Some(payment.id.clone()),
        actor: actor.to_string(),
    };
    // Within the ledger's memo limit whatever the reason's length (the whole reason stays on
    // the refund).
    let memo = refund_memo(&refund.id, &payment.reference, &refund.reason);
    let settled = payment.status.settlement_posted();
    templates::refund(
        batch.chart(),
        header,
        memo,
        settled,
        allocation,
        refund.amount_minor,
    )
    .map_err(|e| RefundError::Post(PostError::Rule(LedgerError::from(e))))
}

/// The refund and its payment, if `by` may approve it now: someone other than the requester,
/// a refund still waiting, a payment not voided, a day not yet remitted.
fn approvable(
    conn: &mut DbConn,
    refund_id: &str,
    by: &Principal,
) -> Result<(Refund, StoredPayment), RefundError> {
    let refund = load_refund(conn, refund_id)?
        .ok_or_else(|| RefundError::NotFound(format!("no refund '{refund_id}'")))?;
    if by.is_same_person(refund.requested_by_person.as_deref()) {
        return Err(RefundError::SamePerson);
    }
    if !refund.status.can_become(RefundStatus::Approved) {
        return Err(RefundError::NotAllowed(format!(
            "refund {refund_id} is {}, not waiting for approval",
            refund.status
        )));
    }
    let payment = load(conn, &refund.payment_id)?
        .ok_or_else(|| RefundError::NotFound(format!("no payment '{}'", refund.payment_id)))?;
    if !payment.status.refundable() {
        return Err(RefundError::NotAllowed(format!(
            "payment {} was voided after the request",
            payment.id
        )));
    }
    // Once the day has a batch its payable is fixed (DESIGN §2 rule 6); the writer
    // serialises this check with the batch's preparation.
    if let DayState::RemittanceLocked { remittance, .. } = days::state(conn, payment.business_date)?
    {
        return Err(RefundError::AlreadyRemitted {
            payment: payment.id.clone(),
            date: payment.business_date,
            remittance,
        });
    }
    Ok((refund, payment))
}

/// Approves a refund: a supervisor other than the requester; posts the refund entry.
pub async fn approve(
    writer: &LedgerWriter,
    refund_id: String,
    by: Principal,
    business_date: NaiveDate,
) -> Result<Refund, WriteError<RefundError>> {
    writer
        .submit(move |batch| {
            let conn = batch.conn()?;
            let (refund, payment) = approvable(conn, &refund_id, &by)?;
            let earlier = taken_by_subject(conn, &payment.id)?;
            let allocation =
                allocate(&payment, &earlier, refund.amount_minor).ok_or_else(|| {
                    RefundError::ExceedsPayment(format!(
                        "refund {refund_id} exceeds what is left of payment {}",
                        payment.id
                    ))
                })?;
            let actor = by.actor();
            let entry = refund_entry(batch, &payment, &refund, &allocation, &actor, business_date)?;
            let posted = batch.post(entry)?;
            let now = batch.now();
            let conn = batch.conn()?;
            diesel::update(refunds::table.filter(refunds::id.eq(&refund_id)))
                .set((
                    refunds::status.eq(RefundStatus::Approved.as_ref()),
                    refunds::approved_by.eq(&actor),
                    refunds::entry_seq.eq(posted.seq),
                    refunds::approved_at.eq(now),
                ))
                .execute(conn)?;
            let after = Refund {
                status: RefundStatus::Approved,
                approved_by: Some(actor.clone()),
                entry_seq: Some(posted.seq),
                approved_at: Some(now),
                ..refund.clone()
            };
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "refund.approve",
                    subject: &format!("refund:{refund_id}"),
                    before: Some(view(&refund)?),
                    after: Some(view(&after)?),
                },
                now,
            )?;
            Ok(after)
        })
        .await
}

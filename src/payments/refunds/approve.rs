//! A refund's approval: four eyes, the allocation over revenue subjects, and the route
//! ([`routing`]): the refund entry, a stale prepared batch cancelled and prepared again around
//! it, or a 退库 request to the treasury.

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
    Ok((refund, payment))
}

/// Route `direct`: posts the refund entry against the payable; the refund is approved.
fn post_direct(
    batch: &mut Batch<'_>,
    refund: &Refund,
    payment: &StoredPayment,
    allocation: &[(String, i64)],
    actor: &str,
    business_date: NaiveDate,
) -> Result<(RefundStatus, Option<i64>), RefundError> {
    let entry = refund_entry(batch, payment, refund, allocation, actor, business_date)?;
    let posted = batch.post(entry)?;
    Ok((RefundStatus::Approved, Some(posted.seq)))
}

/// A prepared batch the refund makes stale: cancelled (audited, naming the refund), the refund
/// posted directly, the day prepared again (audited) — unless the refund leaves nothing to
/// remit.
#[allow(clippy::too_many_arguments)]
fn restale(
    batch: &mut Batch<'_>,
    remit: &dyn Remittances,
    stale: &str,
    refund: &Refund,
    payment: &StoredPayment,
    allocation: &[(String, i64)],
    actor: &str,
    business_date: NaiveDate,
) -> Result<(RefundStatus, Option<i64>), RefundError> {
    let now = batch.now();
    let reason = format!(
        "stale: refund {} of payment {} changes the day's payable",
        refund.id, payment.id
    );
    let cancelled = remit.cancel_stale(batch.conn()?, now, stale, actor, &reason)?;
    let done = post_direct(batch, refund, payment, allocation, actor, business_date)?;
    let chart = batch.chart().clone();
    remit.prepare_again(
        batch.conn()?,
        &chart,
        now,
        &cancelled,
        &format!("refund {} of payment {}", refund.id, payment.id),
        actor,
    )?;
    Ok(done)
}

/// Route `treasury` (退库): nothing posts; one refund request per allocated subject, offered to
/// the treasury once the day's batch is acknowledged.
fn request_return(
    batch: &mut Batch<'_>,
    remit: &dyn Remittances,
    refund: &Refund,
    payment: &StoredPayment,
    allocation: &[(String, i64)],
    actor: &str,
    acknowledged: bool,
) -> Result<(RefundStatus, Option<i64>), RefundError> {
    let chart = batch.chart().clone();
    let now = batch.now();
    remit.request_return(
        batch.conn()?,
        &chart,
        now,
        ReturnRequest {
            refund_id: &refund.id,
            payment_id: &payment.id,
            business_date: payment.business_date,
            allocation,
            actor,
            offer_now: acknowledged,
        },
    )?;
    Ok((RefundStatus::AwaitingTreasury, None))
}

/// Approves a refund: a supervisor other than the requester; routes it as [`routing`] says.
pub async fn approve(
    writer: &LedgerWriter,
    refund_id: String,
    by: Principal,
    business_date: NaiveDate,
    remit: Arc<dyn Remittances>,
) -> Result<Refund, WriteError<RefundError>> {
    writer
        .submit(move |batch| {
            let conn = batch.conn()?;
            let (refund, payment) = approvable(conn, &refund_id, &by)?;
            let earlier = taken_by_subject(conn, remit.as_ref(), &payment.id)?;
            let allocation =
                allocate(&payment, &earlier, refund.amount_minor).ok_or_else(|| {
                    RefundError::ExceedsPayment(format!(
                        "refund {refund_id} exceeds what is left of payment {}",
                        payment.id
                    ))
                })?;
            let actor = by.actor();
            // The writer serialises this with the batch's preparation, approval and ack.
            let routing = routing_of_day(conn, payment.business_date)?;
            let (status, entry_seq) = match &routing {
                Routing::Direct => {
                    post_direct(batch, &refund, &payment, &allocation, &actor, business_date)?
                }
                Routing::StaleBatch(stale) => restale(
                    batch,
                    remit.as_ref(),
                    stale,
                    &refund,
                    &payment,
                    &allocation,
                    &actor,
                    business_date,
                )?,
                Routing::Treasury { acknowledged } => request_return(
                    batch,
                    remit.as_ref(),
                    &refund,
                    &payment,
                    &allocation,
                    &actor,
                    *acknowledged,
                )?,
            };
            let route = routing.route();
            let now = batch.now();
            let conn = batch.conn()?;
            diesel::update(refunds::table.filter(refunds::id.eq(&refund_id)))
                .set((
                    refunds::status.eq(status.as_ref()),
                    refunds::approved_by.eq(&actor),
                    refunds::entry_seq.eq(entry_seq),
                    refunds::approved_at.eq(now),
                    refunds::route.eq(route.as_ref()),
                ))
                .execute(conn)?;
            let after = Refund {
                status,
                approved_by: Some(actor.clone()),
                entry_seq,
                approved_at: Some(now),
                route,
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

//! Refunds with four eyes: one person requests, a supervisor who is someone else approves, and
//! the approval posts `Dr 2103.<subject> / Cr 1218.01` (Cr 1002.01 once the payment is settled).
//! The sum of a payment's refunds never exceeds the payment.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::view::stored_json;
use super::{load, RefundStatus, StoredPayment};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::refunds;
use crate::db::{DbConn, DbError};
use crate::ledger::templates::{self, Header};
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::{days, DayState, LedgerError, NewEntry, Side};
use crate::money::{format_minor, parse_amount};

/// Why a refund step was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such payment or refund.
    #[error("{0}")]
    NotFound(String),
    /// The payment cannot be refunded (voided), or the refund is not waiting for approval.
    #[error("{0}")]
    NotAllowed(String),
    /// Refunds would exceed the payment.
    #[error("{0}")]
    ExceedsPayment(String),
    /// The payment's day has a remittance batch: what it collected is the treasury's. A refund
    /// now is a treasury refund request (退库), not an entry on the payable.
    #[error("payment {payment} belongs to {date}, which remittance {remittance} already covers; a refund now must go to the treasury as a refund request (退库)")]
    AlreadyRemitted {
        /// The payment.
        payment: String,
        /// Its business day.
        date: NaiveDate,
        /// The batch.
        remittance: String,
    },
    /// The approver requested the refund.
    #[error("the person who requested a refund cannot approve it")]
    SamePerson,
    /// The amount is not a positive amount of money (the message names `amount`).
    #[error("{0}")]
    BadAmount(String),
    /// A reason is required (1–500 characters).
    #[error("a refund needs a reason of 1–500 characters")]
    BadReason,
    /// Posting failed or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
}

impl From<DbError> for RefundError {
    fn from(e: DbError) -> Self {
        RefundError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for RefundError {
    fn from(e: diesel::result::Error) -> Self {
        RefundError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    /// Id (`ref_…`).
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Amount.
    pub amount_minor: i64,
    /// Why.
    pub reason: String,
    /// Requested or approved.
    #[diesel(deserialize_as = String)]
    pub status: RefundStatus,
    /// Token that requested it.
    pub requested_by_token: String,
    /// Who requested it.
    pub requested_by: String,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// The refund entry, once approved.
    pub entry_seq: Option<i64>,
    /// When requested.
    pub created_at: NaiveDateTime,
    /// When approved.
    pub approved_at: Option<NaiveDateTime>,
}

/// The API view of a refund; its schema is the one `/openapi.json` publishes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefundView {
    /// Id (`ref_…`).
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Amount, decimal string.
    pub amount: String,
    /// Why.
    pub reason: String,
    /// `requested` or `approved`.
    pub status: String,
    /// Who requested it.
    pub requested_by: String,
    /// Who approved it, once approved.
    pub approved_by: Option<String>,
    /// The refund entry, once approved.
    pub entry_seq: Option<i64>,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        RefundView {
            id: r.id.clone(),
            payment_id: r.payment_id.clone(),
            amount: format_minor(r.amount_minor),
            reason: r.reason.clone(),
            status: r.status.to_string(),
            requested_by: r.requested_by.clone(),
            approved_by: r.approved_by.clone(),
            entry_seq: r.entry_seq,
        }
    }
}

/// [`RefundView`] as JSON, as stored with audit records; a failure is a storage failure.
pub fn view(r: &Refund) -> Result<serde_json::Value, DbError> {
    stored_json(&RefundView::from(r))
}

fn load_refund(conn: &mut DbConn, id: &str) -> Result<Option<Refund>, DbError> {
    Ok(refunds::table
        .filter(refunds::id.eq(id.to_string()))
        .select(Refund::as_select())
        .first(conn)
        .optional()?)
}

/// The refunds of a payment, oldest first.
pub fn refunds_of(conn: &mut DbConn, payment_id: &str) -> Result<Vec<Refund>, DbError> {
    Ok(refunds::table
        .filter(refunds::payment_id.eq(payment_id.to_string()))
        .order(refunds::created_at)
        .select(Refund::as_select())
        .load(conn)?)
}

/// A refund's amount as typed (`"100.00"`): more than 0.00, or [`RefundError::BadAmount`].
pub fn refund_amount(text: &str) -> Result<i64, RefundError> {
    let amount = parse_amount(text).map_err(|e| RefundError::BadAmount(format!("amount: {e}")))?;
    if amount == 0 {
        return Err(RefundError::BadAmount(
            "amount: a refund is more than 0.00".into(),
        ));
    }
    Ok(amount)
}

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
            let already: i64 = refunds_of(conn, &payment_id)?.iter().map(|r| r.amount_minor).sum();
            if already + amount_minor > payment.amount_minor {
                return Err(RefundError::ExceedsPayment(format!(
                    "payment {payment_id} is {}; refunds already requested come to {}, so at most {} more can be refunded",
                    format_minor(payment.amount_minor),
                    format_minor(already),
                    format_minor(payment.amount_minor - already)
                )));
            }
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

/// Splits a refund over the payment's revenue subjects, in line order, each subject up to what
/// its lines brought in less what earlier approved refunds took from it.
pub fn allocate(
    payment: &StoredPayment,
    earlier: &BTreeMap<String, i64>,
    amount_minor: i64,
) -> Option<Vec<(String, i64)>> {
    let mut capacity: Vec<(String, i64)> = Vec::new();
    for l in &payment.lines {
        match capacity.iter_mut().find(|(s, _)| *s == l.revenue_subject) {
            Some((_, c)) => *c += l.amount_minor,
            None => capacity.push((l.revenue_subject.clone(), l.amount_minor)),
        }
    }
    let mut left = amount_minor;
    let mut out = Vec::new();
    for (subject, cap) in capacity {
        let free = cap - earlier.get(&subject).copied().unwrap_or(0);
        let take = free.min(left);
        if take > 0 {
            out.push((subject, take));
            left -= take;
        }
    }
    (left == 0).then_some(out)
}

/// The revenue subject of a `2103.<subject>` account: what follows the last dot (the whole
/// code if there is none).
fn subject_of(account: &str) -> &str {
    account
        .rsplit_once('.')
        .map_or(account, |(_, subject)| subject)
}

/// What a payment's approved refunds took from each revenue subject, from their entries.
fn taken_by_subject(conn: &mut DbConn, payment_id: &str) -> Result<BTreeMap<String, i64>, DbError> {
    let mut earlier: BTreeMap<String, i64> = BTreeMap::new();
    for r in refunds_of(conn, payment_id)?
        .iter()
        .filter(|r| r.status == RefundStatus::Approved)
    {
        if let Some(e) = r
            .entry_seq
            .map(|s| crate::ledger::repo::load_entry(conn, s))
            .transpose()?
            .flatten()
        {
            for p in e.entry.postings.iter().filter(|p| p.side == Side::Debit) {
                *earlier
                    .entry(subject_of(&p.account).to_string())
                    .or_default() += p.amount_minor;
            }
        }
    }
    Ok(earlier)
}

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
    let memo = format!(
        "refund {} of payment {}: {}",
        refund.id, payment.reference, refund.reason
    );
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
    let requester_name = refund.requested_by.split_once(':').map_or("", |(_, n)| n);
    if refund.requested_by_token == by.token_id || requester_name == by.name {
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

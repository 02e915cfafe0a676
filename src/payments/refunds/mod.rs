//! Refunds with four eyes: one person requests, a supervisor who is someone else approves, and
//! the approval posts `Dr 2103.<subject> / Cr 1218.01` (Cr 1002.01 once the payment is settled).
//! The sum of a payment's refunds never exceeds the payment.
//!
//! **Routing** ([`routing`]): while the payment's day has no live remittance batch the refund
//! is `direct` as above. A *prepared* batch is stale once a refund changes the day: approval
//! cancels it, posts the refund and prepares the day again, in one writer job. Once the batch
//! is approved (or acknowledged) the revenue is the treasury's: the refund is routed to the
//! `treasury` (退库) — approval posts nothing, the refund waits as `awaiting_treasury` with a
//! refund request per revenue subject, and becomes `refunded` when the treasury returns the
//! money. The batch and the requests are the treasury's: payments may not depend on it, so an
//! approval is handed a [`Remittances`] (the treasury's implementation) to act on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::view::stored_json;
use super::{load, RefundRoute, RefundStatus, StoredPayment};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::refunds;
use crate::db::{DbConn, DbError};
use crate::ledger::days::RemittanceStatus;
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
    /// The payment cannot be refunded (voided), the refund is not waiting for approval, or the
    /// day's batch could not follow it.
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
    /// `direct` or `treasury` (退库): computed at request and again at approval.
    #[diesel(deserialize_as = String)]
    pub route: RefundRoute,
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
    /// `requested`, `approved`, `awaiting_treasury`, `refunded` or `rejected`.
    pub status: String,
    /// `direct` while the revenue is still with the centre, `treasury` once remitted (退库).
    pub route: String,
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
            route: r.route.to_string(),
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

pub(super) fn load_refund(conn: &mut DbConn, id: &str) -> Result<Option<Refund>, DbError> {
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

/// How an approval handles a refund, from the live batch of its payment's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// No batch: post the refund against the payable now.
    Direct,
    /// A prepared batch (this one) that the refund makes stale: cancel it, post the refund,
    /// prepare the day again.
    StaleBatch(String),
    /// The batch is approved or acknowledged: the revenue is the treasury's (退库).
    Treasury {
        /// Has the treasury acknowledged it (the money has arrived)?
        acknowledged: bool,
    },
}

impl Routing {
    /// The route the refund shows.
    pub fn route(&self) -> RefundRoute {
        match self {
            Routing::Direct | Routing::StaleBatch(_) => RefundRoute::Direct,
            Routing::Treasury { .. } => RefundRoute::Treasury,
        }
    }
}

/// DESIGN §2, §6: the live batch of the payment's day decides the route.
pub fn routing(batch: Option<(String, RemittanceStatus)>) -> Routing {
    match batch {
        None => Routing::Direct,
        Some((id, RemittanceStatus::Prepared)) => Routing::StaleBatch(id),
        Some((_, RemittanceStatus::Acknowledged)) => Routing::Treasury { acknowledged: true },
        // Approved; a cancelled or rejected batch is never the live one.
        Some((_, _)) => Routing::Treasury {
            acknowledged: false,
        },
    }
}

/// A refund of remitted revenue to ask the treasury for (退库).
#[derive(Debug, Clone)]
pub struct ReturnRequest<'a> {
    /// The refund.
    pub refund_id: &'a str,
    /// Its payment.
    pub payment_id: &'a str,
    /// The payment's business day (whose batch carried the revenue).
    pub business_date: NaiveDate,
    /// (revenue subject, amount) as the refund is allocated.
    pub allocation: &'a [(String, i64)],
    /// Who approved the refund.
    pub actor: &'a str,
    /// Is the day's batch acknowledged already (offer the requests at once)?
    pub offer_now: bool,
}

/// What a refund's approval asks of the remittance side (DESIGN §6), inside its writer job.
/// The treasury implements it (`treasury::service::RefundRemittances`); payments may not depend
/// on the treasury, so the caller hands one over.
pub trait Remittances: Send + Sync {
    /// Cancels the prepared batch `stale` that the refund makes stale (audited with `reason`);
    /// returns its id for [`Remittances::prepare_again`].
    fn cancel_stale(
        &self,
        conn: &mut DbConn,
        now: NaiveDateTime,
        stale: &str,
        actor: &str,
        reason: &str,
    ) -> Result<String, RefundError>;
    /// Prepares the day of the cancelled batch again, after the refund posted (audited, naming
    /// `why`); nothing when nothing is left to remit.
    fn prepare_again(
        &self,
        conn: &mut DbConn,
        chart: &crate::ledger::Chart,
        now: NaiveDateTime,
        cancelled: &str,
        why: &str,
        actor: &str,
    ) -> Result<(), RefundError>;
    /// Records the 退库 requests of an approved refund of remitted revenue.
    fn request_return(
        &self,
        conn: &mut DbConn,
        chart: &crate::ledger::Chart,
        now: NaiveDateTime,
        request: ReturnRequest<'_>,
    ) -> Result<(), RefundError>;
    /// What a payment's refunds routed to the treasury took from each revenue subject.
    fn taken_by_subject(
        &self,
        conn: &mut DbConn,
        payment_id: &str,
    ) -> Result<BTreeMap<String, i64>, DbError>;
}

/// The routing of a refund of a payment of `date`, from the day's state.
pub(super) fn routing_of_day(conn: &mut DbConn, date: NaiveDate) -> Result<Routing, DbError> {
    Ok(match days::state(conn, date)? {
        DayState::RemittanceLocked { remittance, status } => routing(Some((remittance, status))),
        _ => Routing::Direct,
    })
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
pub(super) fn subject_of(account: &str) -> &str {
    account
        .rsplit_once('.')
        .map_or(account, |(_, subject)| subject)
}

/// What a payment's approved refunds took from each revenue subject, from their entries.
pub(super) fn taken_by_subject(
    conn: &mut DbConn,
    remit: &dyn Remittances,
    payment_id: &str,
) -> Result<BTreeMap<String, i64>, DbError> {
    let mut earlier: BTreeMap<String, i64> = BTreeMap::new();
    // Refunds routed to the treasury took their subjects through their refund requests.
    for (subject, amount) in remit.taken_by_subject(conn, payment_id)? {
        *earlier.entry(subject).or_default() += amount;
    }
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

mod approve;
mod request;

pub use approve::approve;
pub use request::request;

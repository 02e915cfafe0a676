//! 退库 refund requests over the database (DESIGN §2, §6; rules in
//! [`crate::treasury::refund_request`]): made when a refund of remitted revenue is approved,
//! offered to the treasury once the batch that carried the revenue is acknowledged (money that
//! has not reached the treasury cannot be returned), pulled with a cursor, and acknowledged —
//! posting the return, then the payer's refund — or rejected. Before the acknowledgement nothing
//! posts: neither fund pre-finances a refund.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::corrupt;
use crate::db::schema::refund_requests;
use crate::db::{DbConn, DbError};
use crate::ledger::{AccountRole, Chart};
use crate::money::format_minor;
use crate::treasury::refund_request::{self, RequestStatus};

/// A refund request as the treasury sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundRequestView {
    /// Id (`rrq_…`).
    pub id: String,
    /// The refund.
    pub refund_id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// The revenue subject the money is returned from.
    pub revenue_subject: String,
    /// Amount to return, decimal string.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// pain.001 message id.
    pub message_id: String,
    /// `offered`, `acknowledged` or `rejected` (`waiting` is never shown to the treasury).
    #[schema(value_type = String)]
    pub status: RequestStatus,
    /// Position in the treasury's pull order: what `after` takes.
    pub cursor: Option<String>,
    /// The treasury's reference, once acknowledged.
    pub treasury_reference: Option<String>,
    /// Why the treasury rejected it.
    pub reject_reason: Option<String>,
}

/// A `refund_requests` row as the service reads it (the file aside).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refund_requests)]
pub(super) struct RequestRow {
    pub(super) id: String,
    pub(super) refund_id: String,
    pub(super) payment_id: String,
    pub(super) revenue_subject: String,
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) message_id: String,
    #[diesel(deserialize_as = String)]
    pub(super) status: RequestStatus,
    pub(super) pull_seq: Option<i64>,
    pub(super) treasury_reference: Option<String>,
    pub(super) reject_reason: Option<String>,
}

impl From<RequestRow> for RefundRequestView {
    fn from(r: RequestRow) -> Self {
        RefundRequestView {
            amount: format_minor(r.amount_minor),
            cursor: r.pull_seq.map(|s| s.to_string()),
            id: r.id,
            refund_id: r.refund_id,
            payment_id: r.payment_id,
            revenue_subject: r.revenue_subject,
            currency: r.currency,
            message_id: r.message_id,
            status: r.status,
            treasury_reference: r.treasury_reference,
            reject_reason: r.reject_reason,
        }
    }
}

pub(super) fn load_request(conn: &mut DbConn, id: &str) -> Result<Option<RequestRow>, DbError> {
    Ok(refund_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// The requests of a refund.
pub(super) fn requests_of(conn: &mut DbConn, refund_id: &str) -> Result<Vec<RequestRow>, DbError> {
    Ok(refund_requests::table
        .filter(refund_requests::refund_id.eq(refund_id))
        .order(refund_requests::id)
        .select(RequestRow::as_select())
        .load(conn)?)
}

/// A refund of remitted revenue to ask the treasury for.
#[derive(Debug, Clone)]
pub struct NewReturn<'a> {
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

/// Records one request per allocated subject, inside the refund approval's writer job.
pub fn request_in(
    conn: &mut DbConn,
    chart: &Chart,
    now: NaiveDateTime,
    r: NewReturn<'_>,
) -> Result<Vec<String>, DbError> {
    let currency = chart
        .account_with_role(AccountRole::CollectionBank)
        .map_or_else(|| crate::money::CNY.to_string(), |a| a.currency.clone());
    let mut ids = Vec::with_capacity(r.allocation.len());
    for (subject, amount) in r.allocation {
        let account = chart
            .treasury_payable_for(subject)
            .map(|a| a.code.clone())
            .ok_or_else(|| corrupt(format!("no treasury-payable account for subject {subject}")))?;
        let random = crate::keys::random_bytes::<8>()
            .map_err(|_| DbError::Connect("no randomness".into()))?;
        let id = format!("rrq_{}", hex::encode(random));
        diesel::insert_into(refund_requests::table)
            .values((
                refund_requests::id.eq(&id),
                refund_requests::refund_id.eq(r.refund_id),
                refund_requests::payment_id.eq(r.payment_id),
                refund_requests::business_date.eq(r.business_date),
                refund_requests::revenue_subject.eq(subject),
                refund_requests::account_code.eq(&account),
                refund_requests::amount_minor.eq(*amount),
                refund_requests::currency.eq(&currency),
                refund_requests::message_id.eq(refund_request::message_id(&id)),
                refund_requests::status.eq(RequestStatus::Waiting.as_ref()),
                refund_requests::created_at.eq(now),
                refund_requests::created_by.eq(r.actor),
            ))
            .execute(conn)?;
        ids.push(id);
    }
    if r.offer_now {
        offer_waiting_in(conn, r.business_date, now)?;
    }
    Ok(ids)
}

/// Offers the waiting requests of `date` to the treasury (next pull positions, oldest first):
/// called when the day's batch is acknowledged, the money having reached the treasury.
pub fn offer_waiting_in(
    conn: &mut DbConn,
    date: NaiveDate,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let waiting: Vec<String> = refund_requests::table
        .filter(refund_requests::business_date.eq(date))
        .filter(refund_requests::status.eq(RequestStatus::Waiting.as_ref()))
        .order((refund_requests::created_at, refund_requests::id))
        .select(refund_requests::id)
        .load(conn)?;
    let last: Option<i64> = refund_requests::table
        .select(diesel::dsl::max(refund_requests::pull_seq))
        .first(conn)?;
    let mut next = last.unwrap_or(0);
    for id in &waiting {
        next += 1;
        diesel::update(refund_requests::table.find(id))
            .set((
                refund_requests::status.eq(RequestStatus::Offered.as_ref()),
                refund_requests::pull_seq.eq(Some(next)),
                refund_requests::offered_at.eq(Some(now)),
            ))
            .execute(conn)?;
    }
    Ok(waiting.len())
}

/// What a payment's refunds routed to the treasury took from each revenue subject (requests
/// not rejected).
pub fn taken_by_subject(
    conn: &mut DbConn,
    payment_id: &str,
) -> Result<BTreeMap<String, i64>, DbError> {
    let rows: Vec<(String, i64)> = refund_requests::table
        .filter(refund_requests::payment_id.eq(payment_id))
        .filter(refund_requests::status.ne(RequestStatus::Rejected.as_ref()))
        .select((
            refund_requests::revenue_subject,
            refund_requests::amount_minor,
        ))
        .load(conn)?;
    let mut out = BTreeMap::new();
    for (subject, amount) in rows {
        *out.entry(subject).or_default() += amount;
    }
    Ok(out)
}

/// Offered requests in offer order after pull position `after` (acknowledged and rejected ones
/// stay in the list with their status, so a cursor never skips).
pub fn list_for_treasury(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> Result<(Vec<RefundRequestView>, Option<String>), DbError> {
    let mut rows: Vec<RequestRow> = refund_requests::table
        .filter(refund_requests::pull_seq.gt(after))
        .order(refund_requests::pull_seq)
        .limit(limit + 1)
        .select(RequestRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        rows.last().and_then(|r| r.pull_seq).map(|s| s.to_string())
    } else {
        None
    };
    Ok((
        rows.into_iter().map(RefundRequestView::from).collect(),
        next,
    ))
}

/// An offered request by id, as the treasury sees it (`None` for a waiting one).
pub fn get_for_treasury(conn: &mut DbConn, id: &str) -> Result<Option<RefundRequestView>, DbError> {
    Ok(load_request(conn, id)?
        .filter(|r| r.pull_seq.is_some())
        .map(RefundRequestView::from))
}

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
    /// The person who requested it: the approver must be someone else.
    pub requested_by_person: Option<String>,
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
    payment_id: &str,
) -> Result<BTreeMap<String, i64>, DbError> {
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

mod approve;
mod request;

pub use approve::approve;
pub use request::request;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::ConcessionKind;
    use crate::payments::intake::CardData;
    use crate::payments::{Channel, LineConcession, PaymentStatus, ReceiptStatus, StoredLine};

    fn line(subject: &str, amount_minor: i64, concession: Option<(&str, i64)>) -> StoredLine {
        StoredLine {
            fee_code: "ZR-BDC-01".into(),
            fee_version: 1,
            name: "不动产登记费（住宅）".into(),
            quantity: 1,
            amount_minor,
            revenue_subject: subject.into(),
            concession: concession.map(|(code, forgone_minor)| LineConcession {
                code: code.into(),
                name: "低保户免收".into(),
                kind: if amount_minor == 0 {
                    ConcessionKind::Exempt
                } else {
                    ConcessionKind::Reduced
                },
                legal_basis: "民发〔2021〕11号".into(),
                forgone_minor,
            }),
        }
    }

    fn payment(lines: Vec<StoredLine>) -> StoredPayment {
        StoredPayment {
            id: "pay_1".into(),
            reference: "P1".into(),
            channel: Channel::BankCard,
            department: "D03".into(),
            window: "W03".into(),
            payer_name: None,
            payer_id_masked: None,
            amount_minor: lines.iter().map(|l| l.amount_minor).sum(),
            business_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
            status: PaymentStatus::Captured,
            entry_seq: 1,
            receipt_series: "44030126".into(),
            receipt_number: 1,
            receipt_status: ReceiptStatus::Issued,
            lines,
            card: CardData {
                merchant_id: "898440379930001".into(),
                terminal_id: "11002001".into(),
                batch_no: None,
                trace_no: None,
                rrn: None,
                auth_code: None,
                serial: None,
                masked_card: "622848******0123".into(),
                txn_time: "2026-11-24T09:30:15+08:00".into(),
            },
            created_at: NaiveDateTime::default(),
        }
    }

    /// A refund comes only out of what was charged: an exempt line gives nothing back and a
    /// reduced line no more than its reduced amount; the forgone value is never refunded.
    #[test]
    fn refunds_of_concession_lines_stay_within_what_was_charged() {
        let p = payment(vec![
            line("1030414", 0, Some(("DB-01", 8000))),
            line("1030414", 4000, Some(("CJ-01", 4000))),
            line("1030401", 12000, None),
        ]);
        let none = BTreeMap::new();
        assert_eq!(
            allocate(&p, &none, 16000),
            Some(vec![("1030414".into(), 4000), ("1030401".into(), 12000)])
        );
        assert_eq!(allocate(&p, &none, 16001), None);
        assert_eq!(
            allocate(&p, &none, 3000),
            Some(vec![("1030414".into(), 3000)])
        );
        let earlier = BTreeMap::from([("1030414".to_string(), 4000)]);
        assert_eq!(
            allocate(&p, &earlier, 12000),
            Some(vec![("1030401".into(), 12000)])
        );
        assert_eq!(allocate(&p, &earlier, 12001), None);
        let exempt_only = payment(vec![line("1030414", 0, Some(("DB-01", 8000)))]);
        assert_eq!(allocate(&exempt_only, &none, 1), None);
    }
}

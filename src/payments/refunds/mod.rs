//! Refunds with four eyes: one person requests, a supervisor who is someone else approves, and
//! the approval posts `Dr 2103.<subject> / Cr 1218.01` (Cr 1002.01 once the payment is settled).
//! While it waits, a supervisor may reject it (with a note) and its requester or finance may
//! cancel it. The sum of a payment's live refunds (neither rejected nor cancelled) never
//! exceeds the payment.
//!
//! - [`request`](mod@request): a request bound to an Idempotency-Key, as a payment is.
//! - [`approve`](mod@approve): the approval and its entry.
//! - [`close`](mod@close): rejection and cancellation.
//! - [`list`](mod@list): one refund, a filtered page of them, and a business day's refunds.
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

/// Longest refund reason and rejection note, in characters. With the refund's memo kept within
/// the ledger's limit ([`refund_memo`]), every request accepted can be approved.
pub const MAX_TEXT_CHARS: usize = 500;

/// Why a refund step was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// The idempotency key was used before with another request.
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    /// A rejection needs a note (1–500 characters).
    #[error("a rejection needs a note of 1–500 characters")]
    BadNote,
    /// Only the requester (or finance) may cancel a refund.
    #[error("only the person who requested a refund, or finance, may cancel it")]
    NotRequester,
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
    #[error("payment {payment} belongs to {date}, which remittance {remittance} already covers; a refund now must go to the treasury as a refund request (a treasury return)")]
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
    /// The business day it was requested on.
    pub business_date: NaiveDate,
    /// Who rejected or cancelled it.
    pub closed_by: Option<String>,
    /// When it was rejected or cancelled.
    pub closed_at: Option<NaiveDateTime>,
    /// The business day it was rejected or cancelled on.
    pub closed_on: Option<NaiveDate>,
    /// The rejection's note.
    pub closed_note: Option<String>,
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
    /// `requested`, `approved`, `awaiting_treasury`, `refunded`, `rejected` or `cancelled`.
    pub status: String,
    /// `direct` while the revenue is still with the centre, `treasury` once remitted (退库).
    pub route: String,
    /// Who requested it.
    pub requested_by: String,
    /// The business day it was requested on (what `GET /v1/refunds?business_date=` filters).
    pub business_date: NaiveDate,
    /// When it was requested, RFC 3339 UTC.
    pub requested_at: String,
    /// Who approved it, once approved.
    pub approved_by: Option<String>,
    /// The refund entry, once approved.
    pub entry_seq: Option<i64>,
    /// Who rejected or cancelled it.
    pub closed_by: Option<String>,
    /// When it was rejected or cancelled, RFC 3339 UTC.
    pub closed_at: Option<String>,
    /// The rejection's note.
    pub note: Option<String>,
}

/// A stored UTC time as RFC 3339.
fn utc(at: &NaiveDateTime) -> String {
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S%.6f"))
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
            business_date: r.business_date,
            requested_at: utc(&r.created_at),
            approved_by: r.approved_by.clone(),
            entry_seq: r.entry_seq,
            closed_by: r.closed_by.clone(),
            closed_at: r.closed_at.as_ref().map(utc),
            note: r.closed_note.clone(),
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

/// Whether `by` is the person who requested `refund`, under any of their tokens or their
/// staff sign-in (persons, as every four-eyes check compares).
pub fn is_requester(refund: &Refund, by: &Principal) -> bool {
    by.is_same_person(refund.requested_by_person.as_deref())
}

/// A reason or note as typed: not blank, at most [`MAX_TEXT_CHARS`] characters.
pub fn text_ok(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_CHARS
}

/// The memo of a refund's entry: the refund, the payment and as much of the reason as fits
/// the ledger's memo limit (the whole reason stays on the refund and in the audit trail).
pub fn refund_memo(refund_id: &str, payment_reference: &str, reason: &str) -> String {
    let head = format!("refund {refund_id} of payment {payment_reference}: ");
    let room = crate::ledger::rules::MAX_MEMO_CHARS.saturating_sub(head.chars().count());
    if reason.chars().count() <= room {
        return format!("{head}{reason}");
    }
    let cut: String = reason.chars().take(room.saturating_sub(1)).collect();
    format!("{head}{cut}…")
}

/// The sum of a payment's live refunds ([`RefundStatus::is_live`]).
pub fn live_total(refunds: &[Refund]) -> i64 {
    refunds
        .iter()
        .filter(|r| r.status.is_live())
        .map(|r| r.amount_minor)
        .sum()
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
mod close;
pub mod list;
mod request;

pub use approve::approve;
pub use close::{cancel, may_cancel, reject};
pub use list::{RefundFilter, RefundPage};
pub use request::{request, request_hash, RefundRequest};

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

    use crate::auth::Role;
    use crate::ledger::rules::MAX_MEMO_CHARS;

    fn refund(status: RefundStatus, amount_minor: i64) -> Refund {
        let at = NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_opt(1, 2, 3))
            .unwrap();
        Refund {
            id: "ref_1".into(),
            payment_id: "pay_1".into(),
            amount_minor,
            reason: "r".into(),
            status,
            requested_by_token: "tok-clerk".into(),
            requested_by: "clerk:wang".into(),
            approved_by: None,
            entry_seq: None,
            created_at: at,
            approved_at: None,
            business_date: at.date(),
            closed_by: None,
            closed_at: None,
            closed_on: None,
            closed_note: None,
            requested_by_person: Some("per_wang".into()),
            route: RefundRoute::Direct,
        }
    }

    /// A principal of person `per_<name>`.
    fn principal(token: &str, name: &str, role: Role) -> Principal {
        Principal {
            token_id: token.into(),
            name: name.into(),
            role,
            person_id: format!("per_{name}"),
        }
    }

    /// A reason of the longest length accepted — ASCII or Chinese (3 bytes a character) —
    /// makes a memo the ledger accepts, still naming the refund and the payment.
    #[test]
    fn every_accepted_reason_fits_the_memo() {
        for reason in [
            "x".repeat(MAX_TEXT_CHARS),
            "退".repeat(MAX_TEXT_CHARS),
            "退".repeat(MAX_TEXT_CHARS - 1) + "🙂",
        ] {
            assert!(text_ok(&reason));
            let memo = refund_memo("ref_0123456789abcdef", "P1234567800000000001", &reason);
            assert!(memo.chars().count() <= MAX_MEMO_CHARS, "{}", memo.len());
            assert!(
                memo.starts_with("refund ref_0123456789abcdef of payment P1234567800000000001: ")
            );
            assert!(memo.ends_with('…'), "a cut reason is marked");
        }
        let short = refund_memo("ref_1", "P1", "duplicate");
        assert_eq!(short, "refund ref_1 of payment P1: duplicate");
    }

    #[test]
    fn reasons_and_notes_are_one_to_five_hundred_characters() {
        assert!(text_ok("a"));
        assert!(text_ok(&"退".repeat(500)));
        assert!(!text_ok(&"退".repeat(501)));
        assert!(!text_ok(&"a".repeat(501)));
        assert!(!text_ok(""));
        assert!(!text_ok(" \n\t"));
    }

    #[test]
    fn the_requester_is_the_same_person_under_any_token() {
        let r = refund(RefundStatus::Requested, 100);
        // The requesting token under another person's name is not the requester: persons,
        // never tokens or names, decide.
        assert!(!is_requester(
            &r,
            &principal("tok-clerk", "other", Role::Clerk)
        ));
        assert!(is_requester(
            &r,
            &principal("tok-2", "wang", Role::Supervisor)
        ));
        assert!(!is_requester(&r, &principal("tok-2", "li", Role::Clerk)));
        // Finance may cancel anyone's; a supervisor only their own.
        assert!(may_cancel(&r, &principal("tok-3", "zhao", Role::Finance)));
        assert!(!may_cancel(&r, &principal("tok-4", "li", Role::Supervisor)));
        assert!(may_cancel(
            &r,
            &principal("tok-5", "wang", Role::Supervisor)
        ));
    }

    #[test]
    fn only_live_refunds_claim_the_payment() {
        let all = [
            refund(RefundStatus::Requested, 100),
            refund(RefundStatus::Approved, 20),
            refund(RefundStatus::Rejected, 4_000),
            refund(RefundStatus::Cancelled, 50_000),
        ];
        assert_eq!(live_total(&all), 120);
        assert_eq!(live_total(&all[2..]), 0);
    }
}

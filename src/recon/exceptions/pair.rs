//! Matching an open item with one of its candidates in one action (the reconciliation
//! workspace): the item's resolution and, when the candidate is itself the subject of an open
//! exception (a payment missing in settlement ↔ a line missing in the ledger, a file's missing
//! cash ↔ an unexplained credit), that exception's too — one transaction, both or neither,
//! each audited as [`super::resolve`] audits it. Built on [`super::resolve`]: every check a
//! manual match makes (reach, not taken, amounts agree) is made here too.
//!
//! | item | candidate | the item | the candidate's exception |
//! |---|---|---|---|
//! | a payment (missing in settlement, amount mismatch) | a line | manual match naming the line | manual match naming the payment |
//! | a line (missing in ledger, settled twice, amount mismatch) | a payment | manual match naming the payment | manual match naming the line |
//! | a file's cash (missing, short) | a credit | claimed if open, then settled by the credit: awaiting a second person's approval, which posts | resolved: the credit is explained by the file |
//! | an unexplained credit | a file | resolved: explained by the file | claimed if open, then settled by this credit (awaiting approval) |

use chrono::Utc;
use diesel::prelude::*;

use super::{audit_change, load, resolve, Action, ExceptionError, ExceptionState, ExceptionStatus};
use super::{Resolve, Step};
use crate::auth::Principal;
use crate::db::schema::recon_exceptions;
use crate::db::DbConn;
use crate::recon::candidates::Record;
use crate::recon::matcher::Category;

/// What a pair match changed: the item, and the candidate's own exception if it had one.
#[derive(Debug, Clone)]
pub struct Paired {
    /// The item as it now stands.
    pub item: ExceptionState,
    /// The candidate's exception, resolved (or settled) with it.
    pub other: Option<ExceptionState>,
}

/// Matches exception `id` with the record `with` (see the module doc), `note` saying why.
pub fn match_pair(
    conn: &mut DbConn,
    id: &str,
    with: &Record,
    note: &str,
    by: &Principal,
) -> Result<Paired, ExceptionError> {
    if note.trim().is_empty() {
        return Err(ExceptionError::Invalid("note: say why".into()));
    }
    crate::db::write_txn(conn, |conn| {
        crate::db::lock_for_rewrite(conn, crate::db::rewrite_key("exception", id))?;
        let item = load(conn, id)?;
        let other = counterpart_exception(conn, &item, with)?;
        let manual = |payment_id: Option<String>, settlement_record_id: Option<i64>| Resolve {
            action: Action::ManualMatch,
            note: note.to_string(),
            payment_id,
            settlement_record_id,
            booking_id: None,
        };
        let (item, other) = match with {
            Record::Line(line) => {
                let item = resolve(conn, id, &manual(None, Some(*line)), by)?;
                let other = match other {
                    Some(o) => Some(resolve(
                        conn,
                        &o,
                        &manual(item.matched_payment_id.clone(), None),
                        by,
                    )?),
                    None => None,
                };
                (item, other)
            }
            Record::Payment(payment) => {
                let item = resolve(conn, id, &manual(Some(payment.clone()), None), by)?;
                let other = match other {
                    Some(o) => Some(resolve(
                        conn,
                        &o,
                        &manual(None, item.matched_record_id),
                        by,
                    )?),
                    None => None,
                };
                (item, other)
            }
            Record::Booking(booking) => {
                let item = settle_by_credit(conn, id, *booking, note, by)?;
                let other = match other {
                    Some(o) => Some(explained(conn, &o, note, by)?),
                    None => None,
                };
                (item, other)
            }
            Record::File(file) => {
                let (Some(booking), true) = (item.booking_id, is_credit_item(&item)) else {
                    return Err(ExceptionError::Invalid(format!(
                        "exception {id} is not an unexplained credit: a file is matched with the credit that paid it"
                    )));
                };
                let Some(o) = other else {
                    return Err(ExceptionError::Invalid(format!(
                        "file {file} has no open exception about its cash: the runs settle it when its credit is found"
                    )));
                };
                let item = explained(conn, id, note, by)?;
                let other = settle_by_credit(conn, &o, booking, note, by)?;
                (item, Some(other))
            }
        };
        Ok(Paired { item, other })
    })
}

/// An unexplained credit: a booking's exception naming no file, money in.
fn is_credit_item(x: &ExceptionState) -> bool {
    matches!(
        x.kind,
        Category::UnexpectedStatementLine | Category::CashMismatch
    ) && x.file_id.is_none()
        && x.settlement_minor.is_some_and(|m| m > 0)
}

/// The active, workable exception of another item about `with`, if any.
fn counterpart_exception(
    conn: &mut DbConn,
    item: &ExceptionState,
    with: &Record,
) -> Result<Option<String>, ExceptionError> {
    let workable = [
        ExceptionStatus::Open.as_ref(),
        ExceptionStatus::Claimed.as_ref(),
    ];
    let base = recon_exceptions::table
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.eq_any(workable))
        .filter(recon_exceptions::id.ne(&item.id))
        .select(recon_exceptions::id)
        .order(recon_exceptions::id)
        .into_boxed();
    let kinds = |k: &[Category]| {
        k.iter()
            .map(|&c| -> &'static str { c.into() })
            .collect::<Vec<&'static str>>()
    };
    let query = match with {
        Record::Line(l) => base
            .filter(recon_exceptions::settlement_record_id.eq(*l))
            .filter(recon_exceptions::kind.eq_any(kinds(&[
                Category::MissingInLedger,
                Category::DuplicateInSettlement,
            ]))),
        Record::Payment(p) => base
            .filter(recon_exceptions::payment_id.eq(p.clone()))
            .filter(recon_exceptions::kind.eq(Category::MissingInSettlement.as_ref())),
        Record::Booking(b) => base
            .filter(recon_exceptions::booking_id.eq(*b))
            .filter(recon_exceptions::file_id.is_null())
            .filter(recon_exceptions::kind.eq_any(kinds(&[
                Category::UnexpectedStatementLine,
                Category::CashMismatch,
            ]))),
        Record::File(f) => base.filter(recon_exceptions::file_id.eq(f.clone())).filter(
            recon_exceptions::kind.eq_any(kinds(&[Category::CashMissing, Category::CashMismatch])),
        ),
    };
    Ok(query.first::<String>(conn).optional()?)
}

/// A shortfall settled by a credit: claimed first if still open, then the claim settled by
/// the booking (awaiting a second person, whose approval posts).
fn settle_by_credit(
    conn: &mut DbConn,
    id: &str,
    booking: i64,
    note: &str,
    by: &Principal,
) -> Result<ExceptionState, ExceptionError> {
    let with = |action, booking_id| Resolve {
        action,
        note: note.to_string(),
        payment_id: None,
        settlement_record_id: None,
        booking_id,
    };
    if load(conn, id)?.status == ExceptionStatus::Open {
        resolve(conn, id, &with(Action::BankClaim, None), by)?;
    }
    resolve(conn, id, &with(Action::ManualMatch, Some(booking)), by)
}

/// An unexplained credit resolved as explained by the file it paid (its settlement is the
/// file's exception's business, approved by a second person).
fn explained(
    conn: &mut DbConn,
    id: &str,
    note: &str,
    by: &Principal,
) -> Result<ExceptionState, ExceptionError> {
    let before = load(conn, id)?;
    if !before.active {
        return Err(ExceptionError::NotAllowed(format!(
            "exception {id} was replaced by a later run of its date; work the new one"
        )));
    }
    let Some(status) = before.status.after(Step::Resolve(Action::ManualMatch)) else {
        return Err(ExceptionError::NotAllowed(format!(
            "exception {id} is {}",
            before.status
        )));
    };
    let now = Utc::now().naive_utc();
    diesel::update(recon_exceptions::table.find(id))
        .set((
            recon_exceptions::status.eq(status.as_ref()),
            recon_exceptions::resolution.eq(Action::ManualMatch.as_ref()),
            recon_exceptions::note.eq(note.trim()),
            recon_exceptions::resolved_by_token.eq(&by.token_id),
            recon_exceptions::resolved_by_person.eq(&by.person_id),
            recon_exceptions::resolved_by.eq(by.actor()),
            recon_exceptions::resolved_at.eq(now),
        ))
        .execute(conn)?;
    let after = load(conn, id)?;
    audit_change(conn, &by.actor(), "exception.resolve", &before, &after, now)?;
    Ok(after)
}

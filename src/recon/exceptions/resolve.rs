//! `POST /v1/exceptions/{id}/resolve`: resolving, proposing a write-off or a claim's
//! settlement, raising a claim — one transaction, audited.

use chrono::Utc;
use diesel::prelude::*;

use super::rules::{self, NotShortfall, NotTiming, Step};
use super::{audit_change, checks, load, Action, ExceptionError, ExceptionState, Resolve};
use crate::auth::Principal;
use crate::db::schema::recon_exceptions;
use crate::db::DbConn;

/// What a resolution records besides its status.
#[derive(Default)]
struct Recorded {
    payment_id: Option<String>,
    record_id: Option<i64>,
    booking_id: Option<i64>,
    amount_minor: Option<i64>,
}

/// Resolves an exception, proposes a write-off or a claim's settlement, or raises a bank
/// claim; checks what the action needs first (see the module doc of
/// [`crate::recon::exceptions`]).
pub fn resolve(
    conn: &mut DbConn,
    id: &str,
    request: &Resolve,
    by: &Principal,
) -> Result<ExceptionState, ExceptionError> {
    if request.note.trim().is_empty() {
        return Err(ExceptionError::Invalid("note: say why".into()));
    }
    if request.action != Action::ManualMatch
        && (request.payment_id.is_some()
            || request.settlement_record_id.is_some()
            || request.booking_id.is_some())
    {
        return Err(ExceptionError::Invalid(format!(
            "payment_id, settlement_record_id and booking_id go with manual_match, not {}",
            request.action
        )));
    }
    crate::db::write_txn(conn, |conn| {
        // Two resolutions of one exception at once: the second waits, then sees the first's.
        crate::db::lock_for_rewrite(conn, crate::db::rewrite_key("exception", id))?;
        let before = load(conn, id)?;
        if !before.active {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} was replaced by a later run of its date; work the new one"
            )));
        }
        let step = if request.action == Action::ManualMatch && request.booking_id.is_some() {
            Step::SettleClaim
        } else {
            Step::Resolve(request.action)
        };
        let Some(status) = before.status.after(step) else {
            return Err(ExceptionError::NotAllowed(match step {
                Step::SettleClaim => format!(
                    "exception {id} is {}: a booking settles a claimed exception (raise the bank_claim first, or let the next run match the credit)",
                    before.status
                ),
                _ => format!("exception {id} is {}", before.status),
            }));
        };
        let recorded = match step {
            Step::SettleClaim => settle_claim(conn, &before, request)?,
            Step::Resolve(Action::ManualMatch) => manual_match(conn, &before, request)?,
            Step::Resolve(Action::WriteOff) => {
                let lost = write_off_amount(&before)?;
                if rules::is_cash(before.kind) {
                    // The file must be one the approval can post (checked again then).
                    super::approve::file_facts(conn, &before)?;
                }
                Recorded {
                    amount_minor: Some(lost),
                    ..Recorded::default()
                }
            }
            Step::Resolve(Action::BankClaim) => Recorded {
                amount_minor: claim_amount(&before),
                ..Recorded::default()
            },
            Step::Resolve(Action::AcceptTiming) => {
                match rules::timing_fits(before.kind) {
                    Ok(()) => {}
                    Err(NotTiming::CarriedAutomatically) => {
                        return Err(ExceptionError::CarriedAutomatically)
                    }
                    Err(NotTiming::NotATimingDifference) => {
                        return Err(ExceptionError::NotATimingDifference(before.kind))
                    }
                }
                Recorded::default()
            }
            Step::Approve | Step::ClaimPaid => Recorded::default(),
        };
        let now = Utc::now().naive_utc();
        diesel::update(recon_exceptions::table.find(id))
            .set((
                recon_exceptions::status.eq(status.as_ref()),
                recon_exceptions::resolution.eq(request.action.as_ref()),
                recon_exceptions::note.eq(request.note.trim()),
                recon_exceptions::matched_payment_id.eq(&recorded.payment_id),
                recon_exceptions::matched_record_id.eq(recorded.record_id),
                recon_exceptions::matched_booking_id.eq(recorded.booking_id),
                recon_exceptions::amount_minor.eq(recorded.amount_minor),
                recon_exceptions::resolved_by_token.eq(&by.token_id),
                recon_exceptions::resolved_by_person.eq(&by.person_id),
                recon_exceptions::resolved_by.eq(by.actor()),
                recon_exceptions::resolved_at.eq(now),
            ))
            .execute(conn)?;
        let after = load(conn, id)?;
        audit_change(conn, &by.actor(), "exception.resolve", &before, &after, now)?;
        Ok(after)
    })
}

/// A manual match: the pair (the named records, completed by the finding's own) must both
/// exist, be within reach, be free, and agree in amount.
fn manual_match(
    conn: &mut DbConn,
    x: &ExceptionState,
    request: &Resolve,
) -> Result<Recorded, ExceptionError> {
    if rules::is_cash(x.kind) {
        return Err(ExceptionError::Invalid(
            "a settlement file's cash is not matched to a payment or line: wait for the runs to find its credit, or bank_claim it and name the booking that pays the claim".into(),
        ));
    }
    if request.payment_id.is_none() && request.settlement_record_id.is_none() {
        return Err(ExceptionError::Invalid(
            "manual_match names the payment_id and/or settlement_record_id that belong together"
                .into(),
        ));
    }
    let payment_id = request
        .payment_id
        .as_deref()
        .map(str::trim)
        .or(x.payment_id.as_deref())
        .map(str::to_string);
    let record_id = request.settlement_record_id.or(x.settlement_record_id);
    let (Some(payment_id), Some(record_id)) = (payment_id, record_id) else {
        return Err(ExceptionError::Invalid(
            "manual_match pairs a payment with a settlement line: name the side the exception does not have (payment_id or settlement_record_id)".into(),
        ));
    };
    let paid = checks::payment(conn, x, &payment_id, Some(record_id))?;
    let settled = checks::record(conn, x, record_id, Some(&payment_id))?;
    if paid != settled {
        return Err(ExceptionError::AmountsDiffer {
            ledger_minor: paid,
            other_minor: settled,
        });
    }
    Ok(Recorded {
        payment_id: Some(payment_id),
        record_id: Some(record_id),
        booking_id: None,
        amount_minor: Some(paid),
    })
}

/// A claimed shortfall settled by the booking that paid it: the booking is a free credit of
/// exactly the claimed difference. Proposed only; the approval posts.
fn settle_claim(
    conn: &mut DbConn,
    x: &ExceptionState,
    request: &Resolve,
) -> Result<Recorded, ExceptionError> {
    if request.payment_id.is_some() || request.settlement_record_id.is_some() {
        return Err(ExceptionError::Invalid(
            "a claim is settled by the booking that paid it alone: leave out payment_id and settlement_record_id".into(),
        ));
    }
    let Some(booking_id) = request.booking_id else {
        return Err(ExceptionError::Invalid(
            "booking_id: name the booking".into(),
        ));
    };
    let claimed = write_off_amount(x).map_err(|_| {
        ExceptionError::WriteOffNotAllowed(format!(
            "exception {} is not a shortfall: no credit settles it (the bank takes back, it does not pay)",
            x.id
        ))
    })?;
    let credited = checks::booking(conn, x, booking_id)?;
    if credited != claimed {
        return Err(ExceptionError::AmountsDiffer {
            ledger_minor: claimed,
            other_minor: credited,
        });
    }
    Ok(Recorded {
        booking_id: Some(booking_id),
        amount_minor: Some(claimed),
        ..Recorded::default()
    })
}

/// The shortfall a write-off would write off, or why there is none to write off.
pub(super) fn write_off_amount(x: &ExceptionState) -> Result<i64, ExceptionError> {
    rules::shortfall(x.kind, x.ledger_minor, x.settlement_minor).map_err(|why| {
        ExceptionError::WriteOffNotAllowed(match why {
            NotShortfall::CentresFavour => format!(
                "exception {} is in the centre's favour (the bank or acquirer paid more than the ledger expects): return the money or bank_claim it; only a shortfall is written off",
                x.id
            ),
            NotShortfall::NoDifference => {
                format!("exception {} has no difference to write off", x.id)
            }
        })
    })
}

/// What a claim asks for: the shortfall, or else the size of the difference either way.
fn claim_amount(x: &ExceptionState) -> Option<i64> {
    write_off_amount(x).ok().or_else(|| {
        let d = x.ledger_minor.unwrap_or(0) - x.settlement_minor.unwrap_or(0);
        (d != 0).then_some(d.abs())
    })
}

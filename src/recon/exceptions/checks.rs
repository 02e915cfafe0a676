//! What a manual match names, checked against the database: the records exist, are within
//! reach of the exception's day, are not matched elsewhere, and agree in amount.
//!
//! "Within reach": a run of day D pairs payments of D−1..D+1 with lines settled D..D+1 and
//! bookings of D..D+2; a carried item (a credit awaited past its day) is looked for over the
//! carry horizon. A payment's business date or a line's settlement date must lie in
//! D − [`CARRY_DAYS`] ..= D + 2.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{ExceptionError, ExceptionState};
use crate::bankfiles::records::Direction;
use crate::bankfiles::stored;
use crate::db::schema::{
    payments, recon_exceptions, recon_outcomes, settlement_records, statement_bookings,
};
use crate::db::DbConn;
use crate::recon::matcher::Category;

use crate::recon::candidates::within_reach;
/// How many days back a carried item stays within reach of a manual match (DESIGN §5's
/// default horizon for awaited credits); the workspace's candidates use the same reach.
pub use crate::recon::candidates::CARRY_DAYS;

/// The payment's amount, checked: it exists, is within reach, and is not matched elsewhere.
pub(super) fn payment(
    conn: &mut DbConn,
    x: &ExceptionState,
    id: &str,
    pair: Option<i64>,
) -> Result<i64, ExceptionError> {
    let (amount, date): (i64, NaiveDate) = payments::table
        .find(id)
        .select((payments::amount_minor, payments::business_date))
        .first(conn)
        .optional()?
        .ok_or_else(|| ExceptionError::UnknownPayment(id.to_string()))?;
    if !within_reach(date, x.business_date) {
        return Err(ExceptionError::NotOfThisDay(format!(
            "payment {id} is of {date}, out of reach of the exception's day {} (the day, the cut-off and carried items of the last {CARRY_DAYS} days)",
            x.business_date
        )));
    }
    let matched: i64 = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::payment_id.eq(id))
        .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
        .count()
        .get_result(conn)?;
    let elsewhere = other_resolutions(conn, x)?
        .into_iter()
        .any(|(p, r, _)| p.as_deref() == Some(id) && (pair.is_none() || r != pair));
    if matched > 0 || elsewhere {
        return Err(ExceptionError::AlreadyMatched(format!(
            "payment {id} is matched already in another active outcome"
        )));
    }
    Ok(amount)
}

/// The settlement line's gross, checked: it exists, is within reach, and is not matched
/// elsewhere.
pub(super) fn record(
    conn: &mut DbConn,
    x: &ExceptionState,
    id: i64,
    pair: Option<&str>,
) -> Result<i64, ExceptionError> {
    let (gross, date): (i64, NaiveDate) = settlement_records::table
        .find(id)
        .select((
            settlement_records::gross_minor,
            settlement_records::settlement_date,
        ))
        .first(conn)
        .optional()?
        .ok_or(ExceptionError::UnknownRecord(id))?;
    if !within_reach(date, x.business_date) {
        return Err(ExceptionError::NotOfThisDay(format!(
            "settlement line {id} is settled {date}, out of reach of the exception's day {}",
            x.business_date
        )));
    }
    let matched: i64 = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(
            recon_outcomes::settlement_record_id
                .eq(id)
                .or(recon_outcomes::void_record_id.eq(id)),
        )
        .filter(recon_outcomes::category.eq(Category::Matched.as_ref()))
        .count()
        .get_result(conn)?;
    let elsewhere = other_resolutions(conn, x)?
        .into_iter()
        .any(|(p, r, _)| r == Some(id) && (pair.is_none() || p.as_deref() != pair));
    if matched > 0 || elsewhere {
        return Err(ExceptionError::AlreadyMatched(format!(
            "settlement line {id} is matched already in another active outcome"
        )));
    }
    Ok(gross)
}

/// The booking's amount, checked: it exists, is a credit to the collection account (not a
/// reversal), and pays nothing else (no active outcome names it, no other resolution).
pub(super) fn booking(
    conn: &mut DbConn,
    x: &ExceptionState,
    id: i64,
) -> Result<i64, ExceptionError> {
    let (amount, direction, reversal): (i64, String, bool) = statement_bookings::table
        .find(id)
        .select((
            statement_bookings::amount_minor,
            statement_bookings::direction,
            statement_bookings::reversal,
        ))
        .first(conn)
        .optional()?
        .ok_or(ExceptionError::UnknownBooking(id))?;
    let direction: Direction = stored::parse("statement_bookings.direction", &direction)?;
    if direction != Direction::Credit || reversal {
        return Err(ExceptionError::NotACredit(id));
    }
    // The outcomes that say the booking is unexplained (a line nothing accounts for, a credit
    // naming no unpaid file) do not spend it: they are what a claim's settlement explains.
    let used: i64 = recon_outcomes::table
        .filter(recon_outcomes::active.eq(true))
        .filter(recon_outcomes::booking_id.eq(id))
        .filter(recon_outcomes::category.ne(Category::UnexpectedStatementLine.as_ref()))
        .filter(
            recon_outcomes::file_id
                .is_not_null()
                .or(recon_outcomes::category.ne(Category::CashMismatch.as_ref())),
        )
        .count()
        .get_result(conn)?;
    let elsewhere = other_resolutions(conn, x)?
        .into_iter()
        .any(|(_, _, b)| b == Some(id));
    if used > 0 || elsewhere {
        return Err(ExceptionError::AlreadyMatched(format!(
            "statement booking {id} already pays something else (an active outcome or another resolution)"
        )));
    }
    Ok(amount)
}

/// The matched ids of the other active, worked exceptions: (payment, line, booking).
#[allow(clippy::type_complexity)]
fn other_resolutions(
    conn: &mut DbConn,
    x: &ExceptionState,
) -> Result<Vec<(Option<String>, Option<i64>, Option<i64>)>, ExceptionError> {
    Ok(recon_exceptions::table
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::id.ne(&x.id))
        .filter(recon_exceptions::status.ne(super::ExceptionStatus::Open.as_ref()))
        .filter(
            recon_exceptions::matched_payment_id
                .is_not_null()
                .or(recon_exceptions::matched_record_id.is_not_null())
                .or(recon_exceptions::matched_booking_id.is_not_null()),
        )
        .select((
            recon_exceptions::matched_payment_id,
            recon_exceptions::matched_record_id,
            recon_exceptions::matched_booking_id,
        ))
        .load(conn)?)
}

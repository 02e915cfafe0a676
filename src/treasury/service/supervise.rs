//! Supervision: days whose payable is not zero after acknowledgement, or not remitted in time.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::prepare::{payable_accounts, side_of};
use crate::db::schema::{
    account_day_totals, ledger_entries, ledger_postings, payments, remittances,
};
use crate::db::{DbConn, DbError};
use crate::ledger::days::RemittanceStatus;
use crate::ledger::{Chart, EntryKind, Side};
use crate::treasury::batch::{self, DayPayable, Finding};

/// The supervision report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SupervisionReport {
    /// The business date the check ran for.
    #[schema(value_type = String)]
    pub as_of: NaiveDate,
    /// First day checked.
    #[schema(value_type = String)]
    pub from: NaiveDate,
    /// Last day checked.
    #[schema(value_type = String)]
    pub to: NaiveDate,
    /// Days within which a day's payable must be acknowledged.
    pub limit_days: i64,
    /// Days with anything payable, or a batch, in the range.
    pub days_checked: usize,
    /// What is wrong; empty when all is well.
    pub findings: Vec<Finding>,
}

/// A posting dated one day that belongs to another.
#[derive(Queryable)]
struct Misdated {
    /// The day it is dated.
    dated: NaiveDate,
    /// The day it belongs to.
    belongs: NaiveDate,
    /// Its side, as stored.
    side: String,
    /// Its amount (minor units).
    amount_minor: i64,
}

/// What is dated one day but belongs to another, on the payable accounts: postings of the
/// range's payments dated elsewhere, and remittance entries (which belong to the day their
/// batch remits).
fn dated_elsewhere(
    conn: &mut DbConn,
    payable: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<Misdated>, Vec<Misdated>), DbError> {
    // Then move what is dated one day but belongs to another: refunds of earlier payments…
    let moved: Vec<Misdated> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(payments::table.on(ledger_entries::reference.eq(payments::id.nullable())))
        .filter(payments::business_date.ne(ledger_entries::business_date))
        .filter(ledger_entries::business_date.ge(from))
        .filter(payments::business_date.le(to))
        .filter(ledger_postings::account_code.eq_any(payable))
        .select((
            ledger_entries::business_date,
            payments::business_date,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    // …and remittance entries, which belong to the day their batch remits.
    let remitted: Vec<Misdated> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(remittances::table.on(ledger_entries::reference.eq(remittances::id.nullable())))
        .filter(ledger_entries::kind.eq(EntryKind::Remittance.as_str()))
        .filter(ledger_entries::business_date.ge(from))
        .filter(remittances::business_date.le(to))
        .filter(ledger_postings::account_code.eq_any(payable))
        .select((
            ledger_entries::business_date,
            remittances::business_date,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    Ok((moved, remitted))
}

/// Each day's payable in `[from, to]`, attributed as [`super::batch`] says, with its batch.
pub fn day_payables(
    conn: &mut DbConn,
    chart: &Chart,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayPayable>, DbError> {
    let payable = payable_accounts(chart);
    let mut balance: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    // Everything dated in the range, by the day it is dated (O(days × subjects)).
    let totals: Vec<(NaiveDate, i64, i64)> = account_day_totals::table
        .filter(account_day_totals::business_date.between(from, to))
        .filter(account_day_totals::account_code.eq_any(&payable))
        .select((
            account_day_totals::business_date,
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    for (date, debit, credit) in totals {
        *balance.entry(date).or_default() += credit - debit;
    }
    let (moved, remitted) = dated_elsewhere(conn, &payable, from, to)?;
    let in_range = |d: NaiveDate| d >= from && d <= to;
    for m in moved.into_iter().chain(remitted) {
        let delta = match side_of(&m.side)? {
            Side::Debit => -m.amount_minor,
            Side::Credit => m.amount_minor,
        };
        if in_range(m.dated) {
            *balance.entry(m.dated).or_default() -= delta;
        }
        if in_range(m.belongs) {
            *balance.entry(m.belongs).or_default() += delta;
        }
    }
    // A day's live batch; cancelled and rejected ones stand for nothing.
    let ended = [
        <&str>::from(RemittanceStatus::Cancelled),
        <&str>::from(RemittanceStatus::Rejected),
    ];
    let batches: Vec<(NaiveDate, String, String)> = remittances::table
        .filter(remittances::business_date.between(from, to))
        .filter(remittances::status.ne_all(ended))
        .select((
            remittances::business_date,
            remittances::id,
            remittances::status,
        ))
        .load(conn)?;
    let mut batches: BTreeMap<NaiveDate, (String, RemittanceStatus)> = batches
        .into_iter()
        .map(|(d, id, s)| Ok((d, (id, RemittanceStatus::try_from(s)?))))
        .collect::<Result<_, DbError>>()?;
    let mut dates: Vec<NaiveDate> = balance.keys().chain(batches.keys()).copied().collect();
    dates.sort();
    dates.dedup();
    Ok(dates
        .into_iter()
        .map(|date| DayPayable {
            date,
            // A day with a batch but nothing dated or attributed to it owes nothing.
            balance_minor: balance.get(&date).copied().unwrap_or(0),
            remittance: batches.remove(&date),
        })
        .collect())
}

/// Runs the supervision check over `[from, to]` as of `today`.
pub fn supervise(
    conn: &mut DbConn,
    chart: &Chart,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    limit_days: i64,
) -> Result<SupervisionReport, DbError> {
    let days = day_payables(conn, chart, from, to)?;
    Ok(SupervisionReport {
        as_of: today,
        from,
        to,
        limit_days,
        days_checked: days.len(),
        findings: batch::supervise(&days, today, limit_days),
    })
}

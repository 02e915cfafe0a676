//! The writer's rows. [`insert_entries`]: entries and their postings in multi-row inserts, as
//! soon as anything could read them (see [`super::writer`]). [`add_balances`]: at the end of a
//! batch, each account's summed deltas added to its balance and its per-day totals once, so hot
//! accounts are written once per batch. Only [`super::writer`] calls them, inside the batch
//! transaction.
//!
//! May depend on: `db`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::model::{PostedEntry, Side};
use crate::db::schema::{account_balances, account_day_totals, ledger_entries, ledger_postings};
use crate::db::{DbConn, DbError};
use crate::insert_chunked;

/// Inserts `entries` (in chain order) with their postings.
pub(super) fn insert_entries(conn: &mut DbConn, entries: &[PostedEntry]) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let entry_rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                ledger_entries::seq.eq(e.seq),
                ledger_entries::business_date.eq(e.entry.business_date),
                ledger_entries::kind.eq(e.entry.kind.as_str()),
                ledger_entries::memo.eq(e.entry.memo.clone()),
                ledger_entries::reference.eq(e.entry.reference.clone()),
                ledger_entries::reverses_seq.eq(e.entry.reverses),
                ledger_entries::actor.eq(e.entry.actor.clone()),
                ledger_entries::created_at.eq(e.created_at),
                ledger_entries::prev_hash.eq(e.prev_hash.to_vec()),
                ledger_entries::hash.eq(e.hash.to_vec()),
            )
        })
        .collect();
    insert_chunked!(conn, ledger_entries::table, entry_rows)?;
    let mut posting_rows = Vec::with_capacity(entries.len() * 2);
    for e in entries {
        for (i, p) in e.entry.postings.iter().enumerate() {
            posting_rows.push((
                ledger_postings::entry_seq.eq(e.seq),
                ledger_postings::line_no.eq(i as i64 + 1),
                ledger_postings::account_code.eq(p.account.clone()),
                ledger_postings::side.eq(p.side.as_str()),
                ledger_postings::amount_minor.eq(p.amount_minor),
                ledger_postings::currency.eq(p.currency.clone()),
            ));
        }
    }
    insert_chunked!(conn, ledger_postings::table, posting_rows)?;
    Ok(())
}

/// Adds the batch's postings to the balances and per-day totals: one delta per account and
/// per account-day, whatever the number of entries.
pub(super) fn add_balances(conn: &mut DbConn, entries: &[PostedEntry]) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    // account → (debit, credit, last seq); (account, date) → (debit, credit)
    let mut totals: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    let mut day_totals: BTreeMap<(&str, NaiveDate), (i64, i64)> = BTreeMap::new();
    for e in entries {
        for p in &e.entry.postings {
            let (d, c) = match p.side {
                Side::Debit => (p.amount_minor, 0),
                Side::Credit => (0, p.amount_minor),
            };
            let t = totals.entry(p.account.as_str()).or_default();
            t.0 += d;
            t.1 += c;
            t.2 = e.seq;
            let dt = day_totals
                .entry((p.account.as_str(), e.entry.business_date))
                .or_default();
            dt.0 += d;
            dt.1 += c;
        }
    }
    if matches!(conn, DbConn::Postgres(_)) {
        // Over the network every statement is a round trip: one UPDATE for all balances,
        // one upsert for all day totals.
        return apply_totals_postgres(conn, &totals, &day_totals);
    }
    apply_totals_sqlite(conn, totals, day_totals)
}

/// SQLite (in-process, no round trips): one UPDATE per account and per account-day, an INSERT
/// for the first of each.
fn apply_totals_sqlite(
    conn: &mut DbConn,
    totals: BTreeMap<&str, (i64, i64, i64)>,
    day_totals: BTreeMap<(&str, NaiveDate), (i64, i64)>,
) -> Result<(), DbError> {
    for (account, (d, c, last)) in totals {
        let updated = diesel::update(
            account_balances::table.filter(account_balances::account_code.eq(account.to_string())),
        )
        .set((
            account_balances::debit_minor.eq(account_balances::debit_minor + d),
            account_balances::credit_minor.eq(account_balances::credit_minor + c),
            account_balances::last_entry_seq.eq(last),
        ))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(account_balances::table)
                .values((
                    account_balances::account_code.eq(account.to_string()),
                    account_balances::debit_minor.eq(d),
                    account_balances::credit_minor.eq(c),
                    account_balances::last_entry_seq.eq(last),
                ))
                .execute(conn)?;
        }
    }
    for ((account, date), (d, c)) in day_totals {
        let updated = diesel::update(
            account_day_totals::table
                .filter(account_day_totals::account_code.eq(account.to_string()))
                .filter(account_day_totals::business_date.eq(date)),
        )
        .set((
            account_day_totals::debit_minor.eq(account_day_totals::debit_minor + d),
            account_day_totals::credit_minor.eq(account_day_totals::credit_minor + c),
        ))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(account_day_totals::table)
                .values((
                    account_day_totals::account_code.eq(account.to_string()),
                    account_day_totals::business_date.eq(date),
                    account_day_totals::debit_minor.eq(d),
                    account_day_totals::credit_minor.eq(c),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// PostgreSQL: adds the batch's per-account and per-day sums in two statements.
fn apply_totals_postgres(
    conn: &mut DbConn,
    totals: &BTreeMap<&str, (i64, i64, i64)>,
    day_totals: &BTreeMap<(&str, NaiveDate), (i64, i64)>,
) -> Result<(), DbError> {
    use diesel::sql_types::{BigInt, Date, Text};
    let DbConn::Postgres(pg) = conn else {
        return Err(DbError::Connect(
            "PostgreSQL path called on another backend".into(),
        ));
    };
    let values: Vec<String> = (0..totals.len())
        .map(|i| {
            format!(
                "(${}::text, ${}::bigint, ${}::bigint, ${}::bigint)",
                4 * i + 1,
                4 * i + 2,
                4 * i + 3,
                4 * i + 4
            )
        })
        .collect();
    let sql = format!(
        "UPDATE account_balances AS b SET debit_minor = b.debit_minor + v.d, credit_minor = b.credit_minor + v.c, last_entry_seq = v.s \
         FROM (VALUES {}) AS v(code, d, c, s) WHERE b.account_code = v.code",
        values.join(", ")
    );
    let mut q = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
    for (account, (d, c, last)) in totals {
        q = q
            .bind::<Text, _>(account.to_string())
            .bind::<BigInt, _>(*d)
            .bind::<BigInt, _>(*c)
            .bind::<BigInt, _>(*last);
    }
    let updated = q.execute(pg)?;
    if updated != totals.len() {
        // Every account of the chart has a balance row (sync_chart); a missing one means the
        // chart and the database disagree: refuse the batch rather than lose a delta.
        return Err(DbError::Query(diesel::result::Error::NotFound));
    }
    let values: Vec<String> = (0..day_totals.len())
        .map(|i| {
            format!(
                "(${}, ${}, ${}, ${})",
                4 * i + 1,
                4 * i + 2,
                4 * i + 3,
                4 * i + 4
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO account_day_totals (account_code, business_date, debit_minor, credit_minor) VALUES {} \
         ON CONFLICT (account_code, business_date) DO UPDATE SET \
         debit_minor = account_day_totals.debit_minor + excluded.debit_minor, \
         credit_minor = account_day_totals.credit_minor + excluded.credit_minor",
        values.join(", ")
    );
    let mut q = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
    for ((account, date), (d, c)) in day_totals {
        q = q
            .bind::<Text, _>(account.to_string())
            .bind::<Date, _>(*date)
            .bind::<BigInt, _>(*d)
            .bind::<BigInt, _>(*c);
    }
    q.execute(pg)?;
    Ok(())
}

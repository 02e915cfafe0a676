//! Reading the ledger back: chart rows, balances, entries, trial balance, and the verifier
//! that recomputes the chain and the balances from the postings.
//!
//! Nothing here writes an entry; only [`super::writer`] appends. The verifier is in
//! [`super::verify`] (re-exported here).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::chart::Chart;
use super::model::{Account, EntryKind, Fund, NewEntry, PostedEntry, Posting, Side};
pub use super::verify::{verify, VerifyReport};
use crate::db::schema::{
    account_balances, account_day_totals, accounts, ledger_entries, ledger_head, ledger_postings,
};
use crate::db::{DbConn, DbError};

/// Inserts the chart's accounts that the database does not have yet, each with a zero balance
/// row. Existing accounts are left as they are. Returns how many were added.
pub fn sync_chart(conn: &mut DbConn, chart: &Chart) -> Result<usize, DbError> {
    let existing: Vec<String> = accounts::table.select(accounts::code).load(conn)?;
    let now = Utc::now().naive_utc();
    let mut added = 0;
    // Parents first, so the parent reference holds.
    let mut missing: Vec<&Account> = chart
        .accounts()
        .filter(|a| !existing.contains(&a.code))
        .collect();
    missing.sort_by_key(|a| (a.parent.is_some(), a.code.clone()));
    for a in missing {
        insert_account(conn, a, now)?;
        added += 1;
    }
    Ok(added)
}

/// Inserts one account with its zero balance row.
pub fn insert_account(conn: &mut DbConn, a: &Account, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::insert_into(accounts::table)
        .values((
            accounts::code.eq(&a.code),
            accounts::name.eq(&a.name),
            accounts::name_en.eq(&a.name_en),
            accounts::fund.eq(a.fund.as_str()),
            accounts::kind.eq(a.kind.as_ref()),
            accounts::role.eq(a.role.as_ref()),
            accounts::currency.eq(&a.currency),
            accounts::parent.eq(a.parent.as_deref()),
            accounts::postable.eq(a.postable),
            accounts::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(account_balances::table)
        .values((
            account_balances::account_code.eq(&a.code),
            account_balances::debit_minor.eq(0i64),
            account_balances::credit_minor.eq(0i64),
            account_balances::last_entry_seq.eq(0i64),
        ))
        .execute(conn)?;
    Ok(())
}

/// The chain head: last sequence number and its hash.
pub fn chain_head(conn: &mut DbConn) -> Result<(i64, [u8; 32]), DbError> {
    let (seq, hash): (i64, Vec<u8>) = ledger_head::table
        .filter(ledger_head::id.eq(1))
        .select((ledger_head::seq, ledger_head::hash))
        .first(conn)?;
    Ok((seq, exact_hash(&hash, "the chain head")?))
}

/// A stored hash as read for the verifier: one that is not 32 bytes (an altered row) reads as
/// zeros on purpose, so that the verifier reports the broken link instead of failing the read.
fn to_hash(bytes: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(bytes).unwrap_or([0u8; 32])
}

/// A stored hash that must be whole (a head, a day's last entry): any other length is an error.
fn exact_hash(bytes: &[u8], what: &str) -> Result<[u8; 32], DbError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("the hash of {what} is not 32 bytes").into(),
        ))
    })
}

/// Maintained (debit, credit) totals of one account.
pub fn account_totals(conn: &mut DbConn, code: &str) -> Result<(i64, i64), DbError> {
    Ok(account_balances::table
        .filter(account_balances::account_code.eq(code.to_string()))
        .select((
            account_balances::debit_minor,
            account_balances::credit_minor,
        ))
        .first::<(i64, i64)>(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

/// How many stored entries are dated `date`, and the chain hash of the last of them.
pub fn day_tail(conn: &mut DbConn, date: NaiveDate) -> Result<(i64, Option<[u8; 32]>), DbError> {
    let count: i64 = ledger_entries::table
        .filter(ledger_entries::business_date.eq(date))
        .count()
        .get_result(conn)?;
    let last: Option<Vec<u8>> = ledger_entries::table
        .filter(ledger_entries::business_date.eq(date))
        .order(ledger_entries::seq.desc())
        .select(ledger_entries::hash)
        .first(conn)
        .optional()?;
    let last = last
        .map(|h| exact_hash(&h, &format!("the last entry of {date}")))
        .transpose()?;
    Ok((count, last))
}

/// Is the business day closed? (The business-day state lives in [`super::days`].)
pub use super::days::is_closed as is_day_closed;

/// A stored entry without its postings.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
struct EntryRow {
    seq: i64,
    business_date: NaiveDate,
    kind: String,
    memo: String,
    reference: Option<String>,
    reverses_seq: Option<i64>,
    actor: String,
    created_at: NaiveDateTime,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// A stored posting line.
#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger_postings)]
struct PostingRow {
    entry_seq: i64,
    account_code: String,
    side: String,
    amount_minor: i64,
    currency: String,
}

/// A posting with its entry's fields, in the select order of [`account_lines`].
#[derive(Queryable)]
struct LineRow {
    seq: i64,
    business_date: NaiveDate,
    kind: String,
    memo: String,
    reference: Option<String>,
    side: String,
    amount_minor: i64,
}

/// A stored entry whose kind or side text is not one onecard writes: the row was altered.
fn corrupt(seq: i64, what: &str) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(
        format!("entry {seq}: {what}").into(),
    ))
}

fn assemble(row: EntryRow, postings: Vec<PostingRow>) -> Result<PostedEntry, DbError> {
    let seq = row.seq;
    let kind: EntryKind = row.kind.parse().map_err(|e: String| corrupt(seq, &e))?;
    let postings = postings
        .into_iter()
        .map(|p| {
            Ok(Posting {
                account: p.account_code,
                side: p.side.parse().map_err(|e: String| corrupt(seq, &e))?,
                amount_minor: p.amount_minor,
                currency: p.currency,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(PostedEntry {
        seq,
        entry: NewEntry {
            business_date: row.business_date,
            kind,
            memo: row.memo,
            reference: row.reference,
            reverses: row.reverses_seq,
            actor: row.actor,
            postings,
        },
        created_at: row.created_at,
        prev_hash: to_hash(&row.prev_hash),
        hash: to_hash(&row.hash),
    })
}

/// Loads entries with `after < seq <= until` (at most `limit`), postings included, in order.
pub fn load_entries(
    conn: &mut DbConn,
    after: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<PostedEntry>, DbError> {
    let rows: Vec<EntryRow> = ledger_entries::table
        .filter(ledger_entries::seq.gt(after))
        .filter(ledger_entries::seq.le(until))
        .order(ledger_entries::seq)
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?;
    let Some(last) = rows.last().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    let postings: Vec<PostingRow> = ledger_postings::table
        .filter(ledger_postings::entry_seq.gt(after))
        .filter(ledger_postings::entry_seq.le(last))
        .order((ledger_postings::entry_seq, ledger_postings::line_no))
        .select(PostingRow::as_select())
        .load(conn)?;
    group(rows, postings)
}

/// Pairs entries with their postings. Both lists are ordered by entry sequence (postings by
/// line within an entry), so one pass over each suffices; a posting whose entry is not in
/// `rows` cannot occur (the foreign key) and would be skipped.
fn group(rows: Vec<EntryRow>, postings: Vec<PostingRow>) -> Result<Vec<PostedEntry>, DbError> {
    let mut postings = postings.into_iter().peekable();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut own = Vec::with_capacity(2);
        while let Some(p) = postings.next_if(|p| p.entry_seq <= r.seq) {
            if p.entry_seq == r.seq {
                own.push(p);
            }
        }
        out.push(assemble(r, own)?);
    }
    Ok(out)
}

/// One entry by sequence number.
pub fn load_entry(conn: &mut DbConn, seq: i64) -> Result<Option<PostedEntry>, DbError> {
    // Sequence numbers start at 1: anything below names no entry (and `seq - 1` would overflow
    // for i64::MIN, which a client can put in a path).
    if seq < 1 {
        return Ok(None);
    }
    Ok(load_entries(conn, seq - 1, seq, 1)?.into_iter().next())
}

/// The entry of `kind` that carries `reference` (the first, in chain order), if any. For the
/// kinds that post once per reference ([`EntryKind::posts_once_per_reference`]) there is at
/// most one.
pub fn entry_with_reference(
    conn: &mut DbConn,
    kind: EntryKind,
    reference: &str,
) -> Result<Option<i64>, DbError> {
    Ok(ledger_entries::table
        .filter(ledger_entries::kind.eq(kind.as_str()))
        .filter(ledger_entries::reference.eq(reference))
        .order(ledger_entries::seq)
        .select(ledger_entries::seq)
        .first(conn)
        .optional()?)
}

/// The entry that reverses `seq`, if any.
pub fn reversal_of(conn: &mut DbConn, seq: i64) -> Result<Option<i64>, DbError> {
    Ok(ledger_entries::table
        .filter(ledger_entries::reverses_seq.eq(seq))
        .select(ledger_entries::seq)
        .first(conn)
        .optional()?)
}

/// An account with its maintained balance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountBalance {
    /// The account.
    pub account: Account,
    /// Sum of debits.
    pub debit_minor: i64,
    /// Sum of credits.
    pub credit_minor: i64,
}

impl AccountBalance {
    /// Balance signed in the account's normal direction.
    pub fn balance_minor(&self) -> i64 {
        self.account
            .signed_balance(self.debit_minor, self.credit_minor)
    }
}

/// Every account of the chart with its balance; grouping accounts carry the sum of their
/// sub-accounts. Costs O(accounts).
pub fn account_balances(conn: &mut DbConn, chart: &Chart) -> Result<Vec<AccountBalance>, DbError> {
    let rows: Vec<(String, i64, i64)> = account_balances::table
        .select((
            account_balances::account_code,
            account_balances::debit_minor,
            account_balances::credit_minor,
        ))
        .load(conn)?;
    Ok(with_parents(
        chart,
        rows.into_iter().map(|(c, d, k)| (c, (d, k))).collect(),
    ))
}

fn with_parents(chart: &Chart, totals: BTreeMap<String, (i64, i64)>) -> Vec<AccountBalance> {
    let mut sums: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for a in chart.accounts().filter(|a| a.postable) {
        let t = totals.get(&a.code).copied().unwrap_or((0, 0));
        let own = sums.entry(a.code.as_str()).or_default();
        own.0 += t.0;
        own.1 += t.1;
        let mut parent = a.parent.as_deref();
        while let Some(p) = parent {
            let s = sums.entry(p).or_default();
            s.0 += t.0;
            s.1 += t.1;
            parent = chart.get(p).and_then(|pa| pa.parent.as_deref());
        }
    }
    chart
        .accounts()
        .map(|a| {
            let (d, c) = sums.get(a.code.as_str()).copied().unwrap_or((0, 0));
            AccountBalance {
                account: a.clone(),
                debit_minor: d,
                credit_minor: c,
            }
        })
        .collect()
}

/// One fund's part of a trial balance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FundTrialBalance {
    /// The fund.
    pub fund: Fund,
    /// Σ of debit balances of its postable accounts.
    pub debit_total_minor: i64,
    /// Σ of credit balances of its postable accounts.
    pub credit_total_minor: i64,
    /// Postable accounts with their balances.
    pub accounts: Vec<AccountBalance>,
}

/// Trial balance per fund: from the maintained balances (now), or from the per-day totals up
/// to and including `as_of`. Postable accounts only, so nothing is counted twice.
pub fn trial_balance(
    conn: &mut DbConn,
    chart: &Chart,
    as_of: Option<NaiveDate>,
) -> Result<Vec<FundTrialBalance>, DbError> {
    let totals: BTreeMap<String, (i64, i64)> = match as_of {
        None => account_balances::table
            .select((
                account_balances::account_code,
                account_balances::debit_minor,
                account_balances::credit_minor,
            ))
            .load::<(String, i64, i64)>(conn)?
            .into_iter()
            .map(|(c, d, k)| (c, (d, k)))
            .collect(),
        Some(date) => {
            let rows: Vec<(String, i64, i64)> = account_day_totals::table
                .filter(account_day_totals::business_date.le(date))
                .select((
                    account_day_totals::account_code,
                    account_day_totals::debit_minor,
                    account_day_totals::credit_minor,
                ))
                .load(conn)?;
            let mut m: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for (c, d, k) in rows {
                let t = m.entry(c).or_default();
                t.0 += d;
                t.1 += k;
            }
            m
        }
    };
    Ok(trial_balance_from(chart, &totals))
}

/// Pure: trial balance per fund from (debit, credit) totals per account.
pub fn trial_balance_from(
    chart: &Chart,
    totals: &BTreeMap<String, (i64, i64)>,
) -> Vec<FundTrialBalance> {
    [Fund::Collection, Fund::Budget]
        .into_iter()
        .map(|fund| {
            let mut debit_total_minor = 0;
            let mut credit_total_minor = 0;
            let accounts: Vec<AccountBalance> = chart
                .accounts()
                .filter(|a| a.fund == fund && a.postable)
                .map(|a| {
                    let (d, c) = totals.get(&a.code).copied().unwrap_or((0, 0));
                    if d >= c {
                        debit_total_minor += d - c;
                    } else {
                        credit_total_minor += c - d;
                    }
                    AccountBalance {
                        account: a.clone(),
                        debit_minor: d,
                        credit_minor: c,
                    }
                })
                .collect();
            FundTrialBalance {
                fund,
                debit_total_minor,
                credit_total_minor,
                accounts,
            }
        })
        .collect()
}

/// One line of an account statement.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountLine {
    /// Entry sequence number.
    pub seq: i64,
    /// Business date.
    pub business_date: NaiveDate,
    /// Entry kind.
    pub kind: EntryKind,
    /// Entry memo.
    pub memo: String,
    /// Source reference.
    pub reference: Option<String>,
    /// Debit or credit.
    pub side: Side,
    /// Amount.
    pub amount_minor: i64,
}

/// Postings of one account with `from <= business_date <= to`, after entry `after`, in chain
/// order, at most `limit`.
pub fn account_lines(
    conn: &mut DbConn,
    code: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    after: i64,
    limit: i64,
) -> Result<Vec<AccountLine>, DbError> {
    let mut q = ledger_postings::table
        .inner_join(ledger_entries::table)
        .filter(ledger_postings::account_code.eq(code))
        .filter(ledger_postings::entry_seq.gt(after))
        .into_boxed();
    if let Some(f) = from {
        q = q.filter(ledger_entries::business_date.ge(f));
    }
    if let Some(t) = to {
        q = q.filter(ledger_entries::business_date.le(t));
    }
    let rows: Vec<LineRow> = q
        .order((ledger_postings::entry_seq, ledger_postings::line_no))
        .limit(limit)
        .select((
            ledger_entries::seq,
            ledger_entries::business_date,
            ledger_entries::kind,
            ledger_entries::memo,
            ledger_entries::reference,
            ledger_postings::side,
            ledger_postings::amount_minor,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(AccountLine {
                seq: r.seq,
                business_date: r.business_date,
                kind: r.kind.parse().map_err(|e: String| corrupt(r.seq, &e))?,
                memo: r.memo,
                reference: r.reference,
                side: r.side.parse().map_err(|e: String| corrupt(r.seq, &e))?,
                amount_minor: r.amount_minor,
            })
        })
        .collect()
}

/// An account's (debit, credit) sums around a period: before it (the opening position) and
/// within it, from the per-day totals the writer maintains, so the cost does not grow with the
/// number of postings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeriodTotals {
    /// Debits dated before `from`.
    pub opening_debit_minor: i64,
    /// Credits dated before `from`.
    pub opening_credit_minor: i64,
    /// Debits dated `from..=to`.
    pub debit_minor: i64,
    /// Credits dated `from..=to`.
    pub credit_minor: i64,
}

/// [`PeriodTotals`] of one account for `from..=to` (either end open). Only postable accounts
/// carry postings; a grouping account's sums are zero, as its statement lines are empty.
pub fn account_period_totals(
    conn: &mut DbConn,
    code: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<PeriodTotals, DbError> {
    let mut q = account_day_totals::table
        .filter(account_day_totals::account_code.eq(code.to_string()))
        .into_boxed();
    if let Some(t) = to {
        q = q.filter(account_day_totals::business_date.le(t));
    }
    let days: Vec<(NaiveDate, i64, i64)> = q
        .select((
            account_day_totals::business_date,
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    let mut t = PeriodTotals::default();
    for (date, d, c) in days {
        if from.is_some_and(|f| date < f) {
            t.opening_debit_minor += d;
            t.opening_credit_minor += c;
        } else {
            t.debit_minor += d;
            t.credit_minor += c;
        }
    }
    Ok(t)
}

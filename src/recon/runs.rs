//! Reconciliation runs: load the day's records from the database, match them
//! ([`super::matcher`]), and store the outcomes and exceptions in one transaction.
//!
//! A run of date D loads the payments of D−1, D and D+1 (a payment pairs across the cut-off),
//! the settlement lines and files dated D and D+1, the collection account's bookings dated D to
//! D+2 (files are paid on T+1), the statement closing balance for D and the ledger's 1002.01 as
//! of D. Only the outcomes the matcher says belong to D are stored: the next night's run owns the
//! rest. A re-run replaces the date's active outcomes and exceptions (kept, inactive, for the
//! record); the database's partial unique indexes forbid a settlement line or a payment in two
//! active outcomes.
//!
//! Depends on: [`super::matcher`], `db`, `audit`, `clock`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::matcher::{
    reconcile, BalanceCheck, Booking, Channel, LedgerPayment, LedgerRefund, MatchInput,
    MatchResult, SettlementFile, SettlementLine, Summary,
};
use crate::audit::{self, AuditEvent};
use crate::bankfiles::records::{Direction, SettlementKind, SettlementRecord, StatementBooking};
use crate::clock::SHANGHAI;
use crate::db::schema::ledger_entries;
use crate::db::schema::{
    account_day_totals, bank_statements, payment_cards, payments, recon_exceptions, recon_outcomes,
    recon_runs, refunds, settlement_files, settlement_records, statement_bookings,
};
use crate::db::{DbConn, DbError};
use crate::insert_chunked;
use crate::ledger::model::{EntryKind, NewEntry, Posting};
use crate::ledger::writer::{LedgerWriter, PostError};
use crate::money::format_minor;

/// The collection account in the ledger.
const COLLECTION_BANK: &str = "1002.01";
/// Card settlements in transit.
const IN_TRANSIT: &str = "1218.01";
/// Fees owed back by the budget fund (interfund receivable).
const FEE_RECEIVABLE: &str = "1218.02";
/// Bank-charge expense (budget fund).
const FEE_EXPENSE: &str = "5001.01";
/// Payable to the collection fund (interfund payable).
const FEE_PAYABLE: &str = "2307.01";

/// A stored run, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// `rr_` and random hex.
    pub id: String,
    /// The business date reconciled.
    #[schema(value_type = String)]
    pub business_date: NaiveDate,
    /// Counts per outcome, with the API's names.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// The balance tier: statement closing balance against ledger 1002.01.
    #[schema(value_type = Object)]
    pub balance: serde_json::Value,
    /// Open exceptions of this run.
    pub open_exceptions: i64,
    /// When it ran (UTC).
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
    /// Who ran it.
    pub created_by: String,
    /// Settlement entries this run posted (files found paid and not posted before).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settlement_entries: Vec<i64>,
}

/// One exception as `GET /v1/reconciliations/{id}/exceptions` lists it.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = recon_exceptions)]
pub struct ExceptionRow {
    /// `ex_` and random hex.
    pub id: String,
    /// The outcome category (`amount_mismatch`, `missing_in_settlement`, …).
    pub kind: String,
    /// The payment concerned, if any.
    pub payment_id: Option<String>,
    /// The settlement line concerned, if any.
    pub settlement_record_id: Option<i64>,
    /// The settlement file concerned (cash tier), if any.
    pub file_id: Option<String>,
    /// The bank booking concerned (cash tier), if any.
    pub booking_id: Option<i64>,
    /// The ledger's amount in fen, where one applies.
    pub ledger_minor: Option<i64>,
    /// The settlement's or bank's amount in fen, where one applies.
    pub settlement_minor: Option<i64>,
    /// What the operator should do.
    pub suggested_action: String,
    /// `open` (resolutions come with the exceptions API).
    pub status: String,
}

fn new_id(prefix: &str) -> Result<String, DbError> {
    let bytes = crate::keys::random_bytes::<10>()
        .map_err(|e| DbError::Connect(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

fn beijing(text: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&SHANGHAI).naive_local())
}

type PaymentRow = (
    String,
    String,
    String,
    NaiveDate,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

type RecordRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    String,
    NaiveDateTime,
    NaiveDate,
    Option<String>,
    Option<String>,
);

type BookingRow = (
    i64,
    String,
    i64,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    String,
    i64,
    bool,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// The settlement dates of the files a run of `date` reads: D and D+1.
fn file_window(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date, date + Duration::days(1))
}

/// The booking dates of the collection account a run of `date` reads: D to D+2 (files are paid
/// on T+1).
fn booking_window(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date, date + Duration::days(2))
}

/// The imported files a run of `date` reads, in id order: settlement files of its window, and
/// statements with a booking in its window or whose closing balance is the one it checks.
pub fn input_files(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<String>, DbError> {
    let (files_from, files_to) = file_window(date);
    let (bookings_from, bookings_to) = booking_window(date);
    let mut ids: Vec<String> = settlement_files::table
        .filter(settlement_files::produces.eq("settlement"))
        .filter(settlement_files::settlement_date.between(files_from, files_to))
        .select(settlement_files::id)
        .load(conn)?;
    ids.extend(
        statement_bookings::table
            .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
            .select(statement_bookings::file_id)
            .distinct()
            .load::<String>(conn)?,
    );
    ids.extend(
        bank_statements::table
            .filter(bank_statements::to_date.eq(date))
            .select(bank_statements::file_id)
            .load::<String>(conn)?,
    );
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The latest run of `date`, if it was reconciled.
pub fn latest(conn: &mut DbConn, date: NaiveDate) -> Result<Option<Run>, DbError> {
    let id: Option<String> = recon_runs::table
        .filter(recon_runs::business_date.eq(date))
        .order((recon_runs::created_at.desc(), recon_runs::id.desc()))
        .select(recon_runs::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => get(conn, &id),
        None => Ok(None),
    }
}

/// Everything the matcher needs for `date`, from the database.
pub fn load(conn: &mut DbConn, date: NaiveDate) -> Result<MatchInput, DbError> {
    let before = date - Duration::days(1);
    let after = date + Duration::days(1);
    let rows: Vec<PaymentRow> = payments::table
        .inner_join(payment_cards::table)
        .filter(payments::business_date.between(before, after))
        .select((
            payments::id,
            payments::reference,
            payments::channel,
            payments::business_date,
            payments::amount_minor,
            payments::status,
            payment_cards::merchant_id,
            payment_cards::terminal_id,
            payment_cards::batch_no,
            payment_cards::trace_no,
            payment_cards::rrn,
            payment_cards::serial,
            payment_cards::txn_time,
        ))
        .order(payments::id)
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut refunds_by_payment: BTreeMap<String, Vec<LedgerRefund>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String, i64, Option<NaiveDateTime>)> = refunds::table
            .filter(refunds::payment_id.eq_any(chunk))
            .filter(refunds::status.eq("approved"))
            .select((
                refunds::id,
                refunds::payment_id,
                refunds::amount_minor,
                refunds::approved_at,
            ))
            .load(conn)?;
        for (id, payment_id, amount_minor, approved_at) in found {
            let approved_on = approved_at
                .map(|t| t.and_utc().with_timezone(&SHANGHAI).date_naive())
                .unwrap_or(date);
            refunds_by_payment
                .entry(payment_id)
                .or_default()
                .push(LedgerRefund {
                    id,
                    amount_minor,
                    approved_on,
                });
        }
    }
    let payments_in: Vec<LedgerPayment> = rows
        .into_iter()
        .map(|r| LedgerPayment {
            refunds: refunds_by_payment.remove(&r.0).unwrap_or_default(),
            txn_time: beijing(&r.12).unwrap_or_else(|| r.3.and_time(chrono::NaiveTime::MIN)),
            id: r.0,
            reference: r.1,
            channel: if r.2 == "one_card" {
                Channel::OneCard
            } else {
                Channel::BankCard
            },
            business_date: r.3,
            amount_minor: r.4,
            voided: r.5 == "voided",
            merchant: r.6,
            terminal: r.7,
            batch: r.8,
            trace: r.9,
            rrn: r.10,
            serial: r.11,
        })
        .collect();
    let (files_from, files_to) = file_window(date);
    let files: Vec<(String, String, Option<String>, Option<NaiveDate>)> = settlement_files::table
        .filter(settlement_files::produces.eq("settlement"))
        .filter(settlement_files::settlement_date.between(files_from, files_to))
        .select((
            settlement_files::id,
            settlement_files::spec,
            settlement_files::merchant,
            settlement_files::settlement_date,
        ))
        .order(settlement_files::id)
        .load(conn)?;
    let file_ids: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let records: Vec<RecordRow> = settlement_records::table
        .filter(settlement_records::file_id.eq_any(&file_ids))
        .select((
            settlement_records::id,
            settlement_records::file_id,
            settlement_records::line_no,
            settlement_records::kind,
            settlement_records::merchant,
            settlement_records::terminal,
            settlement_records::batch,
            settlement_records::trace,
            settlement_records::rrn,
            settlement_records::gross_minor,
            settlement_records::fee_minor,
            settlement_records::net_minor,
            settlement_records::currency,
            settlement_records::txn_time,
            settlement_records::settlement_date,
            settlement_records::original_ref,
            settlement_records::own_ref,
        ))
        .order(settlement_records::id)
        .load(conn)?;
    let mut nets: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
    for r in &records {
        let e = nets
            .entry(
                files
                    .iter()
                    .find(|f| f.0 == r.1)
                    .map_or("", |f| f.0.as_str()),
            )
            .or_default();
        e.0 += r.11;
        e.1 += 1;
    }
    let files_in: Vec<SettlementFile> = files
        .iter()
        .map(|(id, spec, merchant, settlement_date)| {
            let (net_minor, lines) = nets.get(id.as_str()).copied().unwrap_or((0, 0));
            SettlementFile {
                file_id: id.clone(),
                channel: if spec == "onecard-settlement-csv" {
                    Channel::OneCard
                } else {
                    Channel::BankCard
                },
                merchant: merchant.clone().unwrap_or_default(),
                settlement_date: settlement_date.unwrap_or(date),
                net_minor,
                lines,
            }
        })
        .collect();
    let lines: Vec<SettlementLine> = records
        .into_iter()
        .map(|r| SettlementLine {
            id: r.0,
            file_id: r.1,
            record: SettlementRecord {
                line: u64::try_from(r.2).unwrap_or(0),
                kind: SettlementKind::parse(&r.3).unwrap_or(SettlementKind::Adjustment),
                merchant: r.4,
                terminal: r.5,
                batch: r.6,
                trace: r.7,
                rrn: r.8,
                auth_code: None,
                masked_card: None,
                gross_minor: r.9,
                fee_minor: r.10,
                net_minor: r.11,
                currency: r.12,
                txn_time: r.13,
                settlement_date: r.14,
                original_ref: r.15,
                own_ref: r.16,
            },
        })
        .collect();
    let (bookings_from, bookings_to) = booking_window(date);
    let booking_rows: Vec<BookingRow> = statement_bookings::table
        .filter(statement_bookings::booking_date.between(bookings_from, bookings_to))
        .select((
            statement_bookings::id,
            statement_bookings::file_id,
            statement_bookings::line_no,
            statement_bookings::account,
            statement_bookings::currency,
            statement_bookings::booking_date,
            statement_bookings::value_date,
            statement_bookings::direction,
            statement_bookings::amount_minor,
            statement_bookings::reversal,
            statement_bookings::bank_ref,
            statement_bookings::narrative,
            statement_bookings::counterparty_account,
            statement_bookings::counterparty_name,
            statement_bookings::balance_after_minor,
        ))
        .order(statement_bookings::id)
        .load(conn)?;
    let bookings: Vec<Booking> = booking_rows
        .into_iter()
        .map(|b| Booking {
            id: b.0,
            file_id: b.1,
            booking: StatementBooking {
                line: u64::try_from(b.2).unwrap_or(0),
                account: b.3,
                currency: b.4,
                booking_date: b.5,
                value_date: b.6,
                direction: if b.7 == "credit" {
                    Direction::Credit
                } else {
                    Direction::Debit
                },
                amount_minor: b.8,
                reversal: b.9,
                bank_ref: b.10,
                narrative: b.11,
                counterparty_account: b.12,
                counterparty_name: b.13,
                balance_after_minor: b.14,
            },
        })
        .collect();
    let statement_closing_minor: Option<i64> = bank_statements::table
        .filter(bank_statements::to_date.eq(date))
        .filter(bank_statements::closing_minor.is_not_null())
        .order(bank_statements::id.desc())
        .select(bank_statements::closing_minor)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let totals: Vec<(i64, i64)> = account_day_totals::table
        .filter(account_day_totals::account_code.eq(COLLECTION_BANK))
        .filter(account_day_totals::business_date.le(date))
        .select((
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    let ledger_1002_01_minor = totals.iter().map(|(d, c)| d - c).sum();
    Ok(MatchInput {
        business_date: date,
        payments: payments_in,
        lines,
        files: files_in,
        bookings,
        statement_closing_minor,
        ledger_1002_01_minor,
    })
}

fn summary_json(summary: &Summary) -> serde_json::Value {
    serde_json::to_value(summary).unwrap_or_default()
}

fn balance_json(balance: &BalanceCheck) -> serde_json::Value {
    serde_json::to_value(balance).unwrap_or_default()
}

/// A settlement file's detail lines and Σ gross, fee and net, from its stored records.
fn file_sums(conn: &mut DbConn, file_id: &str) -> Result<(i64, i64, i64, i64), DbError> {
    let rows: Vec<(i64, i64, i64)> = settlement_records::table
        .filter(settlement_records::file_id.eq(file_id))
        .select((
            settlement_records::gross_minor,
            settlement_records::fee_minor,
            settlement_records::net_minor,
        ))
        .load(conn)?;
    let (gross, fee, net) = rows
        .iter()
        .fold((0i64, 0i64, 0i64), |a, r| (a.0 + r.0, a.1 + r.1, a.2 + r.2));
    Ok((rows.len() as i64, gross, fee, net))
}

/// The reference a file's settlement entry carries (one entry per file, ever).
pub fn settlement_reference(file_id: &str) -> String {
    format!("settlement:{file_id}")
}

/// DESIGN §2's settlement entry for a file whose net reached the collection account: gross G,
/// fee F, net N — collection Dr 1002.01 N, Dr 1218.02 F / Cr 1218.01 G; budget Dr 5001.01 F /
/// Cr 2307.01 F. 2103 is untouched: revenue stays gross; the fee becomes budget-fund expense
/// through the interfund pair. `None` when the totals cannot be posted as such (a file of only
/// refunds, or fees returned on balance): those stay with the exceptions for a person.
pub fn settlement_entry(
    date: NaiveDate,
    file_id: &str,
    gross: i64,
    fee: i64,
    net: i64,
    actor: &str,
) -> Option<NewEntry> {
    if gross <= 0 || net <= 0 || fee < 0 || gross - fee != net {
        return None;
    }
    let mut postings = vec![
        Posting::debit(COLLECTION_BANK, net),
        Posting::credit(IN_TRANSIT, gross),
    ];
    if fee > 0 {
        postings.push(Posting::debit(FEE_RECEIVABLE, fee));
        postings.push(Posting::debit(FEE_EXPENSE, fee));
        postings.push(Posting::credit(FEE_PAYABLE, fee));
    }
    Some(NewEntry {
        business_date: date,
        kind: EntryKind::Settlement,
        memo: format!(
            "acquirer settlement of file {file_id}: gross {}, fee {}, net {}",
            format_minor(gross),
            format_minor(fee),
            format_minor(net)
        ),
        reference: Some(settlement_reference(file_id)),
        reverses: None,
        actor: actor.to_string(),
        postings,
    })
}

/// Posts the settlement entry of each file the run found paid (`cash_matched`), once per file:
/// a file already posted (by an earlier run) is skipped inside the writer job, under the
/// chain-head lock, so concurrent runs cannot post twice. Returns the entries posted now.
pub fn post_settlements(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    date: NaiveDate,
    file_ids: &[String],
    actor: &str,
) -> Result<Vec<i64>, RunError> {
    let mut posted = Vec::new();
    for file_id in file_ids {
        let (_, gross, fee, net) = file_sums(conn, file_id)?;
        let Some(entry) = settlement_entry(date, file_id, gross, fee, net, actor) else {
            continue;
        };
        let reference = settlement_reference(file_id);
        let seq = writer
            .submit_blocking(move |batch| -> Result<Option<i64>, PostError> {
                let exists: i64 = ledger_entries::table
                    .filter(ledger_entries::reference.eq(&reference))
                    .filter(ledger_entries::kind.eq(EntryKind::Settlement.as_str()))
                    .count()
                    .get_result(batch.conn()?)
                    .map_err(DbError::from)?;
                if exists > 0 {
                    return Ok(None);
                }
                Ok(Some(batch.post(entry)?.seq))
            })
            .map_err(|e| RunError::Post(e.to_string()))?;
        posted.extend(seq);
    }
    Ok(posted)
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The day is closed: its reconciliation stands as it was when it was sealed.
    #[error("{0} is closed; its reconciliation can no longer change")]
    DayClosed(NaiveDate),
    /// A settlement entry could not be posted (the outcomes are stored; running again posts
    /// what is missing).
    #[error("the settlement entry could not be posted: {0}")]
    Post(String),
}

/// The steps of a run, in order, as [`run_with_progress`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading the day's payments, settlement lines, bookings and balances.
    Load,
    /// Matching them (the three tiers).
    Match,
    /// Storing the outcomes and exceptions.
    Store,
    /// Posting the settlement entries of the files found paid.
    Post,
}

/// Runs the reconciliation of `date` and stores it: one transaction for the outcomes and
/// exceptions; then the settlement entries of the files found paid, through the ledger writer.
pub fn run(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    date: NaiveDate,
    actor: &str,
) -> Result<Run, RunError> {
    run_with_progress(conn, writer, date, actor, &mut |_| {})
}

/// [`run`], telling `phase` as each step begins (for a progress display).
pub fn run_with_progress(
    conn: &mut DbConn,
    writer: &LedgerWriter,
    date: NaiveDate,
    actor: &str,
    phase: &mut dyn FnMut(Phase),
) -> Result<Run, RunError> {
    // A closed day's reconciliation is part of what its seal stands for.
    if crate::ledger::repo::is_day_closed(conn, date)? {
        return Err(RunError::DayClosed(date));
    }
    let stored = store_run(conn, date, actor, phase)?;
    phase(Phase::Post);
    let paid: Vec<String> = recon_outcomes::table
        .filter(recon_outcomes::run_id.eq(&stored.id))
        .filter(recon_outcomes::category.eq("cash_matched"))
        .filter(recon_outcomes::file_id.is_not_null())
        .select(recon_outcomes::file_id)
        .load::<Option<String>>(conn)
        .map_err(DbError::from)?
        .into_iter()
        .flatten()
        .collect();
    let posted = post_settlements(conn, writer, date, &paid, actor)?;
    Ok(Run {
        settlement_entries: posted,
        ..stored
    })
}

/// What identifies "the same finding" across runs: kind, records, amounts.
type ExceptionKey = (
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// A worked exception's key and id.
type Worked = (ExceptionKey, String);

/// A resolution as stored, to carry to the same finding in a re-run.
type ResolutionRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<NaiveDateTime>,
);

fn store_run(
    conn: &mut DbConn,
    date: NaiveDate,
    actor: &str,
    phase: &mut dyn FnMut(Phase),
) -> Result<Run, DbError> {
    phase(Phase::Load);
    let input = load(conn, date)?;
    phase(Phase::Match);
    let result: MatchResult = reconcile(&input);
    drop(input);
    phase(Phase::Store);
    let now = Utc::now().naive_utc();
    let run_id = new_id("rr")?;
    conn.transaction::<_, DbError, _>(|conn| {
        // Exceptions already worked stay worked when a re-run finds exactly the same thing
        // (same kind, records and amounts); anything else is looked at afresh.
        let worked: Vec<Worked> = recon_exceptions::table
            .filter(recon_exceptions::business_date.eq(date))
            .filter(recon_exceptions::active.eq(true))
            .filter(recon_exceptions::status.ne("open"))
            .select((
                (
                    recon_exceptions::kind,
                    recon_exceptions::payment_id,
                    recon_exceptions::settlement_record_id,
                    recon_exceptions::file_id,
                    recon_exceptions::booking_id,
                    recon_exceptions::ledger_minor,
                    recon_exceptions::settlement_minor,
                ),
                recon_exceptions::id,
            ))
            .load(conn)?;
        diesel::update(recon_outcomes::table.filter(recon_outcomes::business_date.eq(date)))
            .filter(recon_outcomes::active.eq(true))
            .set(recon_outcomes::active.eq(false))
            .execute(conn)?;
        diesel::update(recon_exceptions::table.filter(recon_exceptions::business_date.eq(date)))
            .filter(recon_exceptions::active.eq(true))
            .set(recon_exceptions::active.eq(false))
            .execute(conn)?;
        let summary = summary_json(&result.summary);
        let balance = balance_json(&result.balance);
        diesel::insert_into(recon_runs::table)
            .values((
                recon_runs::id.eq(&run_id),
                recon_runs::business_date.eq(date),
                recon_runs::summary.eq(summary.to_string()),
                recon_runs::balance.eq(balance.to_string()),
                recon_runs::created_at.eq(now),
                recon_runs::created_by.eq(actor),
            ))
            .execute(conn)?;
        let mut outcome_rows = Vec::new();
        let mut exception_rows = Vec::new();
        let mut carried: Vec<(String, String)> = Vec::new();
        for o in result.outcomes.iter().filter(|o| o.counted) {
            outcome_rows.push((
                recon_outcomes::run_id.eq(run_id.clone()),
                recon_outcomes::business_date.eq(date),
                recon_outcomes::category.eq(o.category.as_str()),
                recon_outcomes::subject.eq(o.subject.as_str()),
                recon_outcomes::payment_id.eq(o.payment_id.clone()),
                recon_outcomes::settlement_record_id.eq(o.line_id),
                recon_outcomes::void_record_id.eq(o.void_line_id),
                recon_outcomes::file_id.eq(o.file_id.clone()),
                recon_outcomes::booking_id.eq(o.booking_id),
                recon_outcomes::ledger_minor.eq(o.ledger_minor),
                recon_outcomes::settlement_minor.eq(o.settlement_minor),
                recon_outcomes::note.eq(o.note),
                recon_outcomes::active.eq(true),
            ));
            if o.category.is_exception() {
                let exception_id = new_id("ex")?;
                let key: ExceptionKey = (
                    o.category.as_str().to_string(),
                    o.payment_id.clone(),
                    o.line_id,
                    o.file_id.clone(),
                    o.booking_id,
                    o.ledger_minor,
                    o.settlement_minor,
                );
                if let Some((_, previous)) = worked.iter().find(|(k, _)| *k == key) {
                    carried.push((exception_id.clone(), previous.clone()));
                }
                exception_rows.push((
                    recon_exceptions::id.eq(exception_id),
                    recon_exceptions::run_id.eq(run_id.clone()),
                    recon_exceptions::business_date.eq(date),
                    recon_exceptions::kind.eq(o.category.as_str()),
                    recon_exceptions::payment_id.eq(o.payment_id.clone()),
                    recon_exceptions::settlement_record_id.eq(o.line_id),
                    recon_exceptions::file_id.eq(o.file_id.clone()),
                    recon_exceptions::booking_id.eq(o.booking_id),
                    recon_exceptions::ledger_minor.eq(o.ledger_minor),
                    recon_exceptions::settlement_minor.eq(o.settlement_minor),
                    recon_exceptions::suggested_action.eq(o.action.unwrap_or("investigate")),
                    recon_exceptions::status.eq("open"),
                    recon_exceptions::active.eq(true),
                ));
            }
        }
        insert_chunked!(conn, recon_outcomes::table, outcome_rows)?;
        insert_chunked!(conn, recon_exceptions::table, exception_rows)?;
        for (new, previous) in &carried {
            let resolved: ResolutionRow = recon_exceptions::table
                .find(previous)
                .select((
                    recon_exceptions::status,
                    recon_exceptions::resolution,
                    recon_exceptions::note,
                    recon_exceptions::matched_payment_id,
                    recon_exceptions::matched_record_id,
                    recon_exceptions::resolved_by_token,
                    recon_exceptions::resolved_by,
                    recon_exceptions::resolved_at,
                    recon_exceptions::approved_by,
                    recon_exceptions::approved_at,
                ))
                .first(conn)?;
            diesel::update(recon_exceptions::table.find(new))
                .set((
                    recon_exceptions::status.eq(resolved.0),
                    recon_exceptions::resolution.eq(resolved.1),
                    recon_exceptions::note.eq(resolved.2),
                    recon_exceptions::matched_payment_id.eq(resolved.3),
                    recon_exceptions::matched_record_id.eq(resolved.4),
                    recon_exceptions::resolved_by_token.eq(resolved.5),
                    recon_exceptions::resolved_by.eq(resolved.6),
                    recon_exceptions::resolved_at.eq(resolved.7),
                    recon_exceptions::approved_by.eq(resolved.8),
                    recon_exceptions::approved_at.eq(resolved.9),
                ))
                .execute(conn)?;
        }
        audit::record_at(
            conn,
            AuditEvent {
                actor,
                action: "reconciliation.run",
                subject: &format!("reconciliation:{run_id}"),
                before: None,
                after: Some(serde_json::json!({"business_date": date, "summary": summary, "balance": balance})),
            },
            now,
        )?;
        Ok(())
    })?;
    get(conn, &run_id)?.ok_or_else(|| DbError::Connect("the run just stored is gone".into()))
}

/// A stored run.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Run>, DbError> {
    let row: Option<(String, NaiveDate, String, String, NaiveDateTime, String)> = recon_runs::table
        .find(id)
        .select((
            recon_runs::id,
            recon_runs::business_date,
            recon_runs::summary,
            recon_runs::balance,
            recon_runs::created_at,
            recon_runs::created_by,
        ))
        .first(conn)
        .optional()?;
    let Some((id, business_date, summary, balance, created_at, created_by)) = row else {
        return Ok(None);
    };
    let open_exceptions: i64 = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(&id))
        .filter(recon_exceptions::status.ne("resolved"))
        .count()
        .get_result(conn)?;
    Ok(Some(Run {
        id,
        business_date,
        summary: serde_json::from_str(&summary).unwrap_or_default(),
        balance: serde_json::from_str(&balance).unwrap_or_default(),
        open_exceptions,
        created_at,
        created_by,
        settlement_entries: Vec::new(),
    }))
}

/// A run's exceptions in id order, `limit` after `after`.
pub fn exceptions(
    conn: &mut DbConn,
    run_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ExceptionRow>, DbError> {
    let base = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .filter(recon_exceptions::id.gt(after.unwrap_or("").to_string()))
        .select(ExceptionRow::as_select())
        .order(recon_exceptions::id)
        .limit(limit);
    Ok(base.load(conn)?)
}

/// One line of a per-channel or per-department table.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// The channel (`bank_card`, `one_card`) or department code.
    pub key: String,
    /// Payments of the date.
    pub payments: u64,
    /// Their amount.
    pub amount: String,
    /// Of them matched.
    pub matched: u64,
    /// Of them with an exception.
    pub exceptions: u64,
}

/// One settlement file's netting: what the acquirer kept.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Netting {
    /// The file.
    pub file_id: String,
    /// Its spec.
    pub spec: String,
    /// Merchant.
    pub merchant: Option<String>,
    /// Settlement date.
    #[schema(value_type = Option<String>)]
    pub settlement_date: Option<NaiveDate>,
    /// Detail lines.
    pub lines: i64,
    /// Σ gross (2103 stays gross in the ledger).
    pub gross: String,
    /// Σ acquirer fee (budget-fund expense, never netted from revenue).
    pub fee: String,
    /// Σ net: what reaches the collection account.
    pub net: String,
    /// The settlement entry posted for the file, once its cash arrived.
    pub entry_seq: Option<i64>,
}

/// The day's reconciliation report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The run.
    pub run: Run,
    /// Per channel.
    pub by_channel: Vec<Group>,
    /// Per department.
    pub by_department: Vec<Group>,
    /// Per settlement file of the date.
    pub netting: Vec<Netting>,
    /// Every exception with its suggested action and state.
    pub exceptions: Vec<ExceptionRow>,
}

/// The report of a stored run.
pub fn report(conn: &mut DbConn, run_id: &str) -> Result<Option<Report>, DbError> {
    let Some(run) = get(conn, run_id)? else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, i64)> = recon_outcomes::table
        .inner_join(payments::table.on(recon_outcomes::payment_id.eq(payments::id.nullable())))
        .filter(recon_outcomes::run_id.eq(run_id))
        .filter(recon_outcomes::subject.eq("payment"))
        .select((
            recon_outcomes::category,
            payments::channel,
            payments::department,
            payments::amount_minor,
        ))
        .load(conn)?;
    let mut channels: BTreeMap<String, (Group, i64)> = BTreeMap::new();
    let mut departments: BTreeMap<String, (Group, i64)> = BTreeMap::new();
    for (category, channel, department, amount) in rows {
        for (map, key) in [
            (&mut channels, channel.clone()),
            (&mut departments, department.clone()),
        ] {
            let (g, sum) = map.entry(key.clone()).or_insert_with(|| {
                (
                    Group {
                        key,
                        ..Group::default()
                    },
                    0,
                )
            });
            g.payments += 1;
            *sum += amount;
            if category == "matched" {
                g.matched += 1;
            } else {
                g.exceptions += 1;
            }
        }
    }
    let finish = |m: BTreeMap<String, (Group, i64)>| -> Vec<Group> {
        m.into_values()
            .map(|(mut g, sum)| {
                g.amount = crate::money::format_minor(sum);
                g
            })
            .collect()
    };
    let files: Vec<(String, String, Option<String>, Option<NaiveDate>)> = settlement_files::table
        .filter(settlement_files::produces.eq("settlement"))
        .filter(settlement_files::settlement_date.eq(run.business_date))
        .select((
            settlement_files::id,
            settlement_files::spec,
            settlement_files::merchant,
            settlement_files::settlement_date,
        ))
        .order(settlement_files::id)
        .load(conn)?;
    let mut netting = Vec::with_capacity(files.len());
    for (file_id, spec, merchant, settlement_date) in files {
        let (lines, gross, fee, net) = file_sums(conn, &file_id)?;
        let entry_seq: Option<i64> = ledger_entries::table
            .filter(ledger_entries::reference.eq(settlement_reference(&file_id)))
            .select(ledger_entries::seq)
            .first(conn)
            .optional()?;
        netting.push(Netting {
            entry_seq,
            file_id,
            spec,
            merchant,
            settlement_date,
            lines,
            gross: crate::money::format_minor(gross),
            fee: crate::money::format_minor(fee),
            net: crate::money::format_minor(net),
        });
    }
    let exceptions = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .select(ExceptionRow::as_select())
        .order(recon_exceptions::id)
        .load(conn)?;
    Ok(Some(Report {
        run,
        by_channel: finish(channels),
        by_department: finish(departments),
        netting,
        exceptions,
    }))
}

/// The report as CSV: one section after another, each with its own heading row; the first
/// column names the section, so a spreadsheet filter shows one table at a time.
pub fn report_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let date = report.run.business_date.to_string();
    w.write_record(["section", "business_date", "run", "item", "count"])?;
    if let Some(summary) = report.run.summary.as_object() {
        for (k, v) in summary {
            w.write_record([
                "summary",
                date.as_str(),
                report.run.id.as_str(),
                k.as_str(),
                &v.to_string(),
            ])?;
        }
    }
    w.write_record([
        "balance",
        date.as_str(),
        report.run.id.as_str(),
        &report.run.balance.to_string(),
        "",
    ])?;
    w.write_record([
        "section",
        "key",
        "payments",
        "amount",
        "matched",
        "exceptions",
    ])?;
    for (section, groups) in [
        ("by_channel", &report.by_channel),
        ("by_department", &report.by_department),
    ] {
        for g in groups {
            w.write_record([
                section,
                g.key.as_str(),
                &g.payments.to_string(),
                g.amount.as_str(),
                &g.matched.to_string(),
                &g.exceptions.to_string(),
            ])?;
        }
    }
    w.write_record([
        "section",
        "file_id",
        "spec",
        "merchant",
        "settlement_date",
        "lines",
        "gross",
        "fee",
        "net",
    ])?;
    for n in &report.netting {
        w.write_record([
            "netting",
            n.file_id.as_str(),
            n.spec.as_str(),
            n.merchant.as_deref().unwrap_or(""),
            &n.settlement_date.map(|d| d.to_string()).unwrap_or_default(),
            &n.lines.to_string(),
            n.gross.as_str(),
            n.fee.as_str(),
            n.net.as_str(),
        ])?;
    }
    w.write_record([
        "section",
        "exception_id",
        "kind",
        "payment_id",
        "settlement_record_id",
        "ledger_amount",
        "settlement_amount",
        "status",
        "suggested_action",
    ])?;
    for e in &report.exceptions {
        w.write_record([
            "exception",
            e.id.as_str(),
            e.kind.as_str(),
            e.payment_id.as_deref().unwrap_or(""),
            &e.settlement_record_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
            &e.ledger_minor
                .map(crate::money::format_minor)
                .unwrap_or_default(),
            &e.settlement_minor
                .map(crate::money::format_minor)
                .unwrap_or_default(),
            e.status.as_str(),
            e.suggested_action.as_str(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

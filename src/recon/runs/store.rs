//! Storing a run and reading it back: the run row, its counted outcomes and exceptions (one
//! transaction; a re-run deactivates the date's previous ones and carries the resolution of an
//! exception it finds again unchanged), the settlement entries of the files found paid (through
//! the ledger writer), and the stored runs and exceptions as the API lists them.
//!
//! Depends on: [`crate::recon::matcher`] (the result), [`crate::recon::exceptions`] (the
//! status), [`super::entries`], `db`, `audit`, `ledger::writer`, `bankfiles::stored`.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::load::file_sums;
use super::{Run, RunError};
use crate::audit::{self, AuditEvent};
use crate::bankfiles::stored;
use crate::db::schema::{ledger_entries, recon_exceptions, recon_outcomes, recon_runs};
use crate::db::{DbConn, DbError};
use crate::insert_bulk;
use crate::ledger::model::EntryKind;
use crate::ledger::templates::{self, settlement_reference, SettlementTotals};
use crate::ledger::writer::{LedgerWriter, PostError};
use crate::ledger::LedgerError;
use crate::recon::exceptions::ExceptionStatus;
use crate::recon::matcher::{Category, MatchResult};
use crate::words::{Lang, Suggestion};

/// One exception as `GET /v1/reconciliations/{id}/exceptions` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExceptionRow {
    /// `ex_` and random hex.
    pub id: String,
    /// The outcome category (`amount_mismatch`, `missing_in_settlement`, …).
    #[schema(value_type = String)]
    pub kind: Category,
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
    /// What the operator should do: in the reader's language once [`ExceptionRow::in_lang`]
    /// said it, the stored sentence until then.
    pub suggested_action: String,
    /// The suggested action's code (`claim_missing_credit`…); none only for a sentence stored
    /// before the codes that names no known action.
    #[schema(value_type = Option<String>)]
    pub suggested_action_code: Option<Suggestion>,
    /// `open` (resolutions come with the exceptions API).
    #[schema(value_type = String)]
    pub status: ExceptionStatus,
}

/// [`ExceptionRow`] as stored (kind and status as text).
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_exceptions)]
pub(crate) struct StoredExceptionRow {
    id: String,
    kind: String,
    payment_id: Option<String>,
    settlement_record_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
    suggested_action: String,
    status: String,
    action_code: Option<String>,
}

impl StoredExceptionRow {
    /// The row with its kind and status read (a value that does not parse is an error).
    pub(crate) fn typed(self) -> Result<ExceptionRow, DbError> {
        Ok(ExceptionRow {
            kind: stored::parse("recon_exceptions.kind", &self.kind)?,
            status: stored::parse("recon_exceptions.status", &self.status)?,
            id: self.id,
            payment_id: self.payment_id,
            settlement_record_id: self.settlement_record_id,
            file_id: self.file_id,
            booking_id: self.booking_id,
            ledger_minor: self.ledger_minor,
            settlement_minor: self.settlement_minor,
            suggested_action_code: self
                .action_code
                .as_deref()
                .and_then(Suggestion::parse)
                .or_else(|| Suggestion::from_stored(&self.suggested_action)),
            suggested_action: self.suggested_action,
        })
    }
}

impl ExceptionRow {
    /// The suggested action in `lang` (a sentence without a code as stored).
    pub fn suggestion(&self, lang: Lang) -> &str {
        self.suggested_action_code
            .map_or(&self.suggested_action, |s| s.text(lang))
    }

    /// The row with its suggested action said in `lang`.
    pub fn in_lang(mut self, lang: Lang) -> Self {
        if let Some(s) = self.suggested_action_code {
            self.suggested_action = s.text(lang).to_string();
        }
        self
    }
}

/// The lock key of a date's runs (see [`crate::db::lock_for_rewrite`]): "RECON" in ASCII, then
/// the day number.
fn run_lock_key(date: NaiveDate) -> i64 {
    0x5245_434f_4e00_0000 + i64::from(chrono::Datelike::num_days_from_ce(&date))
}

fn new_id(prefix: &str) -> Result<String, DbError> {
    let bytes = crate::keys::random_bytes::<10>()
        .map_err(|e| DbError::Connect(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// Stores `result` as the run of `date` by `actor`, in one transaction, and returns it as
/// stored.
pub(super) fn store(
    conn: &mut DbConn,
    date: NaiveDate,
    actor: &str,
    result: &MatchResult,
) -> Result<Run, DbError> {
    let now = Utc::now().naive_utc();
    let run_id = new_id("rr")?;
    crate::db::write_txn::<_, DbError, _>(conn, |conn| {
        // Two runs of one date at once: the second waits and then replaces the first's outcomes.
        crate::db::lock_for_rewrite(conn, run_lock_key(date))?;
        // Exceptions already worked stay worked when a re-run finds exactly the same thing
        // (same kind, records and amounts); anything else is looked at afresh.
        let worked = worked_exceptions(conn, date)?;
        diesel::update(recon_outcomes::table.filter(recon_outcomes::business_date.eq(date)))
            .filter(recon_outcomes::active.eq(true))
            .set(recon_outcomes::active.eq(false))
            .execute(conn)?;
        diesel::update(recon_exceptions::table.filter(recon_exceptions::business_date.eq(date)))
            .filter(recon_exceptions::active.eq(true))
            .set(recon_exceptions::active.eq(false))
            .execute(conn)?;
        let summary = stored::to_json_value("recon_runs.summary", &result.summary)?;
        let balance = stored::to_json_value("recon_runs.balance", &result.balance)?;
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
        let carried = insert_outcomes(conn, &run_id, date, result, &worked)?;
        carry_resolutions(conn, &carried)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor,
                action: "reconciliation.run",
                subject: &format!("reconciliation:{run_id}"),
                before: None,
                after: Some(
                    serde_json::json!({"business_date": date, "summary": summary, "balance": balance}),
                ),
            },
            now,
        )?;
        Ok(())
    })?;
    get(conn, &run_id)?.ok_or_else(|| DbError::Connect("the run just stored is gone".into()))
}

/// The date's active exceptions someone has worked, by what they found.
fn worked_exceptions(conn: &mut DbConn, date: NaiveDate) -> Result<Vec<Worked>, DbError> {
    Ok(recon_exceptions::table
        .filter(recon_exceptions::business_date.eq(date))
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.ne(ExceptionStatus::Open.as_ref()))
        .select(Worked::as_select())
        .load(conn)?)
}

/// Inserts the counted outcomes of `result` and an open exception for each that needs work;
/// returns (new exception, worked exception it repeats) pairs.
fn insert_outcomes(
    conn: &mut DbConn,
    run_id: &str,
    date: NaiveDate,
    result: &MatchResult,
    worked: &[Worked],
) -> Result<Vec<(String, String)>, DbError> {
    let mut outcome_rows = Vec::new();
    let mut exception_rows = Vec::new();
    let mut carried: Vec<(String, String)> = Vec::new();
    for o in result.outcomes.iter().filter(|o| o.counted) {
        outcome_rows.push((
            recon_outcomes::run_id.eq(run_id.to_string()),
            recon_outcomes::business_date.eq(date),
            recon_outcomes::category.eq::<&'static str>(o.category.into()),
            recon_outcomes::subject.eq::<&'static str>(o.subject.into()),
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
        if !o.category.is_exception() {
            continue;
        }
        let exception_id = new_id("ex")?;
        let key = Finding {
            kind: o.category.to_string(),
            payment_id: o.payment_id.clone(),
            settlement_record_id: o.line_id,
            file_id: o.file_id.clone(),
            booking_id: o.booking_id,
            ledger_minor: o.ledger_minor,
            settlement_minor: o.settlement_minor,
        };
        if let Some(previous) = worked.iter().find(|w| w.finding == key) {
            carried.push((exception_id.clone(), previous.id.clone()));
        }
        let action = o.action.unwrap_or(Suggestion::Investigate);
        exception_rows.push((
            recon_exceptions::id.eq(exception_id),
            recon_exceptions::run_id.eq(run_id.to_string()),
            recon_exceptions::business_date.eq(date),
            recon_exceptions::kind.eq::<&'static str>(o.category.into()),
            recon_exceptions::payment_id.eq(o.payment_id.clone()),
            recon_exceptions::settlement_record_id.eq(o.line_id),
            recon_exceptions::file_id.eq(o.file_id.clone()),
            recon_exceptions::booking_id.eq(o.booking_id),
            recon_exceptions::ledger_minor.eq(o.ledger_minor),
            recon_exceptions::settlement_minor.eq(o.settlement_minor),
            recon_exceptions::suggested_action.eq(action.text(Lang::En)),
            recon_exceptions::action_code.eq(action.code()),
            recon_exceptions::status.eq::<&'static str>(ExceptionStatus::Open.into()),
            recon_exceptions::active.eq(true),
        ));
    }
    insert_bulk!(conn, recon_outcomes::table, outcome_rows)?;
    insert_bulk!(conn, recon_exceptions::table, exception_rows)?;
    Ok(carried)
}

/// Copies each worked exception's resolution onto the new exception that repeats it.
fn carry_resolutions(conn: &mut DbConn, carried: &[(String, String)]) -> Result<(), DbError> {
    for (new, previous) in carried {
        let resolved: Resolution = recon_exceptions::table
            .find(previous)
            .select(Resolution::as_select())
            .first(conn)?;
        diesel::update(recon_exceptions::table.find(new))
            .set(&resolved)
            .execute(conn)?;
    }
    Ok(())
}

/// The files a stored run found paid (`cash_matched`).
pub(super) fn paid_files(conn: &mut DbConn, run_id: &str) -> Result<Vec<String>, DbError> {
    Ok(recon_outcomes::table
        .filter(recon_outcomes::run_id.eq(run_id))
        .filter(recon_outcomes::category.eq(Category::CashMatched.as_ref()))
        .filter(recon_outcomes::file_id.is_not_null())
        .select(recon_outcomes::file_id)
        .load::<Option<String>>(conn)?
        .into_iter()
        .flatten()
        .collect())
}

/// What identifies "the same finding" across runs: kind, records, amounts.
#[derive(Queryable, Selectable, PartialEq)]
#[diesel(table_name = recon_exceptions)]
struct Finding {
    kind: String,
    payment_id: Option<String>,
    settlement_record_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
}

/// A worked exception's finding and id.
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_exceptions)]
struct Worked {
    #[diesel(embed)]
    finding: Finding,
    id: String,
}

/// A resolution as stored, copied verbatim onto the same finding in a re-run (every column,
/// empty ones included).
#[derive(Queryable, Selectable, AsChangeset)]
#[diesel(table_name = recon_exceptions, treat_none_as_null = true)]
struct Resolution {
    status: String,
    resolution: Option<String>,
    note: Option<String>,
    matched_payment_id: Option<String>,
    matched_record_id: Option<i64>,
    resolved_by_token: Option<String>,
    resolved_by_person: Option<String>,
    resolved_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    approved_by: Option<String>,
    approved_at: Option<NaiveDateTime>,
    matched_booking_id: Option<i64>,
    amount_minor: Option<i64>,
    entry_seq: Option<i64>,
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
        let totals = SettlementTotals {
            gross_minor: gross,
            fee_minor: fee,
            net_minor: net,
        };
        let (file_id, actor) = (file_id.clone(), actor.to_string());
        let reference = settlement_reference(&file_id);
        let seq = writer
            .submit_blocking(move |batch| -> Result<Option<i64>, PostError> {
                // DESIGN §2's template, on the writer's own chart; totals it cannot post (a
                // file of only refunds, fees returned) stay with the exceptions for a person.
                let Some(entry) =
                    templates::settlement(batch.chart(), date, &file_id, totals, &actor)
                        .map_err(LedgerError::from)?
                else {
                    return Ok(None);
                };
                let exists: i64 = ledger_entries::table
                    .filter(ledger_entries::reference.eq(&reference))
                    // A file written off (exceptions::approve) is settled too.
                    .filter(
                        ledger_entries::kind
                            .eq_any([EntryKind::Settlement.as_str(), EntryKind::WriteOff.as_str()]),
                    )
                    .count()
                    .get_result(batch.conn()?)
                    .map_err(DbError::from)?;
                if exists > 0 {
                    return Ok(None);
                }
                match batch.post(entry) {
                    Ok(posted) => Ok(Some(posted.seq)),
                    // Posted meanwhile by another instance: the unique index said so.
                    Err(PostError::AlreadyPosted { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| RunError::Post(e.to_string()))?;
        posted.extend(seq);
    }
    Ok(posted)
}

/// A run as stored (summary and balance as JSON text).
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_runs)]
struct RunRow {
    id: String,
    business_date: NaiveDate,
    summary: String,
    balance: String,
    created_at: NaiveDateTime,
    created_by: String,
}

/// A stored run.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Run>, DbError> {
    let row: Option<RunRow> = recon_runs::table
        .find(id)
        .select(RunRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let open_exceptions: i64 = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(&row.id))
        .filter(recon_exceptions::status.eq_any([
            ExceptionStatus::Open.as_ref(),
            ExceptionStatus::AwaitingApproval.as_ref(),
        ]))
        .count()
        .get_result(conn)?;
    Ok(Some(Run {
        summary: stored::json("recon_runs.summary", &row.summary)?,
        balance: stored::json("recon_runs.balance", &row.balance)?,
        id: row.id,
        business_date: row.business_date,
        open_exceptions,
        created_at: row.created_at,
        created_by: row.created_by,
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
        .select(StoredExceptionRow::as_select())
        .order(recon_exceptions::id)
        .limit(limit);
    base.load(conn)?
        .into_iter()
        .map(StoredExceptionRow::typed)
        .collect()
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

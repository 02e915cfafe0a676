//! After a run is stored ([`super::stage`]): the settlement entries of the files it found paid
//! (through the ledger writer), and the published runs and their exceptions as the API lists
//! them.
//!
//! Depends on: [`crate::recon::matcher`] (the categories), [`crate::recon::exceptions`] (the
//! status), `db`, `ledger::writer`, `bankfiles::stored`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::load::file_sums;
use super::{Run, RunError};
use crate::bankfiles::stored;
use crate::db::schema::{ledger_entries, recon_exceptions, recon_outcomes, recon_runs};
use crate::db::{DbConn, DbError};
use crate::ledger::model::EntryKind;
use crate::ledger::templates::{self, settlement_reference, SettlementTotals};
use crate::ledger::writer::{LedgerWriter, PostError};
use crate::ledger::LedgerError;
use crate::recon::exceptions::ExceptionStatus;
use crate::recon::matcher::Category;
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
        .filter(recon_runs::state.eq(super::stage::PUBLISHED))
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
        .filter(recon_runs::state.eq(super::stage::PUBLISHED))
        .order((recon_runs::created_at.desc(), recon_runs::id.desc()))
        .select(recon_runs::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => get(conn, &id),
        None => Ok(None),
    }
}

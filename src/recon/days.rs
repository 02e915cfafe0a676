//! Business days: their state, and the close that seals them.
//!
//! Closing a day is a ledger-writer job, so it runs under the chain-head lock like every
//! posting: it counts the day's entries (stored, and any posted earlier in the same batch),
//! takes the chain hash of the last of them, signs
//! `onecard-day-seal\n<date>\n<last_entry_hash as lowercase hex>\n<entries>` with the service's
//! Ed25519 key, and records the day closed with the seal and the id of the key that made it
//! (`seal_kid`). The close is refused while no reconciliation run
//! covers the day (a run over an empty day is cheap, and it is what says the day was looked
//! at), and while an exception of the day is open or awaiting a second person; a `claimed`
//! exception is tracked until the bank pays and does not hold the day. From then on the
//! ledger rules refuse any entry
//! dated in that day, and the database refuses to change the closed row.
//!
//! Depends on: `ledger` (writer, repo, seals), `keys`, `auth` (signing keys), `audit`, `db`,
//! `clock`.

use std::sync::Arc;

use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{business_days, recon_exceptions, recon_runs};
use crate::db::{DbConn, DbError};
use crate::keys::ServiceKeys;
use crate::ledger::days::DayStatus;
use crate::ledger::repo;
use crate::ledger::writer::{LedgerWriter, WriteError};
use crate::recon::exceptions::ExceptionStatus;

/// A business day as `GET /v1/days/{date}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Day {
    /// The date (Asia/Shanghai).
    #[schema(value_type = String, example = "2026-11-24")]
    pub date: NaiveDate,
    /// `open` or `closed`.
    #[schema(value_type = String)]
    pub status: DayStatus,
    /// Ledger entries dated that day.
    pub entries: i64,
    /// Chain hash of the last of them (lowercase hex; 64 zeros for a day without entries).
    pub last_entry_hash: String,
    /// Base64 Ed25519 signature of the seal message, once closed.
    pub seal: Option<String>,
    /// The id of the key that made the seal (`GET /v1/signing-keys` lists its public key).
    pub seal_kid: Option<String>,
    /// When it was closed (UTC).
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<NaiveDateTime>,
    /// Who closed it.
    pub closed_by: Option<String>,
}

impl Day {
    /// Is the day closed (and sealed)?
    pub fn is_closed(&self) -> bool {
        self.status == DayStatus::Closed
    }
}

/// Why a day cannot be closed.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The day has not ended yet (today or later, by the business-day clock).
    #[error("{0} has not ended yet: a day is closed once its business day is over")]
    NotOver(NaiveDate),
    /// No reconciliation run covers the day.
    #[error("{0} has not been reconciled: run the reconciliation of the day before closing it")]
    NotReconciled(NaiveDate),
    /// Reconciliation exceptions of the day are still open or awaiting a second person (their
    /// ids, first 100).
    #[error("{} reconciliation exception(s) of the day are still open", .0.len())]
    OpenExceptions(Vec<String>),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The day could not be written to the audit trail.
    #[error("the closed day could not be recorded in the audit trail: {0}")]
    Audit(#[from] serde_json::Error),
}

/// The exact bytes a day's seal signs.
pub use crate::ledger::seals::seal_message;

/// A `business_days` row as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = business_days)]
struct DayRow {
    #[diesel(deserialize_as = String)]
    status: DayStatus,
    entries: Option<i64>,
    last_entry_hash: Option<Vec<u8>>,
    seal: Option<String>,
    closed_at: Option<NaiveDateTime>,
    closed_by: Option<String>,
    seal_kid: Option<String>,
}

/// A closed row without its recorded figures: the row was altered.
fn closed_without_figures(date: NaiveDate) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(
        format!("business day {date} is closed but has no recorded entries or hash").into(),
    ))
}

/// The day as it stands: recorded figures for a closed day, live ones for an open day.
pub fn get(conn: &mut DbConn, date: NaiveDate) -> Result<Day, DbError> {
    let row: Option<DayRow> = business_days::table
        .find(date)
        .select(DayRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) if row.status == DayStatus::Closed => {
            let (Some(entries), Some(hash)) = (row.entries, row.last_entry_hash) else {
                return Err(closed_without_figures(date));
            };
            Ok(Day {
                date,
                status: DayStatus::Closed,
                entries,
                last_entry_hash: hex::encode(hash),
                seal_kid: match row.seal {
                    Some(_) => crate::auth::signing_keys::resolve(conn, row.seal_kid)?,
                    None => None,
                },
                seal: row.seal,
                closed_at: row.closed_at,
                closed_by: row.closed_by,
            })
        }
        _ => {
            let (entries, last) = repo::day_tail(conn, date)?;
            Ok(Day {
                date,
                status: DayStatus::Open,
                entries,
                last_entry_hash: hex::encode(last.unwrap_or(crate::ledger::chain::GENESIS_HASH)),
                seal: None,
                seal_kid: None,
                closed_at: None,
                closed_by: None,
            })
        }
    }
}

/// The close's first check: only a day before `today` (the current business date) is over.
fn not_over(date: NaiveDate, today: NaiveDate) -> Option<CloseError> {
    (date >= today).then_some(CloseError::NotOver(date))
}

/// The close's second check: a published reconciliation run covers the day (one still being
/// stored does not).
fn not_reconciled(conn: &mut DbConn, date: NaiveDate) -> Result<Option<CloseError>, DbError> {
    let runs: i64 = recon_runs::table
        .filter(recon_runs::business_date.eq(date))
        .filter(recon_runs::state.eq("published"))
        .count()
        .get_result(conn)?;
    Ok((runs == 0).then_some(CloseError::NotReconciled(date)))
}

/// The statuses that hold a day open ([`ExceptionStatus::blocks_close`]), as stored.
fn blocking_statuses() -> Vec<&'static str> {
    [
        ExceptionStatus::Open,
        ExceptionStatus::AwaitingApproval,
        ExceptionStatus::Claimed,
        ExceptionStatus::Resolved,
    ]
    .into_iter()
    .filter(|s| s.blocks_close())
    .map(<&'static str>::from)
    .collect()
}

/// The close's third check: the day's reconciliation exceptions still open or awaiting a
/// second person (the first 100).
fn open_exceptions(conn: &mut DbConn, date: NaiveDate) -> Result<Option<CloseError>, DbError> {
    let open: Vec<String> = recon_exceptions::table
        .filter(recon_exceptions::business_date.eq(date))
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.eq_any(blocking_statuses()))
        .select(recon_exceptions::id)
        .order(recon_exceptions::id)
        .limit(100)
        .load(conn)?;
    Ok((!open.is_empty()).then_some(CloseError::OpenExceptions(open)))
}

/// What would stop [`close`] from closing `date` now, by the same checks it makes: empty when
/// the day can be closed (or is closed already: closing it again answers it unchanged).
pub fn close_blockers(
    conn: &mut DbConn,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<CloseError>, DbError> {
    if crate::ledger::days::is_closed(conn, date)? {
        return Ok(Vec::new());
    }
    let mut blockers: Vec<CloseError> = not_over(date, today).into_iter().collect();
    blockers.extend(not_reconciled(conn, date)?);
    blockers.extend(open_exceptions(conn, date)?);
    Ok(blockers)
}

/// Closes and seals `date`. Closing a closed day again answers the day as it was sealed.
/// `today` is the current business date: only days before it can be closed.
pub async fn close(
    writer: &LedgerWriter,
    keys: Arc<ServiceKeys>,
    date: NaiveDate,
    today: NaiveDate,
    actor: String,
) -> Result<Day, WriteError<CloseError>> {
    if let Some(refused) = not_over(date, today) {
        return Err(WriteError::Rejected(refused));
    }
    writer
        .submit(move |batch| -> Result<Day, CloseError> {
            if let Some(day) = closed(batch.conn()?, date)? {
                return Ok(day);
            }
            if let Some(refused) = not_reconciled(batch.conn()?, date)? {
                return Err(refused);
            }
            if let Some(refused) = open_exceptions(batch.conn()?, date)? {
                return Err(refused);
            }
            let now = batch.now();
            let (entries, last) = batch.close_day(date)?;
            let hash_hex = hex::encode(last);
            let conn = batch.conn()?;
            let signed = crate::auth::signing_keys::sign(
                conn,
                &keys,
                seal_message(date, &hash_hex, entries).as_bytes(),
            )?;
            let seal = base64::engine::general_purpose::STANDARD.encode(&signed.bytes);
            let values = (
                business_days::status.eq(DayStatus::Closed.as_ref()),
                business_days::entries.eq(Some(entries)),
                business_days::last_entry_hash.eq(Some(last.to_vec())),
                business_days::seal.eq(Some(seal.clone())),
                business_days::seal_kid.eq(Some(signed.kid.clone())),
                business_days::closed_at.eq(Some(now)),
                business_days::closed_by.eq(Some(actor.clone())),
            );
            let updated = diesel::update(business_days::table.find(date))
                .set(values.clone())
                .execute(conn)
                .map_err(DbError::from)?;
            if updated == 0 {
                diesel::insert_into(business_days::table)
                    .values((business_days::business_date.eq(date), values))
                    .execute(conn)
                    .map_err(DbError::from)?;
            }
            let day = Day {
                date,
                status: DayStatus::Closed,
                entries,
                last_entry_hash: hash_hex,
                seal: Some(seal),
                seal_kid: Some(signed.kid),
                closed_at: Some(now),
                closed_by: Some(actor.clone()),
            };
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "day.close",
                    subject: &format!("day:{date}"),
                    before: Some(serde_json::json!({"status": DayStatus::Open})),
                    after: Some(serde_json::to_value(&day)?),
                },
                now,
            )?;
            Ok(day)
        })
        .await
}

fn closed(conn: &mut DbConn, date: NaiveDate) -> Result<Option<Day>, DbError> {
    let day = get(conn, date)?;
    Ok(day.is_closed().then_some(day))
}

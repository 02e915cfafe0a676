//! The exceptions waiting for a second person — proposed write-offs and claim settlements of
//! the active runs, whatever their date — oldest proposal first, as the supervisor's queue
//! lists them. One query, whatever the queue holds.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{Action, ExceptionStatus};
use crate::bankfiles::stored;
use crate::db::schema::recon_exceptions;
use crate::db::{DbConn, DbError};
use crate::recon::matcher::Category;

/// An exception whose resolution waits for approval, as the queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingApproval {
    /// Id.
    pub id: String,
    /// The business date of the run that found it.
    pub business_date: NaiveDate,
    /// What was found.
    pub kind: Category,
    /// What was proposed: `write_off`, or `manual_match` (a claim's settlement by a booking).
    pub resolution: Option<Action>,
    /// The payment the finding is about, if any (its department and window).
    pub payment_id: Option<String>,
    /// The settlement file the finding is about (cash tier), if any.
    pub file_id: Option<String>,
    /// What approving moves (the write-off or the claim), in fen.
    pub amount_minor: Option<i64>,
    /// The finding's ledger amount, in fen, where one applies.
    pub ledger_minor: Option<i64>,
    /// The finding's settlement or bank amount, in fen, where one applies.
    pub settlement_minor: Option<i64>,
    /// The proposer's note.
    pub note: Option<String>,
    /// Who proposed it (`role:name`).
    pub proposed_by: Option<String>,
    /// When (UTC).
    pub proposed_at: Option<NaiveDateTime>,
    /// The person who proposed it: they may not approve it.
    pub proposed_by_person: Option<String>,
}

type Stored = (
    String,
    NaiveDate,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
);

/// The active exceptions awaiting approval, oldest proposal first (then by id), at most
/// `limit` of them.
pub fn awaiting_approval(conn: &mut DbConn, limit: i64) -> Result<Vec<AwaitingApproval>, DbError> {
    use recon_exceptions as x;
    let rows: Vec<Stored> = x::table
        .filter(x::status.eq(ExceptionStatus::AwaitingApproval.as_ref()))
        .filter(x::active.eq(true))
        .order((x::resolved_at, x::id))
        .limit(limit)
        .select((
            x::id,
            x::business_date,
            x::kind,
            x::resolution,
            x::payment_id,
            x::file_id,
            x::amount_minor,
            x::ledger_minor,
            x::settlement_minor,
            x::note,
            x::resolved_by,
            x::resolved_at,
            x::resolved_by_person,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(AwaitingApproval {
                kind: stored::parse("recon_exceptions.kind", &r.2)?,
                resolution: r
                    .3
                    .as_deref()
                    .map(|a| stored::parse("recon_exceptions.resolution", a))
                    .transpose()?,
                id: r.0,
                business_date: r.1,
                payment_id: r.4,
                file_id: r.5,
                amount_minor: r.6,
                ledger_minor: r.7,
                settlement_minor: r.8,
                note: r.9,
                proposed_by: r.10,
                proposed_at: r.11,
                proposed_by_person: r.12,
            })
        })
        .collect()
}

//! Working reconciliation exceptions: each resolution records who, when and why, and the
//! resolutions that move value post their entry through DESIGN §2's templates.
//!
//! - `manual_match` names the payment and/or settlement line that belong together: both must
//!   exist, be of the exception's day (or within reach of a carried item, see
//!   [`resolve`]), not be matched elsewhere, and carry the same amount (a difference is a
//!   write-off or a claim, not a match). The answer shows both amounts. On a claimed exception,
//!   `manual_match` naming the statement `booking_id` that paid the claim proposes its
//!   settlement; a second person approves and the settlement posts.
//! - `write_off` is proposed by one person and approved by another; the approval posts
//!   [`crate::ledger::templates::write_off`] in the same writer job (both or neither). Only a
//!   shortfall can be written off; a difference in the centre's favour is returned or claimed.
//! - `bank_claim` moves the exception to `claimed`: it no longer stops its day from closing,
//!   is listed with its day's exceptions, and is settled when the bank's money arrives
//!   ([`claims_paid`], called by the run that matches the credit) or by hand as above.
//! - `accept_timing` only where a later day really clears the difference
//!   ([`rules::timing_fits`]); the exception is resolved with that note and stays in its run's
//!   list and report, while the later day's run pairs the other side. A file's missing credit
//!   is carried forward by the runs themselves and cannot be accepted away.
//!
//! - [`match_pair`] matches an item with a candidate of the workspace in one transaction: the
//!   item's manual match (or claim settled by a credit) and the candidate's own exception
//!   with it.
//!
//! Only the active exceptions of the latest run can be worked; a re-run replaces them.
//! [`ExceptionStatus::after`] is the one place the transitions are written.
//!
//! Depends on: `db`, `audit`, `auth` (the principal), `ledger` (templates, writer),
//! `bankfiles::stored` (typed reads), `text`, [`super::runs`] (a file's sums).

mod approve;
mod checks;
mod claims;
mod pair;
pub mod queue;
mod resolve;
pub mod rules;

pub use approve::approve;
pub use claims::claims_paid;
pub use pair::{match_pair, Paired};
pub use queue::{awaiting_approval, AwaitingApproval};
pub use resolve::resolve;
pub use rules::Step;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::matcher::Category;
use crate::audit::{self, AuditEvent};
use crate::bankfiles::stored;
use crate::db::schema::{payments, recon_exceptions, settlement_records, statement_bookings};
use crate::db::{DbConn, DbError};
use crate::ledger::LedgerError;
use crate::money::format_minor;

crate::text_enum! {
    /// How an exception is resolved (stored in `resolution` as its snake_case name).
    #[derive(Deserialize, utoipa::ToSchema)]
    pub enum Action as "exception action" {
        /// The payment and the settlement line belong together after all (or, on a claimed
        /// exception, the statement booking that paid the claim).
        ManualMatch,
        /// The difference is written off (needs a second person's approval; posts an entry).
        WriteOff,
        /// A claim is raised with the bank or acquirer (the exception becomes `claimed`).
        BankClaim,
        /// A timing difference that clears on a later day.
        AcceptTiming,
    }
}

crate::text_enum! {
    /// Where an exception stands (stored in `status` as its snake_case name).
    pub enum ExceptionStatus as "exception status" {
        /// To be worked.
        Open,
        /// A write-off or a claim settlement proposed, waiting for a second person.
        AwaitingApproval,
        /// A bank claim raised, awaiting the bank's money (does not stop the day closing).
        Claimed,
        /// Done.
        Resolved,
    }
}

/// `POST /v1/exceptions/{id}/resolve`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What to do.
    pub action: Action,
    /// Why, in words (required).
    pub note: String,
    /// For `manual_match`: the payment.
    pub payment_id: Option<String>,
    /// For `manual_match`: the settlement line.
    pub settlement_record_id: Option<i64>,
    /// For `manual_match` of a claimed exception: the collection-account credit that paid the
    /// claim.
    pub booking_id: Option<i64>,
}

/// Why an exception cannot be worked so. Each variant is one stable API code.
#[derive(Debug, thiserror::Error)]
pub enum ExceptionError {
    /// No such exception.
    #[error("no exception '{0}'")]
    NotFound(String),
    /// The request is incomplete.
    #[error("{0}")]
    Invalid(String),
    /// Not in a state that allows this (resolved already, replaced by a re-run, not awaiting
    /// approval).
    #[error("{0}")]
    NotAllowed(String),
    /// A write-off or claim settlement approved by the person who proposed it.
    #[error("this needs a second person: the one who proposed it cannot approve it")]
    SamePerson,
    /// `manual_match` names a payment that does not exist.
    #[error("no payment '{0}'")]
    UnknownPayment(String),
    /// `manual_match` names a settlement line that does not exist.
    #[error("no settlement line {0}")]
    UnknownRecord(i64),
    /// `manual_match` names a statement booking that does not exist.
    #[error("no statement booking {0}")]
    UnknownBooking(i64),
    /// A named record is not of the exception's day nor within reach of a carried item.
    #[error("{0}")]
    NotOfThisDay(String),
    /// A named record is matched already (in another active outcome or resolution).
    #[error("{0}")]
    AlreadyMatched(String),
    /// The two sides of a manual match (or a claim and its payment) differ in amount.
    #[error("the amounts differ: {} against {}; a difference is written off or claimed, not matched", format_minor(*.ledger_minor), format_minor(*.other_minor))]
    AmountsDiffer {
        /// The ledger's (or the claim's) side.
        ledger_minor: i64,
        /// The settlement line's (or the booking's) side.
        other_minor: i64,
    },
    /// Not a shortfall: a difference in the centre's favour (or none) cannot be written off.
    #[error("{0}")]
    WriteOffNotAllowed(String),
    /// `accept_timing` on a file's credit, which the runs carry forward by themselves.
    #[error("a settlement file's credit is carried forward automatically: later runs look for it; raise a bank_claim once it is overdue")]
    CarriedAutomatically,
    /// `accept_timing` on something a later day does not clear.
    #[error("a {0} is not a timing difference: a later day does not clear it; manual_match, write_off or bank_claim it")]
    NotATimingDifference(Category),
    /// The named booking is not a credit to the collection account.
    #[error("statement booking {0} is not a credit to the collection account")]
    NotACredit(i64),
    /// The file of a claim was settled meanwhile (its settlement entry posted).
    #[error("{0}")]
    AlreadySettled(String),
    /// A ledger rule refused the entry (a closed day, …).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ExceptionError {
    fn from(e: diesel::result::Error) -> Self {
        ExceptionError::Db(e.into())
    }
}

impl From<crate::ledger::writer::PostError> for ExceptionError {
    fn from(e: crate::ledger::writer::PostError) -> Self {
        match e {
            crate::ledger::writer::PostError::Rule(r) => ExceptionError::Ledger(r),
            crate::ledger::writer::PostError::Storage(d) => ExceptionError::Db(d),
            // The file's settlement posted meanwhile (another run, another instance).
            e @ crate::ledger::writer::PostError::AlreadyPosted { .. } => {
                ExceptionError::AlreadySettled(e.to_string())
            }
        }
    }
}

/// The state of an exception as stored, with the amounts of what it names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExceptionState {
    /// Id.
    pub id: String,
    /// The business date of the run that found it.
    #[schema(value_type = String)]
    pub business_date: NaiveDate,
    /// Outcome category.
    #[schema(value_type = String)]
    pub kind: Category,
    /// `open`, `awaiting_approval`, `claimed`, `resolved`.
    #[schema(value_type = String)]
    pub status: ExceptionStatus,
    /// Still part of the latest run of its date.
    pub active: bool,
    /// The payment the finding is about, if any.
    pub payment_id: Option<String>,
    /// The settlement line the finding is about, if any.
    pub settlement_record_id: Option<i64>,
    /// The settlement file the finding is about (cash tier), if any.
    pub file_id: Option<String>,
    /// The statement booking the finding is about (cash tier), if any.
    pub booking_id: Option<i64>,
    /// The ledger's amount in the finding (decimal string), where one applies.
    pub ledger_amount: Option<String>,
    /// The settlement's or bank's amount in the finding, where one applies.
    pub settlement_amount: Option<String>,
    /// The resolution chosen.
    #[schema(value_type = Option<String>)]
    pub resolution: Option<Action>,
    /// Why.
    pub note: Option<String>,
    /// Manual match: the payment.
    pub matched_payment_id: Option<String>,
    /// Manual match: the payment's amount.
    pub matched_payment_amount: Option<String>,
    /// Manual match: the settlement line.
    pub matched_record_id: Option<i64>,
    /// Manual match: the settlement line's gross amount.
    pub matched_settlement_amount: Option<String>,
    /// A claim settled by hand: the statement booking that paid it.
    pub matched_booking_id: Option<i64>,
    /// A claim settled by hand: the booking's amount.
    pub matched_booking_amount: Option<String>,
    /// What the resolution moves: the difference written off or claimed.
    pub amount: Option<String>,
    /// The ledger entry the resolution posted (on approval).
    pub entry_seq: Option<i64>,
    /// Who resolved (or proposed the write-off, raised the claim).
    pub resolved_by: Option<String>,
    /// When (UTC).
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<NaiveDateTime>,
    /// Who completed the second step: approved the write-off or claim settlement, or
    /// `system:reconciliation <run>` when a run matched the bank's money for a claim.
    pub approved_by: Option<String>,
    /// When (UTC).
    #[schema(value_type = Option<String>)]
    pub approved_at: Option<NaiveDateTime>,
    /// The token that resolved (not shown).
    #[serde(skip)]
    pub resolved_by_token: Option<String>,
    /// The person who resolved: the four-eyes check compares it (not shown).
    #[serde(skip)]
    pub resolved_by_person: Option<String>,
    /// The finding's ledger amount in fen.
    #[serde(skip)]
    pub ledger_minor: Option<i64>,
    /// The finding's settlement or bank amount in fen.
    #[serde(skip)]
    pub settlement_minor: Option<i64>,
    /// [`Self::amount`] in fen.
    #[serde(skip)]
    pub amount_minor: Option<i64>,
}

/// [`ExceptionState`] as stored: states and kinds as text.
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_exceptions)]
struct ExceptionRow {
    id: String,
    business_date: NaiveDate,
    kind: String,
    status: String,
    active: bool,
    payment_id: Option<String>,
    settlement_record_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
    resolution: Option<String>,
    note: Option<String>,
    matched_payment_id: Option<String>,
    matched_record_id: Option<i64>,
    matched_booking_id: Option<i64>,
    amount_minor: Option<i64>,
    entry_seq: Option<i64>,
    resolved_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    approved_by: Option<String>,
    approved_at: Option<NaiveDateTime>,
    resolved_by_token: Option<String>,
    resolved_by_person: Option<String>,
}

/// The amounts of the records resolutions matched, read in one query per kind.
#[derive(Default)]
struct MatchedAmounts {
    payments: std::collections::BTreeMap<String, i64>,
    records: std::collections::BTreeMap<i64, i64>,
    bookings: std::collections::BTreeMap<i64, i64>,
}

impl MatchedAmounts {
    fn of(conn: &mut DbConn, rows: &[ExceptionRow]) -> Result<MatchedAmounts, DbError> {
        let p: Vec<&String> = rows
            .iter()
            .filter_map(|r| r.matched_payment_id.as_ref())
            .collect();
        let r: Vec<i64> = rows.iter().filter_map(|r| r.matched_record_id).collect();
        let b: Vec<i64> = rows.iter().filter_map(|r| r.matched_booking_id).collect();
        let mut out = MatchedAmounts::default();
        if !p.is_empty() {
            out.payments = payments::table
                .filter(payments::id.eq_any(p))
                .select((payments::id, payments::amount_minor))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
        }
        if !r.is_empty() {
            out.records = settlement_records::table
                .filter(settlement_records::id.eq_any(r))
                .select((settlement_records::id, settlement_records::gross_minor))
                .load::<(i64, i64)>(conn)?
                .into_iter()
                .collect();
        }
        if !b.is_empty() {
            out.bookings = statement_bookings::table
                .filter(statement_bookings::id.eq_any(b))
                .select((statement_bookings::id, statement_bookings::amount_minor))
                .load::<(i64, i64)>(conn)?
                .into_iter()
                .collect();
        }
        Ok(out)
    }
}

impl ExceptionRow {
    fn typed(self, amounts: &MatchedAmounts) -> Result<ExceptionState, DbError> {
        let matched_payment_amount = self
            .matched_payment_id
            .as_ref()
            .and_then(|p| amounts.payments.get(p).copied());
        let matched_settlement_amount = self
            .matched_record_id
            .and_then(|r| amounts.records.get(&r).copied());
        let matched_booking_amount = self
            .matched_booking_id
            .and_then(|b| amounts.bookings.get(&b).copied());
        Ok(ExceptionState {
            kind: stored::parse("recon_exceptions.kind", &self.kind)?,
            status: stored::parse("recon_exceptions.status", &self.status)?,
            resolution: self
                .resolution
                .as_deref()
                .map(|r| stored::parse("recon_exceptions.resolution", r))
                .transpose()?,
            id: self.id,
            business_date: self.business_date,
            active: self.active,
            payment_id: self.payment_id,
            settlement_record_id: self.settlement_record_id,
            file_id: self.file_id,
            booking_id: self.booking_id,
            ledger_amount: self.ledger_minor.map(format_minor),
            settlement_amount: self.settlement_minor.map(format_minor),
            note: self.note,
            matched_payment_id: self.matched_payment_id,
            matched_payment_amount: matched_payment_amount.map(format_minor),
            matched_record_id: self.matched_record_id,
            matched_settlement_amount: matched_settlement_amount.map(format_minor),
            matched_booking_id: self.matched_booking_id,
            matched_booking_amount: matched_booking_amount.map(format_minor),
            amount: self.amount_minor.map(format_minor),
            entry_seq: self.entry_seq,
            resolved_by: self.resolved_by,
            resolved_at: self.resolved_at,
            approved_by: self.approved_by,
            approved_at: self.approved_at,
            resolved_by_token: self.resolved_by_token,
            resolved_by_person: self.resolved_by_person,
            ledger_minor: self.ledger_minor,
            settlement_minor: self.settlement_minor,
            amount_minor: self.amount_minor,
        })
    }
}

/// The states of a run's exceptions (who resolved them, how, who approved), in id order: four
/// queries whatever their number.
pub fn of_run(conn: &mut DbConn, run_id: &str) -> Result<Vec<ExceptionState>, DbError> {
    let rows: Vec<ExceptionRow> = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .select(ExceptionRow::as_select())
        .order(recon_exceptions::id)
        .load(conn)?;
    let amounts = MatchedAmounts::of(conn, &rows)?;
    rows.into_iter().map(|r| r.typed(&amounts)).collect()
}

/// One exception's state, if it exists.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<ExceptionState>, DbError> {
    let row: Option<ExceptionRow> = recon_exceptions::table
        .find(id)
        .select(ExceptionRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let amounts = MatchedAmounts::of(conn, std::slice::from_ref(&row))?;
    row.typed(&amounts).map(Some)
}

fn load(conn: &mut DbConn, id: &str) -> Result<ExceptionState, ExceptionError> {
    get(conn, id)?.ok_or_else(|| ExceptionError::NotFound(id.to_string()))
}

fn audit_change(
    conn: &mut DbConn,
    actor: &str,
    action: &str,
    before: &ExceptionState,
    after: &ExceptionState,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    audit::record_at(
        conn,
        AuditEvent {
            actor,
            action,
            subject: &format!("exception:{}", after.id),
            before: Some(stored::to_json_value("audit.before", before)?),
            after: Some(stored::to_json_value("audit.after", after)?),
        },
        at,
    )
}

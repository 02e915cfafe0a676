//! Working reconciliation exceptions: each resolution records who, when and why.
//!
//! `manual_match` (naming the payment and/or settlement line that belong together),
//! `bank_claim` (the bank or acquirer owes a correction) and `accept_timing` (the difference
//! clears on a later day) resolve at once; `write_off` waits for a second person's approval.
//! Only the active exceptions of the latest run can be worked; a re-run replaces them.
//! [`ExceptionStatus::after`] is the one place those transitions are written.
//!
//! Depends on: `db`, `audit`, `auth` (the principal), `bankfiles::stored` (typed reads), `text`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::matcher::Category;
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::bankfiles::stored;
use crate::db::schema::recon_exceptions;
use crate::db::{DbConn, DbError};

crate::text_enum! {
    /// How an exception is resolved (stored in `resolution` as its snake_case name).
    #[derive(Deserialize, utoipa::ToSchema)]
    pub enum Action as "exception action" {
        /// The payment and the settlement line belong together after all.
        ManualMatch,
        /// The difference is written off (needs a second person's approval).
        WriteOff,
        /// A claim is raised with the bank or acquirer.
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
        /// A write-off proposed, waiting for a second person.
        AwaitingApproval,
        /// Done.
        Resolved,
    }
}

/// What is done to an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Resolved (or, for a write-off, proposed) with this action.
    Resolve(Action),
    /// A proposed write-off approved.
    Approve,
}

impl ExceptionStatus {
    /// The status `step` leads to from this one, or `None` when it is not allowed:
    /// open → resolved (manual_match, bank_claim, accept_timing), open → awaiting_approval
    /// (write_off), awaiting_approval → resolved (approve). Nothing leaves resolved.
    pub fn after(self, step: Step) -> Option<ExceptionStatus> {
        use ExceptionStatus::*;
        match (self, step) {
            (Open, Step::Resolve(Action::WriteOff)) => Some(AwaitingApproval),
            (Open, Step::Resolve(_)) => Some(Resolved),
            (AwaitingApproval, Step::Approve) => Some(Resolved),
            _ => None,
        }
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
}

/// Why an exception cannot be worked so.
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
    /// A write-off approved by the person who proposed it.
    #[error("a write-off needs a second person: the one who proposed it cannot approve it")]
    SamePerson,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ExceptionError {
    fn from(e: diesel::result::Error) -> Self {
        ExceptionError::Db(e.into())
    }
}

/// The state of an exception as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExceptionState {
    /// Id.
    pub id: String,
    /// Outcome category.
    #[schema(value_type = String)]
    pub kind: Category,
    /// `open`, `awaiting_approval`, `resolved`.
    #[schema(value_type = String)]
    pub status: ExceptionStatus,
    /// Still part of the latest run of its date.
    pub active: bool,
    /// The resolution chosen.
    #[schema(value_type = Option<String>)]
    pub resolution: Option<Action>,
    /// Why.
    pub note: Option<String>,
    /// Manual match: the payment.
    pub matched_payment_id: Option<String>,
    /// Manual match: the settlement line.
    pub matched_record_id: Option<i64>,
    /// Who resolved (or proposed the write-off).
    pub resolved_by: Option<String>,
    /// When (UTC).
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<NaiveDateTime>,
    /// Who approved the write-off.
    pub approved_by: Option<String>,
    /// When (UTC).
    #[schema(value_type = Option<String>)]
    pub approved_at: Option<NaiveDateTime>,
    /// The token that resolved (for the four-eyes check; not shown).
    #[serde(skip)]
    pub resolved_by_token: Option<String>,
}

/// [`ExceptionState`] as stored: states and kinds as text.
#[derive(Queryable, Selectable)]
#[diesel(table_name = recon_exceptions)]
struct ExceptionRow {
    id: String,
    kind: String,
    status: String,
    active: bool,
    resolution: Option<String>,
    note: Option<String>,
    matched_payment_id: Option<String>,
    matched_record_id: Option<i64>,
    resolved_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    approved_by: Option<String>,
    approved_at: Option<NaiveDateTime>,
    resolved_by_token: Option<String>,
}

impl ExceptionRow {
    fn typed(self) -> Result<ExceptionState, DbError> {
        Ok(ExceptionState {
            kind: stored::parse("recon_exceptions.kind", &self.kind)?,
            status: stored::parse("recon_exceptions.status", &self.status)?,
            resolution: self
                .resolution
                .as_deref()
                .map(|r| stored::parse("recon_exceptions.resolution", r))
                .transpose()?,
            id: self.id,
            active: self.active,
            note: self.note,
            matched_payment_id: self.matched_payment_id,
            matched_record_id: self.matched_record_id,
            resolved_by: self.resolved_by,
            resolved_at: self.resolved_at,
            approved_by: self.approved_by,
            approved_at: self.approved_at,
            resolved_by_token: self.resolved_by_token,
        })
    }
}

/// The states of a run's exceptions (who resolved them, how, who approved), in id order.
pub fn of_run(conn: &mut DbConn, run_id: &str) -> Result<Vec<ExceptionState>, DbError> {
    recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .select(ExceptionRow::as_select())
        .order(recon_exceptions::id)
        .load(conn)?
        .into_iter()
        .map(ExceptionRow::typed)
        .collect()
}

fn load(conn: &mut DbConn, id: &str) -> Result<ExceptionState, ExceptionError> {
    Ok(recon_exceptions::table
        .find(id)
        .select(ExceptionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ExceptionError::NotFound(id.to_string()))?
        .typed()?)
}

fn audit_change(
    conn: &mut DbConn,
    by: &Principal,
    action: &str,
    before: &ExceptionState,
    after: &ExceptionState,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    audit::record_at(
        conn,
        AuditEvent {
            actor: &by.actor(),
            action,
            subject: &format!("exception:{}", after.id),
            before: Some(stored::to_json_value("audit.before", before)?),
            after: Some(stored::to_json_value("audit.after", after)?),
        },
        at,
    )
}

/// Resolves (or, for a write-off, proposes) an exception.
pub fn resolve(
    conn: &mut DbConn,
    id: &str,
    request: &Resolve,
    by: &Principal,
) -> Result<ExceptionState, ExceptionError> {
    if request.note.trim().is_empty() {
        return Err(ExceptionError::Invalid("note: say why".into()));
    }
    if request.action == Action::ManualMatch
        && request.payment_id.is_none()
        && request.settlement_record_id.is_none()
    {
        return Err(ExceptionError::Invalid(
            "manual_match names the payment_id and/or settlement_record_id that belong together"
                .into(),
        ));
    }
    conn.transaction(|conn| {
        let before = load(conn, id)?;
        if !before.active {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} was replaced by a later run of its date; work the new one"
            )));
        }
        let Some(status) = before.status.after(Step::Resolve(request.action)) else {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} is {}",
                before.status
            )));
        };
        let now = Utc::now().naive_utc();
        diesel::update(recon_exceptions::table.find(id))
            .set((
                recon_exceptions::status.eq(status.as_ref()),
                recon_exceptions::resolution.eq(request.action.as_ref()),
                recon_exceptions::note.eq(request.note.trim()),
                recon_exceptions::matched_payment_id.eq(&request.payment_id),
                recon_exceptions::matched_record_id.eq(request.settlement_record_id),
                recon_exceptions::resolved_by_token.eq(&by.token_id),
                recon_exceptions::resolved_by.eq(by.actor()),
                recon_exceptions::resolved_at.eq(now),
            ))
            .execute(conn)?;
        let after = load(conn, id)?;
        audit_change(conn, by, "exception.resolve", &before, &after, now)?;
        Ok(after)
    })
}

/// Approves a proposed write-off: a second person.
pub fn approve(
    conn: &mut DbConn,
    id: &str,
    by: &Principal,
) -> Result<ExceptionState, ExceptionError> {
    conn.transaction(|conn| {
        let before = load(conn, id)?;
        let next = before.status.after(Step::Approve);
        let Some(status) = next.filter(|_| before.active) else {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} is {}, not a write-off awaiting approval",
                before.status
            )));
        };
        let proposer = before
            .resolved_by
            .as_deref()
            .and_then(|a| a.split_once(':'))
            .map_or("", |(_, n)| n);
        if before.resolved_by_token.as_deref() == Some(by.token_id.as_str()) || proposer == by.name
        {
            return Err(ExceptionError::SamePerson);
        }
        let now = Utc::now().naive_utc();
        diesel::update(recon_exceptions::table.find(id))
            .set((
                recon_exceptions::status.eq(status.as_ref()),
                recon_exceptions::approved_by.eq(by.actor()),
                recon_exceptions::approved_at.eq(now),
            ))
            .execute(conn)?;
        let after = load(conn, id)?;
        audit_change(conn, by, "exception.approve", &before, &after, now)?;
        Ok(after)
    })
}

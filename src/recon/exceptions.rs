//! Working reconciliation exceptions: each resolution records who, when and why.
//!
//! `manual_match` (naming the payment and/or settlement line that belong together),
//! `bank_claim` (the bank or acquirer owes a correction) and `accept_timing` (the difference
//! clears on a later day) resolve at once; `write_off` waits for a second person's approval.
//! Only the active exceptions of the latest run can be worked; a re-run replaces them.
//!
//! Depends on: `db`, `audit`, `auth` (the principal).

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::recon_exceptions;
use crate::db::{DbConn, DbError};

/// How an exception is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The payment and the settlement line belong together after all.
    ManualMatch,
    /// The difference is written off (needs a second person's approval).
    WriteOff,
    /// A claim is raised with the bank or acquirer.
    BankClaim,
    /// A timing difference that clears on a later day.
    AcceptTiming,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::ManualMatch => "manual_match",
            Action::WriteOff => "write_off",
            Action::BankClaim => "bank_claim",
            Action::AcceptTiming => "accept_timing",
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
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = recon_exceptions)]
pub struct ExceptionState {
    /// Id.
    pub id: String,
    /// Outcome category.
    pub kind: String,
    /// `open`, `awaiting_approval`, `resolved`.
    pub status: String,
    /// Still part of the latest run of its date.
    pub active: bool,
    /// The resolution chosen.
    pub resolution: Option<String>,
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

/// The states of a run's exceptions (who resolved them, how, who approved), in id order.
pub fn of_run(conn: &mut DbConn, run_id: &str) -> Result<Vec<ExceptionState>, DbError> {
    Ok(recon_exceptions::table
        .filter(recon_exceptions::run_id.eq(run_id))
        .select(ExceptionState::as_select())
        .order(recon_exceptions::id)
        .load(conn)?)
}

fn load(conn: &mut DbConn, id: &str) -> Result<ExceptionState, ExceptionError> {
    recon_exceptions::table
        .find(id)
        .select(ExceptionState::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ExceptionError::NotFound(id.to_string()))
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
            before: serde_json::to_value(before).ok(),
            after: serde_json::to_value(after).ok(),
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
        if before.status != "open" {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} is {}",
                before.status
            )));
        }
        let now = Utc::now().naive_utc();
        let status = if request.action == Action::WriteOff {
            "awaiting_approval"
        } else {
            "resolved"
        };
        diesel::update(recon_exceptions::table.find(id))
            .set((
                recon_exceptions::status.eq(status),
                recon_exceptions::resolution.eq(request.action.as_str()),
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
        if before.status != "awaiting_approval" || !before.active {
            return Err(ExceptionError::NotAllowed(format!(
                "exception {id} is {}, not a write-off awaiting approval",
                before.status
            )));
        }
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
                recon_exceptions::status.eq("resolved"),
                recon_exceptions::approved_by.eq(by.actor()),
                recon_exceptions::approved_at.eq(now),
            ))
            .execute(conn)?;
        let after = load(conn, id)?;
        audit_change(conn, by, "exception.approve", &before, &after, now)?;
        Ok(after)
    })
}

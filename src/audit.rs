//! The audit trail (DESIGN §7): one append-only row per change — who, when, what, on what,
//! before and after. Written in the same transaction as the change it describes.
//!
//! May depend on: `db`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::audit_log;
use crate::db::{DbConn, DbError};

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Who: a token's name and role (`clerk:window-3`), `cli`, `nightly`.
    pub actor: &'a str,
    /// What: a stable verb such as `key.create`, `ledger.post`, `payment.capture`.
    pub action: &'a str,
    /// On what: `token:ab12…`, `entry:42`, `payment:…`.
    pub subject: &'a str,
    /// State before, as JSON, where there was one.
    pub before: Option<serde_json::Value>,
    /// State after, as JSON.
    pub after: Option<serde_json::Value>,
}

/// Appends an audit record on `conn` (inside the caller's transaction).
pub fn record(conn: &mut DbConn, event: AuditEvent<'_>) -> Result<(), DbError> {
    record_at(conn, event, Utc::now().naive_utc())
}

/// Like [`record`] with an explicit time (the ledger batch's commit time).
pub fn record_at(
    conn: &mut DbConn,
    event: AuditEvent<'_>,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            // Owned values: diesel caches a statement only when its binds own their data.
            audit_log::actor.eq(event.actor.to_string()),
            audit_log::action.eq(event.action.to_string()),
            audit_log::subject.eq(event.subject.to_string()),
            audit_log::before_json.eq(event.before.map(|v| v.to_string())),
            audit_log::after_json.eq(event.after.map(|v| v.to_string())),
        ))
        .execute(conn)?;
    Ok(())
}

/// A change to record, owned: for [`record_all_at`], which writes many at once.
#[derive(Debug, Clone)]
pub struct OwnedAuditEvent {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// State before, JSON text.
    pub before_json: Option<String>,
    /// State after, JSON text.
    pub after_json: Option<String>,
}

/// Appends `events` in order, all at `at`, in multi-row inserts (the ledger writer's batches).
pub fn record_all_at(
    conn: &mut DbConn,
    events: &[OwnedAuditEvent],
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                audit_log::at.eq(at),
                audit_log::actor.eq(e.actor.clone()),
                audit_log::action.eq(e.action.clone()),
                audit_log::subject.eq(e.subject.clone()),
                audit_log::before_json.eq(e.before_json.clone()),
                audit_log::after_json.eq(e.after_json.clone()),
            )
        })
        .collect();
    crate::insert_chunked!(conn, audit_log::table, rows)?;
    Ok(())
}

/// One stored audit record.
#[derive(Debug, Clone, Serialize, Queryable)]
pub struct AuditRecord {
    /// Position in the log.
    pub id: i64,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Before, JSON text.
    pub before_json: Option<String>,
    /// After, JSON text.
    pub after_json: Option<String>,
}

/// Records for a subject (or all when `subject` is `None`), oldest first, after `after_id`.
pub fn list(
    conn: &mut DbConn,
    subject: Option<&str>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>, DbError> {
    let mut q = audit_log::table
        .filter(audit_log::id.gt(after_id))
        .into_boxed();
    if let Some(s) = subject {
        q = q.filter(audit_log::subject.eq(s.to_string()));
    }
    Ok(q.order(audit_log::id).limit(limit).load(conn)?)
}

/// What to look for in the log, newest first.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Exactly this subject (`payment:pay_…`).
    pub subject: Option<String>,
    /// Exactly this action (`payment.void`).
    pub action: Option<String>,
    /// Only records older than this id (the cursor of the page before).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// Records matching `s`, newest first.
pub fn search(conn: &mut DbConn, s: &Search) -> Result<Vec<AuditRecord>, DbError> {
    let mut q = audit_log::table.into_boxed();
    if let Some(subject) = &s.subject {
        q = q.filter(audit_log::subject.eq(subject.clone()));
    }
    if let Some(action) = &s.action {
        q = q.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(before) = s.before_id {
        q = q.filter(audit_log::id.lt(before));
    }
    Ok(q.order(audit_log::id.desc()).limit(s.limit).load(conn)?)
}

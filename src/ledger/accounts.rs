//! Opening a sub-account while the service runs (`POST /v1/ledger/accounts`, the
//! `accounts create` command, the staff page): a postable account under a grouping account
//! that takes them — which ones, and the role each new one gets, is data in the chart file
//! (`"sub_accounts"` on 2103, one per revenue subject, and on the expense parent 5001).
//!
//! - [`plan`]: the rules, pure — code shape, parent, uniqueness; fund, kind (so the normal
//!   side), role and currency come from the parent.
//! - [`open`]: the account row, its zero balance row and the audit record, in one transaction.
//! - [`SharedChart`]: the chart every part of a running service reads — the ledger writer's
//!   batches included — swapped whole for a new one when an account is opened, here or (on a
//!   shared PostgreSQL) by another instance.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use diesel::prelude::*;
use serde_json::json;

use super::chart::{Chart, ChartError};
use super::model::{Account, AccountKind, AccountRole, Fund};
use super::repo;
use crate::audit::{self, AuditEvent};
use crate::db::schema::accounts;
use crate::db::{DbConn, DbError};

/// Longest account name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What the caller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubAccount {
    /// `<parent>.<suffix>`, e.g. `2103.1030499`.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name; the Chinese one when not given.
    pub name_en: Option<String>,
    /// The grouping account it goes under.
    pub parent: String,
}

/// Why an account cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A field is missing or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The parent is not in the chart.
    #[error("there is no account '{0}' to open a sub-account under")]
    UnknownParent(String),
    /// The parent exists but takes no new sub-accounts.
    #[error("'{parent}' takes no new sub-accounts; these do: {open}")]
    ParentNotOpen {
        /// The parent asked for.
        parent: String,
        /// The parents that take them, comma-separated.
        open: String,
    },
    /// The code is taken.
    #[error("account '{0}' exists already")]
    Exists(String),
    /// The chart with the new account breaks a rule of the chart.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for OpenError {
    fn from(e: diesel::result::Error) -> Self {
        OpenError::Db(DbError::Query(e))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> OpenError {
    OpenError::Invalid {
        field,
        message: message.into(),
    }
}

fn name(field: &'static str, value: &str) -> Result<String, OpenError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            field,
            format!("must be 1–{MAX_NAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not hold control characters"));
    }
    Ok(value.to_string())
}

/// The account `req` would open in `chart`, and the chart with it — or why not. The code is
/// `<parent>.<suffix>`, the suffix 1 or more of `[0-9A-Za-z]` (no further level), 32 bytes at
/// most in all.
pub fn plan(chart: &Chart, req: &NewSubAccount) -> Result<(Account, Chart), OpenError> {
    let parent_code = req.parent.trim();
    let parent = chart
        .get(parent_code)
        .ok_or_else(|| OpenError::UnknownParent(parent_code.to_string()))?;
    let Some(role) = chart.sub_account_role(parent_code) else {
        let open: Vec<&str> = chart
            .accounts()
            .filter(|a| chart.sub_account_role(&a.code).is_some())
            .map(|a| a.code.as_str())
            .collect();
        return Err(OpenError::ParentNotOpen {
            parent: parent_code.to_string(),
            open: open.join(", "),
        });
    };
    let code = req.code.trim();
    let suffix = code
        .strip_prefix(parent_code)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| invalid("code", format!("must start with '{parent_code}.'")))?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(
            "code",
            format!("must be '{parent_code}.' and then letters or digits only"),
        ));
    }
    if code.len() > 32 {
        return Err(invalid("code", "must be 32 characters at most"));
    }
    if chart.get(code).is_some() {
        return Err(OpenError::Exists(code.to_string()));
    }
    let name_zh = name("name", &req.name)?;
    let name_en = match &req.name_en {
        Some(n) => name("name_en", n)?,
        None => name_zh.clone(),
    };
    let account = Account {
        code: code.to_string(),
        name: name_zh,
        name_en,
        fund: parent.fund,
        kind: parent.kind,
        role,
        currency: parent.currency.clone(),
        parent: Some(parent_code.to_string()),
        postable: true,
    };
    let next = chart.with_accounts(vec![account.clone()])?;
    Ok((account, next))
}

/// Opens the account `req` asks for under the chart `shared` holds now, by `actor`: the rows
/// and the audit record in one transaction; then `shared` holds the chart with it. A second
/// caller opening the same code at the same moment gets [`OpenError::Exists`] (the primary
/// key decides).
pub fn open(
    conn: &mut DbConn,
    shared: &SharedChart,
    req: &NewSubAccount,
    actor: &str,
) -> Result<Account, OpenError> {
    let chart = shared.fresh(conn)?;
    let (account, _) = plan(&chart, req)?;
    let inserted = crate::db::write_txn::<(), OpenError, _>(conn, |conn| {
        let taken = accounts::table
            .filter(accounts::code.eq(&account.code))
            .count()
            .get_result::<i64>(conn)?;
        if taken > 0 {
            return Err(OpenError::Exists(account.code.clone()));
        }
        repo::insert_account(conn, &account, Utc::now().naive_utc())?;
        audit::record(
            conn,
            AuditEvent {
                actor,
                action: "account.open",
                subject: &format!("account:{}", account.code),
                before: None,
                after: Some(json!(account)),
            },
        )?;
        Ok(())
    });
    match inserted {
        Ok(()) => {}
        // Lost a race on the primary key: the other caller opened it.
        Err(OpenError::Db(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )))) => return Err(OpenError::Exists(account.code.clone())),
        Err(e) => return Err(e),
    }
    shared.refresh(conn)?;
    Ok(account)
}

/// Every account of the database that `base` does not have (sub-accounts opened while a
/// service ran), as accounts.
fn opened_since(conn: &mut DbConn, base: &Chart) -> Result<Vec<Account>, DbError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
    );
    let rows: Vec<Row> = accounts::table
        .select((
            accounts::code,
            accounts::name,
            accounts::name_en,
            accounts::fund,
            accounts::kind,
            accounts::role,
            accounts::currency,
            accounts::parent,
            accounts::postable,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (code, name, name_en, fund, kind, role, currency, parent, postable) in rows {
        if base.get(&code).is_some() {
            continue;
        }
        out.push(Account {
            code,
            name,
            name_en,
            fund: Fund::try_from(fund)?,
            kind: AccountKind::try_from(kind)?,
            role: AccountRole::try_from(role)?,
            currency,
            parent,
            postable,
        });
    }
    Ok(out)
}

/// The chart a running service reads, shared by every part of it. The chart file is the base;
/// accounts opened since are read back from the database. Accounts are only ever added, so a
/// chart with more accounts is always the newer one.
#[derive(Debug, Clone)]
pub struct SharedChart {
    base: Arc<Chart>,
    current: Arc<RwLock<Arc<Chart>>>,
}

impl SharedChart {
    /// The chart file `base` with every account the database holds beyond it.
    pub fn load(conn: &mut DbConn, base: Chart) -> Result<SharedChart, OpenError> {
        let opened = opened_since(conn, &base)?;
        let current = Arc::new(base.with_accounts(opened)?);
        Ok(SharedChart {
            base: Arc::new(base),
            current: Arc::new(RwLock::new(current)),
        })
    }

    /// A chart that is only ever `chart` (tools and tests with no database).
    pub fn fixed(chart: Chart) -> SharedChart {
        let chart = Arc::new(chart);
        SharedChart {
            base: chart.clone(),
            current: Arc::new(RwLock::new(chart)),
        }
    }

    /// The chart as this instance knows it now.
    pub fn current(&self) -> Arc<Chart> {
        // A poisoned lock still holds a whole chart: it is only ever replaced whole.
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The chart, read again from the database first if it holds accounts this instance has
    /// not seen (opened by another instance): one count query when nothing changed.
    pub fn fresh(&self, conn: &mut DbConn) -> Result<Arc<Chart>, OpenError> {
        let known = self.current();
        let stored: i64 = accounts::table
            .count()
            .get_result(conn)
            .map_err(DbError::from)?;
        if usize::try_from(stored).is_ok_and(|n| n > known.len()) {
            return self.refresh(conn);
        }
        Ok(known)
    }

    /// Reads the opened accounts again and keeps the result unless a newer chart (one with more
    /// accounts) was stored meanwhile.
    pub fn refresh(&self, conn: &mut DbConn) -> Result<Arc<Chart>, OpenError> {
        let opened = opened_since(conn, &self.base)?;
        let next = Arc::new(self.base.with_accounts(opened)?);
        let mut slot = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if next.len() >= slot.len() {
            *slot = next;
        }
        Ok(slot.clone())
    }
}

#[cfg(test)]
#[path = "accounts_tests.rs"]
mod tests;

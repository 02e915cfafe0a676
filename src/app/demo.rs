//! Demo data for `onecard serve --demo`: the centre's departments and windows and the demo fee
//! catalogue (those not yet present), one token per role (generated now, printed once, expiring
//! within [`DEMO_TOKEN_HOURS`]; the demo tokens of earlier starts are revoked, so they do not pile up) and, on an empty ledger,
//! an opening appropriation so the tour has a balance to show.
//!
//! The demo has one human per role: the `demo-<role>` token and the `demo-<role>` staff user
//! are the same person (so, as for real staff, signing in on the pages does not make a
//! supervisor a second pair of eyes on what their token requested), and stay so across starts.
//!
//! Depends on: [`super::AppContext`], `auth`, `catalogue`, `ledger`.

use diesel::prelude::*;

use super::AppContext;
use crate::auth::{self, AuthError, IssuedToken, Role};
use crate::db::schema::{api_tokens, staff_users};
use crate::db::{DbConn, DbError};
use crate::ledger::writer::{PostError, WriteError};
use crate::ledger::{repo, EntryKind, NewEntry, Posting};

/// Why demo data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Token creation failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Posting the opening entry failed.
    #[error("opening entry: {0}")]
    Ledger(#[from] WriteError<PostError>),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The demo catalogue is invalid.
    #[error("demo catalogue: {0}")]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    /// A demo staff user could not be made.
    #[error("demo staff user: {0}")]
    Staff(#[from] auth::staff::StaffError),
    /// A demo item was refused.
    #[error("demo catalogue: {0}")]
    CatalogueChange(#[from] crate::catalogue::CatalogueChangeError),
    /// A demo department or window was refused.
    #[error("demo departments: {0}")]
    Departments(#[from] crate::catalogue::departments::DepartmentError),
    /// The demo departments are invalid.
    #[error("demo departments: {0}")]
    DepartmentsFile(#[from] serde_json::Error),
}

/// The demo's staff users for the pages, one per role that works in them, each with a password
/// generated now (an existing demo user gets a new one): `(role, name, password)`.
pub fn staff_users(ctx: &AppContext) -> Result<Vec<(Role, String, String)>, DemoError> {
    let mut conn = ctx.conn()?;
    let mut users = Vec::new();
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Treasury) {
        let name = format!("demo-{role}");
        let password = auth::staff::generate_password()?;
        if !auth::staff::set_password(&mut conn, &name, &password, "demo")? {
            let person = demo_person(&mut conn, role)?;
            let user = auth::staff::NewUser {
                role,
                name: &name,
                person: Some(&person),
                created_by: "demo",
            };
            auth::staff::create_user_as(
                &mut conn,
                user,
                &password,
                auth::staff::PBKDF2_ITERATIONS,
            )?;
        }
        users.push((role, name, password));
    }
    Ok(users)
}

/// The person behind the demo's `role`: the one its staff user or an earlier demo token of
/// the same name belongs to, else a new one.
fn demo_person(conn: &mut DbConn, role: Role) -> Result<String, DemoError> {
    let name = format!("demo-{role}");
    let user: Option<Option<String>> = staff_users::table
        .filter(staff_users::name.eq(&name))
        .select(staff_users::person_id)
        .first(conn)
        .optional()
        .map_err(DbError::from)?;
    let known = match user.flatten() {
        Some(p) => Some(p),
        None => api_tokens::table
            .filter(api_tokens::name.eq(&name))
            .filter(api_tokens::created_by.eq("demo"))
            .filter(api_tokens::person_id.is_not_null())
            .order(api_tokens::created_at.desc())
            .select(api_tokens::person_id)
            .first::<Option<String>>(conn)
            .optional()
            .map_err(DbError::from)?
            .flatten(),
    };
    match known {
        Some(p) => Ok(p),
        None => Ok(auth::persons::create(conn, &name, "demo")?),
    }
}

/// How long a demo token lives: it is for a tour, not for keeps.
pub const DEMO_TOKEN_HOURS: i64 = 24;

/// Revokes the demo tokens of earlier starts that are still unrevoked (each audited as
/// `key.revoke` by `demo`); returns how many.
fn revoke_earlier_tokens(
    conn: &mut DbConn,
    now: chrono::NaiveDateTime,
) -> Result<usize, DemoError> {
    let earlier: Vec<String> = api_tokens::table
        .filter(api_tokens::created_by.eq("demo"))
        .filter(api_tokens::revoked_at.is_null())
        .select(api_tokens::id)
        .load(conn)
        .map_err(DbError::from)?;
    for id in &earlier {
        auth::tokens::revoke(conn, id, "demo", now)?;
    }
    Ok(earlier.len())
}

/// Adds the centre's departments and their windows (fixtures/demo-departments.json) that are
/// not stored yet; returns how many were added.
pub fn load_departments(ctx: &AppContext) -> Result<usize, DemoError> {
    let mut conn = ctx.conn()?;
    let demo = crate::catalogue::departments::demo_departments()?;
    Ok(crate::catalogue::departments::add_missing(
        &mut conn, &demo, "demo",
    )?)
}

/// Revokes the demo tokens of earlier starts, creates one token per role expiring in
/// [`DEMO_TOKEN_HOURS`] and, if the ledger is empty, posts an opening appropriation.
pub fn load(ctx: &AppContext) -> Result<Vec<(Role, IssuedToken)>, DemoError> {
    load_departments(ctx)?;
    let mut conn = ctx.conn()?;
    for item in crate::catalogue::demo_items()? {
        if crate::catalogue::versions(&mut conn, &item.code)?.is_empty() {
            crate::catalogue::add_version(
                &mut conn,
                &ctx.chart.current(),
                item,
                "demo",
                crate::clock::today(),
            )?;
        }
    }
    let now = chrono::Utc::now().naive_utc();
    let revoked = revoke_earlier_tokens(&mut conn, now)?;
    if revoked > 0 {
        tracing::info!(tokens = revoked, "demo tokens of earlier starts revoked");
    }
    let expires_at = Some(now + chrono::Duration::hours(DEMO_TOKEN_HOURS));
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let person = demo_person(&mut conn, role)?;
        let name = format!("demo-{role}");
        let new = auth::NewToken {
            role,
            name: &name,
            person: Some(&person),
            expires_at,
            created_by: "demo",
        };
        tokens.push((role, auth::create_token_as(&mut conn, &ctx.keys, new)?));
    }
    let (head, _) = repo::chain_head(&mut conn)?;
    drop(conn);
    if head == 0 {
        let today = crate::clock::today();
        ctx.writer.post_blocking(NewEntry {
            business_date: today,
            kind: EntryKind::Appropriation,
            memo: "demo: opening appropriation for bank charges".into(),
            reference: None,
            reverses: None,
            actor: "demo".into(),
            postings: vec![
                Posting::debit("1002.02", 5_000_000),
                Posting::credit("4001", 5_000_000),
            ],
        })?;
    }
    Ok(tokens)
}

//! Demo data for `onecard serve --demo`: the demo fee catalogue (items not yet present), one
//! token per role (generated now, printed once) and, on an empty ledger, an opening
//! appropriation so the tour has a balance to show.
//!
//! Depends on: [`super::AppContext`], `auth`, `catalogue`, `ledger`.

use super::AppContext;
use crate::auth::{self, AuthError, IssuedToken, Role};
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
            auth::staff::create_user(&mut conn, role, &name, &password, "demo")?;
        }
        users.push((role, name, password));
    }
    Ok(users)
}

/// Creates one token per role and, if the ledger is empty, posts an opening appropriation.
pub fn load(ctx: &AppContext) -> Result<Vec<(Role, IssuedToken)>, DemoError> {
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
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let t = auth::create_token(&mut conn, &ctx.keys, role, &format!("demo-{role}"), "demo")?;
        tokens.push((role, t));
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

//! Persons (DESIGN §7): the one identity behind a human's API tokens and staff sign-in. Every
//! four-eyes rule compares persons ([`super::Principal::is_same_person`]), never names or
//! tokens: two tokens of one person, or a token and a sign-in, are still one person.
//!
//! A token or user made without naming a person gets a new one of its own name.

use chrono::Utc;
use diesel::prelude::*;
use serde::Serialize;

use super::AuthError;
use crate::audit::{self, AuditEvent};
use crate::db::schema::persons;
use crate::db::DbConn;
use crate::keys::random_bytes;

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = persons)]
pub struct Person {
    /// Id (`per_` + 16 hex digits).
    pub id: String,
    /// Their name.
    pub name: String,
    /// When made (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Who made it.
    pub created_by: String,
}

/// A person's name: 1–100 characters once trimmed.
fn checked_name(name: &str) -> Result<&str, AuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AuthError::BadName);
    }
    Ok(name)
}

/// Makes a person and audits it (`person.create`); returns the id.
pub fn create(conn: &mut DbConn, name: &str, created_by: &str) -> Result<String, AuthError> {
    crate::db::write_txn::<_, AuthError, _>(conn, |conn| {
        let (id, name, now) = insert(conn, name, created_by)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor: created_by,
                action: "person.create",
                subject: &format!("person:{id}"),
                before: None,
                after: Some(serde_json::json!({"id": id, "name": name})),
            },
            now,
        )?;
        Ok(id)
    })
}

/// Stores a new person; the caller audits. Returns the id, the trimmed name and the time.
fn insert(
    conn: &mut DbConn,
    name: &str,
    created_by: &str,
) -> Result<(String, String, chrono::NaiveDateTime), AuthError> {
    let name = checked_name(name)?;
    let id = format!("per_{}", hex::encode(random_bytes::<8>()?));
    let now = Utc::now().naive_utc();
    diesel::insert_into(persons::table)
        .values((
            persons::id.eq(&id),
            persons::name.eq(name),
            persons::created_at.eq(now),
            persons::created_by.eq(created_by),
        ))
        .execute(conn)?;
    Ok((id, name.to_string(), now))
}

/// The person with this id, if any.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Person>, AuthError> {
    Ok(persons::table
        .find(id)
        .select(Person::as_select())
        .first(conn)
        .optional()?)
}

/// Every person, oldest first.
pub fn list(conn: &mut DbConn) -> Result<Vec<Person>, AuthError> {
    Ok(persons::table
        .select(Person::as_select())
        .order((persons::created_at, persons::id))
        .load(conn)?)
}

/// The person a new token or user belongs to: `person` when given (it must exist), else a new
/// person named `name`, made in the caller's transaction and audited by its record
/// (`key.create`, `user.create`), which names the person.
pub(super) fn for_new_credential(
    conn: &mut DbConn,
    person: Option<&str>,
    name: &str,
    created_by: &str,
) -> Result<String, AuthError> {
    match person.map(str::trim) {
        Some(id) => match get(conn, id)? {
            Some(p) => Ok(p.id),
            None => Err(AuthError::UnknownPerson(id.to_string())),
        },
        None => Ok(insert(conn, name, created_by)?.0),
    }
}

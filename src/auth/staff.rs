//! Staff sign-in for the web pages (issue: finance staff web pages): users with one role each,
//! passwords hashed with PBKDF2-HMAC-SHA256 (ring) at [`PBKDF2_ITERATIONS`], lock-out after
//! [`MAX_FAILURES`] failed attempts in a row, and server-side sessions whose cookie value is
//! `<session id>.<HMAC of it>` so a forged or altered cookie is refused before any lookup, and a
//! signed-out session is gone. Each session has its own CSRF token, derived from it.
//!
//! The same roles as API tokens ([`super::Role`]); the rules of what a role may do stay in one
//! place, the use cases.

use base64::Engine;
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use ring::hmac;
use serde_json::json;

use super::{AuthError, Principal, Role};
use crate::audit::{self, AuditEvent};
use crate::db::schema::{staff_sessions, staff_users};
use crate::db::{DbConn, DbError};
use crate::keys::{random_bytes, ServiceKeys};

pub use super::password::{
    hash_password, password_matches, Lockout, PasswordHash, LOCK_MINUTES, MAX_FAILURES,
    MIN_PASSWORD_CHARS, PBKDF2_ITERATIONS,
};
/// How long a session lasts without being renewed by a new sign-in.
pub const SESSION_HOURS: i64 = 10;

/// Whether a password is acceptable: long enough, not all one character.
pub fn password_acceptable(password: &str) -> Result<(), StaffError> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS || chars.iter().all(|c| *c == chars[0]) {
        return Err(StaffError::WeakPassword);
    }
    Ok(())
}

/// Why a staff step was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// Wrong name or password (the same answer for both).
    #[error("the name or password is wrong")]
    BadCredentials,
    /// Too many failures: locked for a while.
    #[error("too many failed attempts: the account is locked until {0} UTC")]
    Locked(NaiveDateTime),
    /// The password is too weak.
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters, not all the same")]
    WeakPassword,
    /// The name is taken or unusable.
    #[error("{0}")]
    BadName(String),
    /// Storage or keys failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<diesel::result::Error> for StaffError {
    fn from(e: diesel::result::Error) -> Self {
        StaffError::Auth(e.into())
    }
}

/// Creates a staff user; returns its id.
pub fn create_user(
    conn: &mut DbConn,
    role: Role,
    name: &str,
    password: &str,
    created_by: &str,
) -> Result<String, StaffError> {
    create_user_with(conn, role, name, password, created_by, PBKDF2_ITERATIONS)
}

/// [`create_user`] with another PBKDF2 iteration count: tests use a small one to stay fast
/// (sign-in checks with the count stored beside each hash, so either verifies).
pub fn create_user_with(
    conn: &mut DbConn,
    role: Role,
    name: &str,
    password: &str,
    created_by: &str,
    iterations: u32,
) -> Result<String, StaffError> {
    let user = NewUser {
        role,
        name,
        person: None,
        created_by,
    };
    create_user_as(conn, user, password, iterations)
}

/// Who a new staff user is.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Their one role.
    pub role: Role,
    /// The name they sign in with (unique among users).
    pub name: &'a str,
    /// The person they are (the one behind their API tokens, if they have any); `None` makes
    /// a new person of their name.
    pub person: Option<&'a str>,
    /// Who makes the user (audit).
    pub created_by: &'a str,
}

/// Creates a staff user belonging to `user.person` with a password hashed at `iterations`;
/// returns its id.
pub fn create_user_as(
    conn: &mut DbConn,
    user: NewUser<'_>,
    password: &str,
    iterations: u32,
) -> Result<String, StaffError> {
    let NewUser {
        role,
        name,
        person,
        created_by,
    } = user;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StaffError::BadName(
            "a user name must be 1–100 characters".into(),
        ));
    }
    password_acceptable(password)?;
    let hashed = hash_password(password, iterations)?;
    let id = format!(
        "usr_{}",
        hex::encode(random_bytes::<8>().map_err(AuthError::from)?)
    );
    let now = Utc::now().naive_utc();
    crate::db::write_txn::<_, StaffError, _>(conn, |conn| {
        let taken: i64 = staff_users::table
            .filter(staff_users::name.eq(name))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(StaffError::BadName(format!("a user named '{name}' exists")));
        }
        let person_id = super::persons::for_new_credential(conn, person, name, created_by)?;
        diesel::insert_into(staff_users::table)
            .values((
                staff_users::id.eq(&id),
                staff_users::name.eq(name),
                staff_users::role.eq(role.as_str()),
                staff_users::password_hash.eq(&hashed.hash),
                staff_users::salt.eq(&hashed.salt),
                staff_users::iterations.eq(i64::from(hashed.iterations)),
                staff_users::failures.eq(0i64),
                staff_users::created_at.eq(now),
                staff_users::created_by.eq(created_by),
                staff_users::person_id.eq(&person_id),
            ))
            .execute(conn)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor: created_by,
                action: "user.create",
                subject: &format!("user:{id}"),
                before: None,
                after: Some(json!({"id": id, "name": name, "role": role, "person": person_id})),
            },
            now,
        )
        .map_err(AuthError::from)?;
        Ok(())
    })?;
    Ok(id)
}

/// A fresh random password (120 bits, base64url): for `onecard users create` on a terminal and
/// the demo users.
pub fn generate_password() -> Result<String, AuthError> {
    Ok(b64(&random_bytes::<15>()?))
}

/// Sets a user's password (and clears a lock-out); audited. `false` if there is no such user.
pub fn set_password(
    conn: &mut DbConn,
    name: &str,
    password: &str,
    by: &str,
) -> Result<bool, StaffError> {
    password_acceptable(password)?;
    let hashed = hash_password(password, PBKDF2_ITERATIONS)?;
    let now = Utc::now().naive_utc();
    crate::db::write_txn::<_, StaffError, _>(conn, |conn| {
        let id: Option<String> = staff_users::table
            .filter(staff_users::name.eq(name.trim()))
            .select(staff_users::id)
            .first(conn)
            .optional()?;
        let Some(id) = id else { return Ok(false) };
        diesel::update(staff_users::table.find(&id))
            .set((
                staff_users::password_hash.eq(&hashed.hash),
                staff_users::salt.eq(&hashed.salt),
                staff_users::iterations.eq(i64::from(hashed.iterations)),
                staff_users::failures.eq(0i64),
                staff_users::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        audit::record_at(
            conn,
            AuditEvent {
                actor: by,
                action: "user.set_password",
                subject: &format!("user:{id}"),
                before: None,
                after: None,
            },
            now,
        )
        .map_err(AuthError::from)?;
        Ok(true)
    })
}

/// A signed-in session: the cookie value to set and who it is.
#[derive(Debug, Clone)]
pub struct Session {
    /// `<session id>.<base64url HMAC>`: the cookie's value.
    pub cookie: String,
    /// The session id.
    pub id: String,
    /// Who.
    pub principal: Principal,
    /// When it ends (UTC).
    pub expires_at: NaiveDateTime,
}

fn session_key(keys: &ServiceKeys) -> hmac::Key {
    hmac::Key::new(
        hmac::HMAC_SHA256,
        keys.derive_secret("onecard-web-session-cookie").as_bytes(),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The cookie value of a session id.
pub fn cookie_value(keys: &ServiceKeys, session_id: &str) -> String {
    let tag = hmac::sign(&session_key(keys), session_id.as_bytes());
    format!("{session_id}.{}", b64(tag.as_ref()))
}

/// The session id inside a cookie value whose signature holds (constant-time check).
pub fn session_id_of(keys: &ServiceKeys, cookie: &str) -> Option<String> {
    let (id, tag) = cookie.split_once('.')?;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tag)
        .ok()?;
    hmac::verify(&session_key(keys), id.as_bytes(), &tag).ok()?;
    Some(id.to_string())
}

fn csrf_key(keys: &ServiceKeys) -> hmac::Key {
    hmac::Key::new(
        hmac::HMAC_SHA256,
        keys.derive_secret("onecard-web-csrf").as_bytes(),
    )
}

/// The CSRF token of a session: every form carries it, every POST is checked against it.
pub fn csrf_token(keys: &ServiceKeys, session_id: &str) -> String {
    b64(hmac::sign(&csrf_key(keys), session_id.as_bytes()).as_ref())
}

/// Checks a submitted CSRF token in constant time.
pub fn csrf_ok(keys: &ServiceKeys, session_id: &str, submitted: &str) -> bool {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(submitted)
        .is_ok_and(|tag| hmac::verify(&csrf_key(keys), session_id.as_bytes(), &tag).is_ok())
}

/// A user as sign-in reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = staff_users)]
struct UserRow {
    id: String,
    name: String,
    role: String,
    password_hash: Vec<u8>,
    salt: Vec<u8>,
    iterations: i64,
    failures: i64,
    locked_until: Option<NaiveDateTime>,
    person_id: Option<String>,
}

crate::text_enum! {
    /// How a sign-in attempt ended, as the audit record's `outcome` says it.
    enum SignInOutcome as "sign-in outcome" {
        /// The account was locked before the attempt.
        Locked,
        /// This failure locked it.
        LockedNow,
        /// A wrong password.
        Failed,
        /// A session was started.
        SignedIn,
    }
}

/// Signs a user in: checks lock-out, then the password; counts failures and locks after
/// [`MAX_FAILURES`]; on success starts a session. Every attempt is audited.
pub fn sign_in(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    name: &str,
    password: &str,
) -> Result<Session, StaffError> {
    let now = Utc::now().naive_utc();
    let row: Option<UserRow> = staff_users::table
        .filter(staff_users::name.eq(name.trim()))
        .filter(staff_users::disabled_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    let Some(user) = row else {
        // Spend the same time as a real check, so a wrong name is not told apart by timing.
        let _ = hash_password(password, PBKDF2_ITERATIONS);
        return Err(StaffError::BadCredentials);
    };
    let lock = Lockout {
        failures: user.failures,
        locked_until: user.locked_until,
    };
    if lock.locked_at(now) {
        audit_attempt(conn, &user, now, SignInOutcome::Locked)?;
        return Err(StaffError::Locked(user.locked_until.unwrap_or(now)));
    }
    let stored = PasswordHash {
        hash: user.password_hash.clone(),
        salt: user.salt.clone(),
        iterations: u32::try_from(user.iterations).map_err(|_| {
            AuthError::Db(DbError::Query(diesel::result::Error::DeserializationError(
                format!(
                    "user {}: iteration count {} out of range",
                    user.id, user.iterations
                )
                .into(),
            )))
        })?,
    };
    if !password_matches(&stored, password) {
        let next = count_failure(conn, &user.id, now)?;
        let locked = next.locked_at(now);
        let outcome = if locked {
            SignInOutcome::LockedNow
        } else {
            SignInOutcome::Failed
        };
        audit_attempt(conn, &user, now, outcome)?;
        return Err(match next.locked_until {
            Some(t) if locked => StaffError::Locked(t),
            _ => StaffError::BadCredentials,
        });
    }
    start_session(conn, keys, user, now)
}

/// Counts a failed attempt of user `id` at `now` and returns where the account stands after
/// it. Attempts run at once — on this instance or another — each count: the transaction's
/// first statement locks the user's row (PostgreSQL: the row lock; SQLite: the write lock),
/// and only then are the failures read, so no attempt overwrites another's count with one it
/// read before the password check.
fn count_failure(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> Result<Lockout, StaffError> {
    crate::db::write_txn::<_, StaffError, _>(conn, |conn| {
        diesel::update(staff_users::table.find(id))
            .set(staff_users::failures.eq(staff_users::failures))
            .execute(conn)?;
        let (failures, locked_until) = staff_users::table
            .find(id)
            .select((staff_users::failures, staff_users::locked_until))
            .first::<(i64, Option<NaiveDateTime>)>(conn)?;
        let next = Lockout {
            failures,
            locked_until,
        }
        .after_failure(now);
        diesel::update(staff_users::table.find(id))
            .set((
                staff_users::failures.eq(next.failures),
                staff_users::locked_until.eq(next.locked_until),
            ))
            .execute(conn)?;
        Ok(next)
    })
}

/// Audits one sign-in attempt of `user`.
fn audit_attempt(
    conn: &mut DbConn,
    user: &UserRow,
    now: NaiveDateTime,
    outcome: SignInOutcome,
) -> Result<(), StaffError> {
    audit::record_at(
        conn,
        AuditEvent {
            actor: &format!("{}:{}", user.role, user.name),
            action: "user.sign_in",
            subject: &format!("user:{}", user.id),
            before: None,
            after: Some(json!({"outcome": outcome.as_ref()})),
        },
        now,
    )
    .map_err(AuthError::from)?;
    Ok(())
}

/// The password was right: clears the failure count and starts a session.
fn start_session(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    user: UserRow,
    now: NaiveDateTime,
) -> Result<Session, StaffError> {
    let session_id = b64(&random_bytes::<24>().map_err(AuthError::from)?);
    let expires_at = now + Duration::hours(SESSION_HOURS);
    let role: Role = user.role.parse()?;
    crate::db::write_txn::<_, StaffError, _>(conn, |conn| {
        // Not if another attempt locked the account while this one checked the password.
        let cleared = diesel::update(
            staff_users::table.find(&user.id).filter(
                staff_users::locked_until
                    .is_null()
                    .or(staff_users::locked_until.le(now)),
            ),
        )
        .set((
            staff_users::failures.eq(0i64),
            staff_users::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        if cleared == 0 {
            let until: Option<NaiveDateTime> = staff_users::table
                .find(&user.id)
                .select(staff_users::locked_until)
                .first(conn)?;
            return Err(StaffError::Locked(until.unwrap_or(now)));
        }
        diesel::insert_into(staff_sessions::table)
            .values((
                staff_sessions::id.eq(&session_id),
                staff_sessions::user_id.eq(&user.id),
                staff_sessions::created_at.eq(now),
                staff_sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        audit_attempt(conn, &user, now, SignInOutcome::SignedIn)
    })?;
    Ok(Session {
        cookie: cookie_value(keys, &session_id),
        id: session_id,
        principal: super::principal(user.id, user.name, role.as_str(), user.person_id)?,
        expires_at,
    })
}

/// The user behind a session cookie, if the cookie is genuine and the session live.
pub fn session(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    cookie: &str,
) -> Result<Option<(String, Principal)>, StaffError> {
    let Some(session_id) = session_id_of(keys, cookie) else {
        return Ok(None);
    };
    let now = Utc::now().naive_utc();
    let row: Option<(String, String, String, Option<String>)> = staff_sessions::table
        .inner_join(staff_users::table)
        .filter(staff_sessions::id.eq(&session_id))
        .filter(staff_sessions::revoked_at.is_null())
        .filter(staff_sessions::expires_at.gt(now))
        .filter(staff_users::disabled_at.is_null())
        .select((
            staff_users::id,
            staff_users::name,
            staff_users::role,
            staff_users::person_id,
        ))
        .first(conn)
        .optional()?;
    match row {
        None => Ok(None),
        Some((id, name, role, person)) => Ok(Some((
            session_id,
            super::principal(id, name, &role, person)?,
        ))),
    }
}

/// Ends a session: its cookie no longer signs anyone in.
pub fn sign_out(conn: &mut DbConn, session_id: &str) -> Result<(), StaffError> {
    diesel::update(staff_sessions::table.find(session_id))
        .set(staff_sessions::revoked_at.eq(Some(Utc::now().naive_utc())))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert!(password_acceptable("short").is_err());
        assert!(password_acceptable("aaaaaaaaaaaaaaaa").is_err());
        assert!(password_acceptable("会计室的长密码不容易猜到").is_ok());
    }
}

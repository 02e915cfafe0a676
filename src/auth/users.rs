//! Staff users over their lifetime (DESIGN §7): listed, disabled and enabled again, and given a
//! new password when theirs is lost. Disabling ends the user's sessions at once and sign-in
//! refuses them with the same answer as a wrong password; a reset ends their sessions and
//! clears a lock-out. Every change is audited with the user before and after, never a secret.
//!
//! Sign-in, sessions and creation are in [`super::staff`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::staff::{self, StaffError};
use super::AuthError;
use crate::audit::{self, AuditEvent};
use crate::db::schema::{staff_sessions, staff_users};
use crate::db::DbConn;

crate::text_enum! {
    /// A staff user's state as the list shows it.
    #[derive(utoipa::ToSchema)]
    pub enum UserStatus as "user status" {
        /// May sign in.
        Active,
        /// Too many failed sign-ins: refused until `locked_until`.
        Locked,
        /// Disabled: refused until enabled again.
        Disabled,
    }
}

/// A staff user as listed: no password hash, no salt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = staff_users)]
pub struct UserInfo {
    /// Id (`usr_` + 16 hex digits).
    pub id: String,
    /// The name they sign in with.
    pub name: String,
    /// Their one role.
    #[schema(value_type = super::Role)]
    pub role: String,
    /// The person they are.
    #[serde(rename = "person")]
    pub person_id: Option<String>,
    /// When made (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Who made them.
    pub created_by: String,
    /// When disabled (UTC), or null.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<NaiveDateTime>,
    /// Failed sign-ins in a row.
    pub failures: i64,
    /// Locked until (UTC), or null.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<NaiveDateTime>,
}

impl UserInfo {
    /// Their state at `now`: disabled wins over locked.
    pub fn status(&self, now: NaiveDateTime) -> UserStatus {
        if self.disabled_at.is_some() {
            UserStatus::Disabled
        } else if self.locked_until.is_some_and(|t| t > now) {
            UserStatus::Locked
        } else {
            UserStatus::Active
        }
    }

    fn audited(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Up to `limit + 1` users in creation order after the user `after` (its id; `None` for the
/// start). An unknown cursor starts nowhere: no rows.
pub fn list(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UserInfo>, AuthError> {
    let mut query = staff_users::table
        .select(UserInfo::as_select())
        .order((staff_users::created_at, staff_users::id))
        .limit(limit.saturating_add(1))
        .into_boxed();
    if let Some(after) = after.filter(|a| !a.is_empty()) {
        let at: Option<NaiveDateTime> = staff_users::table
            .find(after)
            .select(staff_users::created_at)
            .first(conn)
            .optional()?;
        let Some(at) = at else { return Ok(Vec::new()) };
        query = query.filter(
            staff_users::created_at.gt(at).or(staff_users::created_at
                .eq(at)
                .and(staff_users::id.gt(after))),
        );
    }
    Ok(query.load(conn)?)
}

/// The user whose id, or else whose name, is `key`.
pub fn find(conn: &mut DbConn, key: &str) -> Result<Option<UserInfo>, AuthError> {
    let key = key.trim();
    let by_id = staff_users::table
        .find(key)
        .select(UserInfo::as_select())
        .first(conn)
        .optional()?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    Ok(staff_users::table
        .filter(staff_users::name.eq(key))
        .select(UserInfo::as_select())
        .first(conn)
        .optional()?)
}

/// Takes the write lock on user `id`'s row before anything is read in a transaction (a row
/// lock on PostgreSQL; the database's write lock, waited for, on SQLite — where a transaction
/// that reads first and then writes fails at once when another write came in between), then
/// reads the user as they stand.
fn locked(conn: &mut DbConn, id: &str) -> Result<Option<UserInfo>, AuthError> {
    let touched = diesel::update(staff_users::table.find(id))
        .set(staff_users::failures.eq(staff_users::failures))
        .execute(conn)?;
    if touched == 0 {
        return Ok(None);
    }
    Ok(staff_users::table
        .find(id)
        .select(UserInfo::as_select())
        .first(conn)
        .optional()?)
}

/// The id of the user whose id, or else whose name, is `key` (read before the transaction
/// that changes them: ids and names do not change).
fn id_of(conn: &mut DbConn, key: &str) -> Result<Option<String>, AuthError> {
    Ok(find(conn, key)?.map(|u| u.id))
}

/// Ends every live session of `user_id` at `now`; returns how many.
fn end_sessions(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> Result<usize, AuthError> {
    Ok(diesel::update(
        staff_sessions::table
            .filter(staff_sessions::user_id.eq(user_id))
            .filter(staff_sessions::revoked_at.is_null()),
    )
    .set(staff_sessions::revoked_at.eq(Some(now)))
    .execute(conn)?)
}

fn audit_change(
    conn: &mut DbConn,
    by: &str,
    action: &str,
    before: &UserInfo,
    after: &UserInfo,
    now: NaiveDateTime,
) -> Result<(), AuthError> {
    audit::record_at(
        conn,
        AuditEvent {
            actor: by,
            action,
            subject: &format!("user:{}", before.id),
            before: Some(before.audited()),
            after: Some(after.audited()),
        },
        now,
    )?;
    Ok(())
}

/// Disables the user `key` (id or name) at `now` and ends their sessions at once; audited as
/// `user.disable`. Disabling a disabled user changes nothing. `None` when there is no such user.
pub fn disable(
    conn: &mut DbConn,
    key: &str,
    by: &str,
    now: NaiveDateTime,
) -> Result<Option<UserInfo>, AuthError> {
    let Some(id) = id_of(conn, key)? else {
        return Ok(None);
    };
    crate::db::write_txn::<_, AuthError, _>(conn, |conn| {
        let Some(before) = locked(conn, &id)? else {
            return Ok(None);
        };
        // Sessions end even when the user was disabled already (nothing should be live).
        end_sessions(conn, &before.id, now)?;
        if before.disabled_at.is_some() {
            return Ok(Some(before));
        }
        diesel::update(staff_users::table.find(&before.id))
            .set(staff_users::disabled_at.eq(Some(now)))
            .execute(conn)?;
        // Read back: the time as stored (PostgreSQL keeps microseconds).
        let Some(after) = locked(conn, &before.id)? else {
            return Ok(None);
        };
        audit_change(conn, by, "user.disable", &before, &after, now)?;
        Ok(Some(after))
    })
}

/// Enables the user `key` (id or name) again; audited as `user.enable`. Their old sessions stay
/// ended: they sign in afresh. Enabling an enabled user changes nothing. `None` when there is
/// no such user.
pub fn enable(
    conn: &mut DbConn,
    key: &str,
    by: &str,
    now: NaiveDateTime,
) -> Result<Option<UserInfo>, AuthError> {
    let Some(id) = id_of(conn, key)? else {
        return Ok(None);
    };
    crate::db::write_txn::<_, AuthError, _>(conn, |conn| {
        let Some(before) = locked(conn, &id)? else {
            return Ok(None);
        };
        if before.disabled_at.is_none() {
            return Ok(Some(before));
        }
        diesel::update(staff_users::table.find(&before.id))
            .set(staff_users::disabled_at.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        let after = UserInfo {
            disabled_at: None,
            ..before.clone()
        };
        audit_change(conn, by, "user.enable", &before, &after, now)?;
        Ok(Some(after))
    })
}

/// A user whose password was reset, and the new password: shown once, stored only hashed.
#[derive(Debug, Clone)]
pub struct Reset {
    /// The user after the reset.
    pub user: UserInfo,
    /// The generated password.
    pub password: String,
}

/// Gives the user `key` (id or name) a generated password, hashed at `iterations`; ends their
/// sessions and clears a lock-out. Audited as `user.reset_password` (without the password).
/// A disabled user stays disabled. `None` when there is no such user.
pub fn reset_password(
    conn: &mut DbConn,
    key: &str,
    by: &str,
    now: NaiveDateTime,
    iterations: u32,
) -> Result<Option<Reset>, StaffError> {
    let password = staff::generate_password()?;
    let hashed = staff::hash_password(&password, iterations)?;
    let Some(id) = id_of(conn, key)? else {
        return Ok(None);
    };
    crate::db::write_txn::<_, StaffError, _>(conn, |conn| {
        let Some(before) = locked(conn, &id)? else {
            return Ok(None);
        };
        diesel::update(staff_users::table.find(&before.id))
            .set((
                staff_users::password_hash.eq(&hashed.hash),
                staff_users::salt.eq(&hashed.salt),
                staff_users::iterations.eq(i64::from(hashed.iterations)),
                staff_users::failures.eq(0i64),
                staff_users::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        let sessions = end_sessions(conn, &before.id, now)?;
        let after = UserInfo {
            failures: 0,
            locked_until: None,
            ..before.clone()
        };
        audit::record_at(
            conn,
            AuditEvent {
                actor: by,
                action: "user.reset_password",
                subject: &format!("user:{}", before.id),
                before: Some(before.audited()),
                after: Some(serde_json::json!({
                    "user": after.audited(),
                    "password": "reset",
                    "sessions_ended": sessions,
                })),
            },
            now,
        )
        .map_err(AuthError::from)?;
        Ok(Some(Reset {
            user: after,
            password: password.clone(),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_wins_over_locked_and_a_past_lock_is_over() {
        let at =
            |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_default();
        let mut u = UserInfo {
            id: "usr_0011223344556677".into(),
            name: "li".into(),
            role: "finance".into(),
            person_id: None,
            created_at: at("2026-12-01 00:00:00"),
            created_by: "cli".into(),
            disabled_at: None,
            failures: 5,
            locked_until: Some(at("2026-12-01 10:00:00")),
        };
        assert_eq!(u.status(at("2026-12-01 09:59:00")), UserStatus::Locked);
        assert_eq!(u.status(at("2026-12-01 10:00:00")), UserStatus::Active);
        u.disabled_at = Some(at("2026-12-01 09:00:00"));
        assert_eq!(u.status(at("2026-12-01 09:30:00")), UserStatus::Disabled);
        // Nothing secret is in what is audited.
        let audited = u.audited().to_string();
        assert!(!audited.contains("password") && !audited.contains("salt"));
    }
}

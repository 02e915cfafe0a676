//! The API token lifecycle (DESIGN §7, API.md "tokens"): a token may expire, is listed (never
//! its secret), can be revoked, and shows when it was last used.
//!
//! [`check`] is the one answer to "who is this, or why not": one indexed query by the token's
//! hash that tells a live token from a revoked, an expired and an unknown one.
//!
//! [`check_cached`] answers from memory what [`check_remembering`] read before, and keeps the
//! answer honest for revocation: a token revoked through this instance ([`revoke`]: the API,
//! the pages, the demo start) is refused on its very next call — its id is marked before the
//! revocation is even written, and the database is asked again from then on; one revoked by
//! another process (`onecard keys revoke`, another instance) is refused within
//! [`CACHE_FOR`] on the calls the cache answers; a payment taken with it is refused at once on
//! any instance (the capture's batch checks its tokens, `payments::capture_by`). Expiry is
//! checked on every call.
//!
//! "Last used" is written at most once a minute per token ([`LastUsedThrottle`]), by the caller
//! (`http::extract`), so authenticating itself never writes.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{principal, AuthError, Principal};
use crate::audit::{self, AuditEvent};
use crate::db::schema::api_tokens;
use crate::db::DbConn;

crate::text_enum! {
    /// A token's state as the list shows it.
    #[derive(utoipa::ToSchema)]
    pub enum TokenStatus as "token status" {
        /// Accepted.
        Live,
        /// Past its `expires_at`.
        Expired,
        /// Revoked (`keys revoke`, `DELETE /v1/tokens/{id}`).
        Revoked,
    }
}

/// Why a presented token does not sign anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, or no token has this hash.
    Unknown,
    /// The token was revoked.
    Revoked,
    /// The token's expiry has passed.
    Expired,
}

/// A token as listed: everything but its secret (which is not stored) and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = api_tokens)]
pub struct TokenInfo {
    /// Public id (16 hex digits).
    pub id: String,
    /// Who or what it is for.
    pub name: String,
    /// Its role.
    #[schema(value_type = super::Role)]
    pub role: String,
    /// The person it belongs to.
    #[serde(rename = "person")]
    pub person_id: Option<String>,
    /// When made (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Who made it.
    pub created_by: String,
    /// When it stops being accepted (UTC), or null for never.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<NaiveDateTime>,
    /// When it was last used (UTC, to within a minute), or null.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<NaiveDateTime>,
    /// When it was revoked (UTC), or null.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<NaiveDateTime>,
}

impl TokenInfo {
    /// Its state at `now`: revoked wins over expired.
    pub fn status(&self, now: NaiveDateTime) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Live
        }
    }
}

/// Who a presented bearer token is, or why not: the one question every API call asks. One
/// query by the (unique, indexed) hash; nothing is written.
pub fn check(
    conn: &mut DbConn,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Result<Principal, Refusal>, AuthError> {
    Ok(check_row(conn, presented, now)?.map(|(p, _)| p))
}

/// [`check`], with a live token's expiry.
fn check_row(
    conn: &mut DbConn,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Result<(Principal, Option<NaiveDateTime>), Refusal>, AuthError> {
    // A well-formed token is "oc_" + 43 base64url characters; anything else cannot match and
    // is not worth a query.
    if presented.len() != 46 || !presented.starts_with("oc_") {
        return Ok(Err(Refusal::Unknown));
    }
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let row: Option<Row> = api_tokens::table
        .filter(api_tokens::token_hash.eq(super::token_hash(presented)))
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::role,
            api_tokens::person_id,
            api_tokens::revoked_at,
            api_tokens::expires_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, name, role, person, revoked_at, expires_at)) = row else {
        return Ok(Err(Refusal::Unknown));
    };
    if revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if expires_at.is_some_and(|t| t <= now) {
        return Ok(Err(Refusal::Expired));
    }
    principal(id, name, &role, person).map(|p| Ok((p, expires_at)))
}

/// Up to `limit + 1` tokens in creation order after the token `after` (its id; `None` for the
/// start), so a pager can tell whether there is more. An unknown cursor starts nowhere: no rows.
pub fn list(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<TokenInfo>, AuthError> {
    let mut query = api_tokens::table
        .select(TokenInfo::as_select())
        .order((api_tokens::created_at, api_tokens::id))
        .limit(limit.saturating_add(1))
        .into_boxed();
    if let Some(after) = after.filter(|a| !a.is_empty()) {
        let at: Option<NaiveDateTime> = api_tokens::table
            .find(after)
            .select(api_tokens::created_at)
            .first(conn)
            .optional()?;
        let Some(at) = at else { return Ok(Vec::new()) };
        query = query.filter(
            api_tokens::created_at
                .gt(at)
                .or(api_tokens::created_at.eq(at).and(api_tokens::id.gt(after))),
        );
    }
    Ok(query.load(conn)?)
}

/// The token `id`, if there is one.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<TokenInfo>, AuthError> {
    Ok(api_tokens::table
        .find(id)
        .select(TokenInfo::as_select())
        .first(conn)
        .optional()?)
}

/// How long a token's answer read from the database is reused by [`check_cached`]: the bound
/// on how long a token revoked by another process still passes the calls the cache answers.
pub const CACHE_FOR: Duration = Duration::from_secs(1);

/// Past this many tokens the cache starts afresh.
const CACHE_MAX: usize = 10_000;

struct Cached {
    principal: Principal,
    expires_at: Option<NaiveDateTime>,
    at: Instant,
}

struct TokenCache {
    generation: AtomicU64,
    live: Mutex<HashMap<Vec<u8>, Cached>>,
    /// Tokens revoked (or being revoked) through this process: never answered from memory.
    revoked: Mutex<HashSet<String>>,
}

fn token_cache() -> &'static TokenCache {
    static CACHE: OnceLock<TokenCache> = OnceLock::new();
    CACHE.get_or_init(|| TokenCache {
        generation: AtomicU64::new(0),
        live: Mutex::new(HashMap::new()),
        revoked: Mutex::new(HashSet::new()),
    })
}

/// [`check`] from memory: `None` when the token is not cached (or its answer is older than
/// [`CACHE_FOR`], or it was revoked through this process) — ask [`check_remembering`] then.
pub fn check_cached(presented: &str, now: NaiveDateTime) -> Option<Result<Principal, Refusal>> {
    if presented.len() != 46 || !presented.starts_with("oc_") {
        return Some(Err(Refusal::Unknown));
    }
    let cache = token_cache();
    let hash = super::token_hash(presented);
    let found = {
        let live = cache.live.lock().unwrap_or_else(PoisonError::into_inner);
        let c = live.get(&hash).filter(|c| c.at.elapsed() < CACHE_FOR)?;
        (c.principal.clone(), c.expires_at)
    };
    let (principal, expires_at) = found;
    let revoked = cache.revoked.lock().unwrap_or_else(PoisonError::into_inner);
    if revoked.contains(&principal.token_id) {
        return None;
    }
    if expires_at.is_some_and(|t| t <= now) {
        return Some(Err(Refusal::Expired));
    }
    Some(Ok(principal))
}

/// [`check`], remembering a live token's answer for [`check_cached`] — unless a revocation
/// through this process began meanwhile.
pub fn check_remembering(
    conn: &mut DbConn,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Result<Principal, Refusal>, AuthError> {
    let cache = token_cache();
    let generation = cache.generation.load(Ordering::SeqCst);
    let answer = check_row(conn, presented, now)?;
    if let Ok((principal, expires_at)) = &answer {
        let expires_at = *expires_at;
        let revoked = cache.revoked.lock().unwrap_or_else(PoisonError::into_inner);
        if !revoked.contains(&principal.token_id)
            && cache.generation.load(Ordering::SeqCst) == generation
        {
            let mut live = cache.live.lock().unwrap_or_else(PoisonError::into_inner);
            if live.len() >= CACHE_MAX {
                live.clear();
            }
            live.insert(
                super::token_hash(presented),
                Cached {
                    principal: principal.clone(),
                    expires_at,
                    at: Instant::now(),
                },
            );
        }
    }
    Ok(answer.map(|(p, _)| p))
}

/// Marks token `id` as revoked for the cache, before the revocation is written: from now on
/// this process asks the database about it.
fn forget(id: &str) {
    let cache = token_cache();
    let mut revoked = cache.revoked.lock().unwrap_or_else(PoisonError::into_inner);
    cache.generation.fetch_add(1, Ordering::SeqCst);
    revoked.insert(id.to_string());
    let mut live = cache.live.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|_, c| c.principal.token_id != id);
}

/// Takes the write lock on token `id`'s row before anything is read in a transaction (a row
/// lock on PostgreSQL; the database's write lock, waited for, on SQLite — where a transaction
/// that reads first and then writes fails at once when another write came in between).
/// `false` when there is no such token.
fn lock(conn: &mut DbConn, id: &str) -> Result<bool, AuthError> {
    let touched = diesel::update(api_tokens::table.find(id))
        .set(api_tokens::revoked_at.eq(api_tokens::revoked_at))
        .execute(conn)?;
    Ok(touched > 0)
}

/// Revokes the token `id` at `now`: from then on it is refused (`token_revoked`). Audited as
/// `key.revoke` with the token before and after. Revoking a revoked token changes nothing and
/// is not audited again. `None` when there is no such token.
pub fn revoke(
    conn: &mut DbConn,
    id: &str,
    by: &str,
    now: NaiveDateTime,
) -> Result<Option<TokenInfo>, AuthError> {
    forget(id);
    crate::db::write_txn::<_, AuthError, _>(conn, |conn| {
        if !lock(conn, id)? {
            return Ok(None);
        }
        let Some(before) = get(conn, id)? else {
            return Ok(None);
        };
        if before.revoked_at.is_some() {
            return Ok(Some(before));
        }
        diesel::update(api_tokens::table.find(id))
            .set(api_tokens::revoked_at.eq(Some(now)))
            .execute(conn)?;
        // Read back: the time as stored (PostgreSQL keeps microseconds).
        let Some(after) = get(conn, id)? else {
            return Ok(None);
        };
        audit::record_at(
            conn,
            AuditEvent {
                actor: by,
                action: "key.revoke",
                subject: &format!("token:{id}"),
                before: Some(serde_json::to_value(&before).unwrap_or_default()),
                after: Some(serde_json::to_value(&after).unwrap_or_default()),
            },
            now,
        )?;
        Ok(Some(after))
    })
}

/// Records that the token `id` was used at `at` (never moving the time backwards). The caller
/// asks [`LastUsedThrottle::due`] first and writes off the answer's path.
pub fn record_last_used(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> Result<(), AuthError> {
    diesel::update(api_tokens::table.find(id))
        .filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.lt(at)),
        )
        .set(api_tokens::last_used_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

/// How often "last used" is written per token and instance, at most.
pub const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Remembers, in this process, when each token's "last used" was last written, so it is written
/// at most once per [`LAST_USED_EVERY`] however many requests the token makes.
#[derive(Debug)]
pub struct LastUsedThrottle {
    every: Duration,
    written: Mutex<HashMap<String, Instant>>,
}

/// Past this many remembered tokens the stale ones are forgotten.
const THROTTLE_PRUNE_AT: usize = 10_000;

impl LastUsedThrottle {
    /// A throttle that lets one write through per token every `every`.
    pub fn new(every: Duration) -> LastUsedThrottle {
        LastUsedThrottle {
            every,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a use of `token_id` at `now` should be written; if so, it counts as written.
    pub fn due(&self, token_id: &str, now: Instant) -> bool {
        // A poisoned lock only means another request panicked mid-update: the map is still a
        // map of instants, so carry on with it.
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = written.get(token_id) {
            if now.saturating_duration_since(*last) < self.every {
                return false;
            }
        }
        if written.len() >= THROTTLE_PRUNE_AT {
            let every = self.every;
            written.retain(|_, last| now.saturating_duration_since(*last) < every);
        }
        written.insert(token_id.to_string(), now);
        true
    }
}

/// The process's throttle (one per instance: several instances each write at most once a
/// minute per token).
pub fn last_used_throttle() -> &'static LastUsedThrottle {
    static THROTTLE: OnceLock<LastUsedThrottle> = OnceLock::new();
    THROTTLE.get_or_init(|| LastUsedThrottle::new(LAST_USED_EVERY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_lets_one_write_a_minute_through_per_token() {
        let throttle = LastUsedThrottle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(throttle.due("a", t0), "the first use is written");
        assert!(!throttle.due("a", t0 + Duration::from_secs(1)));
        assert!(!throttle.due("a", t0 + Duration::from_secs(59)));
        assert!(throttle.due("b", t0 + Duration::from_secs(2)), "per token");
        assert!(throttle.due("a", t0 + Duration::from_secs(60)));
        assert!(!throttle.due("a", t0 + Duration::from_secs(61)));
        // A clock reading from before the last write is not a minute later.
        assert!(!throttle.due("a", t0));
    }

    #[test]
    fn the_throttle_forgets_stale_tokens_but_not_recent_ones() {
        let throttle = LastUsedThrottle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..THROTTLE_PRUNE_AT {
            assert!(throttle.due(&format!("old{i}"), t0));
        }
        let later = t0 + Duration::from_secs(30);
        assert!(throttle.due("recent", later));
        let after = t0 + Duration::from_secs(61);
        assert!(throttle.due("new", after));
        let size = throttle.written.lock().map(|m| m.len()).unwrap_or(0);
        assert_eq!(size, 2, "the old ones are forgotten, 'recent' is kept");
        assert!(!throttle.due("recent", after));
    }

    #[test]
    fn revoked_wins_over_expired() {
        let at =
            |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_default();
        let mut t = TokenInfo {
            id: "0011223344556677".into(),
            name: "x".into(),
            role: "clerk".into(),
            person_id: None,
            created_at: at("2026-12-01 00:00:00"),
            created_by: "cli".into(),
            expires_at: Some(at("2026-12-02 00:00:00")),
            last_used_at: None,
            revoked_at: None,
        };
        assert_eq!(t.status(at("2026-12-01 23:59:59")), TokenStatus::Live);
        assert_eq!(t.status(at("2026-12-02 00:00:00")), TokenStatus::Expired);
        t.revoked_at = Some(at("2026-12-01 12:00:00"));
        assert_eq!(t.status(at("2026-12-01 13:00:00")), TokenStatus::Revoked);
        assert_eq!(t.status(at("2026-12-03 00:00:00")), TokenStatus::Revoked);
    }
}

//! Access (DESIGN §7): roles, API tokens, and the treasury's request-signing secrets.
//!
//! A token is 256 random bits shown once (`oc_` + base64url) and stored only as its SHA-256.
//! Each token carries one role, may expire, and can be revoked ([`tokens`]: the lifecycle, and
//! the one check every call makes). Staff users are disabled, enabled and reset in [`users`].
//! A treasury client's HMAC secret is derived from the service's
//! master key and the token id, so it too is never stored; it rotates with an overlap
//! ([`treasury_secrets`]). The signing keys' ids and validity are in [`signing_keys`].
//!
//! Every token and staff user belongs to a [`persons`] person: the identity the four-eyes rules
//! compare ([`Principal::is_same_person`]).
//!
//! May depend on: `db`, `audit`, `keys`, `text`.

pub mod may;
pub mod password;
pub mod persons;
pub mod request_signing;
pub mod signing_keys;
pub mod staff;
pub mod tokens;
pub mod treasury_secrets;
pub mod users;

use base64::Engine;
use chrono::Utc;
use diesel::prelude::*;
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEvent};
use crate::db::schema::api_tokens;
use crate::db::{DbConn, DbError};
use crate::keys::{random_bytes, KeyError, ServiceKeys};

crate::text_enum! {
    /// What a token may do.
    #[derive(Hash, PartialOrd, Ord, Deserialize, utoipa::ToSchema)]
    #[strum(parse_err_ty = AuthError, parse_err_fn = unknown_role)]
    pub enum Role as "role" {
        /// Counter clerk: takes payments, voids, requests refunds.
        Clerk,
        /// Finance staff: imports, reconciles, closes days, prepares remittances.
        Finance,
        /// Supervisor: approves refunds, write-offs, remittances; manual ledger entries.
        Supervisor,
        /// Auditor / supervision system: reads everything, changes nothing.
        Auditor,
        /// Treasury system: pulls and acknowledges remittances (requests also HMAC-signed).
        Treasury,
        /// Administrator: fee catalogue, configuration.
        Admin,
    }
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Clerk,
        Role::Finance,
        Role::Supervisor,
        Role::Auditor,
        Role::Treasury,
        Role::Admin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_role(s: &str) -> AuthError {
    AuthError::UnknownRole(s.to_string())
}

/// Who is calling: the token's (or staff user's) id, name, role and person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The token id (public, 16 hex digits), or the staff user's id for a web session.
    pub token_id: String,
    /// The name given at creation (a person or a system).
    pub name: String,
    /// Its one role.
    pub role: Role,
    /// The person behind it (`per_…`): one across their tokens and their staff sign-in.
    pub person_id: String,
}

impl Principal {
    /// How the principal appears in entries and the audit log: `role:name`.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }

    /// Whether this principal is the person stored as having done the first step of a
    /// four-eyes rule (requested, proposed, prepared, posted). The one comparison every such
    /// rule makes: persons, never names or tokens. Nothing stored (a step by the system, or
    /// from before persons were recorded and matching no one) is no one's.
    pub fn is_same_person(&self, stored_person_id: Option<&str>) -> bool {
        stored_person_id == Some(self.person_id.as_str())
    }
}

/// Access errors.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not one of the six roles.
    #[error("unknown role '{0}' (one of clerk, finance, supervisor, auditor, treasury, admin)")]
    UnknownRole(String),
    /// The name is empty or too long.
    #[error("a name must be 1–100 characters")]
    BadName,
    /// `--person` names no person.
    #[error("no person '{0}' (onecard persons list shows them)")]
    UnknownPerson(String),
    /// A stored token or user names no person (the migration gives every one a person).
    #[error("{0} belongs to no person")]
    NoPerson(String),
    /// Keys could not be loaded or randomness failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        AuthError::Db(DbError::Query(e))
    }
}

/// A freshly made token: shown once, never again.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Public id.
    pub id: String,
    /// The bearer token.
    pub token: String,
    /// For treasury tokens, the HMAC request-signing secret.
    pub secret: Option<String>,
    /// The person it belongs to.
    pub person_id: String,
}

/// SHA-256 of a presented token: what is stored and looked up.
pub fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// The label from which a treasury client's secret is derived.
fn treasury_secret_label(token_id: &str) -> String {
    format!("onecard-treasury-request-secret\n{token_id}")
}

/// The HMAC secret of a treasury token as first printed (generation 0; later generations:
/// [`treasury_secrets::secret_of`]).
pub fn treasury_secret(keys: &ServiceKeys, token_id: &str) -> String {
    keys.derive_secret(&treasury_secret_label(token_id))
}

/// Makes a token for `role` and a new person of its name; see [`create_token_for`].
pub fn create_token(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    role: Role,
    name: &str,
    created_by: &str,
) -> Result<IssuedToken, AuthError> {
    create_token_for(conn, keys, role, name, None, created_by)
}

/// Makes a token for `role` belonging to `person` (a new person named `name` when `None`)
/// that never expires; see [`create_token_as`].
pub fn create_token_for(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    role: Role,
    name: &str,
    person: Option<&str>,
    created_by: &str,
) -> Result<IssuedToken, AuthError> {
    let token = NewToken {
        role,
        name,
        person,
        expires_at: None,
        created_by,
    };
    create_token_as(conn, keys, token)
}

/// What a new token is.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// Its one role.
    pub role: Role,
    /// Who or what it is for.
    pub name: &'a str,
    /// The person it belongs to; `None` makes a new person of its name.
    pub person: Option<&'a str>,
    /// When it stops being accepted (UTC); `None` for never.
    pub expires_at: Option<chrono::NaiveDateTime>,
    /// Who makes it (audit).
    pub created_by: &'a str,
}

/// Makes a token, stores its hash and audits the creation (`key.create`), in one transaction.
pub fn create_token_as(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    new: NewToken<'_>,
) -> Result<IssuedToken, AuthError> {
    let NewToken {
        role,
        name,
        person,
        expires_at,
        created_by,
    } = new;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AuthError::BadName);
    }
    let id = hex::encode(random_bytes::<8>()?);
    let token = format!(
        "oc_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    );
    let hash = token_hash(&token);
    // A named person is looked up before the transaction, so the transaction writes first
    // (on SQLite one that reads first fails at once when another write came in between).
    let known = match person.map(str::trim) {
        Some(id) => Some(
            persons::get(conn, id)?
                .ok_or_else(|| AuthError::UnknownPerson(id.to_string()))?
                .id,
        ),
        None => None,
    };
    let person_id = crate::db::write_txn::<_, AuthError, _>(conn, |conn| {
        let person_id = match known {
            Some(p) => p,
            None => persons::for_new_credential(conn, None, name, created_by)?,
        };
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::id.eq(&id),
                api_tokens::name.eq(name),
                api_tokens::role.eq(role.as_str()),
                api_tokens::token_hash.eq(&hash),
                api_tokens::created_at.eq(Utc::now().naive_utc()),
                api_tokens::created_by.eq(created_by),
                api_tokens::person_id.eq(&person_id),
                api_tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                actor: created_by,
                action: "key.create",
                subject: &format!("token:{id}"),
                before: None,
                after: Some(serde_json::json!({
                    "id": id, "name": name, "role": role, "person": person_id,
                    "expires_at": expires_at,
                })),
            },
        )?;
        Ok(person_id)
    })?;
    let secret = (role == Role::Treasury).then(|| treasury_secret(keys, &id));
    Ok(IssuedToken {
        id,
        token,
        secret,
        person_id,
    })
}

/// The live token behind a presented bearer value; `None` for an unknown, revoked or expired
/// one. [`tokens::check`] tells those apart (the API answers each with its own code).
pub fn authenticate(conn: &mut DbConn, presented: &str) -> Result<Option<Principal>, AuthError> {
    Ok(tokens::check(conn, presented, Utc::now().naive_utc())?.ok())
}

/// A principal from a stored token's or user's columns; one without a person is refused.
fn principal(
    id: String,
    name: String,
    role: &str,
    person_id: Option<String>,
) -> Result<Principal, AuthError> {
    let person_id = person_id.ok_or_else(|| AuthError::NoPerson(id.clone()))?;
    Ok(Principal {
        role: role.parse()?,
        token_id: id,
        name,
        person_id,
    })
}

/// How long a seen treasury request signature is remembered: longer than any timestamp the
/// signature check accepts (±[`request_signing::MAX_AGE_SECS`]).
const SEEN_SIGNATURES_KEPT_SECS: i64 = 3 * request_signing::MAX_AGE_SECS;

/// Records a treasury request signature as used. `false` if it was used before (a replay).
/// The database's primary key decides, so several service instances agree.
pub fn remember_request_signature(
    conn: &mut DbConn,
    token_id: &str,
    signature: &[u8],
) -> Result<bool, AuthError> {
    use crate::db::schema::treasury_request_nonces as n;
    let now = Utc::now().naive_utc();
    diesel::delete(
        n::table.filter(n::seen_at.lt(now - chrono::Duration::seconds(SEEN_SIGNATURES_KEPT_SECS))),
    )
    .execute(conn)?;
    match diesel::insert_into(n::table)
        .values((
            n::token_id.eq(token_id),
            n::signature.eq(signature),
            n::seen_at.eq(now),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_stored_as_in_json_and_unknown_ones_are_refused() {
        for role in Role::ALL {
            let json = serde_json::to_value(role).unwrap_or_default();
            assert_eq!(json.as_str(), Some(role.as_str()), "{role:?}");
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role), "{role:?}");
        }
        assert!(matches!("root".parse::<Role>(), Err(AuthError::UnknownRole(r)) if r == "root"));
    }

    #[test]
    fn the_same_person_is_the_same_whatever_token_name_or_role() {
        let li = |token: &str, name: &str, role| Principal {
            token_id: token.into(),
            name: name.into(),
            role,
            person_id: "per_li".into(),
        };
        let at_counter = li("t1", "li", Role::Clerk);
        // Another token, another name, another role, a staff sign-in: still li.
        for other in [
            li("t2", "li (supervisor)", Role::Supervisor),
            li("usr_9", "li.kuaiji", Role::Finance),
        ] {
            assert!(other.is_same_person(Some(&at_counter.person_id)));
        }
        // The same name and token id on another person is someone else; nothing stored is no one.
        let namesake = Principal {
            person_id: "per_other".into(),
            ..at_counter.clone()
        };
        assert!(!namesake.is_same_person(Some("per_li")));
        assert!(!at_counter.is_same_person(None));
        assert!(!at_counter.is_same_person(Some("")));
    }
}

//! The key files and the database agree, or the service does not start (DESIGN §7).
//!
//! On start ([`open_keys`]): a rotation left half done is finished (or its unrecorded key
//! dropped); a missing `signing-ed25519.pk8` while the database holds signed data, or a missing
//! `hmac-master.key` while it holds anything keyed by it, is refused with what depends on the
//! file and how to restore it — keys are never made again silently under data that needs the
//! old ones; the first start with no signing key registered registers the key file's key; a
//! key file that is not the key the database names current is refused (the file was swapped).
//! A fresh, empty database still gets new keys on its first start.
//!
//! The operator's commands: [`rotate_signing`] (routine), [`rotate_signing_after_loss`] (the
//! key file is gone for good: a new key id starts, the loss is audited, old ids stay
//! published), [`replace_master_after_loss`].

use std::path::{Path, PathBuf};

use chrono::Utc;
use diesel::prelude::*;

use super::StartError;
use crate::auth::signing_keys::{self, Retirement};
use crate::db::schema::{api_tokens, idempotency_keys, payments, staff_sessions};
use crate::db::{DbConn, DbError};
use crate::keys::{self, KeyError, KeyFilesPresent, ServiceKeys, MASTER_FILE, SIGNING_FILE};

/// What restores a missing signing key file, in words (the refusal and the README say it).
pub const SIGNING_REMEDY: &str = "restore the key folder from its backup and start again; \
     if the key is lost for good, `onecard keys rotate-signing --after-loss` records the loss \
     in the audit trail and starts a new key id (earlier seals and files keep verifying with \
     the old public key, which stays published at GET /v1/signing-keys)";

/// What restores a missing HMAC master key file, in words.
pub const MASTER_REMEDY: &str = "restore the key folder from its backup and start again; \
     if the key is lost for good, `onecard keys replace-master --after-loss` makes a new one and \
     records the loss: every treasury client then needs a new secret \
     (`onecard keys rotate-secret <id> --overlap-hours 0`), staff sign in again, stored payer \
     hashes match nothing and a payment retried with an old Idempotency-Key is refused";

/// Why a key command cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    /// `--after-loss` while the file is there.
    #[error("{0} is there: it is not lost (rotate without --after-loss)")]
    NotLost(PathBuf),
    /// The key files.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Storage.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What the database holds that is keyed by the HMAC master key, in words (empty: nothing).
pub fn keyed_data(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let now = Utc::now().naive_utc();
    let idempotency: i64 = idempotency_keys::table.count().get_result(conn)?;
    let payers: i64 = payments::table
        .filter(payments::payer_id_hmac.is_not_null())
        .count()
        .get_result(conn)?;
    let treasury: i64 = api_tokens::table
        .filter(api_tokens::role.eq("treasury"))
        .filter(api_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    let sessions: i64 = staff_sessions::table
        .filter(staff_sessions::revoked_at.is_null())
        .filter(staff_sessions::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok([
        (idempotency, "idempotency key hash(es)"),
        (payers, "payer identity hash(es)"),
        (
            treasury,
            "treasury token(s) whose request secrets derive from it",
        ),
        (sessions, "live staff session(s)"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect())
}

/// Finishes a rotation interrupted between recording the new key and putting its file in
/// place, or drops a staged key the database never took.
fn finish_staged_rotation(conn: &mut DbConn, dir: &Path) -> Result<(), StartError> {
    let Some(staged) = keys::signing_file_public_key(&dir.join(keys::NEXT_SIGNING_FILE))? else {
        return Ok(());
    };
    if signing_keys::current_kid(conn)?.as_deref() == Some(staged.kid.as_str()) {
        keys::promote_next_signing(dir)?;
        tracing::warn!(kid = %staged.kid, "an interrupted signing-key rotation was finished");
    } else {
        keys::discard_next_signing(dir);
        tracing::warn!(kid = %staged.kid, "a staged signing key that was never recorded was dropped");
    }
    Ok(())
}

fn missing(dir: &Path, file: &str, holds: Vec<String>, remedy: &'static str) -> StartError {
    StartError::MissingKeyFile {
        file: dir.join(file),
        holds: holds.join(", "),
        remedy,
    }
}

/// Loads the service's keys for a start, refusing when the files and the database disagree
/// (see the module doc), and registers the first signing key.
pub fn open_keys(conn: &mut DbConn, dir: &Path) -> Result<ServiceKeys, StartError> {
    finish_staged_rotation(conn, dir)?;
    let present = KeyFilesPresent::in_dir(dir);
    if !present.signing {
        let holds = signing_keys::signed_data(conn)?;
        if !holds.is_empty() {
            return Err(missing(dir, SIGNING_FILE, holds, SIGNING_REMEDY));
        }
    }
    if !present.master {
        let holds = keyed_data(conn)?;
        if !holds.is_empty() {
            return Err(missing(dir, MASTER_FILE, holds, MASTER_REMEDY));
        }
    }
    let keys = ServiceKeys::load_or_create(dir)?;
    if signing_keys::register_first(conn, &keys, Utc::now().naive_utc())? {
        tracing::info!(kid = %keys.kid(), "signing key registered");
    }
    match signing_keys::current_kid(conn)? {
        Some(current) if current != keys.kid() => Err(StartError::SigningKeyNotCurrent {
            file: dir.join(SIGNING_FILE),
            found: keys.kid(),
            current,
        }),
        _ => Ok(keys),
    }
}

/// `onecard keys rotate-signing`: a new signing key becomes current now and the old one is
/// retired (its public key stays published; its private half is not kept). The running
/// `keys` sign with the new key at once; other instances pick it up at their next signature.
/// Answers (retired kid, new kid).
pub fn rotate_signing(
    conn: &mut DbConn,
    keys: &ServiceKeys,
    actor: &str,
) -> Result<(Option<String>, String), KeyAdminError> {
    let dir = keys.dir();
    let staged = keys::stage_next_signing(dir)?;
    let old = match signing_keys::record_rotation(
        conn,
        &staged,
        Retirement::Rotated,
        actor,
        Utc::now().naive_utc(),
    ) {
        Ok(old) => old,
        Err(e) => {
            keys::discard_next_signing(dir);
            return Err(e.into());
        }
    };
    keys::promote_next_signing(dir)?;
    keys.reload_signing()?;
    Ok((old, staged.kid))
}

/// `onecard keys rotate-signing --after-loss`: the signing key file is gone for good. A new key
/// is made and recorded current, the lost one retired (still published: what it signed still
/// verifies), and the loss audited. Refused while the file is there. Answers (lost kid, new kid).
pub fn rotate_signing_after_loss(
    conn: &mut DbConn,
    dir: &Path,
    actor: &str,
) -> Result<(Option<String>, String), KeyAdminError> {
    let path = dir.join(SIGNING_FILE);
    if path.exists() {
        return Err(KeyAdminError::NotLost(path));
    }
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let staged = keys::stage_next_signing(dir)?;
    let lost = match signing_keys::record_rotation(
        conn,
        &staged,
        Retirement::Lost,
        actor,
        Utc::now().naive_utc(),
    ) {
        Ok(lost) => lost,
        Err(e) => {
            keys::discard_next_signing(dir);
            return Err(e.into());
        }
    };
    keys::promote_next_signing(dir)?;
    Ok((lost, staged.kid))
}

/// `onecard keys replace-master --after-loss`: the HMAC master key file is gone for good. A new
/// one is made and the loss audited with what depended on the old one. Refused while the file
/// is there.
pub fn replace_master_after_loss(
    conn: &mut DbConn,
    dir: &Path,
    actor: &str,
) -> Result<Vec<String>, KeyAdminError> {
    let path = dir.join(MASTER_FILE);
    if path.exists() {
        return Err(KeyAdminError::NotLost(path));
    }
    let holds = keyed_data(conn)?;
    keys::create_master(dir)?;
    signing_keys::record_master_loss(conn, &holds, actor)?;
    Ok(holds)
}

//! Putting an SQLite backup back in place of the database (`onecard restore`): only while
//! nothing uses the database ([`super::usage`]), only a sound copy of a onecard database this
//! binary knows, never over newer books without being told to, and never destroying the file
//! it replaces. What the restored books hold is checked afterwards by `onecard verify`.
//!
//! The steps: the backup is copied beside the database as `<db>.restoring` and checked there
//! (integrity, onecard's tables, migrations this binary knows, and against the live chain);
//! fsynced; the live database and its `-wal` are moved aside as `<db>.replaced-<UTC time>`
//! (`-shm` is removed); the copy is renamed into place and the folder fsynced. A `-wal` left
//! beside the new file would be replayed into it, so none is left.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::usage::{DbUse, UsageError};
use super::{DbTarget, SQLITE_MIGRATIONS};

/// Why nothing was restored. In every case the live database is as it was.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// PostgreSQL is restored with its own tools.
    #[error("PostgreSQL is restored with its own tools: pg_restore --dbname=<empty database> onecard.dump, then onecard verify; see the README")]
    Postgres,
    /// Something has the database open.
    #[error(transparent)]
    InUse(#[from] UsageError),
    /// The backup is not there, or is the database itself.
    #[error("{0}")]
    BadSource(String),
    /// The backup is damaged or not a onecard database.
    #[error("{path} cannot be restored: {why}")]
    Unsound {
        /// The backup.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The backup was made by a newer onecard.
    #[error("{path} was made by a newer onecard: migration(s) {unknown} are unknown to this binary; restore it with the onecard that made it")]
    NewerSchema {
        /// The backup.
        path: PathBuf,
        /// The migration versions this binary does not have.
        unknown: String,
    },
    /// Restoring would drop ledger entries the live database holds.
    #[error("{0}; nothing was changed. Restore it all the same with --force (the database it replaces is kept beside it)")]
    WouldLose(String),
    /// A file operation failed part way.
    #[error("{0}")]
    Io(String),
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The database file now holding the backup.
    pub database: PathBuf,
    /// Where the database it replaced was moved, if there was one.
    pub replaced: Option<PathBuf>,
    /// The backup's chain head (entries in it).
    pub entries: i64,
    /// Migrations the backup lacks (applied when the database is next opened).
    pub pending_migrations: usize,
    /// The exclusive use of the database, held until the caller has verified it.
    pub lock: DbUse,
}

#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    hash: Vec<u8>,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct EntryHash {
    #[diesel(sql_type = diesel::sql_types::Binary)]
    hash: Vec<u8>,
}

/// `onecard.db` + `-wal` → `onecard.db-wal`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> RestoreError {
    RestoreError::Io(format!("{what} {}: {e}", path.display()))
}

fn open(path: &Path) -> Result<SqliteConnection, String> {
    let text = path.to_str().ok_or("the path is not UTF-8")?;
    let mut conn = SqliteConnection::establish(text).map_err(|e| e.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 1000;")
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn head(conn: &mut SqliteConnection) -> Result<(i64, Vec<u8>), String> {
    let head: Head = diesel::sql_query("SELECT seq, hash FROM ledger_head WHERE id = 1")
        .get_result(conn)
        .map_err(|e| format!("no ledger chain head: {e}"))?;
    Ok((head.seq, head.hash))
}

/// The backup as it was checked: its chain head and the migrations it lacks.
struct Checked {
    head: (i64, Vec<u8>),
    pending: usize,
}

/// Integrity, onecard's own tables, and migrations this binary knows.
fn check_backup(copy: &Path, shown: &Path) -> Result<Checked, RestoreError> {
    let unsound = |why: String| RestoreError::Unsound {
        path: shown.to_path_buf(),
        why,
    };
    let mut conn = open(copy).map_err(unsound)?;
    let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(|e| unsound(format!("not a readable SQLite database ({e})")))?;
    if checks.len() != 1 || checks[0].integrity_check != "ok" {
        return Err(unsound(format!(
            "it fails its integrity check: {}",
            checks
                .iter()
                .map(|c| c.integrity_check.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let applied: BTreeSet<String> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(&mut conn)
            .map_err(|e| unsound(format!("not a onecard database (no migrations table: {e})")))?
            .into_iter()
            .map(|v| v.version)
            .collect();
    let known: BTreeSet<String> = MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
        .map_err(|e| RestoreError::Io(format!("this binary's migrations: {e}")))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let first = known.first().cloned().unwrap_or_default();
    if !applied.contains(&first) {
        return Err(unsound(format!(
            "not a onecard database (its migrations do not start with onecard's first, {first})"
        )));
    }
    let unknown: Vec<&str> = applied.difference(&known).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(RestoreError::NewerSchema {
            path: shown.to_path_buf(),
            unknown: unknown.join(", "),
        });
    }
    let head = head(&mut conn).map_err(|e| unsound(format!("not a onecard database ({e})")))?;
    Ok(Checked {
        head,
        pending: known.difference(&applied).count(),
    })
}

/// What restoring over the live database would lose, if anything: entries beyond the backup's
/// head, or a chain that is not the backup's. `None` when the backup holds everything the live
/// chain does.
fn what_would_be_lost(live: &Path, backup: &Path, backup_head: &(i64, Vec<u8>)) -> Option<String> {
    let mut conn = match open(live) {
        Ok(c) => c,
        Err(e) => return Some(format!("the live database cannot be read ({e})")),
    };
    let (seq, hash) = match head(&mut conn) {
        Ok(h) => h,
        Err(e) => return Some(format!("the live database cannot be read ({e})")),
    };
    drop(conn);
    if seq == 0 {
        return None;
    }
    if seq > backup_head.0 {
        return Some(format!(
            "the live database is newer than the backup: it holds {seq} ledger entries, the backup {}; restoring would drop the last {}",
            backup_head.0,
            seq - backup_head.0
        ));
    }
    // The backup's chain must pass through the live head.
    let same = open(backup).ok().and_then(|mut b| {
        diesel::sql_query("SELECT hash FROM ledger_entries WHERE seq = ?")
            .bind::<diesel::sql_types::BigInt, _>(seq)
            .get_result::<EntryHash>(&mut b)
            .ok()
    });
    match same {
        Some(e) if e.hash == hash => None,
        _ => Some(format!(
            "the live database's ledger ({seq} entries) is not a beginning of the backup's: they have parted ways"
        )),
    }
}

fn remove_if_there(path: &Path) -> Result<(), RestoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot remove", path, e)),
    }
}

fn rename_if_there(from: &Path, to: &Path) -> Result<bool, RestoreError> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("cannot move", from, e)),
    }
}

fn fsync_dir(dir: &Path) -> Result<(), RestoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync the folder", dir, e))
}

/// Restores the SQLite backup `from` in place of `target`'s database (see the module doc).
/// Refuses, changing nothing, while anything uses the database, when the backup is unsound or
/// from a newer onecard, and — unless `force` — when the live database holds ledger entries the
/// backup does not.
pub fn restore_sqlite(
    target: &DbTarget,
    from: &Path,
    force: bool,
) -> Result<Restored, RestoreError> {
    let DbTarget::Sqlite(live) = target else {
        return Err(RestoreError::Postgres);
    };
    let lock = DbUse::exclusive(live)?;
    if !from.is_file() {
        return Err(RestoreError::BadSource(format!(
            "{} is not a file",
            from.display()
        )));
    }
    if let (Ok(a), Ok(b)) = (from.canonicalize(), live.canonicalize()) {
        if a == b {
            return Err(RestoreError::BadSource(format!(
                "{} is the database itself",
                from.display()
            )));
        }
    }
    if std::fs::metadata(beside(from, "-wal")).is_ok_and(|m| m.len() > 0) {
        return Err(RestoreError::Unsound {
            path: from.to_path_buf(),
            why: "a -wal file beside it holds part of it: it is a live database's file, not a backup (make one with onecard backup)".into(),
        });
    }
    let staged = beside(live, ".restoring");
    for stale in [
        staged.clone(),
        beside(&staged, "-wal"),
        beside(&staged, "-shm"),
    ] {
        remove_if_there(&stale)?;
    }
    std::fs::copy(from, &staged).map_err(|e| io("cannot copy", from, e))?;
    let checked = check_backup(&staged, from);
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    // Reading the copy may have left a -wal (a backup in WAL mode): fold it in and drop it.
    if let Ok(mut c) = open(&staged) {
        let _ = c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);");
    }
    remove_if_there(&beside(&staged, "-wal"))?;
    remove_if_there(&beside(&staged, "-shm"))?;
    if live.exists() && !force {
        if let Some(loss) = what_would_be_lost(live, &staged, &checked.head) {
            let _ = std::fs::remove_file(&staged);
            return Err(RestoreError::WouldLose(loss));
        }
    }
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot sync", &staged, e))?;

    let (live_wal, live_shm) = (beside(live, "-wal"), beside(live, "-shm"));
    let replaced = if live.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = beside(live, &format!(".replaced-{stamp}"));
        rename_if_there(live, &aside)?;
        // Kept with its -wal, the replaced database opens as it was.
        rename_if_there(&live_wal, &beside(&aside, "-wal"))?;
        Some(aside)
    } else {
        None
    };
    remove_if_there(&live_wal)?;
    remove_if_there(&live_shm)?;
    std::fs::rename(&staged, live).map_err(|e| io("cannot move into place", &staged, e))?;
    if let Some(dir) = live.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsync_dir(dir)?;
    }
    Ok(Restored {
        database: live.clone(),
        replaced,
        entries: checked.head.0,
        pending_migrations: checked.pending,
        lock,
    })
}

/// What a database holds, in the words an operator checks a restore by.
#[derive(Debug, serde::Serialize)]
pub struct Holdings {
    /// Ledger entries (the chain head's sequence number).
    pub entries: i64,
    /// The latest closed and sealed business day.
    pub last_sealed_day: Option<chrono::NaiveDate>,
    /// When the latest payment was taken (UTC).
    pub last_payment_at: Option<chrono::NaiveDateTime>,
}

/// Reads [`Holdings`] from a database of either backend.
pub fn holdings(conn: &mut super::DbConn) -> Result<Holdings, super::DbError> {
    use super::schema::{business_days, ledger_head, payments};
    use diesel::dsl::max;
    use diesel::{ExpressionMethods, QueryDsl};
    let entries = ledger_head::table
        .filter(ledger_head::id.eq(1))
        .select(ledger_head::seq)
        .first::<i64>(conn)?;
    let last_sealed_day = business_days::table
        // `DayStatus::Closed` as stored (the ledger's type is above this module).
        .filter(business_days::status.eq("closed"))
        .select(max(business_days::business_date))
        .first::<Option<chrono::NaiveDate>>(conn)?;
    let last_payment_at = payments::table
        .select(max(payments::created_at))
        .first::<Option<chrono::NaiveDateTime>>(conn)?;
    Ok(Holdings {
        entries,
        last_sealed_day,
        last_payment_at,
    })
}

//! Who is using an SQLite database, told by an advisory lock on `<database>.lock` beside it:
//! every `onecard` command that opens the database (`serve` for its whole life, `nightly`,
//! `backup`, …) holds it shared, so they run side by side; `restore` takes it exclusively, so it
//! replaces the file only when nothing has it open, and nothing opens it during a restore.
//! The operating system drops the lock when a process ends, however it ends (`kill -9` too).
//! PostgreSQL needs none of this: it is restored with its own tools.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use super::DbTarget;

/// Why the database could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A restore holds the database.
    #[error("a restore of this database is under way ({0} is held exclusively); try again when it has finished")]
    Restoring(PathBuf),
    /// Services or commands have the database open.
    #[error("the database is in use ({lock} is held by {holders}); stop the service (and any cron job running onecard) first")]
    InUse {
        /// The lock file.
        lock: PathBuf,
        /// Who holds it, as far as the system tells (process ids and command lines).
        holders: String,
    },
    /// The lock file could not be made or locked.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// A held lock on the database; dropping it lets go.
#[derive(Debug)]
pub struct DbUse {
    _file: File,
}

/// `onecard.db` → `onecard.db.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    db.with_file_name(name)
}

fn open_lock(db: &Path) -> Result<(File, PathBuf), UsageError> {
    let path = lock_path(db);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| UsageError::Io(dir.to_path_buf(), e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| UsageError::Io(path.clone(), e))?;
    Ok((file, path))
}

impl DbUse {
    /// Shares the database with every other command (none on PostgreSQL); refused while a
    /// restore holds it.
    pub fn shared(target: &DbTarget) -> Result<Option<DbUse>, UsageError> {
        let DbTarget::Sqlite(db) = target else {
            return Ok(None);
        };
        let (file, path) = open_lock(db)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(DbUse { _file: file })),
            Err(TryLockError::WouldBlock) => Err(UsageError::Restoring(path)),
            Err(TryLockError::Error(e)) => Err(UsageError::Io(path, e)),
        }
    }

    /// Takes the SQLite database `db` for this process alone; refused, naming the holders,
    /// while anything else has it.
    pub fn exclusive(db: &Path) -> Result<DbUse, UsageError> {
        let (file, path) = open_lock(db)?;
        match file.try_lock() {
            Ok(()) => Ok(DbUse { _file: file }),
            Err(TryLockError::WouldBlock) => Err(UsageError::InUse {
                holders: holders(&path),
                lock: path,
            }),
            Err(TryLockError::Error(e)) => Err(UsageError::Io(path, e)),
        }
    }
}

/// The processes holding a lock on `lock`, as Linux lists them in `/proc/locks` (elsewhere, or
/// when that cannot be read: "another process").
fn holders(lock: &Path) -> String {
    let found = holder_pids(lock)
        .into_iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| {
                    raw.split(|b| *b == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            if cmdline.is_empty() {
                format!("process {pid}")
            } else {
                format!("process {pid}: {cmdline}")
            }
        })
        .collect::<Vec<_>>();
    if found.is_empty() {
        "another process".into()
    } else {
        found.join("; ")
    }
}

#[cfg(target_os = "linux")]
fn holder_pids(lock: &Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(meta), Ok(table)) = (
        std::fs::metadata(lock),
        std::fs::read_to_string("/proc/locks"),
    ) else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut pids: Vec<u32> = table
        .lines()
        .filter_map(|line| {
            // `1: FLOCK  ADVISORY  READ 4702 fe:00:10133507 0 EOF`
            let fields: Vec<&str> = line.split_whitespace().collect();
            let pid: u32 = fields.get(4)?.parse().ok()?;
            let inode: u64 = fields.get(5)?.rsplit(':').next()?.parse().ok()?;
            (inode == meta.ino() && pid != me).then_some(pid)
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

#[cfg(not(target_os = "linux"))]
fn holder_pids(_lock: &Path) -> Vec<u32> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_share_the_database_and_a_restore_excludes_them() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("onecard.db");
        let target = DbTarget::Sqlite(db.clone());
        assert_eq!(lock_path(&db), dir.path().join("onecard.db.lock"));
        let serve = DbUse::shared(&target).expect("serve").expect("sqlite");
        let cron = DbUse::shared(&target).expect("nightly beside serve");
        match DbUse::exclusive(&db) {
            Err(UsageError::InUse { .. }) => {}
            other => panic!("a restore beside a running service: {other:?}"),
        }
        drop((serve, cron));
        let restore = DbUse::exclusive(&db).expect("nothing uses it");
        assert!(matches!(
            DbUse::shared(&target),
            Err(UsageError::Restoring(_))
        ));
        drop(restore);
        assert!(DbUse::shared(&target).expect("free again").is_some());
        assert!(DbUse::shared(&DbTarget::Postgres("postgres://x/y".into()))
            .expect("postgres")
            .is_none());
    }
}

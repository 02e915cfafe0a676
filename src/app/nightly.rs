//! The nightly job: pick up the banks' files from the inbox, import each by the spec its name
//! fits, reconcile the previous business date, write the report, and file the inputs away.
//!
//! Folders (under the data directory unless configured): `inbox/` where files are dropped,
//! `archive/<date>/` for imported files, `rejected/` for files refused as corrupt (each with a
//! `.error.txt` saying why), `reports/` for the reports. A file whose name fits no spec stays in
//! the inbox and is named in the result: an operator must say what it is. The same steps run
//! from `onecard nightly` (for cron) and, when `ONECARD_NIGHTLY_AT` is set, inside `serve` at
//! that Asia/Shanghai time.
//!
//! Several instances may be scheduled to run it: [`run_once`] runs a night on one of them only.
//! It first takes the nightly job's exclusive right (`db::shared`: a PostgreSQL advisory lock,
//! an expiring lease row on SQLite) — an instance that cannot get it skips — and then runs a
//! business date only if no earlier run of it finished (`nightly_runs`); a run that failed or
//! whose process died leaves the night to be run again.
//!
//! Depends on: `bankfiles::store`, `recon::runs`, `db::shared`, [`super::AppContext`].

use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::AppContext;
use crate::bankfiles::store::{self, ImportError, ImportRequest};
use crate::db::schema::nightly_runs;
use crate::recon::runs;

/// The nightly job's name among exclusive jobs (the SQLite lease row).
pub const JOB: &str = "nightly";
/// Its PostgreSQL advisory lock number: "NIGHTLY" in ASCII.
pub const LOCK_KEY: i64 = 0x004e_4947_4854_4c59;

/// Where the nightly job looks and puts things.
#[derive(Debug, Clone)]
pub struct Folders {
    /// Dropped files.
    pub inbox: PathBuf,
    /// Imported files, by date of the run.
    pub archive: PathBuf,
    /// Files refused as corrupt.
    pub rejected: PathBuf,
    /// Reports.
    pub reports: PathBuf,
}

impl Folders {
    /// `inbox`, `archive`, `rejected`, `reports` under `root`.
    pub fn under(root: &Path) -> Folders {
        Folders {
            inbox: root.join("inbox"),
            archive: root.join("archive"),
            rejected: root.join("rejected"),
            reports: root.join("reports"),
        }
    }
}

/// What one night did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Night {
    /// The business date reconciled.
    pub business_date: Option<NaiveDate>,
    /// Files imported (or recognised as imported before): name, file id, records, duplicate.
    pub imported: Vec<(String, String, u64, bool)>,
    /// Files refused as corrupt: name and why.
    pub rejected: Vec<(String, String)>,
    /// Files left in the inbox because no spec fits their name.
    pub unrecognised: Vec<String>,
    /// The run.
    pub run_id: Option<String>,
    /// Open exceptions after the run.
    pub open_exceptions: i64,
    /// The report written (CSV; the JSON beside it).
    pub report: Option<PathBuf>,
}

/// Why the night could not finish (nothing about a single bad file: those are rejected).
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    /// A folder could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] runs::RunError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NightlyError + '_ {
    move |e| NightlyError::Io(path.display().to_string(), e)
}

/// The file name of a path read from a folder (every such path has one).
fn name_of(path: &Path) -> Result<String, NightlyError> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io(path)(std::io::Error::other("not a file name")))
}

/// Moves `from` into `dir`, never overwriting: `name`, `name.1`, `name.2`, …
fn file_away(from: &Path, dir: &Path) -> Result<PathBuf, NightlyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = name_of(from)?;
    let mut target = dir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    std::fs::rename(from, &target).map_err(io(from))?;
    Ok(target)
}

/// Runs the night for `date` (normally the previous business date). `progress` hears each
/// step in words, for a log or a terminal.
pub fn run(
    ctx: &AppContext,
    folders: &Folders,
    date: NaiveDate,
    progress: &mut dyn FnMut(&str),
) -> Result<Night, NightlyError> {
    let mut night = Night {
        business_date: Some(date),
        ..Night::default()
    };
    let files = ready_files(&folders.inbox)?;
    let archive = folders.archive.join(date.to_string());
    let mut conn = ctx.conn()?;
    for (i, path) in files.iter().enumerate() {
        let name = name_of(path)?;
        let Some(spec) = ctx.bank_specs.for_file_name(&name).map(str::to_string) else {
            progress(&format!(
                "[{}/{}] {name}: no spec fits this name; left in the inbox",
                i + 1,
                files.len()
            ));
            night.unrecognised.push(name);
            continue;
        };
        progress(&format!(
            "[{}/{}] {name}: importing as {spec}",
            i + 1,
            files.len()
        ));
        let (sha256, size_bytes) = store::sha256_file(path).map_err(io(path))?;
        let mut input =
            BufReader::with_capacity(256 * 1024, std::fs::File::open(path).map_err(io(path))?);
        let request = ImportRequest {
            spec: &spec,
            file_name: Some(&name),
            sha256: &sha256,
            size_bytes,
            actor: "nightly",
        };
        match store::import(&mut conn, &ctx.bank_specs, &request, &mut input, &mut |n| {
            progress(&format!("    {n} records"));
        }) {
            Ok(imported) => {
                drop(input);
                file_away(path, &archive)?;
                progress(&format!(
                    "    {} records{}",
                    imported.records,
                    if imported.duplicate {
                        " (imported before)"
                    } else {
                        ""
                    }
                ));
                night
                    .imported
                    .push((name, imported.id, imported.records, imported.duplicate));
            }
            Err(e @ (ImportError::Corrupt { .. } | ImportError::UnknownSpec(_))) => {
                drop(input);
                let moved = file_away(path, &folders.rejected)?;
                let why = e.to_string();
                let note = PathBuf::from(format!("{}.error.txt", moved.display()));
                std::fs::write(&note, format!("{why}\n")).map_err(io(&note))?;
                progress(&format!("    refused, moved to {}: {why}", moved.display()));
                night.rejected.push((name, why));
            }
            Err(ImportError::Io(e)) => return Err(NightlyError::Io(path.display().to_string(), e)),
            Err(ImportError::Db(e)) => return Err(e.into()),
        }
    }
    reconcile(ctx, &mut conn, folders, date, &mut night, progress)?;
    Ok(night)
}

/// What [`run_once`] did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    /// This process ran the night.
    Ran(Night),
    /// Another process holds the nightly job's lock: it is running a night now.
    SkippedRunning,
    /// The night already ran to its end.
    SkippedDone {
        /// The instance that ran it.
        instance: String,
        /// When it finished (UTC).
        finished_at: NaiveDateTime,
    },
}

/// Runs the night for `date` ([`run`]) if no other process is running the nightly job and no
/// earlier run of `date` finished (`again`: run it even then, as an operator may after a late
/// file). The lock is held until the night is over; the night is marked finished only when it
/// finished.
pub fn run_once(
    ctx: &AppContext,
    folders: &Folders,
    date: NaiveDate,
    again: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Turn, NightlyError> {
    let me = super::instance::id();
    let Some(lock) = crate::db::shared::try_exclusive(&ctx.config.database, JOB, LOCK_KEY, me)?
    else {
        return Ok(Turn::SkippedRunning);
    };
    let mut conn = ctx.conn()?;
    let earlier: Option<(String, Option<NaiveDateTime>)> = nightly_runs::table
        .find(date)
        .select((nightly_runs::instance, nightly_runs::finished_at))
        .first(&mut conn)
        .optional()
        .map_err(crate::db::DbError::from)?;
    if let Some((instance, Some(finished_at))) = earlier.clone() {
        if !again {
            return Ok(Turn::SkippedDone {
                instance,
                finished_at,
            });
        }
    }
    let started = Utc::now().naive_utc();
    if earlier.is_some() {
        diesel::update(nightly_runs::table.find(date))
            .set((
                nightly_runs::instance.eq(me),
                nightly_runs::started_at.eq(started),
                nightly_runs::finished_at.eq(None::<NaiveDateTime>),
            ))
            .execute(&mut conn)
            .map_err(crate::db::DbError::from)?;
    } else {
        diesel::insert_into(nightly_runs::table)
            .values((
                nightly_runs::business_date.eq(date),
                nightly_runs::instance.eq(me),
                nightly_runs::started_at.eq(started),
            ))
            .execute(&mut conn)
            .map_err(crate::db::DbError::from)?;
    }
    drop(conn);
    let night = run(ctx, folders, date, progress)?;
    let mut conn = ctx.conn()?;
    diesel::update(nightly_runs::table.find(date))
        .set(nightly_runs::finished_at.eq(Some(Utc::now().naive_utc())))
        .execute(&mut conn)
        .map_err(crate::db::DbError::from)?;
    drop(lock);
    Ok(Turn::Ran(night))
}

/// Reconciles the day and writes the run's report into the reports folder.
fn reconcile(
    ctx: &AppContext,
    conn: &mut crate::db::DbConn,
    folders: &Folders,
    date: NaiveDate,
    night: &mut Night,
    progress: &mut dyn FnMut(&str),
) -> Result<(), NightlyError> {
    progress(&format!("reconciling {date}"));
    let run = runs::run(conn, &ctx.writer, &ctx.recon_settings(), date, "nightly")?;
    night.run_id = Some(run.id.clone());
    night.open_exceptions = run.open_exceptions;
    if let Some(report) = runs::report(conn, &run.id)? {
        let base = folders
            .reports
            .join(format!("reconciliation-{date}-{}", run.id));
        let report = report.in_lang(ctx.config.report_lang);
        let csv_path = write_report(&report, ctx.config.report_lang, &folders.reports, &base)?;
        progress(&format!("report written to {}", csv_path.display()));
        night.report = Some(csv_path);
    }
    Ok(())
}

/// The inbox's files that are ready, in name order: hidden and half-copied ones are not.
fn ready_files(inbox: &Path) -> Result<Vec<PathBuf>, NightlyError> {
    std::fs::create_dir_all(inbox).map_err(io(inbox))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(inbox)
        .map_err(io(inbox))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(inbox))?
        .into_iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            // Hidden and half-copied files are not ready.
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|name| {
                    !name.starts_with('.') && !name.ends_with(".part") && !name.ends_with(".tmp")
                })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes a run's report beside `base` as CSV and JSON (the CSV's headings and suggested
/// actions in `lang`); returns the CSV's path.
fn write_report(
    report: &runs::Report,
    lang: crate::words::Lang,
    dir: &Path,
    base: &Path,
) -> Result<PathBuf, NightlyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let csv_path = base.with_extension("csv");
    let csv = runs::report_csv(report, lang).map_err(|e| {
        NightlyError::Io(
            csv_path.display().to_string(),
            std::io::Error::other(e.to_string()),
        )
    })?;
    std::fs::write(&csv_path, csv).map_err(io(&csv_path))?;
    let json_path = base.with_extension("json");
    let json =
        serde_json::to_vec_pretty(report).map_err(|e| io(&json_path)(std::io::Error::other(e)))?;
    std::fs::write(&json_path, json).map_err(io(&json_path))?;
    Ok(csv_path)
}

/// Seconds from `now` (UTC) until the next `at` (Asia/Shanghai wall-clock time).
pub fn seconds_until(now: chrono::DateTime<chrono::Utc>, at: chrono::NaiveTime) -> u64 {
    let local = now.with_timezone(&crate::clock::SHANGHAI);
    let today_at = local.date_naive().and_time(at);
    let next = if local.naive_local() < today_at {
        today_at
    } else {
        today_at + chrono::Duration::days(1)
    };
    // `next` is after now by construction; 0 only if the clock says otherwise.
    u64::try_from((next - local.naive_local()).num_seconds()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone, Utc};

    #[test]
    fn the_next_run_is_at_the_shanghai_time() {
        let at = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
        // 17:30 UTC = 01:30 Beijing: half an hour to go.
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 17, 30, 0).unwrap();
        assert_eq!(seconds_until(now, at), 1800);
        // 18:00 UTC = 02:00 Beijing: the next one is tomorrow.
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
        assert_eq!(seconds_until(now, at), 86_400);
    }
}

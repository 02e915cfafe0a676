//! `onecard db`: the PostgreSQL roles (README "PostgreSQL roles"); `onecard backup`, `restore`
//! and `verify`: the database's care.

use std::process::ExitCode;

use clap::Subcommand;

use onecard::config::Config;
use onecard::db::{self, roles};
use onecard::ledger::repo;

use super::{open_app, print_json};

#[derive(Subcommand)]
pub enum DbCommand {
    /// PostgreSQL: give the service's role exactly what it needs on every table (read and
    /// append the ledger, audit and payment tables; change only rows with a lifecycle) and
    /// take back anything else. Run with the owner's URL after every `onecard migrate`;
    /// running it again changes nothing. Prints each table's grant.
    Grant {
        /// The role the service connects as (not the owner, not a superuser).
        #[arg(long)]
        to: String,
    },
}

pub fn run(config: Config, command: DbCommand) -> Result<ExitCode, String> {
    match command {
        DbCommand::Grant { to } => {
            let mut conn = config.database.connect().map_err(|e| e.to_string())?;
            let granted = roles::grant(&mut conn, &to).map_err(|e| e.to_string())?;
            print_json(&granted)?;
            eprintln!(
                "granted {} table(s) to {to} on {}",
                granted.len(),
                db::redact(&config.database_url)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A start that failed for want of a privilege, with what the operator does about it.
pub fn hint(message: String) -> String {
    if message.contains("permission denied") {
        format!(
            "{message}\n(the service's role lacks a privilege: run `onecard db grant --to <role>` \
             with the owner's URL after every `onecard migrate`; README: PostgreSQL roles)"
        )
    } else {
        message
    }
}

pub fn backup(config: Config, to: &std::path::Path) -> Result<ExitCode, String> {
    let started = std::time::Instant::now();
    let bytes = onecard::db::backup_sqlite(&config.database, to).map_err(|e| e.to_string())?;
    eprintln!(
        "backed up to {} ({bytes} bytes, integrity ok) in {:.2} s",
        to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn restore(config: Config, from: &std::path::Path, force: bool) -> Result<ExitCode, String> {
    let started = std::time::Instant::now();
    let restored =
        db::restore::restore_sqlite(&config.database, from, force).map_err(|e| e.to_string())?;
    eprintln!(
        "restored {} in place of {} in {:.2} s",
        from.display(),
        restored.database.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(aside) = &restored.replaced {
        eprintln!(
            "the database it replaced is kept as {} (with its -wal, if it had one); delete it once the restore has proved itself",
            aside.display()
        );
    }
    if restored.pending_migrations > 0 {
        eprintln!(
            "the backup lacks {} migration(s) of this onecard; they are applied now",
            restored.pending_migrations
        );
    }
    let ctx = open_app(config.clone())?;
    let held = {
        let mut conn = ctx.conn().map_err(|e| e.to_string())?;
        db::restore::holdings(&mut conn).map_err(|e| e.to_string())?
    };
    ctx.close();
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    eprintln!(
        "it holds {} ledger entries; last sealed day {}; last payment taken {}",
        held.entries,
        or_none(held.last_sealed_day.map(|d| d.to_string())),
        or_none(
            held.last_payment_at
                .map(|t| format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S")))
        )
    );
    // The same check as `onecard verify`, before any service may open the database again.
    let verified = verify(config)?;
    drop(restored.lock);
    Ok(verified)
}

pub fn verify(config: Config) -> Result<ExitCode, String> {
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let report = repo::verify(&mut conn, &ctx.chart.current(), |done, total| {
        if total > 0 {
            eprint!(
                "\rverifying: {done}/{total} entries ({:.0}%)",
                done as f64 * 100.0 / total as f64
            );
        }
    })
    .map_err(|e| e.to_string())?;
    eprintln!();
    print_json(&report)?;
    eprintln!(
        "verified {} entries in {:.2} s",
        report.entries,
        started.elapsed().as_secs_f64()
    );
    // Leave the database closed (a restore checks that no -wal file is left behind).
    drop(conn);
    ctx.close();
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

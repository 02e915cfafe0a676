//! The `onecard` command: serve, migrate, keys, users, persons, accounts, departments, verify,
//! and the day's work (import, nightly, reconcile, close-day, remit, backup, restore).

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use admin::{AccountsCommand, KeysCommand, PersonsCommand, UsersCommand};

use onecard::app::nightly::Turn;
use onecard::app::AppContext;
use onecard::config::{Config, DEFAULT_BIND, DEFAULT_DATABASE_URL};
use onecard::db::{self, DbTarget};

#[path = "cli/admin.rs"]
mod admin;
#[path = "cli/db.rs"]
mod dbcli;
#[path = "cli/departments.rs"]
mod departments;

#[derive(Parser)]
#[command(
    name = "onecard",
    version,
    about = "Fee collection, fund-separated ledger, reconciliation and treasury remittance"
)]
struct Cli {
    /// Database URL: sqlite://<path> or postgres://user@host/db
    #[arg(long, global = true, env = "ONECARD_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ONECARD_BIND", default_value = DEFAULT_BIND)]
        bind: String,
        /// Load the demo data and print one demo token per role.
        #[arg(long)]
        demo: bool,
        /// Apply pending migrations before starting (always done for SQLite).
        #[arg(long)]
        migrate: bool,
        /// HTTP worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Apply pending database migrations (PostgreSQL: as the owner role, then `db grant`).
    Migrate,
    /// PostgreSQL roles: what the service's role may do.
    Db {
        #[command(subcommand)]
        command: dbcli::DbCommand,
    },
    /// API tokens: create (optionally expiring), list, revoke; rotate keys and secrets.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Recompute the hash chain and every balance, check every closed day's seal; exit 1 if
    /// anything disagrees.
    Verify,
    /// The nightly job once (for cron): import the inbox, reconcile, write the report, archive.
    Nightly {
        /// The business date to reconcile (default: the previous business date).
        #[arg(long)]
        date: Option<String>,
        /// Run the night even if a run of it already finished (one instance at a time still).
        #[arg(long)]
        again: bool,
    },
    /// Reconcile a business date (YYYY-MM-DD): match, store outcomes and exceptions; prints the run.
    Reconcile {
        /// The business date.
        #[arg(long)]
        date: String,
    },
    /// Close and seal a business day that is over (YYYY-MM-DD); prints the sealed day.
    CloseDay {
        /// The business date.
        date: String,
    },
    /// Prepare the treasury remittance batch of a closed day (YYYY-MM-DD); prints the batch.
    /// A supervisor approves it (`POST /v1/remittances/{id}/approve`), which signs its file.
    Remit {
        /// The business date.
        #[arg(long)]
        date: String,
    },
    /// Copy the SQLite database to a new file while the service runs, and check the copy
    /// (PostgreSQL: use pg_dump; see the README). The key folder is backed up separately.
    Backup {
        /// The new file (never overwritten).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Put an SQLite backup in place of the database, then verify it (exit 1 if that fails).
    /// Only while no service or command uses the database; the database it replaces is kept
    /// beside it (PostgreSQL: use pg_restore; see the README).
    Restore {
        /// The backup file (made by `onecard backup`).
        #[arg(long)]
        from: std::path::PathBuf,
        /// Restore even when the live database holds ledger entries the backup lacks.
        #[arg(long)]
        force: bool,
    },
    /// The chart of accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Departments (执收部门) and their counter windows.
    Departments {
        #[command(subcommand)]
        command: departments::DepartmentsCommand,
    },
    /// Staff who sign in to the web pages.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Persons: one identity across a human's tokens and staff sign-in; four-eyes rules
    /// compare persons.
    Persons {
        #[command(subcommand)]
        command: PersonsCommand,
    },
    /// Import a settlement file or bank statement, all or nothing; exit 2 if it is refused.
    Import {
        /// Spec id (see `GET /v1/settlement-specs`); chosen by the file name when omitted.
        #[arg(long)]
        spec: Option<String>,
        /// The file's name as the bank delivered it, when the path's name is not it.
        #[arg(long)]
        name: Option<String>,
        /// The file.
        file: std::path::PathBuf,
    },
}

/// Opens the service's parts for a command: SQLite is migrated on the spot (the embedded case
/// has no separate migrate step); PostgreSQL must have been migrated with `onecard migrate`.
pub(crate) fn open_app(config: Config) -> Result<AppContext, String> {
    let auto_migrate = matches!(config.database, DbTarget::Sqlite(_));
    AppContext::open(config, auto_migrate).map_err(|e| dbcli::hint(e.to_string()))
}

/// A business date given on the command line.
fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("'{text}' is not a date YYYY-MM-DD"))
}

/// A reader that moves a progress bar (drawn on stderr when it is a terminal).
struct Progress<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: std::io::Read> std::io::Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// A byte-counting bar for a file of `total` bytes.
fn bytes_bar(total: u64, message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// A spinner with the current step as its message (each step is also printed as a line).
fn steps_spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn import(
    config: Config,
    spec: Option<String>,
    name: Option<String>,
    path: &std::path::Path,
) -> Result<ExitCode, String> {
    use onecard::bankfiles::store::{self, ImportError, ImportRequest};
    let name = name.or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
    let ctx = open_app(config)?;
    let spec = match spec {
        Some(s) => s,
        None => name
            .as_deref()
            .and_then(|n| ctx.bank_specs.for_file_name(n))
            .map(str::to_string)
            .ok_or("no spec fits this file name; give --spec (onecard lists them at GET /v1/settlement-specs)")?,
    };
    let open = || std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()));
    // First pass: the SHA-256 that identifies the file.
    let (sha256, size) =
        store::sha256_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut input = std::io::BufReader::with_capacity(
        256 * 1024,
        Progress {
            inner: open()?,
            bar: bytes_bar(size, format!("importing {}", path.display())),
        },
    );
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let req = ImportRequest {
        spec: &spec,
        file_name: name.as_deref(),
        sha256: &sha256,
        size_bytes: size,
        actor: "cli",
    };
    let result = store::import(&mut conn, &ctx.bank_specs, &req, &mut input, &mut |_| {});
    input.get_ref().bar.finish_and_clear();
    match result {
        Ok(imported) => {
            print_json(&imported)?;
            eprintln!(
                "{} {} records from {} in {:.2} s",
                if imported.duplicate {
                    "already imported:"
                } else {
                    "imported"
                },
                imported.records,
                path.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (ImportError::Corrupt { .. } | ImportError::UnknownSpec(_))) => {
            eprintln!("onecard: {}: refused, nothing stored: {e}", path.display());
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the nightly job every day at `at` (Asia/Shanghai) on a thread of its own.
fn spawn_nightly(ctx: AppContext, at: chrono::NaiveTime) {
    let spawned = std::thread::Builder::new()
        .name("onecard-nightly".into())
        .spawn(move || loop {
            let wait = onecard::app::nightly::seconds_until(chrono::Utc::now(), at);
            tracing::info!(seconds = wait, "nightly job scheduled");
            // `wait` is whole seconds, cut short: one more second always wakes after `at`,
            // so the next turn schedules tomorrow, not `at` again.
            std::thread::sleep(std::time::Duration::from_secs(wait + 1));
            let today = ctx.business_today();
            let Some(date) = today.pred_opt() else {
                continue;
            };
            let folders = onecard::app::nightly::Folders::under(&ctx.config.nightly_dir);
            match onecard::app::nightly::run_once(&ctx, &folders, date, false, &mut |step| {
                tracing::info!(step, "nightly")
            }) {
                Ok(Turn::SkippedRunning) => tracing::info!(
                    %date,
                    "nightly job skipped: another instance is running it"
                ),
                Ok(Turn::SkippedDone {
                    instance,
                    finished_at,
                }) => tracing::info!(
                    %date,
                    %instance,
                    %finished_at,
                    "nightly job skipped: this night already ran"
                ),
                Ok(Turn::Ran(night)) => tracing::info!(
                    %date,
                    imported = night.imported.len(),
                    rejected = night.rejected.len(),
                    unrecognised = night.unrecognised.len(),
                    open_exceptions = night.open_exceptions,
                    "nightly job done"
                ),
                Err(e) => tracing::error!(%date, error = %e, "nightly job failed"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the nightly job could not be started");
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("onecard: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let config = Config::load(&cli.database).map_err(|e| e.to_string())?;
    // Every command but a restore shares the SQLite database for as long as it runs (`serve`
    // for its life); a restore waits for none of them, it refuses while any runs.
    let _in_use = match cli.command {
        Command::Restore { .. } => None,
        _ => db::usage::DbUse::shared(&config.database).map_err(|e| e.to_string())?,
    };
    match cli.command {
        Command::Serve {
            bind,
            demo,
            migrate,
            workers,
        } => serve(config, &bind, demo, migrate, workers),
        Command::Migrate => migrate(config),
        Command::Db { command } => dbcli::run(config, command),
        Command::Keys { command } => admin::keys(config, command),
        Command::Users { command } => admin::users(config, command),
        Command::Persons { command } => admin::persons(config, command),
        Command::Accounts { command } => admin::accounts(config, command),
        Command::Departments { command } => departments::run(config, command),
        Command::Import { spec, name, file } => import(config, spec, name, &file),
        Command::Nightly { date, again } => nightly(config, date, again),
        Command::Reconcile { date } => reconcile(config, &date),
        Command::CloseDay { date } => close_day(config, &date),
        Command::Remit { date } => remit(config, &date),
        Command::Backup { to } => dbcli::backup(config, &to),
        Command::Restore { from, force } => dbcli::restore(config, &from, force),
        Command::Verify => dbcli::verify(config),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn serve(
    config: Config,
    bind: &str,
    demo: bool,
    migrate: bool,
    workers: Option<usize>,
) -> Result<ExitCode, String> {
    let auto_migrate = migrate || matches!(config.database, DbTarget::Sqlite(_));
    let ctx = AppContext::open(config, auto_migrate).map_err(|e| dbcli::hint(e.to_string()))?;
    if ctx
        .conn()
        .ok()
        .and_then(|mut c| db::roles::owns_tables(&mut c).ok())
        == Some(true)
    {
        tracing::warn!("the service connects as the owner of the tables, which can drop the append-only triggers; give it a role of its own (README: PostgreSQL roles)");
    }
    if demo {
        print_demo(&ctx, bind)?;
    }
    if let Some(at) = ctx.config.nightly_at {
        spawn_nightly(ctx.clone(), at);
    }
    let listener = TcpListener::bind(bind).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, database = %db::redact(&ctx.config.database_url), "onecard listening");
    eprintln!("onecard listening on http://{addr}");
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    actix_web::rt::System::new()
        .block_on(async move {
            let server = onecard::server::serve(ctx, listener, workers)?;
            server.await
        })
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the demo data and prints its tokens and staff sign-ins (shown once).
fn print_demo(ctx: &AppContext, bind: &str) -> Result<(), String> {
    let tokens = onecard::app::demo::load(ctx).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Demo tokens (shown once; they expire in {} hours, and the next start revokes them):",
        onecard::app::demo::DEMO_TOKEN_HOURS
    );
    for (role, t) in tokens {
        let _ = writeln!(out, "  {:<10} {}", role.as_str(), t.token);
        if let Some(secret) = t.secret {
            let _ = writeln!(out, "  {:<10} {}", "  secret", secret);
        }
    }
    let users = onecard::app::demo::staff_users(ctx).map_err(|e| e.to_string())?;
    let _ = writeln!(
        out,
        "Demo staff sign-in for the pages at http://{bind}/web/ (name, password; new each start):"
    );
    for (_, name, password) in users {
        let _ = writeln!(out, "  {name:<18} {password}");
    }
    let _ = out.flush();
    Ok(())
}

fn migrate(config: Config) -> Result<ExitCode, String> {
    let mut conn = config.database.connect().map_err(|e| e.to_string())?;
    let ran = db::migrate(&mut conn).map_err(|e| e.to_string())?;
    eprintln!(
        "{ran} migration(s) applied to {}",
        db::redact(&config.database_url)
    );
    Ok(ExitCode::SUCCESS)
}

fn nightly(config: Config, date: Option<String>, again: bool) -> Result<ExitCode, String> {
    let ctx = open_app(config)?;
    let date = match date {
        Some(d) => parse_date(&d)?,
        None => ctx.business_today().pred_opt().ok_or("no previous day")?,
    };
    let folders = onecard::app::nightly::Folders::under(&ctx.config.nightly_dir);
    let turn = onecard::app::nightly::run_once(&ctx, &folders, date, again, &mut |step| {
        eprintln!("{step}")
    })
    .map_err(|e| e.to_string())?;
    let night = match turn {
        Turn::Ran(night) => night,
        Turn::SkippedRunning => {
            eprintln!("onecard: skipped: another instance is running the nightly job");
            return Ok(ExitCode::SUCCESS);
        }
        Turn::SkippedDone {
            instance,
            finished_at,
        } => {
            eprintln!(
                "onecard: skipped: the night of {date} already ran on {instance} (finished {finished_at} UTC); --again runs it again"
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    print_json(&night)?;
    Ok(
        if night.rejected.is_empty() && night.unrecognised.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        },
    )
}

fn reconcile(config: Config, date: &str) -> Result<ExitCode, String> {
    let date = parse_date(date)?;
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let spinner = steps_spinner();
    spinner.set_message(format!("reconciling {date}"));
    let started = std::time::Instant::now();
    let settings = ctx.recon_settings();
    let run = onecard::recon::runs::run(&mut conn, &ctx.writer, &settings, date, "cli")
        .map_err(|e| e.to_string())?;
    print_json(&run)?;
    eprintln!(
        "run {} in {:.2} s: {} open exception(s)",
        run.id,
        started.elapsed().as_secs_f64(),
        run.open_exceptions
    );
    Ok(ExitCode::SUCCESS)
}

fn close_day(config: Config, date: &str) -> Result<ExitCode, String> {
    let date = parse_date(date)?;
    let ctx = open_app(config)?;
    let today = ctx.business_today();
    let day = actix_web::rt::System::new()
        .block_on(onecard::recon::days::close(
            &ctx.writer,
            ctx.keys.clone(),
            date,
            today,
            "cli".into(),
        ))
        .map_err(|e| e.to_string())?;
    print_json(&day)?;
    Ok(ExitCode::SUCCESS)
}

fn remit(config: Config, date: &str) -> Result<ExitCode, String> {
    let date = parse_date(date)?;
    let ctx = open_app(config)?;
    let batch = actix_web::rt::System::new()
        .block_on(onecard::treasury::service::prepare(
            &ctx.writer,
            ctx.treasury.as_ref().clone(),
            date,
            "cli".into(),
            None,
        ))
        .map_err(|e| e.to_string())?;
    print_json(&batch)?;
    Ok(ExitCode::SUCCESS)
}

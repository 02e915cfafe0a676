//! The running service's parts, opened once and shared by the CLI and the HTTP layer: settings,
//! the connection pool, the chart, the keys and the ledger writer ([`AppContext`]); the nightly
//! job ([`nightly`]), the demo data ([`demo`]) and the stored progress of the pages' long work
//! ([`tasks`]) that run on top of them, and this process's name among instances ([`instance`]).
//!
//! May depend on every domain module; nothing below it imports it.

pub mod demo;
pub mod instance;
pub mod key_files;
pub mod nightly;
pub mod tasks;

use std::sync::Arc;

use crate::config::Config;
use crate::db::{self, DbError, Pool};
use crate::keys::{KeyError, ServiceKeys};
use crate::ledger::accounts::OpenError;
use crate::ledger::chart::ChartError;
use crate::ledger::repo;
use crate::ledger::writer::{LedgerWriter, WriterConfig};
use crate::ledger::{Chart, SharedChart};
use crate::treasury;
use std::path::PathBuf;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database unreachable, or migrations failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Key files unreadable.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A key file is missing while the database holds data that depends on it.
    #[error(
        "the key file {} is missing, but the database holds {holds}, which depend on it; \
         the service does not make a new key under them: {remedy}",
        file.display()
    )]
    MissingKeyFile {
        /// The missing file.
        file: PathBuf,
        /// What depends on it, in words.
        holds: String,
        /// How to restore it.
        remedy: &'static str,
    },
    /// The signing key file is not the key the database names current.
    #[error(
        "the signing key in {} (key id {found}) is not the current signing key {current} the \
         database names: the file was replaced. Put back the key folder that belongs to this \
         database (from its backup; a database restored from before a rotation needs the key \
         folder from the same time)",
        file.display()
    )]
    SigningKeyNotCurrent {
        /// The key file.
        file: PathBuf,
        /// Its key id.
        found: String,
        /// The current key id in `signing_keys`.
        current: String,
    },
    /// Chart of accounts invalid.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The sub-accounts opened in the database do not fit the chart file.
    #[error("accounts opened in the database: {0}")]
    OpenedAccounts(#[from] OpenError),
    /// A bank spec in `bank-specs/` cannot be used.
    #[error(transparent)]
    BankSpec(#[from] crate::bankfiles::SpecError),
    /// The schema is behind the binary and migration was not asked for.
    #[error(
        "the database has pending migrations; run `onecard migrate` first (PostgreSQL: with the \
         owner role's URL, then `onecard db grant --to <service role>`)"
    )]
    PendingMigrations,
}

/// Everything a use case needs.
#[derive(Clone)]
pub struct AppContext {
    /// Settings.
    pub config: Arc<Config>,
    /// Pool for reads and non-ledger writes.
    pub pool: Pool,
    /// Small pool of its own for long reads (chain verify, reports, exports): however many of
    /// them run, `pool` keeps its connections for authentication and the counter.
    pub read_pool: Pool,
    /// The chart of accounts: the chart file and the sub-accounts opened since
    /// ([`SharedChart::current`] for the chart as it stands).
    pub chart: SharedChart,
    /// Service keys.
    pub keys: Arc<ServiceKeys>,
    /// The one ledger writer.
    pub writer: LedgerWriter,
    /// Bank-file readers by spec id.
    pub bank_specs: Arc<crate::bankfiles::Registry>,
    /// What remittance files need from the configuration (parties, series, limit).
    pub treasury: Arc<treasury::service::Settings>,
}

impl AppContext {
    /// Opens the database (migrating first when `migrate` is set, refusing to start on an
    /// out-of-date schema otherwise), loads the chart into it, the keys, and starts the writer.
    pub fn open(config: Config, migrate: bool) -> Result<AppContext, StartError> {
        let base = Chart::default_chart()?;
        let bank_specs = Arc::new(crate::bankfiles::Registry::load(&config.bank_specs_dir)?);
        let mut conn = config.database.connect()?;
        if migrate {
            let ran = db::migrate(&mut conn)?;
            if ran > 0 {
                tracing::info!(migrations = ran, "database migrated");
            }
        } else if db::has_pending_migrations(&mut conn)? {
            return Err(StartError::PendingMigrations);
        }
        let added = repo::sync_chart(&mut conn, &base)?;
        let chart = SharedChart::load(&mut conn, base)?;
        crate::payments::ensure_series(&mut conn, &config.receipt_series)?;
        if added > 0 {
            tracing::info!(accounts = added, "chart of accounts loaded");
        }
        let keys = Arc::new(key_files::open_keys(&mut conn, &config.key_dir)?);
        let rekeyed = crate::payments::hashes::rekey_legacy(&mut conn, &keys)?;
        if rekeyed > 0 {
            tracing::info!(
                rows = rekeyed,
                "plain request hashes converted to keyed ones"
            );
        }
        // a settlement file staged by a process that died: its records go (issue 19 part 5)
        let abandoned = crate::bankfiles::store::clean_abandoned_imports(&mut conn)?;
        if abandoned > 0 {
            tracing::warn!(imports = abandoned, "abandoned imports removed");
        }
        // …and a reconciliation run staged by one: its rows go, the previous run's claims return
        let abandoned = crate::recon::runs::clean_abandoned_runs(&mut conn)?;
        if abandoned > 0 {
            tracing::warn!(runs = abandoned, "abandoned reconciliation runs removed");
        }
        drop(conn);
        let pool = db::pool(&config.database, config.pool_size)?;
        let read_pool = db::pool(&config.database, config.read_pool_size)?;
        let writer = LedgerWriter::start(
            config.database.clone(),
            chart.clone(),
            WriterConfig {
                max_batch: config.max_batch,
            },
        )?;
        Ok(AppContext {
            treasury: Arc::new(treasury_settings(&config)),
            config: Arc::new(config),
            pool,
            read_pool,
            chart,
            keys,
            writer,
            bank_specs,
        })
    }

    /// Today's business date (Asia/Shanghai, after the configured cut-off): the date new
    /// payments get, and the day that is not over yet.
    pub fn business_today(&self) -> chrono::NaiveDate {
        crate::clock::business_date(chrono::Utc::now(), self.config.business_day_cutoff)
    }

    /// What a reconciliation run needs from the configuration: the credit horizon, the
    /// business-day cut-off and the collection account whose statements it reads.
    pub fn recon_settings(&self) -> crate::recon::runs::Settings {
        crate::recon::runs::Settings::new(
            self.config.credit_horizon_days,
            self.config.business_day_cutoff,
            Some(self.config.collection_account.clone()),
        )
    }

    /// Closes the service's parts and waits for the ledger writer to close its connection, so
    /// that a command leaves the database closed when it exits. The context must be the last
    /// of its clones.
    pub fn close(self) {
        let AppContext { writer, .. } = self;
        if !writer.close(std::time::Duration::from_secs(10)) {
            tracing::warn!("the ledger writer did not stop within 10 s");
        }
    }

    /// A pooled connection (blocking: call inside `web::block` from async code).
    pub fn conn(&self) -> Result<db::PooledConn, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// A connection from the pool of long reads ([`AppContext::read_pool`]); blocking too.
    pub fn read_conn(&self) -> Result<db::PooledConn, DbError> {
        self.read_pool
            .get()
            .map_err(|e| DbError::Pool(e.to_string()))
    }
}

/// The remittance settings, read from the configuration once when the service opens.
fn treasury_settings(config: &Config) -> treasury::service::Settings {
    treasury::service::Settings {
        parties: treasury::batch::Parties {
            centre_name: config.centre_name.clone(),
            collection_account: config.collection_account.clone(),
            treasury_name: config.treasury_name.clone(),
            treasury_account: config.treasury_account.clone(),
        },
        receipt_series: config.receipt_series.clone(),
        limit_days: config.remit_limit_days,
    }
}

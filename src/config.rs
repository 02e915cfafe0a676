//! Settings, from the environment (and command-line flags that override it). The defaults serve
//! the embedded case: SQLite under `./data`, listening on loopback.
//!
//! May depend on: `db`.

use std::path::PathBuf;

use crate::db::DbTarget;

/// The database used when neither `--database` nor `ONECARD_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/onecard.db";
/// Where `serve` listens by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Largest JSON request body, in bytes.
pub const DEFAULT_JSON_LIMIT_BYTES: usize = 256 * 1024;

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL as given (may hold a password: print it only through `db::redact`).
    pub database_url: String,
    /// The parsed target.
    pub database: DbTarget,
    /// Folder for key files and other local state.
    pub data_dir: PathBuf,
    /// Folder of the service's key files.
    pub key_dir: PathBuf,
    /// Largest JSON request body.
    pub json_limit_bytes: usize,
    /// Connections in the request pool.
    pub pool_size: u32,
    /// Most jobs per ledger transaction (1 = one transaction per entry).
    pub max_batch: usize,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}='{v}' is not a valid value"))),
        Err(_) => Ok(default),
    }
}

impl Config {
    /// Builds the settings for `database_url` (already resolved from flag or environment).
    pub fn load(database_url: &str) -> Result<Config, ConfigError> {
        let database = DbTarget::parse(database_url).map_err(|e| ConfigError(e.to_string()))?;
        let data_dir = match std::env::var("ONECARD_DATA_DIR") {
            Ok(d) => PathBuf::from(d),
            Err(_) => match &database {
                DbTarget::Sqlite(path) => path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".")),
                DbTarget::Postgres(_) => PathBuf::from("./data"),
            },
        };
        let key_dir = std::env::var("ONECARD_KEY_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| data_dir.join("keys"));
        let default_pool = match database {
            DbTarget::Sqlite(_) => 8,
            DbTarget::Postgres(_) => 16,
        };
        Ok(Config {
            database_url: database_url.to_string(),
            database,
            data_dir,
            key_dir,
            json_limit_bytes: env_parse("ONECARD_JSON_LIMIT_BYTES", DEFAULT_JSON_LIMIT_BYTES)?,
            pool_size: env_parse("ONECARD_POOL_SIZE", default_pool)?,
            max_batch: env_parse(
                "ONECARD_MAX_BATCH",
                crate::ledger::writer::DEFAULT_MAX_BATCH,
            )?
            .max(1),
        })
    }
}

//! Shared by the benchmarks: a fresh database per run on the chosen backend, and an app opened
//! on it.

use diesel::connection::SimpleConnection;
use diesel::Connection;

use onecard::app::AppContext;
use onecard::config::Config;

/// A database that exists for one benchmark run (a temp SQLite file, or a PostgreSQL database
/// created now and dropped afterwards).
pub struct Db {
    /// URL the app connects to.
    pub url: String,
    /// Folder for the SQLite file and the keys.
    pub dir: tempfile::TempDir,
    pg_drop: Option<(String, String)>,
}

/// A fresh, empty database. PostgreSQL: `ONECARD_BENCH_PG_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`) names a server where the benchmark may create
/// and drop its own database.
pub fn fresh_db(backend: &str, label: &str) -> Db {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    if backend == "sqlite" {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        return Db {
            url,
            dir,
            pg_drop: None,
        };
    }
    let admin_url = std::env::var("ONECARD_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("onecard_bench_{label}_{}", std::process::id());
    let mut admin = diesel::pg::PgConnection::establish(&admin_url)
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url}: {e}"));
    // One statement per call: PostgreSQL runs a multi-statement string as one transaction,
    // and CREATE/DROP DATABASE refuse to run inside one.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b)
        .to_string();
    Db {
        url: format!("{base}/{name}"),
        dir,
        pg_drop: Some((admin_url, name)),
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_drop {
            if let Ok(mut admin) = diesel::pg::PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Opens the app on `db` (migrated), keys in the run's folder, with `max_batch`.
#[allow(dead_code)] // each bench binary compiles this module; not all of them use it
pub fn open(db: &Db, max_batch: usize) -> AppContext {
    open_with(db, max_batch, |_| {})
}

/// [`open`] with `adjust` applied to the configuration first.
#[allow(dead_code)] // each bench binary compiles this module; not all of them adjust
pub fn open_with(db: &Db, max_batch: usize, adjust: impl FnOnce(&mut Config)) -> AppContext {
    let mut config = Config::load(&db.url).unwrap_or_else(|e| panic!("config: {e}"));
    config.key_dir = db.dir.path().join("keys");
    config.max_batch = max_batch;
    adjust(&mut config);
    AppContext::open(config, true).unwrap_or_else(|e| panic!("open: {e}"))
}

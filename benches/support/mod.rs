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

/// A real onecard server on port 0 over `db`, with the demo catalogue and a clerk's token, the
/// rate limit lifted above any load a benchmark makes (it stays in the request's path).
#[allow(dead_code)] // each bench binary compiles this module; not all of them serve
pub struct DemoServer {
    /// The opened service (for work beside the HTTP load, such as an import).
    pub ctx: AppContext,
    /// A clerk's bearer token.
    pub token: String,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
}

#[allow(dead_code)] // each bench binary compiles this module; not all of them serve
impl DemoServer {
    /// Opens the app on `db` with `max_batch`, loads the demo, and starts serving.
    pub fn start(db: &Db, max_batch: usize, token_name: &str) -> DemoServer {
        let ctx = open_with(db, max_batch, |config| {
            config.rate_limit_per_minute = u32::MAX;
            config.rate_limit_burst = u32::MAX;
        });
        onecard::app::demo::load(&ctx).unwrap_or_else(|e| panic!("demo: {e}"));
        let token = {
            let mut conn = ctx.conn().unwrap_or_else(|e| panic!("conn: {e}"));
            onecard::auth::create_token(
                &mut conn,
                &ctx.keys,
                onecard::auth::Role::Clerk,
                token_name,
                "bench",
            )
            .unwrap_or_else(|e| panic!("token: {e}"))
            .token
        };
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let server_ctx = ctx.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = onecard::server::serve(server_ctx, listener, 2)
                    .unwrap_or_else(|e| panic!("serve: {e}"));
                let _ = handle_tx.send(server.handle());
                let _ = server.await;
            })
        });
        let handle = handle_rx.recv().unwrap_or_else(|e| panic!("server: {e}"));
        DemoServer {
            ctx,
            token,
            addr,
            handle,
            thread,
        }
    }

    /// Stops serving and waits for the server's thread.
    pub fn stop(self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        let _ = self.thread.join();
    }
}

/// What a figure is held against: the target for it, if it has one.
#[allow(dead_code)] // each bench binary compiles this module; not all of them use each kind
pub enum Target {
    /// At least this much (a rate).
    AtLeast(f64),
    /// At most this much (a time, a latency, a size).
    AtMost(f64),
    /// No target: shown for where the time goes.
    None,
}

/// Prints one figure as a tab-separated `figure` line beside the bench's own text:
/// `benches/all.sh` collects these lines from every bench and regenerates the README's table
/// from them, so the table holds only what a run printed. `baseline` is the in-run baseline
/// (what it is, its value in the same unit).
#[allow(dead_code)] // each bench binary compiles this module; not all of them use it
pub fn figure(
    area: &str,
    backend: &str,
    what: &str,
    value: f64,
    unit: &str,
    baseline: Option<(&str, f64)>,
    target: Target,
) {
    let (base_what, base_value) = baseline.map_or(("-".to_string(), "-".to_string()), |(w, v)| {
        (w.to_string(), format!("{v}"))
    });
    let target = match target {
        Target::AtLeast(t) => format!(">= {t}"),
        Target::AtMost(t) => format!("<= {t}"),
        Target::None => "-".to_string(),
    };
    println!(
        "figure\t{area}\t{backend}\t{what}\t{value}\t{unit}\t{base_what}\t{base_value}\t{target}"
    );
}

//! Test support: a fresh database per test on the backend CI chose, and the real app started on
//! port 0 against it.
//!
//! Backend: `ONECARD_TEST_DATABASE_URL` unset → SQLite in a temporary folder. Set to a
//! PostgreSQL URL → a fresh schema in that database per test, dropped afterwards.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Once;

/// Spreads the treasury helper's timestamps (see [`TestApp::treasury`]).
static FRESH: AtomicI64 = AtomicI64::new(0);

use diesel::connection::SimpleConnection;
use diesel::Connection;

use chrono::NaiveDate;
use onecard::app::AppContext;
use onecard::auth::{self, Role};
use onecard::config::Config;
use onecard::payments::{self, intake, Capture};
use serde_json::json;

pub mod books;
pub mod spawned;

/// The environment variable that selects PostgreSQL.
pub const PG_ENV: &str = "ONECARD_TEST_DATABASE_URL";

/// Which backend this run tests.
pub fn pg_base_url() -> Option<String> {
    std::env::var(PG_ENV)
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

static NOTE: Once = Once::new();

fn note_backend() {
    NOTE.call_once(|| match pg_base_url() {
        Some(_) => eprintln!("onecard tests: backend PostgreSQL ({PG_ENV} is set)"),
        None => eprintln!("onecard tests: backend SQLite; PostgreSQL skipped ({PG_ENV} not set)"),
    });
}

/// A database that exists for one test.
pub struct TestDb {
    /// URL the app connects to.
    pub url: String,
    /// Folder for SQLite files and keys.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on the selected backend.
    pub fn new() -> TestDb {
        note_backend();
        let dir = tempfile::tempdir().expect("temp dir");
        match pg_base_url() {
            None => {
                let url = format!("sqlite://{}", dir.path().join("onecard.db").display());
                TestDb { url, dir, pg: None }
            }
            Some(base) => {
                let schema = format!(
                    "t_{}",
                    hex::encode(onecard::keys::random_bytes::<6>().expect("random"))
                );
                let mut admin = diesel::pg::PgConnection::establish(&base)
                    .expect("connect to PostgreSQL test database");
                admin
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                TestDb {
                    url,
                    dir,
                    pg: Some((base, schema)),
                }
            }
        }
    }

    /// The `onecard` binary with this database and key folder (logs at `warn`); callers add
    /// arguments and any further settings.
    pub fn command(&self) -> std::process::Command {
        self.command_for(&self.url)
    }

    /// [`command`](Self::command) on another database URL (a restored copy, say).
    pub fn command_for(&self, url: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_onecard"));
        cmd.env("ONECARD_DATABASE_URL", url)
            .env("ONECARD_KEY_DIR", self.key_dir())
            .env("RUST_LOG", "warn");
        cmd
    }

    /// The PostgreSQL base URL and this test's schema.
    pub fn pg_parts(&self) -> Option<(String, String)> {
        self.pg.clone()
    }

    /// Is this PostgreSQL?
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Settings for an app on this database, keys in the test folder.
    pub fn config(&self) -> Config {
        let mut config = Config::load(&self.url).expect("config");
        config.key_dir = self.dir.path().join("keys");
        config.data_dir = self.dir.path().to_path_buf();
        config.pool_size = 4;
        config
    }

    /// Opens the app's parts (migrated) without HTTP, with the centre's departments and
    /// windows.
    pub fn open(&self) -> AppContext {
        let ctx = AppContext::open(self.config(), true).expect("open app");
        onecard::app::demo::load_departments(&ctx).expect("demo departments");
        ctx
    }

    /// Key folder.
    pub fn key_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(mut admin) = diesel::pg::PgConnection::establish(base) {
                let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
            }
        }
    }
}

/// The real app on port 0 with one token per role.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The app's parts, for direct checks.
    pub ctx: AppContext,
    /// Bearer token per role.
    pub tokens: HashMap<Role, String>,
    /// The treasury token's HMAC request-signing secret.
    pub treasury_secret: String,
    /// HTTP client.
    pub client: awc::Client,
    /// Keep the database alive as long as the app.
    pub db: TestDb,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Token of a role.
    pub fn token(&self, role: Role) -> &str {
        self.tokens.get(&role).map(String::as_str).unwrap_or("")
    }

    /// GET with a role's token; returns status and JSON body.
    pub async fn get(&self, role: Role, path: &str) -> (u16, serde_json::Value) {
        let mut res = self
            .client
            .get(self.url(path))
            .bearer_auth(self.token(role))
            .send()
            .await
            .expect("request");
        let body = res.body().limit(64 * 1024 * 1024).await.expect("body");
        (
            res.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// POST JSON with a role's token; returns status, content type and JSON body.
    pub async fn post(
        &self,
        role: Role,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, String, serde_json::Value) {
        self.post_raw(role, path, body.to_string().into_bytes())
            .await
    }

    /// POST JSON with a role's token and an `Idempotency-Key`; returns status, content type
    /// and JSON body.
    pub async fn post_keyed(
        &self,
        role: Role,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> (u16, String, serde_json::Value) {
        let mut res = self
            .client
            .post(self.url(path))
            .bearer_auth(self.token(role))
            .insert_header(("content-type", "application/json"))
            .insert_header(("Idempotency-Key", key))
            .send_body(body.to_string())
            .await
            .expect("request");
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body");
        (
            res.status().as_u16(),
            ct,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// POST raw bytes as JSON with a role's token.
    pub async fn post_raw(
        &self,
        role: Role,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, String, serde_json::Value) {
        self.post_with(self.token(role), path, body).await
    }

    /// POST raw bytes as JSON with the bearer `token`.
    pub async fn post_with(
        &self,
        token: &str,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, String, serde_json::Value) {
        let mut res = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .insert_header(("content-type", "application/json"))
            .send_body(body)
            .await
            .expect("request");
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body");
        (
            res.status().as_u16(),
            ct,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Whether `seal` (base64) is the service's signature over the seal message of `day` with
    /// `last_entry_hash` and `entries` — checked, as an outside party would, with the key
    /// `GET /v1/signing-key` publishes.
    pub async fn seal_verifies(
        &self,
        day: chrono::NaiveDate,
        last_entry_hash: &str,
        entries: i64,
        seal: &str,
    ) -> bool {
        use base64::Engine;
        let (_, key) = self.get(Role::Auditor, "/v1/signing-key").await;
        let b64 = base64::engine::general_purpose::STANDARD;
        let (Some(public_key), Ok(seal)) = (
            key["public_key"].as_str().and_then(|k| b64.decode(k).ok()),
            b64.decode(seal),
        ) else {
            return false;
        };
        let message = onecard::recon::days::seal_message(day, last_entry_hash, entries);
        onecard::keys::verify_signature(&public_key, message.as_bytes(), &seal)
    }

    /// Loads the demo catalogue (and the opening appropriation).
    pub async fn load_demo(&self) {
        let ctx = self.ctx.clone();
        actix_web::web::block(move || onecard::app::demo::load(&ctx).map(|_| ()))
            .await
            .expect("block")
            .expect("demo data");
    }

    /// The two bank-card sales of `day` that the fixture POS file of 2026-11-24 carries
    /// (SC-JL-01 200.00, trace 000012; ZR-BDC-02 550.00, trace 000013).
    pub async fn capture_night_sales(&self, day: NaiveDate) {
        self.capture_on(day, "SC-JL-01", "200.00", "000012", "000451234567")
            .await;
        self.capture_on(day, "ZR-BDC-02", "550.00", "000013", "000451234568")
            .await;
    }

    /// Imports the night files of 2026-11-24 in `fixtures/` (the POS file, the one-card file and
    /// the collection account's statement) through the API, as finance.
    pub async fn import_night_files(&self) {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        for (path, spec) in [
            (
                "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
                "pos-settlement-fixed-width",
            ),
            (
                "onecard-settlement-csv/ok/YKT_310000000000021_20261124.csv",
                "onecard-settlement-csv",
            ),
            (
                "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
                "collection-account-statement-csv",
            ),
        ] {
            let bytes = std::fs::read(format!("{fixtures}/{path}")).expect("fixture");
            let name = path.rsplit('/').next().unwrap_or(path);
            let query = format!("spec={spec}&name={name}");
            let (status, body) = self.upload(Role::Finance, &query, bytes).await;
            assert_eq!(status, 201, "{path}: {body}");
        }
    }

    /// Runs the reconciliation of `day` through the API (a day is closed only once a run
    /// covers it); returns the run.
    pub async fn reconcile(&self, day: NaiveDate) -> serde_json::Value {
        let (status, _, run) = self
            .post(
                Role::Finance,
                "/v1/reconciliations",
                &json!({"business_date": day.to_string()}),
            )
            .await;
        assert_eq!(status, 201, "{run}");
        run
    }

    /// Reconciles `date`, works its exceptions and closes it (200 expected).
    pub async fn close_worked(&self, date: NaiveDate) {
        self.reconcile_and_work(date).await;
        let (status, _, body) = self
            .post(
                Role::Finance,
                &format!("/v1/days/{date}/close"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Finance prepares the remittance batch of `date`: (status, body).
    pub async fn prepare_remittance(&self, date: NaiveDate) -> (u16, serde_json::Value) {
        let (status, _, body) = self
            .post(
                Role::Finance,
                "/v1/remittances",
                &serde_json::json!({"business_date": date.to_string()}),
            )
            .await;
        (status, body)
    }

    /// A supervisor approves remittance batch `id`; the answer must be 200.
    pub async fn approve_remittance(&self, id: &str) -> serde_json::Value {
        let (status, _, body) = self
            .post(
                Role::Supervisor,
                &format!("/v1/remittances/{id}/approve"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Reconciles `day` and works every exception the run opens the way a finance office
    /// would without looking closer: a missing payment or line clears on a later day
    /// (`accept_timing`), anything else is claimed from the bank — so the day can close.
    pub async fn reconcile_and_work(&self, day: NaiveDate) -> serde_json::Value {
        let run = self.reconcile(day).await;
        let id = run["id"].as_str().expect("run id");
        let (_, listed) = self
            .get(
                Role::Finance,
                &format!("/v1/reconciliations/{id}/exceptions?limit=1000"),
            )
            .await;
        for x in listed["items"].as_array().expect("exceptions") {
            let action = match x["kind"].as_str() {
                Some("missing_in_settlement" | "missing_in_ledger") => "accept_timing",
                _ => "bank_claim",
            };
            let (status, _, body) = self
                .post(
                    Role::Finance,
                    &format!("/v1/exceptions/{}/resolve", x["id"].as_str().expect("id")),
                    &json!({"action": action, "note": "worked"}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        run
    }

    /// A worked day through the API: two counter payments on `day` (2026-11-24 fits the
    /// fixtures), the night's three fixture files imported, the day reconciled with every
    /// exception resolved but the first left open when `leave_one_open`, and otherwise the day
    /// closed and its remittance prepared. Returns the run id.
    pub async fn worked_day(&self, day: NaiveDate, leave_one_open: bool) -> String {
        self.capture_night_sales(day).await;
        self.import_night_files().await;
        let (status, _, run) = self
            .post(
                Role::Finance,
                "/v1/reconciliations",
                &json!({"business_date": day.to_string()}),
            )
            .await;
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().expect("run id").to_string();
        let (_, listed) = self
            .get(
                Role::Finance,
                &format!("/v1/reconciliations/{id}/exceptions?limit=1000"),
            )
            .await;
        let items = listed["items"].as_array().expect("exceptions").clone();
        for x in items.iter().skip(usize::from(leave_one_open)) {
            // What a finance office does now: a later day clears a missing payment or line;
            // anything else is claimed from the bank (tracked, not holding the day).
            let action = match x["kind"].as_str() {
                Some("missing_in_settlement") => "accept_timing",
                _ => "bank_claim",
            };
            let (status, _, body) = self
                .post(
                    Role::Finance,
                    &format!("/v1/exceptions/{}/resolve", x["id"].as_str().expect("id")),
                    &json!({"action": action, "note": "worked"}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        if !leave_one_open {
            let (status, _, body) = self
                .post(Role::Finance, &format!("/v1/days/{day}/close"), &json!({}))
                .await;
            assert_eq!(status, 200, "{body}");
            let (status, _, body) = self
                .post(
                    Role::Finance,
                    "/v1/remittances",
                    &json!({"business_date": day.to_string()}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
        id
    }

    /// POST a file's bytes to `/v1/settlement-files` with `query` (`spec=…&name=…`).
    pub async fn upload(
        &self,
        role: Role,
        query: &str,
        bytes: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let mut res = self
            .client
            .post(self.url(&format!("/v1/settlement-files?{query}")))
            .bearer_auth(self.token(role))
            .insert_header(("content-type", "application/octet-stream"))
            .send_body(bytes)
            .await
            .expect("request");
        let body = res.body().limit(64 * 1024 * 1024).await.expect("body");
        (
            res.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// An account's balance as `GET /v1/ledger/accounts` shows it (read as an auditor).
    pub async fn balance(&self, code: &str) -> Option<serde_json::Value> {
        let (_, accounts) = self
            .get(Role::Auditor, "/v1/ledger/accounts?limit=1000")
            .await;
        accounts["items"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["code"] == code))
            .map(|x| x["balance"].clone())
    }

    /// A treasury request signed as API.md says, at `timestamp` (unix seconds), with `role`'s
    /// token; `signature` replaces the computed signature header when given. Returns status,
    /// headers and body bytes.
    pub async fn signed(
        &self,
        role: Role,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        timestamp: i64,
        signature: Option<&str>,
    ) -> (u16, actix_web::http::header::HeaderMap, Vec<u8>) {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let ts = timestamp.to_string();
        let canonical =
            onecard::auth::request_signing::canonical_request(method, path, query, &ts, body);
        let computed = onecard::auth::request_signing::sign(&self.treasury_secret, &canonical);
        let req = match method {
            "POST" => self.client.post(self.url(path_and_query)),
            _ => self.client.get(self.url(path_and_query)),
        }
        .bearer_auth(self.token(role))
        .insert_header(("X-Onecard-Timestamp", ts))
        .insert_header((
            "X-Onecard-Request-Signature",
            signature.unwrap_or(&computed).to_string(),
        ));
        let mut res = if method == "POST" {
            req.insert_header(("content-type", "application/json"))
                .send_body(body.to_vec())
                .await
        } else {
            req.send().await
        }
        .expect("request");
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body");
        (res.status().as_u16(), res.headers().clone(), bytes.to_vec())
    }

    /// [`signed`](Self::signed) as the treasury, answered as JSON. Each call takes another
    /// timestamp within the accepted window, as a client signing each request afresh would
    /// (the same request twice in one second would otherwise be a replay).
    pub async fn treasury(
        &self,
        method: &str,
        path_and_query: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = if method == "POST" {
            body.to_string().into_bytes()
        } else {
            Vec::new()
        };
        let (status, _, bytes) = self
            .signed(
                Role::Treasury,
                method,
                path_and_query,
                &body,
                chrono::Utc::now().timestamp() - 150
                    + (FRESH.fetch_add(1, Ordering::Relaxed) % 300),
                None,
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Captures a bank-card payment dated `day` through the same use case the API calls.
    pub async fn capture_on(
        &self,
        day: NaiveDate,
        fee: &str,
        amount: &str,
        trace: &str,
        rrn: &str,
    ) -> String {
        let body = json!({
            "channel": "bank_card", "department": "D04", "window": "W01",
            "lines": [{"fee_code": fee, "quantity": 1, "amount": amount}], "amount": amount,
            "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                     "trace_no": trace, "rrn": rrn, "auth_code": "890123",
                     "masked_pan": "622848******0123", "txn_time": format!("{day}T09:30:15+08:00")}
        });
        let (value, digest) = intake::read_json(body.to_string().as_bytes()).expect("json");
        let request_hash = self.ctx.keys.request_hash_of_digest(&digest);
        let request = intake::parse_value(value).expect("request");
        let versions = {
            let mut conn = self.ctx.conn().expect("conn");
            payments::versions_for(&mut conn, &request).expect("versions")
        };
        let lines = intake::price(&request, &versions, day).expect("priced");
        let answer = payments::capture(
            &self.ctx.writer,
            Capture {
                key: format!("e2e-{trace}"),
                request_hash,
                request,
                lines,
                business_date: day,
                payer_id_hmac: None,
                payer_id_masked: None,
                actor: "clerk:e2e".into(),
                series: self.ctx.config.receipt_series.clone(),
            },
        )
        .await
        .expect("captured");
        let paid: serde_json::Value = serde_json::from_str(&answer.body).expect("answer");
        paid["id"].as_str().expect("id").to_string()
    }

    /// The person behind the test token of `role` (each test token is its own person).
    pub async fn person_of(&self, role: Role) -> String {
        use diesel::prelude::*;
        use onecard::db::schema::api_tokens;
        let ctx = self.ctx.clone();
        actix_web::web::block(move || {
            let mut conn = ctx.conn().expect("conn");
            api_tokens::table
                .filter(api_tokens::name.eq(format!("test-{role}")))
                .select(api_tokens::person_id)
                .first::<Option<String>>(&mut conn)
                .expect("test token")
                .expect("a person")
        })
        .await
        .expect("block")
    }

    /// Another token of `role` named `name`, belonging to `person` (a new person when `None`).
    pub async fn token_for(&self, role: Role, name: &str, person: Option<&str>) -> String {
        let (ctx, name, person) = (
            self.ctx.clone(),
            name.to_string(),
            person.map(str::to_string),
        );
        actix_web::web::block(move || {
            let mut conn = ctx.conn().expect("conn");
            auth::create_token_for(&mut conn, &ctx.keys, role, &name, person.as_deref(), "test")
                .expect("token")
                .token
        })
        .await
        .expect("block")
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop(true).await;
    }
}

/// Starts the app on port 0 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `tweak` first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new();
    let mut config = db.config();
    tweak(&mut config);
    start_app(db, config, true).await
}

/// Starts the app on port 0 on `db` with `config` (migrating first when `migrate`), with one
/// token per role.
pub async fn start_app(db: TestDb, config: Config, migrate: bool) -> TestApp {
    let ctx = actix_web::web::block(move || AppContext::open(config, migrate))
        .await
        .expect("block")
        .expect("open app");
    // Every test's payments and fee items name the centre's departments and windows.
    {
        let ctx = ctx.clone();
        actix_web::web::block(move || onecard::app::demo::load_departments(&ctx))
            .await
            .expect("block")
            .expect("demo departments");
    }
    let mut tokens = HashMap::new();
    let mut treasury_secret = String::new();
    {
        let ctx = ctx.clone();
        let made = actix_web::web::block(move || {
            let mut conn = ctx.conn().expect("conn");
            Role::ALL
                .iter()
                .map(|r| {
                    let t =
                        auth::create_token(&mut conn, &ctx.keys, *r, &format!("test-{r}"), "test")
                            .expect("token");
                    (*r, t.token, t.secret)
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("block");
        for (role, token, secret) in made {
            if let Some(secret) = secret {
                treasury_secret = secret;
            }
            tokens.insert(role, token);
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = onecard::server::serve(ctx.clone(), listener, 2).expect("serve");
    let handle = server.handle();
    actix_web::rt::spawn(server);
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        ctx,
        tokens,
        treasury_secret,
        // The API tests read English details (the problems' zh-CN default and the language
        // switch are tested in `languages`).
        client: awc::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .add_default_header(("Accept-Language", "en"))
            .finish(),
        db,
        server: handle,
    }
}

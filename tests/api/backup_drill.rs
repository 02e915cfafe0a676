//! The backup-and-restore drill an operator should be able to run on a working day, with the
//! real binary (SQLite; PostgreSQL is backed up and restored with pg_dump / pg_restore, which
//! `onecard restore` points to):
//!
//! a day is closed and sealed; several clients take payments; `onecard backup` runs while they
//! go on; `onecard restore` refuses while the service runs and refuses to drop newer entries
//! without `--force`; once restored and started again the books verify, the sealed day's seal
//! is the one signed before and still checks with the published key, every payment
//! acknowledged before the backup began is there with its receipt, a retried request gets its
//! stored answer, and the receipt series goes on without a gap. Then backups that must not be
//! restored: not a database, not onecard's, from a newer onecard, a live file with its -wal.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::{receipt_series, receipts};
use serde_json::{json, Value};

use crate::support::TestDb;

/// Clients taking payments at once.
const CLIENTS: usize = 4;
/// The receipt series (the default).
const SERIES: &str = "44030126";

fn onecard(db: &TestDb) -> Command {
    let mut cmd = db.command();
    cmd.env("ONECARD_DATA_DIR", db.dir.path())
        .env("ONECARD_RECEIPT_SERIES", SERIES)
        .env("ONECARD_POOL_SIZE", "4")
        // Several clients flat out on one clerk token: a load, not a counter.
        .env("ONECARD_RATE_LIMIT_PER_MINUTE", "0")
        .env_remove("ONECARD_NIGHTLY_AT")
        .env_remove("ONECARD_BUSINESS_DAY_CUTOFF")
        .env_remove("ONECARD_TRUSTED_PROXIES");
    cmd
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    onecard(db).args(args).output().expect("run onecard")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `onecard serve`.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// SIGTERM (a graceful stop, as systemd sends), and wait for it.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "onecard serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn log_tail(log: &Path) -> String {
    let t = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Starts the service on a free port and waits until it is ready.
async fn start(db: &TestDb, log: &Path) -> Serve {
    let client = awc::Client::default();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log");
        let child = onecard(db)
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--workers",
                "2",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn onecard serve");
        let mut serve = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = serve.child.try_wait() {
                if log_tail(log).contains("cannot listen") {
                    break;
                }
                panic!("onecard serve exited with {status}:\n{}", log_tail(log));
            }
            if let Ok(res) = client.get(format!("{}/readyz", serve.base)).send().await {
                if res.status().as_u16() == 200 {
                    return serve;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not ready after 60 s:\n{}",
                log_tail(log)
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        drop(serve);
    }
    panic!("no free port for onecard serve");
}

/// The API as one role sees it.
#[derive(Clone)]
struct Api {
    client: awc::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(base: &str, token: &str) -> Api {
        Api {
            client: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish(),
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => self.client.post(url),
            _ => self.client.get(url),
        }
        .bearer_auth(&self.token);
        if let Some(k) = key {
            req = req.insert_header(("Idempotency-Key", k));
        }
        let mut res = match body {
            Some(b) => req
                .insert_header(("content-type", "application/json"))
                .send_body(b.to_string())
                .await
                .expect("request"),
            None => req.send().await.expect("request"),
        };
        let bytes = res.body().limit(16 << 20).await.expect("body");
        (res.status().as_u16(), text(&bytes))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, b) = self.call("GET", path, None, None).await;
        (s, serde_json::from_str(&b).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, b) = self.call("POST", path, None, Some(body)).await;
        (s, serde_json::from_str(&b).unwrap_or(Value::Null))
    }
}

/// A payment the service answered 201 to.
#[derive(Clone, Debug)]
struct Ack {
    key: String,
    id: String,
    receipt_no: String,
    body: String,
}

fn payment(n: u64) -> Value {
    json!({
        "channel": "bank_card", "department": "D03", "window": format!("W{:02}", n % 12 + 1),
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1, "amount": "80.00"}], "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": format!("{:06}", n % 1_000_000), "rrn": format!("{n:012}"), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

async fn pay(clerk: &Api, key: &str, n: u64) -> Result<Ack, String> {
    let (status, body) = clerk
        .call("POST", "/v1/payments", Some(key), Some(&payment(n)))
        .await;
    if status != 201 {
        return Err(format!("{key}: {status} {body}"));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    Ok(Ack {
        key: key.to_string(),
        id: v["id"].as_str().unwrap_or_default().to_string(),
        receipt_no: v["receipt_no"].as_str().unwrap_or_default().to_string(),
        body,
    })
}

/// Clients posting payments until `stop`; every answer goes to `acks` (or `errors`).
fn load(
    clerk: &Api,
    stop: &Arc<AtomicBool>,
    next: &Arc<AtomicU64>,
    acks: &Arc<Mutex<Vec<Ack>>>,
    errors: &Arc<Mutex<Vec<String>>>,
) -> Vec<actix_web::rt::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|_| {
            let (clerk, stop, next, acks, errors) = (
                clerk.clone(),
                stop.clone(),
                next.clone(),
                acks.clone(),
                errors.clone(),
            );
            actix_web::rt::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    match pay(&clerk, &format!("drill-{n:06}"), n).await {
                        Ok(a) => acks.lock().expect("lock").push(a),
                        Err(e) => errors.lock().expect("lock").push(e),
                    }
                }
            })
        })
        .collect()
}

fn receipt_numbers(db_url: &str) -> (Vec<i64>, i64) {
    let mut conn = onecard::db::DbTarget::parse(db_url)
        .expect("url")
        .connect()
        .expect("connect");
    let numbers = receipts::table
        .filter(receipts::series_code.eq(SERIES))
        .order(receipts::number)
        .select(receipts::number)
        .load::<i64>(&mut conn)
        .expect("receipts");
    let next = receipt_series::table
        .filter(receipt_series::series_code.eq(SERIES))
        .select(receipt_series::next_number)
        .first::<i64>(&mut conn)
        .expect("series");
    (numbers, next)
}

/// What a database file holds, compared across a refused or a forced restore: the chain head
/// and how many payments and receipts (opening it may fold its -wal in, so bytes may differ).
fn holdings(path: &Path) -> (i64, String, i64, i64) {
    let mut conn = onecard::db::DbTarget::Sqlite(path.to_path_buf())
        .connect()
        .expect("open");
    let (seq, hash) = onecard::ledger::repo::chain_head(&mut conn).expect("head");
    let payments = onecard::db::schema::payments::table
        .count()
        .get_result::<i64>(&mut conn)
        .expect("payments");
    let receipts = receipts::table
        .count()
        .get_result::<i64>(&mut conn)
        .expect("receipts");
    (seq, hex::encode(hash), payments, receipts)
}

fn number_of(receipt_no: &str) -> i64 {
    receipt_no
        .strip_prefix(&format!("{SERIES}/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("receipt number {receipt_no}"))
}

/// Whether `seal` is the service's signature over the day's seal message, checked with the
/// key the service publishes.
async fn seal_verifies(auditor: &Api, day: &Value) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_, key) = auditor.get("/v1/signing-key").await;
    let (Some(public), Some(seal), Some(date)) = (
        key["public_key"].as_str().and_then(|k| b64.decode(k).ok()),
        day["seal"].as_str().and_then(|s| b64.decode(s).ok()),
        day["date"].as_str().and_then(|d| d.parse().ok()),
    ) else {
        return false;
    };
    let message = onecard::recon::days::seal_message(
        date,
        day["last_entry_hash"].as_str().unwrap_or_default(),
        day["entries"].as_i64().unwrap_or(-1),
    );
    onecard::keys::verify_signature(&public, message.as_bytes(), &seal)
}

#[actix_web::test]
async fn a_backup_taken_under_load_restores_with_its_seals_payments_and_receipt_series() {
    let db = TestDb::new();
    if db.is_postgres() {
        eprintln!(
            "backup drill skipped on PostgreSQL: pg_dump / pg_restore restore it (README); onecard restore is SQLite's"
        );
        let out = run(&db, &["restore", "--from", "/tmp/never-read.db"]);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("pg_restore"),
            "{}",
            text(&out.stderr)
        );
        return;
    }
    // The service's data: the demo catalogue and a token per role.
    let config = db.config();
    let tokens = std::thread::spawn(move || {
        let ctx = onecard::app::AppContext::open(config, true).expect("open");
        onecard::app::demo::load(&ctx).expect("demo data");
        let mut conn = ctx.conn().expect("conn");
        let mut t = std::collections::HashMap::new();
        for role in [Role::Clerk, Role::Finance, Role::Supervisor, Role::Auditor] {
            let issued = onecard::auth::create_token(
                &mut conn,
                &ctx.keys,
                role,
                &format!("drill-{role}"),
                "test",
            )
            .expect("token");
            t.insert(role, issued.token);
        }
        t
    })
    .join()
    .expect("setup");
    let log = db.dir.path().join("serve.log");
    let serve = start(&db, &log).await;
    let as_role = |role: Role, base: &str| Api::new(base, &tokens[&role]);
    let (clerk, finance, supervisor, auditor) = (
        as_role(Role::Clerk, &serve.base),
        as_role(Role::Finance, &serve.base),
        as_role(Role::Supervisor, &serve.base),
        as_role(Role::Auditor, &serve.base),
    );

    // Yesterday gets two entries and is closed and sealed.
    let sealed = onecard::clock::today().pred_opt().expect("yesterday");
    for amount in ["100.00", "250.00"] {
        let (status, body) = supervisor
            .post(
                "/v1/ledger/entries",
                &json!({"business_date": sealed.to_string(), "kind": "appropriation",
                        "memo": "drill: bank charges budget", "reference": null,
                        "postings": [{"account": "1002.02", "side": "debit", "amount": amount},
                                     {"account": "4001", "side": "credit", "amount": amount}]}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, recon_run) = finance
        .post(
            "/v1/reconciliations",
            &json!({"business_date": sealed.to_string()}),
        )
        .await;
    assert_eq!(status, 201, "{recon_run}");
    let (status, day) = finance
        .post(&format!("/v1/days/{sealed}/close"), &json!({}))
        .await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["entries"], 2, "{day}");
    assert!(seal_verifies(&auditor, &day).await);

    // Payments from several clients; the backup is taken while they go on.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(1));
    let acks = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let clients = load(&clerk, &stop, &next, &acks, &errors);
    while acks.lock().expect("lock").len() < 40 {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    // Every 201 recorded by now was received before the backup began.
    let before: Vec<Ack> = acks.lock().expect("lock").clone();
    let backup = db.dir.path().join("backups").join("drill.db");
    std::fs::create_dir_all(backup.parent().expect("folder")).expect("folder");
    let out = {
        let mut cmd = onecard(&db);
        cmd.args(["backup", "--to", backup.to_str().expect("utf-8")]);
        actix_web::rt::task::spawn_blocking(move || cmd.output().expect("run backup"))
            .await
            .expect("backup thread")
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at_backup_end = acks.lock().expect("lock").len();
    assert!(
        at_backup_end > before.len(),
        "payments went on during the backup"
    );
    // More after it: the live books are now ahead of the backup.
    while acks.lock().expect("lock").len() < at_backup_end + 20 {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("client");
    }
    let errors = errors.lock().expect("lock").clone();
    assert!(errors.is_empty(), "answers other than 201: {errors:?}");
    let all: Vec<Ack> = acks.lock().expect("lock").clone();

    // Not while the service runs: it says who holds the database.
    let refused = run(&db, &["restore", "--from", backup.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("in use") && why.contains("onecard.db.lock"),
        "{why}"
    );
    if cfg!(target_os = "linux") {
        assert!(why.contains("serve"), "names the holder: {why}");
    }
    serve.stop();
    let live = db.dir.path().join("onecard.db");
    let before_restore = holdings(&live);
    assert_eq!(
        before_restore.2 as usize,
        all.len(),
        "every payment acknowledged is there"
    );

    // Not over newer books without --force.
    let refused = run(&db, &["restore", "--from", backup.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    let why = text(&refused.stderr);
    assert!(
        why.contains("newer than the backup") && why.contains("--force"),
        "{why}"
    );
    assert_eq!(
        holdings(&live),
        before_restore,
        "a refused restore changes nothing"
    );

    let out = run(
        &db,
        &[
            "restore",
            "--from",
            backup.to_str().expect("utf-8"),
            "--force",
        ],
    );
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}\n{}", text(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).expect("the verify report");
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        said.contains(&format!("last sealed day {sealed}")),
        "{said}"
    );
    assert!(said.contains("last payment taken 20"), "{said}");
    assert!(
        said.contains(&format!("{} ledger entries", report["entries"])),
        "{said}"
    );
    let kept: Vec<PathBuf> = std::fs::read_dir(db.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains("onecard.db.replaced-"))
        .collect();
    let kept: Vec<&PathBuf> = kept
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with("-wal"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept: {kept:?}");
    assert_eq!(
        holdings(kept[0]),
        before_restore,
        "the replaced database is kept whole"
    );
    for stale in ["onecard.db-wal", "onecard.db-shm", "onecard.db.restoring"] {
        assert!(!db.dir.path().join(stale).exists(), "{stale} left behind");
    }

    // Started again on the restored books.
    let serve = start(&db, &log).await;
    let (clerk, auditor) = (
        as_role(Role::Clerk, &serve.base),
        as_role(Role::Auditor, &serve.base),
    );
    let (status, verified) = auditor.get("/v1/ledger/verify").await;
    assert_eq!((status, &verified["ok"]), (200, &json!(true)), "{verified}");
    let (status, restored_day) = auditor.get(&format!("/v1/days/{sealed}")).await;
    assert_eq!(status, 200, "{restored_day}");
    assert_eq!(
        (
            &restored_day["status"],
            &restored_day["seal"],
            &restored_day["last_entry_hash"]
        ),
        (&json!("closed"), &day["seal"], &day["last_entry_hash"]),
        "the sealed day is as it was sealed"
    );
    assert!(seal_verifies(&auditor, &restored_day).await);
    for a in &before {
        let (status, p) = auditor.get(&format!("/v1/payments/{}", a.id)).await;
        assert_eq!(
            status, 200,
            "payment {} acknowledged before the backup: {p}",
            a.id
        );
        assert_eq!(p["receipt_no"].as_str(), Some(a.receipt_no.as_str()), "{p}");
    }
    // A retry of an acknowledged request gets its stored answer, not a second payment.
    let first = &before[0];
    let (status, again) = clerk
        .call(
            "POST",
            "/v1/payments",
            Some(&first.key),
            Some(&payment(first.key[6..].parse().expect("n"))),
        )
        .await;
    assert_eq!((status, again.as_str()), (201, first.body.as_str()));

    // The receipt series goes on from the restore point without a gap.
    let (restored_numbers, next_number) = receipt_numbers(&db.url);
    let n = restored_numbers.len() as i64;
    assert_eq!(
        restored_numbers,
        (1..=n).collect::<Vec<_>>(),
        "restored receipts"
    );
    assert_eq!(next_number, n + 1);
    assert!(n as usize >= before.len() && n as usize <= all.len());
    let mut fresh = Vec::new();
    for i in 0..5u64 {
        let ack = pay(&clerk, &format!("after-restore-{i}"), 900_000 + i)
            .await
            .expect("payment after the restore");
        fresh.push(number_of(&ack.receipt_no));
    }
    assert_eq!(fresh, (n + 1..=n + 5).collect::<Vec<_>>());
    let (numbers, next_number) = receipt_numbers(&db.url);
    assert_eq!(numbers, (1..=n + 5).collect::<Vec<_>>());
    assert_eq!(next_number, n + 6);
    serve.stop();
    let out = run(&db, &["verify"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn backups_that_must_not_be_restored_are_refused_and_change_nothing() {
    let db = TestDb::new();
    if db.is_postgres() {
        eprintln!("restore refusals skipped on PostgreSQL: onecard restore is SQLite's");
        return;
    }
    {
        let ctx = db.open();
        onecard::app::demo::load(&ctx).expect("demo data");
    }
    let dir = db.dir.path().join("backups");
    std::fs::create_dir_all(&dir).expect("dir");
    let good = dir.join("good.db");
    let out = run(&db, &["backup", "--to", good.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let live = db.dir.path().join("onecard.db");
    let refuse = |path: &Path, expect: &str| {
        let before = holdings(&live);
        let out = run(
            &db,
            &[
                "restore",
                "--force",
                "--from",
                path.to_str().expect("utf-8"),
            ],
        );
        let why = text(&out.stderr);
        assert!(!out.status.success(), "{} was restored", path.display());
        assert!(why.contains(expect), "{}: {why}", path.display());
        assert_eq!(holdings(&live), before, "{why}");
        assert!(!db.dir.path().join("onecard.db.restoring").exists());
    };
    let junk = dir.join("junk.db");
    std::fs::write(
        &junk,
        b"this is not a database, only a file of text ".repeat(200),
    )
    .expect("junk");
    refuse(&junk, "cannot be restored");
    let alien = dir.join("alien.db");
    SqliteConnection::establish(alien.to_str().expect("utf-8"))
        .expect("alien")
        .batch_execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        .expect("alien table");
    refuse(&alien, "not a onecard database");
    let newer = dir.join("newer.db");
    std::fs::copy(&good, &newer).expect("copy");
    SqliteConnection::establish(newer.to_str().expect("utf-8"))
        .expect("newer")
        .batch_execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000001');",
        )
        .expect("a migration from the future");
    refuse(&newer, "newer onecard");
    let half = dir.join("half.db");
    std::fs::copy(&good, &half).expect("copy");
    std::fs::write(dir.join("half.db-wal"), b"frames").expect("wal");
    refuse(&half, "-wal");
    refuse(&live, "the database itself");
    refuse(&dir.join("missing.db"), "not a file");
    // And the good one restores (no --force: the live books hold nothing it lacks).
    let out = run(&db, &["restore", "--from", good.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

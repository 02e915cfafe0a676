//! PostgreSQL roles (README "PostgreSQL roles", issue 18): the migrations run as an owner role,
//! `onecard db grant` gives the service's role exactly what it needs, the service runs a day's
//! work as that role, and the database then refuses that role every way of changing the ledger
//! and audit rows behind the service — UPDATE, DELETE, TRUNCATE, dropping or disabling a
//! trigger, altering a table. PostgreSQL only: an SQLite database is one file with no roles.

use std::process::Output;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use onecard::auth::Role;
use onecard::config::Config;
use serde_json::json;

use crate::support::{start_app, TestDb};

const PASSWORD: &str = "role-test-password";

/// The owner and service roles of one test run (cluster-wide names, unique per run); dropped,
/// with the test's schema and everything granted to them, when the test ends.
struct Roles {
    base: String,
    schema: String,
    owner: String,
    service: String,
}

impl Roles {
    fn create(db: &TestDb) -> Roles {
        let (base, schema) = db.pg_parts().expect("PostgreSQL");
        let run = hex::encode(onecard::keys::random_bytes::<5>().expect("random"));
        let roles = Roles {
            base,
            schema,
            owner: format!("oc_owner_{run}"),
            service: format!("oc_service_{run}"),
        };
        let mut admin = diesel::pg::PgConnection::establish(&roles.base).expect("admin");
        admin
            .batch_execute(&format!(
                "CREATE ROLE {o} LOGIN PASSWORD '{PASSWORD}';
                 CREATE ROLE {s} LOGIN PASSWORD '{PASSWORD}';
                 ALTER SCHEMA {schema} OWNER TO {o};",
                o = roles.owner,
                s = roles.service,
                schema = roles.schema
            ))
            .expect("create the roles");
        roles
    }

    /// The test database's URL as `role` (the schema kept as the search path).
    fn url_as(&self, db: &TestDb, role: &str) -> String {
        let (scheme, rest) = db.url.split_once("://").expect("url");
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{role}:{PASSWORD}@{host}")
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::pg::PgConnection::establish(&self.base) {
            let _ = admin.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE usename IN ('{o}', '{s}') AND pid <> pg_backend_pid();
                 DROP SCHEMA IF EXISTS {schema} CASCADE;
                 DROP OWNED BY {o}, {s};
                 DROP ROLE {o}; DROP ROLE {s};",
                o = self.owner,
                s = self.service,
                schema = self.schema
            ));
        }
    }
}

/// `onecard <args>` on the database at `url`, waited for at most a minute (a `serve` that
/// starts instead of refusing is killed and fails the test).
fn onecard(db: &TestDb, url: &str, args: &[&str]) -> Output {
    let mut child = db
        .command_for(url)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run onecard");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("onecard {args:?} did not finish (did `serve` start?)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `onecard` expecting failure with `needle` in its message.
fn fails_with(db: &TestDb, url: &str, args: &[&str], needle: &str) {
    let out = onecard(db, url, args);
    assert!(
        !out.status.success() && stderr(&out).contains(needle),
        "onecard {args:?}: expected a failure naming '{needle}', got {:?}: {}",
        out.status,
        stderr(&out)
    );
}

#[actix_web::test]
async fn the_service_role_works_a_day_and_cannot_change_the_books_behind_the_service() {
    let db = TestDb::new();
    if !db.is_postgres() {
        eprintln!(
            "pg_roles: SKIPPED on SQLite: database roles are PostgreSQL's (an SQLite database \
             is one file the service owns); .ci/run's PostgreSQL pass runs it"
        );
        return;
    }
    let roles = Roles::create(&db);
    let owner = roles.url_as(&db, &roles.owner);
    let service = roles.url_as(&db, &roles.service);
    let serve = ["serve", "--bind", "127.0.0.1:0"];

    // Before the migrations: the service refuses to start and does not try to migrate; asked
    // to migrate, its role cannot, and it says whose URL to use.
    fails_with(&db, &service, &serve, "onecard migrate");
    fails_with(
        &db,
        &service,
        &["serve", "--bind", "127.0.0.1:0", "--migrate"],
        "owner role's URL",
    );
    let out = onecard(&db, &owner, &["migrate"]);
    assert!(out.status.success(), "migrate as owner: {}", stderr(&out));
    // Migrated, not yet granted: refused, saying what to run.
    fails_with(&db, &service, &serve, "onecard db grant");

    // The grant: only by the owner, only to a role that is neither the owner nor a superuser;
    // again changes nothing.
    fails_with(
        &db,
        &owner,
        &["db", "grant", "--to", &roles.owner],
        "owns the tables",
    );
    fails_with(
        &db,
        &owner,
        &["db", "grant", "--to", "postgres"],
        "is a superuser",
    );
    fails_with(
        &db,
        &owner,
        &["db", "grant", "--to", "oc_nobody"],
        "no role",
    );
    let first = onecard(&db, &owner, &["db", "grant", "--to", &roles.service]);
    assert!(first.status.success(), "grant: {}", stderr(&first));
    let again = onecard(&db, &owner, &["db", "grant", "--to", &roles.service]);
    assert!(again.status.success(), "grant again: {}", stderr(&again));
    assert_eq!(first.stdout, again.stdout, "the grant is idempotent");
    fails_with(
        &db,
        &service,
        &["db", "grant", "--to", &roles.service],
        "run this as the role that ran `onecard migrate`",
    );
    // A binary newer than the schema: the service refuses to start until the owner migrates.
    let mut as_owner = diesel::pg::PgConnection::establish(&owner).expect("owner connection");
    let hide = "DELETE FROM __diesel_schema_migrations WHERE version = '20261208000023'";
    as_owner
        .batch_execute(hide)
        .expect("hide the newest migration");
    fails_with(&db, &service, &serve, "the database has pending migrations");
    as_owner
        .batch_execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('20261208000023')")
        .expect("restore it");
    drop(as_owner);
    let granted: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    let access = |t: &str| {
        granted
            .as_array()
            .and_then(|a| a.iter().find(|g| g["table"] == t))
            .map(|g| g["privileges"].clone())
    };
    assert_eq!(access("ledger_entries"), Some(json!("SELECT, INSERT")));
    assert_eq!(access("audit_log"), Some(json!("SELECT, INSERT")));

    // The real app as the service role (no migration asked for): a day's work.
    let mut config = Config::load(&service).expect("config");
    config.key_dir = db.key_dir();
    config.data_dir = db.dir.path().to_path_buf();
    config.pool_size = 4;
    let app = start_app(db, config, false).await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    app.capture_night_sales(day).await;
    app.import_night_files().await;
    app.close_worked(day).await;
    let (status, batch) = app.prepare_remittance(day).await;
    assert_eq!(status, 201, "{batch}");
    let id = batch["id"].as_str().expect("batch id").to_string();
    let (status, _, approved) = app
        .post(
            Role::Supervisor,
            &format!("/v1/remittances/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let (status, acked) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/remittances/{id}/ack"),
            &json!({"treasury_reference": "GK-ROLES-1", "amount": batch["amount"]}),
        )
        .await;
    assert_eq!(status, 200, "{acked}");
    // Today: payments, a void, a refund asked and approved.
    let body = |trace: &str| {
        json!({
            "channel": "bank_card", "department": "D03", "window": "W03",
            "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}], "amount": "80.00",
            "card": {"merchant_id": "898440379930001", "terminal_id": "11002001",
                     "batch_no": "000001", "trace_no": trace, "rrn": format!("000451{trace}"),
                     "auth_code": "890123", "masked_pan": "622848******0123",
                     "txn_time": "2026-11-24T09:30:15+08:00"}
        })
    };
    let mut paid = Vec::new();
    for trace in ["000901", "000902"] {
        let (s, _, p) = app
            .post_keyed(Role::Clerk, "/v1/payments", trace, &body(trace))
            .await;
        assert_eq!(s, 201, "{p}");
        paid.push(p["id"].as_str().expect("id").to_string());
    }
    let (s, _, v) = app
        .post(
            Role::Clerk,
            &format!("/v1/payments/{}/void", paid[0]),
            &json!({}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("voided")), "{v}");
    let (s, _, r) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{}/refunds", paid[1]),
            "role-refund",
            &json!({"amount": "30.00", "reason": "charged twice"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, _, r) = app
        .post(
            Role::Supervisor,
            &format!("/v1/refunds/{}/approve", r["id"].as_str().expect("id")),
            &json!({}),
        )
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("approved")), "{r}");
    let (_, verified) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");

    // The service's role, directly in SQL: every way of changing the books is refused.
    let mut conn = diesel::pg::PgConnection::establish(&service).expect("service connection");
    conn.batch_execute("SELECT count(*) FROM ledger_entries; SELECT count(*) FROM audit_log")
        .expect("the service role reads");
    let refusals = [
        "UPDATE ledger_entries SET memo = 'x'",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries CASCADE",
        "UPDATE ledger_postings SET amount_minor = 1",
        "DELETE FROM ledger_postings",
        "TRUNCATE ledger_postings",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM payments",
        "DELETE FROM receipts",
        "DELETE FROM refunds",
        "UPDATE payment_lines SET amount_minor = 1",
        "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DROP TRIGGER payments_fixed ON payments",
        "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
        "ALTER TABLE payments DISABLE TRIGGER payments_fixed",
        "ALTER TABLE ledger_postings ADD COLUMN note TEXT",
        "ALTER TABLE audit_log RENAME TO audit_log_old",
        "DROP TABLE audit_log",
        "CREATE OR REPLACE FUNCTION onecard_append_only() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RETURN NEW; END; $$",
        "CREATE TABLE shadow (x BIGINT)",
        "SET session_replication_role = replica",
    ];
    for sql in refusals {
        match conn.batch_execute(sql) {
            Ok(()) => panic!("the service role was allowed: {sql}"),
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("permission denied") || e.contains("must be owner"),
                    "{sql}: refused for another reason: {e}"
                );
            }
        }
    }
    // A change the service may make but not this one: refused by the guard itself.
    let e = conn
        .batch_execute("UPDATE payments SET amount_minor = 1")
        .expect_err("a payment's amount");
    assert!(e.to_string().contains("a payment never changes"), "{e}");
    drop(conn);

    let (_, verified) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    let out = onecard(&app.db, &service, &["verify"]);
    assert!(
        out.status.success(),
        "verify as the service role: {}",
        stderr(&out)
    );
    app.stop().await;
    drop(roles);
}

//! The `onecard` binary as an operator uses it.

use std::process::Command;

use crate::support::TestDb;

fn onecard(db: &TestDb, args: &[&str]) -> std::process::Output {
    db.command().args(args).output().expect("run onecard")
}

#[test]
fn migrate_keys_and_verify_from_the_command_line() {
    let db = TestDb::new();
    let out = onecard(&db, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = onecard(
        &db,
        &["keys", "create", "--role", "clerk", "--name", "window 3"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "a clerk token is printed alone: {stdout:?}");
    assert!(lines[0].starts_with("oc_") && lines[0].len() == 46);

    let out = onecard(
        &db,
        &[
            "keys",
            "create",
            "--role",
            "treasury",
            "--name",
            "municipal treasury",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "treasury: token then secret: {stdout:?}");
    assert!(lines[0].starts_with("oc_"));
    assert!(lines[1].len() >= 40 && !lines[1].starts_with("oc_"));

    let out = onecard(&db, &["keys", "create", "--role", "janitor", "--name", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));

    // The token is stored only as a hash: its text is nowhere in the database.
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    use diesel::prelude::*;
    let hashes: Vec<Vec<u8>> = onecard::db::schema::api_tokens::table
        .select(onecard::db::schema::api_tokens::token_hash)
        .load(&mut conn)
        .expect("tokens");
    assert_eq!(hashes.len(), 2);
    assert!(hashes.iter().all(|h| h.len() == 32));
    let token = lines[0];
    assert!(onecard::auth::authenticate(&mut conn, token)
        .expect("auth")
        .is_some());
    drop(conn);

    let out = onecard(&db, &["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["ok"], true);
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_onecard"))
        .args(["--database", "mysql://x", "verify"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// or postgres://"));
}

#[test]
fn import_from_the_command_line_is_all_or_nothing() {
    let db = TestDb::new();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let good = format!("{fixtures}/pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt");
    // PostgreSQL is migrated explicitly, as in production.
    assert!(onecard(&db, &["migrate"]).status.success());
    // The spec is found from the file name.
    let out = onecard(&db, &["import", &good]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(first["spec"], "pos-settlement-fixed-width");
    assert_eq!(first["records"], 5);
    assert_eq!(first["duplicate"], false);
    let out = onecard(
        &db,
        &["import", "--spec", "pos-settlement-fixed-width", &good],
    );
    assert!(out.status.success());
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (again["id"].clone(), again["duplicate"].clone()),
        (first["id"].clone(), true.into())
    );

    let bad = format!("{fixtures}/pos-settlement-fixed-width/bad/trailer-net-disagrees.txt");
    let out = onecard(
        &db,
        &["import", "--spec", "pos-settlement-fixed-width", &bad],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 7, byte 43") && err.contains("nothing stored"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = onecard(
        &db,
        &["import", &format!("{fixtures}/real-samples/refusals.tsv")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spec"));
}

#[test]
fn reconcile_and_close_day_from_the_command_line() {
    let db = TestDb::new();
    assert!(onecard(&db, &["migrate"]).status.success());
    // A day no run covers is not closed.
    let out = onecard(&db, &["close-day", "2020-01-02"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has not been reconciled"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(onecard(&db, &["reconcile", "--date", "2020-01-02"])
        .status
        .success());
    let out = onecard(&db, &["close-day", "2020-01-02"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let day: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (day["status"].as_str(), day["closed_by"].as_str()),
        (Some("closed"), Some("cli"))
    );
    assert!(day["seal"].as_str().is_some_and(|s| !s.is_empty()));
    let today = onecard::clock::today().to_string();
    let out = onecard(&db, &["close-day", &today]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not ended yet"));
}

#[test]
fn remit_from_the_command_line_needs_a_closed_day_with_fees() {
    let db = TestDb::new();
    assert!(onecard(&db, &["migrate"]).status.success());
    let out = onecard(&db, &["remit", "--date", "2020-01-03"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(onecard(&db, &["reconcile", "--date", "2020-01-03"])
        .status
        .success());
    assert!(onecard(&db, &["close-day", "2020-01-03"]).status.success());
    let out = onecard(&db, &["remit", "--date", "2020-01-03"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing is payable"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_backup_taken_while_the_service_runs_restores_and_verifies() {
    let db = TestDb::new();
    let ctx = db.open(); // the service's pool and writer are open during the backup
    if db.is_postgres() {
        let out = onecard(&db, &["backup", "--to", "/tmp/never-written.db"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    onecard::app::demo::load(&ctx).expect("demo data: catalogue and an opening entry");
    let copy = db.dir.path().join("backup").join("copy.db");
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("dir");
    let out = onecard(&db, &["backup", "--to", copy.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Never over an existing file.
    let again = onecard(&db, &["backup", "--to", copy.to_str().expect("utf-8")]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Restored (the copy put in place of a database) it verifies, with the same entries.
    let verify = |url: &str| {
        let out = db
            .command_for(url)
            .arg("verify")
            .output()
            .expect("run onecard");
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
        report["entries"].as_i64().expect("entries")
    };
    let restored = db.dir.path().join("restored.db");
    std::fs::copy(&copy, &restored).expect("restore by copying");
    let original = verify(&db.url);
    assert!(original > 0);
    assert_eq!(
        verify(&format!("sqlite://{}", restored.display())),
        original
    );
}

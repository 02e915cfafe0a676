//! Keys that rotate, and tamper evidence an auditor can check (issue 18, DESIGN §7): a
//! signing-key rotation by another process while the service runs keeps every earlier seal and
//! file verifying with `openssl` and the public key published for its key id; a treasury
//! secret rotates with an overlap; a missing or swapped key file stops the service from
//! starting; `verify` checks every closed day's seal and reports the first that disagrees.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use chrono::NaiveDate;
use diesel::RunQueryDsl;
use onecard::app::AppContext;
use onecard::auth::Role;
use serde_json::Value;

use crate::support::{spawn_app, TestApp, TestDb};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

fn sql(app_or_ctx: &AppContext, statement: &str) {
    let mut conn = app_or_ctx.conn().expect("conn");
    diesel::sql_query(statement)
        .execute(&mut *conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// A day with one counter payment, reconciled, worked and closed (sealed).
async fn sealed_day(app: &TestApp, d: NaiveDate, trace: &str) {
    app.capture_on(d, "SC-JL-01", "200.00", trace, "000451234567")
        .await;
    app.close_worked(d).await;
}

/// Prepares and approves the batch of a closed day; answers the staff route's file: (bytes,
/// Digest value, X-Onecard-Signature value, X-Onecard-Key-Id value).
async fn approved_file(app: &TestApp, d: NaiveDate) -> (Vec<u8>, String, String, String) {
    let (status, batch) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{batch}");
    let id = batch["id"].as_str().expect("id").to_string();
    app.approve_remittance(&id).await;
    let mut res = app
        .client
        .get(app.url(&format!("/v1/remittances/{id}/file")))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .expect("file");
    assert_eq!(res.status().as_u16(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (digest, signature, kid) = (
        header("Digest"),
        header("X-Onecard-Signature"),
        header("X-Onecard-Key-Id"),
    );
    let bytes = res.body().await.expect("body").to_vec();
    (bytes, digest, signature, kid)
}

/// The published public key (base64) of `kid`, from `GET /v1/signing-keys` (no auth).
async fn published_key(app: &TestApp, kid: &str) -> String {
    let mut res = app
        .client
        .get(app.url("/v1/signing-keys"))
        .send()
        .await
        .expect("keys");
    assert_eq!(res.status().as_u16(), 200);
    let keys: Value = res.json().await.expect("json");
    keys["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|k| k["kid"] == kid)
        .and_then(|k| k["public_key"].as_str())
        .unwrap_or_else(|| panic!("kid {kid} is not published: {keys}"))
        .to_string()
}

/// `openssl pkeyutl -verify` of `signature` (base64) over `message` with the raw public key
/// `key` (base64), as the README shows.
fn openssl_verifies(dir: &Path, key: &str, message: &[u8], signature: &str) -> bool {
    std::fs::write(dir.join("msg"), message).expect("write");
    let script = r#"
{ printf '\060\052\060\005\006\003\053\145\160\003\041\000'; printf '%s' "$KEY" | openssl base64 -d -A; } > pub.der
openssl pkey -pubin -inform DER -in pub.der -out pub.pem
printf '%s' "$SIG" | openssl base64 -d -A > msg.sig
openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile msg.sig
"#;
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .env("KEY", key)
        .env("SIG", signature)
        .output()
        .expect("sh runs");
    out.status.success()
        && String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully")
}

/// A day's seal checked with openssl and the key its `seal_kid` names; answers the kid.
async fn seal_verifies_with_its_kid(app: &TestApp, d: NaiveDate, dir: &Path) -> String {
    let (status, shown) = app.get(Role::Auditor, &format!("/v1/days/{d}")).await;
    assert_eq!(status, 200, "{shown}");
    let kid = shown["seal_kid"].as_str().expect("seal_kid").to_string();
    let message = onecard::recon::days::seal_message(
        d,
        shown["last_entry_hash"].as_str().expect("hash"),
        shown["entries"].as_i64().expect("entries"),
    );
    let key = published_key(app, &kid).await;
    assert!(
        openssl_verifies(
            dir,
            &key,
            message.as_bytes(),
            shown["seal"].as_str().expect("seal")
        ),
        "the seal of {d} must verify with key {kid}"
    );
    kid
}

async fn verify_report(app: &TestApp) -> Value {
    let (status, report) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(status, 200, "{report}");
    report
}

#[actix_web::test]
async fn seals_and_files_signed_before_a_rotation_by_another_process_still_verify() {
    let app = spawn_app().await;
    app.load_demo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, before) = app.get(Role::Auditor, "/v1/signing-key").await;
    let first = before["kid"].as_str().expect("kid").to_string();
    assert_eq!(first, app.ctx.keys.kid());

    sealed_day(&app, day(20), "000021").await;
    let (file1, digest1, sig1, kid1) = approved_file(&app, day(20)).await;
    assert_eq!(kid1, first, "the file names the key that signed it");
    assert_eq!(
        seal_verifies_with_its_kid(&app, day(20), dir.path()).await,
        first
    );

    // Another process rotates while this service runs with the old key in memory.
    let out = app
        .db
        .command()
        .args(["keys", "rotate-signing"])
        .output()
        .expect("run onecard");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(second.len(), 16, "the new kid alone on stdout: {second}");
    assert_ne!(second, first);
    let (_, now) = app.get(Role::Auditor, "/v1/signing-key").await;
    assert_eq!(now["kid"], second.as_str(), "{now}");
    let retired = std::fs::read_dir(app.db.key_dir())
        .expect("key dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        retired.iter().filter(|n| n.contains("signing")).count(),
        1,
        "one signing key file, the retired private half not kept: {retired:?}"
    );

    // The running service signs with the new key from its next signature, and names it.
    sealed_day(&app, day(21), "000022").await;
    let (file2, digest2, sig2, kid2) = approved_file(&app, day(21)).await;
    assert_eq!(kid2, second);
    assert_eq!(
        seal_verifies_with_its_kid(&app, day(21), dir.path()).await,
        second
    );
    // The day sealed before the rotation still names and verifies with the first key.
    assert_eq!(
        seal_verifies_with_its_kid(&app, day(20), dir.path()).await,
        first
    );

    // Both files, with the key their header names, with openssl.
    for (bytes, digest, sig, kid) in [
        (&file1, &digest1, &sig1, &kid1),
        (&file2, &digest2, &sig2, &kid2),
    ] {
        let key = published_key(&app, kid).await;
        let sig = sig.trim_start_matches("ed25519=");
        assert!(
            openssl_verifies(dir.path(), &key, bytes, sig),
            "file by {kid}"
        );
        let sha = ring::digest::digest(&ring::digest::SHA256, bytes);
        assert_eq!(
            digest.trim_start_matches("sha-256="),
            base64::engine::general_purpose::STANDARD.encode(sha.as_ref())
        );
        // And not with the other key.
        let other = if kid == &kid1 { &kid2 } else { &kid1 };
        let other = published_key(&app, other).await;
        assert!(!openssl_verifies(dir.path(), &other, bytes, sig));
    }

    // Both keys published, the first retired when the second began.
    let mut res = app
        .client
        .get(app.url("/v1/signing-keys"))
        .send()
        .await
        .expect("keys");
    let keys: Value = res.json().await.expect("json");
    let items = keys["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{keys}");
    assert_eq!(items[0]["kid"], first.as_str());
    assert_eq!(items[0]["until"], items[1]["from"], "{keys}");
    assert!(items[1]["until"].is_null());
    assert_eq!(items[1]["alg"], "ed25519");

    let report = verify_report(&app).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["seals_checked"], 2, "{report}");

    // The rotation is in the audit trail.
    let mut conn = app.ctx.conn().expect("conn");
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let audited: N = diesel::sql_query(
        "SELECT count(*) AS n FROM audit_log WHERE action IN ('signing_key.register', 'signing_key.rotate')",
    )
    .get_result(&mut *conn)
    .expect("audit");
    assert_eq!(audited.n, 2);
}

/// The treasury token's id (from its bearer token).
fn treasury_token_id(app: &TestApp) -> String {
    let mut conn = app.ctx.conn().expect("conn");
    onecard::auth::authenticate(&mut conn, app.token(Role::Treasury))
        .expect("auth")
        .expect("a treasury token")
        .token_id
}

/// A signed `GET /v1/treasury/remittances` with `secret`; each call another timestamp in the
/// accepted window (the same request twice in one second would be a replay).
async fn treasury_status(app: &TestApp, secret: &str) -> u16 {
    static FRESH: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let ts = chrono::Utc::now().timestamp() - 100
        + FRESH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let canonical = onecard::auth::request_signing::canonical_request(
        "GET",
        "/v1/treasury/remittances",
        "",
        &ts.to_string(),
        b"",
    );
    let ts = canonical.split('\n').nth(2).expect("ts").to_string();
    let mut res = app
        .client
        .get(app.url("/v1/treasury/remittances"))
        .bearer_auth(app.token(Role::Treasury))
        .insert_header(("X-Onecard-Timestamp", ts))
        .insert_header((
            "X-Onecard-Request-Signature",
            onecard::auth::request_signing::sign(secret, &canonical),
        ))
        .send()
        .await
        .expect("request");
    let _ = res.body().await;
    res.status().as_u16()
}

fn rotate_secret(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.db
        .command()
        .args(["keys", "rotate-secret"])
        .args(args)
        .output()
        .expect("run onecard")
}

#[actix_web::test]
async fn a_treasury_secret_rotates_with_an_overlap_and_then_only_the_new_one_signs() {
    let app = spawn_app().await;
    let id = treasury_token_id(&app);
    let gen0 = app.treasury_secret.clone();
    assert_eq!(treasury_status(&app, &gen0).await, 200);

    // Default overlap (24 h): the new secret alone on stdout; both are accepted.
    let out = rotate_secret(&app, &[&id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let gen1 = stdout.trim().to_string();
    assert_ne!(gen1, gen0);
    assert_eq!(treasury_status(&app, &gen1).await, 200);
    assert_eq!(treasury_status(&app, &gen0).await, 200, "the overlap");
    assert_eq!(treasury_status(&app, "not-the-secret").await, 401);

    // No overlap: from now on only the newest secret; the one before and the first are refused.
    let out = rotate_secret(&app, &[&id, "--overlap-hours", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gen2 = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(treasury_status(&app, &gen2).await, 200);
    assert_eq!(treasury_status(&app, &gen1).await, 401);
    assert_eq!(treasury_status(&app, &gen0).await, 401);

    // Only treasury tokens have secrets; an unknown id is refused; nothing printed.
    let clerk = {
        let mut conn = app.ctx.conn().expect("conn");
        onecard::auth::authenticate(&mut conn, app.token(Role::Clerk))
            .expect("auth")
            .expect("clerk")
            .token_id
    };
    for bad in [clerk.as_str(), "0000000000000000"] {
        let out = rotate_secret(&app, &[bad]);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
    }

    // Audited, without the secret.
    let mut conn = app.ctx.conn().expect("conn");
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        after_json: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT after_json FROM audit_log WHERE action = 'treasury_secret.rotate' ORDER BY id",
    )
    .load(&mut *conn)
    .expect("audit");
    assert_eq!(rows.len(), 2);
    for r in rows {
        let text = r.after_json.unwrap_or_default();
        assert!(!text.contains(&gen1) && !text.contains(&gen2), "{text}");
    }
}

/// Opens the app on `db` and closes an empty day in it (a run covers it): signed data.
async fn with_a_sealed_day(db: &TestDb) {
    let ctx = db.open();
    let d = day(10);
    let mut conn = ctx.conn().expect("conn");
    onecard::recon::runs::run(&mut conn, &ctx.writer, &ctx.recon_settings(), d, "test")
        .expect("run");
    drop(conn);
    onecard::recon::days::close(
        &ctx.writer,
        ctx.keys.clone(),
        d,
        ctx.business_today(),
        "t".into(),
    )
    .await
    .expect("close");
}

fn open_error(db: &TestDb) -> String {
    match AppContext::open(db.config(), true) {
        Ok(_) => panic!("the service must refuse to start"),
        Err(e) => e.to_string(),
    }
}

/// `onecard serve` on `db`: it must exit (refuse) within 60 s; answers its stderr.
fn serve_refuses(db: &TestDb) -> String {
    let mut child = db
        .command()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(!status.success());
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("serve started although a key file is missing or swapped");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read");
    stderr
}

#[actix_web::test]
async fn a_missing_or_swapped_key_file_stops_the_start_and_says_how_to_restore_it() {
    let db = TestDb::new();
    with_a_sealed_day(&db).await;
    let keys = db.key_dir();
    let aside = db.dir.path().join("aside");
    std::fs::create_dir_all(&aside).expect("aside");

    // The signing key gone: refused by name, with what depends on it and how to restore it.
    std::fs::rename(keys.join("signing-ed25519.pk8"), aside.join("s")).expect("move");
    for said in [open_error(&db), serve_refuses(&db)] {
        for part in [
            "signing-ed25519.pk8",
            "is missing",
            "1 sealed day(s)",
            "backup",
            "rotate-signing --after-loss",
        ] {
            assert!(said.contains(part), "'{part}' in: {said}");
        }
    }
    assert!(
        !keys.join("signing-ed25519.pk8").exists(),
        "no key made silently"
    );
    std::fs::rename(aside.join("s"), keys.join("signing-ed25519.pk8")).expect("restore");
    drop(db.open());

    // The HMAC master key gone while a treasury token's secret derives from it.
    {
        let ctx = db.open();
        let mut conn = ctx.conn().expect("conn");
        onecard::auth::create_token(&mut conn, &ctx.keys, Role::Treasury, "gk", "test")
            .expect("token");
    }
    std::fs::rename(keys.join("hmac-master.key"), aside.join("m")).expect("move");
    let said = open_error(&db);
    for part in [
        "hmac-master.key",
        "treasury token",
        "backup",
        "replace-master --after-loss",
    ] {
        assert!(said.contains(part), "'{part}' in: {said}");
    }
    assert!(!keys.join("hmac-master.key").exists());
    std::fs::rename(aside.join("m"), keys.join("hmac-master.key")).expect("restore");
    drop(db.open());

    // Another key put in place of the signing key: refused.
    let other = tempfile::tempdir().expect("other");
    onecard::keys::ServiceKeys::load_or_create(other.path()).expect("other keys");
    std::fs::rename(keys.join("signing-ed25519.pk8"), aside.join("s")).expect("move");
    std::fs::copy(
        other.path().join("signing-ed25519.pk8"),
        keys.join("signing-ed25519.pk8"),
    )
    .expect("swap");
    for said in [open_error(&db), serve_refuses(&db)] {
        assert!(said.contains("is not the current signing key"), "{said}");
    }

    // Lost for good: the loss is recorded, a new key id starts, the old seal still verifies.
    std::fs::remove_file(keys.join("signing-ed25519.pk8")).expect("lose");
    let out = db
        .command()
        .args(["keys", "rotate-signing", "--after-loss"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = db.open();
    let new_kid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(ctx.keys.kid(), new_kid);
    let mut conn = ctx.conn().expect("conn");
    let listed = onecard::auth::signing_keys::list(&mut conn).expect("list");
    assert_eq!(listed.len(), 2);
    let report =
        onecard::ledger::repo::verify(&mut conn, &ctx.chart.current(), |_, _| {}).expect("v");
    assert!(report.ok && report.seals_checked == 1, "{report:?}");
    // --after-loss with the file there is refused.
    let out = db
        .command()
        .args(["keys", "rotate-signing", "--after-loss"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn a_fresh_database_still_gets_new_keys_on_its_first_start() {
    let db = TestDb::new();
    assert!(!db.key_dir().exists());
    let ctx = db.open();
    for file in ["signing-ed25519.pk8", "hmac-master.key"] {
        assert!(db.key_dir().join(file).is_file(), "{file}");
    }
    let mut conn = ctx.conn().expect("conn");
    let listed = onecard::auth::signing_keys::list(&mut conn).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kid, ctx.keys.kid());
    drop(conn);
    drop(ctx);
    // And the next start opens the same keys.
    let again = db.open();
    let mut conn = again.conn().expect("conn");
    assert_eq!(
        onecard::auth::signing_keys::list(&mut conn)
            .expect("list")
            .len(),
        1
    );
}

/// Drops the trigger that keeps a closed day unchanged (as someone with the owner's rights
/// could), so the verifier is what must notice.
fn drop_closed_day_trigger(app: &TestApp) {
    if app.db.is_postgres() {
        sql(
            &app.ctx,
            "DROP TRIGGER business_days_closed_stays_closed ON business_days",
        );
    } else {
        sql(&app.ctx, "DROP TRIGGER business_days_closed_stays_closed");
    }
}

#[actix_web::test]
async fn verify_finds_an_altered_seal_and_names_the_day() {
    let app = spawn_app().await;
    app.load_demo().await;
    sealed_day(&app, day(20), "000031").await;
    // A seal made before a rotation, and one after: both pass.
    {
        let mut conn = app.ctx.conn().expect("conn");
        onecard::app::key_files::rotate_signing(&mut conn, &app.ctx.keys, "test").expect("rotate");
    }
    sealed_day(&app, day(21), "000032").await;
    let report = verify_report(&app).await;
    assert_eq!(
        (report["ok"].as_bool(), report["seals_checked"].as_i64()),
        (Some(true), Some(2)),
        "{report}"
    );

    drop_closed_day_trigger(&app);
    let (_, shown) = app
        .get(Role::Auditor, &format!("/v1/days/{}", day(20)))
        .await;
    let seal = shown["seal"].as_str().expect("seal").to_string();
    let kid = shown["seal_kid"].as_str().expect("kid").to_string();
    let other_seal = app
        .get(Role::Auditor, &format!("/v1/days/{}", day(21)))
        .await
        .1["seal"]
        .as_str()
        .expect("seal")
        .to_string();
    let d = day(20);
    let hex_zero = "0".repeat(64);
    let hash_literal = if app.db.is_postgres() {
        format!("'\\x{hex_zero}'::bytea")
    } else {
        format!("X'{hex_zero}'")
    };
    for (alteration, undo, expect) in [
        (
            format!("UPDATE business_days SET entries = entries + 1 WHERE business_date = '{d}'"),
            format!("UPDATE business_days SET entries = entries - 1 WHERE business_date = '{d}'"),
            "entries",
        ),
        (
            format!("UPDATE business_days SET seal = '{other_seal}' WHERE business_date = '{d}'"),
            format!("UPDATE business_days SET seal = '{seal}' WHERE business_date = '{d}'"),
            "does not verify",
        ),
        (
            format!("UPDATE business_days SET seal_kid = 'ffffffffffffffff' WHERE business_date = '{d}'"),
            format!("UPDATE business_days SET seal_kid = '{kid}' WHERE business_date = '{d}'"),
            "not a published signing key",
        ),
    ] {
        sql(&app.ctx, &alteration);
        let report = verify_report(&app).await;
        assert_eq!(report["ok"], false, "{alteration}: {report}");
        assert_eq!(report["first_bad_day"], d.to_string(), "{report}");
        let problems = report["problems"].to_string();
        assert!(problems.contains(&format!("day {d}")) && problems.contains(expect), "{problems}");
        sql(&app.ctx, &undo);
        assert_eq!(verify_report(&app).await["ok"], true, "undone: {alteration}");
    }
    // The last hash changed, and the command line says so too (exit 1).
    let (_, shown) = app.get(Role::Auditor, &format!("/v1/days/{d}")).await;
    let hash = shown["last_entry_hash"].as_str().expect("hash").to_string();
    sql(
        &app.ctx,
        &format!(
            "UPDATE business_days SET last_entry_hash = {hash_literal} WHERE business_date = '{d}'"
        ),
    );
    let report = verify_report(&app).await;
    assert!(
        report["problems"].to_string().contains("last entry hash"),
        "{report}"
    );
    let out = app.db.command().arg("verify").output().expect("verify");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(printed["first_bad_day"], d.to_string());
    assert!(hash != hex_zero);
}

//! Payer identity numbers are never recoverable from the database (DESIGN §7): after a day's
//! work with payers' identity numbers — payments, a void, a refund, reconciliation, close and
//! remittance — every text and binary column of every table (listed from the database's own
//! catalogue, so new tables are covered without editing this test) is scanned for a clear
//! identity number and for the plain SHA-256 (raw or hex) of any identity number or any request
//! body sent. Stored request hashes are keyed; plain ones from before are converted on start.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use onecard::auth::Role;
use onecard::db::schema::{audit_log, idempotency_keys};
use onecard::payments::{self, intake, Counter};
use ring::digest;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, TestDb};

/// Resident identity numbers used by the day's payers.
const ID_NUMBERS: [&str; 4] = [
    "11010519491231002X",
    "110101199003074514",
    "440305198807150015",
    "320102197512243319",
];

fn card_payment(id_number: &str, fee: &str, amount: &str, trace: &str, rrn: &str) -> Value {
    json!({
        "channel": "bank_card", "department": "D04", "window": "W01",
        "payer": {"name": "李四", "id_number": id_number},
        "lines": [{"fee_code": fee, "quantity": 1, "amount": amount}], "amount": amount,
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": trace, "rrn": rrn, "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

/// POSTs a payment through the API with an Idempotency-Key; returns status and body.
async fn pay(app: &TestApp, key: &str, body: &[u8]) -> (u16, Value) {
    post_keyed_bytes(app, "/v1/payments", key, body).await
}

/// POSTs `body` as sent, with an Idempotency-Key, as a clerk.
async fn post_keyed_bytes(app: &TestApp, path: &str, key: &str, body: &[u8]) -> (u16, Value) {
    let mut res = app
        .client
        .post(app.url(path))
        .bearer_auth(app.token(Role::Clerk))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Idempotency-Key", key))
        .send_body(body.to_vec())
        .await
        .expect("request");
    let bytes = res.body().await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Takes a payment dated `day` through the capture use case the API calls (the API dates
/// payments today; the fixture night files are of 2026-11-24).
async fn take_on(app: &TestApp, day: NaiveDate, key: &str, body: &[u8]) {
    let ctx = &app.ctx;
    let counter = Counter {
        pool: &ctx.pool,
        writer: &ctx.writer,
        keys: &ctx.keys,
        series: &ctx.config.receipt_series,
    };
    let answer = payments::take(counter, key.into(), body, "clerk:keyed".into(), day)
        .await
        .unwrap_or_else(|e| panic!("captured: {e:?}"));
    assert_eq!(answer.status, 201, "{}", answer.body);
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

/// The body as the service canonicalises it before hashing (keys sorted, no spaces).
fn canonical(body: &[u8]) -> Vec<u8> {
    serde_json::from_slice::<Value>(body)
        .expect("json body")
        .to_string()
        .into_bytes()
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

#[derive(QueryableByName)]
struct Cell {
    #[diesel(sql_type = Nullable<diesel::sql_types::Binary>)]
    v: Option<Vec<u8>>,
}

/// Every stored value of every text or binary column, as bytes, with where it was found. The
/// tables and columns come from the database catalogue.
fn every_cell(db: &TestDb) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if db.is_postgres() {
        let mut conn = diesel::pg::PgConnection::establish(&db.url).expect("connect");
        let columns: Vec<Column> = diesel::sql_query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
             c.data_type::text AS data_type FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema \
             AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' \
             WHERE c.table_schema = current_schema() \
             AND c.data_type IN ('text', 'bytea', 'character varying', 'character', 'json', 'jsonb')",
        )
        .load(&mut conn)
        .expect("catalogue");
        assert!(
            columns.len() > 20,
            "the catalogue lists the schema's columns"
        );
        for c in columns {
            let expr = if c.data_type == "bytea" {
                format!("\"{}\"", c.column_name)
            } else {
                format!("convert_to(\"{}\"::text, 'UTF8')", c.column_name)
            };
            let cells: Vec<Cell> =
                diesel::sql_query(format!("SELECT {expr} AS v FROM \"{}\"", c.table_name))
                    .load(&mut conn)
                    .expect("cells");
            let at = format!("{}.{}", c.table_name, c.column_name);
            out.extend(
                cells
                    .into_iter()
                    .filter_map(|x| x.v)
                    .map(|v| (at.clone(), v)),
            );
        }
    } else {
        let path = db.url.trim_start_matches("sqlite://");
        let mut conn = diesel::sqlite::SqliteConnection::establish(path).expect("open");
        let tables: Vec<Name> = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .load(&mut conn)
        .expect("tables");
        assert!(tables.len() > 10, "the catalogue lists the tables");
        for t in tables {
            let columns: Vec<Name> =
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{}')", t.name))
                    .load(&mut conn)
                    .expect("columns");
            // SQLite types are per value: every column is read, as the bytes it holds.
            for c in columns {
                let cells: Vec<Cell> = diesel::sql_query(format!(
                    "SELECT CAST(\"{}\" AS BLOB) AS v FROM \"{}\"",
                    c.name, t.name
                ))
                .load(&mut conn)
                .expect("cells");
                let at = format!("{}.{}", t.name, c.name);
                out.extend(
                    cells
                        .into_iter()
                        .filter_map(|x| x.v)
                        .map(|v| (at.clone(), v)),
                );
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where each needle occurs among the cells (lower- and upper-case hex of hashes included).
fn found(cells: &[(String, Vec<u8>)], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut hits = Vec::new();
    for (what, needle) in needles {
        for (at, cell) in cells {
            if contains(cell, needle) {
                hits.push(format!("{what} in {at}"));
            }
        }
    }
    hits
}

/// A needle for a hash: its raw bytes and its hex, both cases.
fn hash_needles(what: &str, hash: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{what} (raw)"), hash.to_vec()),
        (format!("{what} (hex)"), hex::encode(hash).into_bytes()),
        (
            format!("{what} (HEX)"),
            hex::encode_upper(hash).into_bytes(),
        ),
    ]
}

#[actix_web::test]
async fn a_days_work_leaves_no_clear_or_plainly_hashed_identity_number() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let mut bodies: Vec<Vec<u8>> = Vec::new();

    // The night's two card sales, each with a payer's identity number.
    for (i, (fee, amount, trace, rrn)) in [
        ("SC-JL-01", "200.00", "000012", "000451234567"),
        ("ZR-BDC-02", "550.00", "000013", "000451234568"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = card_payment(ID_NUMBERS[i], fee, amount, trace, rrn).to_string();
        take_on(&app, day, &format!("night-{i}"), body.as_bytes()).await;
        bodies.push(body.into_bytes());
    }
    // Today at the counter, through the API: one payment voided, one refunded.
    let mut today = Vec::new();
    for (i, id) in ID_NUMBERS[2..].iter().enumerate() {
        let body = card_payment(
            id,
            "ZR-BDC-01",
            "80.00",
            &format!("00009{i}"),
            "000459999999",
        )
        .to_string()
        .into_bytes();
        let (status, paid) = pay(&app, &format!("today-{i}"), &body).await;
        assert_eq!(status, 201, "{paid}");
        // A retry of the same body is answered from the stored answer (the keyed hash matches).
        let (again, replay) = pay(&app, &format!("today-{i}"), &body).await;
        assert_eq!((again, &replay), (201, &paid));
        today.push(paid["id"].as_str().expect("id").to_string());
        bodies.push(body);
    }
    let void = b"{}".to_vec();
    let (s, _, voided) = app
        .post_raw(
            Role::Clerk,
            &format!("/v1/payments/{}/void", today[0]),
            void.clone(),
        )
        .await;
    assert_eq!(s, 200, "{voided}");
    bodies.push(void);
    let refund = json!({"amount": "30.00", "reason": "fee waived"})
        .to_string()
        .into_bytes();
    let (s, r) = post_keyed_bytes(
        &app,
        &format!("/v1/payments/{}/refunds", today[1]),
        "keyed-refund-1",
        &refund,
    )
    .await;
    assert_eq!(s, 201, "{r}");
    bodies.push(refund);
    let approve = format!(
        "/v1/refunds/{}/approve",
        r["id"].as_str().expect("refund id")
    );
    let (s, _, a) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(s, 200, "{a}");
    // The night: files, reconciliation, every exception worked, close, remittance.
    app.import_night_files().await;
    app.reconcile_and_work(day).await;
    for (path, body) in [
        (format!("/v1/days/{day}/close"), json!({})),
        (
            "/v1/remittances".to_string(),
            json!({"business_date": day.to_string()}),
        ),
    ] {
        let body = body.to_string().into_bytes();
        let (s, _, answer) = app.post_raw(Role::Finance, &path, body.clone()).await;
        assert!(s == 200 || s == 201, "{path}: {answer}");
        bodies.push(body);
    }
    // The audit trail's JSON names no payer by identity number (and does name the payments).
    let audit: Vec<(Option<String>, Option<String>)> = {
        let mut conn = app.ctx.conn().expect("conn");
        audit_log::table
            .select((audit_log::before_json, audit_log::after_json))
            .load(&mut conn)
            .expect("audit")
    };
    let audit = format!("{audit:?}");
    assert!(
        audit.contains(&today[1]),
        "the audit trail is read: {audit}"
    );
    for id in ID_NUMBERS {
        assert!(!audit.contains(id), "the audit trail carries {id}");
    }

    let cells = every_cell(&app.db);
    let mut needles = Vec::new();
    for id in ID_NUMBERS {
        needles.push((format!("identity number {id}"), id.as_bytes().to_vec()));
        needles.extend(hash_needles(
            &format!("SHA-256 of {id}"),
            &sha256(id.as_bytes()),
        ));
    }
    for (i, body) in bodies.iter().enumerate() {
        needles.extend(hash_needles(&format!("SHA-256 of body {i}"), &sha256(body)));
        needles.extend(hash_needles(
            &format!("SHA-256 of canonical body {i}"),
            &sha256(&canonical(body)),
        ));
    }
    let hits = found(&cells, &needles);
    assert!(hits.is_empty(), "found in the database: {hits:#?}");

    // The scan is not blind: it finds what is stored — the masks and the keyed request hashes.
    let masked = found(&cells, &[("mask".into(), b"110***********002X".to_vec())]);
    assert!(!masked.is_empty(), "the masked identity number is stored");
    let keyed = app.ctx.keys.request_hash(&canonical(&bodies[2]));
    let keyed = found(&cells, &[("keyed hash".into(), keyed.to_vec())]);
    assert_eq!(keyed, ["keyed hash in idempotency_keys.request_hash"]);
    app.stop().await;
}

#[actix_web::test]
async fn plain_request_hashes_from_before_are_keyed_on_start_and_still_match() {
    let app = spawn_app().await;
    app.load_demo().await;
    let body = card_payment(
        ID_NUMBERS[0],
        "ZR-BDC-01",
        "80.00",
        "000077",
        "000457777777",
    )
    .to_string()
    .into_bytes();
    let (status, paid) = pay(&app, "legacy-1", &body).await;
    assert_eq!(status, 201, "{paid}");
    // Make the row what an older version wrote: the plain SHA-256 of the canonical body.
    let plain = sha256(&canonical(&body));
    {
        let mut conn = app.ctx.conn().expect("conn");
        diesel::update(idempotency_keys::table.filter(idempotency_keys::idem_key.eq("legacy-1")))
            .set((
                idempotency_keys::request_hash.eq(plain.clone()),
                idempotency_keys::hash_version.eq(payments::hashes::PLAIN_SHA256),
            ))
            .execute(&mut conn)
            .expect("make legacy");
    }
    let stored = |app: &TestApp| {
        let mut conn = app.ctx.conn().expect("conn");
        idempotency_keys::table
            .filter(idempotency_keys::idem_key.eq("legacy-1"))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::hash_version,
            ))
            .first::<(Vec<u8>, i64)>(&mut conn)
            .expect("row")
    };
    // Opening the service again (as a restart does) converts the row once.
    let reopened = app.db.open();
    let (hash, version) = stored(&app);
    assert_eq!(version, payments::hashes::KEYED_HASH);
    assert_ne!(hash, plain);
    let value: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(hash, intake::request_hash(&app.ctx.keys, &value).to_vec());
    // A second start leaves it as it is.
    drop(reopened);
    let again = app.db.open();
    assert_eq!(stored(&app), (hash, version));
    drop(again);
    // A retry of the old request is still answered from its stored answer; another body is not.
    let (status, replay) = pay(&app, "legacy-1", &body).await;
    assert_eq!((status, &replay), (201, &paid));
    let other = card_payment(
        ID_NUMBERS[1],
        "ZR-BDC-01",
        "80.00",
        "000077",
        "000457777777",
    )
    .to_string()
    .into_bytes();
    let (status, refused) = pay(&app, "legacy-1", &other).await;
    assert_eq!(status, 409, "{refused}");
    app.stop().await;
}

//! Writers that meet: reconciliation runs, imports, closes, resolutions, approvals, remittances
//! and payments sent at once through the real HTTP app. No answer is a 5xx other than 503
//! `busy` with `Retry-After` (and such an answer, retried, succeeds), and the books end as the
//! same work done one request at a time leaves them.

use std::time::Duration;

use chrono::NaiveDate;
use futures_util::future::join_all;
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app_with, TestApp};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

/// POST that retries a 503 carrying `Retry-After` (a few times, waiting a little), and fails
/// the test on any other 5xx or on a 503 without `Retry-After`. Returns the final status and
/// body.
async fn post_retrying(
    app: &TestApp,
    role: Role,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    for _ in 0..20 {
        let mut req = app
            .client
            .post(app.url(path))
            .bearer_auth(app.token(role))
            .insert_header(("content-type", "application/json"));
        if let Some(key) = key {
            req = req.insert_header(("Idempotency-Key", key));
        }
        let mut res = req.send_body(body.to_string()).await.expect("request");
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bytes = res.body().limit(16 * 1024 * 1024).await.expect("body");
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 503 {
            let wait = retry_after.unwrap_or_else(|| {
                panic!("POST {path}: 503 without Retry-After: {body}");
            });
            assert!(wait >= 1, "POST {path}: Retry-After {wait}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert!(status < 500, "POST {path}: {status} {body}");
        return (status, body);
    }
    panic!("POST {path}: still 503 after 20 tries");
}

/// Six reconciliation runs of one day started at once (three times over): each is a 201 (the
/// runs queue), none a 500.
#[actix_web::test]
async fn six_runs_of_one_day_started_at_once_all_succeed() {
    let app = spawn_app_with(|c| c.pool_size = 8).await;
    app.load_demo().await;
    let d = day(24);
    app.capture_night_sales(d).await;
    app.import_night_files().await;
    let body = json!({"business_date": d.to_string()});
    for _ in 0..3 {
        let answers = join_all((0..6).map(|_| async {
            let mut res = app
                .client
                .post(app.url("/v1/reconciliations"))
                .bearer_auth(app.token(Role::Finance))
                .insert_header(("content-type", "application/json"))
                .send_body(body.to_string())
                .await
                .expect("request");
            let status = res.status().as_u16();
            let bytes = res.body().limit(16 * 1024 * 1024).await.expect("body");
            (status, String::from_utf8_lossy(&bytes).to_string())
        }))
        .await;
        let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 201).collect();
        assert!(failed.is_empty(), "runs at once: {failed:?}");
    }
    app.stop().await;
}

/// A card payment of 80.00 dated `date` (trace and RRN from `n`), retried on 503.
async fn pay(app: &TestApp, n: u32, date: NaiveDate) -> (u16, Value) {
    let body = json!({
        "channel": "bank_card", "department": "D03", "window": "W03",
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1, "amount": "80.00"}],
        "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": format!("{:06}", 500 + n), "rrn": format!("{:012}", 700_000 + n),
                 "auth_code": "890123", "masked_pan": "622848******0123",
                 "txn_time": format!("{date}T10:30:15+08:00")}
    });
    post_retrying(
        app,
        Role::Clerk,
        "/v1/payments",
        Some(&format!("conc-{n}")),
        &body,
    )
    .await
}

/// Runs the futures at once when `together`, else one after another; returns their answers
/// in order.
async fn all(together: bool, work: Vec<Step<'_>>) -> Vec<(u16, Value)> {
    if together {
        return join_all(work).await;
    }
    let mut out = Vec::new();
    for w in work {
        out.push(w.await);
    }
    out
}

/// [`post_retrying`] without a key, owning its path and body.
fn step(app: &TestApp, role: Role, path: String, body: Value) -> Step<'_> {
    Box::pin(async move { post_retrying(app, role, &path, None, &body).await })
}

type Step<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)> + 'a>>;

/// Statuses of `answers`, sorted, for comparing the two ways.
fn statuses(answers: &[(u16, Value)]) -> Vec<u16> {
    let mut s: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    s.sort_unstable();
    s
}

/// The day's work in five rounds; within a round, everything at once when `together`.
/// Returns each round's sorted statuses.
async fn the_work(app: &TestApp, together: bool) -> Vec<Vec<u16>> {
    let d = day(24);
    let today = onecard::clock::today();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut rounds = Vec::new();
    // 1. Payments of the night and of today, and the night's three files, at once.
    let mut work: Vec<Step<'_>> = Vec::new();
    for n in 0..6 {
        work.push(Box::pin(pay(app, n, today)));
    }
    work.push(Box::pin(async move {
        app.capture_night_sales(d).await;
        (201, Value::Null)
    }));
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
        work.push(Box::pin(async move {
            let bytes = std::fs::read(format!("{fixtures}/{path}")).expect("fixture");
            let name = path.rsplit('/').next().unwrap_or(path);
            let (status, body) = app
                .upload(Role::Finance, &format!("spec={spec}&name={name}"), bytes)
                .await;
            assert!(status < 500, "import {path}: {status} {body}");
            (status, body)
        }));
    }
    rounds.push(statuses(&all(together, work).await));
    // 2. Six runs of the night at once, and more payments.
    let mut work: Vec<Step<'_>> = Vec::new();
    for _ in 0..6 {
        work.push(step(
            app,
            Role::Finance,
            "/v1/reconciliations".to_string(),
            json!({"business_date": d.to_string()}),
        ));
    }
    for n in 6..10 {
        work.push(Box::pin(pay(app, n, today)));
    }
    rounds.push(statuses(&all(together, work).await));
    // 3. Every exception of the last run resolved twice at once (one wins, one is told it is
    // done), a write-off approved twice, and payments.
    let items = live_exceptions(app, d).await;
    let mut work: Vec<Step<'_>> = Vec::new();
    for (id, kind) in &items {
        let action = match kind.as_str() {
            "missing_in_settlement" | "missing_in_ledger" => "accept_timing",
            _ => "bank_claim",
        };
        let path = format!("/v1/exceptions/{id}/resolve");
        for _ in 0..2 {
            let path = path.clone();
            work.push(Box::pin(async move {
                post_retrying(
                    app,
                    Role::Finance,
                    &path,
                    None,
                    &json!({"action": action, "note": "worked"}),
                )
                .await
            }));
        }
    }
    for n in 10..13 {
        work.push(Box::pin(pay(app, n, today)));
    }
    rounds.push(statuses(&all(together, work).await));
    // 4. The day closed twice at once, and payments.
    let mut work: Vec<Step<'_>> = Vec::new();
    for _ in 0..2 {
        work.push(step(
            app,
            Role::Finance,
            format!("/v1/days/{d}/close").to_string(),
            json!({}),
        ));
    }
    for n in 13..16 {
        work.push(Box::pin(pay(app, n, today)));
    }
    rounds.push(statuses(&all(together, work).await));
    // 5. Its remittance prepared twice at once, then approved twice at once.
    let mut work: Vec<Step<'_>> = Vec::new();
    for _ in 0..2 {
        work.push(step(
            app,
            Role::Finance,
            "/v1/remittances".to_string(),
            json!({"business_date": d.to_string()}),
        ));
    }
    let prepared = all(together, work).await;
    rounds.push(statuses(&prepared));
    let id = prepared
        .iter()
        .find(|(s, _)| *s == 201)
        .and_then(|(_, b)| b["id"].as_str())
        .unwrap_or_else(|| panic!("no batch prepared: {prepared:?}; rounds {rounds:?}"))
        .to_string();
    let mut work: Vec<Step<'_>> = Vec::new();
    for _ in 0..2 {
        work.push(step(
            app,
            Role::Supervisor,
            format!("/v1/remittances/{id}/approve").to_string(),
            json!({}),
        ));
    }
    for n in 16..18 {
        work.push(Box::pin(pay(app, n, today)));
    }
    rounds.push(statuses(&all(together, work).await));
    rounds
}

/// The live exceptions of `date` (those of its latest run): (id, kind).
async fn live_exceptions(app: &TestApp, date: NaiveDate) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use onecard::db::schema::recon_exceptions;
    let ctx = app.ctx.clone();
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        recon_exceptions::table
            .filter(recon_exceptions::business_date.eq(date))
            .filter(recon_exceptions::active.eq(true))
            .order(recon_exceptions::id)
            .select((recon_exceptions::id, recon_exceptions::kind))
            .load::<(String, String)>(&mut conn)
            .expect("exceptions")
    })
    .await
    .expect("block")
}

/// What the books hold: the trial balance, whether the chain verifies, and counts of entries,
/// payments, runs and exceptions by status.
async fn books(app: &TestApp) -> (Value, bool, Vec<(String, i64)>) {
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    use onecard::db::schema::{ledger_entries, payments, recon_exceptions, recon_runs};
    let (status, trial) = app.get(Role::Auditor, "/v1/ledger/trial-balance").await;
    assert_eq!(status, 200, "{trial}");
    let (status, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(status, 200, "{verify}");
    let ctx = app.ctx.clone();
    let counts = actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        let c = &mut conn;
        let mut out = vec![
            (
                "entries".to_string(),
                ledger_entries::table
                    .select(count_star())
                    .first::<i64>(c)
                    .expect("count"),
            ),
            (
                "payments".to_string(),
                payments::table
                    .select(count_star())
                    .first::<i64>(c)
                    .expect("count"),
            ),
            (
                "runs".to_string(),
                recon_runs::table
                    .select(count_star())
                    .first::<i64>(c)
                    .expect("count"),
            ),
        ];
        let statuses: Vec<String> = recon_exceptions::table
            .filter(recon_exceptions::active.eq(true))
            .select(recon_exceptions::status)
            .order(recon_exceptions::status)
            .load(c)
            .expect("exceptions");
        for s in statuses {
            match out.iter_mut().find(|(k, _)| *k == s) {
                Some((_, n)) => *n += 1,
                None => out.push((s, 1)),
            }
        }
        out
    })
    .await
    .expect("block");
    (trial["funds"].clone(), verify["ok"] == true, counts)
}

/// Runs, imports, resolutions, closes, remittance prepare and approve and payments, each round
/// sent at once, answer as the same rounds sent one request at a time (the same statuses, no
/// 5xx but retried 503 `busy`), and leave the same books.
#[actix_web::test]
async fn writers_at_once_leave_the_books_as_one_at_a_time() {
    let one = spawn_app_with(|c| c.pool_size = 8).await;
    one.load_demo().await;
    let sequential = the_work(&one, false).await;
    let many = spawn_app_with(|c| c.pool_size = 8).await;
    many.load_demo().await;
    let concurrent = the_work(&many, true).await;
    assert_eq!(concurrent, sequential, "statuses per round");
    let (a, b) = (books(&one).await, books(&many).await);
    assert!(a.1 && b.1, "the chain verifies");
    assert_eq!(b.2, a.2, "counts");
    assert_eq!(b.0, a.0, "trial balance");
    one.stop().await;
    many.stop().await;
}

fn appropriation(amount: i64) -> onecard::ledger::model::NewEntry {
    use onecard::ledger::model::{EntryKind, NewEntry, Posting};
    NewEntry {
        business_date: onecard::clock::today(),
        kind: EntryKind::Appropriation,
        memo: "concurrency test".into(),
        reference: None,
        reverses: None,
        actor: "test".into(),
        postings: vec![
            Posting::debit("1002.02", amount),
            Posting::credit("4001", amount),
        ],
    }
}

/// A job that panics between two good jobs of one batch: its caller hears `Panicked` with an
/// incident id (a 500 `internal` naming it), the two others are committed, and the chain
/// verifies.
#[actix_web::test]
async fn a_panicking_job_is_an_incident_and_the_rest_of_its_batch_commits() {
    use onecard::ledger::writer::WriteError;
    let app = spawn_app_with(|_| {}).await;
    let w = &app.ctx.writer;
    // Queued together, so that one batch takes all three.
    let (a, b, c) = futures_util::future::join3(
        w.post(appropriation(100)),
        w.submit(|batch| -> Result<(), onecard::ledger::writer::PostError> {
            batch.post(appropriation(7))?;
            panic!("a bug in a use case");
        }),
        w.post(appropriation(200)),
    )
    .await;
    let (a, c) = (a.expect("first job"), c.expect("third job"));
    assert_eq!(c.seq, a.seq + 1, "the panicking job's entry left the chain");
    let Err(WriteError::Panicked { incident }) = b else {
        panic!("expected Panicked, got {:?}", b.map(|_| ()));
    };
    assert!(incident.starts_with("inc_"), "{incident}");
    let problem = onecard::http::problem::ApiError::from(WriteError::<
        onecard::ledger::writer::PostError,
    >::Panicked {
        incident: incident.clone(),
    });
    assert_eq!(problem.status.as_u16(), 500);
    assert_eq!(problem.body()["incident"], incident.as_str());
    assert_eq!(app.balance("1002.02").await, Some(json!("3.00")));
    let (_, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    // The writer is alive: the panic did not take it down.
    assert!(app.ctx.writer.is_alive());
    assert_eq!(w.post(appropriation(1)).await.map(|_| ()).ok(), Some(()));
    app.stop().await;
}

/// The writer thread killed: `/readyz` answers 503 until the supervisor has started a fresh
/// writer, and then 200; a post sent while it was dead is committed by the fresh one.
#[actix_web::test]
async fn a_dead_writer_is_not_ready_and_is_restarted() {
    let app = spawn_app_with(|_| {}).await;
    let ready = |app: &TestApp| {
        let url = app.url("/readyz");
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("readyz")
                .status()
                .as_u16()
        }
    };
    assert_eq!(ready(&app).await, 200);
    app.ctx.writer.kill_for_test();
    let mut seen_503 = false;
    let start = std::time::Instant::now();
    while !seen_503 && start.elapsed() < Duration::from_secs(5) {
        seen_503 = ready(&app).await == 503;
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_503, "/readyz never said 503 while the writer was dead");
    // Sent while the writer is dead: it waits in the queue.
    let posted = app.ctx.writer.post(appropriation(500)).await;
    assert!(posted.is_ok(), "{:?}", posted.map(|_| ()));
    assert!(app.ctx.writer.restarts() >= 1);
    assert_eq!(ready(&app).await, 200);
    app.stop().await;
}

/// Many chain verifications at once on a ledger of some thousands of entries take only the
/// small pool of long reads: payments (authentication, capture) keep answering 201 quickly.
#[actix_web::test]
async fn verifications_at_once_leave_the_counter_its_connections() {
    let app = spawn_app_with(|c| {
        c.pool_size = 3;
        c.read_pool_size = 1;
    })
    .await;
    app.load_demo().await;
    let w = &app.ctx.writer;
    for chunk in 0..10 {
        let posted = join_all((0..400).map(|n| w.post(appropriation(1 + chunk * 400 + n)))).await;
        assert!(posted.iter().all(Result::is_ok));
    }
    let today = onecard::clock::today();
    let verifies = join_all((0..12).map(|_| app.get(Role::Auditor, "/v1/ledger/verify")));
    let payments = async {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        let mut slowest = Duration::ZERO;
        for n in 0..4 {
            let start = std::time::Instant::now();
            let (status, body) = pay(&app, 100 + n, today).await;
            assert_eq!(status, 201, "{body}");
            slowest = slowest.max(start.elapsed());
        }
        slowest
    };
    let (verified, slowest) = futures_util::future::join(verifies, payments).await;
    let bad: Vec<_> = verified
        .iter()
        .filter(|(s, v)| *s != 200 || v["ok"] != true)
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "a payment took {slowest:?} while verifications ran"
    );
    app.stop().await;
}

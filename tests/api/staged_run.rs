//! A reconciliation run is stored in short transactions and published by one short commit
//! (issue 19 part 5; `recon::runs::stage`): a stage is seen by no reader, one whose process
//! died is removed and gives the previous run its claims back, a live one is waited for, and a
//! run published but left unfinished (its payments' statuses not moved) is finished by the
//! next run.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::{payments, recon_exceptions, recon_outcomes, recon_runs};
use onecard::db::DbConn;

use crate::reconciliation::{pay, pos_file, run_of as run};
use crate::support::{spawn_app, TestApp};

/// Two payments taken today and the acquirer's file settling both and one sale more; returns
/// the date and the payments.
async fn a_day_to_reconcile(app: &TestApp) -> (NaiveDate, Vec<String>) {
    app.load_demo().await;
    let today = onecard::clock::today();
    let mut ids = Vec::new();
    for n in [1, 2] {
        // the file's lines name RRN 000000000450 + n
        ids.push(
            pay(
                app,
                &format!("0000{n:02}"),
                &format!("000000000{}", 450 + n),
                today,
            )
            .await,
        );
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            // and a sale the ledger never took: an exception to keep
            pos_file(today, &[(1, 8000, 5), (2, 8000, 5), (3, 1500, 1)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (today, ids)
}

/// A run row as a process left it.
fn run_row(
    conn: &mut DbConn,
    id: &str,
    date: NaiveDate,
    state: &str,
    touched: chrono::NaiveDateTime,
    first_outcome: i64,
) {
    diesel::insert_into(recon_runs::table)
        .values((
            recon_runs::id.eq(id),
            recon_runs::business_date.eq(date),
            recon_runs::summary.eq("{}"),
            recon_runs::balance.eq("{}"),
            recon_runs::created_at.eq(touched),
            recon_runs::created_by.eq("test"),
            recon_runs::state.eq(state),
            recon_runs::touched_at.eq(touched),
            recon_runs::first_outcome.eq(first_outcome),
        ))
        .execute(conn)
        .expect("run row");
}

fn next_outcome_id(conn: &mut DbConn) -> i64 {
    let max: Option<i64> = recon_outcomes::table
        .select(diesel::dsl::max(recon_outcomes::id))
        .first(conn)
        .expect("max");
    max.unwrap_or(0) + 1
}

/// (run, active) of every outcome, sorted.
fn outcome_runs(conn: &mut DbConn) -> Vec<(String, bool)> {
    let mut rows: Vec<(String, bool)> = recon_outcomes::table
        .select((recon_outcomes::run_id, recon_outcomes::active))
        .load(conn)
        .expect("outcomes");
    rows.sort();
    rows
}

#[actix_web::test]
async fn an_abandoned_stage_is_unseen_then_removed_and_the_published_run_claims_again() {
    let app = spawn_app().await;
    let (today, _) = a_day_to_reconcile(&app).await;
    let published = run(&app, today).await;
    let published_id = published["id"].as_str().expect("id").to_string();
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    let before = outcome_runs(conn);
    assert!(!before.is_empty() && before.iter().all(|(r, a)| *r == published_id && *a));

    // What a process that died half-way through a re-run leaves: its row `staging`, touched an
    // hour ago; the published run's claims released; its own outcomes claiming the same
    // records; an exception, inactive.
    let old = chrono::Utc::now().naive_utc() - chrono::Duration::hours(1);
    let first = next_outcome_id(conn);
    run_row(conn, "rr_dead", today, "staging", old, first);
    conn.batch_execute(&format!(
        "UPDATE recon_outcomes SET active = FALSE WHERE run_id = '{published_id}';
         INSERT INTO recon_outcomes (run_id, business_date, category, subject, payment_id,
             settlement_record_id, void_record_id, file_id, booking_id, ledger_minor,
             settlement_minor, note, active)
         SELECT 'rr_dead', business_date, category, subject, payment_id, settlement_record_id,
             void_record_id, file_id, booking_id, ledger_minor, settlement_minor, note, TRUE
         FROM recon_outcomes WHERE run_id = '{published_id}';
         INSERT INTO recon_exceptions (id, run_id, business_date, kind, suggested_action, status,
             active)
         VALUES ('ex_dead', 'rr_dead', '{today}', 'missing_in_ledger', 'Investigate', 'open',
             FALSE);"
    ))
    .expect("a dead stage");

    // Nobody reads it: the date's run is still the published one, the stage is no run at all.
    let (status, _) = app.get(Role::Auditor, "/v1/reconciliations/rr_dead").await;
    assert_eq!(status, 404);
    let (status, listed) = app
        .get(Role::Auditor, "/v1/reconciliations/rr_dead/exceptions")
        .await;
    assert_eq!(status, 404, "{listed}");
    let latest = onecard::recon::runs::latest(conn, today)
        .expect("latest")
        .expect("a run");
    assert_eq!(latest.id, published_id);

    // A stage touched just now is somebody's run under way: it stays.
    let next = next_outcome_id(conn);
    let now = chrono::Utc::now().naive_utc();
    run_row(
        conn,
        "rr_live",
        today - chrono::Duration::days(3),
        "staging",
        now,
        next,
    );
    let removed = onecard::recon::runs::clean_abandoned_runs(conn).expect("clean");
    assert_eq!(removed, 1, "the dead stage only");
    assert_eq!(
        outcome_runs(conn),
        before,
        "its outcomes went, the published run's claims are back"
    );
    let left: Vec<String> = recon_runs::table
        .filter(recon_runs::state.eq("staging"))
        .select(recon_runs::id)
        .load(conn)
        .expect("runs");
    assert_eq!(left, vec!["rr_live".to_string()]);
    let dead_exceptions: i64 = recon_exceptions::table
        .filter(recon_exceptions::run_id.eq("rr_dead"))
        .count()
        .get_result(conn)
        .expect("count");
    assert_eq!(dead_exceptions, 0);

    // A published run, its outcomes and its exceptions are never removed, and its row never
    // changes but to be touched and finished: the database refuses.
    let refused = [
        diesel::delete(recon_outcomes::table.filter(recon_outcomes::run_id.eq(&published_id)))
            .execute(conn),
        diesel::delete(recon_exceptions::table.filter(recon_exceptions::run_id.eq(&published_id)))
            .execute(conn),
        diesel::delete(recon_runs::table.find(&published_id)).execute(conn),
        diesel::update(recon_runs::table.find(&published_id))
            .set(recon_runs::summary.eq("{}"))
            .execute(conn),
        diesel::update(recon_runs::table.find(&published_id))
            .set(recon_runs::state.eq("staging"))
            .execute(conn),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert!(r.is_err(), "change {i} to a published run was let through");
    }
    assert_eq!(outcome_runs(conn), before);

    // A run waits for the live stage, and goes on once it is gone.
    let released_at = std::cell::Cell::new(None);
    let (again, ()) = futures_util::future::join(run(&app, today), async {
        actix_web::rt::time::sleep(Duration::from_millis(600)).await;
        diesel::delete(recon_runs::table.find("rr_live"))
            .execute(conn)
            .expect("end the live stage");
        released_at.set(Some(Instant::now()));
    })
    .await;
    let answered = Instant::now();
    assert!(
        released_at.get().is_some_and(|at| at <= answered),
        "the run answered while another stage was live"
    );
    assert_eq!(again["summary"], published["summary"]);
    let again_id = again["id"].as_str().expect("id");
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    assert!(outcome_runs(conn)
        .iter()
        .all(|(r, active)| *active == (r == again_id)));
    app.stop().await;
}

#[actix_web::test]
async fn a_run_published_but_unfinished_is_finished_by_the_next_run() {
    let app = spawn_app().await;
    let (today, ids) = a_day_to_reconcile(&app).await;
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    // What a process that died after publishing leaves: the run and its matches stored, the
    // payments not yet moved, the run not finished.
    let old = chrono::Utc::now().naive_utc() - chrono::Duration::hours(1);
    let first = next_outcome_id(conn);
    run_row(conn, "rr_cut", today, "published", old, first);
    conn.batch_execute(
        "INSERT INTO recon_outcomes (run_id, business_date, category, subject, payment_id,
             settlement_record_id, file_id, ledger_minor, settlement_minor, note, active)
         SELECT 'rr_cut', p.business_date, 'matched', 'payment', p.id, r.id, r.file_id,
             p.amount_minor, r.gross_minor, 'matched', TRUE
         FROM payments p JOIN payment_cards c ON c.payment_id = p.id
         JOIN settlement_records r ON r.rrn = c.rrn",
    )
    .expect("matches");
    let statuses = |conn: &mut DbConn| -> Vec<String> {
        payments::table
            .filter(payments::id.eq_any(&ids))
            .select(payments::status)
            .load(conn)
            .expect("statuses")
    };
    assert_eq!(statuses(conn), vec!["captured", "captured"]);

    // The next run, of a quiet day a month on, finishes it first.
    run(&app, today + chrono::Duration::days(30)).await;
    assert_eq!(statuses(conn), vec!["settled", "settled"]);
    let finished: Option<chrono::NaiveDateTime> = recon_runs::table
        .find("rr_cut")
        .select(recon_runs::finished_at)
        .first(conn)
        .expect("run");
    assert!(finished.is_some(), "finished");
    app.stop().await;
}

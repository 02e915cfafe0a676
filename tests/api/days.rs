//! Closing a business day: the seal verifies with the published key, nothing more can be
//! posted into the day, and a closed day cannot be changed in the database.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use onecard::auth::Role;
use onecard::db::schema::business_days;
use onecard::db::DbConn;
use serde_json::json;

use crate::support::{spawn_app, TestApp};

fn yesterday() -> NaiveDate {
    onecard::clock::today() - Duration::days(1)
}

async fn appropriation(app: &TestApp, date: NaiveDate, amount: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            "/v1/ledger/entries",
            &json!({"business_date": date.to_string(), "kind": "appropriation", "memo": "budget",
                "postings": [{"account": "1002.02", "side": "debit", "amount": amount},
                             {"account": "4001", "side": "credit", "amount": amount}]}),
        )
        .await;
    (status, body)
}

#[actix_web::test]
async fn a_closed_day_is_sealed_and_takes_no_more_entries() {
    let app = spawn_app().await;
    let day = yesterday();
    for amount in ["100.00", "250.00"] {
        let (status, body) = appropriation(&app, day, amount).await;
        assert_eq!(status, 201, "{body}");
    }
    let path = format!("/v1/days/{day}");
    let (status, open) = app.get(Role::Auditor, &path).await;
    assert_eq!(status, 200);
    assert_eq!(open["status"], "open");
    assert_eq!(open["entries"], 2);
    assert!(open["seal"].is_null());

    // A day no run covers does not close; a run over it (nothing to match) is enough.
    let (status, _, body) = app
        .post(Role::Finance, &format!("{path}/close"), &json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_reconciled")),
        "{body}"
    );
    app.reconcile(day).await;
    let (status, _, closed) = app
        .post(Role::Finance, &format!("{path}/close"), &json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["entries"], 2);
    assert_eq!(closed["last_entry_hash"], open["last_entry_hash"]);
    assert_eq!(closed["closed_by"], "finance:test-finance");

    // Anyone holding the published key can check the seal; a forged count fails.
    let hash = closed["last_entry_hash"].as_str().expect("hash");
    let seal = closed["seal"].as_str().expect("seal");
    assert!(app.seal_verifies(day, hash, 2, seal).await);
    assert!(!app.seal_verifies(day, hash, 3, seal).await);

    // Nothing more goes into the day; other days are unaffected.
    let (status, body) = appropriation(&app, day, "1.00").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("day_closed")),
        "{body}"
    );
    let (status, body) = appropriation(&app, onecard::clock::today(), "1.00").await;
    assert_eq!(status, 201, "{body}");

    // Closing again answers the sealed day unchanged; the database refuses to reopen it.
    let (status, _, again) = app
        .post(Role::Supervisor, &format!("{path}/close"), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(again, closed);
    let (_, after) = app.get(Role::Finance, &path).await;
    assert_eq!(after, closed);
    let mut conn = app.ctx.conn().expect("conn");
    let conn: &mut DbConn = &mut conn;
    assert!(diesel::update(business_days::table.find(day))
        .set(business_days::status.eq("open"))
        .execute(conn)
        .is_err());
    assert!(diesel::delete(business_days::table).execute(conn).is_err());
    app.stop().await;
}

#[actix_web::test]
async fn only_a_day_that_is_over_can_be_closed() {
    let app = spawn_app().await;
    let today = onecard::clock::today();
    for date in [today, today + Duration::days(1)] {
        let (status, _, body) = app
            .post(Role::Finance, &format!("/v1/days/{date}/close"), &json!({}))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("day_not_over")),
            "{body}"
        );
    }
    let (status, _, body) = app
        .post(Role::Finance, "/v1/days/2026-02-30/close", &json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    // An empty day closes too, once reconciled: no entries, the genesis hash.
    let empty = today - Duration::days(400);
    app.reconcile(empty).await;
    let (status, _, body) = app
        .post(
            Role::Finance,
            &format!("/v1/days/{empty}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entries"], 0);
    assert_eq!(body["last_entry_hash"], "0".repeat(64));
    app.stop().await;
}

#[actix_web::test]
async fn a_day_with_open_exceptions_stays_open() {
    let app = spawn_app().await;
    let day = yesterday() - Duration::days(1);
    {
        use onecard::db::schema::{recon_exceptions as ex, recon_runs as runs};
        let mut conn = app.ctx.conn().expect("conn");
        let conn: &mut DbConn = &mut conn;
        diesel::insert_into(runs::table)
            .values((
                runs::id.eq("rr_test"),
                runs::business_date.eq(day),
                runs::summary.eq("{}"),
                runs::balance.eq("{}"),
                runs::created_at.eq(chrono::Utc::now().naive_utc()),
                runs::created_by.eq("test"),
            ))
            .execute(conn)
            .expect("run");
        diesel::insert_into(ex::table)
            .values((
                ex::id.eq("ex_test"),
                ex::run_id.eq("rr_test"),
                ex::business_date.eq(day),
                ex::kind.eq("missing_in_settlement"),
                ex::suggested_action.eq("ask the acquirer"),
                ex::status.eq("open"),
                ex::active.eq(true),
            ))
            .execute(conn)
            .expect("exception");
    }
    let (status, _, body) = app
        .post(Role::Finance, &format!("/v1/days/{day}/close"), &json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("open_exceptions")),
        "{body}"
    );
    assert_eq!(body["open_exceptions"], json!(["ex_test"]));
    let (_, state) = app.get(Role::Finance, &format!("/v1/days/{day}")).await;
    assert_eq!(state["status"], "open");
    // A claim raised with the bank is tracked, not holding the day.
    {
        use onecard::db::schema::recon_exceptions as ex;
        let mut conn = app.ctx.conn().expect("conn");
        let conn: &mut DbConn = &mut conn;
        diesel::update(ex::table.find("ex_test"))
            .set(ex::status.eq("claimed"))
            .execute(conn)
            .expect("claimed");
    }
    let (status, _, body) = app
        .post(Role::Finance, &format!("/v1/days/{day}/close"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

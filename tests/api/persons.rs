//! Persons (DESIGN §7): every four-eyes rule compares persons, so a second token or a staff
//! sign-in of the same person is not a second pair of eyes; and a reversal undoes only a manual
//! entry, posted by someone else. Each test tries a bypass and expects the refusal.

use chrono::NaiveDate;
use onecard::auth::{self, staff, Role};
use serde_json::{json, Value};

use crate::reconciliation::{a_day_settled_and_credited, pay, pos_file};
use crate::support::{spawn_app, TestApp};
use crate::web_support::{WebSession, PASSWORD};

/// A new person named `name`; returns the id.
async fn person(app: &TestApp, name: &str) -> String {
    let (ctx, name) = (app.ctx.clone(), name.to_string());
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        auth::persons::create(&mut conn, &name, "test").expect("person")
    })
    .await
    .expect("block")
}

/// POST JSON with the bearer `token` (and a fresh Idempotency-Key, which the calls that take
/// one require and the others ignore).
async fn post_as(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .insert_header(("content-type", "application/json"))
        .insert_header((
            "Idempotency-Key",
            format!("persons-{}", hex::encode(rand_bytes())),
        ))
        .send_body(body.to_string())
        .await
        .expect("request");
    let bytes = res.body().limit(1 << 24).await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn rand_bytes() -> [u8; 8] {
    onecard::keys::random_bytes::<8>().expect("randomness")
}

/// A refund of 10.00 of `payment` requested with `token`; returns its id.
async fn request_refund(app: &TestApp, token: &str, payment: &str) -> String {
    let (status, refund) = post_as(
        app,
        token,
        &format!("/v1/payments/{payment}/refunds"),
        &json!({"amount": "10.00", "reason": "charged twice"}),
    )
    .await;
    assert_eq!(status, 201, "{refund}");
    refund["id"].as_str().expect("id").to_string()
}

/// Asks for the reversal of entry `seq` with `token`.
async fn reverse(app: &TestApp, token: &str, seq: i64) -> (u16, Value) {
    post_as(
        app,
        token,
        &format!("/v1/ledger/entries/{seq}/reversal"),
        &json!({"memo": "undo"}),
    )
    .await
}

fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

#[actix_web::test]
async fn two_tokens_of_one_person_are_one_pair_of_eyes_for_a_refund() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let payment = pay(&app, "000001", "000000000451", today).await;
    let li = person(&app, "李会计").await;
    let li_clerk = app
        .token_for(Role::Clerk, "li at the counter", Some(&li))
        .await;
    let li_supervisor = app
        .token_for(Role::Supervisor, "li supervising", Some(&li))
        .await;
    let refund = request_refund(&app, &li_clerk, &payment).await;
    let approve = format!("/v1/refunds/{refund}/approve");
    let (status, body) = post_as(&app, &li_supervisor, &approve, &json!({})).await;
    assert_eq!((status, code(&body)), (403, Some("same_person")), "{body}");
    // A supervisor who is someone else approves; the refund entry is not reversed by hand.
    let (status, _, approved) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let seq = approved["entry_seq"].as_i64().expect("refund entry");
    let (status, body) = reverse(&app, &li_supervisor, seq).await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refund")),
        "{body}"
    );
    app.stop().await;
}

/// The entries of `kind`, by sequence number (read one by one, as an auditor).
async fn entries_of(app: &TestApp, kind: &str) -> Vec<i64> {
    let mut found = Vec::new();
    for seq in 1.. {
        let (status, entry) = app
            .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
            .await;
        if status == 404 {
            break;
        }
        if entry["kind"] == kind {
            found.push(seq);
        }
    }
    found
}

#[actix_web::test]
async fn a_token_and_a_staff_sign_in_of_one_person_are_one_pair_of_eyes() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    let payment = pay(&app, "000002", "000000000452", today).await;
    let wang = person(&app, "王主任").await;
    let wang_clerk = app
        .token_for(Role::Clerk, "wang's token", Some(&wang))
        .await;
    let refund = request_refund(&app, &wang_clerk, &payment).await;
    // Wang also signs in on the pages, as a supervisor, under another name.
    let ctx = app.ctx.clone();
    let person_id = wang.clone();
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        let user = staff::NewUser {
            role: Role::Supervisor,
            name: "wang.zhuren",
            person: Some(&person_id),
            created_by: "test",
        };
        staff::create_user_as(&mut conn, user, PASSWORD, 1_000).expect("user")
    })
    .await
    .expect("block");
    let mut wang_web = WebSession::anonymous(&app);
    let signed = wang_web.sign_in("wang.zhuren", PASSWORD).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let from = format!("/web/payments/{payment}");
    let approve = format!("/web/refunds/{refund}/approve");
    let own = wang_web.post(&from, &approve, &[]).await;
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(
        own.body.contains("<code>same_person</code>"),
        "{}",
        own.body
    );
    // Another person's sign-in approves it.
    let mut other = WebSession::signed_in(&app, Role::Supervisor).await;
    let ok = other.post(&from, &approve, &[]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let refunds = entries_of(&app, "refund").await;
    assert_eq!(refunds.len(), 1, "one refund entry");
    let (_, entry) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{}", refunds[0]))
        .await;
    assert_eq!(entry["actor"], "supervisor:web-supervisor", "{entry}");
    // A capture is undone by its void or a refund, never reversed by hand.
    let captures = entries_of(&app, "capture").await;
    assert!(!captures.is_empty());
    let (status, body) = reverse(&app, app.token(Role::Supervisor), captures[0]).await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("void")),
        "{body}"
    );
    app.stop().await;
}

/// Reconciles `today` again; returns the id of its exception for the payment the acquirer
/// did not settle.
async fn missing_payment(app: &TestApp, today: NaiveDate) -> String {
    let run = app.reconcile(today).await;
    let id = run["id"].as_str().expect("run id");
    let (_, listed) = app
        .get(
            Role::Finance,
            &format!("/v1/reconciliations/{id}/exceptions?limit=1000"),
        )
        .await;
    listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["kind"] == "missing_in_settlement")
        .and_then(|x| x["id"].as_str())
        .expect("a missing payment")
        .to_string()
}

#[actix_web::test]
async fn two_tokens_of_one_person_are_one_pair_of_eyes_for_a_write_off() {
    let app = spawn_app().await;
    app.load_demo().await;
    let today = onecard::clock::today();
    for n in [1u32, 2] {
        pay(
            &app,
            &format!("0000{n:02}"),
            &format!("000000000{}", 450 + n),
            today,
        )
        .await;
    }
    let (status, body) = app
        .upload(
            Role::Finance,
            "spec=pos-settlement-fixed-width",
            pos_file(today, &[(1, 8000, 5), (99, 8000, 5)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let zhao = person(&app, "赵出纳").await;
    let zhao_finance = app.token_for(Role::Finance, "zhao", Some(&zhao)).await;
    let zhao_supervisor = app
        .token_for(Role::Supervisor, "zhao (acting)", Some(&zhao))
        .await;
    let id = missing_payment(&app, today).await;
    let (status, body) = post_as(
        &app,
        &zhao_finance,
        &format!("/v1/exceptions/{id}/resolve"),
        &json!({"action": "write_off", "note": "declined after capture"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("awaiting_approval")),
        "{body}"
    );
    let (status, body) = post_as(
        &app,
        &zhao_supervisor,
        &format!("/v1/exceptions/{id}/approve"),
        &json!({}),
    )
    .await;
    assert_eq!((status, code(&body)), (403, Some("same_person")), "{body}");
    // A run again carries the proposal, and who proposed it, onto its exception.
    let id = missing_payment(&app, today).await;
    let approve = format!("/v1/exceptions/{id}/approve");
    let (status, body) = post_as(&app, &zhao_supervisor, &approve, &json!({})).await;
    assert_eq!((status, code(&body)), (403, Some("same_person")), "{body}");
    let (status, _, approved) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let seq = approved["entry_seq"].as_i64().expect("write-off entry");
    let (status, body) = reverse(&app, app.token(Role::Supervisor), seq).await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn two_tokens_of_one_person_are_one_pair_of_eyes_for_a_remittance() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    app.worked_day(day, false).await;
    // test-finance prepared the batch; the same person holds a supervisor token too.
    let preparer = app.person_of(Role::Finance).await;
    let second_hat = app
        .token_for(Role::Supervisor, "finance head", Some(&preparer))
        .await;
    let (_, listed) = app.get(Role::Auditor, "/v1/remittances").await;
    let batch = listed["items"][0].clone();
    let id = batch["id"].as_str().expect("batch id");
    let approve = format!("/v1/remittances/{id}/approve");
    let (status, body) = post_as(&app, &second_hat, &approve, &json!({})).await;
    assert_eq!((status, code(&body)), (403, Some("same_person")), "{body}");
    let (status, _, body) = app.post(Role::Supervisor, &approve, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let amount = batch["amount"].as_str().expect("amount");
    let (status, body) = app
        .treasury(
            "POST",
            &format!("/v1/treasury/remittances/{id}/ack"),
            &json!({"treasury_reference": "GK-PERSONS-1", "amount": amount}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The treasury's acknowledgement is not reversed by hand.
    let remitted = body["entry_seq"].as_i64().expect("remittance entry");
    let (status, body) = reverse(&app, app.token(Role::Supervisor), remitted).await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    assert_eq!(body["kind"], "remittance", "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn a_manual_entry_is_reversed_only_by_another_person() {
    let app = spawn_app().await;
    let entry = json!({"business_date": "2026-11-24", "kind": "adjustment", "memo": "bank charges booked twice",
        "postings": [{"account": "1002.02", "side": "debit", "amount": "10.00"}, {"account": "4001", "side": "credit", "amount": "10.00"}]});
    let (status, _, posted) = app
        .post(Role::Supervisor, "/v1/ledger/entries", &entry)
        .await;
    assert_eq!(status, 201, "{posted}");
    let seq = posted["seq"].as_i64().expect("seq");
    // The poster, with the same token or another of theirs, is refused; nothing is posted.
    let poster = app.person_of(Role::Supervisor).await;
    let their_other = app
        .token_for(Role::Supervisor, "supervisor, laptop", Some(&poster))
        .await;
    for token in [app.token(Role::Supervisor), their_other.as_str()] {
        let (status, body) = reverse(&app, token, seq).await;
        assert_eq!((status, code(&body)), (403, Some("same_person")), "{body}");
    }
    assert_eq!(entries_of(&app, "reversal").await, Vec::<i64>::new());
    let someone_else = app
        .token_for(Role::Supervisor, "second supervisor", None)
        .await;
    let (status, body) = reverse(&app, &someone_else, seq).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["reverses"], seq);
    // And the reversal itself stands.
    let (status, body) = reverse(
        &app,
        app.token(Role::Supervisor),
        body["seq"].as_i64().expect("seq"),
    )
    .await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn a_settlement_is_not_reversed_by_hand() {
    let app = spawn_app().await;
    let today = a_day_settled_and_credited(&app).await;
    let run = app.reconcile(today).await;
    let seq = run["settlement_entries"][0]
        .as_i64()
        .expect("a settlement entry");
    let (status, body) = reverse(&app, app.token(Role::Supervisor), seq).await;
    assert_eq!((status, code(&body)), (409, Some("not_manual")), "{body}");
    assert_eq!(body["kind"], "settlement", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("reconciliation")),
        "{body}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn the_demo_token_and_staff_user_of_a_role_are_one_person_across_starts() {
    use diesel::prelude::*;
    use onecard::db::schema::{api_tokens, staff_users};
    let app = spawn_app().await;
    app.load_demo().await;
    let ctx = app.ctx.clone();
    actix_web::web::block(move || {
        onecard::app::demo::staff_users(&ctx).expect("demo users");
        // A second start: new tokens and passwords, the same persons.
        onecard::app::demo::load(&ctx).expect("demo again");
        onecard::app::demo::staff_users(&ctx).expect("demo users again");
        let mut conn = ctx.conn().expect("conn");
        let mut seen = Vec::new();
        for role in [Role::Clerk, Role::Finance, Role::Supervisor] {
            let name = format!("demo-{role}");
            let mut of_tokens: Vec<Option<String>> = api_tokens::table
                .filter(api_tokens::name.eq(&name))
                .select(api_tokens::person_id)
                .load(&mut conn)
                .expect("tokens");
            assert_eq!(of_tokens.len(), 2, "{name}: a token per start");
            of_tokens.dedup();
            let of_user: Option<String> = staff_users::table
                .filter(staff_users::name.eq(&name))
                .select(staff_users::person_id)
                .first(&mut conn)
                .expect("user");
            assert_eq!(of_tokens, vec![of_user.clone()], "{name}");
            seen.push(of_user.expect("a person"));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 3, "each role is another human: {seen:?}");
    })
    .await
    .expect("block");
    app.stop().await;
}

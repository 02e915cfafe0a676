//! Identities over the years (issue 18, DESIGN §7): API tokens that expire, are listed without
//! their secret, are revoked at once and show their last use (written at most once a minute);
//! staff users disabled (their sessions end at once), enabled, and given a new password; the
//! admin page that does all of it; `serve --demo` tokens that expire and do not pile up; and the
//! same from the command line.

use std::io::Write;
use std::process::Stdio;

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use onecard::auth::{self, tokens, IssuedToken, Role};
use onecard::db::schema::{api_tokens, audit_log};

use crate::support::{spawn_app, TestApp, TestDb};
use crate::web_support::{create_staff, WebSession, PASSWORD};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// A token of `role` named `name`, expiring at `expires_at`.
async fn issue(
    app: &TestApp,
    role: Role,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> IssuedToken {
    let (ctx, name) = (app.ctx.clone(), name.to_string());
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        let new = auth::NewToken {
            role,
            name: &name,
            person: None,
            expires_at,
            created_by: "test",
        };
        auth::create_token_as(&mut conn, &ctx.keys, new).expect("token")
    })
    .await
    .expect("block")
}

/// Sends `method path` with the bearer `token`; status and JSON body.
async fn call(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let req = match method {
        "GET" => app.client.get(app.url(path)),
        "DELETE" => app.client.delete(app.url(path)),
        _ => app.client.post(app.url(path)),
    };
    let mut res = req.bearer_auth(token).send().await.expect("request");
    let body = res.body().limit(16 * 1024 * 1024).await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// The stored row of token `id`: (last used, revoked).
async fn stored(app: &TestApp, id: &str) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    let (ctx, id) = (app.ctx.clone(), id.to_string());
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        api_tokens::table
            .find(id)
            .select((api_tokens::last_used_at, api_tokens::revoked_at))
            .first(&mut conn)
            .expect("token row")
    })
    .await
    .expect("block")
}

/// The audit records of `action` on `subject`: (actor, before, after).
async fn audited(
    app: &TestApp,
    action: &str,
    subject: &str,
) -> Vec<(String, Option<String>, Option<String>)> {
    let (ctx, action, subject) = (app.ctx.clone(), action.to_string(), subject.to_string());
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        audit_log::table
            .filter(audit_log::action.eq(action))
            .filter(audit_log::subject.eq(subject))
            .select((
                audit_log::actor,
                audit_log::before_json,
                audit_log::after_json,
            ))
            .load(&mut conn)
            .expect("audit")
    })
    .await
    .expect("block")
}

#[actix_web::test]
async fn expired_and_revoked_tokens_are_refused_each_with_its_own_code() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin).to_string();
    // Expired a second ago: 401 token_expired; one expiring tomorrow works.
    let old = issue(
        &app,
        Role::Clerk,
        "yesterday's",
        Some(now() - Duration::seconds(1)),
    )
    .await;
    let (status, body) = call(&app, "GET", "/v1/fee-items", &old.token).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_expired")),
        "{body}"
    );
    let fresh = issue(
        &app,
        Role::Clerk,
        "tomorrow's",
        Some(now() + Duration::days(1)),
    )
    .await;
    assert_eq!(
        call(&app, "GET", "/v1/fee-items", &fresh.token).await.0,
        200
    );

    // Revoked through the API: refused on the very next call.
    let (status, view) = call(&app, "DELETE", &format!("/v1/tokens/{}", fresh.id), &admin).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "revoked");
    assert_eq!(view["id"], fresh.id.as_str());
    let (status, body) = call(&app, "GET", "/v1/fee-items", &fresh.token).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_revoked")),
        "{body}"
    );
    // Revoking twice is harmless: the same answer, one audit record.
    let (status, again) = call(&app, "DELETE", &format!("/v1/tokens/{}", fresh.id), &admin).await;
    assert_eq!((status, &again["revoked_at"]), (200, &view["revoked_at"]));
    let records = audited(&app, "key.revoke", &format!("token:{}", fresh.id)).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, "admin:test-admin");
    assert!(records[0]
        .1
        .as_deref()
        .is_some_and(|b| b.contains("\"revoked_at\":null")));
    // An expired token that is also revoked says revoked.
    let (status, _) = call(&app, "DELETE", &format!("/v1/tokens/{}", old.id), &admin).await;
    assert_eq!(status, 200);
    let (_, body) = call(&app, "GET", "/v1/fee-items", &old.token).await;
    assert_eq!(body["code"], "token_revoked");
    // Unknown ids and tokens.
    let (status, body) = call(&app, "DELETE", "/v1/tokens/00000000deadbeef", &admin).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let unknown = format!("oc_{}", "A".repeat(43));
    let (status, body) = call(&app, "GET", "/v1/fee-items", &unknown).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    // Revoked directly (as `keys revoke` does): refused at once too, and `authenticate`, the
    // convenience answer, says no one for both.
    let clerk = issue(&app, Role::Clerk, "window 9", None).await;
    assert_eq!(
        call(&app, "GET", "/v1/fee-items", &clerk.token).await.0,
        200
    );
    let (ctx, id) = (app.ctx.clone(), clerk.id.clone());
    let (check, plain) = actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        tokens::revoke(&mut conn, &id, "cli", now()).expect("revoke");
        let t = clerk.token.clone();
        (
            tokens::check(&mut conn, &t, now()).expect("check"),
            auth::authenticate(&mut conn, &t).expect("auth"),
        )
    })
    .await
    .expect("block");
    assert_eq!(check, Err(tokens::Refusal::Revoked));
    assert!(plain.is_none());
    app.stop().await;
}

#[actix_web::test]
async fn the_token_list_pages_through_every_token_and_never_shows_a_secret() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin).to_string();
    let extra = issue(&app, Role::Auditor, "supervision office", None).await;
    let mut ids = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let path = format!("/v1/tokens?limit=2&after={after}");
        let (status, page) = call(&app, "GET", &path, &admin).await;
        assert_eq!(status, 200, "{page}");
        let text = page.to_string();
        for secret in app
            .tokens
            .values()
            .chain([&extra.token, &app.treasury_secret])
        {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in the list: {text}"
            );
        }
        assert!(
            !text.contains("token_hash") && !text.contains("oc_"),
            "{text}"
        );
        for item in page["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_string());
            assert_eq!(item["status"], "live", "{item}");
            assert!(item.get("last_used_at").is_some() && item.get("expires_at").is_some());
        }
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    // Six test tokens and the extra one, each once.
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(pages, 4);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 7);
    assert!(ids.contains(&extra.id));
    let (status, _) = call(&app, "GET", "/v1/tokens?limit=0", &admin).await;
    assert_eq!(status, 422);
    app.stop().await;
}

#[actix_web::test]
async fn only_an_admin_may_list_revoke_disable_or_reset() {
    let app = spawn_app().await;
    create_staff(&app, Role::Finance, "wang").await;
    let victim = issue(&app, Role::Clerk, "window 1", None).await;
    let routes = [
        ("GET", "/v1/tokens".to_string()),
        ("DELETE", format!("/v1/tokens/{}", victim.id)),
        ("GET", "/v1/users".to_string()),
        ("POST", "/v1/users/wang/disable".to_string()),
        ("POST", "/v1/users/wang/enable".to_string()),
        ("POST", "/v1/users/wang/password".to_string()),
    ];
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        for (method, path) in &routes {
            let (status, body) = call(&app, method, path, app.token(role)).await;
            assert_eq!(status, 403, "{method} {path} as {role}: {body}");
        }
    }
    // Nothing happened: the token works, the user is active.
    assert_eq!(
        call(&app, "GET", "/v1/fee-items", &victim.token).await.0,
        200
    );
    let (_, users) = call(&app, "GET", "/v1/users", app.token(Role::Admin)).await;
    assert_eq!(users["items"][0]["status"], "active", "{users}");
    assert!(!users.to_string().contains("password_hash") && !users.to_string().contains("salt"));
    app.stop().await;
}

#[actix_web::test]
async fn last_use_is_recorded_but_at_most_once_a_minute() {
    let app = spawn_app().await;
    let t = issue(&app, Role::Clerk, "window 4", None).await;
    assert_eq!(stored(&app, &t.id).await.0, None, "not used yet");
    let before = now() - Duration::seconds(1);
    assert_eq!(call(&app, "GET", "/v1/fee-items", &t.token).await.0, 200);
    // Written off the answer's path: it lands shortly after.
    let mut used = None;
    for _ in 0..50 {
        used = stored(&app, &t.id).await.0;
        if used.is_some() {
            break;
        }
        tokio_sleep(100).await;
    }
    let used = used.expect("last use recorded");
    assert!(used >= before && used <= now(), "{used}");
    // The list shows it.
    let (_, page) = call(&app, "GET", "/v1/tokens?limit=1000", app.token(Role::Admin)).await;
    let listed = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == t.id.as_str())
        .cloned()
        .expect("listed");
    assert!(listed["last_used_at"].is_string(), "{listed}");
    // A second request within the minute writes nothing: a marker put in the row stays.
    let marker =
        NaiveDateTime::parse_from_str("2000-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").expect("marker");
    let (ctx, id) = (app.ctx.clone(), t.id.clone());
    actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        diesel::update(api_tokens::table.find(id))
            .set(api_tokens::last_used_at.eq(Some(marker)))
            .execute(&mut conn)
            .expect("marker")
    })
    .await
    .expect("block");
    for _ in 0..3 {
        assert_eq!(call(&app, "GET", "/v1/fee-items", &t.token).await.0, 200);
    }
    tokio_sleep(500).await;
    assert_eq!(stored(&app, &t.id).await.0, Some(marker), "no second write");
    // The throttle is why: this token's write is not due within the minute.
    assert!(!tokens::last_used_throttle().due(&t.id, std::time::Instant::now()));
    app.stop().await;
}

async fn tokio_sleep(ms: u64) {
    actix_web::rt::time::sleep(std::time::Duration::from_millis(ms)).await;
}

#[actix_web::test]
async fn a_disabled_user_cannot_sign_in_and_their_open_session_ends_at_once() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin).to_string();
    let mut li = WebSession::signed_in(&app, Role::Finance).await;
    assert_eq!(li.get("/web/days").await.status, 200);
    let (status, user) = call(
        &app,
        "POST",
        &format!("/v1/users/{}/disable", li.name),
        &admin,
    )
    .await;
    assert_eq!(
        (status, user["status"].as_str()),
        (200, Some("disabled")),
        "{user}"
    );
    let id = user["id"].as_str().expect("id").to_string();
    // The open session is over on the next click.
    let page = li.get("/web/days").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page
        .location
        .as_deref()
        .is_some_and(|l| l.starts_with("/web/sign-in")));
    // Signing in is refused with the answer a wrong password gets: nothing tells "disabled".
    let name = li.name.clone();
    let refused = li.sign_in(&name, PASSWORD).await;
    let wrong = WebSession::anonymous(&app)
        .sign_in("nobody-at-all", PASSWORD)
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(wrong.status, 401);
    let message = |body: &str| {
        body.split("class=\"problem\"")
            .nth(1)
            .map(|s| s.split('<').next().unwrap_or("").to_string())
    };
    assert_eq!(message(&refused.body), message(&wrong.body));
    // Disabling again is harmless; audited once, by the admin, without secrets.
    let (status, _) = call(&app, "POST", &format!("/v1/users/{id}/disable"), &admin).await;
    assert_eq!(status, 200);
    let records = audited(&app, "user.disable", &format!("user:{id}")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, "admin:test-admin");
    let after = records[0].2.clone().unwrap_or_default();
    assert!(
        after.contains("disabled_at")
            && !after.contains("password_hash")
            && !after.contains("salt")
    );
    // Enabled again: a fresh sign-in works; the old session stays ended.
    let old_cookies = li.cookies.clone();
    let (status, user) = call(&app, "POST", &format!("/v1/users/{id}/enable"), &admin).await;
    assert_eq!((status, user["status"].as_str()), (200, Some("active")));
    let mut stale = WebSession::anonymous(&app);
    stale.cookies = old_cookies;
    assert_eq!(stale.get("/web/days").await.status, 303);
    assert_eq!(li.sign_in(&name, PASSWORD).await.status, 303);
    assert_eq!(li.get("/web/days").await.status, 200);
    let (status, _) = call(&app, "POST", "/v1/users/usr_nobody/enable", &admin).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[actix_web::test]
async fn a_password_reset_ends_sessions_clears_the_lock_out_and_only_the_new_one_works() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin).to_string();
    let mut s = WebSession::signed_in(&app, Role::Supervisor).await;
    let name = s.name.clone();
    // Someone else locks the account by guessing.
    let mut guesser = WebSession::anonymous(&app);
    for _ in 0..auth::staff::MAX_FAILURES {
        assert_eq!(
            guesser.sign_in(&name, "guess-guess-guess").await.status,
            401
        );
    }
    let (_, users) = call(&app, "GET", "/v1/users", &admin).await;
    let listed = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["name"] == name.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(listed["status"], "locked", "{listed}");
    let (status, reset) = call(&app, "POST", &format!("/v1/users/{name}/password"), &admin).await;
    assert_eq!(status, 200, "{reset}");
    let password = reset["password"].as_str().expect("password").to_string();
    assert!(password.len() >= 16);
    assert_eq!(reset["user"]["status"], "active");
    assert_eq!(reset["user"]["failures"], 0);
    // The session that was open is over; the old password is refused, the new one works.
    assert_eq!(s.get("/web/days").await.status, 303);
    assert_eq!(s.sign_in(&name, PASSWORD).await.status, 401);
    assert_eq!(s.sign_in(&name, &password).await.status, 303);
    assert_eq!(s.get("/web/days").await.status, 200);
    // Audited, without the password.
    let id = listed["id"].as_str().expect("id");
    let records = audited(&app, "user.reset_password", &format!("user:{id}")).await;
    assert_eq!(records.len(), 1);
    let text = format!("{:?}", records[0]);
    assert!(
        !text.contains(&password) && !text.contains("salt"),
        "{text}"
    );
    let (status, _) = call(&app, "POST", "/v1/users/nobody/password", &admin).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[actix_web::test]
async fn the_admin_page_lists_users_and_tokens_and_acts_on_them() {
    let app = spawn_app().await;
    create_staff(&app, Role::Clerk, "zhao").await;
    let victim = issue(
        &app,
        Role::Clerk,
        "window 7",
        Some(now() + Duration::days(30)),
    )
    .await;
    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    assert_eq!(finance.get("/web/access").await.status, 403);
    assert!(!finance.get("/web/days").await.body.contains("/web/access"));
    let mut admin = WebSession::signed_in(&app, Role::Admin).await;
    for lang in ["en", "zh"] {
        admin
            .get(&format!("/web/lang?to={lang}&back=/web/access"))
            .await;
        let page = admin.get("/web/access").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("href=\"/web/access\""), "in the nav");
        assert!(page.body.contains("zhao") && page.body.contains(&victim.id));
        for token in app.tokens.values().chain([&victim.token]) {
            assert!(!page.body.contains(token.as_str()), "a token on the page");
        }
    }
    // Revoke: one click, refused at once.
    let done = admin
        .post(
            "/web/access",
            &format!("/web/access/tokens/{}/revoke", victim.id),
            &[],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let (_, body) = call(&app, "GET", "/v1/fee-items", &victim.token).await;
    assert_eq!(body["code"], "token_revoked");
    // Without the CSRF token nothing happens.
    let refused = admin.post_raw("/web/access/users/zhao/disable", &[]).await;
    assert_eq!(refused.status, 403);
    // Reset: the new password is on the answer, once, and it works.
    let answer = admin
        .post("/web/access", "/web/access/users/zhao/password", &[])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let at = answer.body.find("id=\"the-new-password\">").expect("shown") + 22;
    let password = answer.body[at..]
        .split('<')
        .next()
        .expect("password")
        .to_string();
    assert!(password.len() >= 16, "{password}");
    assert!(
        !admin.get("/web/access").await.body.contains(&password),
        "shown only once"
    );
    let mut zhao = WebSession::anonymous(&app);
    assert_eq!(zhao.sign_in("zhao", &password).await.status, 303);
    // Disable: zhao's session ends at once; enable brings the sign-in back.
    let done = admin
        .post("/web/access", "/web/access/users/zhao/disable", &[])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(zhao.get("/web/today").await.status, 303);
    let done = admin
        .post("/web/access", "/web/access/users/zhao/enable", &[])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(zhao.sign_in("zhao", &password).await.status, 303);
    app.stop().await;
}

#[actix_web::test]
async fn a_demo_start_revokes_the_earlier_demo_tokens_and_its_own_expire_within_a_day() {
    let app = spawn_app().await;
    let start = |app: &TestApp| {
        let ctx = app.ctx.clone();
        actix_web::web::block(move || onecard::app::demo::load(&ctx).expect("demo"))
    };
    let first = start(&app).await.expect("block");
    assert_eq!(first.len(), 6);
    for (_, t) in &first {
        assert_eq!(call(&app, "GET", "/v1/fee-items", &t.token).await.0, 200);
    }
    let second = start(&app).await.expect("block");
    for (role, t) in &first {
        let (status, body) = call(&app, "GET", "/v1/fee-items", &t.token).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("token_revoked")),
            "{role}"
        );
    }
    let limit = now() + Duration::hours(24);
    for (role, t) in &second {
        assert_eq!(
            call(&app, "GET", "/v1/fee-items", &t.token).await.0,
            200,
            "{role}"
        );
        let (ctx, id) = (app.ctx.clone(), t.id.clone());
        let expires: Option<NaiveDateTime> = actix_web::web::block(move || {
            let mut conn = ctx.conn().expect("conn");
            api_tokens::table
                .find(id)
                .select(api_tokens::expires_at)
                .first(&mut conn)
                .expect("row")
        })
        .await
        .expect("block");
        assert!(
            expires.is_some_and(|e| e <= limit && e > now()),
            "{role}: {expires:?}"
        );
    }
    // Only this start's six are live: nothing piles up. The test tokens are not the demo's.
    let (_, page) = call(&app, "GET", "/v1/tokens?limit=1000", app.token(Role::Admin)).await;
    let live_demo = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|t| t["created_by"] == "demo" && t["status"] == "live")
        .count();
    assert_eq!(live_demo, 6);
    assert_eq!(
        call(&app, "GET", "/v1/fee-items", app.token(Role::Clerk))
            .await
            .0,
        200
    );
    app.stop().await;
}

fn run(db: &TestDb, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = db
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run onecard");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write");
    }
    drop(input);
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tokens_and_users_are_managed_from_the_command_line() {
    let db = TestDb::new();
    assert!(run(&db, &["migrate"], None).0);
    let (ok, token, err) = run(
        &db,
        &[
            "keys",
            "create",
            "--role",
            "clerk",
            "--name",
            "window 5",
            "--expires-in",
            "30",
        ],
        None,
    );
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("oc_") && token.len() == 46, "{token}");
    assert!(err.contains("expires"), "{err}");
    assert!(
        !run(
            &db,
            &[
                "keys",
                "create",
                "--role",
                "clerk",
                "--name",
                "x",
                "--expires-in",
                "0"
            ],
            None
        )
        .0
    );
    let (ok, list, err) = run(&db, &["keys", "list"], None);
    assert!(ok, "{err}");
    assert!(!list.contains("oc_"), "never the token: {list}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("id\tname\trole"));
    let row: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!((row[1], row[2], row[7]), ("window 5", "clerk", "-"));
    let expires = NaiveDateTime::parse_from_str(row[5], "%Y-%m-%d %H:%M:%S").expect("expiry");
    assert!(expires > now() + Duration::days(29) && expires <= now() + Duration::days(30));
    let id = row[0].to_string();

    let (ok, _, err) = run(&db, &["keys", "revoke", &id], None);
    assert!(ok && err.contains("revoked"), "{err}");
    let (ok, _, err) = run(&db, &["keys", "revoke", &id], None);
    assert!(ok && err.contains("already"), "{err}");
    assert!(!run(&db, &["keys", "revoke", "00000000deadbeef"], None).0);
    let (_, list, _) = run(&db, &["keys", "list"], None);
    assert_ne!(
        list.lines().nth(1).and_then(|l| l.split('\t').nth(7)),
        Some("-")
    );
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    assert_eq!(
        tokens::check(&mut conn, &token, now()).expect("check"),
        Err(tokens::Refusal::Revoked)
    );

    let old = "the-first-password-2026";
    let (ok, _, err) = run(
        &db,
        &["users", "create", "--role", "finance", "--name", "钱会计"],
        Some(&format!("{old}\n")),
    );
    assert!(ok, "{err}");
    let (ok, list, _) = run(&db, &["users", "list"], None);
    assert!(
        ok && list.contains("钱会计\tfinance") && list.contains("\tactive\t"),
        "{list}"
    );
    assert!(!list.contains(old));
    let (ok, _, err) = run(&db, &["users", "disable", "钱会计"], None);
    assert!(ok, "{err}");
    assert!(auth::staff::sign_in(&mut conn, &ctx.keys, "钱会计", old).is_err());
    let (_, list, _) = run(&db, &["users", "list"], None);
    assert!(list.contains("\tdisabled\t"), "{list}");
    assert!(run(&db, &["users", "enable", "钱会计"], None).0);
    assert!(auth::staff::sign_in(&mut conn, &ctx.keys, "钱会计", old).is_ok());
    let (ok, password, err) = run(&db, &["users", "reset-password", "钱会计"], None);
    assert!(ok, "{err}");
    let password = password.trim();
    assert!(password.len() >= 16, "{password}");
    assert!(auth::staff::sign_in(&mut conn, &ctx.keys, "钱会计", old).is_err());
    assert!(auth::staff::sign_in(&mut conn, &ctx.keys, "钱会计", password).is_ok());
    assert!(!run(&db, &["users", "disable", "nobody"], None).0);
}

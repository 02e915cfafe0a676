//! The staff pages' frame, on both databases: sign-in through the form (wrong password, lock-out,
//! where it goes next), the cookie's attributes, CSRF on every form, sign-out, the language
//! switch, role rules, and the 今日 page's figures and CSV after payments taken through the
//! same use case as the API.

use chrono::NaiveDate;
use onecard::auth::Role;

use crate::support::spawn_app;
use crate::web_support::{create_staff, WebSession, PASSWORD};

#[actix_web::test]
async fn sign_in_cookies_csrf_sign_out_and_language() {
    let app = spawn_app().await;
    let mut anon = WebSession::anonymous(&app);
    // Not signed in: every page sends the browser to sign in, and back afterwards.
    let page = anon.get("/web/today?date=2026-11-24").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some("/web/sign-in?next=/web/today%3Fdate%3D2026-11-24")
    );
    let root = anon.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/web/today"));
    let form = anon.get("/web/sign-in?next=/web/today").await;
    assert_eq!(form.status, 200);
    assert!(form.content_type.starts_with("text/html"));
    assert!(form.body.contains("lang=\"zh-CN\"") && form.body.contains("工作人员登录"));
    assert!(
        form.body.contains("<label for=\"name\">")
            && form.body.contains("<label for=\"password\">")
    );

    create_staff(&app, Role::Finance, "张出纳").await;
    // A wrong password: 401, the form again, no session.
    let wrong = anon.sign_in("张出纳", "not the password at all").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("用户名或密码错误"), "{}", wrong.body);
    assert!(!anon.cookies.contains_key("onecard_session"));
    // The sign-in form without its token is refused even with the right password.
    let forged = anon
        .post_raw(
            "/web/sign-in",
            &[("name", "张出纳"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!anon.cookies.contains_key("onecard_session"));

    // Right: a signed cookie, HttpOnly, SameSite=Strict, and on to the page asked for.
    let form = anon.get("/web/sign-in").await;
    let csrf = form.csrf().unwrap();
    let res = anon
        .client
        .post(app.url("/web/sign-in"))
        .insert_header((
            "cookie",
            format!("onecard_sign_in={}", anon.cookies["onecard_sign_in"]),
        ))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(
            serde_urlencoded::to_string([
                ("csrf", csrf.as_str()),
                ("name", "张出纳"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // An outside address is never where sign-in leads.
    assert_eq!(res.headers().get("location").unwrap(), "/web/today");
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("onecard_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "plain http here: {session}");

    let mut s = WebSession::anonymous(&app);
    assert_eq!(s.sign_in("张出纳", PASSWORD).await.status, 303);
    let today = s.get("/web/today").await;
    assert_eq!(today.status, 200, "{}", today.body);
    assert!(today.body.contains("张出纳") && today.body.contains("财务人员"));
    for header in ["content-security-policy", "x-frame-options"] {
        let res = s
            .client
            .get(app.url("/web/today"))
            .insert_header((
                "cookie",
                format!("onecard_session={}", s.cookies["onecard_session"]),
            ))
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key(header), "{header}");
    }

    // A form without the session's CSRF token, or with another session's, changes nothing.
    let no_token = s.post_raw("/web/sign-out", &[]).await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("form_expired"));
    let mut other = WebSession::signed_in(&app, Role::Supervisor).await;
    let theirs = other.get("/web/today").await.csrf().unwrap();
    let cross = s
        .post_raw("/web/sign-out", &[("csrf", theirs.as_str())])
        .await;
    assert_eq!(cross.status, 403);
    assert_eq!(s.get("/web/today").await.status, 200, "still signed in");

    // English on request, kept in a cookie; back to Chinese.
    let switch = s.get("/web/lang?to=en&back=/web/today").await;
    assert_eq!(switch.location.as_deref(), Some("/web/today"));
    let en = s.get("/web/today").await;
    assert!(en.body.contains("lang=\"en\"") && en.body.contains("Today&#39;s collections"));
    s.get("/web/lang?to=zh&back=https://evil.example/").await;
    assert!(s.get("/web/today").await.body.contains("今日收费"));
    // A control character in a "back" or "next" address (a header split, or just a bad link)
    // sends the user to the start page; it is never written into a header (that answered 500).
    for back in [
        "/web/today%0D%0ASet-Cookie:%20x=1",
        "/web/ledger%00",
        "/web/%7F",
    ] {
        let r = s.get(&format!("/web/lang?to=zh&back={back}")).await;
        assert_eq!(r.status, 303, "{back}");
        assert_eq!(r.location.as_deref(), Some("/web/today"), "{back}");
    }
    let mut anonymous = WebSession::anonymous(&app);
    assert_eq!(
        anonymous
            .get("/web/sign-in?next=/web/ledger%0A")
            .await
            .status,
        200
    );

    // Sign-out ends the session on the server: the old cookie no longer works.
    let cookie = s.cookies["onecard_session"].clone();
    let out = s.post("/web/today", "/web/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert!(!s.cookies.contains_key("onecard_session"));
    s.cookies.insert("onecard_session".into(), cookie);
    assert_eq!(s.get("/web/today").await.status, 303);
}

#[actix_web::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let app = spawn_app().await;
    create_staff(&app, Role::Finance, "lock-me").await;
    let mut s = WebSession::anonymous(&app);
    for _ in 0..5 {
        assert_eq!(
            s.sign_in("lock-me", "wrong password here").await.status,
            401
        );
    }
    let locked = s.sign_in("lock-me", PASSWORD).await;
    assert_eq!(locked.status, 401);
    assert!(locked.body.contains("锁定"), "{}", locked.body);
    assert!(!s.cookies.contains_key("onecard_session"));
}

#[actix_web::test]
async fn roles_see_only_their_pages_and_today_shows_what_was_taken() {
    let app = spawn_app().await;
    app.load_demo().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    app.capture_night_sales(day).await;
    app.capture_on(
        day - chrono::Duration::days(1),
        "SC-JL-01",
        "200.00",
        "000014",
        "000451234569",
    )
    .await;

    let mut finance = WebSession::signed_in(&app, Role::Finance).await;
    let page = finance.get("/web/today?date=2026-11-24").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("¥750.00"), "collected that day");
    assert!(page.body.contains("D04") && page.body.contains("W01") && page.body.contains("银行卡"));
    assert!(page.body.contains("<svg"), "the 30-day chart");
    // A malformed date is a clear 422 page, not a 500.
    let bad = finance.get("/web/today?date=24.11.2026").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("date"));

    // Every table downloads as CSV, exactly its figures.
    let csv = finance
        .get("/web/today?date=2026-11-24&csv=by_channel")
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert_eq!(
        csv.body,
        "\u{feff}渠道,笔数,金额（元）\n银行卡,2,750.00\n合计,2,750.00\n"
    );
    let month = finance
        .get("/web/today?date=2026-11-24&csv=last_30_days")
        .await;
    assert!(
        month.body.contains("2026-11-23,200.00,0.00,200.00,1"),
        "{}",
        month.body
    );
    assert_eq!(finance.get("/web/today?csv=nope").await.status, 404);

    // The navigation follows the roles: a clerk sees payments but not the ledger; the
    // treasury system has no page at all.
    let mut clerk = WebSession::signed_in(&app, Role::Clerk).await;
    let page = clerk.get("/web/today").await;
    assert!(page.body.contains("href=\"/web/payments\""));
    assert!(!page.body.contains("href=\"/web/ledger\""));
    let mut treasury = WebSession::signed_in(&app, Role::Treasury).await;
    let refused = treasury.get("/web/today").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("无权操作"));
}

#[actix_web::test]
async fn guessing_across_accounts_from_one_address_is_slowed_down() {
    let app = spawn_app().await;
    let names: Vec<String> = (0..5).map(|i| format!("spray-{i}")).collect();
    for n in &names {
        create_staff(&app, Role::Clerk, n).await;
    }
    let mut s = WebSession::anonymous(&app);
    // Four wrong guesses on each of five accounts: no account locks, but the address has used
    // its allowance.
    for n in names
        .iter()
        .cycle()
        .take(onecard::web::session::SIGN_IN_BURST as usize)
    {
        assert_eq!(s.sign_in(n, "a guessed password").await.status, 401);
    }
    let slowed = s.sign_in("spray-0", PASSWORD).await;
    assert_eq!(slowed.status, 429, "{}", slowed.body);
    assert!(slowed.body.contains("rate_limited"));
    assert!(!s.cookies.contains_key("onecard_session"));
}

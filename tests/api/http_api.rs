//! The HTTP contract as a client sees it: auth, problem documents, the ledger endpoints.

use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::spawn_app;

fn adjustment(postings: Value) -> Value {
    json!({"business_date": "2026-11-24", "kind": "adjustment", "memo": "test", "postings": postings})
}

fn is_problem(ct: &str, body: &Value, status: u16, code: &str) {
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(),
        "{body}"
    );
}

#[actix_web::test]
async fn health_metrics_openapi_and_signing_key_need_no_token() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/openapi.json", "/v1/signing-key"] {
        let mut res = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let body: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
        match path {
            "/healthz" => assert_eq!(body["status"], "ok"),
            "/openapi.json" => {
                assert!(body["openapi"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("3.")));
                assert!(body["paths"]["/v1/ledger/trial-balance"].is_object());
            }
            "/v1/signing-key" => {
                assert_eq!(body["alg"], "ed25519");
                let key = body["public_key"].as_str().expect("key");
                use base64::Engine;
                assert_eq!(
                    base64::engine::general_purpose::STANDARD
                        .decode(key)
                        .expect("b64")
                        .len(),
                    32
                );
            }
            _ => {}
        }
    }
    let mut res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    let text = String::from_utf8(res.body().await.expect("body").to_vec()).expect("utf8");
    assert!(
        text.contains(
            "onecard_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains("onecard_http_request_duration_seconds_bucket"));
    assert!(text.contains("onecard_ledger_batch_jobs_count"));
    app.stop().await;
}

#[actix_web::test]
async fn head_is_answered_wherever_get_is() {
    let app = spawn_app().await;
    for (path, token) in [
        ("/healthz", None),
        ("/openapi.json", None),
        ("/v1/ledger/trial-balance", Some(Role::Auditor)),
        ("/v1/payments?limit=5", Some(Role::Finance)),
        ("/v1/ledger/accounts/no-such-account", Some(Role::Auditor)),
        ("/v1/ledger/trial-balance", None),
    ] {
        let send = |method: actix_web::http::Method| {
            let mut req = app.client.request(method, app.url(path));
            if let Some(role) = token {
                req = req.bearer_auth(app.token(role));
            }
            req.send()
        };
        let mut get = send(actix_web::http::Method::GET).await.expect("GET");
        let mut head = send(actix_web::http::Method::HEAD).await.expect("HEAD");
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(!get.body().await.expect("body").is_empty(), "GET {path}");
        assert!(head.body().await.expect("body").is_empty(), "HEAD {path}");
    }
    // A path only POST answers is not turned into something else by HEAD.
    let res = app
        .client
        .head(app.url("/v1/payments/PAY-0/void"))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .expect("HEAD");
    assert!(res.status().is_client_error(), "{}", res.status());
    app.stop().await;
}

#[actix_web::test]
async fn tokens_and_roles_are_enforced() {
    let app = spawn_app().await;
    let mut res = app
        .client
        .get(app.url("/v1/ledger/accounts"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let body: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    assert_eq!(body["code"], "unauthorized");
    for bad in [
        "oc_nope",
        "oc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
    ] {
        let res = app
            .client
            .get(app.url("/v1/ledger/accounts"))
            .bearer_auth(bad)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 401, "{bad}");
    }
    for role in [Role::Finance, Role::Supervisor, Role::Auditor] {
        assert_eq!(app.get(role, "/v1/ledger/accounts").await.0, 200, "{role}");
    }
    for role in [Role::Clerk, Role::Treasury, Role::Admin] {
        let (status, body) = app.get(role, "/v1/ledger/trial-balance").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("forbidden")),
            "{role}"
        );
    }
    for role in [Role::Finance, Role::Auditor, Role::Clerk] {
        let (status, _, _) = app
            .post(role, "/v1/ledger/entries", &adjustment(json!([])))
            .await;
        assert_eq!(status, 403, "{role} may not post manual entries");
    }
    app.stop().await;
}

#[actix_web::test]
async fn every_client_mistake_is_a_problem_document() {
    let app = spawn_app().await;
    let path = "/v1/ledger/entries";
    let (s, ct, b) = app
        .post_raw(Role::Supervisor, path, b"{\"business_date\": ".to_vec())
        .await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert!(
        b["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON"),
        "{b}"
    );
    assert_eq!(s, 422);

    let mut body = adjustment(json!([{"account": "1218.01", "side": "debit", "amount": "1.00"}]));
    body["colour"] = json!("red");
    let (_, ct, b) = app.post(Role::Supervisor, path, &body).await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert!(
        b["detail"].as_str().unwrap_or("").contains("colour"),
        "names the unknown field: {b}"
    );

    let body = adjustment(json!([{"account": "1218.01", "side": "debit", "amount": 1.5}]));
    let (_, ct, b) = app.post(Role::Supervisor, path, &body).await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert_eq!(b["field"], "postings[0].amount", "{b}");

    let body = adjustment(json!([{"account": "1218.01", "side": "sideways", "amount": "1.00"}]));
    let (_, ct, b) = app.post(Role::Supervisor, path, &body).await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert_eq!(b["field"], "postings[0].side");

    let body = adjustment(json!([{"account": "1218.01", "side": "debit", "amount": "1.001"}]));
    let (_, ct, b) = app.post(Role::Supervisor, path, &body).await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert_eq!(b["field"], "postings[0].amount");

    let mut body = adjustment(json!([]));
    body["business_date"] = json!("2026-02-30");
    let (_, ct, b) = app.post(Role::Supervisor, path, &body).await;
    is_problem(&ct, &b, 422, "invalid_request");
    assert_eq!(b["field"], "business_date");

    let huge = vec![b' '; 300 * 1024];
    let (_, ct, b) = app.post_raw(Role::Supervisor, path, huge).await;
    is_problem(&ct, &b, 413, "payload_too_large");

    let mut res = app
        .client
        .post(app.url(path))
        .bearer_auth(app.token(Role::Supervisor))
        .insert_header(("content-type", "text/plain"))
        .send_body("hello")
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 415);
    let b: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    assert_eq!(b["code"], "unsupported_media_type");

    for q in ["limit=0", "limit=1001", "limit=abc", "after=-3", "bogus=1"] {
        let (s, b) = app
            .get(
                Role::Finance,
                &format!("/v1/ledger/accounts/1218.01/entries?{q}"),
            )
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("invalid_request")),
            "{q}: {b}"
        );
    }
    let (s, b) = app
        .get(Role::Finance, "/v1/ledger/trial-balance?as_of=yesterday")
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("invalid_request")));
    let (s, b) = app
        .get(Role::Finance, "/v1/ledger/accounts/9999/entries")
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    let (s, b) = app.get(Role::Finance, "/v1/no/such/thing").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    let (s, b) = app
        .get(Role::Finance, "/v1/ledger/entries/notanumber")
        .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["code"], "not_found");
    app.stop().await;
}

#[actix_web::test]
async fn ledger_rules_surface_with_their_codes() {
    let app = spawn_app().await;
    let path = "/v1/ledger/entries";
    let cases = [
        (
            json!([{"account": "1002.02", "side": "debit", "amount": "5.00"}, {"account": "4001", "side": "credit", "amount": "4.00"}]),
            "unbalanced",
        ),
        (
            json!([{"account": "1002.01", "side": "credit", "amount": "5.00"}, {"account": "5001.01", "side": "debit", "amount": "5.00"}]),
            "fund_crossing",
        ),
        (
            json!([{"account": "2103.1030401", "side": "debit", "amount": "5.00"}, {"account": "1218.01", "side": "credit", "amount": "5.00"}]),
            "revenue_netting",
        ),
        (
            json!([{"account": "7777", "side": "debit", "amount": "5.00"}, {"account": "4001", "side": "credit", "amount": "5.00"}]),
            "unknown_account",
        ),
        (
            json!([{"account": "1002.02", "side": "debit", "amount": "0.00"}, {"account": "4001", "side": "credit", "amount": "0.00"}]),
            "invalid_amount",
        ),
    ];
    for (postings, code) in cases {
        let (s, ct, b) = app
            .post(Role::Supervisor, path, &adjustment(postings))
            .await;
        assert_eq!(s, 422, "{b}");
        is_problem(&ct, &b, 422, code);
    }
    let mut capture = adjustment(
        json!([{"account": "1218.01", "side": "debit", "amount": "5.00"}, {"account": "2103.1030401", "side": "credit", "amount": "5.00"}]),
    );
    capture["kind"] = json!("capture");
    let (s, _, b) = app.post(Role::Supervisor, path, &capture).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("invalid_entry")),
        "captures come only from payments"
    );

    // A closed day, closed (and sealed) as finance would: `verify` checks its seal.
    app.close_worked(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"))
        .await;
    let mut closed = adjustment(
        json!([{"account": "1002.02", "side": "debit", "amount": "5.00"}, {"account": "4001", "side": "credit", "amount": "5.00"}]),
    );
    closed["business_date"] = json!("2026-11-01");
    let (s, ct, b) = app.post(Role::Supervisor, path, &closed).await;
    assert_eq!(s, 422);
    is_problem(&ct, &b, 422, "day_closed");

    let (s, b) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(
        (s, &b["ok"], &b["entries"]),
        (200, &json!(true), &json!(0)),
        "nothing refused was written: {b}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn post_read_page_reverse_and_verify() {
    let app = spawn_app().await;
    let appropriation = json!({"business_date": "2026-11-24", "kind": "appropriation", "memo": "budget for bank charges",
        "postings": [{"account": "1002.02", "side": "debit", "amount": "1000.00"}, {"account": "4001", "side": "credit", "amount": "1000.00"}]});
    let (s, _, first) = app
        .post(Role::Supervisor, "/v1/ledger/entries", &appropriation)
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["actor"], "supervisor:test-supervisor");
    assert_eq!(first["prev_hash"], "0".repeat(64));
    let (s, _, second) = app
        .post(Role::Supervisor, "/v1/ledger/entries", &appropriation)
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        second["prev_hash"], first["hash"],
        "each entry links to the one before"
    );

    let (_, accounts) = app.get(Role::Finance, "/v1/ledger/accounts").await;
    let find = |code: &str| {
        accounts["items"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["code"] == code).cloned())
            .expect(code)
    };
    assert_eq!(find("1002.02")["balance"], "2000.00");
    assert_eq!(
        find("4001")["balance"],
        "2000.00",
        "credit-normal account shows a positive balance"
    );
    assert_eq!(
        find("1002B")["balance"],
        "2000.00",
        "a grouping account carries its sub-accounts"
    );
    assert_eq!(find("1002.02")["fund"], "budget");

    let (_, tb) = app.get(Role::Auditor, "/v1/ledger/trial-balance").await;
    for f in tb["funds"].as_array().expect("funds") {
        assert_eq!(f["debit_total"], f["credit_total"], "{f}");
    }
    let budget = tb["funds"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["fund"] == "budget").cloned())
        .expect("budget");
    assert_eq!(budget["debit_total"], "2000.00");
    let (_, tb_before) = app
        .get(Role::Auditor, "/v1/ledger/trial-balance?as_of=2026-11-23")
        .await;
    assert_eq!(tb_before["as_of"], "2026-11-23");
    assert!(tb_before["funds"]
        .as_array()
        .expect("funds")
        .iter()
        .all(|f| f["debit_total"] == "0.00"));

    let (_, page1) = app
        .get(Role::Finance, "/v1/ledger/accounts/1002.02/entries?limit=1")
        .await;
    assert_eq!(page1["items"].as_array().map(Vec::len), Some(1));
    let next = page1["next"].as_str().expect("a next cursor");
    let (_, page2) = app
        .get(
            Role::Finance,
            &format!("/v1/ledger/accounts/1002.02/entries?limit=1&after={next}"),
        )
        .await;
    assert_eq!(page2["items"][0]["seq"], 2);
    assert_eq!(page2["next"], Value::Null);
    let (_, none) = app
        .get(
            Role::Finance,
            "/v1/ledger/accounts/1002.02/entries?from=2026-11-25",
        )
        .await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));

    // Four eyes: who posted an entry does not reverse it; another supervisor does.
    let (s, _, own) = app
        .post(
            Role::Supervisor,
            "/v1/ledger/entries/1/reversal",
            &json!({"memo": "posted twice"}),
        )
        .await;
    assert_eq!(
        (s, own["code"].as_str()),
        (403, Some("same_person")),
        "{own}"
    );
    let other = app
        .token_for(Role::Supervisor, "second supervisor", None)
        .await;
    let reverse = |memo: &str, seq: i64| {
        let body = json!({"memo": memo}).to_string().into_bytes();
        let path = format!("/v1/ledger/entries/{seq}/reversal");
        let (app, other) = (&app, &other);
        async move { app.post_with(other, &path, body).await }
    };
    let (s, _, rev) = reverse("posted twice", 1).await;
    assert_eq!(s, 201, "{rev}");
    assert_eq!(rev["reverses"], 1);
    let (s, _, again) = reverse("again", 1).await;
    assert_eq!((s, again["code"].as_str()), (409, Some("already_reversed")));
    let (s, _, missing) = reverse("x", 99).await;
    assert_eq!((s, missing["code"].as_str()), (404, Some("not_found")));

    let (_, entry) = app.get(Role::Auditor, "/v1/ledger/entries/3").await;
    assert_eq!(entry["kind"], "reversal");
    let (_, v) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 3);
    assert_eq!(v["head"], entry["hash"]);

    // Every change is in the audit trail with who did it.
    let ctx = app.ctx.clone();
    let audit = actix_web::web::block(move || {
        let mut conn = ctx.conn().expect("conn");
        onecard::audit::list(&mut conn, None, 0, 100).expect("audit")
    })
    .await
    .expect("block");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    // One token per role, and the second supervisor's.
    assert_eq!(actions.iter().filter(|a| **a == "key.create").count(), 7);
    assert_eq!(actions.iter().filter(|a| **a == "ledger.post").count(), 2);
    let reversal = audit
        .iter()
        .find(|a| a.action == "ledger.reverse")
        .expect("reversal audited");
    assert_eq!(reversal.actor, "supervisor:second supervisor");
    assert_eq!(reversal.subject, "entry:1");
    assert!(reversal.before_json.is_some() && reversal.after_json.is_some());
    app.stop().await;
}

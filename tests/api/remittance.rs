//! Treasury remittance on both databases: a closed day becomes a batch, a supervisor approves
//! it, the treasury pulls the signed remt.001 file with HMAC-signed requests, verifies it with
//! openssl and xmllint alone, and acknowledges it, leaving the day's payable at zero.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use chrono::{Duration, NaiveDate, Utc};
use onecard::auth::Role;
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

async fn approve(app: &TestApp, id: &str) -> (u16, Value) {
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            &format!("/v1/remittances/{id}/approve"),
            &json!({}),
        )
        .await;
    (status, body)
}

/// Requests and approves a refund of `amount` on a payment (clerk asks, supervisor approves).
async fn refund(app: &TestApp, payment: &str, amount: &str) -> (u16, Value) {
    static KEYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let key = format!(
        "rf-{}",
        KEYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (status, _, asked) = app
        .post_keyed(
            Role::Clerk,
            &format!("/v1/payments/{payment}/refunds"),
            &key,
            &json!({"amount": amount, "reason": "fee charged twice"}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().expect("refund id");
    let (status, _, body) = app
        .post(
            Role::Supervisor,
            &format!("/v1/refunds/{id}/approve"),
            &json!({}),
        )
        .await;
    (status, body)
}

fn shared_dir() -> std::path::PathBuf {
    onecard::bankfiles::real_samples_dir()
}

/// The README's verification block, run as written, in `dir` holding `remt.xml`.
fn readme_verification(dir: &Path, key: &str, digest: &str, sig: &str) -> std::process::Output {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let block = readme
        .split("<!-- verify-remittance:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- verify-remittance:end -->").next())
        .expect("the README's verification block");
    let script = block
        .trim()
        .trim_start_matches("```sh")
        .trim_end_matches("```");
    Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .env("KEY", key)
        .env("DIGEST", digest)
        .env("SIG", sig)
        .output()
        .expect("sh runs")
}

fn header(headers: &actix_web::http::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[actix_web::test]
async fn a_closed_day_is_remitted_signed_pulled_verified_and_acknowledged() {
    let app = spawn_app().await;
    app.load_demo().await;
    let d = day(24);
    let a = app
        .capture_on(d, "SC-JL-01", "200.00", "000012", "000451234567")
        .await;
    let b = app
        .capture_on(d, "ZR-BDC-02", "550.00", "000013", "000451234568")
        .await;
    app.capture_on(d, "SC-JL-01", "200.00", "000014", "000451234569")
        .await;
    // A refund approved today of a payment of the 24th lowers the 24th's payable.
    let (status, body) = refund(&app, &b, "50.00").await;
    assert_eq!(status, 200, "{body}");

    // Not before the day is closed.
    let (status, body) = app.prepare_remittance(d).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("day_not_closed")),
        "{body}"
    );
    app.close_worked(d).await;
    // A supervision check before remitting: the 24th is overdue (limit 2 days).
    let (status, report) = app
        .get(
            Role::Auditor,
            &format!("/v1/supervision/treasury-payable?from={d}&to={d}"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    if Utc::now().date_naive() > d + Duration::days(3) {
        assert_eq!(
            report["findings"][0]["finding"], "not_remitted_in_time",
            "{report}"
        );
        assert_eq!(report["findings"][0]["balance"], "900.00", "{report}");
    }

    let (status, batch) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(batch["status"], "prepared");
    assert_eq!(batch["amount"], "900.00", "{batch}");
    let subjects = batch["subjects"].as_array().expect("subjects");
    let total: i64 = subjects
        .iter()
        .map(|s| {
            onecard::money::parse_amount(s["amount"].as_str().expect("amount")).expect("amount")
        })
        .sum();
    assert_eq!(total, 90_000);
    assert_eq!(
        subjects
            .iter()
            .map(|s| s["documents"].as_i64().unwrap_or(0))
            .sum::<i64>(),
        3,
        "{batch}"
    );
    let id = batch["id"].as_str().expect("id").to_string();

    // Once: a second live batch of the day is refused.
    let (status, body) = app.prepare_remittance(d).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_remitted")),
        "{body}"
    );

    // The treasury sees nothing until a supervisor approves; finance may not approve.
    let (status, listed) = app
        .treasury("GET", "/v1/treasury/remittances", &json!({}))
        .await;
    assert_eq!(
        (status, listed["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{listed}"
    );
    let (status, _, body) = app
        .post(
            Role::Finance,
            &format!("/v1/remittances/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, approved) = approve(&app, &id).await;
    // Once approved the day's revenue is the treasury's: a refund now waits for the treasury
    // (退库) and posts nothing against the payable.
    let (status_r, body) = refund(&app, &a, "10.00").await;
    assert_eq!(status_r, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["route"].as_str()),
        (Some("awaiting_treasury"), Some("treasury")),
        "{body}"
    );
    assert!(body["entry_seq"].is_null(), "{body}");
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    let (status, again) = approve(&app, &id).await;
    assert_eq!((status, &again["sha256"]), (200, &approved["sha256"]));

    let (status, listed) = app
        .treasury("GET", "/v1/treasury/remittances", &json!({}))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed["next"], Value::Null);

    // The file: the same bytes on every pull, with digest and signature headers.
    let path = format!("/v1/treasury/remittances/{id}/file");
    let now = Utc::now().timestamp();
    let (status, headers, bytes) = app
        .signed(Role::Treasury, "GET", &path, b"", now, None)
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(header(&headers, "content-type"), "application/xml");
    let (_, headers2, bytes2) = app
        .signed(Role::Treasury, "GET", &path, b"", now + 1, None)
        .await;
    assert_eq!(bytes, bytes2, "byte-identical on every pull");
    assert_eq!(header(&headers, "digest"), header(&headers2, "digest"));
    let digest = header(&headers, "digest");
    let signature = header(&headers, "x-onecard-signature");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        digest,
        format!(
            "sha-256={}",
            b64.encode(ring::digest::digest(&ring::digest::SHA256, &bytes))
        )
    );
    assert_eq!(
        Some(hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            &bytes
        ))),
        approved["sha256"].as_str().map(str::to_string)
    );
    let xml = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(
        xml.contains("<InstdAmt Ccy=\"CNY\">900.00</InstdAmt>"),
        "{xml}"
    );
    assert!(
        xml.contains("<RmtdAmt Ccy=\"CNY\">500.00</RmtdAmt>"),
        "the refunded receipt at its net amount: {xml}"
    );

    // Verified with openssl and xmllint alone, as the README says.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("remt.xml"), &bytes).expect("write");
    let (_, key) = app.get(Role::Auditor, "/v1/signing-key").await;
    let key = key["public_key"].as_str().expect("key").to_string();
    let digest_b64 = digest.trim_start_matches("sha-256=");
    let sig_b64 = signature.trim_start_matches("ed25519=");
    let out = readme_verification(dir.path(), &key, digest_b64, sig_b64);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl refused the file: {said}");
    assert!(
        said.contains("digest OK") && said.contains("Signature Verified Successfully"),
        "{said}"
    );
    let xsd = shared_dir().join("xsd/remt.001.001.04.xsd");
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(dir.path().join("remt.xml"))
        .output()
        .expect("xmllint runs (libxml2-utils)");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    // One changed byte and openssl refuses it.
    let mut tampered = bytes.clone();
    let at = xml.find("900.00").expect("amount");
    tampered[at] = b'8';
    std::fs::write(dir.path().join("remt.xml"), &tampered).expect("write");
    let out = readme_verification(dir.path(), &key, digest_b64, sig_b64);
    assert!(!out.status.success(), "a tampered file must not verify");

    // The database refuses to change an approved batch's file.
    {
        use diesel::RunQueryDsl;
        let mut conn = app.ctx.conn().expect("conn");
        let changed = diesel::sql_query(format!(
            "UPDATE remittances SET amount_minor = 1 WHERE id = '{id}'"
        ))
        .execute(&mut *conn);
        assert!(changed.is_err(), "an approved batch must not change");
    }

    // Acknowledgement: the amount must agree; once posted, again is a no-op, another is 409.
    let ack = format!("/v1/treasury/remittances/{id}/ack");
    let acknowledge = |reference: &'static str, amount: &'static str| {
        let body = json!({"treasury_reference": reference, "amount": amount});
        let ack = ack.clone();
        let app = &app;
        async move { app.treasury("POST", &ack, &body).await }
    };
    let (status, body) = acknowledge("GK20261125001", "899.99").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("amount_mismatch")),
        "{body}"
    );
    let (status, body) = acknowledge("GK20261125001", "900.00").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["posted"].as_bool()),
        (Some("acknowledged"), Some(true))
    );
    let entry = body["entry_seq"].as_i64().expect("entry");
    let (status, body) = acknowledge("GK20261125001", "900.00").await;
    assert_eq!(
        (status, body["posted"].as_bool(), body["entry_seq"].as_i64()),
        (200, Some(false), Some(entry)),
        "{body}"
    );
    let (status, body) = acknowledge("GK20261125999", "900.00").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_acknowledged")),
        "{body}"
    );

    // The remittance entry: Dr 2103.<subject> / Cr 1002.01, and 2103 is back to zero.
    let (status, posted) = app
        .get(Role::Auditor, &format!("/v1/ledger/entries/{entry}"))
        .await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["kind"], "remittance", "{posted}");
    assert_eq!(app.balance("2103").await, Some(json!("0.00")));
    let (_, report) = app
        .get(
            Role::Auditor,
            &format!("/v1/supervision/treasury-payable?from={d}&to={d}"),
        )
        .await;
    assert_eq!(report["findings"], json!([]), "{report}");
    assert_eq!(report["days_checked"], 1, "{report}");
    let (status, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(
        (status, verify["ok"].as_bool()),
        (200, Some(true)),
        "{verify}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn treasury_requests_must_be_signed_fresh_and_once_and_pages_follow_approval() {
    let app = spawn_app_with(|c| c.remit_limit_days = 30).await;
    app.load_demo().await;
    // Three days, approved out of date order: the treasury pulls them in approval order.
    let days = [day(20), day(18), day(19)];
    for (i, d) in days.iter().enumerate() {
        app.capture_on(
            *d,
            "SC-JL-01",
            "200.00",
            &format!("00010{i}"),
            &format!("00045100000{i}"),
        )
        .await;
        app.close_worked(*d).await;
        let (status, batch) = app.prepare_remittance(*d).await;
        assert_eq!(status, 201, "{batch}");
        let (status, body) = approve(&app, batch["id"].as_str().expect("id")).await;
        assert_eq!(status, 200, "{body}");
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = app
            .treasury(
                "GET",
                &format!("/v1/treasury/remittances?limit=1&after={after}"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|b| b["business_date"].as_str().unwrap_or("").to_string()),
        );
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["2026-11-20", "2026-11-18", "2026-11-19"]);

    let path = "/v1/treasury/remittances";
    let now = Utc::now().timestamp();
    // Status and problem code of a treasury request with a given signature (None: computed).
    let answer = |method: &'static str,
                  target: String,
                  body: &'static [u8],
                  ts: i64,
                  sig: Option<String>| {
        let app = &app;
        async move {
            let (status, _, bytes) = app
                .signed(Role::Treasury, method, &target, body, ts, sig.as_deref())
                .await;
            let code = serde_json::from_slice::<Value>(&bytes)
                .map(|v| v["code"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            (status, code)
        }
    };
    let sign = |secret: &str, method: &str, path: &str, query: &str, body: &[u8]| {
        use onecard::auth::request_signing as rs;
        rs::sign(
            secret,
            &rs::canonical_request(method, path, query, &now.to_string(), body),
        )
    };
    let refused = |code: &str| (401u16, code.to_string());
    // Without the signature headers.
    let mut res = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Treasury))
        .send()
        .await
        .expect("request");
    let body: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    assert_eq!(
        (res.status().as_u16(), body["code"].as_str()),
        (401, Some("signature_required"))
    );
    // Stale either way, by more than 300 s.
    for ts in [now - 301, now + 301] {
        assert_eq!(
            answer("GET", path.into(), b"", ts, None).await,
            refused("stale_request")
        );
    }
    // A signature made with another secret, or over another request.
    let other = sign("not-the-secret", "GET", path, "", b"");
    assert_eq!(
        answer("GET", path.into(), b"", now, Some(other)).await,
        refused("bad_signature")
    );
    let for_limit_1 = sign(&app.treasury_secret, "GET", path, "limit=1", b"");
    assert_eq!(
        answer(
            "GET",
            format!("{path}?limit=2"),
            b"",
            now,
            Some(for_limit_1.clone())
        )
        .await,
        refused("bad_signature")
    );
    // Replayed: the same signed request twice.
    let limit_1 = format!("{path}?limit=1");
    assert_eq!(
        answer("GET", limit_1.clone(), b"", now, Some(for_limit_1.clone()))
            .await
            .0,
        200
    );
    assert_eq!(
        answer("GET", limit_1, b"", now, Some(for_limit_1)).await,
        refused("replayed_request")
    );
    // An acknowledgement's body is signed too: change it after signing and it is refused.
    let id = format!("rem_{}", day(20).format("%Y%m%d"));
    let ack = format!("/v1/treasury/remittances/{id}/ack");
    let sig = sign(
        &app.treasury_secret,
        "POST",
        &ack,
        "",
        br#"{"treasury_reference":"GK1","amount":"200.00"}"#,
    );
    assert_eq!(
        answer(
            "POST",
            ack,
            br#"{"treasury_reference":"GK1","amount":"0.01"}"#,
            now,
            Some(sig)
        )
        .await,
        refused("bad_signature")
    );
    // Other roles may not pull, signed or not.
    let (status, _, _) = app.signed(Role::Auditor, "GET", path, b"", now, None).await;
    assert_eq!(status, 403);
    // A prepared (unapproved) batch does not exist for the treasury.
    let d = day(17);
    app.capture_on(d, "SC-JL-01", "200.00", "000200", "000451000200")
        .await;
    app.close_worked(d).await;
    let (status, batch) = app.prepare_remittance(d).await;
    assert_eq!(status, 201, "{batch}");
    let (status, _, _) = app
        .signed(
            Role::Treasury,
            "GET",
            &format!(
                "/v1/treasury/remittances/{}/file",
                batch["id"].as_str().unwrap_or("")
            ),
            b"",
            Utc::now().timestamp(),
            None,
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[actix_web::test]
async fn wrong_remittance_input_is_a_problem_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"business_date": "2026-13-01"}), "business_date"),
        (json!({"business_date": 20261124}), "business_date"),
        (json!({"business_date": "2026-11-24", "extra": 1}), "extra"),
    ] {
        let (status, _, problem) = app.post(Role::Finance, "/v1/remittances", &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or("").contains(field),
            "{body}: {problem}"
        );
    }
    let (status, _, problem) = app
        .post_raw(
            Role::Finance,
            "/v1/remittances",
            b"{\"business_date\":".to_vec(),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_request")),
        "{problem}"
    );
    let (status, body) = approve(&app, "rem_19990101").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    for query in ["from=2026-11-30&to=2026-11-01", "from=yesterday", "limit=3"] {
        let (status, problem) = app
            .get(
                Role::Auditor,
                &format!("/v1/supervision/treasury-payable?{query}"),
            )
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
    }
    // The treasury's acknowledgement, signed, but wrong inside.
    let ack = "/v1/treasury/remittances/rem_19990101/ack";
    for (body, status, code) in [
        (
            json!({"treasury_reference": "GK1", "amount": "abc"}),
            422,
            "invalid_request",
        ),
        (
            json!({"treasury_reference": "GK1", "amount": "1.001"}),
            422,
            "invalid_request",
        ),
        (json!({"amount": "1.00"}), 422, "invalid_request"),
        (
            json!({"treasury_reference": "GK1", "amount": "1.00"}),
            404,
            "not_found",
        ),
    ] {
        let (got, problem) = app.treasury("POST", ack, &body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{body}: {problem}"
        );
    }
    let (_, listed) = app.get(Role::Finance, "/v1/remittances").await;
    assert_eq!(listed["items"], json!([]), "nothing was written: {listed}");
    app.stop().await;
}

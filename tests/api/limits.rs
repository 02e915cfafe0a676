//! Limits a hostile or broken client runs into: request rate per token, a request head or body
//! that never finishes arriving, too many connections. (Body and upload size limits are tested
//! in `http_api.rs` and `settlement.rs`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use onecard::auth::Role;

use crate::support::spawn_app_with;

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Sends `raw` on a new connection and reads whatever comes back within `wait`.
fn exchange(stream: &mut TcpStream, raw: &[u8], wait: Duration) -> String {
    stream.write_all(raw).expect("write");
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    while started.elapsed() < wait {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") && !got.ends_with(b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).to_string()
}

#[actix_web::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_minute = 60;
        c.rate_limit_burst = 3;
    })
    .await;
    for _ in 0..3 {
        let (status, _) = app.get(Role::Auditor, "/v1/ledger/accounts").await;
        assert_eq!(status, 200);
    }
    let mut res = app
        .client
        .get(app.url("/v1/ledger/accounts"))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    let body: serde_json::Value =
        serde_json::from_slice(&res.body().await.expect("body")).expect("problem");
    assert_eq!(body["code"], "rate_limited");
    // Another token has its own allowance; health checks need none.
    let (status, _) = app.get(Role::Finance, "/v1/ledger/accounts").await;
    assert_eq!(status, 200);
    let (status, _) = app.get(Role::Finance, "/healthz").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[actix_web::test]
async fn a_request_head_or_body_that_stalls_is_cut_off_with_408() {
    let app = spawn_app_with(|c| c.request_timeout_secs = 1).await;
    let target = addr(&app.base);
    // The head never ends.
    let head = {
        let target = target.clone();
        actix_web::web::block(move || {
            let mut s = TcpStream::connect(target).expect("connect");
            exchange(
                &mut s,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                Duration::from_secs(4),
            )
        })
        .await
        .expect("block")
    };
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "a stalled head is dropped: {head:?}"
    );
    // The body stops after 10 of 100 bytes.
    let token = app.token(Role::Clerk).to_string();
    let body = actix_web::web::block(move || {
        let mut s = TcpStream::connect(target).expect("connect");
        let raw = format!(
            "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: slow-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"channel\""
        );
        exchange(&mut s, raw.as_bytes(), Duration::from_secs(4))
    })
    .await
    .expect("block");
    assert!(body.starts_with("HTTP/1.1 408"), "{body}");
    assert!(body.contains("request_timeout"), "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    // Two workers, two connections each.
    let app = spawn_app_with(|c| c.max_connections = 2).await;
    let target = addr(&app.base);
    let outcome = actix_web::web::block(move || {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut s = TcpStream::connect(&target).expect("connect");
            let answer = exchange(&mut s, request, Duration::from_secs(2));
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
            held.push(s); // kept alive
        }
        let mut extra = TcpStream::connect(&target).expect("the kernel queues it");
        let waiting = exchange(&mut extra, request, Duration::from_millis(800));
        drop(held.pop());
        let mut rest = String::new();
        extra
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        if let Ok(n) = extra.read(&mut buf) {
            rest = String::from_utf8_lossy(&buf[..n]).to_string();
        }
        (waiting, rest)
    })
    .await
    .expect("block");
    assert_eq!(
        outcome.0, "",
        "the fifth connection is not served while four are open"
    );
    assert!(
        outcome.1.starts_with("HTTP/1.1 200"),
        "served once one closes: {:?}",
        outcome.1
    );
    app.stop().await;
}

/// Two limiters on one database, as two instances have: one allowance a minute between them,
/// counted exactly, with a write per chunk rather than per request.
#[test]
fn two_instances_share_one_allowance_in_the_database() {
    use onecard::http::limits::RateLimiter;

    let db = crate::support::TestDb::new();
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    let (a, b) = (RateLimiter::new(40, 1_000), RateLimiter::new(40, 1_000));
    // One rate window: not within two seconds of the minute's end.
    let into = chrono::Utc::now().timestamp().rem_euclid(60);
    if into >= 58 {
        std::thread::sleep(Duration::from_secs(3));
    }
    let mut served = 0;
    for i in 0..100 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        if limiter
            .check(&mut conn, "tok_shared")
            .expect("lease")
            .is_ok()
        {
            served += 1;
        }
    }
    assert_eq!(served, 40, "never more than the limit across both");
    // Another bucket is not touched.
    assert!(a.check(&mut conn, "tok_other").expect("lease").is_ok());
    // A limit of 0 never reaches the database.
    let off = RateLimiter::new(0, 1);
    for _ in 0..100 {
        assert!(off
            .check(&mut conn, "tok_shared")
            .expect("no lease")
            .is_ok());
    }
    use diesel::prelude::*;
    use onecard::db::schema::rate_windows;
    let used: Vec<i64> = rate_windows::table
        .filter(rate_windows::bucket.eq("tok_shared"))
        .select(rate_windows::used)
        .load(&mut conn)
        .expect("windows");
    assert_eq!(
        used,
        vec![40],
        "leased in chunks up to the limit, not past it"
    );
}

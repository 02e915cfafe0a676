//! `ONECARD_TRUSTED_PROXIES`: forwarding headers speak for the client only through a trusted
//! proxy. From anyone else they are ignored — a forged `X-Forwarded-For` buys no fresh sign-in
//! allowance, a forged `X-Forwarded-Proto` no `Secure` cookie and no HSTS. Behind a trusted
//! proxy every client address has its own allowance, and HTTPS at the proxy means `Secure`
//! cookies and HSTS. The tests connect over loopback, so "trusted" is 127.0.0.1.

use onecard::config::TrustedProxies;
use onecard::web::session::SIGN_IN_BURST;

use crate::support::{spawn_app, spawn_app_with, TestApp};
use crate::web_support::{create_staff, web_client, PASSWORD};

/// A response's status, its `Set-Cookie` lines and its `Strict-Transport-Security`, if any.
struct Seen {
    status: u16,
    set_cookies: Vec<String>,
    hsts: Option<String>,
    body: String,
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<String>,
) -> Seen {
    let client = web_client();
    let mut req = match method {
        "POST" => client.post(app.url(path)),
        _ => client.get(app.url(path)),
    };
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = match form {
        Some(body) => req
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .send_body(body)
            .await
            .expect("request"),
        None => req.send().await.expect("request"),
    };
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let hsts = res
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = res.body().await.expect("body");
    Seen {
        status: res.status().as_u16(),
        set_cookies,
        hsts,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The staff user whose sign-ins the tests count (few PBKDF2 iterations: attempts are quick, so
/// the allowance does not refill while a test uses it up).
const USER: &str = "proxy-test-clerk";

/// One sign-in attempt, sent with `headers` (its form fetched with them too): 303 (signed in),
/// or 429 once the client address has used its allowance.
async fn attempt(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let form = send(app, "GET", "/web/sign-in", headers, None).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let at = form
        .body
        .find("name=\"csrf\" value=\"")
        .expect("csrf field")
        + 19;
    let csrf = form.body[at..].split('"').next().expect("csrf").to_string();
    let nonce = form
        .set_cookies
        .iter()
        .find_map(|c| c.strip_prefix("onecard_sign_in="))
        .and_then(|c| c.split(';').next())
        .expect("sign-in nonce cookie")
        .to_string();
    let cookie = format!("onecard_sign_in={nonce}");
    let mut all = headers.to_vec();
    all.push(("cookie", &cookie));
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("name", USER),
        ("password", PASSWORD),
        ("next", "/web/today"),
    ])
    .expect("form");
    send(app, "POST", "/web/sign-in", &all, Some(body))
        .await
        .status
}

fn xff(addr: &str) -> [(&str, &str); 1] {
    [("x-forwarded-for", addr)]
}

fn trusting_loopback() -> impl FnOnce(&mut onecard::config::Config) {
    |c| c.trusted_proxies = TrustedProxies::parse("127.0.0.1, ::1").expect("trusted")
}

#[actix_web::test]
async fn a_forged_x_forwarded_for_buys_no_fresh_sign_in_allowance() {
    let app = spawn_app().await;
    create_staff(&app, onecard::auth::Role::Clerk, USER).await;
    // Every attempt claims another address; all of them count against the connection's.
    for i in 0..SIGN_IN_BURST {
        let claimed = format!("203.0.113.{i}");
        assert_eq!(attempt(&app, &xff(&claimed)).await, 303);
    }
    assert_eq!(attempt(&app, &xff("198.51.100.77")).await, 429);
    assert_eq!(attempt(&app, &[]).await, 429);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_allowance() {
    let app = spawn_app_with(trusting_loopback()).await;
    create_staff(&app, onecard::auth::Role::Clerk, USER).await;
    for _ in 0..SIGN_IN_BURST {
        assert_eq!(attempt(&app, &xff("203.0.113.7")).await, 303);
    }
    assert_eq!(attempt(&app, &xff("203.0.113.7")).await, 429);
    // The client cannot shed its address by writing another one to the left of it: the proxy
    // appended what it saw, and that is the right-most untrusted hop.
    assert_eq!(
        attempt(&app, &xff("192.0.2.1, 203.0.113.7")).await,
        429,
        "the right-most untrusted address is the client"
    );
    // A second client behind the same proxy is not held back by the first.
    assert_eq!(attempt(&app, &xff("203.0.113.8")).await, 303);
    // The proxy's own requests (no header) have their own allowance too.
    assert_eq!(attempt(&app, &[]).await, 303);
}

#[actix_web::test]
async fn a_forged_x_forwarded_proto_gives_no_secure_cookie_and_no_hsts() {
    let app = spawn_app().await;
    let forged = send(
        &app,
        "GET",
        "/web/sign-in",
        &[("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert_eq!(forged.status, 200);
    assert!(!forged.set_cookies.is_empty());
    assert!(
        forged
            .set_cookies
            .iter()
            .all(|c| !c.to_ascii_lowercase().contains("secure")),
        "{:?}",
        forged.set_cookies
    );
    assert_eq!(forged.hsts, None);
    let api = send(
        &app,
        "GET",
        "/healthz",
        &[("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert_eq!(api.hsts, None);
}

#[actix_web::test]
async fn https_at_a_trusted_proxy_means_secure_cookies_and_hsts() {
    let app = spawn_app_with(trusting_loopback()).await;
    let https = [("x-forwarded-proto", "https")];
    let page = send(&app, "GET", "/web/sign-in", &https, None).await;
    assert_eq!(page.status, 200);
    let nonce = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("onecard_sign_in="))
        .expect("nonce cookie");
    assert!(nonce.contains("Secure"), "{nonce}");
    assert_eq!(page.hsts.as_deref(), Some("max-age=31536000"));
    // Every response over HTTPS, the API's and error answers too.
    for path in ["/healthz", "/v1/no-such-thing"] {
        let seen = send(&app, "GET", path, &https, None).await;
        assert_eq!(
            seen.hsts.as_deref(),
            Some("max-age=31536000"),
            "{path}: {}",
            seen.status
        );
    }
    // The same proxy forwarding plain HTTP: no HSTS, no Secure.
    let plain = send(
        &app,
        "GET",
        "/web/sign-in",
        &[("x-forwarded-proto", "http")],
        None,
    )
    .await;
    assert_eq!(plain.hsts, None);
    assert!(plain.set_cookies.iter().all(|c| !c.contains("Secure")));
}

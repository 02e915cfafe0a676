//! Every `/v1` route against every role and no token: exactly the expected allow/deny.
//! "Allowed" means the role check passed (any status but 401/403); the request bodies are
//! minimal, so an allowed call may well end in 404 or 422 — that is not what is tested here.

use onecard::auth::Role;

use crate::support::spawn_app;

const C: Role = Role::Clerk;
const F: Role = Role::Finance;
const S: Role = Role::Supervisor;
const A: Role = Role::Auditor;
const T: Role = Role::Treasury;
const D: Role = Role::Admin;

#[actix_web::test]
async fn each_route_admits_exactly_its_roles() {
    let app = spawn_app().await;
    let matrix: Vec<(&str, &str, Vec<Role>)> = vec![
        ("GET", "/v1/ledger/accounts", vec![F, S, A]),
        ("GET", "/v1/ledger/accounts/1218.01/entries", vec![F, S, A]),
        ("GET", "/v1/ledger/trial-balance", vec![F, S, A]),
        ("GET", "/v1/ledger/verify", vec![F, S, A]),
        ("GET", "/v1/ledger/entries/1", vec![F, S, A]),
        ("POST", "/v1/ledger/accounts", vec![D]),
        ("POST", "/v1/ledger/entries", vec![S]),
        ("POST", "/v1/ledger/entries/1/reversal", vec![S]),
        ("GET", "/v1/fee-items", vec![C, F, S, A, T, D]),
        ("GET", "/v1/fee-items/X", vec![C, F, S, A, T, D]),
        ("POST", "/v1/fee-items", vec![D]),
        ("POST", "/v1/payments", vec![C]),
        ("GET", "/v1/payments", vec![C, F, S, A]),
        ("GET", "/v1/payments/pay_x", vec![C, F, S, A]),
        ("POST", "/v1/payments/pay_x/void", vec![C, S]),
        ("POST", "/v1/payments/pay_x/refunds", vec![C, S]),
        ("POST", "/v1/refunds/ref_x/approve", vec![S]),
        ("POST", "/v1/refunds/ref_x/reject", vec![S]),
        ("POST", "/v1/refunds/ref_x/cancel", vec![C, F, S]),
        ("GET", "/v1/refunds", vec![C, F, S, A]),
        ("GET", "/v1/refunds/ref_x", vec![C, F, S, A]),
        ("POST", "/v1/settlement-files?spec=mt940", vec![F]),
        ("GET", "/v1/settlement-files/sf_x", vec![F, S, A]),
        ("POST", "/v1/settlement-files/sf_x/withdraw", vec![F]),
        ("GET", "/v1/settlement-specs", vec![F, S, A]),
        ("GET", "/v1/days/2020-01-01", vec![F, S, A]),
        ("POST", "/v1/days/2020-01-01/close", vec![F, S]),
        ("POST", "/v1/reconciliations", vec![F]),
        ("GET", "/v1/reconciliations/rr_x", vec![F, S, A]),
        ("GET", "/v1/reconciliations/rr_x/exceptions", vec![F, S, A]),
        ("GET", "/v1/reconciliations/rr_x/report", vec![F, S, A]),
        ("POST", "/v1/exceptions/ex_x/resolve", vec![F, S]),
        ("POST", "/v1/exceptions/ex_x/approve", vec![F, S]),
        ("POST", "/v1/remittances", vec![F]),
        ("GET", "/v1/remittances", vec![F, S, A]),
        ("GET", "/v1/remittances/rem_x", vec![F, S, A]),
        ("GET", "/v1/remittances/rem_x/file", vec![F, S, A]),
        ("POST", "/v1/remittances/rem_x/approve", vec![S]),
        ("GET", "/v1/supervision/treasury-payable", vec![F, S, A]),
        ("GET", "/v1/concessions", vec![F, S, A]),
        ("GET", "/v1/tokens", vec![D]),
        ("DELETE", "/v1/tokens/00000000deadbeef", vec![D]),
        ("GET", "/v1/users", vec![D]),
        ("POST", "/v1/users/usr_x/disable", vec![D]),
        ("POST", "/v1/users/usr_x/enable", vec![D]),
        ("POST", "/v1/users/usr_x/password", vec![D]),
        // Treasury routes also need a signed request: unsigned, the treasury role passes the
        // role check and is then told to sign (401 signature_required).
        ("GET", "/v1/treasury/remittances", vec![T]),
        ("GET", "/v1/treasury/remittances/rem_x/file", vec![T]),
        ("POST", "/v1/treasury/remittances/rem_x/ack", vec![T]),
    ];
    for (method, path, allowed) in &matrix {
        let send = |token: Option<&str>| {
            let mut req = match *method {
                "GET" => app.client.get(app.url(path)),
                "DELETE" => app.client.delete(app.url(path)),
                _ => app.client.post(app.url(path)),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.insert_header(("content-type", "application/json"))
                .insert_header(("Idempotency-Key", "roles"))
                .send_body("{}")
        };
        let mut res = send(None).await.expect("request");
        assert_eq!(
            res.status().as_u16(),
            401,
            "{method} {path} without a token"
        );
        let _ = res.body().await;
        for role in Role::ALL {
            let mut res = send(Some(app.token(role))).await.expect("request");
            let status = res.status().as_u16();
            let body = res.body().await.unwrap_or_default();
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_string))
                .unwrap_or_default();
            if allowed.contains(&role) && path.starts_with("/v1/treasury/") {
                assert_eq!(
                    (status, code.as_str()),
                    (401, "signature_required"),
                    "{method} {path} as {role}, unsigned"
                );
            } else if allowed.contains(&role) {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role}: {status}, expected allowed"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} as {role}: expected 403");
            }
        }
    }
    app.stop().await;
}

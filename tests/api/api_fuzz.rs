//! Inputs the schemathesis fuzz (`tests/schemathesis/run.sh`) found, kept here as plain tests so
//! they are checked on both databases without Python: each once made the service answer 5xx or
//! something its OpenAPI document does not describe.

use onecard::auth::Role;
use serde_json::json;

use crate::support::spawn_app;

/// `GET /v1/ledger/entries/{seq}` with `i64::MIN` overflowed `seq - 1` and panicked (500), and a
/// reversal of it panicked inside the ledger writer (503 `shutting_down`). Entries start at 1:
/// anything below is simply not there.
#[actix_web::test]
async fn entry_numbers_below_one_are_not_found() {
    let app = spawn_app().await;
    for seq in ["-9223372036854775808", "-1", "0"] {
        let (status, body) = app
            .get(Role::Auditor, &format!("/v1/ledger/entries/{seq}"))
            .await;
        assert_eq!(status, 404, "GET {seq}: {body}");
        assert_eq!(body["code"], "not_found", "{body}");
        let (status, _, body) = app
            .post(
                Role::Supervisor,
                &format!("/v1/ledger/entries/{seq}/reversal"),
                &json!({"memo": "fuzz"}),
            )
            .await;
        assert_eq!(status, 404, "reversal of {seq}: {body}");
        assert_eq!(body["code"], "not_found", "{body}");
    }
    app.stop().await;
}

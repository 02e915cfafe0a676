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

/// Every `$ref` in `/openapi.json` names a schema the document holds: a dangling one makes
/// clients and the fuzz skip that part (the report's `format` parameter once pointed nowhere).
/// And every path parameter is in its path: paging and filters were once declared `in: path`,
/// so no client (nor the fuzz) could send them as the query parameters they are.
#[actix_web::test]
async fn the_openapi_document_is_self_consistent() {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    match (k.as_str(), item.as_str()) {
                        ("$ref", Some(r)) => out.push(r),
                        _ => refs(item, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
            _ => {}
        }
    }
    let app = spawn_app().await;
    let mut res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    let doc: serde_json::Value =
        serde_json::from_slice(&res.body().limit(8 * 1024 * 1024).await.expect("body"))
            .expect("json");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("name");
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is declared in the path but is not in it"
                    );
                }
            }
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} names no schema"
        );
    }
    app.stop().await;
}

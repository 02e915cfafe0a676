//! The OpenAPI 3 document served at `/openapi.json`, generated from the handlers' annotations.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, ToSchema};

use actix_web::{web, HttpResponse};

use super::problem::{ApiError, PROBLEM_JSON};

use super::{
    access, accounts, catalogue, concessions, days, departments, health, ledger, payments,
    reconciliation, refund_requests, refunds, remittances, settlement,
};

/// Registers `/openapi.json`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(serve_document));
}

/// The OpenAPI document.
async fn serve_document() -> Result<HttpResponse, ApiError> {
    let doc = document().map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(doc))
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// An error, as every route answers one: RFC 9457 `application/problem+json`; more members
/// (`line`, `byte`, `open_exceptions`, …) may follow where the code says.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Problem {
    /// `urn:onecard:problem:<code>`.
    r#type: String,
    /// Short human title.
    title: String,
    /// The HTTP status, again.
    status: u16,
    /// What exactly went wrong, for a person.
    detail: String,
    /// Stable snake_case name to act on (`invalid_request`, `day_closed`, …).
    code: String,
    /// The field at fault (`lines[0].amount`, `Idempotency-Key`, `spec`), where there is one.
    field: Option<String>,
}

/// The error answers every route shares, added here so each handler's annotation lists only its
/// own: 401 and 429 on every route that takes a bearer token; 408, 413, 415 and 422 on every
/// route with a JSON body; 422 on every route with query parameters (a wrong type or an unknown parameter).
/// Every 4xx is then described as a problem document.
struct CommonErrors;

fn add_response(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add_response(
                        op,
                        "401",
                        "unauthorized: no bearer token, or not a valid one; token_revoked, token_expired",
                    );
                    add_response(
                        op,
                        "429",
                        "rate_limited: this token has used its request allowance (`Retry-After` says when to try again)",
                    );
                }
                let json_body = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                if json_body {
                    add_response(op, "413", "payload_too_large: the body is over the limit");
                    add_response(
                        op,
                        "408",
                        "request_timeout: the body stalled for longer than the request timeout",
                    );
                    add_response(
                        op,
                        "415",
                        "unsupported_media_type: the body is not application/json",
                    );
                    add_response(
                        op,
                        "422",
                        "invalid_request: the body is not JSON, or a field is missing, unknown or of the wrong type (`field` names it)",
                    );
                }
                let has_query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                if has_query {
                    add_response(
                        op,
                        "422",
                        "invalid_request: a query parameter is unknown or malformed (`field` names it where known)",
                    );
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        response
                            .content
                            .entry(PROBLEM_JSON.to_string())
                            .or_insert_with(|| {
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("Problem")))
                                    .build()
                            });
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "onecard", description = "Card fee collection, fund-separated ledger, reconciliation and treasury remittance. Errors are application/problem+json with a stable `code`."),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        health::signing_key,
        health::signing_keys,
        ledger::list_accounts,
        accounts::open_account,
        ledger::account_entries,
        ledger::trial_balance,
        ledger::verify,
        ledger::post_entry,
        ledger::get_entry,
        ledger::reverse_entry,
        catalogue::create,
        catalogue::list,
        catalogue::get,
        departments::list,
        departments::create,
        departments::create_window,
        concessions::list,
        payments::create,
        payments::get,
        payments::list,
        payments::void,
        payments::request_refund,
        payments::approve_refund,
        refunds::get,
        refunds::list_refunds,
        refunds::reject,
        refunds::cancel,
        settlement::upload,
        settlement::get,
        settlement::withdraw,
        settlement::specs,
        days::get,
        days::close,
        reconciliation::create,
        reconciliation::get,
        reconciliation::exceptions,
        reconciliation::report,
        reconciliation::resolve,
        reconciliation::approve,
        remittances::prepare,
        remittances::list,
        remittances::get,
        remittances::staff_file,
        remittances::approve,
        remittances::treasury_list,
        remittances::treasury_file,
        remittances::treasury_ack,
        remittances::cancel,
        remittances::treasury_reject,
        refund_requests::list,
        refund_requests::file,
        refund_requests::ack,
        refund_requests::reject,
        remittances::supervision,
        access::list_tokens,
        access::revoke_token,
        access::list_users,
        access::disable_user,
        access::enable_user,
        access::reset_password,
    ),
    components(schemas(Problem, reconciliation::ReportFormat)),
    modifiers(&BearerAuth, &CommonErrors)
)]
struct ApiDoc;

/// The document as JSON.
pub fn document() -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(ApiDoc::openapi())
}

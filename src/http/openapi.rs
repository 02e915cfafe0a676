//! The OpenAPI 3 document served at `/openapi.json`, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{catalogue, days, health, ledger, payments, reconciliation, remittances, settlement};

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

#[derive(OpenApi)]
#[openapi(
    info(title = "onecard", description = "Card fee collection, fund-separated ledger, reconciliation and treasury remittance. Errors are application/problem+json with a stable `code`."),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        health::signing_key,
        ledger::list_accounts,
        ledger::account_entries,
        ledger::trial_balance,
        ledger::verify,
        ledger::post_entry,
        ledger::get_entry,
        ledger::reverse_entry,
        catalogue::create,
        catalogue::list,
        catalogue::get,
        payments::create,
        payments::get,
        payments::list,
        payments::void,
        payments::request_refund,
        payments::approve_refund,
        settlement::upload,
        settlement::get,
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
        remittances::supervision,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

//! `POST /v1/ledger/accounts` (admin): opens a sub-account under a grouping account that takes
//! them ([`crate::ledger::accounts`]); the new account takes postings at once.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::blocking::with_conn;
use super::extract::{ApiJson, Caller};
use super::ledger::AccountView;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::may;
use crate::ledger::accounts::{self, NewSubAccount};
use crate::ledger::repo::AccountBalance;

/// A sub-account to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountInput {
    /// `<parent>.<letters or digits>`, e.g. `2103.1030499` for revenue subject 1030499.
    #[schema(example = "2103.1030499")]
    code: String,
    /// Chinese name, e.g. `应缴财政款-…行政事业性收费收入`.
    name: String,
    /// English name; the Chinese one when left out.
    name_en: Option<String>,
    /// A grouping account that takes sub-accounts: `2103` (one per revenue subject) or the
    /// expense parent `5001`.
    #[schema(example = "2103")]
    parent: String,
}

/// Opens a postable sub-account: fund, kind (so the normal side), role and currency come from
/// the parent. Audited as `account.open`.
#[utoipa::path(post, path = "/v1/ledger/accounts", tag = "ledger", request_body = NewAccountInput,
    responses((status = 201, body = AccountView), (status = 409, description = "account_exists"),
        (status = 422, description = "invalid_request, unknown_account (no such parent), parent_not_open (the parent takes no new sub-accounts)"),
        (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn open_account(
    ctx: web::Data<AppContext>,
    caller: Caller,
    body: ApiJson<NewAccountInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::OPEN_ACCOUNT)?.actor();
    let input = body.into_inner()?;
    let req = NewSubAccount {
        code: input.code,
        name: input.name,
        name_en: input.name_en,
        parent: input.parent,
    };
    let account = with_conn(&ctx, move |conn, ctx| {
        Ok(accounts::open(conn, &ctx.chart, &req, &actor)?)
    })
    .await?;
    let view = AccountView::from(&AccountBalance {
        account,
        debit_minor: 0,
        credit_minor: 0,
    });
    Ok(HttpResponse::Created().json(view))
}

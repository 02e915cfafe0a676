//! `/v1/settlement-files` and `/v1/settlement-specs`: acquirers' settlement files and bank
//! statements. Finance imports and withdraws; finance, supervisors and auditors read.
//!
//! An upload is streamed to a spool file and imported from there by [`super::upload`], which
//! the staff pages' upload form shares: a 256 MiB file never sits in memory.

use crate::auth::may;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::blocking::with_conn;
use super::extract::{ApiJson, ApiQuery, Caller};
use super::paging::Paged;
use super::problem::ApiError;
use super::upload::{import_spooled, spool, upload_target};
use crate::app::AppContext;
use crate::bankfiles::store::{self, WithdrawError};
use crate::bankfiles::SpecInfo;
use crate::recon::inputs;

impl From<WithdrawError> for ApiError {
    fn from(e: WithdrawError) -> Self {
        match e {
            WithdrawError::NotFound(id) => ApiError::not_found(format!("no settlement file {id}")),
            WithdrawError::Reason => ApiError::invalid(Some("reason".into()), e.to_string()),
            WithdrawError::InUse(id) => ApiError::new(
                StatusCode::CONFLICT,
                "file_in_use",
                "The file was used by a reconciliation run",
                format!(
                    "{id} was used by a stored reconciliation run; it can no longer be withdrawn"
                ),
            )
            .with("file_id", id),
            WithdrawError::Db(db) => db.into(),
        }
    }
}

/// `{reason}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Why the import is withdrawn (1–500 characters).
    #[schema(example = "statement of the wrong account")]
    pub reason: String,
}

/// Withdraws an import no reconciliation run has used: its records and bookings stay, as
/// evidence, but no later run or report reads them; its statement lines may come again in
/// another file, and the same bytes may be imported again. Audited. 200 with the file
/// (`withdrawn: true`, `withdrawn_at`, `withdrawn_by`, `reason`); withdrawing it again answers
/// the same; 409 `file_in_use` when a stored run used it.
#[utoipa::path(post, path = "/v1/settlement-files/{id}/withdraw", tag = "settlement", params(("id" = String, Path)),
    request_body = WithdrawRequest,
    responses((status = 200, body = store::Imported), (status = 404), (status = 409, description = "file_in_use"),
        (status = 422, description = "invalid_request: reason missing or longer than 500 characters"),
        (status = 403, description = "forbidden: only finance may do this")),
    security(("bearer" = [])))]
pub async fn withdraw(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::IMPORT_FILES)?.actor();
    let request = body.into_inner()?;
    let id = id.into_inner();
    let file = with_conn(&ctx, move |conn, _| {
        Ok(inputs::withdraw_file(conn, &id, &request.reason, &actor)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(file))
}

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/settlement-files", web::post().to(upload))
        .route("/v1/settlement-files/{id}", web::get().to(get))
        .route(
            "/v1/settlement-files/{id}/withdraw",
            web::post().to(withdraw),
        )
        .route("/v1/settlement-specs", web::get().to(specs));
}

/// `?spec=` and an optional `?name=` (the file's name: some formats carry values only there).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// A spec id from `GET /v1/settlement-specs`.
    pub spec: Option<String>,
    /// The file's name as the bank delivered it.
    pub name: Option<String>,
}

/// Imports a settlement file or bank statement: the body is the file's bytes. 201 with the
/// import; the same bytes again → 200 with the same id and `duplicate: true`; a corrupt file →
/// 422 `file_corrupt` with `line` (and `byte`), nothing stored.
#[utoipa::path(post, path = "/v1/settlement-files", tag = "settlement",
    params(("spec" = String, Query, description = "spec id from /v1/settlement-specs", example = "pos-settlement-fixed-width"),
        ("name" = Option<String>, Query, description = "the file's name as delivered")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = store::Imported), (status = 200, body = store::Imported, description = "duplicate"),
        (status = 413, description = "payload_too_large"),
        (status = 422, description = "file_corrupt, unknown_spec, invalid_request"), (status = 403, description = "forbidden: only finance may do this")),
    security(("bearer" = [])))]
pub async fn upload(
    ctx: web::Data<AppContext>,
    caller: Caller,
    query: ApiQuery<UploadQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(may::IMPORT_FILES)?.clone();
    let query = query.0;
    let (spec, name) = upload_target(&ctx, query.spec, query.name.as_deref())?;
    let spooled = spool(
        &ctx.config.data_dir,
        &mut payload,
        ctx.config.upload_limit_bytes,
        std::time::Duration::from_secs(ctx.config.request_timeout_secs),
    )
    .await?;
    let ctx = ctx.into_inner();
    let imported = web::block(move || {
        import_spooled(
            &ctx,
            spooled,
            &spec,
            name.as_deref(),
            &principal.actor(),
            &mut |_| {},
        )
    })
    .await??;
    let status = if imported.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(imported))
}

/// One imported file: its spec, SHA-256, record count and totals.
#[utoipa::path(get, path = "/v1/settlement-files/{id}", tag = "settlement", params(("id" = String, Path)),
    responses((status = 200, body = store::Imported), (status = 404), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn get(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_FILES)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let found = with_conn(&ctx, move |conn, _| Ok(store::get(conn, &lookup)?)).await?;
    match found {
        Some(f) => Ok(HttpResponse::Ok().json(f)),
        None => Err(ApiError::not_found(format!("no settlement file {id}"))),
    }
}

/// The spec ids the service knows: the declarative specs in `bank-specs/` and the built-in
/// ISO 20022 and MT940 readers, as one page (`next` is always null).
#[utoipa::path(get, path = "/v1/settlement-specs", tag = "settlement",
    responses((status = 200, body = inline(Paged<SpecInfo>)), (status = 403, description = "forbidden: only finance, supervisor, auditor may do this")), security(("bearer" = [])))]
pub async fn specs(ctx: web::Data<AppContext>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(may::READ_FILES)?;
    Ok(HttpResponse::Ok().json(Paged {
        items: ctx.bank_specs.list(),
        next: None,
    }))
}

//! Health, readiness, metrics and the published signing key. (`/openapi.json` is served by
//! [`super::openapi`], which lists these handlers.)

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::blocking::with_conn;
use super::problem::ApiError;
use crate::app::AppContext;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/v1/signing-key", web::get().to(signing_key))
        .route("/v1/signing-keys", web::get().to(signing_keys));
}

#[derive(Serialize, utoipa::ToSchema)]
struct Status {
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = inline(Status))))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers and the ledger writer runs (a writer that died answers 503
/// until its supervisor has started a fresh one).
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = inline(Status)), (status = 503, description = "database not answering, or the ledger writer is being restarted")))]
pub async fn readyz(ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    if !ctx.writer.is_alive() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "ledger_unavailable",
            "Ledger unavailable",
            "the ledger writer stopped and is being restarted",
        )
        .with("retry_after_seconds", super::problem::RETRY_AFTER_SECONDS));
    }
    with_conn(&ctx, |conn, _| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("SELECT 1")
            .map_err(crate::db::DbError::from)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}

#[derive(Serialize, utoipa::ToSchema)]
struct SigningKey {
    /// Always `ed25519`.
    alg: &'static str,
    /// Base64 of the 32-byte public key.
    public_key: String,
    /// Its key id: the first 16 hex digits of the SHA-256 of the raw public key.
    kid: String,
}

/// The public key that signs day seals and remittance files now (the current key the
/// database names; this instance's own key until one is registered).
#[utoipa::path(get, path = "/v1/signing-key", tag = "keys", responses((status = 200, body = inline(SigningKey))))]
pub async fn signing_key(ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    let keys = with_conn(&ctx, |conn, _| Ok(crate::auth::signing_keys::list(conn)?)).await?;
    let current = keys.into_iter().find(|k| k.until.is_none());
    let (public_key, kid) = match current {
        Some(k) => (k.public_key, k.kid),
        None => (ctx.keys.public_key_base64(), ctx.keys.kid()),
    };
    Ok(HttpResponse::Ok().json(SigningKey {
        alg: "ed25519",
        public_key,
        kid,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SigningKeys {
    /// Every key ever used, oldest first.
    items: Vec<crate::auth::signing_keys::PublishedKey>,
}

/// Every signing key the service has used, so seals and files signed before a rotation still
/// verify with the key their id names (`seal_kid`, `X-Onecard-Key-Id`).
#[utoipa::path(get, path = "/v1/signing-keys", tag = "keys", responses((status = 200, body = inline(SigningKeys))))]
pub async fn signing_keys(ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    let items = with_conn(&ctx, |conn, _| Ok(crate::auth::signing_keys::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(SigningKeys { items }))
}

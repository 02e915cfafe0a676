//! The response that carries an approved remittance's signed file: the stored bytes, byte for
//! byte, with `Digest` and `X-Onecard-Signature` — one answer for the treasury's pull, the staff
//! route and the staff pages.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use base64::Engine;

use super::blocking::with_conn;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::treasury::service;

/// The approved batch's signed file as the staff and treasury routes (and the staff pages)
/// answer it: the stored bytes, with `Digest` and `X-Onecard-Signature`.
pub async fn signed_file(
    ctx: &web::Data<AppContext>,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let (file, batch) = with_conn(ctx, {
        let id = id.clone();
        move |conn, _| Ok((service::file(conn, &id)?, service::get(conn, &id)?))
    })
    .await?;
    let (Some(file), Some(batch)) = (file, batch) else {
        return Err(ApiError::not_found(format!(
            "no approved remittance '{id}'"
        )));
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(HttpResponse::Ok()
        .content_type("application/xml")
        .insert_header(("Digest", format!("sha-256={}", b64(&file.sha256))))
        .insert_header((
            "X-Onecard-Signature",
            format!("ed25519={}", b64(&file.signature)),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.xml\"", batch.message_id),
        ))
        .body(file.bytes))
}

//! The response that carries a signed file — an approved remittance's remt.001, a refund
//! request's pain.001: the stored bytes, byte for byte, with `Digest`, `X-Onecard-Signature`
//! and `X-Onecard-Key-Id` (the key that made the signature) — one answer for the treasury's pulls, the staff route and the staff pages.

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
    Ok(signed_response(
        file.bytes,
        &file.sha256,
        &file.signature,
        file.kid.as_deref(),
        &batch.message_id,
    ))
}

/// The header naming the key that signed a file.
pub const KEY_ID_HEADER: &str = "X-Onecard-Key-Id";

/// A stored signed file as every signed file is answered (remt.001 batches, pain.001 refund
/// requests): the bytes as stored, `Digest` of their SHA-256, `X-Onecard-Signature` of their
/// Ed25519 signature, `X-Onecard-Key-Id` of its key, named after the message id.
pub fn signed_response(
    bytes: Vec<u8>,
    sha256: &[u8],
    signature: &[u8],
    kid: Option<&str>,
    message_id: &str,
) -> HttpResponse {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut res = HttpResponse::Ok();
    if let Some(kid) = kid {
        res.insert_header((KEY_ID_HEADER, kid.to_string()));
    }
    res.content_type("application/xml")
        .insert_header(("Digest", format!("sha-256={}", b64(sha256))))
        .insert_header(("X-Onecard-Signature", format!("ed25519={}", b64(signature))))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{message_id}.xml\""),
        ))
        .body(bytes)
}

//! `/v1/settlement-files` and `/v1/settlement-specs`: acquirers' settlement files and bank
//! statements. Finance imports; finance, supervisors and auditors read.
//!
//! An upload is streamed to a file under the data directory while its SHA-256 is computed, up
//! to the configured limit, and then read from there by the import use case: a 256 MiB file
//! never sits in memory.

use crate::auth::may;
use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::{ApiQuery, Caller};
use super::paging::Paged;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::bankfiles::store::{self, ImportError, ImportRequest};
use crate::bankfiles::SpecInfo;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/settlement-files", web::post().to(upload))
        .route("/v1/settlement-files/{id}", web::get().to(get))
        .route("/v1/settlement-specs", web::get().to(specs));
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let detail = e.to_string();
        match e {
            ImportError::UnknownSpec(spec) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_spec",
                "Unknown settlement spec",
                detail,
            )
            .with("field", "spec")
            .with("spec", spec),
            ImportError::Corrupt { line, byte, .. } => {
                let problem = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "file_corrupt",
                    "File refused as corrupt; nothing of it was stored",
                    detail,
                )
                .with("line", line);
                match byte {
                    Some(b) => problem.with("byte", b),
                    None => problem,
                }
            }
            ImportError::Io(_) => ApiError::internal(&e),
            ImportError::Db(db) => db.into(),
        }
    }
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

/// A file name as received, reduced to its last component and checked for sanity.
fn clean_name(name: &str) -> Result<String, ApiError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.is_empty() || base.len() > 255 || base.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            Some("name".into()),
            "name must be a file name of 1 to 255 characters without control characters",
        ));
    }
    Ok(base.to_string())
}

fn spool_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// What an upload is to be read as: the spec, which must be one the registry knows, and the
/// file's name, reduced to a sane file name. The API's `?spec=&name=` and the staff page's form
/// both go through here.
pub fn upload_target(
    ctx: &AppContext,
    spec: Option<String>,
    name: Option<&str>,
) -> Result<(String, Option<String>), ApiError> {
    let spec = spec.ok_or_else(|| {
        ApiError::invalid(
            Some("spec".into()),
            "?spec= is required: one of the ids GET /v1/settlement-specs lists",
        )
    })?;
    if ctx.bank_specs.get(&spec).is_none() {
        return Err(ImportError::UnknownSpec(spec).into());
    }
    let name = name.map(clean_name).transpose()?;
    Ok((spec, name))
}

/// An upload spooled to a file under the data directory, with the identity an import needs.
/// The file is deleted when this is dropped, however the import ends.
pub struct Spooled {
    path: PathBuf,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams `chunks` (a request body, or the file part of a form) to a spool file under
/// `data_dir` while computing its SHA-256: a large file never sits in memory. More than
/// `limit` bytes is a 413 `payload_too_large` as soon as it is exceeded; no chunk for `idle` is
/// a 408; a chunk that cannot be read is a 400.
pub async fn spool<S, E>(
    data_dir: &Path,
    chunks: &mut S,
    limit: u64,
    idle: std::time::Duration,
) -> Result<Spooled, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let dir = spool_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal(&e))?;
    let nonce = crate::keys::random_bytes::<12>().map_err(|e| ApiError::internal(&e))?;
    let mut spooled = Spooled {
        path: dir.join(format!("upload-{}.part", hex::encode(nonce))),
        sha256: String::new(),
        size: 0,
    };
    let mut file = std::io::BufWriter::with_capacity(
        256 * 1024,
        std::fs::File::create(&spooled.path).map_err(|e| ApiError::internal(&e))?,
    );
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size: u64 = 0;
    while let Some(chunk) = super::extract::next_chunk(chunks, idle).await? {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Bad request",
                format!("the upload could not be read: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Upload too large",
                format!("the file is over the upload limit of {limit} bytes (ONECARD_UPLOAD_LIMIT_BYTES)"),
            )
            .with("limit_bytes", limit));
        }
        digest.update(&chunk);
        file.write_all(&chunk).map_err(|e| ApiError::internal(&e))?;
    }
    file.flush().map_err(|e| ApiError::internal(&e))?;
    drop(file);
    spooled.sha256 = hex::encode(digest.finish());
    spooled.size = size;
    Ok(spooled)
}

/// Imports a spooled upload by `spec` (blocking: call it in `web::block` or a task thread);
/// `progress` hears how many records have been read so far. The spool is deleted afterwards.
pub fn import_spooled(
    ctx: &AppContext,
    spooled: Spooled,
    spec: &str,
    name: Option<&str>,
    actor: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<store::Imported, ApiError> {
    let input = std::fs::File::open(&spooled.path).map_err(|e| ApiError::internal(&e))?;
    let mut input = std::io::BufReader::with_capacity(256 * 1024, input);
    let req = ImportRequest {
        spec,
        file_name: name,
        sha256: &spooled.sha256,
        size_bytes: spooled.size,
        actor,
    };
    let imported = store::import(
        &mut *ctx.conn()?,
        &ctx.bank_specs,
        &req,
        &mut input,
        progress,
    )?;
    drop(input);
    drop(spooled);
    Ok(imported)
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
    let ctx = ctx.into_inner();
    let lookup = id.clone();
    let found =
        web::block(move || -> Result<_, ApiError> { Ok(store::get(&mut *ctx.conn()?, &lookup)?) })
            .await??;
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

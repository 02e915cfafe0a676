//! Uploaded bank files, shared by the API and the staff pages: what an upload is to be read as
//! (its spec and a sane file name), streaming it to a spool file under the data directory while
//! its SHA-256 is computed, up to the configured limit, and importing it from there with the
//! import use case — so a 256 MiB file never sits in memory. `POST /v1/settlement-files`
//! ([`super::settlement`]) and the reconciliation page's upload form (`web::reconciliation`)
//! both go through here, and an import's refusal reads the same in both.
//!
//! May depend on: the bank-file store and registry, [`super::extract`], [`super::problem`].

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::web;

use super::problem::ApiError;
use crate::app::AppContext;
use crate::bankfiles::store::{self, ImportError, ImportRequest};

/// An import's refusal as a problem: an unknown spec or a corrupt file is a 422 naming what
/// was wrong; a read failure is a 500, a database failure reads as any other.
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

/// A file name as received, reduced to its last component and checked for sanity.
fn clean_name(name: &str) -> Result<String, ApiError> {
    // rsplit always yields at least one piece
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

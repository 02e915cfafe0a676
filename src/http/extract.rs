//! Request extractors that turn every client mistake into a problem document: JSON bodies
//! (read with a size limit, unknown fields and wrong types named by path), query strings, and
//! the caller's bearer token.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::blocking::with_conn;
use super::limits::RateLimiter;
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::{self, Principal, Role};

/// A JSON body, deserialised strictly. Errors name the field (`lines[0].amount`).
///
/// The outcome is held, not raised, until the handler asks for it with
/// [`into_inner`](Self::into_inner) — after its role check — so a caller who may not use a
/// route learns 403 and nothing about what its body should look like.
#[derive(Debug)]
pub struct ApiJson<T>(Result<T, ApiError>);

impl<T> ApiJson<T> {
    /// The parsed body, or the problem with it.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

/// An amount field (`"80.00"`) in minor units; a 422 naming `field` when it is not one.
pub fn amount_field(field: &str, text: &str) -> Result<i64, ApiError> {
    crate::money::parse_amount(text)
        .map_err(|e| ApiError::invalid(Some(field.to_string()), format!("{field}: {e}")))
}

/// The next chunk of a request body, or 408 `request_timeout` when none arrives within `idle`:
/// a client that stalls or trickles its body does not hold a connection and a worker forever.
/// Any stream of byte chunks will do: a request body, or one part of a multipart form.
pub async fn next_chunk<S, E>(
    payload: &mut S,
    idle: Duration,
) -> Result<Option<Result<web::Bytes, E>>, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
{
    actix_web::rt::time::timeout(idle, payload.next())
        .await
        .map_err(|_| body_timed_out(idle))
}

/// 408 `request_timeout`: nothing of the body arrived for `idle`.
pub fn body_timed_out(idle: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "Request timeout",
        format!(
            "no part of the request body arrived for {} s",
            idle.as_secs()
        ),
    )
}

/// How long a body may stall between chunks: the configured request timeout.
pub fn body_idle(req: &HttpRequest) -> Duration {
    Duration::from_secs(
        req.app_data::<web::Data<AppContext>>()
            .map_or(crate::config::DEFAULT_REQUEST_TIMEOUT_SECS, |c| {
                c.config.request_timeout_secs
            }),
    )
}

/// Reads the whole body, refusing more than `limit` bytes as soon as it is exceeded, and a body
/// that stalls for `idle`.
pub async fn read_body<S>(
    payload: &mut S,
    limit: usize,
    idle: Duration,
) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut body = web::BytesMut::new();
    while let Some(chunk) = next_chunk(payload, idle).await? {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(limit),
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Bad request",
                format!("the request body could not be read: {other}"),
            ),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        format!("the request body is over the limit of {limit} bytes"),
    )
    .with("limit_bytes", limit)
}

/// Deserialises JSON bytes, reporting the path of the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(de);
    match parsed {
        Ok(v) => {
            // Trailing bytes after the document are an error too.
            let mut rest =
                serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
            let _ = rest.next();
            if rest.next().is_some() {
                return Err(ApiError::invalid(
                    None,
                    "the body holds more than one JSON document",
                ));
            }
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let field = (path != ".").then_some(path);
            let message = inner.to_string();
            let detail = match (&field, inner.classify()) {
                (_, serde_json::error::Category::Syntax | serde_json::error::Category::Eof) => {
                    format!("the body is not valid JSON: {message}")
                }
                (Some(f), _) => format!("{f}: {message}"),
                (None, _) => message,
            };
            Err(ApiError::invalid(field, detail))
        }
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppContext>>()
            .map_or(crate::config::DEFAULT_JSON_LIMIT_BYTES, |c| {
                c.config.json_limit_bytes
            });
        let content_type_ok = match req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            None => true,
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("application/json") || ct.starts_with("application/problem+json")
            }
        };
        let declared_too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > limit);
        let mut payload = payload.take();
        let idle = body_idle(req);
        Box::pin(async move {
            let parsed = async {
                if !content_type_ok {
                    return Err(ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_media_type",
                        "Unsupported media type",
                        "send the body as application/json",
                    ));
                }
                if declared_too_large {
                    return Err(too_large(limit));
                }
                let body = read_body(&mut payload, limit, idle).await?;
                parse_json(&body)
            };
            Ok(ApiJson(parsed.await))
        })
    }
}

/// A query string, deserialised; a wrong type is a 422 naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded_de(req.query_string());
        std::future::ready(de.map(ApiQuery))
    }
}

fn serde_urlencoded_de<T: DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(qs)
        .map(web::Query::into_inner)
        .map_err(|e| {
            let msg = match &e {
                actix_web::error::QueryPayloadError::Deserialize(d) => d.to_string(),
                other => other.to_string(),
            };
            ApiError::invalid(None, format!("query string: {msg}"))
        })
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, ApiError> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "role '{}' may not do this (allowed: {})",
                self.0.role,
                allowed.join(", ")
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ctx = req.app_data::<web::Data<AppContext>>().cloned();
        let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
        let request = req.clone();
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        Box::pin(async move {
            let ctx = ctx.ok_or_else(|| ApiError::internal(&"application context missing"))?;
            let token = presented
                .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
            let now = chrono::Utc::now().naive_utc();
            // From memory when the token's answer is cached and the allowance leased: no trip
            // to the blocking pool (auth::tokens::check_cached says how revocation stays
            // honest).
            let fast = match auth::tokens::check_cached(&token, now) {
                Some(Err(refused)) => return Err(refused.into()),
                Some(Ok(principal)) => match &limiter {
                    Some(limiter) => limiter
                        .check_local(&principal.token_id)
                        .map(|allowed| (principal, allowed)),
                    None => Some((principal, Ok(()))),
                },
                None => None,
            };
            let (principal, pending, allowed) = match fast {
                Some((principal, allowed)) => {
                    let pending = note_use(&principal.token_id, now);
                    (principal, pending, allowed)
                }
                None => slow_caller(&ctx, limiter, token, now).await?,
            };
            if let Some(pending) = pending {
                request.extensions_mut().insert(pending);
            }
            allowed.map_err(|wait| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many requests",
                    format!(
                        "this token has used its request allowance; try again in {} s",
                        wait.as_secs().max(1)
                    ),
                )
                .with("retry_after_seconds", wait.as_secs().max(1))
            })?;
            Ok(Caller(principal))
        })
    }
}

/// What a caller resolves to when memory cannot say: the token checked, its use noted and its
/// allowance counted on one connection — one trip to the blocking pool (and to the database
/// for the allowance only when a lease runs out).
async fn slow_caller(
    ctx: &web::Data<AppContext>,
    limiter: Option<web::Data<RateLimiter>>,
    token: String,
    now: chrono::NaiveDateTime,
) -> Result<(Principal, Option<LastUse>, Result<(), Duration>), ApiError> {
    let resolved = with_conn(ctx, move |conn, _| {
        let principal = match auth::tokens::check_remembering(conn, &token, now)? {
            Ok(p) => p,
            Err(refused) => return Ok(Err(refused)),
        };
        let pending = note_use(&principal.token_id, now);
        let allowed = match &limiter {
            Some(limiter) => limiter.check(conn, &principal.token_id)?,
            None => Ok(()),
        };
        Ok(Ok((principal, pending, allowed)))
    })
    .await??;
    Ok(resolved)
}

/// Notes a use of `token_id` when its "last used" is due ([`auth::tokens::last_used_throttle`]:
/// at most once a minute per token and instance); the write is left for [`after_answer`], off
/// the answer's path. (Every write transaction that can meet it begins IMMEDIATE on SQLite,
/// `db::write_txn`, so the write racing the handler's own transaction makes it wait, not fail.)
fn note_use(token_id: &str, at: chrono::NaiveDateTime) -> Option<LastUse> {
    auth::tokens::last_used_throttle()
        .due(token_id, Instant::now())
        .then(|| LastUse {
            token_id: token_id.to_string(),
            at,
        })
}

/// A token use to record once the answer is made ([`note_use`]).
#[derive(Debug, Clone)]
struct LastUse {
    token_id: String,
    at: chrono::NaiveDateTime,
}

/// After the handler has answered: writes a due "last used" ([`note_use`]) on the blocking
/// pool, off the answer's path and after the handler's own transaction. A failed write is only
/// logged.
pub fn after_answer(req: &HttpRequest) {
    let Some(LastUse { token_id, at }) = req.extensions_mut().remove::<LastUse>() else {
        return;
    };
    let Some(ctx) = req.app_data::<web::Data<AppContext>>().cloned() else {
        return;
    };
    actix_web::rt::spawn(async move {
        let written = with_conn(&ctx, move |conn, _| {
            Ok(auth::tokens::record_last_used(conn, &token_id, at)?)
        })
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "a token's last use could not be recorded");
        }
    });
}

/// The language the caller reads (`Accept-Language`: zh-CN or English, zh-CN by default): the
/// words of problems, suggested actions and CSV headers in answers.
#[derive(Debug, Clone, Copy)]
pub struct AcceptLang(pub crate::words::Lang);

impl FromRequest for AcceptLang {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(AcceptLang(crate::words::Lang::from_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ))))
    }
}

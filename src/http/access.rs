//! Who may call and sign in (admin): API tokens listed and revoked (`/v1/tokens`), staff users
//! listed, disabled, enabled and given a new password (`/v1/users`). Every change is audited by
//! the use cases in [`crate::auth::tokens`] and [`crate::auth::users`].

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::blocking::with_conn;
use super::extract::{ApiQuery, Caller};
use super::paging::{page_limit, Page, Paged};
use super::problem::ApiError;
use crate::app::AppContext;
use crate::auth::tokens::{self, TokenInfo, TokenStatus};
use crate::auth::users::{self, UserInfo, UserStatus};
use crate::auth::{may, staff};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/tokens", web::get().to(list_tokens))
        .route("/v1/tokens/{id}", web::delete().to(revoke_token))
        .route("/v1/users", web::get().to(list_users))
        .route("/v1/users/{id}/disable", web::post().to(disable_user))
        .route("/v1/users/{id}/enable", web::post().to(enable_user))
        .route("/v1/users/{id}/password", web::post().to(reset_password));
}

/// An API token as listed: never the token itself (only its hash is stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    #[serde(flatten)]
    token: TokenInfo,
    /// `live`, `expired` or `revoked`, now.
    status: TokenStatus,
}

impl TokenView {
    fn of(token: TokenInfo, now: chrono::NaiveDateTime) -> TokenView {
        TokenView {
            status: token.status(now),
            token,
        }
    }
}

/// A staff user as listed: never a password or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    user: UserInfo,
    /// `active`, `locked` or `disabled`, now.
    status: UserStatus,
}

impl UserView {
    fn of(user: UserInfo, now: chrono::NaiveDateTime) -> UserView {
        UserView {
            status: user.status(now),
            user,
        }
    }
}

/// A staff user's new password, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordReset {
    /// The user after the reset (lock-out cleared, sessions ended).
    user: UserView,
    /// The generated password: give it to the user; it is not shown again.
    password: String,
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Every API token, in the order they were made, paged.
#[utoipa::path(get, path = "/v1/tokens", tag = "access", params(Page),
    responses((status = 200, body = inline(Paged<TokenView>)), (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn list_tokens(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::MANAGE_ACCESS)?;
    let limit = page_limit(q.limit)?;
    let found = with_conn(&ctx, move |conn, _| {
        Ok(tokens::list(conn, q.after.as_deref(), limit)?)
    })
    .await?;
    let at = now();
    let page = Paged::cut(found, limit, |t| t.id.clone());
    Ok(HttpResponse::Ok().json(page.map(|t| TokenView::of(t, at))))
}

/// Revokes a token: from now on it answers 401 `token_revoked`. Revoking it again changes
/// nothing. Audited as `key.revoke`.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = TokenView, description = "revoked (now or before)"), (status = 404, description = "not_found: no such token"),
        (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn revoke_token(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::MANAGE_ACCESS)?.actor();
    let id = id.into_inner();
    let at = now();
    let lookup = id.clone();
    let revoked = with_conn(&ctx, move |conn, _| {
        Ok(tokens::revoke(conn, &lookup, &actor, at)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no token '{id}'")))?;
    Ok(HttpResponse::Ok().json(TokenView::of(revoked, at)))
}

/// Every staff user, in the order they were made, paged.
#[utoipa::path(get, path = "/v1/users", tag = "access", params(Page),
    responses((status = 200, body = inline(Paged<UserView>)), (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn list_users(
    ctx: web::Data<AppContext>,
    caller: Caller,
    ApiQuery(q): ApiQuery<Page>,
) -> Result<HttpResponse, ApiError> {
    caller.require(may::MANAGE_ACCESS)?;
    let limit = page_limit(q.limit)?;
    let found = with_conn(&ctx, move |conn, _| {
        Ok(users::list(conn, q.after.as_deref(), limit)?)
    })
    .await?;
    let at = now();
    let page = Paged::cut(found, limit, |u| u.id.clone());
    Ok(HttpResponse::Ok().json(page.map(|u| UserView::of(u, at))))
}

fn no_user(id: &str) -> ApiError {
    ApiError::not_found(format!("no staff user '{id}'"))
}

/// Disables a staff user: their sessions end at once and sign-in refuses them (as it refuses a
/// wrong password). Disabling again changes nothing. Audited as `user.disable`.
#[utoipa::path(post, path = "/v1/users/{id}/disable", tag = "access", params(("id" = String, Path, description = "the user's id or name")),
    responses((status = 200, body = UserView, description = "disabled (now or before)"), (status = 404, description = "not_found: no such user"),
        (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn disable_user(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change_user(ctx, caller, id.into_inner(), users::disable).await
}

/// Enables a disabled staff user again (they sign in afresh). Audited as `user.enable`.
#[utoipa::path(post, path = "/v1/users/{id}/enable", tag = "access", params(("id" = String, Path, description = "the user's id or name")),
    responses((status = 200, body = UserView, description = "enabled (now or before)"), (status = 404, description = "not_found: no such user"),
        (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn enable_user(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change_user(ctx, caller, id.into_inner(), users::enable).await
}

/// A change of a user's state by id or name, at a time, by an actor (`users::disable`, `enable`).
type UserChange = fn(
    &mut crate::db::DbConn,
    &str,
    &str,
    chrono::NaiveDateTime,
) -> Result<Option<UserInfo>, crate::auth::AuthError>;

/// What disabling and enabling share: admin only, the user by id or name, 404 when unknown,
/// the user as it now stands.
async fn change_user(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: String,
    change: UserChange,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::MANAGE_ACCESS)?.actor();
    let (at, key) = (now(), id.clone());
    let user = with_conn(&ctx, move |conn, _| Ok(change(conn, &key, &actor, at)?))
        .await?
        .ok_or_else(|| no_user(&id))?;
    Ok(HttpResponse::Ok().json(UserView::of(user, at)))
}

/// Gives a staff user a generated password, answered this once: their sessions end, a
/// lock-out is cleared, the old password no longer works. Audited as `user.reset_password`
/// (without the password).
#[utoipa::path(post, path = "/v1/users/{id}/password", tag = "access", params(("id" = String, Path, description = "the user's id or name")),
    responses((status = 200, body = PasswordReset, description = "the new password, shown once"), (status = 404, description = "not_found: no such user"),
        (status = 403, description = "forbidden: only admin may do this")),
    security(("bearer" = [])))]
pub async fn reset_password(
    ctx: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.require(may::MANAGE_ACCESS)?.actor();
    let id = id.into_inner();
    let (at, key) = (now(), id.clone());
    let reset = with_conn(&ctx, move |conn, _| {
        Ok(users::reset_password(
            conn,
            &key,
            &actor,
            at,
            staff::PBKDF2_ITERATIONS,
        )?)
    })
    .await?
    .ok_or_else(|| no_user(&id))?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(PasswordReset {
            user: UserView::of(reset.user, at),
            password: reset.password,
        }))
}

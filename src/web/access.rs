//! 用户与令牌 (admin): the staff users and API tokens, each with its state (live, expired,
//! revoked; active, locked, disabled), last use and expiry, and one-click forms to disable or
//! enable a user, give them a new password (shown once, on the answer to the form) and revoke a
//! token — the same use cases as `/v1/users` and `/v1/tokens`.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::session::encode_component;
use super::{local_time, Chrome, OrPage, PostForm, Staff, WebError, BASE};
use crate::auth::may;
use crate::auth::staff::PBKDF2_ITERATIONS;
use crate::auth::tokens::{self, TokenInfo, TokenStatus};
use crate::auth::users::{self, UserInfo, UserStatus};
use crate::http::blocking::with_conn;
use crate::http::problem::ApiError;
use crate::words;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/access", web::get().to(show))
        .route("/access/users/{id}/disable", web::post().to(disable))
        .route("/access/users/{id}/enable", web::post().to(enable))
        .route("/access/users/{id}/password", web::post().to(reset))
        .route("/access/tokens/{id}/revoke", web::post().to(revoke));
}

/// Rows shown per table and page.
const PAGE_ROWS: i64 = 200;

words! {
    /// Labels of the users-and-tokens page.
    pub struct AccessWords {
        title: "用户与令牌" / "Users and tokens",
        users: "工作人员" / "Staff users",
        no_users: "没有工作人员账户。" / "No staff users.",
        tokens: "API 令牌" / "API tokens",
        no_tokens: "没有 API 令牌。" / "No API tokens.",
        id: "编号" / "Id",
        name: "名称" / "Name",
        role: "角色" / "Role",
        person: "人员" / "Person",
        created: "创建时间" / "Created",
        expires: "到期时间" / "Expires",
        never: "永不" / "never",
        last_used: "最近使用" / "Last used",
        not_used: "未使用" / "not yet",
        revoked_at: "吊销时间" / "Revoked",
        disabled_at: "停用时间" / "Disabled",
        locked_until: "锁定至" / "Locked until",
        live: "有效" / "live",
        expired: "已过期" / "expired",
        revoked: "已吊销" / "revoked",
        active: "正常" / "active",
        locked: "已锁定" / "locked",
        disabled: "已停用" / "disabled",
        disable: "停用" / "Disable",
        enable: "启用" / "Enable",
        reset: "重置密码" / "Reset password",
        revoke: "吊销" / "Revoke",
        yourself: "（本人）" / "(you)",
        times_hint: "时间均为北京时间；最近使用时间精确到约一分钟。停用账户会立即结束其所有登录会话；重置密码会结束会话并解除锁定。" / "Times are Beijing time; last use is accurate to about a minute. Disabling a user ends all their sessions at once; a password reset ends their sessions and clears a lock-out.",
        new_password_title: "新密码（仅显示这一次）" / "New password (shown this once)",
        new_password_for: "的新密码：" / "'s new password: ",
        new_password_hint: "请当面或通过安全渠道交给本人；关闭此页面后无法再次查看。" / "Give it to them in person or over a safe channel; it cannot be shown again once you leave this page.",
        done_disabled: "已停用账户并结束其会话：" / "Disabled, and their sessions ended: ",
        done_enabled: "已启用账户：" / "Enabled: ",
        done_revoked: "已吊销令牌：" / "Revoked token: ",
    }
}

/// One staff user's row.
struct UserRow {
    id: String,
    name: String,
    role: &'static str,
    tone: &'static str,
    status: &'static str,
    created: String,
    disabled: String,
    locked_until: String,
    /// Disabled: offer "enable"; else "disable" (never on one's own row).
    disabled_now: bool,
    yourself: bool,
}

/// One token's row.
struct TokenRow {
    id: String,
    name: String,
    role: &'static str,
    tone: &'static str,
    status: &'static str,
    created: String,
    expires: String,
    last_used: String,
    revoked: String,
    revocable: bool,
}

#[derive(Template)]
#[template(path = "access.html", config = "src/web/askama.toml")]
struct AccessPage {
    c: Chrome,
    t: &'static AccessWords,
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    users_next: Option<String>,
    tokens_next: Option<String>,
    /// After a reset: whose password, and the password.
    new_password: Option<NewPassword>,
}

/// A password just reset, for the one answer that shows it.
struct NewPassword {
    who: String,
    password: String,
}

/// `?users_after=&tokens_after=`: where each table's page starts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    users_after: Option<String>,
    tokens_after: Option<String>,
}

fn shown(at: Option<chrono::NaiveDateTime>, none: &str) -> String {
    at.as_ref().map_or_else(|| none.to_string(), local_time)
}

impl AccessWords {
    fn user_row(&self, s: &Staff, u: UserInfo, now: chrono::NaiveDateTime) -> UserRow {
        let (tone, status) = match u.status(now) {
            UserStatus::Active => ("ok", self.active),
            UserStatus::Locked => ("warn", self.locked),
            UserStatus::Disabled => ("bad", self.disabled),
        };
        let role = u.role.parse().map_or("?", |r| s.w.role(r));
        UserRow {
            yourself: u.id == s.principal.token_id,
            disabled_now: u.disabled_at.is_some(),
            created: local_time(&u.created_at),
            disabled: shown(u.disabled_at, ""),
            locked_until: shown(u.locked_until.filter(|t| *t > now), ""),
            id: u.id,
            name: u.name,
            role,
            tone,
            status,
        }
    }

    fn token_row(&self, s: &Staff, t: TokenInfo, now: chrono::NaiveDateTime) -> TokenRow {
        let (tone, status) = match t.status(now) {
            TokenStatus::Live => ("ok", self.live),
            TokenStatus::Expired => ("warn", self.expired),
            TokenStatus::Revoked => ("bad", self.revoked),
        };
        let role = t.role.parse().map_or("?", |r| s.w.role(r));
        TokenRow {
            revocable: t.revoked_at.is_none(),
            created: local_time(&t.created_at),
            expires: shown(t.expires_at, self.never),
            last_used: shown(t.last_used_at, self.not_used),
            revoked: shown(t.revoked_at, ""),
            id: t.id,
            name: t.name,
            role,
            tone,
            status,
        }
    }
}

/// The page, with `new_password` shown once when a reset just made one.
async fn render(
    staff: &Staff,
    query: AccessQuery,
    new_password: Option<NewPassword>,
) -> Result<HttpResponse, WebError> {
    let lang = staff.lang;
    let t = AccessWords::of(lang);
    let (users_after, tokens_after) = (query.users_after.clone(), query.tokens_after.clone());
    let (found_users, found_tokens) = with_conn(&staff.ctx, move |conn, _| {
        Ok((
            users::list(conn, users_after.as_deref(), PAGE_ROWS)?,
            tokens::list(conn, tokens_after.as_deref(), PAGE_ROWS)?,
        ))
    })
    .await
    .or_page(lang)?;
    let now = chrono::Utc::now().naive_utc();
    let keep = usize::try_from(PAGE_ROWS).unwrap_or(usize::MAX);
    let next = |more: bool, param: &str, last: Option<&String>| {
        last.filter(|_| more)
            .map(|id| format!("{BASE}/access?{param}={}", encode_component(id)))
    };
    let users_next = next(
        found_users.len() > keep,
        "users_after",
        found_users.get(keep.saturating_sub(1)).map(|u| &u.id),
    );
    let tokens_next = next(
        found_tokens.len() > keep,
        "tokens_after",
        found_tokens.get(keep.saturating_sub(1)).map(|t| &t.id),
    );
    let users = found_users
        .into_iter()
        .take(keep)
        .map(|u| t.user_row(staff, u, now))
        .collect();
    let tokens = found_tokens
        .into_iter()
        .take(keep)
        .map(|tk| t.token_row(staff, tk, now))
        .collect();
    let page = AccessPage {
        c: staff.chrome(t.title, "access"),
        t,
        users,
        tokens,
        users_next,
        tokens_next,
        new_password,
    };
    staff.page(&page)
}

async fn show(staff: Staff, query: web::Query<AccessQuery>) -> Result<HttpResponse, WebError> {
    staff.require(may::MANAGE_ACCESS)?;
    render(&staff, query.into_inner(), None).await
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
struct Click {}

fn no_such(what: &str, id: &str, staff: &Staff) -> WebError {
    WebError::Problem(ApiError::not_found(format!("no {what} '{id}'")), staff.lang)
}

/// What a user form does.
#[derive(Debug, Clone, Copy)]
enum UserChange {
    Disable,
    Enable,
}

async fn change_user(
    staff: Staff,
    form: PostForm<Click>,
    id: String,
    change: UserChange,
) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::MANAGE_ACCESS)?.actor();
    staff.form(form)?;
    let key = id.clone();
    let now = chrono::Utc::now().naive_utc();
    let user = with_conn(&staff.ctx, move |conn, _| {
        Ok(match change {
            UserChange::Disable => users::disable(conn, &key, &actor, now)?,
            UserChange::Enable => users::enable(conn, &key, &actor, now)?,
        })
    })
    .await
    .or_page(staff.lang)?
    .ok_or_else(|| no_such("staff user", &id, &staff))?;
    let t = AccessWords::of(staff.lang);
    let said = match change {
        UserChange::Disable => t.done_disabled,
        UserChange::Enable => t.done_enabled,
    };
    Ok(staff.done(&format!("{BASE}/access"), &format!("{said}{}", user.name)))
}

async fn disable(
    staff: Staff,
    form: PostForm<Click>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    change_user(staff, form, id.into_inner(), UserChange::Disable).await
}

async fn enable(
    staff: Staff,
    form: PostForm<Click>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    change_user(staff, form, id.into_inner(), UserChange::Enable).await
}

/// A reset answers with the page itself, the new password on it: never in a cookie, a
/// redirect or the log.
async fn reset(
    staff: Staff,
    form: PostForm<Click>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::MANAGE_ACCESS)?.actor();
    staff.form(form)?;
    let id = id.into_inner();
    let key = id.clone();
    let now = chrono::Utc::now().naive_utc();
    let done = with_conn(&staff.ctx, move |conn, _| {
        Ok(users::reset_password(
            conn,
            &key,
            &actor,
            now,
            PBKDF2_ITERATIONS,
        )?)
    })
    .await
    .or_page(staff.lang)?
    .ok_or_else(|| no_such("staff user", &id, &staff))?;
    render(
        &staff,
        AccessQuery::default(),
        Some(NewPassword {
            who: done.user.name,
            password: done.password,
        }),
    )
    .await
}

async fn revoke(
    staff: Staff,
    form: PostForm<Click>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let actor = staff.require(may::MANAGE_ACCESS)?.actor();
    staff.form(form)?;
    let id = id.into_inner();
    let key = id.clone();
    let now = chrono::Utc::now().naive_utc();
    let token = with_conn(&staff.ctx, move |conn, _| {
        Ok(tokens::revoke(conn, &key, &actor, now)?)
    })
    .await
    .or_page(staff.lang)?
    .ok_or_else(|| no_such("token", &id, &staff))?;
    let t = AccessWords::of(staff.lang);
    Ok(staff.done(
        &format!("{BASE}/access"),
        &format!("{}{} {}", t.done_revoked, token.id, token.name),
    ))
}

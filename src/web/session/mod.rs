//! Signing in and out, the signed-in staff member as an extractor ([`Staff`]), CSRF-checked
//! forms ([`PostForm`]), the language switch and one-time messages ("flash"). The sign-in's
//! rate limit per client address is in `limit.rs`.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::i18n::{Common, Lang, LANG_COOKIE};
use super::{here, nav_pages, redirect, Chrome, NavItem, OrPage, WebError, BASE};
use crate::app::AppContext;
use crate::auth::staff::{self, StaffError};
use crate::auth::{Principal, Role};
use crate::http::blocking::with_conn;
use crate::http::extract::{body_idle, read_body};
use crate::http::problem::ApiError;

mod limit;

pub use limit::{client_key, SignInLimiter, SIGN_IN_BURST, SIGN_IN_PER_MINUTE};

/// The session cookie.
pub const SESSION_COOKIE: &str = "onecard_session";
/// The sign-in form's own CSRF nonce (there is no session yet).
const SIGN_IN_COOKIE: &str = "onecard_sign_in";
/// A one-time message for the next page.
const FLASH_COOKIE: &str = "onecard_flash";
/// Largest form body accepted (file uploads use multipart, not this).
const FORM_LIMIT_BYTES: usize = 64 * 1024;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in", web::get().to(sign_in_form))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out))
        .route("/lang", web::get().to(switch_lang));
}

/// Percent-encodes everything but unreserved characters (for cookie values and query values).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes [`encode_component`] (and `+` as space); invalid escapes are kept as they are.
pub fn decode_component(s: &str) -> String {
    // `x=…` always parses to one pair; the default is never reached.
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Only a page of ours may be a "next" or "back" address: no open redirects.
pub fn local_page(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/web/")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => format!("{BASE}/today"),
    }
}

fn cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    age: Option<CookieAge>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        // Secure whenever the page was reached over HTTPS (directly or, as a trusted proxy in
        // front of us says): a cookie that travels in clear text would hand over the session.
        .secure(crate::http::client::is_https(req))
        .finish();
    if let Some(age) = age {
        c.set_max_age(age);
    }
    c
}

fn removal(req: &HttpRequest, name: &'static str) -> Cookie<'static> {
    cookie(req, name, String::new(), Some(CookieAge::ZERO))
}

/// The page language of a request.
pub fn lang_of(req: &HttpRequest) -> Lang {
    Lang::from_cookie(req.cookie(LANG_COOKIE).as_ref().map(|c| c.value()))
}

/// The signed-in staff member, with what the page frame needs. Extracting it from a request
/// without a live session sends the browser to the sign-in page.
#[derive(Clone)]
pub struct Staff {
    /// Who.
    pub principal: Principal,
    /// The session id.
    pub session_id: String,
    /// The page language.
    pub lang: Lang,
    /// Shared labels in that language.
    pub w: &'static Common,
    /// The one-time message, if the previous step left one.
    pub flash: Option<String>,
    /// The service.
    pub ctx: web::Data<AppContext>,
    req: HttpRequest,
}

impl Staff {
    /// Refuses with a 403 page unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, WebError> {
        if roles.contains(&self.principal.role) {
            Ok(&self.principal)
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(WebError::Problem(
                ApiError::forbidden(format!(
                    "role '{}' may not do this (allowed: {})",
                    self.principal.role,
                    allowed.join(", ")
                )),
                self.lang,
            ))
        }
    }

    /// Whether the user has one of `roles` (to show or hide a form).
    pub fn may(&self, roles: &[Role]) -> bool {
        roles.contains(&self.principal.role)
    }

    /// `role:name`, as entries and the audit log record the actor.
    pub fn actor(&self) -> String {
        self.principal.actor()
    }

    /// The frame of a page titled `title`, with `current` (a navigation key such as `"today"`)
    /// marked in the navigation.
    pub fn chrome(&self, title: impl Into<String>, current: &str) -> Chrome {
        let nav = nav_pages(self.w)
            .into_iter()
            .filter(|(_, _, roles)| roles.contains(&self.principal.role))
            .map(|(key, label, _)| NavItem {
                href: format!("{BASE}/{key}"),
                label,
                current: key == current,
            })
            .collect();
        let other = self.lang.other();
        Chrome {
            lang: self.lang,
            w: self.w,
            title: title.into(),
            role_label: self.w.role(self.principal.role),
            user: self.principal.clone(),
            csrf: staff::csrf_token(&self.ctx.keys, &self.session_id),
            nav,
            flash: self.flash.clone(),
            centre: self.ctx.config.centre_name.clone(),
            switch_href: format!(
                "{BASE}/lang?to={}&back={}",
                other.code(),
                encode_component(&here(&self.req))
            ),
            switch_label: other.own_name(),
            switch_tag: other.tag(),
        }
    }

    /// Renders a page; a shown one-time message is cleared.
    pub fn page(&self, t: &impl Template) -> Result<HttpResponse, WebError> {
        let mut res = super::page(t)?;
        if self.flash.is_some() {
            let _ = res.add_cookie(&removal(&self.req, FLASH_COOKIE));
        }
        Ok(res)
    }

    /// After a form: back to `to` (a page of ours), with `message` shown once there.
    pub fn done(&self, to: &str, message: &str) -> HttpResponse {
        let mut res = redirect(&local_page(Some(to)));
        let _ = res.add_cookie(&cookie(
            &self.req,
            FLASH_COOKIE,
            encode_component(message),
            Some(CookieAge::seconds(120)),
        ));
        res
    }

    /// The body of a form after its CSRF token is checked; a form without the session's token
    /// is refused (403 `form_expired`) before anything in it is read.
    pub fn form<T>(&self, form: PostForm<T>) -> Result<T, WebError> {
        let token_ok = form
            .csrf
            .as_deref()
            .is_some_and(|t| staff::csrf_ok(&self.ctx.keys, &self.session_id, t));
        if !token_ok {
            return Err(self.form_expired());
        }
        form.body.or_page(self.lang)
    }

    /// The refusal of a form without a valid CSRF token.
    pub fn form_expired(&self) -> WebError {
        WebError::Problem(
            ApiError::new(
                StatusCode::FORBIDDEN,
                "form_expired",
                "Form expired",
                self.w.form_expired,
            ),
            self.lang,
        )
    }

    /// Whether a submitted CSRF token (from a multipart form) is this session's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        staff::csrf_ok(&self.ctx.keys, &self.session_id, submitted)
    }

    /// The request (for its address).
    pub fn request(&self) -> &HttpRequest {
        &self.req
    }
}

impl FromRequest for Staff {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let lang = lang_of(&req);
            let next = if req.method() == actix_web::http::Method::GET {
                here(&req)
            } else {
                format!("{BASE}/today")
            };
            let sign_in = || WebError::SignIn { next: next.clone() };
            let ctx = req
                .app_data::<web::Data<AppContext>>()
                .cloned()
                .ok_or_else(|| WebError::Problem(ApiError::internal(&"no context"), lang))?;
            let Some(value) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
                return Err(sign_in());
            };
            let found = with_conn(&ctx, move |conn, c| {
                staff::session(conn, &c.keys, &value).map_err(staff_problem)
            })
            .await
            .or_page(lang)?;
            let Some((session_id, principal)) = found else {
                return Err(sign_in());
            };
            let flash = req
                .cookie(FLASH_COOKIE)
                .map(|c| decode_component(c.value()))
                .filter(|m| !m.is_empty());
            Ok(Staff {
                principal,
                session_id,
                lang,
                w: Common::of(lang),
                flash,
                ctx,
                req,
            })
        })
    }
}

/// A staff error as a problem (sign-in failures are handled on the sign-in page itself).
fn staff_problem(e: StaffError) -> ApiError {
    match e {
        StaffError::Auth(a) => a.into(),
        other => ApiError::invalid(None, other.to_string()),
    }
}

/// A urlencoded form body with its CSRF token apart; the rest is parsed into `T` (errors name
/// the field) but only handed out by [`Staff::form`] after the token is checked.
pub struct PostForm<T> {
    csrf: Option<String>,
    body: Result<T, ApiError>,
}

/// Parses a urlencoded body into `T`, naming the field at fault.
pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        let detail = match &field {
            Some(f) => format!("{f}: {}", e.inner()),
            None => e.inner().to_string(),
        };
        ApiError::invalid(field, detail)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for PostForm<T> {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let mut payload = payload.take();
        let idle = body_idle(req);
        let lang = lang_of(req);
        Box::pin(async move {
            let body = read_body(&mut payload, FORM_LIMIT_BYTES, idle)
                .await
                .or_page(lang)?;
            let csrf = form_urlencoded::parse(&body)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned());
            Ok(PostForm {
                csrf,
                body: parse_form(&body),
            })
        })
    }
}

#[derive(Template)]
#[template(path = "sign_in.html", config = "src/web/askama.toml")]
struct SignInPage {
    lang: Lang,
    w: &'static Common,
    centre: String,
    csrf: String,
    next: String,
    name: String,
    error: Option<String>,
    flash: Option<String>,
    switch_href: String,
    switch_label: &'static str,
    switch_tag: &'static str,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn sign_in_page(
    req: &HttpRequest,
    ctx: &AppContext,
    status: StatusCode,
    next: &str,
    name: &str,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let lang = lang_of(req);
    let nonce = super::jobs::random_id()
        .map_err(|e| ApiError::internal(&e))
        .or_page(lang)?;
    let flash = req
        .cookie(FLASH_COOKIE)
        .map(|c| decode_component(c.value()))
        .filter(|m| !m.is_empty());
    let page = SignInPage {
        lang,
        w: Common::of(lang),
        centre: ctx.config.centre_name.clone(),
        csrf: staff::csrf_token(&ctx.keys, &format!("sign-in\n{nonce}")),
        next: next.to_string(),
        name: name.to_string(),
        error,
        flash: flash.clone(),
        switch_href: format!(
            "{BASE}/lang?to={}&back={}",
            lang.other().code(),
            encode_component(&here(req))
        ),
        switch_label: lang.other().own_name(),
        switch_tag: lang.other().tag(),
    };
    let mut res = super::page(&page)?;
    *res.status_mut() = status;
    let _ = res.add_cookie(&cookie(req, SIGN_IN_COOKIE, nonce, None));
    if flash.is_some() {
        let _ = res.add_cookie(&removal(req, FLASH_COOKIE));
    }
    Ok(res)
}

async fn sign_in_form(
    req: HttpRequest,
    ctx: web::Data<AppContext>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, WebError> {
    let next = local_page(query.next.as_deref());
    sign_in_page(&req, &ctx, StatusCode::OK, &next, "", None)
}

#[derive(Deserialize)]
struct SignInForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn sign_in(
    req: HttpRequest,
    ctx: web::Data<AppContext>,
    form: PostForm<SignInForm>,
) -> Result<HttpResponse, WebError> {
    let lang = lang_of(&req);
    let w = Common::of(lang);
    if let Some(limiter) = req.app_data::<web::Data<SignInLimiter>>().cloned() {
        SignInLimiter::admit(limiter, &ctx, &req)
            .await
            .or_page(lang)?;
    }
    let nonce = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string());
    let token_ok = match (&nonce, &form.csrf) {
        (Some(n), Some(t)) => staff::csrf_ok(&ctx.keys, &format!("sign-in\n{n}"), t),
        _ => false,
    };
    let Ok(f) = form.body else {
        return sign_in_page(
            &req,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &local_page(None),
            "",
            Some(w.sign_in_missing.to_string()),
        );
    };
    let next = local_page(f.next.as_deref());
    if !token_ok {
        return sign_in_page(
            &req,
            &ctx,
            StatusCode::FORBIDDEN,
            &next,
            &f.name,
            Some(w.form_expired.to_string()),
        );
    }
    let (name, password) = (f.name.clone(), f.password);
    let outcome = with_conn(&ctx, move |conn, c| {
        Ok(staff::sign_in(conn, &c.keys, &name, &password))
    })
    .await
    .or_page(lang)?;
    sign_in_answer(&req, &ctx, outcome, &next, &f.name)
}

/// The answer to a sign-in the store has checked: the session cookie and on to `next`, or the
/// form again saying why not.
fn sign_in_answer(
    req: &HttpRequest,
    ctx: &AppContext,
    outcome: Result<staff::Session, StaffError>,
    next: &str,
    name: &str,
) -> Result<HttpResponse, WebError> {
    let lang = lang_of(req);
    let w = Common::of(lang);
    match outcome {
        Ok(session) => {
            let mut res = redirect(next);
            let _ = res.add_cookie(&cookie(
                req,
                SESSION_COOKIE,
                session.cookie,
                Some(CookieAge::hours(staff::SESSION_HOURS)),
            ));
            let _ = res.add_cookie(&removal(req, SIGN_IN_COOKIE));
            Ok(res)
        }
        Err(StaffError::BadCredentials) => sign_in_page(
            req,
            ctx,
            StatusCode::UNAUTHORIZED,
            next,
            name,
            Some(w.bad_credentials.to_string()),
        ),
        Err(StaffError::Locked(until)) => {
            let local = until + chrono::Duration::hours(8);
            sign_in_page(
                req,
                ctx,
                StatusCode::UNAUTHORIZED,
                next,
                name,
                Some(format!(
                    "{} {}",
                    w.account_locked,
                    local.format("%Y-%m-%d %H:%M")
                )),
            )
        }
        Err(other) => Err(WebError::Problem(staff_problem(other), lang)),
    }
}

#[derive(Deserialize)]
struct SignOutForm {}

async fn sign_out(staff: Staff, form: PostForm<SignOutForm>) -> Result<HttpResponse, WebError> {
    staff.form(form)?;
    let id = staff.session_id.clone();
    with_conn(&staff.ctx, move |conn, _| {
        staff::sign_out(conn, &id).map_err(staff_problem)
    })
    .await
    .or_page(staff.lang)?;
    let mut res = staff.done(&format!("{BASE}/sign-in"), staff.w.signed_out);
    let _ = res.add_cookie(&removal(staff.request(), SESSION_COOKIE));
    Ok(res)
}

#[derive(Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

async fn switch_lang(req: HttpRequest, query: web::Query<LangQuery>) -> HttpResponse {
    let lang = Lang::from_cookie(query.to.as_deref());
    let back = query.back.as_deref().map(decode_component);
    let back = if back
        .as_deref()
        .is_some_and(|b| b.starts_with("/web/sign-in"))
    {
        format!("{BASE}/sign-in")
    } else {
        local_page(back.as_deref())
    };
    let mut res = redirect(&back);
    let _ = res.add_cookie(&cookie(
        &req,
        LANG_COOKIE,
        lang.code().to_string(),
        Some(CookieAge::days(365)),
    ));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip() {
        for s in ["已结账：2026-11-24", "a b&c=d/e?f", "", "%zz"] {
            assert_eq!(decode_component(&encode_component(s)), s);
        }
        assert!(encode_component("日 结;")
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';'));
    }

    #[test]
    fn only_our_own_pages_are_next() {
        assert_eq!(
            local_page(Some("/web/days?date=2026-11-24")),
            "/web/days?date=2026-11-24"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/web/",
            "/v1/payments",
            "/web\\..",
            "javascript:x",
            "/web/today\n",
            "/web/today\r\nSet-Cookie: x=1",
            "/web/to\u{7f}day",
            "/web/\u{0}",
        ] {
            assert_eq!(local_page(Some(bad)), "/web/today", "{bad}");
        }
        assert_eq!(local_page(None), "/web/today");
    }
}

//! The finance staff pages: server-rendered HTML (askama) in Chinese by default with an English
//! switch, working without JavaScript. Each page calls the same use cases as the API and checks
//! the same role sets ([`crate::auth::may`]); nothing here decides a rule of its own.
//!
//! Staff sign in with a name and password ([`crate::auth::staff`]); the session cookie is
//! signed, HttpOnly and SameSite=Strict, and every form carries the session's CSRF token.
//! Every table can be downloaded as CSV (`?csv=<table id>`) or XLSX (`?xlsx=<table id>`); long work (imports,
//! reconciliations) runs as a [`jobs`] task whose page shows progress.
//!
//! May depend on: everything else in the crate.

pub mod access;
pub mod accounts;
pub mod approvals;
pub mod audit;
pub mod catalogue;
pub mod chart;
pub mod concessions;
pub mod days;
pub mod departments;
pub mod i18n;
pub mod jobs;
pub mod ledger;
pub mod month;
pub mod params;
pub mod payments;
pub mod reconciliation;
pub mod remittances;
pub mod report;
pub mod session;
pub mod table;
pub mod today;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{middleware::DefaultHeaders, web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::auth::{may, Principal, Role};
use crate::http::problem::ApiError;
use i18n::{Common, Lang};
pub use session::{PostForm, Staff};
use table::Table;

/// Where the pages live.
pub const BASE: &str = "/web";

/// Registers the pages under [`BASE`], with their security headers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { redirect(&format!("{BASE}/today")) }),
    )
    .service(
        web::scope(BASE)
            .wrap(
                DefaultHeaders::new()
                    .add((
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    ))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .configure(session::routes)
            .configure(jobs::routes)
            .configure(today::routes)
            .configure(payments::routes)
            .configure(ledger::routes)
            .configure(catalogue::routes)
            .configure(accounts::routes)
            .configure(departments::routes)
            .configure(access::routes)
            .configure(audit::routes)
            .configure(reconciliation::routes)
            .configure(days::routes)
            .configure(remittances::routes)
            .configure(approvals::routes)
            .configure(report::routes)
            .configure(month::routes)
            .configure(concessions::routes)
            .route("/static/style.css", web::get().to(stylesheet))
            .default_service(web::to(|req: HttpRequest| async move {
                let lang = session::lang_of(&req);
                WebError::Problem(ApiError::not_found("no such page"), lang).error_response()
            })),
    );
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("static/style.css"))
}

/// A 303 redirect (after a form, or to sign in).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// One entry of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Address.
    pub href: String,
    /// Label.
    pub label: &'static str,
    /// Whether it is the page being shown.
    pub current: bool,
}

/// The pages and who may see them, in navigation order.
fn nav_pages(w: &Common) -> [(&'static str, &'static str, &'static [Role]); 16] {
    [
        ("today", w.nav_today, may::READ_PAYMENTS),
        ("approvals", w.nav_approvals, may::READ_APPROVALS),
        ("payments", w.nav_payments, may::READ_PAYMENTS),
        ("refunds", w.nav_refunds, may::READ_REFUNDS),
        (
            "reconciliation",
            w.nav_reconciliation,
            may::READ_RECONCILIATION,
        ),
        ("days", w.nav_days, may::READ_DAYS),
        ("remittances", w.nav_remittances, may::READ_REMITTANCES),
        ("ledger", w.nav_ledger, may::READ_LEDGER),
        ("report", w.nav_report, may::READ_LEDGER),
        ("month", w.nav_month, may::READ_LEDGER),
        ("concessions", w.nav_concessions, may::READ_CONCESSIONS),
        ("catalogue", w.nav_catalogue, may::READ_CATALOGUE),
        ("departments", w.nav_departments, may::READ_CATALOGUE),
        ("accounts", w.nav_accounts, may::OPEN_ACCOUNT),
        ("audit", w.nav_audit, may::READ_AUDIT_LOG),
        ("access", w.nav_access, may::MANAGE_ACCESS),
    ]
}

/// What every page's frame needs: language, labels, user, CSRF token, navigation, message.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Page language.
    pub lang: Lang,
    /// Shared labels.
    pub w: &'static Common,
    /// The page title.
    pub title: String,
    /// Who is signed in.
    pub user: Principal,
    /// The user's role, in words.
    pub role_label: &'static str,
    /// The session's CSRF token (every form's hidden `csrf` field).
    pub csrf: String,
    /// Navigation, filtered by role.
    pub nav: Vec<NavItem>,
    /// A one-time message from the previous step ("day closed").
    pub flash: Option<String>,
    /// The centre's name.
    pub centre: String,
    /// The language switch's address.
    pub switch_href: String,
    /// The other language's name.
    pub switch_label: &'static str,
    /// The other language's tag.
    pub switch_tag: &'static str,
}

/// The `lang` of a stored name shown as entered (the centre's, a user's): `zh-CN` when it is
/// written in Chinese, so a page in English marks it; empty otherwise.
pub fn data_lang(text: &str) -> &'static str {
    if crate::words::has_cjk(text) {
        "zh-CN"
    } else {
        ""
    }
}

/// The `lang` of stored text written by others (a bank spec's title): `zh-CN` or `en` by
/// whether it is written in Chinese.
pub fn text_lang(text: &str) -> &'static str {
    if crate::words::has_cjk(text) {
        "zh-CN"
    } else {
        "en"
    }
}

/// A UTC time as staff read it: Beijing time, to the second.
pub fn local_time(at: &chrono::NaiveDateTime) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .from_utc_datetime(at)
        .with_timezone(&crate::clock::SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// An RFC 3339 time (as the API's views give it) in Beijing time; as given if unreadable.
pub fn local_time_rfc3339(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| local_time(&t.naive_utc()))
        .unwrap_or_else(|_| at.to_string())
}

impl Chrome {
    /// A UTC time in Beijing time (see [`local_time`]).
    pub fn local(&self, at: &chrono::NaiveDateTime) -> String {
        local_time(at)
    }

    /// Money (fen) as shown on pages: `1,234.56`.
    pub fn yuan(&self, minor: &i64) -> String {
        table::Cell::Money(*minor).shown()
    }
}

/// Renders a template into a 200 page.
pub fn page(t: &impl Template) -> Result<HttpResponse, WebError> {
    let html = t
        .render()
        .map_err(|e| WebError::Problem(ApiError::internal(&e), Lang::Zh))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A table a page was asked to download (`?csv=<id>` or `?xlsx=<id>`), and in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export<'a> {
    /// The table's id.
    pub id: &'a str,
    /// XLSX rather than CSV.
    pub xlsx: bool,
}

impl<'a> Export<'a> {
    /// The download a page's `csv` and `xlsx` parameters ask for, if any (CSV first).
    pub fn asked(csv: &'a Option<String>, xlsx: &'a Option<String>) -> Option<Export<'a>> {
        match (csv, xlsx) {
            (Some(id), _) => Some(Export { id, xlsx: false }),
            (None, Some(id)) => Some(Export { id, xlsx: true }),
            (None, None) => None,
        }
    }
}

/// The XLSX media type.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The table `export.id` among `tables` as CSV or XLSX, a download named `<stem>-<id>.csv` (or
/// `.xlsx`); 404 if no such table.
pub fn download(
    tables: &[&Table],
    export: Export<'_>,
    stem: &str,
    lang: Lang,
) -> Result<HttpResponse, WebError> {
    let id = export.id;
    let table = tables.iter().find(|t| t.id == id).ok_or_else(|| {
        WebError::Problem(
            ApiError::not_found(format!("no table '{id}' on this page")),
            lang,
        )
    })?;
    let internal = |e: &dyn std::fmt::Display| WebError::Problem(ApiError::internal(e), lang);
    let (bytes, kind, ext) = if export.xlsx {
        let bytes = table.to_xlsx().map_err(|e| internal(&e))?;
        (bytes, XLSX_TYPE, "xlsx")
    } else {
        let bytes = table.to_csv().map_err(|e| internal(&e))?;
        (bytes, "text/csv; charset=utf-8", "csv")
    };
    let name: String = format!("{stem}-{id}.{ext}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes))
}

/// Why a page could not be shown: not signed in (→ the sign-in page), or a problem shown as an
/// HTML error page with the problem's status and code.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in: go to the sign-in page, then back to `next`.
    SignIn {
        /// The page asked for.
        next: String,
    },
    /// A problem, in the page language.
    Problem(ApiError, Lang),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::SignIn { next } => write!(f, "sign in first (then {next})"),
            WebError::Problem(p, _) => p.fmt(f),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/web/askama.toml")]
struct ErrorPage<'a> {
    lang: Lang,
    w: &'static Common,
    title: &'a str,
    code: &'a str,
    detail: &'a str,
    field: Option<String>,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::Problem(p, _) => p.status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::SignIn { next } => redirect(&format!(
                "{BASE}/sign-in?next={}",
                session::encode_component(next)
            )),
            WebError::Problem(p, lang) => {
                let w = Common::of(*lang);
                let (title, detail) = p.said(*lang);
                let body = ErrorPage {
                    lang: *lang,
                    w,
                    title,
                    code: p.code,
                    detail: &detail,
                    field: p
                        .extra
                        .get("field")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                }
                .render()
                .unwrap_or_else(|_| format!("{} {}: {detail}", p.status.as_u16(), p.code));
                let mut res = HttpResponse::build(p.status);
                res.insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ));
                if let Some(wait) = p.extra.get("retry_after_seconds").and_then(|v| v.as_u64()) {
                    res.insert_header((header::RETRY_AFTER, wait.to_string()));
                }
                res.body(body)
            }
        }
    }
}

/// Turns any use-case error the API can map into a page error in `lang`.
pub trait OrPage<T> {
    /// The error as an HTML error page.
    fn or_page(self, lang: Lang) -> Result<T, WebError>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn or_page(self, lang: Lang) -> Result<T, WebError> {
        self.map_err(|e| WebError::Problem(e.into(), lang))
    }
}

/// The path and query of a request, for "come back here" links.
pub fn here(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) if !q.is_empty() => format!("{}?{q}", req.path()),
        _ => req.path().to_string(),
    }
}

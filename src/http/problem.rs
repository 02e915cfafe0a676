//! Errors as RFC 9457 `application/problem+json` with a stable machine `code`.
//!
//! This is the only place that knows HTTP status codes. Every error a client can cause maps to
//! a 4xx with its own code; storage trouble maps to 503; anything else is logged with its
//! cause and shown only as a 500 `internal` without internals.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use crate::auth::staff::StaffError;
use crate::auth::tokens::Refusal;
use crate::auth::AuthError;
use crate::db::DbError;
use crate::ledger::accounts::OpenError;
use crate::ledger::service::ReverseError;
use crate::ledger::writer::{PostError, WriteError};
use crate::ledger::LedgerError;
use crate::words::{self, Lang};

/// What `Retry-After` says on a 503 that a retry gets past (busy, database or ledger
/// unavailable), in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem document.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Short human title.
    pub title: &'static str,
    /// What exactly went wrong, for a person.
    pub detail: String,
    /// Further members (`field`, `line`, `open_exceptions`…).
    pub extra: Map<String, Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    /// A problem with status, code, title and detail.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the document.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// 422 for a request body or query that does not fit the schema.
    pub fn invalid(field: Option<String>, detail: impl Into<String>) -> Self {
        let e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "The request does not fit the schema",
            detail,
        );
        match field {
            Some(f) => e.with("field", f),
            None => e,
        }
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", what)
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403 for a role that may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed for this role",
            detail,
        )
    }

    /// 500 without internals; the cause is logged here.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the service could not complete the request; it has been logged",
        )
    }

    /// 500 for a crash (a panic) whose cause is logged under `incident`: the caller can quote
    /// the id, the operator finds the panic message beside it in the log.
    pub fn incident(incident: &str) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!(
                "the service could not complete the request; it has been logged as incident {incident}"
            ),
        )
        .with("incident", incident)
    }

    /// 503 `busy` with `Retry-After`: another request holds what this one needs (a lock the
    /// database did not give within its wait). Nothing was written; the same request, sent
    /// again, goes through.
    pub fn busy(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database busy; answered 503 busy");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Busy",
            "another request holds what this one needs; nothing was written; try again",
        )
        .with("retry_after_seconds", RETRY_AFTER_SECONDS)
    }

    /// A problem for a bare status (used by the catch-all that turns framework errors into
    /// problem documents).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, title, detail) = match status.as_u16() {
            400 => (
                "bad_request",
                "Bad request",
                "the request could not be read",
            ),
            401 => (
                "unauthorized",
                "Authentication required",
                "a valid bearer token is required",
            ),
            403 => ("forbidden", "Not allowed", "this role may not do this"),
            404 => ("not_found", "Not found", "no such resource"),
            405 => (
                "method_not_allowed",
                "Method not allowed",
                "this resource does not take that method",
            ),
            408 => (
                "request_timeout",
                "Request timeout",
                "the request took too long to arrive",
            ),
            413 => (
                "payload_too_large",
                "Payload too large",
                "the request body is over the limit",
            ),
            415 => (
                "unsupported_media_type",
                "Unsupported media type",
                "send application/json",
            ),
            429 => ("rate_limited", "Too many requests", "slow down"),
            503 => ("unavailable", "Service unavailable", "try again shortly"),
            s if s < 500 => (
                "bad_request",
                "Bad request",
                "the request could not be handled",
            ),
            _ => (
                "internal",
                "Internal error",
                "the service could not complete the request; it has been logged",
            ),
        };
        ApiError::new(status, code, title, detail)
    }

    /// The title and detail in `lang`: the catalogue's title ([`crate::words`]); in English the
    /// typed error's own sentence, in Chinese the catalogue's template filled from the
    /// problem's members. A code without words (none, a unit test checks) keeps its own.
    pub fn said(&self, lang: Lang) -> (&'static str, String) {
        match (words::problem(self.code), lang) {
            (Some(w), Lang::En) => (w.title.en, self.detail.clone()),
            (Some(w), Lang::Zh) => (
                w.title.zh,
                words::fill(w.detail_zh, &|name| self.param(name)),
            ),
            (None, _) => (self.title, self.detail.clone()),
        }
    }

    /// A member as template text (a list as its length).
    fn param(&self, name: &str) -> Option<String> {
        match self.extra.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(a) => Some(a.len().to_string()),
            _ => None,
        }
    }

    /// The problem document in zh-CN (the API's default language).
    pub fn body(&self) -> Value {
        self.body_in(Lang::Zh)
    }

    /// The problem document with its title and detail in `lang`.
    pub fn body_in(&self, lang: Lang) -> Value {
        let (title, detail) = self.said(lang);
        let mut doc = Map::new();
        doc.insert(
            "type".into(),
            json!(format!("urn:onecard:problem:{}", self.code)),
        );
        doc.insert("title".into(), json!(title));
        doc.insert("status".into(), json!(self.status.as_u16()));
        doc.insert("detail".into(), json!(detail));
        doc.insert("code".into(), json!(self.code));
        for (k, v) in &self.extra {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }

    /// The answer in `lang` (`Content-Language` says which).
    pub fn response_in(&self, lang: Lang) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        res.insert_header((
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.tag()),
        ));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(wait) = self
            .extra
            .get("retry_after_seconds")
            .and_then(Value::as_u64)
        {
            res.insert_header((header::RETRY_AFTER, wait.to_string()));
        }
        res.body(self.body_in(lang).to_string())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// In zh-CN; the server answers in the request's `Accept-Language` (see
    /// `server::observe`).
    fn error_response(&self) -> HttpResponse {
        self.response_in(Lang::Zh)
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        let unprocessable = |code, title| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, e.to_string())
        };
        match &e {
            LedgerError::Unbalanced { fund, .. } => {
                unprocessable("unbalanced", "The entry does not balance")
                    .with("fund", fund.as_str())
            }
            LedgerError::FundCrossing { .. } => {
                unprocessable("fund_crossing", "Value may not cross between the funds")
            }
            LedgerError::DayClosed(d) => unprocessable("day_closed", "The business day is closed")
                .with("business_date", d.to_string()),
            LedgerError::RevenueNetting { .. } => {
                unprocessable("revenue_netting", "Revenue is booked gross")
            }
            LedgerError::UnknownAccount { code, .. } => {
                unprocessable("unknown_account", "Unknown account").with("account", code.clone())
            }
            LedgerError::NotPostable { .. } => {
                unprocessable("account_not_postable", "Account takes no postings")
            }
            LedgerError::CurrencyMismatch { .. } => {
                unprocessable("currency_mismatch", "Wrong currency for the account")
            }
            LedgerError::BadAmount { .. } => unprocessable("invalid_amount", "Invalid amount"),
            LedgerError::TooFewPostings
            | LedgerError::TooManyPostings(_)
            | LedgerError::InvalidEntry(_)
            | LedgerError::ReversalShape => unprocessable("invalid_entry", "Invalid entry"),
            LedgerError::ReversalMismatch(_) => {
                unprocessable("reversal_mismatch", "A reversal must mirror its original")
            }
            LedgerError::UnknownEntry(_) => ApiError::not_found(e.to_string()),
            LedgerError::AlreadyReversed(_) => ApiError::new(
                StatusCode::CONFLICT,
                "already_reversed",
                "Already reversed",
                e.to_string(),
            ),
        }
    }
}

impl From<ReverseError> for ApiError {
    fn from(e: ReverseError) -> Self {
        match e {
            ReverseError::NotManual { seq, kind, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "not_manual",
                "Only manual entries are reversed",
                e.to_string(),
            )
            .with("seq", seq)
            .with("kind", kind.as_str()),
            ReverseError::SamePerson(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "same_person",
                "Four eyes",
                e.to_string(),
            ),
            ReverseError::Post(p) => p.into(),
        }
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        let detail = e.to_string();
        let unprocessable = |code, title| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                title,
                detail.clone(),
            )
        };
        match e {
            OpenError::Invalid { field, .. } => ApiError::invalid(Some(field.to_string()), detail),
            OpenError::UnknownParent(parent) => {
                unprocessable("unknown_account", "Unknown account").with("account", parent)
            }
            OpenError::ParentNotOpen { parent, .. } => {
                unprocessable("parent_not_open", "The parent takes no new sub-accounts")
                    .with("account", parent)
            }
            OpenError::Exists(code) => ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                "The account exists already",
                detail,
            )
            .with("account", code),
            OpenError::Chart(_) => ApiError::invalid(None, detail),
            OpenError::Db(db) => db.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        if e.is_busy() {
            return ApiError::busy(&e);
        }
        match e {
            DbError::Pool(_) | DbError::Connect(_) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "Database unavailable",
                    "the database is not answering; try again shortly",
                )
                .with("retry_after_seconds", RETRY_AFTER_SECONDS)
            }
            // A unique index refused a row no check before it saw: another request wrote the
            // same thing a moment earlier.
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info)) => {
                tracing::warn!(error = %e, constraint = ?info.constraint_name(), "unique index refused a concurrent write");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "Done by another request",
                    "another request did the same a moment earlier; reload to see it",
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::UnknownRole(_) | AuthError::BadName | AuthError::UnknownPerson(_) => {
                ApiError::invalid(None, e.to_string())
            }
            AuthError::Db(db) => db.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::Auth(a) => a.into(),
            other => ApiError::invalid(None, other.to_string()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unknown => ApiError::unauthorized("the token is not valid"),
            Refusal::Revoked => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_revoked",
                "Token revoked",
                "this token has been revoked; ask an administrator for a new one",
            ),
            Refusal::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "Token expired",
                "this token has expired; ask an administrator for a new one",
            ),
        }
    }
}

impl From<PostError> for ApiError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::Rule(r) => r.into(),
            PostError::Storage(s) => s.into(),
            PostError::AlreadyPosted { seq, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "already_posted",
                "Already posted",
                e.to_string(),
            )
            .with("entry_seq", seq),
        }
    }
}

impl<E: Into<ApiError>> From<WriteError<E>> for ApiError {
    fn from(e: WriteError<E>) -> Self {
        match e {
            WriteError::Rejected(inner) => inner.into(),
            WriteError::Storage(db) => {
                tracing::error!(error = %db, "ledger batch failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    "Ledger unavailable",
                    "nothing was written; try again",
                )
                .with("retry_after_seconds", RETRY_AFTER_SECONDS)
            }
            // Logged with the panic message by the writer.
            WriteError::Panicked { incident } => ApiError::incident(&incident),
            WriteError::Lost => {
                tracing::error!("the ledger writer stopped while this request's batch ran");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the ledger writer stopped while this request was in its batch; look the work up before sending it again",
                )
            }
            WriteError::Stopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "Shutting down",
                "the service is stopping; nothing was written",
            ),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal(&e)
    }
}

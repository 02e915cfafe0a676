//! Reading payments back for lists and searches: by business date and status, paged by id
//! (what `GET /v1/payments` answers and the payments page lists), or found by the text a clerk
//! types (payment id, reference, receipt number).

use chrono::NaiveDate;
use diesel::prelude::*;

use super::stored::load_many;
use super::{PaymentStatus, StoredPayment};
use crate::db::schema::{payments, receipts};
use crate::db::{DbConn, DbError};

/// Page size when none is asked for (the API's default, as every list of it).
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size (the API's limit, as every list of it).
pub const MAX_LIMIT: i64 = 1000;

/// Why a list cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A filter is out of range: the field and what is wrong.
    #[error("{message}")]
    Invalid {
        /// The filter at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Filters of the payment list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PaymentFilter {
    /// Business date.
    pub business_date: Option<NaiveDate>,
    /// captured, settled, reconciled or voided.
    pub status: Option<String>,
    /// Page size (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Cursor from `next`.
    pub after: Option<String>,
}

/// A page of payments and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The payments, in id order.
    pub items: Vec<StoredPayment>,
    /// The cursor for the next page.
    pub next: Option<String>,
}

fn page_limit(limit: Option<i64>) -> Result<i64, QueryError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(QueryError::Invalid {
            field: "limit",
            message: format!("limit must be 1–{MAX_LIMIT}, got {n}"),
        }),
    }
}

/// One page of the payments matching `f`, in id order.
pub fn list(conn: &mut DbConn, f: &PaymentFilter) -> Result<Page, QueryError> {
    let limit = page_limit(f.limit)?;
    let status = f
        .status
        .as_deref()
        .map(str::parse::<PaymentStatus>)
        .transpose()
        .map_err(|_| QueryError::Invalid {
            field: "status",
            message: "status must be captured, settled, reconciled or voided".into(),
        })?;
    let mut ids = list_ids(
        conn,
        f.business_date,
        status,
        // No cursor: from the first id.
        f.after.as_deref().unwrap_or(""),
        limit + 1,
    )?;
    // The extra id only tells that there is more; the cursor is the last id kept (`limit` is
    // 1–1000 here, so it always fits).
    let keep = usize::try_from(limit).unwrap_or(0);
    let next = if ids.len() > keep {
        ids.truncate(keep);
        ids.last().cloned()
    } else {
        None
    };
    // One set read for the whole page, never one per payment.
    let items = load_many(conn, &ids)?;
    Ok(Page { items, next })
}

/// The payments a clerk's search text names ([`find`]), narrowed by the filter's date and
/// status (a status that is none of [`PaymentStatus`] matches nothing); one page, no cursor.
pub fn search(conn: &mut DbConn, text: &str, f: &PaymentFilter) -> Result<Page, DbError> {
    let status = f.status.as_deref().map(str::parse::<PaymentStatus>);
    let ids = find(conn, text)?;
    let items = load_many(conn, &ids)?
        .into_iter()
        .filter(|p| {
            let date_ok = f.business_date.is_none_or(|d| d == p.business_date);
            let status_ok = status.as_ref().is_none_or(|s| *s == Ok(p.status));
            date_ok && status_ok
        })
        .collect();
    Ok(Page { items, next: None })
}

/// Ids of payments matching the filters, in id order after `after`, at most `limit`.
pub fn list_ids(
    conn: &mut DbConn,
    business_date: Option<NaiveDate>,
    status: Option<PaymentStatus>,
    after: &str,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let mut q = payments::table
        .filter(payments::id.gt(after.to_string()))
        .into_boxed();
    if let Some(d) = business_date {
        q = q.filter(payments::business_date.eq(d));
    }
    if let Some(s) = status {
        q = q.filter(payments::status.eq(s.to_string()));
    }
    Ok(q.order(payments::id)
        .limit(limit)
        .select(payments::id)
        .load(conn)?)
}

/// Most payments [`find`] returns.
pub const FIND_LIMIT: i64 = 100;

/// Ids of the payments a clerk's search text names, in id order: a payment id (`pay_…`), a
/// payment reference (`P…`), or a receipt number — `<code>/<number>` as printed, or the number
/// alone in any series (leading zeros optional). Nothing for empty text.
pub fn find(conn: &mut DbConn, text: &str) -> Result<Vec<String>, DbError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = payments::table
        .filter(
            payments::id
                .eq(text.to_string())
                .or(payments::reference.eq(text.to_string())),
        )
        .select(payments::id)
        .limit(FIND_LIMIT)
        .load(conn)?;
    let (series, number) = match text.split_once('/') {
        Some((s, n)) => (Some(s.trim()), n.trim()),
        None => (None, text),
    };
    if let Some(number) = number
        .parse::<i64>()
        .ok()
        .filter(|_| number.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut q = receipts::table
            .filter(receipts::number.eq(number))
            .into_boxed();
        if let Some(s) = series {
            q = q.filter(receipts::series_code.eq(s.to_string()));
        }
        ids.extend(
            q.select(receipts::payment_id)
                .limit(FIND_LIMIT)
                .load::<String>(conn)?,
        );
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Where a payment was taken: its department and window codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Department code.
    pub department: String,
    /// Window code (one of the department's).
    pub window: String,
}

/// The department and window of each payment of `ids` that exists, by id: one query, however
/// many ids (lists that name payments show where each was taken without a query per row).
pub fn places(
    conn: &mut DbConn,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Place>, DbError> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(String, String, String)> = payments::table
        .filter(payments::id.eq_any(ids))
        .select((payments::id, payments::department, payments::window_code))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, department, window)| (id, Place { department, window }))
        .collect())
}

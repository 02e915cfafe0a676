//! Read queries that the API's handlers and the staff pages both answer from, so a page and its
//! API twin list exactly the same rows: an account statement and the fee catalogue.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::paging::{page_limit, parse_cursor, Page, Paged};
use super::problem::ApiError;
use crate::catalogue::{self, FeeItem};
use crate::ledger::repo;

/// Filters of an account statement.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// First business date, inclusive.
    pub from: Option<NaiveDate>,
    /// Last business date, inclusive.
    pub to: Option<NaiveDate>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Cursor (an entry sequence number).
    pub after: Option<String>,
}

/// One page of an account's postings with `from <= business_date <= to`, in chain order: what
/// `GET /v1/ledger/accounts/{code}/entries` answers and the account statement page lists.
/// 404 for an account the chart does not have.
pub fn statement_lines(
    conn: &mut crate::db::DbConn,
    chart: &crate::ledger::Chart,
    code: &str,
    q: &EntriesQuery,
) -> Result<Paged<repo::AccountLine>, ApiError> {
    if chart.get(code).is_none() {
        return Err(ApiError::not_found(format!("no account '{code}'")));
    }
    let limit = page_limit(q.limit)?;
    let after = parse_cursor(q.after.as_deref())?;
    let lines = repo::account_lines(conn, code, q.from, q.to, after, limit + 1)?;
    Ok(Paged::cut(lines, limit, |l| l.seq.to_string()))
}

/// One page of the catalogue: the latest version of every item, in code order — what
/// `GET /v1/fee-items` answers and the catalogue page lists.
pub fn list_fee_items(
    conn: &mut crate::db::DbConn,
    page: &Page,
) -> Result<Paged<FeeItem>, ApiError> {
    let limit = page_limit(page.limit)?;
    // No cursor: from the first code.
    let after = page.after.as_deref().unwrap_or_default();
    let items = catalogue::latest_versions(conn, after, limit + 1)?;
    Ok(Paged::cut(items, limit, |i| i.code.clone()))
}

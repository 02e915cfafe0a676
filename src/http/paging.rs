//! Cursor paging as API.md defines it (`limit`, `after`, `next`), shared by the API's list
//! handlers and the staff pages' tables.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::ApiError;

/// Default and largest page sizes (API.md conventions).
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size.
pub const MAX_LIMIT: i64 = 1000;

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next`.
    pub after: Option<String>,
}

/// Checks a limit against API.md's bounds.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            Some("limit".into()),
            format!("limit must be 1–{MAX_LIMIT}, got {n}"),
        )),
    }
}

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page, or null on the last.
    pub next: Option<String>,
}

impl<T> Paged<T> {
    /// A page from up to `limit + 1` items read after the cursor: the extra item only tells
    /// that there is more, and `next` is the cursor of the last item kept.
    pub fn cut(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Paged<T> {
        // `page_limit` has made it positive; a negative limit keeps nothing.
        let limit = usize::try_from(limit).unwrap_or(0);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor)
        } else {
            None
        };
        Paged { items, next }
    }

    /// The same page with each item turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// A numeric cursor (an entry sequence number, a record id): absent or empty is the start.
pub fn parse_cursor(after: Option<&str>) -> Result<i64, ApiError> {
    match after {
        None | Some("") => Ok(0),
        Some(s) => s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid(
                Some("after".into()),
                "after must be a cursor returned as `next`",
            )
        }),
    }
}

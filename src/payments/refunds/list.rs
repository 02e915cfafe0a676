//! Reading refunds back: one by id, a page of them by status and business day (oldest request
//! first, the cursor being the last refund's id), and what a business day did with refunds —
//! requested, approved, rejected, cancelled, with their amounts — for the daily report.

use super::*;
use crate::db::schema::ledger_entries;
use crate::payments::query::{QueryError, DEFAULT_LIMIT, MAX_LIMIT};

/// One refund by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Refund>, DbError> {
    load_refund(conn, id)
}

/// Filters of the refund list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RefundFilter {
    /// `requested`, `approved`, `rejected` or `cancelled`.
    pub status: Option<String>,
    /// The business day the refund was requested on (not its payment's day).
    pub business_date: Option<NaiveDate>,
    /// Page size (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Cursor from `next`: the id of the last refund of the previous page.
    pub after: Option<String>,
}

/// A page of refunds, oldest request first, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPage {
    /// The refunds.
    pub items: Vec<Refund>,
    /// The cursor for the next page (`None` on the last).
    pub next: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        field,
        message: message.into(),
    }
}

/// One page of the refunds matching `f`, in request order (time, then id).
pub fn list(conn: &mut DbConn, f: &RefundFilter) -> Result<RefundPage, QueryError> {
    let limit = match f.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(invalid(
                "limit",
                format!("limit must be 1–{MAX_LIMIT}, got {n}"),
            ))
        }
    };
    let status = f
        .status
        .as_deref()
        .map(str::parse::<RefundStatus>)
        .transpose()
        .map_err(|_| {
            invalid(
                "status",
                "status must be requested, approved, rejected or cancelled",
            )
        })?;
    let mut q = refunds::table.into_boxed();
    if let Some(after) = f.after.as_deref().filter(|a| !a.is_empty()) {
        let at: NaiveDateTime = refunds::table
            .filter(refunds::id.eq(after.to_string()))
            .select(refunds::created_at)
            .first(conn)
            .optional()
            .map_err(DbError::from)?
            .ok_or_else(|| invalid("after", "after must be a cursor returned as `next`"))?;
        q = q.filter(
            refunds::created_at.gt(at).or(refunds::created_at
                .eq(at)
                .and(refunds::id.gt(after.to_string()))),
        );
    }
    if let Some(s) = status {
        q = q.filter(refunds::status.eq(s.as_ref().to_string()));
    }
    if let Some(d) = f.business_date {
        q = q.filter(refunds::business_date.eq(d));
    }
    let mut items: Vec<Refund> = q
        .order((refunds::created_at, refunds::id))
        .limit(limit + 1)
        .select(Refund::as_select())
        .load(conn)
        .map_err(DbError::from)?;
    // `limit` is 1–1000 here, so it always fits.
    let keep = usize::try_from(limit).unwrap_or(0);
    let next = if items.len() > keep {
        items.truncate(keep);
        items.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(RefundPage { items, next })
}

/// The refunds waiting for a supervisor's approval, oldest request first (then by id), at most
/// `limit`: one query.
pub fn awaiting_approval(conn: &mut DbConn, limit: i64) -> Result<Vec<Refund>, DbError> {
    Ok(refunds::table
        .filter(refunds::status.eq(RefundStatus::Requested.as_ref().to_string()))
        .order((refunds::created_at, refunds::id))
        .limit(limit)
        .select(Refund::as_select())
        .load(conn)?)
}

/// How many refunds and how much.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundTally {
    /// Refunds.
    pub count: u64,
    /// Their amount, in minor units.
    pub amount_minor: i64,
}

impl RefundTally {
    fn add(&mut self, amount_minor: i64) {
        self.count += 1;
        self.amount_minor += amount_minor;
    }
}

/// What one business day did with refunds: each refund requested that day, approved (its
/// entry dated that day), rejected or cancelled that day — a refund requested and approved on
/// the same day is in both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundDay {
    /// Requested that day.
    pub requested: RefundTally,
    /// Approved that day.
    pub approved: RefundTally,
    /// Rejected that day.
    pub rejected: RefundTally,
    /// Cancelled that day.
    pub cancelled: RefundTally,
    /// The refunds touched that day, in request order.
    pub refunds: Vec<Refund>,
}

/// The refunds of `date` ([`RefundDay`]).
pub fn of_day(conn: &mut DbConn, date: NaiveDate) -> Result<RefundDay, DbError> {
    let entries_of_day = ledger_entries::table
        .filter(ledger_entries::business_date.eq(date))
        .select(ledger_entries::seq.nullable());
    let refunds: Vec<Refund> = refunds::table
        .filter(
            refunds::business_date
                .eq(date)
                .or(refunds::closed_on.eq(date))
                .or(refunds::entry_seq.eq_any(entries_of_day)),
        )
        .order((refunds::created_at, refunds::id))
        .select(Refund::as_select())
        .load(conn)?;
    let seqs: Vec<i64> = refunds.iter().filter_map(|r| r.entry_seq).collect();
    let approved_that_day: Vec<i64> = ledger_entries::table
        .filter(ledger_entries::seq.eq_any(seqs))
        .filter(ledger_entries::business_date.eq(date))
        .select(ledger_entries::seq)
        .load(conn)?;
    let mut day = RefundDay::default();
    for r in &refunds {
        if r.business_date == date {
            day.requested.add(r.amount_minor);
        }
        if r.entry_seq.is_some_and(|s| approved_that_day.contains(&s)) {
            day.approved.add(r.amount_minor);
        }
        if r.closed_on == Some(date) {
            match r.status {
                RefundStatus::Rejected => day.rejected.add(r.amount_minor),
                RefundStatus::Cancelled => day.cancelled.add(r.amount_minor),
                _ => {}
            }
        }
    }
    day.refunds = refunds;
    Ok(day)
}

//! The fee catalogue (DESIGN §3): statutory fee items with their legal basis and pricing, in
//! versions. A change makes a new version effective from its date; a payment records the
//! version it was charged under, so no version is ever altered.
//!
//! - [`model`]: items, pricing and the exact-amount check — pure.
//! - [`concession`]: concessions (优惠政策) of a version and the amount a concession line
//!   charges and forgoes — pure.
//! - this module: storing and reading versions, with an audit record per change;
//!   [`cache`]: the versions kept in memory for pricing.
//! - [`departments`]: the departments and windows fees are collected at, as master data.
//!
//! May depend on: `db`, `audit`, `ledger` (the chart, to check the revenue subject), `clock`,
//! `text`.

pub mod cache;
pub mod concession;
pub mod departments;
pub mod model;

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::audit::{self, AuditEvent};
use crate::db::schema::{fee_item_concessions, fee_items};
use crate::db::{DbConn, DbError};
use crate::ledger::Chart;
pub use concession::{Concession, ConcessionCharge, ConcessionKind};
pub use model::{version_on, CatalogueError, FeeItem, Pricing, PricingKind};

/// The demo catalogue loaded by `serve --demo`.
pub const DEMO_CATALOGUE_JSON: &str = include_str!("../../fixtures/demo-fee-catalogue.json");

/// Why a catalogue change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueChangeError {
    /// The item itself is invalid.
    #[error(transparent)]
    Invalid(#[from] CatalogueError),
    /// No `2103.<subject>` account exists for the revenue subject.
    #[error(
        "revenue subject '{0}' has no treasury-payable account (2103.{0}) in the chart of accounts; \
         an admin opens it with POST /v1/ledger/accounts \
         {{\"code\": \"2103.{0}\", \"name\": \"…\", \"parent\": \"2103\"}} \
         (or `onecard accounts create --code 2103.{0} --name … --parent 2103`)"
    )]
    UnknownRevenueSubject(String),
    /// The item names a department that is not known.
    #[error("department '{0}' is not known; an admin adds it with POST /v1/departments")]
    UnknownDepartment(String),
    /// A new version may not start before the current one.
    #[error("version {new} of '{code}' would start on {from}, before version {current} ({current_from})")]
    OutOfOrder {
        /// Item code.
        code: String,
        /// The version being added.
        new: i64,
        /// Its start.
        from: NaiveDate,
        /// The latest version.
        current: i64,
        /// Its start.
        current_from: NaiveDate,
    },
    /// A new version may not take effect on a business day that has already begun.
    #[error("a change to '{code}' cannot take effect on {from}: business days up to {today} have begun; choose a later date")]
    Retroactive {
        /// Item code.
        code: String,
        /// The requested start.
        from: NaiveDate,
        /// Today (Asia/Shanghai).
        today: NaiveDate,
    },
    /// Someone else added a version at the same moment.
    #[error("another change to '{0}' was made at the same time; read it and try again")]
    Concurrent(String),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CatalogueChangeError {
    fn from(e: diesel::result::Error) -> Self {
        CatalogueChangeError::Db(DbError::Query(e))
    }
}

/// One stored version, columns in `fee_items` order up to the audit columns.
#[derive(Queryable, Selectable)]
#[diesel(table_name = fee_items)]
struct Row {
    code: String,
    version: i64,
    name: String,
    department: String,
    revenue_subject: String,
    legal_document: String,
    legal_article: Option<String>,
    pricing_kind: String,
    /// A fixed item's amount or a per-unit item's unit amount.
    amount_minor: Option<i64>,
    unit: Option<String>,
    min_minor: Option<i64>,
    max_minor: Option<i64>,
    effective_from: NaiveDate,
    effective_to: Option<NaiveDate>,
}

fn from_row(r: Row) -> Result<FeeItem, DbError> {
    let which = format!("fee item {} v{}", r.code, r.version);
    let corrupt = |why: String| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("{which}: {why}").into(),
        ))
    };
    let kind: PricingKind = r
        .pricing_kind
        .parse()
        .map_err(|_| corrupt(format!("unknown pricing kind '{}'", r.pricing_kind)))?;
    let pricing = match (kind, r.amount_minor, r.unit, r.min_minor, r.max_minor) {
        (PricingKind::Fixed, Some(amount_minor), ..) => Pricing::Fixed { amount_minor },
        (PricingKind::PerUnit, Some(unit_amount_minor), Some(unit), ..) => Pricing::PerUnit {
            unit_amount_minor,
            unit,
        },
        (PricingKind::Range, _, _, Some(min_minor), Some(max_minor)) => Pricing::Range {
            min_minor,
            max_minor,
        },
        _ => {
            return Err(corrupt(format!(
                "pricing columns do not fit '{}'",
                r.pricing_kind
            )))
        }
    };
    Ok(FeeItem {
        code: r.code,
        version: r.version,
        name: r.name,
        department: r.department,
        revenue_subject: r.revenue_subject,
        legal_document: r.legal_document,
        legal_article: r.legal_article,
        pricing,
        effective_from: r.effective_from,
        effective_to: r.effective_to,
        concessions: Vec::new(),
    })
}

/// One stored concession of a version.
#[derive(Queryable, Selectable)]
#[diesel(table_name = fee_item_concessions)]
struct ConcessionRow {
    fee_code: String,
    fee_version: i64,
    code: String,
    name: String,
    legal_basis: String,
    kind: String,
    amount_minor: i64,
}

/// Every version of one item, oldest first, each with its concessions in the order given.
pub fn versions(conn: &mut DbConn, code: &str) -> Result<Vec<FeeItem>, DbError> {
    versions_of(conn, &[code.to_string()])
}

/// Every version of the items `codes`, by code then oldest first, each with its concessions
/// in the order given: two queries whatever the number of codes (a page names at most a
/// thousand, far under both databases' bind limits).
fn versions_of(conn: &mut DbConn, codes: &[String]) -> Result<Vec<FeeItem>, DbError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = fee_items::table
        .filter(fee_items::code.eq_any(codes))
        .order((fee_items::code, fee_items::version))
        .select(Row::as_select())
        .load(conn)?;
    let mut items = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let at: HashMap<(String, i64), usize> = items
        .iter()
        .enumerate()
        .map(|(i, item)| ((item.code.clone(), item.version), i))
        .collect();
    let concessions: Vec<ConcessionRow> = fee_item_concessions::table
        .filter(fee_item_concessions::fee_code.eq_any(codes))
        .order((
            fee_item_concessions::fee_code,
            fee_item_concessions::fee_version,
            fee_item_concessions::position,
        ))
        .select(ConcessionRow::as_select())
        .load(conn)?;
    for c in concessions {
        let kind: ConcessionKind = c.kind.clone().try_into().map_err(|e| {
            DbError::Query(diesel::result::Error::DeserializationError(Box::new(e)))
        })?;
        if let Some(&i) = at.get(&(c.fee_code, c.fee_version)) {
            items[i].concessions.push(Concession {
                code: c.code,
                name: c.name,
                legal_basis: c.legal_basis,
                kind,
                amount_minor: c.amount_minor,
            });
        }
    }
    Ok(items)
}

/// The latest version of each item with code after `after`, in code order, at most `limit`:
/// three queries for the whole page, not two per item.
pub fn latest_versions(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> Result<Vec<FeeItem>, DbError> {
    let codes: Vec<String> = fee_items::table
        .filter(fee_items::code.gt(after.to_string()))
        .select(fee_items::code)
        .distinct()
        .order(fee_items::code)
        .limit(limit)
        .load(conn)?;
    let mut out: Vec<FeeItem> = Vec::with_capacity(codes.len());
    // By code then version: each code's last version replaces the ones before it.
    for item in versions_of(conn, &codes)? {
        match out.last_mut() {
            Some(last) if last.code == item.code => *last = item,
            _ => out.push(item),
        }
    }
    Ok(out)
}

/// Adds a version of an item (version 1 for a new code), checked against the chart and the
/// versions before it, and audits it — in one transaction. `item.version` is ignored.
pub fn add_version(
    conn: &mut DbConn,
    chart: &Chart,
    mut item: FeeItem,
    actor: &str,
    today: NaiveDate,
) -> Result<FeeItem, CatalogueChangeError> {
    item.check()?;
    if chart.treasury_payable_for(&item.revenue_subject).is_none() {
        return Err(CatalogueChangeError::UnknownRevenueSubject(
            item.revenue_subject,
        ));
    }
    let result = crate::db::write_txn::<FeeItem, CatalogueChangeError, _>(conn, |conn| {
        if !departments::exists(conn, &item.department)? {
            return Err(CatalogueChangeError::UnknownDepartment(
                item.department.clone(),
            ));
        }
        let existing = versions(conn, &item.code)?;
        if let Some(current) = existing.last() {
            may_follow(current, &item, today)?;
        }
        item.version = existing.last().map_or(1, |v| v.version + 1);
        let (amount, unit, min, max) = pricing_columns(&item.pricing);
        diesel::insert_into(fee_items::table)
            .values((
                fee_items::code.eq(&item.code),
                fee_items::version.eq(item.version),
                fee_items::name.eq(&item.name),
                fee_items::department.eq(&item.department),
                fee_items::revenue_subject.eq(&item.revenue_subject),
                fee_items::legal_document.eq(&item.legal_document),
                fee_items::legal_article.eq(&item.legal_article),
                fee_items::pricing_kind.eq(item.pricing.kind().as_ref()),
                fee_items::amount_minor.eq(amount),
                fee_items::unit.eq(unit),
                fee_items::min_minor.eq(min),
                fee_items::max_minor.eq(max),
                fee_items::effective_from.eq(item.effective_from),
                fee_items::effective_to.eq(item.effective_to),
                fee_items::created_at.eq(Utc::now().naive_utc()),
                fee_items::created_by.eq(actor),
            ))
            .execute(conn)?;
        for (position, c) in item.concessions.iter().enumerate() {
            diesel::insert_into(fee_item_concessions::table)
                .values((
                    fee_item_concessions::fee_code.eq(&item.code),
                    fee_item_concessions::fee_version.eq(item.version),
                    fee_item_concessions::code.eq(&c.code),
                    fee_item_concessions::position.eq(position as i64 + 1),
                    fee_item_concessions::name.eq(&c.name),
                    fee_item_concessions::legal_basis.eq(&c.legal_basis),
                    fee_item_concessions::kind.eq(c.kind.as_ref()),
                    fee_item_concessions::amount_minor.eq(c.amount_minor),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            AuditEvent {
                actor,
                action: if item.version == 1 {
                    "catalogue.create"
                } else {
                    "catalogue.version"
                },
                subject: &format!("fee_item:{}", item.code),
                before: existing.last().map(|v| json!(v)),
                after: Some(json!(item)),
            },
        )?;
        Ok(item.clone())
    });
    // Committed (or not): either way the cached versions are read afresh.
    cache::invalidate();
    match result {
        Err(CatalogueChangeError::Db(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )))) => Err(CatalogueChangeError::Concurrent(item.code)),
        other => other,
    }
}

/// May `item` become the version after `current`? Not before it, and not from a day that has
/// begun.
fn may_follow(
    current: &FeeItem,
    item: &FeeItem,
    today: NaiveDate,
) -> Result<(), CatalogueChangeError> {
    if item.effective_from < current.effective_from {
        return Err(CatalogueChangeError::OutOfOrder {
            code: item.code.clone(),
            new: current.version + 1,
            from: item.effective_from,
            current: current.version,
            current_from: current.effective_from,
        });
    }
    // Today has begun too: a price change mid-day would charge two prices on one day.
    if item.effective_from <= today {
        return Err(CatalogueChangeError::Retroactive {
            code: item.code.clone(),
            from: item.effective_from,
            today,
        });
    }
    Ok(())
}

/// The pricing columns (amount, unit, min, max) of a stored version; `amount_minor` holds a
/// fixed item's amount or a per-unit item's unit amount.
fn pricing_columns(pricing: &Pricing) -> (Option<i64>, Option<String>, Option<i64>, Option<i64>) {
    match pricing {
        Pricing::Fixed { amount_minor } => (Some(*amount_minor), None, None, None),
        Pricing::PerUnit {
            unit_amount_minor,
            unit,
        } => (Some(*unit_amount_minor), Some(unit.clone()), None, None),
        Pricing::Range {
            min_minor,
            max_minor,
        } => (None, None, Some(*min_minor), Some(*max_minor)),
    }
}

/// The demo catalogue (fixtures/demo-fee-catalogue.json).
pub fn demo_items() -> Result<Vec<FeeItem>, CatalogueError> {
    serde_json::from_str(DEMO_CATALOGUE_JSON).map_err(|e| CatalogueError::Invalid {
        field: "demo catalogue",
        message: e.to_string(),
    })
}

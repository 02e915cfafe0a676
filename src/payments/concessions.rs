//! Concessions granted (优惠政策 supervision): the payment lines charged under a concession in
//! a range of business dates, summed by fee item, concession, window and clerk — how many
//! lines, what they charged and the standard amount forgone. A voided payment granted nothing.
//! The sums are a pure function of the loaded lines ([`summarise`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::states::PaymentStatus;
use crate::db::schema::{fee_item_concessions, fee_items, payment_lines, payments};
use crate::db::{DbConn, DbError};
use crate::money::format_minor;

/// Longest range one query may cover, in days (a year and a day).
pub const MAX_RANGE_DAYS: i64 = 366;

/// Why a range is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `to` is before `from`.
    #[error("to ({to}) is before from ({from})")]
    Reversed {
        /// Start.
        from: NaiveDate,
        /// End.
        to: NaiveDate,
    },
    /// More than [`MAX_RANGE_DAYS`].
    #[error("a range covers at most {MAX_RANGE_DAYS} days")]
    TooLong,
    /// Both one business date and a range were given.
    #[error("give either business_date or from and to, not both")]
    Both,
}

/// Checks a range of business dates: in order, at most [`MAX_RANGE_DAYS`] days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), RangeError> {
    if to < from {
        return Err(RangeError::Reversed { from, to });
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(RangeError::TooLong);
    }
    Ok(())
}

/// The range a query asks for: one `business_date`, or `from`..=`to` (`to` defaults to
/// `today`, `from` to `to`), checked by [`check_range`].
pub fn resolve_range(
    business_date: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), RangeError> {
    let (from, to) = match (business_date, from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err(RangeError::Both),
        (Some(d), None, None) => (d, d),
        (None, from, to) => {
            let to = to.unwrap_or(today);
            (from.unwrap_or(to), to)
        }
    };
    check_range(from, to)?;
    Ok((from, to))
}

/// One line charged under a concession, as much as the sums need.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct GrantedLine {
    /// Fee item.
    pub fee_code: String,
    /// Its name (of the version charged).
    pub fee_name: String,
    /// Concession code.
    pub concession: String,
    /// Concession name.
    pub concession_name: String,
    /// `exempt` or `reduced`.
    pub kind: String,
    /// Its legal basis.
    pub legal_basis: String,
    /// Collecting department.
    pub department: String,
    /// Counter window (of the department).
    pub window: String,
    /// Who took the payment (`clerk:<name>`).
    pub clerk: String,
    /// What the line charged.
    pub charged_minor: i64,
    /// The standard amount forgone.
    pub forgone_minor: i64,
}

/// The concessions of one fee item granted at one window by one clerk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Granted {
    /// Fee item code.
    pub fee_code: String,
    /// Its name.
    pub fee_name: String,
    /// Concession code.
    pub concession: String,
    /// Concession name.
    pub concession_name: String,
    /// `exempt` or `reduced`.
    pub kind: String,
    /// The concession's legal basis.
    pub legal_basis: String,
    /// Collecting department.
    pub department: String,
    /// Counter window (of the department).
    pub window: String,
    /// Who took the payments.
    pub clerk: String,
    /// Lines granted.
    pub count: u64,
    /// What they charged, decimal string.
    pub charged: String,
    /// The standard amount forgone, decimal string.
    pub forgone: String,
    /// `charged` in fen.
    #[serde(skip)]
    pub charged_minor: i64,
    /// `forgone` in fen.
    #[serde(skip)]
    pub forgone_minor: i64,
}

/// The concessions granted in a range, and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GrantedSummary {
    /// First business date.
    pub from: NaiveDate,
    /// Last business date.
    pub to: NaiveDate,
    /// By fee item, concession, window and clerk, in that order.
    pub items: Vec<Granted>,
    /// Lines granted in all.
    pub count: u64,
    /// Charged in all.
    pub charged: String,
    /// Forgone in all.
    pub forgone: String,
    /// `charged` in fen.
    #[serde(skip)]
    pub charged_minor: i64,
    /// `forgone` in fen.
    #[serde(skip)]
    pub forgone_minor: i64,
}

/// Sums granted lines by fee item, concession, window and clerk (in that order).
pub fn summarise(from: NaiveDate, to: NaiveDate, lines: Vec<GrantedLine>) -> GrantedSummary {
    type Key = (String, String, String, String, String);
    let mut groups: BTreeMap<Key, (GrantedLine, u64, i64, i64)> = BTreeMap::new();
    let (mut count, mut charged, mut forgone) = (0u64, 0i64, 0i64);
    for l in lines {
        count += 1;
        charged += l.charged_minor;
        forgone += l.forgone_minor;
        let key = (
            l.fee_code.clone(),
            l.concession.clone(),
            l.department.clone(),
            l.window.clone(),
            l.clerk.clone(),
        );
        let (c, f) = (l.charged_minor, l.forgone_minor);
        let g = groups.entry(key).or_insert_with(|| (l, 0, 0, 0));
        g.1 += 1;
        g.2 += c;
        g.3 += f;
    }
    GrantedSummary {
        from,
        to,
        items: groups
            .into_values()
            .map(|(l, n, c, f)| Granted {
                fee_code: l.fee_code,
                fee_name: l.fee_name,
                concession: l.concession,
                concession_name: l.concession_name,
                kind: l.kind,
                legal_basis: l.legal_basis,
                department: l.department,
                window: l.window,
                clerk: l.clerk,
                count: n,
                charged: format_minor(c),
                forgone: format_minor(f),
                charged_minor: c,
                forgone_minor: f,
            })
            .collect(),
        count,
        charged: format_minor(charged),
        forgone: format_minor(forgone),
        charged_minor: charged,
        forgone_minor: forgone,
    }
}

/// The concessions granted on business dates `from..=to` (payments not voided).
pub fn granted(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<GrantedSummary, DbError> {
    let lines: Vec<GrantedLine> = payments::table
        .inner_join(payment_lines::table.on(payment_lines::payment_id.eq(payments::id)))
        .inner_join(
            fee_items::table.on(fee_items::code
                .eq(payment_lines::fee_code)
                .and(fee_items::version.eq(payment_lines::fee_version))),
        )
        .inner_join(
            fee_item_concessions::table.on(fee_item_concessions::fee_code
                .eq(payment_lines::fee_code)
                .and(fee_item_concessions::fee_version.eq(payment_lines::fee_version))
                .and(
                    fee_item_concessions::code
                        .nullable()
                        .eq(payment_lines::concession_code),
                )),
        )
        .filter(payments::business_date.ge(from))
        .filter(payments::business_date.le(to))
        .filter(payments::status.ne(PaymentStatus::Voided.as_ref()))
        .select((
            payment_lines::fee_code,
            fee_items::name,
            fee_item_concessions::code,
            fee_item_concessions::name,
            fee_item_concessions::kind,
            fee_item_concessions::legal_basis,
            payments::department,
            payments::window_code,
            payments::created_by,
            payment_lines::amount_minor,
            payment_lines::forgone_minor.assume_not_null(),
        ))
        .load(conn)?;
    Ok(summarise(from, to, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fee: &str, concession: &str, window: &str, clerk: &str, c: i64, f: i64) -> GrantedLine {
        GrantedLine {
            fee_code: fee.into(),
            fee_name: "不动产登记费（住宅）".into(),
            concession: concession.into(),
            concession_name: "低保户免收".into(),
            kind: "exempt".into(),
            legal_basis: "民发〔2021〕11号".into(),
            department: "D03".into(),
            window: window.into(),
            clerk: clerk.into(),
            charged_minor: c,
            forgone_minor: f,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    #[test]
    fn grants_are_summed_by_item_concession_window_and_clerk() {
        let s = summarise(
            day(24),
            day(24),
            vec![
                line("ZR-BDC-01", "DB", "W03", "clerk:a", 0, 8000),
                line("ZR-BDC-01", "CJ", "W03", "clerk:a", 4000, 4000),
                line("ZR-BDC-01", "DB", "W03", "clerk:a", 0, 8000),
                line("ZR-BDC-01", "DB", "W01", "clerk:a", 0, 8000),
                line("ZR-BDC-01", "DB", "W03", "clerk:b", 0, 8000),
            ],
        );
        let rows: Vec<(&str, &str, &str, u64, &str)> = s
            .items
            .iter()
            .map(|g| {
                (
                    g.concession.as_str(),
                    g.window.as_str(),
                    g.clerk.as_str(),
                    g.count,
                    g.forgone.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("CJ", "W03", "clerk:a", 1, "40.00"),
                ("DB", "W01", "clerk:a", 1, "80.00"),
                ("DB", "W03", "clerk:a", 2, "160.00"),
                ("DB", "W03", "clerk:b", 1, "80.00"),
            ]
        );
        assert_eq!((s.count, s.charged.as_str()), (5, "40.00"));
        assert_eq!(s.forgone, "360.00");
        let empty = summarise(day(24), day(24), vec![]);
        assert_eq!((empty.count, empty.forgone.as_str()), (0, "0.00"));
    }

    #[test]
    fn ranges_are_in_order_and_at_most_a_year_and_a_day() {
        assert_eq!(check_range(day(24), day(24)), Ok(()));
        assert!(matches!(
            check_range(day(24), day(23)),
            Err(RangeError::Reversed { .. })
        ));
        let from = day(1);
        assert_eq!(check_range(from, from + chrono::Days::new(365)), Ok(()));
        assert_eq!(
            check_range(from, from + chrono::Days::new(366)),
            Err(RangeError::TooLong)
        );
        let today = day(30);
        assert_eq!(
            resolve_range(Some(day(24)), None, None, today),
            Ok((day(24), day(24)))
        );
        assert_eq!(
            resolve_range(None, Some(day(2)), None, today),
            Ok((day(2), today))
        );
        assert_eq!(resolve_range(None, None, None, today), Ok((today, today)));
        assert_eq!(
            resolve_range(Some(day(24)), Some(day(2)), None, today),
            Err(RangeError::Both)
        );
        assert!(resolve_range(None, Some(day(25)), Some(day(24)), today).is_err());
    }
}

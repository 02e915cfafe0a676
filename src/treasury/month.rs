//! A month for non-tax revenue reporting (月度报表): what the counters collected, the
//! concessions they granted, the refunds paid out of the payable and what was remitted, by
//! revenue subject and department — and the month's movements on the treasury payable
//! (2103.*) by entry kind, so a page can show the two agree (or by how much they do not).
//!
//! Which month a figure belongs to:
//! - collections and concessions: the payment's business date (a voided payment collected and
//!   granted nothing; voids are same-day, so a void falls in its capture's month);
//! - refunds (paid from the payable, route `direct`): the business date of the refund's entry;
//!   the split by subject is its entry's 2103 debits, the only place the split is kept;
//! - remittances: the business date of the acknowledgement's entry (when the payable was
//!   debited), by the documents of the batch.
//!
//! The ledger side reads only `ledger_entries` and `ledger_postings`: the payable accounts'
//! postings of entries dated in the month, summed by entry kind and side. Each of the
//! reads (remittances in two: receipts, then entries of no payment) is one grouped query,
//! whatever the month holds.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::{
    ledger_entries, ledger_postings, payment_lines, payments, refunds, remittance_documents,
    remittances,
};
use crate::db::{DbConn, DbError};
use crate::ledger::{AccountRole, Chart, EntryKind, Side};
use crate::payments::states::PaymentStatus;

/// A count and an amount (fen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figure {
    /// How many (payment lines, concession lines, refunds, remitted documents).
    pub count: i64,
    /// How much, fen (for concessions: the standard amount waived).
    pub amount_minor: i64,
}

impl Figure {
    fn add(&mut self, other: Figure) {
        self.count += other.count;
        self.amount_minor += other.amount_minor;
    }
}

/// The month's figures of one revenue subject at one department.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Collected (payment lines of payments not voided).
    pub collected: Figure,
    /// Concessions granted: lines charged under one, and the amount waived.
    pub concessions: Figure,
    /// Refunded out of the payable.
    pub refunded: Figure,
    /// Remitted to the treasury.
    pub remitted: Figure,
}

impl Figures {
    /// Adds `other` into these.
    pub fn add(&mut self, other: &Figures) {
        self.collected.add(other.collected);
        self.concessions.add(other.concessions);
        self.refunded.add(other.refunded);
        self.remitted.add(other.remitted);
    }

    /// What stays owed to the treasury from these: collected less refunded less remitted.
    pub fn net_minor(&self) -> i64 {
        self.collected.amount_minor - self.refunded.amount_minor - self.remitted.amount_minor
    }
}

/// The month's movements on the treasury payable, by entry kind (fen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerSide {
    /// Net credits of capture entries.
    pub captured_minor: i64,
    /// Net debits of reversal entries (same-day voids of captures).
    pub reversed_minor: i64,
    /// Net debits of refund entries.
    pub refunded_minor: i64,
    /// Net debits of remittance entries.
    pub remitted_minor: i64,
    /// Net credits of every other kind (adjustments and the like).
    pub other_minor: i64,
}

impl LedgerSide {
    /// The payable's net credit over the month.
    pub fn net_minor(&self) -> i64 {
        self.captured_minor - self.reversed_minor - self.refunded_minor - self.remitted_minor
            + self.other_minor
    }

    /// Collections as the ledger has them: captures less their voids.
    pub fn collected_minor(&self) -> i64 {
        self.captured_minor - self.reversed_minor
    }
}

/// One month, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Month {
    /// Its first day.
    pub first: NaiveDate,
    /// Its last day.
    pub last: NaiveDate,
    /// Figures by (revenue subject, department); a remitted document that belongs to no
    /// payment has no department.
    pub cells: BTreeMap<(String, Option<String>), Figures>,
    /// The ledger's side.
    pub ledger: LedgerSide,
}

impl Month {
    /// Figures by revenue subject.
    pub fn by_subject(&self) -> BTreeMap<&str, Figures> {
        let mut out: BTreeMap<&str, Figures> = BTreeMap::new();
        for ((subject, _), f) in &self.cells {
            out.entry(subject.as_str()).or_default().add(f);
        }
        out
    }

    /// Figures by department (`None`: documents of no payment).
    pub fn by_department(&self) -> BTreeMap<Option<&str>, Figures> {
        let mut out: BTreeMap<Option<&str>, Figures> = BTreeMap::new();
        for ((_, department), f) in &self.cells {
            out.entry(department.as_deref()).or_default().add(f);
        }
        out
    }

    /// The month's totals.
    pub fn total(&self) -> Figures {
        let mut t = Figures::default();
        for f in self.cells.values() {
            t.add(f);
        }
        t
    }

    /// The differences between the month's figures and the ledger (figures less ledger):
    /// collections, refunds, remittances and the payable's net; all zero when they agree.
    pub fn differences(&self) -> [i64; 4] {
        let t = self.total();
        [
            t.collected.amount_minor - self.ledger.collected_minor(),
            t.refunded.amount_minor - self.ledger.refunded_minor,
            t.remitted.amount_minor - self.ledger.remitted_minor,
            t.net_minor() - self.ledger.net_minor(),
        ]
    }

    /// Whether the figures agree with the ledger.
    pub fn agrees(&self) -> bool {
        self.differences() == [0; 4]
    }
}

/// The first and last day of `year`-`month`, or `None` if there is no such month.
pub fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((first, next.pred_opt()?))
}

/// `YYYY-MM` as its first and last day.
pub fn parse_month(text: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = text.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    month_bounds(y.parse().ok()?, m.parse().ok()?)
}

/// The month holding `date`, as `YYYY-MM`.
pub fn month_of(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

// The grouped queries' columns from two tables (diesel checks a GROUP BY's columns per pair).
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    payments::department,
    payment_lines::revenue_subject,
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    payments::department,
    ledger_postings::account_code,
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    payments::department,
    remittance_documents::revenue_subject,
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(
    ledger_entries::kind,
    ledger_postings::side,
);

/// A sum over grouped rows, as a 64-bit integer on both databases (PostgreSQL sums a
/// `bigint` into a `numeric`).
fn sum(expr: &str) -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>(&format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"))
}

/// A payable posting's amount, signed as a debit.
const DEBIT_SIGNED: &str = "CASE WHEN ledger_postings.side = 'debit' \
     THEN ledger_postings.amount_minor ELSE -ledger_postings.amount_minor END";

fn corrupt(what: String) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(what.into()))
}

/// The subject a `2103.<subject>` account is for.
fn subject_of(account: &str) -> String {
    account.rsplit('.').next().unwrap_or(account).to_string()
}

/// Sums the month `first..=last` (see the module's notes for which date counts).
pub fn month(
    conn: &mut DbConn,
    chart: &Chart,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Month, DbError> {
    let payable: Vec<String> = chart
        .accounts()
        .filter(|a| a.role == AccountRole::TreasuryPayable && a.postable)
        .map(|a| a.code.clone())
        .collect();
    let mut out = Month {
        first,
        last,
        ..Month::default()
    };
    let collected: Vec<(String, String, i64, i64, i64, i64)> = payment_lines::table
        .inner_join(payments::table.on(payments::id.eq(payment_lines::payment_id)))
        .filter(payments::business_date.between(first, last))
        .filter(payments::status.ne(PaymentStatus::Voided.to_string()))
        .group_by((payments::department, payment_lines::revenue_subject))
        .select((
            payments::department,
            payment_lines::revenue_subject,
            sql::<BigInt>("COUNT(*)"),
            sum("payment_lines.amount_minor"),
            sum("CASE WHEN payment_lines.concession_code IS NULL THEN 0 ELSE 1 END"),
            sum("payment_lines.forgone_minor"),
        ))
        .load(conn)?;
    for (department, subject, lines, amount, granted, forgone) in collected {
        let f = out.cells.entry((subject, Some(department))).or_default();
        f.collected = Figure {
            count: lines,
            amount_minor: amount,
        };
        f.concessions = Figure {
            count: granted,
            amount_minor: forgone,
        };
    }
    let refunded: Vec<(String, String, i64, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .inner_join(refunds::table.on(refunds::entry_seq.eq(ledger_entries::seq.nullable())))
        .inner_join(payments::table.on(payments::id.eq(refunds::payment_id)))
        .filter(ledger_entries::business_date.between(first, last))
        .filter(ledger_postings::account_code.eq_any(&payable))
        .group_by((payments::department, ledger_postings::account_code))
        .select((
            payments::department,
            ledger_postings::account_code,
            sql::<BigInt>("COUNT(DISTINCT refunds.id)"),
            sum(DEBIT_SIGNED),
        ))
        .load(conn)?;
    for (department, account, count, amount) in refunded {
        let f = out
            .cells
            .entry((subject_of(&account), Some(department)))
            .or_default();
        f.refunded.add(Figure {
            count,
            amount_minor: amount,
        });
    }
    // Remitted documents: receipts (by their payment's department), then entries of no payment.
    let remitted: Vec<(String, String, i64, i64)> = remittance_documents::table
        .inner_join(remittances::table.on(remittances::id.eq(remittance_documents::remittance_id)))
        .inner_join(
            ledger_entries::table.on(remittances::ack_entry_seq.eq(ledger_entries::seq.nullable())),
        )
        .inner_join(
            payments::table.on(remittance_documents::payment_id.eq(payments::id.nullable())),
        )
        .filter(ledger_entries::business_date.between(first, last))
        .group_by((payments::department, remittance_documents::revenue_subject))
        .select((
            payments::department,
            remittance_documents::revenue_subject,
            sql::<BigInt>("COUNT(*)"),
            sum("remittance_documents.amount_minor"),
        ))
        .load(conn)?;
    let unowned: Vec<(String, i64, i64)> = remittance_documents::table
        .inner_join(remittances::table.on(remittances::id.eq(remittance_documents::remittance_id)))
        .inner_join(
            ledger_entries::table.on(remittances::ack_entry_seq.eq(ledger_entries::seq.nullable())),
        )
        .filter(ledger_entries::business_date.between(first, last))
        .filter(remittance_documents::payment_id.is_null())
        .group_by(remittance_documents::revenue_subject)
        .select((
            remittance_documents::revenue_subject,
            sql::<BigInt>("COUNT(*)"),
            sum("remittance_documents.amount_minor"),
        ))
        .load(conn)?;
    let remitted = remitted
        .into_iter()
        .map(|(d, s, c, a)| (s, Some(d), c, a))
        .chain(unowned.into_iter().map(|(s, c, a)| (s, None, c, a)));
    for (subject, department, count, amount) in remitted {
        out.cells.entry((subject, department)).or_default().remitted = Figure {
            count,
            amount_minor: amount,
        };
    }
    let moved: Vec<(String, String, i64)> = ledger_postings::table
        .inner_join(ledger_entries::table)
        .filter(ledger_entries::business_date.between(first, last))
        .filter(ledger_postings::account_code.eq_any(&payable))
        .group_by((ledger_entries::kind, ledger_postings::side))
        .select((
            ledger_entries::kind,
            ledger_postings::side,
            sum("ledger_postings.amount_minor"),
        ))
        .load(conn)?;
    for (kind, side, amount) in moved {
        let kind: EntryKind = kind.parse().map_err(corrupt)?;
        let side: Side = side.parse().map_err(corrupt)?;
        out.ledger.add(kind, side, amount);
    }
    Ok(out)
}

impl LedgerSide {
    /// Adds a sum of postings of one kind and side.
    fn add(&mut self, kind: EntryKind, side: Side, amount: i64) {
        let credit = match side {
            Side::Credit => amount,
            Side::Debit => -amount,
        };
        match kind {
            EntryKind::Capture => self.captured_minor += credit,
            EntryKind::Reversal => self.reversed_minor -= credit,
            EntryKind::Refund => self.refunded_minor -= credit,
            EntryKind::Remittance => self.remitted_minor -= credit,
            _ => self.other_minor += credit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_are_read_whole_and_bounded() {
        assert_eq!(
            parse_month("2026-11"),
            Some((date(2026, 11, 1), date(2026, 11, 30)))
        );
        assert_eq!(
            parse_month("2026-12"),
            Some((date(2026, 12, 1), date(2026, 12, 31)))
        );
        assert_eq!(
            parse_month("2028-02"),
            Some((date(2028, 2, 1), date(2028, 2, 29)))
        );
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "", "2026-00", "x-11",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        assert_eq!(month_of(date(2026, 1, 31)), "2026-01");
    }

    #[test]
    fn the_ledger_side_nets_each_kind_and_the_month_compares_with_it() {
        let mut l = LedgerSide::default();
        l.add(EntryKind::Capture, Side::Credit, 95_000);
        l.add(EntryKind::Reversal, Side::Debit, 20_000);
        l.add(EntryKind::Refund, Side::Debit, 5_000);
        l.add(EntryKind::Remittance, Side::Debit, 70_000);
        l.add(EntryKind::Adjustment, Side::Credit, 1);
        assert_eq!(l.collected_minor(), 75_000);
        assert_eq!(l.net_minor(), 1);
        let mut m = Month {
            ledger: l,
            ..Month::default()
        };
        let f = Figures {
            collected: Figure {
                count: 2,
                amount_minor: 75_000,
            },
            refunded: Figure {
                count: 1,
                amount_minor: 5_000,
            },
            remitted: Figure {
                count: 2,
                amount_minor: 70_000,
            },
            ..Figures::default()
        };
        m.cells.insert(("1030401".into(), Some("D04".into())), f);
        // The adjustment is on the ledger only: the net differs by it, and says so.
        assert_eq!(m.differences(), [0, 0, 0, -1]);
        assert!(!m.agrees());
        m.ledger.other_minor = 0;
        assert!(m.agrees());
        assert_eq!(m.by_subject()["1030401"].net_minor(), 0);
        assert_eq!(m.by_department()[&Some("D04")].collected.count, 2);
    }
}

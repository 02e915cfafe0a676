//! The reconciliation workspace's reading: for a run's exceptions, what the records they name
//! are (a payment's receipt, department, window and terminal; a line's terminal and
//! references; a file's merchant and date; a booking's date, bank reference and counterparty),
//! and each workable item's candidate counterparts ([`crate::recon::candidates`]) among the
//! free records of the pool.
//!
//! The pool is what the open (and claimed) exceptions of the active runs of D − 5 ..= D + 2
//! are about: payments missing in settlement, lines missing in the ledger or settled twice,
//! unexplained credits, files whose cash is missing or short. Records matched or named by
//! another resolution are taken. A handful of queries whatever the page holds (exceptions,
//! taken records, payments with their cards and receipts, lines, bookings, files), never one
//! per row.
//!
//! Depends on: [`super::candidates`], [`super::exceptions`] (status, rules), `db`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::candidates::{self, Candidate, Facts, Free, Item, Record};
use super::exceptions::{rules, ExceptionStatus};
use super::matcher::Category;
use super::runs::ExceptionRow;
use crate::bankfiles::stored;
use crate::db::schema::recon_exceptions;
use crate::db::{DbConn, DbError};

mod read;
use read::{read_bookings, read_files, read_lines, read_payments, taken};

/// A payment as a row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    /// Business date.
    pub date: NaiveDate,
    /// Amount in fen.
    pub amount_minor: i64,
    /// `series/number` of its receipt, if one was issued.
    pub receipt_no: Option<String>,
    /// Department code.
    pub department: String,
    /// Window code.
    pub window: String,
    /// POS or one-card terminal, if a card paid.
    pub terminal: Option<String>,
    /// Retrieval reference number, if any.
    pub rrn: Option<String>,
    /// Trace number, if any.
    pub trace: Option<String>,
    /// The payment's own reference.
    pub reference: String,
    /// One-card serial, if any.
    pub serial: Option<String>,
}

/// A settlement line as a row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    /// Settlement date.
    pub date: NaiveDate,
    /// Gross in fen.
    pub gross_minor: i64,
    /// Terminal.
    pub terminal: String,
    /// Retrieval reference number.
    pub rrn: Option<String>,
    /// Trace number.
    pub trace: Option<String>,
    /// The payment's reference as the acquirer carries it.
    pub own_ref: Option<String>,
    /// The file it came in.
    pub file_id: String,
}

/// A collection-account booking as a row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFacts {
    /// Booking date.
    pub date: NaiveDate,
    /// Signed amount in fen (credit positive).
    pub amount_minor: i64,
    /// The bank's reference.
    pub bank_ref: Option<String>,
    /// The counterparty's name, as the bank wrote it.
    pub counterparty: Option<String>,
    /// The narrative, as the bank wrote it.
    pub narrative: String,
}

/// A settlement file as a row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Merchant.
    pub merchant: Option<String>,
    /// Settlement date.
    pub date: Option<NaiveDate>,
    /// The file's name as uploaded.
    pub name: Option<String>,
    /// Format (spec id).
    pub spec: String,
}

/// What the workspace shows beside a run's exceptions.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Payments named by the rows and their candidates.
    pub payments: BTreeMap<String, PaymentFacts>,
    /// Settlement lines named.
    pub lines: BTreeMap<i64, LineFacts>,
    /// Bookings named.
    pub bookings: BTreeMap<i64, BookingFacts>,
    /// Files named.
    pub files: BTreeMap<String, FileFacts>,
    /// Each workable row's candidates, by exception id.
    pub candidates: BTreeMap<String, Vec<Candidate>>,
}

/// A pool exception as read.
#[derive(Queryable)]
struct PoolRow {
    id: String,
    business_date: NaiveDate,
    kind: String,
    status: String,
    payment_id: Option<String>,
    settlement_record_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
}

/// One exception with its kind and status read.
struct Pooled {
    id: String,
    day: NaiveDate,
    kind: Category,
    status: ExceptionStatus,
    payment_id: Option<String>,
    line_id: Option<i64>,
    file_id: Option<String>,
    booking_id: Option<i64>,
    ledger_minor: Option<i64>,
    settlement_minor: Option<i64>,
}

impl Pooled {
    fn of_row(e: &ExceptionRow, day: NaiveDate) -> Pooled {
        Pooled {
            id: e.id.clone(),
            day,
            kind: e.kind,
            status: e.status,
            payment_id: e.payment_id.clone(),
            line_id: e.settlement_record_id,
            file_id: e.file_id.clone(),
            booking_id: e.booking_id,
            ledger_minor: e.ledger_minor,
            settlement_minor: e.settlement_minor,
        }
    }

    fn workable(&self) -> bool {
        matches!(
            self.status,
            ExceptionStatus::Open | ExceptionStatus::Claimed
        )
    }

    /// What a credit must bring to settle the file (cash tier).
    fn shortfall(&self) -> Option<i64> {
        rules::shortfall(self.kind, self.ledger_minor, self.settlement_minor).ok()
    }
}

/// Reads the workspace of the run of `day` whose exceptions are `rows`.
pub fn load(
    conn: &mut DbConn,
    day: NaiveDate,
    rows: &[ExceptionRow],
) -> Result<Workspace, DbError> {
    let workable = [
        ExceptionStatus::Open.as_ref(),
        ExceptionStatus::Claimed.as_ref(),
    ];
    let pool: Vec<PoolRow> = recon_exceptions::table
        .filter(recon_exceptions::active.eq(true))
        .filter(recon_exceptions::status.eq_any(workable))
        .filter(recon_exceptions::business_date.between(
            day - Duration::days(candidates::CARRY_DAYS),
            day + Duration::days(candidates::AHEAD_DAYS),
        ))
        .select((
            recon_exceptions::id,
            recon_exceptions::business_date,
            recon_exceptions::kind,
            recon_exceptions::status,
            recon_exceptions::payment_id,
            recon_exceptions::settlement_record_id,
            recon_exceptions::file_id,
            recon_exceptions::booking_id,
            recon_exceptions::ledger_minor,
            recon_exceptions::settlement_minor,
        ))
        .order(recon_exceptions::id)
        .load(conn)?;
    let mut pooled = Vec::with_capacity(pool.len());
    for r in pool {
        pooled.push(Pooled {
            kind: stored::parse("recon_exceptions.kind", &r.kind)?,
            status: stored::parse("recon_exceptions.status", &r.status)?,
            id: r.id,
            day: r.business_date,
            payment_id: r.payment_id,
            line_id: r.settlement_record_id,
            file_id: r.file_id,
            booking_id: r.booking_id,
            ledger_minor: r.ledger_minor,
            settlement_minor: r.settlement_minor,
        });
    }
    let items: Vec<Pooled> = rows.iter().map(|e| Pooled::of_row(e, day)).collect();

    // Every record named, read once.
    let all = || items.iter().chain(pooled.iter());
    let payment_ids: BTreeSet<String> = all().filter_map(|x| x.payment_id.clone()).collect();
    let line_ids: BTreeSet<i64> = all().filter_map(|x| x.line_id).collect();
    let booking_ids: BTreeSet<i64> = all().filter_map(|x| x.booking_id).collect();
    let mut file_ids: BTreeSet<String> = all().filter_map(|x| x.file_id.clone()).collect();
    let mut ws = Workspace {
        payments: read_payments(conn, &payment_ids)?,
        lines: read_lines(conn, &line_ids)?,
        bookings: read_bookings(conn, &booking_ids)?,
        ..Workspace::default()
    };
    file_ids.extend(ws.lines.values().map(|l| l.file_id.clone()));
    ws.files = read_files(conn, &file_ids)?;
    let taken = taken(conn, &payment_ids, &line_ids, &booking_ids)?;

    let free: Vec<Free> = pooled
        .iter()
        .filter_map(|x| {
            let facts = match x.kind {
                Category::MissingInSettlement => ws.payment_facts(x.payment_id.as_deref()?),
                Category::MissingInLedger | Category::DuplicateInSettlement => {
                    ws.line_facts(x.line_id?)
                }
                Category::CashMissing | Category::CashMismatch if x.file_id.is_some() => {
                    ws.file_facts(x)
                }
                Category::UnexpectedStatementLine | Category::CashMismatch => {
                    ws.booking_facts(x.booking_id?)
                }
                _ => None,
            }?;
            Some(Free {
                facts,
                exception_id: Some(x.id.clone()),
                shortfall_minor: x.file_id.is_some().then(|| x.shortfall()).flatten(),
                settled_twice: x.kind == Category::DuplicateInSettlement,
            })
        })
        .collect();
    for x in items.iter().filter(|x| x.workable()) {
        let item = Item {
            exception_id: x.id.clone(),
            kind: x.kind,
            day: x.day,
            payment: x.payment_id.as_deref().and_then(|p| ws.payment_facts(p)),
            line: x.line_id.and_then(|l| ws.line_facts(l)),
            file: x.file_id.is_some().then(|| ws.file_facts(x)).flatten(),
            booking: x.booking_id.and_then(|b| ws.booking_facts(b)),
            shortfall_minor: x.shortfall(),
        };
        let found = candidates::candidates(&item, &free, &taken);
        if !found.is_empty() {
            ws.candidates.insert(x.id.clone(), found);
        }
    }
    Ok(ws)
}

impl Workspace {
    fn payment_facts(&self, id: &str) -> Option<Facts> {
        let p = self.payments.get(id)?;
        Some(Facts {
            record: Record::Payment(id.to_string()),
            date: p.date,
            amount_minor: p.amount_minor,
            terminal: p.terminal.clone(),
            refs: [
                Some(p.reference.clone()),
                p.rrn.clone(),
                p.trace.clone(),
                p.serial.clone(),
            ]
            .into_iter()
            .flatten()
            .collect(),
            narrative: None,
        })
    }

    fn line_facts(&self, id: i64) -> Option<Facts> {
        let l = self.lines.get(&id)?;
        Some(Facts {
            record: Record::Line(id),
            date: l.date,
            amount_minor: l.gross_minor,
            terminal: Some(l.terminal.clone()),
            refs: [l.rrn.clone(), l.trace.clone(), l.own_ref.clone()]
                .into_iter()
                .flatten()
                .collect(),
            narrative: None,
        })
    }

    fn booking_facts(&self, id: i64) -> Option<Facts> {
        let b = self.bookings.get(&id)?;
        Some(Facts {
            record: Record::Booking(id),
            date: b.date,
            amount_minor: b.amount_minor,
            terminal: None,
            refs: b.bank_ref.iter().cloned().collect(),
            narrative: Some(format!(
                "{} {}",
                b.narrative,
                b.counterparty.as_deref().unwrap_or_default()
            )),
        })
    }

    fn file_facts(&self, x: &Pooled) -> Option<Facts> {
        let id = x.file_id.as_deref()?;
        let f = self.files.get(id)?;
        Some(Facts {
            record: Record::File(id.to_string()),
            // A carried file is within reach of the run that found its cash missing, not of
            // its settlement date (it may be older than the reach).
            date: x.day,
            amount_minor: x.ledger_minor.unwrap_or_default(),
            terminal: None,
            refs: f.merchant.iter().cloned().collect(),
            narrative: None,
        })
    }
}

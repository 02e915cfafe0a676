//! The rows of an import waiting for their chunk to be written: each record the reader hands
//! over becomes the typed row of its table, and [`Pending::flush`] writes them (statement
//! lines first claimed by their identity, [`super::lines`]).
//!
//! Depends on: `db`, and the writers of this module.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::{bulk, lines, to_i64};
use crate::bankfiles::records::Record;
use crate::db::schema::{bank_statements, settlement_records, statement_bookings};
use crate::db::DbConn;

/// Rows waiting to be written.
#[derive(Default)]
pub(super) struct Pending {
    settlement: Vec<SettlementRow>,
    bookings: Vec<BookingRow>,
    /// The identities of `bookings`, in the same order.
    identities: Vec<String>,
    statements: Vec<StatementRow>,
    /// Numbers identical statement lines of the file.
    occurrences: lines::Occurrences,
    /// Statement lines stored.
    pub(super) lines_new: u64,
    /// Statement lines another file already had (not stored).
    pub(super) lines_known: u64,
}

pub(super) type SettlementRow = (
    diesel::dsl::Eq<settlement_records::file_id, String>,
    diesel::dsl::Eq<settlement_records::line_no, i64>,
    diesel::dsl::Eq<settlement_records::kind, &'static str>,
    diesel::dsl::Eq<settlement_records::merchant, String>,
    diesel::dsl::Eq<settlement_records::terminal, String>,
    diesel::dsl::Eq<settlement_records::batch, Option<String>>,
    diesel::dsl::Eq<settlement_records::trace, Option<String>>,
    diesel::dsl::Eq<settlement_records::rrn, Option<String>>,
    diesel::dsl::Eq<settlement_records::auth_code, Option<String>>,
    diesel::dsl::Eq<settlement_records::masked_card, Option<String>>,
    diesel::dsl::Eq<settlement_records::gross_minor, i64>,
    diesel::dsl::Eq<settlement_records::fee_minor, i64>,
    diesel::dsl::Eq<settlement_records::net_minor, i64>,
    diesel::dsl::Eq<settlement_records::currency, String>,
    diesel::dsl::Eq<settlement_records::txn_time, NaiveDateTime>,
    diesel::dsl::Eq<settlement_records::settlement_date, NaiveDate>,
    diesel::dsl::Eq<settlement_records::original_ref, Option<String>>,
    diesel::dsl::Eq<settlement_records::own_ref, Option<String>>,
);

pub(super) type BookingRow = (
    diesel::dsl::Eq<statement_bookings::file_id, String>,
    diesel::dsl::Eq<statement_bookings::line_no, i64>,
    diesel::dsl::Eq<statement_bookings::account, String>,
    diesel::dsl::Eq<statement_bookings::currency, String>,
    diesel::dsl::Eq<statement_bookings::booking_date, NaiveDate>,
    diesel::dsl::Eq<statement_bookings::value_date, Option<NaiveDate>>,
    diesel::dsl::Eq<statement_bookings::direction, &'static str>,
    diesel::dsl::Eq<statement_bookings::amount_minor, i64>,
    diesel::dsl::Eq<statement_bookings::reversal, bool>,
    diesel::dsl::Eq<statement_bookings::bank_ref, Option<String>>,
    diesel::dsl::Eq<statement_bookings::narrative, String>,
    diesel::dsl::Eq<statement_bookings::counterparty_account, Option<String>>,
    diesel::dsl::Eq<statement_bookings::counterparty_name, Option<String>>,
    diesel::dsl::Eq<statement_bookings::balance_after_minor, Option<i64>>,
    diesel::dsl::Eq<statement_bookings::identity, Option<String>>,
);

pub(super) type StatementRow = (
    diesel::dsl::Eq<bank_statements::file_id, String>,
    diesel::dsl::Eq<bank_statements::line_no, i64>,
    diesel::dsl::Eq<bank_statements::statement_id, String>,
    diesel::dsl::Eq<bank_statements::account, String>,
    diesel::dsl::Eq<bank_statements::currency, String>,
    diesel::dsl::Eq<bank_statements::from_date, Option<NaiveDate>>,
    diesel::dsl::Eq<bank_statements::to_date, Option<NaiveDate>>,
    diesel::dsl::Eq<bank_statements::opening_minor, Option<i64>>,
    diesel::dsl::Eq<bank_statements::closing_minor, Option<i64>>,
    diesel::dsl::Eq<bank_statements::credit_count, i64>,
    diesel::dsl::Eq<bank_statements::credit_minor, i64>,
    diesel::dsl::Eq<bank_statements::debit_count, i64>,
    diesel::dsl::Eq<bank_statements::debit_minor, i64>,
);

impl Pending {
    pub(super) fn push(&mut self, file_id: &str, record: Record) {
        match record {
            Record::Settlement(s) => self.settlement.push((
                settlement_records::file_id.eq(file_id.to_string()),
                settlement_records::line_no.eq(to_i64(s.line)),
                settlement_records::kind.eq::<&'static str>(s.kind.into()),
                settlement_records::merchant.eq(s.merchant),
                settlement_records::terminal.eq(s.terminal),
                settlement_records::batch.eq(s.batch),
                settlement_records::trace.eq(s.trace),
                settlement_records::rrn.eq(s.rrn),
                settlement_records::auth_code.eq(s.auth_code),
                settlement_records::masked_card.eq(s.masked_card),
                settlement_records::gross_minor.eq(s.gross_minor),
                settlement_records::fee_minor.eq(s.fee_minor),
                settlement_records::net_minor.eq(s.net_minor),
                settlement_records::currency.eq(s.currency),
                settlement_records::txn_time.eq(s.txn_time),
                settlement_records::settlement_date.eq(s.settlement_date),
                settlement_records::original_ref.eq(s.original_ref),
                settlement_records::own_ref.eq(s.own_ref),
            )),
            Record::Booking(b) => {
                let identity = self.occurrences.identity(&b);
                self.identities.push(identity.clone());
                self.bookings.push((
                    statement_bookings::file_id.eq(file_id.to_string()),
                    statement_bookings::line_no.eq(to_i64(b.line)),
                    statement_bookings::account.eq(b.account),
                    statement_bookings::currency.eq(b.currency),
                    statement_bookings::booking_date.eq(b.booking_date),
                    statement_bookings::value_date.eq(b.value_date),
                    statement_bookings::direction.eq::<&'static str>(b.direction.into()),
                    statement_bookings::amount_minor.eq(b.amount_minor),
                    statement_bookings::reversal.eq(b.reversal),
                    statement_bookings::bank_ref.eq(b.bank_ref),
                    statement_bookings::narrative.eq(b.narrative),
                    statement_bookings::counterparty_account.eq(b.counterparty_account),
                    statement_bookings::counterparty_name.eq(b.counterparty_name),
                    statement_bookings::balance_after_minor.eq(b.balance_after_minor),
                    statement_bookings::identity.eq(Some(identity)),
                ))
            }
            Record::Statement(s) => self.statements.push((
                bank_statements::file_id.eq(file_id.to_string()),
                bank_statements::line_no.eq(to_i64(s.line)),
                bank_statements::statement_id.eq(s.statement_id),
                bank_statements::account.eq(s.account),
                bank_statements::currency.eq(s.currency),
                bank_statements::from_date.eq(s.from_date),
                bank_statements::to_date.eq(s.to_date),
                bank_statements::opening_minor.eq(s.opening_minor),
                bank_statements::closing_minor.eq(s.closing_minor),
                bank_statements::credit_count.eq(to_i64(s.credit_count)),
                bank_statements::credit_minor.eq(s.credit_minor),
                bank_statements::debit_count.eq(to_i64(s.debit_count)),
                bank_statements::debit_minor.eq(s.debit_minor),
            )),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.settlement.len() + self.bookings.len() + self.statements.len()
    }

    pub(super) fn flush(
        &mut self,
        conn: &mut DbConn,
        file_id: &str,
    ) -> Result<(), diesel::result::Error> {
        if !self.settlement.is_empty() {
            bulk::settlement(conn, &mut self.settlement)?;
        }
        if !self.bookings.is_empty() {
            let new = lines::claim(conn, file_id, &self.identities)?;
            let mut is_new = new.iter();
            // only the lines whose identity this file now holds are stored
            self.bookings
                .retain(|_| is_new.next().copied().unwrap_or(false));
            let stored = self.bookings.len() as u64;
            self.lines_new += stored;
            self.lines_known += self.identities.len() as u64 - stored;
            bulk::bookings(conn, &mut self.bookings)?;
            self.identities.clear();
        }
        if !self.statements.is_empty() {
            bulk::statements(conn, &mut self.statements)?;
        }
        Ok(())
    }
}

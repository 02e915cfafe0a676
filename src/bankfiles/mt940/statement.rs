//! A statement's bookings and end: each pending `:61:` parsed, dated and added up as it is
//! handed on, the closing balance checked against the running total, and the summary emitted.
//!
//! Depends on: [`crate::bankfiles::records`].

use chrono::Days;

use super::details::read_details;
use super::values::{fmt_minor, parse_61};
use super::{Balance, Mt940Document, Parser, Previous, Stage, Stmt, BOOKING_DATE_TOLERANCE_DAYS};
use crate::bankfiles::records::{
    Direction, ReadError, Record, Sink, StatementBooking, StatementSummary,
};

impl Parser {
    /// Parses, checks and emits the pending booking, if any.
    pub(super) fn flush_entry(&mut self, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let Some(stmt) = &mut self.stmt else {
            return Ok(());
        };
        let Some(entry) = stmt.pending.take() else {
            return Ok(());
        };
        let (Some(opening), Some(account)) = (&stmt.opening, &stmt.account) else {
            return Err(ReadError::corrupt(
                entry.line,
                None,
                ":61: before the opening balance",
            ));
        };
        let e = parse_61(&entry.text, entry.value_col, &opening.currency)
            .map_err(|(c, m)| ReadError::corrupt(entry.line, Some(c), m))?;
        let earliest = opening
            .date
            .checked_sub_days(Days::new(BOOKING_DATE_TOLERANCE_DAYS))
            .unwrap_or(opening.date);
        if e.booking_date < earliest {
            return Err(ReadError::corrupt(
                entry.line,
                Some(e.booking_col),
                format!(
                    "booking date {} is more than {BOOKING_DATE_TOLERANCE_DAYS} days before the \
                     opening balance date {}",
                    e.booking_date, opening.date
                ),
            ));
        }
        if stmt.latest_booking.is_none_or(|(d, _)| e.booking_date > d) {
            stmt.latest_booking = Some((e.booking_date, entry.line));
        }
        let overflow = || ReadError::corrupt(entry.line, None, "statement totals overflow");
        stmt.running = stmt
            .running
            .checked_add(e.direction.signed(e.amount_minor))
            .ok_or_else(overflow)?;
        match e.direction {
            Direction::Credit => {
                stmt.credit_count = stmt.credit_count.saturating_add(1);
                stmt.credit_minor = stmt
                    .credit_minor
                    .checked_add(e.amount_minor)
                    .ok_or_else(overflow)?;
            }
            Direction::Debit => {
                stmt.debit_count = stmt.debit_count.saturating_add(1);
                stmt.debit_minor = stmt
                    .debit_minor
                    .checked_add(e.amount_minor)
                    .ok_or_else(overflow)?;
            }
        }
        let details = entry.details.map(|d| d.lines).unwrap_or_default();
        let (narrative, counterparty_account, counterparty_name) =
            read_details(&details, entry.supplementary.as_deref());
        let booking = StatementBooking {
            line: entry.line,
            account: account.clone(),
            currency: opening.currency.clone(),
            booking_date: e.booking_date,
            value_date: Some(e.value_date),
            direction: e.direction,
            amount_minor: e.amount_minor,
            reversal: e.reversal,
            bank_ref: e.bank_ref,
            narrative,
            counterparty_account,
            counterparty_name,
            balance_after_minor: None,
        };
        self.doc.entries = self.doc.entries.saturating_add(1);
        sink(Record::Booking(booking))
    }

    /// Emits the summary of a finished statement (its checks passed at `:62F:`).
    pub(super) fn end_statement(&mut self, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        self.flush_entry(sink)?;
        let Some(stmt) = self.stmt.take() else {
            return Ok(());
        };
        let (Some(opening), Some(closing), Some(account)) =
            (stmt.opening, stmt.closing, stmt.account)
        else {
            return Err(ReadError::corrupt(
                stmt.line,
                None,
                "statement lacks :25:, :60F: or :62F:",
            ));
        };
        let statement_id = match &stmt.number {
            Some(n) => format!("{}/{n}", stmt.reference),
            None => stmt.reference.clone(),
        };
        self.previous = Some(Previous {
            line: closing.line,
            account: account.clone(),
            currency: closing.currency.clone(),
            closing_minor: closing.signed_minor,
        });
        self.doc.statements = self.doc.statements.saturating_add(1);
        sink(Record::Statement(StatementSummary {
            line: stmt.line,
            statement_id,
            account,
            currency: opening.currency,
            from_date: Some(opening.date),
            to_date: Some(closing.date),
            opening_minor: Some(opening.signed_minor),
            closing_minor: Some(closing.signed_minor),
            credit_count: stmt.credit_count,
            credit_minor: stmt.credit_minor,
            debit_count: stmt.debit_count,
            debit_minor: stmt.debit_minor,
        }))
    }

    pub(super) fn finish(mut self, sink: &mut Sink<'_>) -> Result<Mt940Document, ReadError> {
        let last = self.last_line.max(1);
        if let Some(stmt) = &self.stmt {
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    last,
                    None,
                    format!(
                        "file ends inside the statement that starts on line {} (no closing \
                         balance :62F:/:62M:); truncated?",
                        stmt.line
                    ),
                ));
            }
        }
        if let Some(open) = self.open_block4 {
            return Err(ReadError::corrupt(
                last,
                None,
                format!("file ends inside the SWIFT block {{4: opened on line {open} (no -}})"),
            ));
        }
        if let Some((open, _)) = self.open_soh {
            return Err(ReadError::corrupt(
                last,
                None,
                format!(
                    "file ends inside the message started by SOH (0x01) on line {open} (no ETX \
                     0x03); truncated?"
                ),
            ));
        }
        self.end_statement(sink)?;
        if let Some(h) = self.header_line {
            return Err(ReadError::corrupt(
                last,
                None,
                format!("file ends after header lines (line {h}) without a statement; truncated?"),
            ));
        }
        if self.doc.statements == 0 {
            return Err(ReadError::corrupt(
                last,
                None,
                "no MT940 statement in the file",
            ));
        }
        Ok(self.doc)
    }
}

/// Closing-balance checks: currency, dates, arithmetic.
pub(super) fn check_closing(stmt: &Stmt, bal: &Balance, vcol: u64) -> Result<(), ReadError> {
    let line = bal.line;
    let Some(opening) = &stmt.opening else {
        return Err(ReadError::corrupt(
            line,
            None,
            "closing balance without opening balance",
        ));
    };
    if bal.currency != opening.currency {
        return Err(ReadError::corrupt(
            line,
            Some(vcol.saturating_add(7)),
            format!(
                "closing balance currency {} differs from the opening balance's {} (line {})",
                bal.currency, opening.currency, opening.line
            ),
        ));
    }
    if bal.date < opening.date {
        return Err(ReadError::corrupt(
            line,
            Some(vcol.saturating_add(1)),
            format!(
                "closing balance date {} is before the opening balance date {} (line {})",
                bal.date, opening.date, opening.line
            ),
        ));
    }
    if let Some((latest, at)) = stmt.latest_booking {
        let limit = bal
            .date
            .checked_add_days(Days::new(BOOKING_DATE_TOLERANCE_DAYS))
            .unwrap_or(bal.date);
        if latest > limit {
            return Err(ReadError::corrupt(
                at,
                None,
                format!(
                    "booking date {latest} is more than {BOOKING_DATE_TOLERANCE_DAYS} days after \
                     the closing balance date {} (line {line})",
                    bal.date
                ),
            ));
        }
    }
    if stmt.running != bal.signed_minor {
        let cur = &bal.currency;
        return Err(ReadError::corrupt(
            line,
            Some(vcol),
            format!(
                "closing balance {} {cur} does not agree: opening {} + credits {} - debits {} = \
                 {} {cur}",
                fmt_minor(bal.signed_minor, cur),
                fmt_minor(opening.signed_minor, cur),
                fmt_minor(stmt.credit_minor, cur),
                fmt_minor(stmt.debit_minor, cur),
                fmt_minor(stmt.running, cur),
            ),
        ));
    }
    Ok(())
}

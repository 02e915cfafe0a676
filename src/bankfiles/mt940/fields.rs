//! The strict parser's fields: one function per MT940 tag (`:20:`, `:21:`, `:25:`, `:28C:`,
//! `:60F:`, `:61:`, `:86:`, `:62F:`, `:64:`, `:65:`), dispatched from [`Parser::field`], each
//! checking that it comes in its place in the statement. `:86:` has three places: a booking's
//! details (after its `:61:`, several in a row joined), and the statement's own information
//! after the opening balance or after the closing balances.
//!
//! Depends on: [`crate::bankfiles::records`].

use super::statement::check_closing;
use super::values::{check_text, fmt_minor, parse_balance};
use super::{Details, Parser, PendingEntry, Previous, Stage, Stmt};
use crate::bankfiles::records::{ReadError, Sink};

/// One field as it starts on its line.
struct Field<'a> {
    line: u64,
    tag: &'a str,
    value: &'a str,
    /// Column of the value's first byte.
    vcol: u64,
    /// Column of the tag's opening `:`.
    tag_col: Option<u64>,
}

impl Field<'_> {
    /// Refuses the field when `ok` is false: it is out of place, `what` says where it belongs.
    fn order(&self, ok: bool, what: &str) -> Result<(), ReadError> {
        if ok {
            Ok(())
        } else {
            Err(ReadError::corrupt(
                self.line,
                self.tag_col,
                format!(":{}: out of place ({what})", self.tag),
            ))
        }
    }
}

impl Parser {
    /// A field `:tag:value` starting on `line`, its value at column `vcol`.
    pub(super) fn field(
        &mut self,
        line: u64,
        tag: &str,
        value: &str,
        vcol: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let tag_col = Some(vcol.saturating_sub(u64::try_from(tag.len()).unwrap_or(0) + 2));
        let f = Field {
            line,
            tag,
            value,
            vcol,
            tag_col,
        };
        if tag == "20" {
            return self.reference_20(&f, sink);
        }
        if tag == "86" && self.entry_details_86(&f)? {
            return Ok(());
        }
        // Any other field ends a pending booking.
        self.flush_entry(sink)?;
        let previous = &self.previous;
        let Some(stmt) = &mut self.stmt else {
            return Err(ReadError::corrupt(
                line,
                tag_col,
                format!(":{tag}: outside a statement (a statement starts with :20:)"),
            ));
        };
        // A field ends the statement-level `:86:` being read; after the closing ones only
        // another `:86:` may follow.
        if let Some(_done) = stmt.info.take() {
            if tag != "86" && stmt.stage == Stage::Trailer {
                return Err(ReadError::corrupt(
                    line,
                    tag_col,
                    format!(":{tag}: after the closing :86: of the statement"),
                ));
            }
        }
        match tag {
            "21" => stmt.related_21(&f),
            "25" => stmt.account_25(&f),
            "28" | "28C" => stmt.number_28c(&f),
            "60F" | "60M" => stmt.opening_60(&f, previous.as_ref()),
            "61" => stmt.entry_61(&f),
            "86" => stmt.info_86(&f),
            "62F" | "62M" => stmt.closing_62(&f),
            "64" | "65" => stmt.later_balance_64_65(&f),
            _ => Err(ReadError::corrupt(
                line,
                tag_col,
                format!("unknown field :{tag}: in an MT940 statement"),
            )),
        }
    }

    /// `:20:` ends the statement before (which must be complete) and starts a new one.
    fn reference_20(&mut self, f: &Field<'_>, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        if let Some(stmt) = &self.stmt {
            if stmt.stage < Stage::Closing {
                return Err(ReadError::corrupt(
                    f.line,
                    f.tag_col,
                    format!(
                        "new statement (:20:) before the closing balance (:62F:/:62M:) of \
                         the statement that starts on line {}",
                        stmt.line
                    ),
                ));
            }
        }
        self.end_statement(sink)?;
        let reference = f.value.trim();
        check_text(f.line, f.vcol, reference, 16, ":20: transaction reference")?;
        self.header_line = None;
        self.stmt = Some(Stmt {
            line: f.line,
            reference: reference.to_owned(),
            account: None,
            number: None,
            stage: Stage::Reference,
            opening: None,
            closing: None,
            pending: None,
            info: None,
            running: 0,
            credit_count: 0,
            credit_minor: 0,
            debit_count: 0,
            debit_minor: 0,
            latest_booking: None,
        });
        Ok(())
    }

    /// `:86:` right after a `:61:` (or after that booking's `:86:`) is that booking's
    /// details; returns whether it was.
    fn entry_details_86(&mut self, f: &Field<'_>) -> Result<bool, ReadError> {
        if let Some(entry) = self.stmt.as_mut().and_then(|s| s.pending.as_mut()) {
            match &mut entry.details {
                None => entry.details = Some(Details::new(f.line, f.value)?),
                Some(details) => details.push(f.line, f.value)?,
            }
            return Ok(true);
        }
        Ok(false)
    }
}

impl Stmt {
    /// `:21:` related reference.
    fn related_21(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        f.order(self.stage == Stage::Reference, "expected right after :20:")?;
        check_text(f.line, f.vcol, f.value.trim(), 16, ":21: related reference")?;
        self.stage = Stage::Related;
        Ok(())
    }

    /// `:25:` account.
    fn account_25(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        f.order(
            self.stage <= Stage::Related,
            "expected once, after :20:/:21:",
        )?;
        let account = f.value.trim();
        check_text(f.line, f.vcol, account, 35, ":25: account")?;
        self.account = Some(account.to_owned());
        self.stage = Stage::Account;
        Ok(())
    }

    /// `:28:` / `:28C:` statement number (`digits[/digits]`).
    fn number_28c(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        f.order(self.stage == Stage::Account, "expected once, after :25:")?;
        let number = f.value.trim();
        check_text(f.line, f.vcol, number, 11, "statement number")?;
        let slashes = number.bytes().filter(|&c| c == b'/').count();
        if slashes > 1 || !number.bytes().all(|c| c.is_ascii_digit() || c == b'/') {
            return Err(ReadError::corrupt(
                f.line,
                Some(f.vcol),
                format!("statement number '{number}' is not digits[/digits]"),
            ));
        }
        self.number = Some(number.to_owned());
        self.stage = Stage::Number;
        Ok(())
    }

    /// `:60F:` / `:60M:` opening balance, which must continue the previous statement of the
    /// same account and currency.
    fn opening_60(&mut self, f: &Field<'_>, previous: Option<&Previous>) -> Result<(), ReadError> {
        f.order(
            self.stage == Stage::Account || self.stage == Stage::Number,
            "expected once, after :25: and :28C:",
        )?;
        let bal = parse_balance(f.line, f.value, f.vcol, f.tag)?;
        let account = self.account.clone().unwrap_or_default();
        if let Some(prev) = previous {
            if prev.account == account
                && prev.currency == bal.currency
                && prev.closing_minor != bal.signed_minor
            {
                return Err(ReadError::corrupt(
                    f.line,
                    Some(f.vcol),
                    format!(
                        "opening balance {} {} does not continue the closing balance {} \
                         of the previous statement for account {account} (line {})",
                        fmt_minor(bal.signed_minor, &bal.currency),
                        bal.currency,
                        fmt_minor(prev.closing_minor, &prev.currency),
                        prev.line
                    ),
                ));
            }
        }
        self.running = bal.signed_minor;
        self.opening = Some(bal);
        self.stage = Stage::Opening;
        Ok(())
    }

    /// `:61:` booking, kept pending until the next field (its `:86:` may follow).
    fn entry_61(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        f.order(
            self.stage == Stage::Opening || self.stage == Stage::Entries,
            "expected after the opening balance :60F:/:60M:",
        )?;
        self.pending = Some(PendingEntry {
            line: f.line,
            value_col: f.vcol,
            text: f.value.to_owned(),
            supplementary: None,
            details: None,
        });
        self.stage = Stage::Entries;
        Ok(())
    }

    /// `:86:` not after a `:61:`: the statement's own information, right after the opening
    /// balance (before the first `:61:`) or after the closing balances; several in a row.
    fn info_86(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        if self.stage == Stage::Opening || self.stage >= Stage::Closing {
            self.info = Some(Details::new(f.line, f.value)?);
            if self.stage >= Stage::Closing {
                self.stage = Stage::Trailer;
            }
            Ok(())
        } else {
            Err(ReadError::corrupt(
                f.line,
                f.tag_col,
                ":86: out of place (expected after the opening balance, right after a :61:, \
                 or after the closing balances)",
            ))
        }
    }

    /// `:62F:` / `:62M:` closing balance, checked against the opening and the bookings.
    fn closing_62(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        f.order(
            self.stage == Stage::Opening || self.stage == Stage::Entries,
            "expected once, after the opening balance and the entries",
        )?;
        let bal = parse_balance(f.line, f.value, f.vcol, f.tag)?;
        check_closing(self, &bal, f.vcol)?;
        self.closing = Some(bal);
        self.stage = Stage::Closing;
        Ok(())
    }

    /// `:64:` available and `:65:` forward available balances: in the statement's currency.
    fn later_balance_64_65(&mut self, f: &Field<'_>) -> Result<(), ReadError> {
        let tag = f.tag;
        let ok = if tag == "64" {
            self.stage == Stage::Closing
        } else {
            self.stage >= Stage::Closing && self.stage <= Stage::Forward
        };
        f.order(ok, "expected after the closing balance")?;
        let bal = parse_balance(f.line, f.value, f.vcol, tag)?;
        let currency = self.opening.as_ref().map(|b| b.currency.as_str());
        if currency != Some(bal.currency.as_str()) {
            return Err(ReadError::corrupt(
                f.line,
                Some(f.vcol.saturating_add(7)),
                format!(
                    ":{tag}: currency {} differs from the opening balance's",
                    bal.currency
                ),
            ));
        }
        self.stage = if tag == "64" {
            Stage::Available
        } else {
            Stage::Forward
        };
        Ok(())
    }
}

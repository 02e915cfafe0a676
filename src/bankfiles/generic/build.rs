//! Building canonical records: each canonical value taken from the item, a header, the file
//! name or a constant, and an item turned into a settlement record or a statement booking with
//! the rules every one obeys (net = gross − fee, signs by kind, one of debit and credit).
//!
//! Depends on: [`crate::bankfiles::records`], [`crate::bankfiles::spec`], `crate::money`.

use chrono::NaiveDate;

use super::{corrupt, Source, State, Value, ABSENT, C};
use crate::bankfiles::records::{
    Direction, ReadError, Record, SettlementKind, SettlementRecord, Sink, StatementBooking,
};
use crate::bankfiles::spec::{Check, Kind, Layout, NamePart, Produces, Role};
use crate::money::format_minor;

impl State<'_> {
    /// A canonical value for the current item. Inlined: at each call site the name is a
    /// constant, so the branch on where it comes from is always taken the same way (as one
    /// shared function, its jump was mispredicted across the names of every line).
    #[inline(always)]
    pub(super) fn canonical<'v>(
        &'v self,
        c: C,
        item: &'v [Value<'v>],
        line: u64,
    ) -> Result<&'v Value<'v>, ReadError> {
        match self.sources.get(c as usize) {
            Some(Source::Item(i)) => Ok(item.get(*i).unwrap_or(&ABSENT)),
            Some(Source::Context(k, f)) => match self.context[*k].get(*f) {
                Some(v) => Ok(v),
                None => Err(corrupt(
                    line,
                    None,
                    format!(
                        "the {} record that gives {} must come before this line",
                        self.spec.kinds[*k].name,
                        c.name()
                    ),
                )),
            },
            Some(Source::Named) => Ok(self.named_values.get(c as usize).unwrap_or(&ABSENT)),
            _ => Ok(&ABSENT),
        }
    }

    /// Keeps a context/control record's values, or turns an item into a canonical record.
    pub(super) fn take(
        &mut self,
        kind_index: usize,
        values: &mut Vec<Value<'_>>,
        line: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let kind = &self.spec.kinds[kind_index];
        if kind.role != Role::Item {
            self.context[kind_index] = values.drain(..).map(Value::into_owned).collect();
            self.context_line[kind_index] = line;
            return Ok(());
        }
        self.items += 1;
        let record = match self.spec.produces {
            Produces::Settlement => Record::Settlement(self.settlement(kind, values, line)?),
            Produces::Statement => {
                let booking = self.booking(kind, values, line)?;
                if self
                    .spec
                    .checks
                    .iter()
                    .any(|c| matches!(c, Check::BalanceChain))
                {
                    self.chain(&booking)?;
                }
                Record::Booking(booking)
            }
        };
        self.account_checks(&record);
        sink(record)
    }

    /// An optional field's text (`None` when the file does not carry it).
    #[inline]
    pub(super) fn text(
        &self,
        c: C,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<Option<String>, ReadError> {
        match self.canonical(c, item, line)? {
            Value::Absent => Ok(None),
            // Most values are text: copied as they are, which is what `display` gives them.
            Value::Text(t) => Ok(Some(String::from(t.as_ref()))),
            v => Ok(Some(v.display())),
        }
    }

    /// A required field's text: absent is a corrupt file.
    #[inline]
    pub(super) fn required_text(
        &self,
        c: C,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<String, ReadError> {
        self.text(c, item, line)?
            .ok_or_else(|| corrupt(line, None, self.missing(c.name())))
    }

    pub(super) fn missing(&self, name: &str) -> String {
        let from_name = self.spec.file_name.as_ref().is_some_and(|parts| {
            parts
                .iter()
                .any(|p| matches!(p, NamePart::Capture(c) if c == name))
        });
        match (&self.spec.file_name_pattern, from_name) {
            (Some(pattern), true) => format!(
                "{name} is missing: this format carries it only in the file name ({pattern}), which was not given or does not fit"
            ),
            _ => format!("{name} is missing"),
        }
    }

    #[inline]
    pub(super) fn int(
        &self,
        c: C,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<Option<i64>, ReadError> {
        let name = c.name();
        match self.canonical(c, item, line)? {
            Value::Int(i) => Ok(Some(*i)),
            Value::Absent => Ok(None),
            other => Err(corrupt(
                line,
                None,
                format!("{name} '{}' is not an amount", other.display()),
            )),
        }
    }

    #[inline]
    pub(super) fn date(
        &self,
        c: C,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<Option<NaiveDate>, ReadError> {
        let name = c.name();
        match self.canonical(c, item, line)? {
            Value::Date(d) => Ok(Some(*d)),
            Value::DateTime(d) => Ok(Some(d.date())),
            Value::Absent => Ok(None),
            other => Err(corrupt(
                line,
                None,
                format!("{name} '{}' is not a date", other.display()),
            )),
        }
    }

    pub(super) fn field_byte(&self, kind: &Kind, name: &str) -> Option<u64> {
        if self.spec.layout != Layout::Fixed {
            return None;
        }
        kind.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.position as u64)
    }

    pub(super) fn settlement(
        &self,
        kind: &Kind,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<SettlementRecord, ReadError> {
        let code = match self.canonical(C::Kind, item, line)? {
            Value::Text(t) => t.as_ref(),
            _ => "",
        };
        let settlement_kind = code.parse::<SettlementKind>().map_err(|_| {
            corrupt(
                line,
                self.field_byte(kind, "kind"),
                format!("'{code}' is not a transaction kind"),
            )
        })?;
        let (gross, fee, net) = self.settlement_amounts(kind, item, line, settlement_kind)?;
        let txn_time = match self.canonical(C::TxnTime, item, line)? {
            Value::DateTime(t) => *t,
            _ => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "txn_time"),
                    "txn_time is missing",
                ))
            }
        };
        let settlement_date = self
            .date(C::SettlementDate, item, line)?
            .ok_or_else(|| corrupt(line, None, "settlement_date is missing"))?;
        Ok(SettlementRecord {
            line,
            merchant: self.required_text(C::Merchant, item, line)?,
            terminal: self.required_text(C::Terminal, item, line)?,
            batch: self.text(C::Batch, item, line)?,
            trace: self.text(C::Trace, item, line)?,
            rrn: self.text(C::Rrn, item, line)?,
            auth_code: self.text(C::AuthCode, item, line)?,
            masked_card: self
                .text(C::MaskedCard, item, line)?
                .filter(|c| !c.is_empty()),
            kind: settlement_kind,
            gross_minor: gross,
            fee_minor: fee,
            net_minor: net,
            currency: self.required_text(C::Currency, item, line)?,
            txn_time,
            settlement_date,
            original_ref: self.text(C::OriginalRef, item, line)?,
            own_ref: self.text(C::OwnRef, item, line)?,
        })
    }

    /// Gross, fee and net of a settlement item: signed by its kind where the spec says so, net
    /// = gross − fee, a purchase positive and a void or refund negative.
    fn settlement_amounts(
        &self,
        kind: &Kind,
        item: &[Value<'_>],
        line: u64,
        settlement_kind: SettlementKind,
    ) -> Result<(i64, i64, i64), ReadError> {
        let required_int = |c: C| -> Result<i64, ReadError> {
            self.int(c, item, line)?.ok_or_else(|| {
                corrupt(
                    line,
                    self.field_byte(kind, c.name()),
                    format!("{} is missing", c.name()),
                )
            })
        };
        let fee = required_int(C::Fee)?;
        let mut net = required_int(C::Net)?;
        let mut gross = required_int(C::Gross)?;
        let code_sign = |other: i64| match settlement_kind {
            SettlementKind::Purchase => 1,
            SettlementKind::Void | SettlementKind::Refund => -1,
            SettlementKind::Adjustment => {
                if other < 0 {
                    -1
                } else {
                    1
                }
            }
        };
        if self.net_by_code {
            net *= code_sign(gross);
        }
        if self.gross_by_code {
            gross *= code_sign(net);
        }
        if gross.checked_sub(fee) != Some(net) {
            return Err(corrupt(
                line,
                self.field_byte(kind, "net"),
                format!(
                    "net {} is not the amount {} less the fee {}",
                    format_minor(net),
                    format_minor(gross),
                    format_minor(fee)
                ),
            ));
        }
        match settlement_kind {
            SettlementKind::Purchase if gross <= 0 => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "gross"),
                    "a purchase whose amount is not positive",
                ))
            }
            SettlementKind::Void | SettlementKind::Refund if gross >= 0 => {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "gross"),
                    format!("a {} whose amount is not negative", settlement_kind),
                ))
            }
            _ => {}
        }
        Ok((gross, fee, net))
    }

    pub(super) fn booking(
        &mut self,
        kind: &Kind,
        item: &[Value<'_>],
        line: u64,
    ) -> Result<StatementBooking, ReadError> {
        let (direction, amount) = if matches!(
            self.sources.get(C::Amount as usize),
            Some(Source::Item(_))
        ) {
            let amount = self.int(C::Amount, item, line)?.unwrap_or(0);
            let dir = self.required_text(C::Direction, item, line)?;
            let direction = dir.parse::<Direction>().map_err(|_| {
                corrupt(
                    line,
                    self.field_byte(kind, "direction"),
                    format!("'{dir}' is not credit or debit"),
                )
            })?;
            if amount < 0 {
                return Err(corrupt(
                    line,
                    self.field_byte(kind, "amount"),
                    "a negative amount with a direction",
                ));
            }
            (direction, amount)
        } else {
            let debit = self.int(C::Debit, item, line)?.unwrap_or(0);
            let credit = self.int(C::Credit, item, line)?.unwrap_or(0);
            match (debit, credit) {
                (d, 0) if d > 0 => (Direction::Debit, d),
                (0, c) if c > 0 => (Direction::Credit, c),
                _ => {
                    return Err(corrupt(
                        line,
                        None,
                        format!(
                            "a booking needs exactly one positive amount of debit and credit (debit {}, credit {})",
                            format_minor(debit),
                            format_minor(credit)
                        ),
                    ))
                }
            }
        };
        if amount == 0 {
            return Err(corrupt(line, None, "a booking of zero"));
        }
        let booking_date = self
            .date(C::BookingDate, item, line)?
            .ok_or_else(|| corrupt(line, None, "booking_date is missing"))?;
        let balance_after = self.int(C::BalanceAfter, item, line)?;
        let account = self.required_text(C::Account, item, line)?;
        let currency = self.required_text(C::Currency, item, line)?;
        Ok(StatementBooking {
            line,
            account,
            currency,
            booking_date,
            value_date: self.date(C::ValueDate, item, line)?,
            direction,
            amount_minor: amount,
            reversal: false,
            bank_ref: self.text(C::BankRef, item, line)?,
            narrative: self.text(C::Narrative, item, line)?.unwrap_or_default(),
            counterparty_account: self.text(C::CounterpartyAccount, item, line)?,
            counterparty_name: self.text(C::CounterpartyName, item, line)?,
            balance_after_minor: balance_after,
        })
    }
}

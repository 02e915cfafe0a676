//! The file's checks: record kinds in the spec's order, the control totals each item adds to,
//! balance continuity as bookings arrive, and at the end the trailer / footer totals compared
//! with what the items added up to, the file's facts and a statement's summary.
//!
//! Depends on: [`crate::bankfiles::records`], [`crate::bankfiles::spec`], `crate::money`.

use std::collections::BTreeMap;

use super::{corrupt, FileFacts, State, Value, C};
use crate::bankfiles::records::{
    Direction, ReadError, Record, Sink, StatementBooking, StatementSummary,
};
use crate::bankfiles::spec::{Check, Filter, Layout, Produces, Repeat, Role, SumOf};
use crate::money::format_minor;

impl State<'_> {
    /// Checks that a record of `kind_index` may come now.
    pub(super) fn admit(&mut self, kind_index: usize, line: u64) -> Result<(), ReadError> {
        let kinds = &self.spec.kinds;
        let name = &kinds[kind_index].name;
        if kind_index < self.cursor {
            return Err(corrupt(
                line,
                None,
                format!(
                    "a {name} record after the {} record",
                    kinds[self.cursor].name
                ),
            ));
        }
        let from = if self.seen[self.cursor] > 0 {
            self.cursor + 1
        } else {
            self.cursor
        };
        for skipped in kinds.get(from..kind_index).unwrap_or_default() {
            if skipped.repeat == Repeat::One {
                return Err(corrupt(
                    line,
                    None,
                    format!("a {name} record where the {} record belongs", skipped.name),
                ));
            }
        }
        if self.seen[kind_index] > 0 && kinds[kind_index].repeat != Repeat::Many {
            return Err(corrupt(line, None, format!("a second {name} record")));
        }
        self.cursor = kind_index;
        self.seen[kind_index] += 1;
        self.last_line = line;
        Ok(())
    }

    /// Updates the running totals the checks and the statement summary need.
    pub(super) fn account_checks(&mut self, record: &Record) {
        let (gross, fee, net, amount, direction) = match record {
            Record::Settlement(s) => (s.gross_minor, s.fee_minor, s.net_minor, 0, None),
            Record::Booking(b) => (0, 0, 0, b.amount_minor, Some(b.direction)),
            Record::Statement(_) => return,
        };
        for (acc, check) in self.check_acc.iter_mut().zip(&self.spec.checks) {
            let (filter, value) = match check {
                Check::Count { filter, .. } => (*filter, None),
                Check::Sum { of, filter, .. } => (
                    *filter,
                    Some(match of {
                        SumOf::Gross => gross,
                        SumOf::Fee => fee,
                        SumOf::Net => net,
                        SumOf::Amount => amount,
                    }),
                ),
                Check::BalanceChain => continue,
            };
            let v = value.unwrap_or(1);
            let admitted = match filter {
                Filter::All => true,
                Filter::Positive => v > 0,
                Filter::Negative => v < 0,
                Filter::Credit => direction == Some(Direction::Credit),
                Filter::Debit => direction == Some(Direction::Debit),
            };
            if admitted {
                *acc += i128::from(if value.is_some() { v } else { 1 });
            }
        }
        if let Record::Booking(b) = record {
            match b.direction {
                Direction::Credit => {
                    self.credit_count += 1;
                    self.credit_sum = self.credit_sum.saturating_add(b.amount_minor);
                }
                Direction::Debit => {
                    self.debit_count += 1;
                    self.debit_sum = self.debit_sum.saturating_add(b.amount_minor);
                }
            }
            if self.first_booking_line.is_none() {
                self.first_booking_line = Some(b.line);
                self.account = Some(b.account.clone());
                self.currency = Some(b.currency.clone());
            }
        }
    }

    /// Balance continuity, checked as each booking arrives (the reader calls it via `take`).
    pub(super) fn chain(&mut self, b: &StatementBooking) -> Result<(), ReadError> {
        let Some(after) = b.balance_after_minor else {
            return Err(corrupt(
                b.line,
                None,
                "the balance after the booking is missing",
            ));
        };
        let effect = b.direction.signed(b.amount_minor);
        match self.balance {
            None => self.opening = after.checked_sub(effect),
            Some(prev) => {
                if prev.checked_add(effect) != Some(after) {
                    return Err(corrupt(
                        b.line,
                        None,
                        format!(
                            "balance {} does not follow from the previous balance {} and this {} of {}",
                            format_minor(after),
                            format_minor(prev),
                            b.direction,
                            format_minor(b.amount_minor)
                        ),
                    ));
                }
            }
        }
        self.balance = Some(after);
        Ok(())
    }

    /// The spec's control checks: each stated count or total (in a context record) against
    /// what the items added up to.
    fn check_controls(&self) -> Result<(), ReadError> {
        let kinds = &self.spec.kinds;
        for (check, acc) in self.spec.checks.iter().zip(&self.check_acc) {
            let item = &kinds[self.spec.item].name;
            let which = |filter: &Filter| match filter {
                Filter::All => String::new(),
                Filter::Positive => "positive ".into(),
                Filter::Negative => "negative ".into(),
                Filter::Credit => "credit ".into(),
                Filter::Debit => "debit ".into(),
            };
            let (equals, absolute, money, what) = match check {
                Check::Count { equals, filter } => (
                    equals,
                    false,
                    false,
                    format!("the file has {{}} {}{item} records", which(filter)),
                ),
                Check::Sum {
                    of,
                    filter,
                    absolute,
                    equals,
                } => {
                    let of = match of {
                        SumOf::Gross => "amounts",
                        SumOf::Fee => "fees",
                        SumOf::Net => "net amounts",
                        SumOf::Amount => "amounts",
                    };
                    let abs = if *absolute { "without sign, " } else { "" };
                    (
                        equals,
                        *absolute,
                        true,
                        format!(
                            "the {}{item} records' {of} add up to {abs}{{}}",
                            which(filter)
                        ),
                    )
                }
                Check::BalanceChain => continue,
            };
            let (k, f) = *equals;
            let stated = match self.context[k].get(f) {
                Some(Value::Int(v)) => i128::from(*v),
                _ => 0,
            };
            let actual = if absolute { acc.abs() } else { *acc };
            if stated != actual {
                let show = |v: i128| {
                    if money {
                        format_minor(i64::try_from(v).unwrap_or(i64::MAX))
                    } else {
                        v.to_string()
                    }
                };
                let field = &kinds[k].fields[f];
                return Err(corrupt(
                    self.context_line[k].max(1),
                    (self.spec.layout == Layout::Fixed).then_some(field.position as u64),
                    format!(
                        "{} {} says {}, but {}",
                        kinds[k].name,
                        field.name,
                        show(stated),
                        what.replace("{}", &show(actual))
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self, sink: &mut Sink<'_>) -> Result<FileFacts, ReadError> {
        let kinds = &self.spec.kinds;
        let from = if self.seen[self.cursor] > 0 {
            self.cursor + 1
        } else {
            self.cursor
        };
        for missing in kinds.get(from..).unwrap_or_default() {
            if missing.repeat == Repeat::One {
                return Err(corrupt(
                    self.last_line.max(1),
                    None,
                    format!("the file ends without its {} record", missing.name),
                ));
            }
        }
        self.check_controls()?;
        let mut facts = FileFacts {
            values: BTreeMap::new(),
            items: self.items,
        };
        for (k, kind) in kinds.iter().enumerate() {
            if kind.role == Role::Context {
                for (field, value) in kind.fields.iter().zip(&self.context[k]) {
                    if *value != Value::Absent {
                        facts.values.insert(field.name.clone(), value.display());
                    }
                }
            }
        }
        for (k, v) in &self.named {
            facts.values.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if self.spec.produces == Produces::Statement {
            sink(Record::Statement(self.summary()?))?;
        }
        Ok(facts)
    }

    /// A statement file's summary: account, currency and period from the file, balances and
    /// totals from its bookings.
    fn summary(&mut self) -> Result<StatementSummary, ReadError> {
        let account = match self.account.take() {
            Some(a) => a,
            None => self.required_text(C::Account, &[], self.last_line)?,
        };
        let currency = match self.currency.take() {
            Some(c) => c,
            None => self.required_text(C::Currency, &[], self.last_line)?,
        };
        let from_date = self.date(C::FromDate, &[], self.last_line)?;
        let to_date = self.date(C::ToDate, &[], self.last_line)?;
        let statement_id = match self.text(C::StatementId, &[], self.last_line)? {
            Some(id) => id,
            None => format!(
                "{account}/{}-{}",
                from_date
                    .map(|d| d.format("%Y%m%d").to_string())
                    .unwrap_or_default(),
                to_date
                    .map(|d| d.format("%Y%m%d").to_string())
                    .unwrap_or_default()
            ),
        };
        Ok(StatementSummary {
            line: 1,
            statement_id,
            account,
            currency,
            from_date,
            to_date,
            opening_minor: self.opening,
            closing_minor: self.balance,
            credit_count: self.credit_count,
            credit_minor: self.credit_sum,
            debit_count: self.debit_count,
            debit_minor: self.debit_sum,
        })
    }
}

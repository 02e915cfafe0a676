//! The statement's balances (`Bal`) and its closing checks: one currency, `TxsSummry` totals
//! against all entries, opening + booked entries = closing.
//!
//! Depends on: [`crate::bankfiles::records`].

use super::values::{
    add, corrupt, fmt_minor, parse_amount, parse_count, parse_date, parse_dir, set_once, signed,
};
use super::*;
use crate::bankfiles::records::{parse_decimal_minor, ReadError};

impl StmtState {
    pub(super) fn agree_ccy(
        &mut self,
        ccy: &str,
        line: u64,
        what: &'static str,
    ) -> Result<(), ReadError> {
        match &self.ccy {
            None => {
                self.ccy = Some((ccy.to_string(), line, what));
                Ok(())
            }
            Some((c, _, _)) if c == ccy => Ok(()),
            Some((c, at, from)) => Err(corrupt(
                line,
                format!(
                    "{what} is in {ccy}, but this statement is in {c} (from {from} at line {at}); \
                     one statement's balances and entries must all be in one currency"
                ),
            )),
        }
    }

    pub(super) fn balance_part(
        &mut self,
        rest: &[&str],
        v: &str,
        line: u64,
        ccy: Option<&String>,
    ) -> Result<(), ReadError> {
        if rest.is_empty() {
            if let Some(b) = self.bal.take() {
                self.finish_balance(b)?;
            }
            return Ok(());
        }
        let Some(b) = self.bal.as_mut() else {
            return Ok(());
        };
        match rest {
            ["Tp", "CdOrPrtry", "Cd"] | ["Tp", "CdOrPrtry", "Prtry"] => set_once(&mut b.code, v),
            ["Amt"] => b.amount = Some(parse_amount(v, ccy, line, "balance amount")?),
            ["CdtDbtInd"] => b.dir = Some(parse_dir(v, line, "balance")?),
            ["Dt", "Dt"] | ["Dt", "DtTm"] => b.date = Some(parse_date(v, line, "balance date")?),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn finish_balance(&mut self, b: BalanceBuilder) -> Result<(), ReadError> {
        let code = b.code.unwrap_or_default();
        let amount = b
            .amount
            .ok_or_else(|| corrupt(b.line, format!("balance {code} has no amount (Amt)")))?;
        let what: &'static str = match code.as_str() {
            "OPBD" => "opening balance OPBD",
            "PRCD" => "previous closing balance PRCD",
            "CLBD" => "closing balance CLBD",
            _ => "a balance",
        };
        self.agree_ccy(&amount.ccy, amount.line, what)?;
        let dir = b.dir.ok_or_else(|| {
            corrupt(
                b.line,
                format!("balance {code} has no CdtDbtInd (credit or debit)"),
            )
        })?;
        let bal = Balance {
            code: code.clone(),
            signed: signed(dir, amount.minor),
            ccy: amount.ccy,
            line: amount.line,
            date: b.date,
        };
        let slot = match code.as_str() {
            "OPBD" => &mut self.opbd,
            "PRCD" => &mut self.prcd,
            "CLBD" => &mut self.clbd,
            _ => return Ok(()),
        };
        if let Some(prev) = slot {
            return Err(corrupt(
                bal.line,
                format!(
                    "a second {code} balance (the first is at line {})",
                    prev.line
                ),
            ));
        }
        *slot = Some(bal);
        Ok(())
    }

    pub(super) fn check_summary(&self, ccy: &str) -> Result<(), ReadError> {
        let s = &self.summary;
        let count = |stated: &Stated, actual: u64, what: &str| -> Result<(), ReadError> {
            if let Some((text, line)) = stated {
                let n = parse_count(text, *line, what)?;
                if n != actual {
                    return Err(corrupt(
                        *line,
                        format!("{what} says {n} entries, but the statement has {actual}"),
                    ));
                }
            }
            Ok(())
        };
        let sum = |stated: &Stated, actual: i64, what: &str| -> Result<(), ReadError> {
            if let Some((text, line)) = stated {
                let n = parse_decimal_minor(text, ccy, false)
                    .map_err(|e| corrupt(*line, format!("{what} {ccy}: {e}")))?;
                if n != actual {
                    return Err(corrupt(
                        *line,
                        format!(
                            "{what} is {text} {ccy}, but the statement's entries add up to {} {ccy}",
                            fmt_minor(actual, ccy)
                        ),
                    ));
                }
            }
            Ok(())
        };
        count(&s.ttl_nb, self.all_count, "TxsSummry TtlNtries/NbOfNtries")?;
        sum(&s.ttl_sum, self.all_abs, "TxsSummry TtlNtries/Sum")?;
        if let Some((text, line)) = &s.ttl_net {
            let n = parse_decimal_minor(text, ccy, false)
                .map_err(|e| corrupt(*line, format!("TxsSummry net total {ccy}: {e}")))?;
            let stated = match &s.ttl_net_dir {
                Some((d, dline)) => Some(signed(parse_dir(d, *dline, "TxsSummry net total")?, n)),
                None => None,
            };
            let ok = match stated {
                Some(x) => x == self.all_net,
                None => Some(n) == self.all_net.checked_abs(),
            };
            if !ok {
                return Err(corrupt(
                    *line,
                    format!(
                        "TxsSummry net total is {} {ccy}, but the statement's entries net to {} {ccy} \
                         (credits {} − debits {})",
                        fmt_minor(stated.unwrap_or(n), ccy),
                        fmt_minor(self.all_net, ccy),
                        fmt_minor(self.all_cdt.sum, ccy),
                        fmt_minor(self.all_dbt.sum, ccy)
                    ),
                ));
            }
        }
        count(
            &s.cdt_nb,
            self.all_cdt.count,
            "TxsSummry TtlCdtNtries/NbOfNtries",
        )?;
        sum(&s.cdt_sum, self.all_cdt.sum, "TxsSummry TtlCdtNtries/Sum")?;
        count(
            &s.dbt_nb,
            self.all_dbt.count,
            "TxsSummry TtlDbtNtries/NbOfNtries",
        )?;
        sum(&s.dbt_sum, self.all_dbt.sum, "TxsSummry TtlDbtNtries/Sum")?;
        Ok(())
    }

    pub(super) fn check_balances(&self, ccy: &str) -> Result<(), ReadError> {
        let (Some(open), Some(close)) = (
            self.opbd.as_ref().or(self.prcd.as_ref()),
            self.clbd.as_ref(),
        ) else {
            return Ok(());
        };
        let expected = add(open.signed, self.booked_net, close.line)?;
        if expected == close.signed {
            return Ok(());
        }
        // A closing balance that leaves out entries value-dated after its own date.
        if self.forward_net != 0 {
            let without = self
                .booked_net
                .checked_sub(self.forward_net)
                .and_then(|n| open.signed.checked_add(n));
            if without == Some(close.signed) {
                return Ok(());
            }
        }
        let _ = &open.ccy;
        Err(corrupt(
            close.line,
            format!(
                "closing balance {} {} {ccy} does not equal opening {} {} + booked entries {} = {}",
                close.code,
                fmt_minor(close.signed, ccy),
                open.code,
                fmt_minor(open.signed, ccy),
                fmt_minor(self.booked_net, ccy),
                fmt_minor(expected, ccy)
            ),
        ))
    }
}

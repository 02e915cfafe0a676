//! The entry (`Ntry`) and transaction-detail (`TxDtls`) builders: collecting an entry's values,
//! checking its batch and charges, and turning a finished entry into a [`StatementBooking`].
//!
//! Depends on: [`crate::bankfiles::records`].

use super::values::{
    add, corrupt, fmt_minor, parse_amount, parse_count, parse_date, parse_dir, set_once, signed,
};
use super::*;
use crate::bankfiles::records::{Direction, ReadError, Record, Sink, StatementBooking};

impl StmtState {
    pub(super) fn entry_part(
        &mut self,
        rest: &[&str],
        v: &str,
        line: u64,
        ccy: Option<&String>,
    ) -> Result<(), ReadError> {
        let Some(en) = self.entry.as_mut() else {
            return Ok(());
        };
        match rest {
            ["Amt"] => {
                let m = parse_amount(v, ccy, line, "entry amount")?;
                let c = m.ccy.clone();
                en.amount = Some(m);
                self.agree_ccy(&c, line, "the entry amount")?;
            }
            ["CdtDbtInd"] => en.dir = Some(parse_dir(v, line, "entry")?),
            ["RvslInd"] => {
                en.reversal = match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(corrupt(
                            line,
                            format!("RvslInd is '{other}', expected true or false"),
                        ))
                    }
                }
            }
            ["Sts"] | ["Sts", "Cd"] | ["Sts", "Prtry"] => set_once(&mut en.status, v),
            ["BookgDt", "Dt"] | ["BookgDt", "DtTm"] => {
                en.booking_date = Some(parse_date(v, line, "booking date (BookgDt)")?)
            }
            ["ValDt", "Dt"] | ["ValDt", "DtTm"] => {
                en.value_date = Some(parse_date(v, line, "value date (ValDt)")?)
            }
            ["AcctSvcrRef"] => set_once(&mut en.acct_svcr_ref, v),
            ["AddtlNtryInf"] => set_once(&mut en.addtl_inf, v),
            ["BkTxCd", "Prtry", "Cd"] => set_once(&mut en.prtry_code, v),
            ["BkTxCd", "Domn", "Cd"]
            | ["BkTxCd", "Domn", "Fmly", "Cd"]
            | ["BkTxCd", "Domn", "Fmly", "SubFmlyCd"]
                if !v.is_empty() && en.domain.len() < 3 =>
            {
                en.domain.push(v.to_string());
            }
            ["NtryDtls"] => {
                if let Some(g) = en.group.take() {
                    check_group(&g)?;
                }
            }
            ["NtryDtls", "Btch", "NbOfTxs"] => {
                let n = parse_count(v, line, "Btch/NbOfTxs")?;
                if let Some(g) = en.group.as_mut() {
                    g.nb_of_txs = Some((n, line));
                }
            }
            ["NtryDtls", "Btch", "TtlAmt"] => {
                let m = parse_amount(v, ccy, line, "Btch/TtlAmt")?;
                if let Some(g) = en.group.as_mut() {
                    g.ttl_amt = Some(m);
                }
            }
            ["NtryDtls", "TxDtls"] => en.close_tx()?,
            ["NtryDtls", "TxDtls", t @ ..] => en.tx_part(t, v, line, ccy)?,
            _ => {}
        }
        Ok(())
    }

    pub(super) fn charges_part(
        &mut self,
        ch: &[&str],
        v: &str,
        line: u64,
        ccy: Option<&String>,
    ) -> Result<(), ReadError> {
        if ch == ["Chrgs"] {
            if let Some(c) = self.charges.take() {
                check_charges(&c)?;
            }
            return Ok(());
        }
        let Some(c) = self.charges.as_mut() else {
            return Ok(());
        };
        match ch {
            ["Chrgs", "TtlChrgsAndTaxAmt"] => {
                c.total = Some(parse_amount(v, ccy, line, "Chrgs/TtlChrgsAndTaxAmt")?)
            }
            ["Chrgs", "Rcrd", "Amt"] => {
                c.rec_amount = Some(parse_amount(v, ccy, line, "Chrgs/Rcrd/Amt")?)
            }
            ["Chrgs", "Rcrd", "CdtDbtInd"] => {
                c.rec_dir = Some(parse_dir(v, line, "charge record")?)
            }
            ["Chrgs", "Rcrd"] => {
                if let Some(m) = c.rec_amount.take() {
                    c.records += 1;
                    let dir = c.rec_dir.take();
                    match dir {
                        Some(Direction::Credit) => c.saw_credit = true,
                        Some(Direction::Debit) => c.saw_debit = true,
                        None => {}
                    }
                    c.abs_sum = add(c.abs_sum, m.minor, m.line)?;
                    c.net = add(
                        c.net,
                        signed(dir.unwrap_or(Direction::Debit), m.minor),
                        m.line,
                    )?;
                    if let Some(t) = &c.total {
                        if t.ccy != m.ccy {
                            return Err(corrupt(
                                m.line,
                                format!(
                                    "charge record is in {} but the charges total at line {} is in {}",
                                    m.ccy, t.line, t.ccy
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks and hands on one entry; returns whether it was booked.
    pub(super) fn finish_entry(
        &mut self,
        mut en: Entry,
        sink: &mut Sink<'_>,
    ) -> Result<bool, ReadError> {
        let amount = en
            .amount
            .take()
            .ok_or_else(|| corrupt(en.line, "entry (Ntry) has no amount (Amt)"))?;
        let dir = en
            .dir
            .ok_or_else(|| corrupt(en.line, "entry (Ntry) has no CdtDbtInd (credit or debit)"))?;
        let status = en
            .status
            .take()
            .ok_or_else(|| corrupt(en.line, "entry (Ntry) has no status (Sts)"))?;
        let line = amount.line;
        let signed_amt = signed(dir, amount.minor);
        self.count_any(dir, amount.minor, line)?;
        if status != "BOOK" {
            return Ok(false);
        }
        let booking_date = en
            .booking_date
            .ok_or_else(|| corrupt(en.line, "booked entry (Ntry) has no booking date (BookgDt)"))?;
        let account = self.account.clone().ok_or_else(|| {
            corrupt(
                en.line,
                "entry comes before the statement names its account (Acct/Id)",
            )
        })?;
        let t = match dir {
            Direction::Credit => &mut self.booked_cdt,
            Direction::Debit => &mut self.booked_dbt,
        };
        t.count += 1;
        t.sum = add(t.sum, amount.minor, line)?;
        self.booked_net = add(self.booked_net, signed_amt, line)?;
        if let (Some(close), Some(vd)) = (self.clbd.as_ref().and_then(|b| b.date), en.value_date) {
            if vd > close {
                self.forward_net = add(self.forward_net, signed_amt, line)?;
            }
        }
        let booking = booking_of(&en, account, booking_date, amount, dir);
        sink(Record::Booking(booking))?;
        Ok(true)
    }

    /// Counts an entry, whatever its status, into the totals `TxsSummry` is checked against.
    fn count_any(&mut self, dir: Direction, minor: i64, line: u64) -> Result<(), ReadError> {
        let signed_amt = signed(dir, minor);
        self.all_count += 1;
        self.all_abs = add(self.all_abs, minor, line)?;
        self.all_net = add(self.all_net, signed_amt, line)?;
        let t = match dir {
            Direction::Credit => &mut self.all_cdt,
            Direction::Debit => &mut self.all_dbt,
        };
        t.count += 1;
        t.sum = add(t.sum, minor, line)?;
        Ok(())
    }
}

/// The booking a finished, booked entry becomes: narrative, reference and counterparty come
/// from the entry, or from its only transaction when it has exactly one.
fn booking_of(
    en: &Entry,
    account: String,
    booking_date: NaiveDate,
    amount: Money,
    dir: Direction,
) -> StatementBooking {
    let single = en.tx_count == 1;
    let tx = &en.first_tx;
    let narrative = if let Some(n) = en.addtl_inf.clone() {
        n
    } else if !en.ustrd.is_empty() {
        en.ustrd.clone()
    } else if let Some(p) = en.prtry_code.clone() {
        p
    } else {
        en.domain.join("/")
    };
    let bank_ref = en.acct_svcr_ref.clone().or_else(|| {
        if single {
            tx.acct_svcr_ref.clone().or_else(|| tx.end_to_end.clone())
        } else {
            None
        }
    });
    let (cp_name, cp_acct) = if single {
        match dir {
            Direction::Credit => (tx.dbtr_name.clone(), tx.dbtr_acct.clone()),
            Direction::Debit => (tx.cdtr_name.clone(), tx.cdtr_acct.clone()),
        }
    } else {
        (None, None)
    };
    StatementBooking {
        line: en.line,
        account,
        currency: amount.ccy,
        booking_date,
        value_date: en.value_date,
        direction: dir,
        amount_minor: amount.minor,
        reversal: en.reversal,
        bank_ref,
        narrative,
        counterparty_account: cp_acct,
        counterparty_name: cp_name,
        balance_after_minor: None,
    }
}

impl Entry {
    /// A `TxDtls` ended: count it into the entry and its batch, keep the first one.
    fn close_tx(&mut self) -> Result<(), ReadError> {
        let tx = std::mem::take(&mut self.tx);
        self.tx_count += 1;
        if let Some(g) = self.group.as_mut() {
            g.tx_count += 1;
            match tx.amount.as_ref().or(tx.amount_alt.as_ref()) {
                Some(m) => {
                    match &g.ccys {
                        None => g.ccys = Some(m.ccy.clone()),
                        Some(c) if *c != m.ccy => g.mixed_ccy = true,
                        Some(_) => {}
                    }
                    g.tx_sum = add(g.tx_sum, m.minor, m.line)?;
                }
                None => g.all_have_amounts = false,
            }
        }
        if self.tx_count == 1 {
            self.first_tx = tx;
        }
        Ok(())
    }

    /// A value inside a `TxDtls` (`t` is the path below it).
    fn tx_part(
        &mut self,
        t: &[&str],
        v: &str,
        line: u64,
        ccy: Option<&String>,
    ) -> Result<(), ReadError> {
        let tx = &mut self.tx;
        match t {
            ["Refs", "AcctSvcrRef"] => set_once(&mut tx.acct_svcr_ref, v),
            ["Refs", "EndToEndId"] if v != "NOTPROVIDED" => set_once(&mut tx.end_to_end, v),
            ["Amt"] => tx.amount = Some(parse_amount(v, ccy, line, "transaction amount")?),
            ["AmtDtls", "TxAmt", "Amt"] => {
                tx.amount_alt = Some(parse_amount(v, ccy, line, "transaction amount")?)
            }
            ["RmtInf", "Ustrd"] if !v.is_empty() && !self.ustrd_cut => {
                if self.ustrd.len().saturating_add(v.len()) > MAX_TEXT_BYTES {
                    self.ustrd_cut = true;
                    self.ustrd.push_str(" …");
                } else {
                    if !self.ustrd.is_empty() {
                        self.ustrd.push(' ');
                    }
                    self.ustrd.push_str(v);
                }
            }
            ["RltdPties", "Dbtr", "Nm"] | ["RltdPties", "Dbtr", "Pty", "Nm"] => {
                set_once(&mut tx.dbtr_name, v)
            }
            ["RltdPties", "Cdtr", "Nm"] | ["RltdPties", "Cdtr", "Pty", "Nm"] => {
                set_once(&mut tx.cdtr_name, v)
            }
            ["RltdPties", "DbtrAcct", "Id", "IBAN"]
            | ["RltdPties", "DbtrAcct", "Id", "Othr", "Id"] => set_once(&mut tx.dbtr_acct, v),
            ["RltdPties", "CdtrAcct", "Id", "IBAN"]
            | ["RltdPties", "CdtrAcct", "Id", "Othr", "Id"] => set_once(&mut tx.cdtr_acct, v),
            _ => {}
        }
        Ok(())
    }
}

fn check_group(g: &Group) -> Result<(), ReadError> {
    if let Some((n, line)) = g.nb_of_txs {
        if g.tx_count >= 2 && n != g.tx_count {
            return Err(corrupt(
                line,
                format!(
                    "batch Btch/NbOfTxs says {n} transactions, but the entry details list {} (TxDtls)",
                    g.tx_count
                ),
            ));
        }
    }
    if let Some(t) = &g.ttl_amt {
        if g.tx_count >= 1 && g.all_have_amounts {
            let same_ccy = !g.mixed_ccy && g.ccys.as_deref() == Some(t.ccy.as_str());
            if !same_ccy || g.tx_sum != t.minor {
                return Err(corrupt(
                    t.line,
                    format!(
                        "batch Btch/TtlAmt is {} {}, but its {} transactions add up to {} {}",
                        fmt_minor(t.minor, &t.ccy),
                        t.ccy,
                        g.tx_count,
                        fmt_minor(g.tx_sum, &t.ccy),
                        if g.mixed_ccy {
                            "in mixed currencies".to_string()
                        } else {
                            g.ccys.clone().unwrap_or_default()
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_charges(c: &Charges) -> Result<(), ReadError> {
    let Some(t) = &c.total else {
        return Ok(());
    };
    if c.records == 0 {
        return Ok(());
    }
    let actual = if c.saw_credit && c.saw_debit {
        c.net.checked_abs()
    } else {
        Some(c.abs_sum)
    };
    if actual != Some(t.minor) {
        return Err(corrupt(
            t.line,
            format!(
                "charges total TtlChrgsAndTaxAmt {} {} does not equal its {} charge records ({} {})",
                fmt_minor(t.minor, &t.ccy),
                t.ccy,
                c.records,
                fmt_minor(actual.unwrap_or(0), &t.ccy),
                t.ccy
            ),
        ));
    }
    Ok(())
}

//! The streaming event machine: what each element start, text and end means for the message,
//! the statement and the entry being read. It routes the values of balances and entries to
//! the builders in [`super::statement`] and [`super::entry`] and hands on each statement's summary.
//!
//! Depends on: [`crate::bankfiles::records`].

use quick_xml::events::BytesStart;

use super::values::{charges_path, corrupt, parse_date, set_once};
use super::*;
use crate::bankfiles::records::{ReadError, Record, Sink, StatementSummary};

impl Parser {
    pub(super) fn new(expect: CamtMessage) -> Self {
        Parser {
            expect,
            version: None,
            version_nn: 0,
            stack: Vec::new(),
            text: String::new(),
            seen_root: false,
            root_done: false,
            statements: 0,
            entries: 0,
            skipped: 0,
            stmt: None,
        }
    }

    pub(super) fn start(&mut self, e: &BytesStart<'_>, line: u64) -> Result<(), ReadError> {
        let name = String::from_utf8(e.local_name().as_ref().to_vec())
            .map_err(|_| corrupt(line, "element name is not valid UTF-8"))?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(corrupt(
                line,
                format!("elements nested deeper than {MAX_DEPTH} levels at <{name}>"),
            ));
        }
        let mut ccy = None;
        let mut xmlns: Option<String> = None;
        let prefix = e.name().prefix().map(|p| p.as_ref().to_vec());
        for attr in e.attributes() {
            let attr =
                attr.map_err(|err| corrupt(line, format!("bad attribute in <{name}>: {err}")))?;
            let key = attr.key.as_ref();
            let value = || {
                attr.unescape_value()
                    .map(|v| v.into_owned())
                    .map_err(|err| corrupt(line, format!("bad attribute value in <{name}>: {err}")))
            };
            if attr.key.local_name().as_ref() == b"Ccy" {
                ccy = Some(value()?.trim().to_string());
            } else if self.stack.is_empty() {
                let wanted: Vec<u8> = match &prefix {
                    Some(p) => [b"xmlns:".as_slice(), p.as_slice()].concat(),
                    None => b"xmlns".to_vec(),
                };
                if key == wanted.as_slice() {
                    xmlns = Some(value()?);
                }
            }
        }
        match self.stack.len() {
            0 => {
                if self.root_done {
                    return Err(corrupt(
                        line,
                        format!("a second root element <{name}> after the Document"),
                    ));
                }
                if name != "Document" {
                    return Err(corrupt(
                        line,
                        format!("the root element is <{name}>, not an ISO 20022 <Document>"),
                    ));
                }
                self.seen_root = true;
                self.detect_version(xmlns.as_deref(), line)?;
            }
            1 => {
                let wanted = self.expect.message_element();
                if name != wanted {
                    return Err(corrupt(
                        line,
                        format!(
                            "<Document> holds <{name}>, but a {} must hold <{wanted}>",
                            self.expect.describe()
                        ),
                    ));
                }
            }
            2 if name == self.expect.statement_element() => {
                self.stmt = Some(StmtState {
                    line,
                    ..StmtState::default()
                });
            }
            _ => {}
        }
        self.stack.push(Open { name, line, ccy });
        self.text.clear();
        if self.stack.len() > 3 {
            self.stmt_start(line)?;
        }
        Ok(())
    }

    pub(super) fn detect_version(&mut self, ns: Option<&str>, line: u64) -> Result<(), ReadError> {
        let ns = ns.unwrap_or("").trim();
        let id = ns.strip_prefix(ISO_NS).ok_or_else(|| {
            corrupt(
                line,
                format!(
                    "<Document> namespace '{ns}' is not an ISO 20022 camt namespace ({ISO_NS}camt.05X.001.NN)"
                ),
            )
        })?;
        let b = id.as_bytes();
        let ok_shape = b.len() == 15
            && id.starts_with("camt.05")
            && id.get(8..13) == Some(".001.")
            && b.iter().skip(11).all(|c| c.is_ascii_digit() || *c == b'.');
        let found = b.get(7).copied().and_then(CamtMessage::from_digit);
        let nn = id.get(13..15).and_then(|s| s.parse::<u32>().ok());
        let (found, nn) = match (ok_shape, found, nn) {
            (true, Some(f), Some(n)) => (f, n),
            _ => {
                return Err(corrupt(
                    line,
                    format!("<Document> namespace names '{id}', which is not a camt.052, camt.053 or camt.054 message"),
                ))
            }
        };
        if found != self.expect {
            return Err(corrupt(
                line,
                format!(
                    "the file is a {} ({id}) but a {} was expected",
                    found.describe(),
                    self.expect.describe()
                ),
            ));
        }
        if !(2..=8).contains(&nn) {
            return Err(corrupt(
                line,
                format!("{id} is not a supported version (this reader knows .001.02 to .001.08)"),
            ));
        }
        self.version = Some(id.to_string());
        self.version_nn = nn;
        Ok(())
    }

    pub(super) fn text(&mut self, s: &str, line: u64) -> Result<(), ReadError> {
        if self.stack.is_empty() {
            if s.trim().is_empty() {
                return Ok(());
            }
            return Err(corrupt(
                line,
                "text outside any element: this is not an XML camt file",
            ));
        }
        if self.text.len().saturating_add(s.len()) > MAX_TEXT_BYTES {
            let (name, at) = self
                .stack
                .last()
                .map(|o| (o.name.as_str(), o.line))
                .unwrap_or(("?", line));
            return Err(corrupt(
                at,
                format!(
                    "the text of <{name}> is longer than {} KiB",
                    MAX_TEXT_BYTES / 1024
                ),
            ));
        }
        self.text.push_str(s);
        Ok(())
    }

    pub(super) fn end(&mut self, line: u64, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let depth = self.stack.len();
        if depth > 3 {
            let value = self.text.trim().to_string();
            self.stmt_end(&value, sink)?;
        }
        let open = self
            .stack
            .pop()
            .ok_or_else(|| corrupt(line, "closing tag without an opening tag"))?;
        self.text.clear();
        match depth {
            3 if open.name == self.expect.statement_element() => {
                self.finish_statement(sink)?;
            }
            2 if self.statements == 0 => {
                return Err(corrupt(
                    open.line,
                    format!(
                        "<{}> holds no <{}>: the message has no statement at all",
                        open.name,
                        self.expect.statement_element()
                    ),
                ));
            }
            1 => self.root_done = true,
            _ => {}
        }
        Ok(())
    }

    pub(super) fn finish(&mut self, line: u64) -> Result<CamtDocument, ReadError> {
        if let Some(open) = self.stack.last() {
            return Err(corrupt(
                line,
                format!(
                    "the file ends inside <{}> opened at line {}: it is cut short",
                    open.name, open.line
                ),
            ));
        }
        if !self.seen_root {
            return Err(corrupt(
                line,
                "the file is empty or holds no <Document> element",
            ));
        }
        Ok(CamtDocument {
            message: self.expect,
            version: self.version.clone().unwrap_or_default(),
            statements: self.statements,
            entries: self.entries,
            skipped_not_booked: self.skipped,
        })
    }

    /// Path of the innermost element, relative to the statement element.
    pub(super) fn rel(&self) -> Vec<&str> {
        self.stack.iter().skip(3).map(|o| o.name.as_str()).collect()
    }

    pub(super) fn stmt_start(&mut self, line: u64) -> Result<(), ReadError> {
        let rel: Vec<String> = self.rel().iter().map(|s| s.to_string()).collect();
        let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
        let Some(st) = self.stmt.as_mut() else {
            return Ok(());
        };
        match rel.as_slice() {
            ["Bal"] => {
                st.bal = Some(BalanceBuilder {
                    line,
                    ..BalanceBuilder::default()
                })
            }
            ["Ntry"] => {
                st.entry = Some(Entry {
                    line,
                    ..Entry::default()
                })
            }
            ["Ntry", "NtryDtls"] => {
                if let Some(en) = st.entry.as_mut() {
                    en.group = Some(Group {
                        all_have_amounts: true,
                        ..Group::default()
                    });
                }
            }
            ["Ntry", "NtryDtls", "TxDtls"] => {
                if let Some(en) = st.entry.as_mut() {
                    en.tx = TxInfo::default();
                }
            }
            _ => {}
        }
        if let Some(ch) = charges_path(&rel) {
            match ch {
                ["Chrgs"] => st.charges = Some(Charges::default()),
                ["Chrgs", "Rcrd"] => {
                    if let Some(c) = st.charges.as_mut() {
                        c.rec_amount = None;
                        c.rec_dir = None;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(super) fn stmt_end(&mut self, v: &str, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let version_nn = self.version_nn;
        let (line, ccy_attr) = match self.stack.last() {
            Some(o) => (o.line, o.ccy.clone()),
            None => return Ok(()),
        };
        let rel_owned: Vec<String> = self.rel().iter().map(|s| s.to_string()).collect();
        let rel: Vec<&str> = rel_owned.iter().map(String::as_str).collect();
        let Some(st) = self.stmt.as_mut() else {
            return Ok(());
        };
        let ccy = ccy_attr.as_ref();
        match rel.as_slice() {
            ["Id"] => set_once(&mut st.id, v),
            ["Acct", "Id", "IBAN"] | ["Acct", "Id", "Othr", "Id"] => set_once(&mut st.account, v),
            ["Acct", "Ccy"] => st.agree_ccy(v, line, "the account currency (Acct/Ccy)")?,
            ["FrToDt", "FrDtTm"] => st.from_date = Some(parse_date(v, line, "FrToDt/FrDtTm")?),
            ["FrToDt", "ToDtTm"] => st.to_date = Some(parse_date(v, line, "FrToDt/ToDtTm")?),
            ["Bal", rest @ ..] => st.balance_part(rest, v, line, ccy)?,
            ["TxsSummry", rest @ ..] => {
                let s = &mut st.summary;
                let slot = match rest {
                    ["TtlNtries", "NbOfNtries"] => Some(&mut s.ttl_nb),
                    ["TtlNtries", "Sum"] => Some(&mut s.ttl_sum),
                    ["TtlNtries", "TtlNetNtryAmt"] | ["TtlNtries", "TtlNetNtry", "Amt"] => {
                        Some(&mut s.ttl_net)
                    }
                    ["TtlNtries", "CdtDbtInd"] | ["TtlNtries", "TtlNetNtry", "CdtDbtInd"] => {
                        Some(&mut s.ttl_net_dir)
                    }
                    ["TtlCdtNtries", "NbOfNtries"] => Some(&mut s.cdt_nb),
                    ["TtlCdtNtries", "Sum"] => Some(&mut s.cdt_sum),
                    ["TtlDbtNtries", "NbOfNtries"] => Some(&mut s.dbt_nb),
                    ["TtlDbtNtries", "Sum"] => Some(&mut s.dbt_sum),
                    _ => None,
                };
                if let Some(slot) = slot {
                    *slot = Some((v.to_string(), line));
                }
            }
            ["Ntry"] => {
                if let Some(en) = st.entry.take() {
                    let booked = st.finish_entry(en, sink)?;
                    if booked {
                        self.entries += 1;
                    } else {
                        self.skipped += 1;
                    }
                }
                return Ok(());
            }
            ["Ntry", rest @ ..] => {
                if let Some(ch) = charges_path(&rel) {
                    if version_nn >= 3 {
                        st.charges_part(ch, v, line, ccy)?;
                    }
                    return Ok(());
                }
                st.entry_part(rest, v, line, ccy)?;
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn finish_statement(&mut self, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let Some(st) = self.stmt.take() else {
            return Ok(());
        };
        let what = self.expect.statement_element();
        let id = st
            .id
            .clone()
            .ok_or_else(|| corrupt(st.line, format!("<{what}> has no Id")))?;
        let account = st.account.clone().ok_or_else(|| {
            corrupt(
                st.line,
                format!("<{what}> {id} names no account (Acct/Id/IBAN or Acct/Id/Othr/Id)"),
            )
        })?;
        let ccy = st.ccy.as_ref().map(|c| c.0.clone()).ok_or_else(|| {
            corrupt(
                st.line,
                format!("<{what}> {id} states no currency (no Acct/Ccy, balance or entry)"),
            )
        })?;
        st.check_summary(&ccy)?;
        st.check_balances(&ccy)?;
        let summary = StatementSummary {
            line: st.line,
            statement_id: id,
            account,
            currency: ccy,
            from_date: st.from_date,
            to_date: st.to_date,
            opening_minor: st.opbd.as_ref().or(st.prcd.as_ref()).map(|b| b.signed),
            closing_minor: st.clbd.as_ref().map(|b| b.signed),
            credit_count: st.booked_cdt.count,
            credit_minor: st.booked_cdt.sum,
            debit_count: st.booked_dbt.count,
            debit_minor: st.booked_dbt.sum,
        };
        sink(Record::Statement(summary))?;
        self.statements += 1;
        Ok(())
    }
}

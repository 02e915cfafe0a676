//! ISO 20022 `pain.001.001.10` (CustomerCreditTransferInitiationV10) writer for 退库.
//!
//! A 退库 request asks the treasury (国库) to return revenue already remitted to it: one
//! credit transfer of the refunded amount from the treasury account (debtor) to the centre's
//! non-tax collection account (creditor). One request is one document with one payment
//! information block holding one transaction (DESIGN §6).
//!
//! Element choices (all checked against the official XSD, in schema order):
//!
//! * `GrpHdr`: `MsgId` (the refund request id), `CreDtTm`, `NbOfTxs` = 1, `CtrlSum` = the
//!   amount, `InitgPty` = the centre (by name), which asks for the return.
//! * `PmtInf`: `PmtInfId` = the request id, `PmtMtd` = `TRF`, `NbOfTxs`/`CtrlSum` again,
//!   `ReqdExctnDt/Dt`, `Dbtr`/`DbtrAcct` (the treasury, account as `Id/Othr/Id` with `Ccy`),
//!   the mandatory `DbtrAgt`, and `ChrgBr` = `DEBT`: the treasury bears any charges, so the
//!   collection account receives the amount whole, as the return's entry assumes.
//! * `CdtTrfTxInf`: `PmtId/InstrId` = the request id, `PmtId/EndToEndId` = the refund id,
//!   `Amt/InstdAmt`, `CdtrAgt` (when known), `Cdtr`/`CdtrAcct` (the centre), and `RmtInf`:
//!   `Ustrd` = the reason (folded to one line, cut to 140 characters), then one `Strd` with a
//!   `RfrdDocInf` for the original payment (`Tp/CdOrPrtry/Prtry` = `RCPT`, `Nb` = its
//!   reference) and, when the revenue left in a known remittance, one for that remittance
//!   (`Prtry` = `REMITTANCE`), `RfrdDocAmt/RmtdAmt` = the amount returned, and `CdtrRefInf`
//!   (`Prtry` = `REVENUE_SUBJECT`, `Ref` = the revenue subject code), the same reference the
//!   remt.001 advice used for the subject.
//! * An agent given as a BIC is written as `FinInstnId/BICFI`; any other identifier (a CNAPS
//!   bank code, say) as `FinInstnId/Othr/Id`; an unknown debtor agent as `Othr/Id` =
//!   `NOTPROVIDED`, the ISO convention for a mandatory agent the initiator does not know.

use std::io;

use chrono::{DateTime, FixedOffset, NaiveDate};
use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use super::batch::Parties;
use super::iso20022::{
    self, account, amount, party, proprietary_type, text, TextProblem, MAX140, MAX34, MAX35,
};
use super::remt::{RECEIPT_DOC_TYPE, REVENUE_SUBJECT_REF_TYPE};
use crate::money;

/// XML namespace of `pain.001.001.10`.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.10";

/// Proprietary referred-document type for the remittance that carried the revenue.
pub const REMITTANCE_DOC_TYPE: &str = "REMITTANCE";

/// Written as the debtor agent's identifier when it is not known.
pub const AGENT_NOT_PROVIDED: &str = "NOTPROVIDED";

/// A party of the transfer and its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Name (Max140Text).
    pub name: String,
    /// Account number, written as `Id/Othr/Id` (Max34Text).
    pub account: String,
    /// The account's bank: a BIC (`BICFI`) or another identifier (`Othr/Id`, Max35Text).
    pub agent_bic_or_id: Option<String>,
}

impl Party {
    /// The treasury, the debtor of a 退库 transfer, from the configured parties.
    pub fn treasury(parties: &Parties) -> Party {
        Party {
            name: parties.treasury_name.clone(),
            account: parties.treasury_account.clone(),
            agent_bic_or_id: None,
        }
    }

    /// The centre and its collection account, the creditor of a 退库 transfer.
    pub fn centre(parties: &Parties) -> Party {
        Party {
            name: parties.centre_name.clone(),
            account: parties.collection_account.clone(),
            agent_bic_or_id: None,
        }
    }
}

/// One 退库 request: one document with one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundTransfer {
    /// The refund request id, e.g. `"rr_…"` (`MsgId`, `PmtInfId`, `InstrId`; Max35Text).
    pub message_id: String,
    /// Creation timestamp (`CreDtTm`), written to whole seconds.
    pub created_at: DateTime<FixedOffset>,
    /// When the treasury is asked to execute the transfer (`ReqdExctnDt/Dt`).
    pub requested_execution_date: NaiveDate,
    /// The refund id, e.g. `"ref_…"` (`EndToEndId`; Max35Text).
    pub end_to_end_id: String,
    /// Amount in fen of CNY; greater than zero, at most [`money::MAX_AMOUNT_MINOR`].
    pub amount_minor: i64,
    /// The treasury (国库) and its account.
    pub debtor: Party,
    /// The centre and its non-tax collection account.
    pub creditor: Party,
    /// The revenue subject (收入科目) code (Max35Text).
    pub revenue_subject: String,
    /// The original payment's reference / receipt number (Max35Text).
    pub payment_reference: String,
    /// The remittance that carried the revenue to the treasury, when known (Max35Text).
    pub remittance_reference: Option<String>,
    /// Why the money goes back: free text, folded to one line and cut to 140 characters.
    pub reason: String,
}

/// Why a [`RefundTransfer`] cannot be written; `field` names the offending input field.
#[derive(Debug, thiserror::Error)]
pub enum Pain001Error {
    /// A mandatory text is empty (for `reason`: nothing left once whitespace is folded).
    #[error("{field}: must not be empty")]
    EmptyText {
        /// The input field.
        field: &'static str,
    },
    /// A text is longer than its schema type allows.
    #[error("{field}: {len} characters exceeds the maximum of {max}")]
    TextTooLong {
        /// The input field.
        field: &'static str,
        /// Actual length in characters.
        len: usize,
        /// Schema maximum length in characters.
        max: usize,
    },
    /// A text contains a control (or XML-forbidden) character.
    #[error("{field}: control character U+{code:04X} not allowed")]
    ControlCharacter {
        /// The input field.
        field: &'static str,
        /// The character's code point.
        code: u32,
    },
    /// The amount is zero or negative.
    #[error("amount_minor: {0} must be greater than zero")]
    NonPositiveAmount(i64),
    /// The amount is above the service's ceiling.
    #[error("amount_minor: {0} is above the ceiling of {max}", max = money::MAX_AMOUNT_MINOR)]
    AmountTooLarge(i64),
    /// Writing the XML failed.
    #[error("writing XML: {0}")]
    Io(#[from] io::Error),
}

/// Validates `t` and writes it as a UTF-8 `pain.001.001.10` document.
///
/// Deterministic: the same transfer gives the same bytes.
pub fn write(t: &RefundTransfer) -> Result<Vec<u8>, Pain001Error> {
    let reason = validate(t)?;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Document")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("CstmrCdtTrfInitn")
                .write_inner_content(|w| {
                    write_group_header(w, t)?;
                    write_payment_information(w, t, &reason)
                })?;
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

/// Checks every field; returns the reason as it will be written.
fn validate(t: &RefundTransfer) -> Result<String, Pain001Error> {
    check_text("message_id", &t.message_id, MAX35)?;
    check_text("end_to_end_id", &t.end_to_end_id, MAX35)?;
    if t.amount_minor <= 0 {
        return Err(Pain001Error::NonPositiveAmount(t.amount_minor));
    }
    if t.amount_minor > money::MAX_AMOUNT_MINOR {
        return Err(Pain001Error::AmountTooLarge(t.amount_minor));
    }
    check_party(
        &t.debtor,
        ["debtor.name", "debtor.account", "debtor.agent_bic_or_id"],
    )?;
    check_party(
        &t.creditor,
        [
            "creditor.name",
            "creditor.account",
            "creditor.agent_bic_or_id",
        ],
    )?;
    check_text("revenue_subject", &t.revenue_subject, MAX35)?;
    check_text("payment_reference", &t.payment_reference, MAX35)?;
    if let Some(r) = &t.remittance_reference {
        check_text("remittance_reference", r, MAX35)?;
    }
    let reason = iso20022::fit_free_text(&t.reason, MAX140);
    if reason.is_empty() {
        return Err(Pain001Error::EmptyText { field: "reason" });
    }
    Ok(reason)
}

fn check_party(p: &Party, fields: [&'static str; 3]) -> Result<(), Pain001Error> {
    check_text(fields[0], &p.name, MAX140)?;
    check_text(fields[1], &p.account, MAX34)?;
    if let Some(agent) = &p.agent_bic_or_id {
        check_text(fields[2], agent, MAX35)?;
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), Pain001Error> {
    iso20022::check_text(value, max).map_err(|problem| match problem {
        TextProblem::Empty => Pain001Error::EmptyText { field },
        TextProblem::TooLong { len, max } => Pain001Error::TextTooLong { field, len, max },
        TextProblem::Control(code) => Pain001Error::ControlCharacter { field, code },
    })
}

/// Whether `id` has the shape of `BICFIDec2014Identifier`:
/// `[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?`.
fn is_bic(id: &str) -> bool {
    let b = id.as_bytes();
    let alnum = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    matches!(b.len(), 8 | 11)
        && b[..4].iter().all(alnum)
        && b[4..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(alnum)
}

/// `<tag><FinInstnId>…</FinInstnId></tag>` for a known agent, or `Othr/Id` =
/// [`AGENT_NOT_PROVIDED`] when `id` is `None` (never as a BIC, though it has the shape of one).
fn agent<W: io::Write>(w: &mut Writer<W>, tag: &str, id: Option<&str>) -> io::Result<()> {
    w.create_element(tag).write_inner_content(|w| {
        w.create_element("FinInstnId").write_inner_content(|w| {
            if let Some(bic) = id.filter(|id| is_bic(id)) {
                text(w, "BICFI", bic)
            } else {
                let id = id.unwrap_or(AGENT_NOT_PROVIDED);
                w.create_element("Othr")
                    .write_inner_content(|w| text(w, "Id", id))?;
                Ok(())
            }
        })?;
        Ok(())
    })?;
    Ok(())
}

fn write_group_header<W: io::Write>(w: &mut Writer<W>, t: &RefundTransfer) -> io::Result<()> {
    w.create_element("GrpHdr").write_inner_content(|w| {
        text(w, "MsgId", &t.message_id)?;
        text(w, "CreDtTm", &iso20022::iso_datetime(&t.created_at))?;
        control_totals(w, t)?;
        party(w, "InitgPty", &t.creditor.name)
    })?;
    Ok(())
}

/// `NbOfTxs` and `CtrlSum`: one transaction of the whole amount.
fn control_totals<W: io::Write>(w: &mut Writer<W>, t: &RefundTransfer) -> io::Result<()> {
    text(w, "NbOfTxs", "1")?;
    text(w, "CtrlSum", &money::format_minor(t.amount_minor))
}

fn write_payment_information<W: io::Write>(
    w: &mut Writer<W>,
    t: &RefundTransfer,
    reason: &str,
) -> io::Result<()> {
    let ccy = money::CNY;
    w.create_element("PmtInf").write_inner_content(|w| {
        text(w, "PmtInfId", &t.message_id)?;
        text(w, "PmtMtd", "TRF")?;
        control_totals(w, t)?;
        w.create_element("ReqdExctnDt").write_inner_content(|w| {
            text(
                w,
                "Dt",
                &t.requested_execution_date.format("%Y-%m-%d").to_string(),
            )
        })?;
        party(w, "Dbtr", &t.debtor.name)?;
        account(w, "DbtrAcct", &t.debtor.account, ccy)?;
        agent(w, "DbtrAgt", t.debtor.agent_bic_or_id.as_deref())?;
        text(w, "ChrgBr", "DEBT")?;
        w.create_element("CdtTrfTxInf").write_inner_content(|w| {
            w.create_element("PmtId").write_inner_content(|w| {
                text(w, "InstrId", &t.message_id)?;
                text(w, "EndToEndId", &t.end_to_end_id)
            })?;
            w.create_element("Amt")
                .write_inner_content(|w| amount(w, "InstdAmt", ccy, t.amount_minor))?;
            if let Some(id) = &t.creditor.agent_bic_or_id {
                agent(w, "CdtrAgt", Some(id))?;
            }
            party(w, "Cdtr", &t.creditor.name)?;
            account(w, "CdtrAcct", &t.creditor.account, ccy)?;
            write_remittance_information(w, t, reason)
        })?;
        Ok(())
    })?;
    Ok(())
}

fn write_remittance_information<W: io::Write>(
    w: &mut Writer<W>,
    t: &RefundTransfer,
    reason: &str,
) -> io::Result<()> {
    let referred = |w: &mut Writer<W>, doc_type: &str, number: &str| -> io::Result<()> {
        w.create_element("RfrdDocInf").write_inner_content(|w| {
            proprietary_type(w, doc_type)?;
            text(w, "Nb", number)
        })?;
        Ok(())
    };
    w.create_element("RmtInf").write_inner_content(|w| {
        text(w, "Ustrd", reason)?;
        w.create_element("Strd").write_inner_content(|w| {
            referred(w, RECEIPT_DOC_TYPE, &t.payment_reference)?;
            if let Some(r) = &t.remittance_reference {
                referred(w, REMITTANCE_DOC_TYPE, r)?;
            }
            w.create_element("RfrdDocAmt")
                .write_inner_content(|w| amount(w, "RmtdAmt", money::CNY, t.amount_minor))?;
            w.create_element("CdtrRefInf").write_inner_content(|w| {
                proprietary_type(w, REVENUE_SUBJECT_REF_TYPE)?;
                text(w, "Ref", &t.revenue_subject)
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::treasury::iso20022::testing;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    const XSD: &str = "pain.001.001.10.xsd";

    fn sample() -> RefundTransfer {
        let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
        RefundTransfer {
            message_id: "rr_01JD7Q2M8Z4K".to_owned(),
            created_at: tz
                .with_ymd_and_hms(2026, 11, 26, 10, 15, 7)
                .single()
                .expect("datetime"),
            requested_execution_date: NaiveDate::from_ymd_opt(2026, 11, 27).expect("date"),
            end_to_end_id: "ref_01JD7P9X3N".to_owned(),
            amount_minor: 128_005,
            debtor: Party {
                name: "State Treasury City Branch".to_owned(),
                account: "270000000000000001".to_owned(),
                agent_bic_or_id: None,
            },
            creditor: Party {
                name: "City Public Service Centre".to_owned(),
                account: "44050101040009876".to_owned(),
                agent_bic_or_id: None,
            },
            revenue_subject: "1030414".to_owned(),
            payment_reference: "44030126/0000000001".to_owned(),
            remittance_reference: Some("RB4403012620261124".to_owned()),
            reason: "Duplicate payment at the counter".to_owned(),
        }
    }

    fn chinese() -> RefundTransfer {
        RefundTransfer {
            debtor: Party {
                name: "国家金库某市中心支库".to_owned(),
                account: "270000000000000001".to_owned(),
                agent_bic_or_id: Some("PBOCCNBJ".to_owned()),
            },
            creditor: Party {
                name: "某市公共资源收费中心 <&\"'> 一卡通".to_owned(),
                account: "44050101040009876".to_owned(),
                agent_bic_or_id: Some("102100099996".to_owned()),
            },
            reason: "重复缴费，申请退库 <a href=\"x\">&amp;</a> 'q'".to_owned(),
            ..sample()
        }
    }

    /// Every field at its limit, in characters of three bytes each where the schema allows.
    fn maximal() -> RefundTransfer {
        RefundTransfer {
            message_id: "M".repeat(35),
            end_to_end_id: "E".repeat(35),
            amount_minor: money::MAX_AMOUNT_MINOR,
            debtor: Party {
                name: "库".repeat(140),
                account: "9".repeat(34),
                agent_bic_or_id: Some("PBOCCNBJXXX".to_owned()),
            },
            creditor: Party {
                name: "费".repeat(140),
                account: "账".repeat(34),
                agent_bic_or_id: Some("行".repeat(35)),
            },
            revenue_subject: "科".repeat(35),
            payment_reference: "票".repeat(35),
            remittance_reference: Some("批".repeat(35)),
            reason: "因".repeat(500),
            ..sample()
        }
    }

    /// The leaf elements of `xml` as (path, text), parsed with quick-xml; panics when the
    /// document is not well-formed.
    fn leaves(xml: &[u8]) -> Vec<(String, String)> {
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().check_end_names = true;
        let mut path: Vec<String> = Vec::new();
        let mut has_child: Vec<bool> = Vec::new();
        let mut text = String::new();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf).expect("well-formed XML") {
                Event::Start(s) => {
                    if let Some(parent) = has_child.last_mut() {
                        *parent = true;
                    }
                    path.push(String::from_utf8(s.name().as_ref().to_vec()).expect("utf-8"));
                    has_child.push(false);
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.decode().expect("utf-8 text")),
                Event::GeneralRef(r) => match r.resolve_char_ref().expect("char ref") {
                    Some(c) => text.push(c),
                    None => {
                        let name = r.decode().expect("utf-8 ref");
                        text.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .expect("predefined entity"),
                        );
                    }
                },
                Event::End(_) => {
                    if has_child.pop() == Some(false) {
                        out.push((path.join("/"), std::mem::take(&mut text)));
                    }
                    text.clear();
                    path.pop();
                }
                Event::Eof => break,
                Event::Decl(_) => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert!(path.is_empty(), "unclosed elements {path:?}");
        out
    }

    fn values<'a>(leaves: &'a [(String, String)], suffix: &str) -> Vec<&'a str> {
        leaves
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one<'a>(leaves: &'a [(String, String)], suffix: &str) -> &'a str {
        let v = values(leaves, suffix);
        assert_eq!(v.len(), 1, "{suffix}: {v:?}");
        v[0]
    }

    /// What a valid document of `t` must say, read back from the XML.
    fn assert_carries(t: &RefundTransfer, xml: &[u8]) {
        let l = leaves(xml);
        let amount = money::format_minor(t.amount_minor);
        assert_eq!(one(&l, "GrpHdr/MsgId"), t.message_id);
        assert_eq!(values(&l, "/NbOfTxs"), ["1", "1"]);
        assert_eq!(values(&l, "/CtrlSum"), [amount.as_str(), amount.as_str()]);
        assert_eq!(one(&l, "Amt/InstdAmt"), amount);
        assert_eq!(one(&l, "RfrdDocAmt/RmtdAmt"), amount);
        assert_eq!(one(&l, "PmtInf/PmtInfId"), t.message_id);
        assert_eq!(one(&l, "PmtId/InstrId"), t.message_id);
        assert_eq!(one(&l, "PmtId/EndToEndId"), t.end_to_end_id);
        assert_eq!(one(&l, "InitgPty/Nm"), t.creditor.name);
        assert_eq!(one(&l, "Dbtr/Nm"), t.debtor.name);
        assert_eq!(one(&l, "Cdtr/Nm"), t.creditor.name);
        assert_eq!(one(&l, "DbtrAcct/Id/Othr/Id"), t.debtor.account);
        assert_eq!(one(&l, "CdtrAcct/Id/Othr/Id"), t.creditor.account);
        assert_eq!(one(&l, "CdtrRefInf/Ref"), t.revenue_subject);
        assert_eq!(one(&l, "CdtrRefInf/Tp/CdOrPrtry/Prtry"), "REVENUE_SUBJECT");
        let mut docs = vec![t.payment_reference.as_str()];
        let mut doc_types = vec!["RCPT"];
        if let Some(r) = &t.remittance_reference {
            docs.push(r);
            doc_types.push("REMITTANCE");
        }
        assert_eq!(values(&l, "RfrdDocInf/Nb"), docs);
        assert_eq!(values(&l, "RfrdDocInf/Tp/CdOrPrtry/Prtry"), doc_types);
        assert_eq!(
            one(&l, "RmtInf/Ustrd"),
            iso20022::fit_free_text(&t.reason, 140)
        );
        assert_agent(
            &l,
            "PmtInf/DbtrAgt",
            Some(t.debtor.agent_bic_or_id.as_deref()),
        );
        assert_agent(
            &l,
            "CdtTrfTxInf/CdtrAgt",
            t.creditor.agent_bic_or_id.as_deref().map(Some),
        );
    }

    /// The agent under `tag`: absent (`None`), not provided (`Some(None)`), or identified.
    fn assert_agent(l: &[(String, String)], tag: &str, expected: Option<Option<&str>>) {
        let found: Vec<(&str, &str)> = l
            .iter()
            .filter_map(|(p, v)| {
                let (_, rest) = p.split_once(&format!("{tag}/FinInstnId/"))?;
                Some((rest, v.as_str()))
            })
            .collect();
        let want: Vec<(&str, &str)> = match expected {
            None => vec![],
            Some(None) => vec![("Othr/Id", "NOTPROVIDED")],
            Some(Some(id)) if is_bic(id) => vec![("BICFI", id)],
            Some(Some(id)) => vec![("Othr/Id", id)],
        };
        assert_eq!(found, want, "{tag}");
    }

    #[test]
    fn ascii_transfer_validates_and_says_what_it_should() {
        let t = sample();
        let xml = write(&t).expect("write");
        let s = String::from_utf8(xml.clone()).expect("utf-8");
        assert!(s.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.10\">"));
        assert!(s.contains("<CreDtTm>2026-11-26T10:15:07+08:00</CreDtTm>"));
        assert!(s.contains("<InstdAmt Ccy=\"CNY\">1280.05</InstdAmt>"));
        assert!(s.contains("<CtrlSum>1280.05</CtrlSum>"));
        assert!(s.contains("<Dt>2026-11-27</Dt>"));
        assert!(s.contains("<PmtMtd>TRF</PmtMtd>"));
        assert!(s.contains("<ChrgBr>DEBT</ChrgBr>"));
        assert!(s.ends_with("</Document>\n"));
        assert_carries(&t, &xml);
        let l = leaves(&xml);
        assert_eq!(one(&l, "DbtrAgt/FinInstnId/Othr/Id"), "NOTPROVIDED");
        testing::assert_valid(&xml, XSD, "pain-ascii");
    }

    #[test]
    fn chinese_and_markup_are_escaped_and_validate() {
        let t = chinese();
        let xml = write(&t).expect("write");
        let s = String::from_utf8(xml.clone()).expect("utf-8");
        assert!(!s.contains("<&"), "raw markup leaked:\n{s}");
        assert!(!s.contains("<a href"), "raw markup leaked:\n{s}");
        assert!(s.contains("某市公共资源收费中心 &lt;&amp;"));
        assert!(s.contains("&amp;amp;"));
        assert!(s.contains("<BICFI>PBOCCNBJ</BICFI>"));
        assert!(s.contains("<CdtrAgt>"));
        assert_carries(&t, &xml);
        testing::assert_valid(&xml, XSD, "pain-chinese");
    }

    #[test]
    fn maximal_lengths_validate() {
        let t = maximal();
        let xml = write(&t).expect("write");
        assert_carries(&t, &xml);
        let l = leaves(&xml);
        assert_eq!(one(&l, "Ustrd").chars().count(), 140);
        assert_eq!(one(&l, "InstdAmt"), "100000000000.00");
        testing::assert_valid(&xml, XSD, "pain-maximal");
    }

    #[test]
    fn minimal_transfer_validates() {
        let t = RefundTransfer {
            amount_minor: 1,
            remittance_reference: None,
            reason: "x".to_owned(),
            ..sample()
        };
        let xml = write(&t).expect("write");
        assert_carries(&t, &xml);
        assert_eq!(one(&leaves(&xml), "InstdAmt"), "0.01");
        testing::assert_valid(&xml, XSD, "pain-minimal");
    }

    #[test]
    fn the_validation_can_fail() {
        // The XSD check is real: a document the schema refuses is reported.
        let xml = write(&sample()).expect("write");
        let broken = String::from_utf8(xml)
            .expect("utf-8")
            .replace("<PmtMtd>TRF</PmtMtd>", "<PmtMtd>XXX</PmtMtd>");
        assert!(testing::xmllint(broken.as_bytes(), XSD, "pain-broken").is_err());
    }

    #[test]
    fn output_is_deterministic() {
        for t in [sample(), chinese(), maximal()] {
            let a = write(&t).expect("write");
            let b = write(&t.clone()).expect("write");
            assert_eq!(a, b);
        }
        let mut later = sample();
        later.amount_minor += 1;
        assert_ne!(
            write(&later).expect("write"),
            write(&sample()).expect("write")
        );
    }

    #[test]
    fn bic_shape() {
        for ok in ["PBOCCNBJ", "PBOCCNBJXXX", "1234CN12", "ICBKCNBJ001"] {
            assert!(is_bic(ok), "{ok}");
        }
        for no in [
            "",
            "PBOCCNB",
            "PBOCCNBJX",
            "PBOC1NBJ",
            "pbocCNBJ",
            "102100099996",
            "行行行行行行行行",
        ] {
            assert!(!is_bic(no), "{no}");
        }
    }

    type Setter = fn(&mut RefundTransfer, String);

    /// Every checked text field: its name in errors, its limit, and how to set it.
    fn text_fields() -> Vec<(&'static str, usize, Setter)> {
        vec![
            ("message_id", 35, |t, v| t.message_id = v),
            ("end_to_end_id", 35, |t, v| t.end_to_end_id = v),
            ("debtor.name", 140, |t, v| t.debtor.name = v),
            ("debtor.account", 34, |t, v| t.debtor.account = v),
            ("debtor.agent_bic_or_id", 35, |t, v| {
                t.debtor.agent_bic_or_id = Some(v)
            }),
            ("creditor.name", 140, |t, v| t.creditor.name = v),
            ("creditor.account", 34, |t, v| t.creditor.account = v),
            ("creditor.agent_bic_or_id", 35, |t, v| {
                t.creditor.agent_bic_or_id = Some(v)
            }),
            ("revenue_subject", 35, |t, v| t.revenue_subject = v),
            ("payment_reference", 35, |t, v| t.payment_reference = v),
            ("remittance_reference", 35, |t, v| {
                t.remittance_reference = Some(v)
            }),
        ]
    }

    #[test]
    fn every_text_field_limit_is_checked_and_named() {
        for (field, max, set) in text_fields() {
            let with = |v: String| {
                let mut t = sample();
                set(&mut t, v);
                write(&t)
            };
            let at_max = with("文".repeat(max)).unwrap_or_else(|e| panic!("{field} at max: {e}"));
            testing::assert_valid(&at_max, XSD, &format!("pain-max-{field}"));
            match with("文".repeat(max + 1)) {
                Err(Pain001Error::TextTooLong {
                    field: f,
                    len,
                    max: m,
                }) => {
                    assert_eq!((f, len, m), (field, max + 1, max));
                }
                other => panic!("{field} over max: {other:?}"),
            }
            match with(String::new()) {
                Err(Pain001Error::EmptyText { field: f }) => assert_eq!(f, field),
                other => panic!("{field} empty: {other:?}"),
            }
            for bad in ["a\u{0}b", "a\nb", "a\tb", "a\u{7F}", "a\u{85}", "a\u{FFFF}"] {
                match with(bad.to_owned()) {
                    Err(Pain001Error::ControlCharacter { field: f, code }) => {
                        assert_eq!(f, field);
                        assert_eq!(Some(code), bad.chars().nth(1).map(u32::from));
                    }
                    other => panic!("{field} {bad:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn amount_must_be_positive_and_under_the_ceiling() {
        for bad in [0, -1, i64::MIN] {
            let t = RefundTransfer {
                amount_minor: bad,
                ..sample()
            };
            assert!(
                matches!(write(&t), Err(Pain001Error::NonPositiveAmount(a)) if a == bad),
                "{bad}"
            );
        }
        for bad in [money::MAX_AMOUNT_MINOR + 1, i64::MAX] {
            let t = RefundTransfer {
                amount_minor: bad,
                ..sample()
            };
            assert!(
                matches!(write(&t), Err(Pain001Error::AmountTooLarge(a)) if a == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn reason_is_folded_and_cut_never_refused_for_length() {
        let t = RefundTransfer {
            reason: format!("  第一行\r\n第二行\t{}", "长".repeat(300)),
            ..sample()
        };
        let xml = write(&t).expect("write");
        let l = leaves(&xml);
        let ustrd = one(&l, "Ustrd");
        assert!(ustrd.starts_with("第一行 第二行 长长"), "{ustrd}");
        assert_eq!(ustrd.chars().count(), 140);
        testing::assert_valid(&xml, XSD, "pain-reason");
        // Exactly 140 is kept whole, 141 loses the last character.
        let t = RefundTransfer {
            reason: format!("{}尾", "因".repeat(139)),
            ..sample()
        };
        assert!(one(&leaves(&write(&t).expect("write")), "Ustrd").ends_with('尾'));
        let t = RefundTransfer {
            reason: format!("{}尾", "因".repeat(140)),
            ..sample()
        };
        assert!(!one(&leaves(&write(&t).expect("write")), "Ustrd").ends_with('尾'));
        for blank in ["", "   ", "\n\t\u{0}"] {
            let t = RefundTransfer {
                reason: blank.to_owned(),
                ..sample()
            };
            assert!(
                matches!(write(&t), Err(Pain001Error::EmptyText { field: "reason" })),
                "{blank:?}"
            );
        }
    }

    #[test]
    fn parties_come_from_the_configured_parties_the_right_way_round() {
        let parties = Parties {
            centre_name: "中心".to_owned(),
            collection_account: "C-1".to_owned(),
            treasury_name: "国库".to_owned(),
            treasury_account: "T-1".to_owned(),
        };
        let t = RefundTransfer {
            debtor: Party::treasury(&parties),
            creditor: Party::centre(&parties),
            ..sample()
        };
        let l = leaves(&write(&t).expect("write"));
        assert_eq!(one(&l, "Dbtr/Nm"), "国库");
        assert_eq!(one(&l, "DbtrAcct/Id/Othr/Id"), "T-1");
        assert_eq!(one(&l, "Cdtr/Nm"), "中心");
        assert_eq!(one(&l, "CdtrAcct/Id/Othr/Id"), "C-1");
    }

    /// Text the schema takes: any mix of ASCII, XML specials, CJK and other non-ASCII, with
    /// no control characters.
    fn name(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range(' ', '~'),
                prop::sample::select(vec!['<', '>', '&', '"', '\'', '中', '库', 'é', '€', '𝄞']),
                proptest::char::range('\u{4E00}', '\u{9FFF}'),
            ],
            1..=max,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn transfer() -> impl Strategy<Value = RefundTransfer> {
        (
            (name(140), name(140), name(34), name(34)),
            (name(35), name(35), name(35), proptest::option::of(name(35))),
            (1..=money::MAX_AMOUNT_MINOR, ".{0,300}"),
            (
                proptest::option::of(name(35)),
                proptest::option::of(name(35)),
            ),
        )
            .prop_map(
                |(
                    (dn, cn, da, ca),
                    (subject, payment, e2e, remittance),
                    (amount_minor, reason),
                    (dagent, cagent),
                )| RefundTransfer {
                    end_to_end_id: e2e,
                    amount_minor,
                    debtor: Party {
                        name: dn,
                        account: da,
                        agent_bic_or_id: dagent,
                    },
                    creditor: Party {
                        name: cn,
                        account: ca,
                        agent_bic_or_id: cagent,
                    },
                    revenue_subject: subject,
                    payment_reference: payment,
                    remittance_reference: remittance,
                    reason: format!("r{reason}"),
                    ..sample()
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Every generated transfer is written, well-formed, and says what it was given.
        #[test]
        fn any_transfer_is_well_formed_and_round_trips(t in transfer()) {
            let xml = write(&t).expect("write");
            assert_carries(&t, &xml);
            prop_assert_eq!(write(&t).expect("write"), xml);
        }
    }

    /// A handful of generated transfers (the same ones every run) through xmllint.
    #[test]
    fn generated_transfers_validate_against_xsd() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{Config, TestRng, TestRunner};
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = transfer();
        for i in 0..12 {
            let t = strategy.new_tree(&mut runner).expect("generate").current();
            let xml = write(&t).expect("write");
            testing::assert_valid(&xml, XSD, &format!("pain-generated-{i}"));
        }
    }
}

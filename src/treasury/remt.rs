//! ISO 20022 `remt.001.001.04` (RemittanceAdviceV04) writer.
//!
//! One remittance advice describes a single transfer from the collecting
//! centre's non-tax collection account to the treasury (国库). The transfer
//! is broken down per revenue subject (one `Strd` block each), and every
//! subject lists the receipts that make up its amount.
//!
//! Element choices (all checked against the official XSD, in schema order):
//!
//! * `GrpHdr`: `MsgId`, `CreDtTm`, and the mandatory `InitgPty` (the
//!   collecting centre, by name).
//! * One `RmtInf` with `RmtId` = message id.
//! * Per subject a `Strd` with one `RfrdDocInf` per receipt
//!   (`Tp/CdOrPrtry/Prtry` = `RCPT`, `Nb` = receipt number, `RltdDt` =
//!   business date, `LineDtls/Amt/RmtdAmt` = receipt amount), then
//!   `RfrdDocAmt/RmtdAmt` = subject amount, `CdtrRefInf` with
//!   `Tp/CdOrPrtry/Prtry` = `REVENUE_SUBJECT` and `Ref` = subject code, and
//!   `AddtlRmtInf` = subject name.
//! * `OrgnlPmtInf`: mandatory `Refs/EndToEndId` (= message id), `Amt/InstdAmt`
//!   (total), `ReqdExctnDt/Dt` (business date), `Dbtr`/`DbtrAcct`,
//!   `Cdtr`/`CdtrAcct` (accounts as `Id/Othr/Id`, with `Ccy`).

use std::io;

use chrono::{DateTime, FixedOffset, NaiveDate};
use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use super::iso20022::{
    self, account, amount, party, proprietary_type, text, TextProblem, MAX140, MAX34, MAX35,
};

/// XML namespace of `remt.001.001.04`.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:remt.001.001.04";

/// Proprietary referred-document type used for receipts.
pub const RECEIPT_DOC_TYPE: &str = "RCPT";

/// Proprietary creditor-reference type used for the revenue subject code.
pub const REVENUE_SUBJECT_REF_TYPE: &str = "REVENUE_SUBJECT";

/// Largest amount (in minor units) that fits `ActiveOrHistoricCurrencyAndAmount`
/// (`totalDigits` 18) when written with two decimals.
pub const MAX_AMOUNT_MINOR: i64 = 999_999_999_999_999_999;

/// One receipt (票据) included in a revenue subject's remittance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Receipt number, e.g. `"44030126/0000000001"` (Max35Text).
    pub number: String,
    /// Receipt amount in minor units (fen).
    pub amount_minor: i64,
}

/// The remitted amount for one revenue subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRemittance {
    /// Revenue subject code, e.g. `"1030414"` (Max35Text).
    pub revenue_subject: String,
    /// Revenue subject name (Max140Text).
    pub name: String,
    /// Subject amount in minor units; must equal the sum of its receipts.
    pub amount_minor: i64,
    /// Receipts making up the subject amount.
    pub receipts: Vec<Receipt>,
}

/// One remittance advice: a single transfer to the treasury.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemittanceDoc {
    /// Message id (Max35Text), e.g. `"RB-20261124-0001"`; also used as
    /// `RmtId` and `EndToEndId`.
    pub message_id: String,
    /// Creation timestamp (`CreDtTm`), written to whole seconds.
    pub created_at: DateTime<FixedOffset>,
    /// Business date being remitted (`ReqdExctnDt/Dt`, receipts' `RltdDt`).
    pub business_date: NaiveDate,
    /// ISO 4217 currency code, e.g. `"CNY"`.
    pub currency: String,
    /// The collecting centre (Max140Text).
    pub debtor_name: String,
    /// The non-tax collection account number (`Othr/Id`, Max34Text).
    pub debtor_account: String,
    /// The treasury (国库) (Max140Text).
    pub creditor_name: String,
    /// The treasury account number (`Othr/Id`, Max34Text).
    pub creditor_account: String,
    /// Per-subject breakdown; at least one.
    pub subjects: Vec<SubjectRemittance>,
}

/// Errors from [`write_remt`].
#[derive(Debug, thiserror::Error)]
pub enum RemtError {
    /// The document has no revenue subjects.
    #[error("remittance has no revenue subjects")]
    NoSubjects,
    /// A subject's receipts do not add up to the subject amount.
    #[error(
        "subject {subject}: receipts add up to {receipts_total} minor units, subject amount is {subject_amount}"
    )]
    SubjectSumMismatch {
        /// Revenue subject code.
        subject: String,
        /// Declared subject amount (minor units).
        subject_amount: i64,
        /// Sum of the subject's receipts (minor units).
        receipts_total: i128,
    },
    /// An amount is zero or negative.
    #[error("{field}: amount {amount} must be greater than zero")]
    NonPositiveAmount {
        /// Path of the offending field.
        field: String,
        /// The amount (minor units).
        amount: i64,
    },
    /// An amount (or the total) exceeds 18 digits.
    #[error("{field}: amount {amount} exceeds the schema's 18 total digits")]
    AmountTooLarge {
        /// Path of the offending field.
        field: String,
        /// The amount (minor units).
        amount: i128,
    },
    /// A mandatory text field is empty (schema `minLength` 1).
    #[error("{field}: must not be empty")]
    EmptyText {
        /// Path of the offending field.
        field: String,
    },
    /// A text field is longer than its schema type allows.
    #[error("{field}: {len} characters exceeds the maximum of {max}")]
    TextTooLong {
        /// Path of the offending field.
        field: String,
        /// Actual length in characters.
        len: usize,
        /// Schema maximum length in characters.
        max: usize,
    },
    /// A text field contains a control (or XML-forbidden) character.
    #[error("{field}: control character U+{code:04X} not allowed")]
    ControlCharacter {
        /// Path of the offending field.
        field: String,
        /// The character's code point.
        code: u32,
    },
    /// The currency is not three upper-case ASCII letters.
    #[error("currency {0:?} is not an ISO 4217 code ([A-Z]{{3}})")]
    InvalidCurrency(String),
    /// Writing the XML failed.
    #[error("writing XML: {0}")]
    Io(#[from] io::Error),
}

/// Validates `doc` and writes it as a UTF-8 `remt.001.001.04` document.
///
/// The output is deterministic: the same document gives the same bytes.
pub fn write_remt(doc: &RemittanceDoc) -> Result<Vec<u8>, RemtError> {
    let total = validate(doc)?;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Document")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("RmtAdvc").write_inner_content(|w| {
                write_group_header(w, doc)?;
                write_remittance_information(w, doc, total)
            })?;
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

fn validate(doc: &RemittanceDoc) -> Result<i64, RemtError> {
    check_text("message_id", &doc.message_id, MAX35)?;
    check_text("debtor_name", &doc.debtor_name, MAX140)?;
    check_text("debtor_account", &doc.debtor_account, MAX34)?;
    check_text("creditor_name", &doc.creditor_name, MAX140)?;
    check_text("creditor_account", &doc.creditor_account, MAX34)?;
    if doc.currency.len() != 3 || !doc.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RemtError::InvalidCurrency(doc.currency.clone()));
    }
    if doc.subjects.is_empty() {
        return Err(RemtError::NoSubjects);
    }
    let mut total: i128 = 0;
    for (i, s) in doc.subjects.iter().enumerate() {
        check_text(
            &format!("subjects[{i}].revenue_subject"),
            &s.revenue_subject,
            MAX35,
        )?;
        check_text(&format!("subjects[{i}].name"), &s.name, MAX140)?;
        check_amount(&format!("subjects[{i}].amount_minor"), s.amount_minor)?;
        let mut sum: i128 = 0;
        for (j, r) in s.receipts.iter().enumerate() {
            check_text(
                &format!("subjects[{i}].receipts[{j}].number"),
                &r.number,
                MAX35,
            )?;
            check_amount(
                &format!("subjects[{i}].receipts[{j}].amount_minor"),
                r.amount_minor,
            )?;
            sum += i128::from(r.amount_minor);
        }
        if sum != i128::from(s.amount_minor) {
            return Err(RemtError::SubjectSumMismatch {
                subject: s.revenue_subject.clone(),
                subject_amount: s.amount_minor,
                receipts_total: sum,
            });
        }
        total += sum;
    }
    i64::try_from(total)
        .ok()
        .filter(|t| *t <= MAX_AMOUNT_MINOR)
        .ok_or(RemtError::AmountTooLarge {
            field: "total".to_owned(),
            amount: total,
        })
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), RemtError> {
    let field = field.to_owned();
    iso20022::check_text(value, max).map_err(|problem| match problem {
        TextProblem::Empty => RemtError::EmptyText { field },
        TextProblem::TooLong { len, max } => RemtError::TextTooLong { field, len, max },
        TextProblem::Control(code) => RemtError::ControlCharacter { field, code },
    })
}

fn check_amount(field: &str, amount: i64) -> Result<(), RemtError> {
    if amount <= 0 {
        return Err(RemtError::NonPositiveAmount {
            field: field.to_owned(),
            amount,
        });
    }
    if amount > MAX_AMOUNT_MINOR {
        return Err(RemtError::AmountTooLarge {
            field: field.to_owned(),
            amount: i128::from(amount),
        });
    }
    Ok(())
}

fn write_group_header<W: io::Write>(w: &mut Writer<W>, doc: &RemittanceDoc) -> io::Result<()> {
    w.create_element("GrpHdr").write_inner_content(|w| {
        text(w, "MsgId", &doc.message_id)?;
        text(w, "CreDtTm", &iso20022::iso_datetime(&doc.created_at))?;
        party(w, "InitgPty", &doc.debtor_name)
    })?;
    Ok(())
}

fn write_remittance_information<W: io::Write>(
    w: &mut Writer<W>,
    doc: &RemittanceDoc,
    total: i64,
) -> io::Result<()> {
    let ccy = doc.currency.as_str();
    let date = doc.business_date.format("%Y-%m-%d").to_string();
    w.create_element("RmtInf").write_inner_content(|w| {
        text(w, "RmtId", &doc.message_id)?;
        for s in &doc.subjects {
            w.create_element("Strd").write_inner_content(|w| {
                for r in &s.receipts {
                    w.create_element("RfrdDocInf").write_inner_content(|w| {
                        proprietary_type(w, RECEIPT_DOC_TYPE)?;
                        text(w, "Nb", &r.number)?;
                        text(w, "RltdDt", &date)?;
                        w.create_element("LineDtls").write_inner_content(|w| {
                            w.create_element("Id")
                                .write_inner_content(|w| text(w, "Nb", &r.number))?;
                            w.create_element("Amt").write_inner_content(|w| {
                                amount(w, "RmtdAmt", ccy, r.amount_minor)
                            })?;
                            Ok(())
                        })?;
                        Ok(())
                    })?;
                }
                w.create_element("RfrdDocAmt")
                    .write_inner_content(|w| amount(w, "RmtdAmt", ccy, s.amount_minor))?;
                w.create_element("CdtrRefInf").write_inner_content(|w| {
                    proprietary_type(w, REVENUE_SUBJECT_REF_TYPE)?;
                    text(w, "Ref", &s.revenue_subject)
                })?;
                text(w, "AddtlRmtInf", &s.name)
            })?;
        }
        w.create_element("OrgnlPmtInf").write_inner_content(|w| {
            w.create_element("Refs")
                .write_inner_content(|w| text(w, "EndToEndId", &doc.message_id))?;
            w.create_element("Amt")
                .write_inner_content(|w| amount(w, "InstdAmt", ccy, total))?;
            w.create_element("ReqdExctnDt")
                .write_inner_content(|w| text(w, "Dt", &date))?;
            party(w, "Dbtr", &doc.debtor_name)?;
            account(w, "DbtrAcct", &doc.debtor_account, ccy)?;
            party(w, "Cdtr", &doc.creditor_name)?;
            account(w, "CdtrAcct", &doc.creditor_account, ccy)
        })?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::format_minor as format_amount;
    use crate::treasury::iso20022::testing;
    use chrono::TimeZone;

    fn receipt(n: u32, amount_minor: i64) -> Receipt {
        Receipt {
            number: format!("44030126/{n:010}"),
            amount_minor,
        }
    }

    fn sample() -> RemittanceDoc {
        let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
        RemittanceDoc {
            message_id: "RB-20261124-0001".to_owned(),
            created_at: tz
                .with_ymd_and_hms(2026, 11, 25, 9, 30, 0)
                .single()
                .expect("datetime"),
            business_date: NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
            currency: "CNY".to_owned(),
            debtor_name: "某市公共资源收费中心 & <一卡通>".to_owned(),
            debtor_account: "44050101040009876".to_owned(),
            creditor_name: "国家金库某市中心支库".to_owned(),
            creditor_account: "270000000000000001".to_owned(),
            subjects: vec![
                SubjectRemittance {
                    revenue_subject: "1030414".to_owned(),
                    name: "城市基础设施配套费".to_owned(),
                    amount_minor: 123_456 + 100 + 5,
                    receipts: vec![receipt(1, 123_456), receipt(2, 100), receipt(3, 5)],
                },
                SubjectRemittance {
                    revenue_subject: "1030199".to_owned(),
                    name: "其他行政事业性收费".to_owned(),
                    amount_minor: 5_000_000 + 99,
                    receipts: vec![receipt(4, 5_000_000), receipt(5, 99)],
                },
            ],
        }
    }

    fn xmllint_validate(xml: &[u8], name: &str) {
        testing::assert_valid(xml, "remt.001.001.04.xsd", &format!("remt-{name}"));
    }

    #[test]
    fn two_subjects_validate_against_xsd() {
        let xml = write_remt(&sample()).expect("write");
        let s = String::from_utf8(xml.clone()).expect("utf-8");
        assert!(s.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(s.contains("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:remt.001.001.04\">"));
        assert!(s.contains("<AddtlRmtInf>城市基础设施配套费</AddtlRmtInf>"));
        assert!(s.contains("<Nm>某市公共资源收费中心 &amp; &lt;一卡通&gt;</Nm>"));
        assert!(s.contains("<RmtdAmt Ccy=\"CNY\">1235.61</RmtdAmt>"));
        assert!(s.contains("<RmtdAmt Ccy=\"CNY\">0.05</RmtdAmt>"));
        assert!(s.contains("<InstdAmt Ccy=\"CNY\">51236.60</InstdAmt>"));
        assert!(s.contains("<CreDtTm>2026-11-25T09:30:00+08:00</CreDtTm>"));
        assert!(s.contains("<Dt>2026-11-24</Dt>"));
        xmllint_validate(&xml, "two-subjects");
    }

    #[test]
    fn output_is_deterministic() {
        let a = write_remt(&sample()).expect("write");
        let b = write_remt(&sample().clone()).expect("write");
        assert_eq!(a, b);
    }

    #[test]
    fn thousand_receipts_validate() {
        let mut doc = sample();
        let receipts: Vec<Receipt> = (1..=1000).map(|n| receipt(n, i64::from(n))).collect();
        doc.subjects[0].amount_minor = receipts.iter().map(|r| r.amount_minor).sum();
        doc.subjects[0].receipts = receipts;
        let xml = write_remt(&doc).expect("write");
        xmllint_validate(&xml, "thousand");
    }

    #[test]
    fn amount_formatting() {
        assert_eq!(format_amount(1), "0.01");
        assert_eq!(format_amount(10), "0.10");
        assert_eq!(format_amount(100), "1.00");
        assert_eq!(format_amount(MAX_AMOUNT_MINOR), "9999999999999999.99");
    }

    #[test]
    fn rejects_no_subjects() {
        let mut doc = sample();
        doc.subjects.clear();
        assert!(matches!(write_remt(&doc), Err(RemtError::NoSubjects)));
    }

    #[test]
    fn rejects_sum_mismatch() {
        let mut doc = sample();
        doc.subjects[1].amount_minor += 1;
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::SubjectSumMismatch { ref subject, .. }) if subject == "1030199"
        ));
        let mut doc = sample();
        doc.subjects[0].receipts.clear();
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::SubjectSumMismatch {
                receipts_total: 0,
                ..
            })
        ));
    }

    #[test]
    fn rejects_non_positive_amounts() {
        let mut doc = sample();
        doc.subjects[0].receipts[2].amount_minor = 0;
        doc.subjects[0].amount_minor -= 5;
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::NonPositiveAmount { amount: 0, .. })
        ));
        let mut doc = sample();
        doc.subjects[1].amount_minor = -1;
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::NonPositiveAmount { ref field, amount: -1 }) if field == "subjects[1].amount_minor"
        ));
    }

    #[test]
    fn rejects_too_large_amounts() {
        let mut doc = sample();
        doc.subjects[0].amount_minor = MAX_AMOUNT_MINOR + 1;
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::AmountTooLarge { .. })
        ));
        let mut doc = sample();
        for s in &mut doc.subjects {
            s.amount_minor = MAX_AMOUNT_MINOR;
            s.receipts = vec![receipt(1, MAX_AMOUNT_MINOR)];
        }
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::AmountTooLarge { ref field, .. }) if field == "total"
        ));
    }

    #[test]
    fn rejects_too_long_text() {
        let mut doc = sample();
        doc.message_id = "X".repeat(36);
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::TextTooLong {
                len: 36,
                max: 35,
                ..
            })
        ));
        // Max140Text counts characters, not bytes.
        let mut doc = sample();
        doc.subjects[0].name = "费".repeat(140);
        assert!(write_remt(&doc).is_ok());
        doc.subjects[0].name = "费".repeat(141);
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::TextTooLong {
                len: 141,
                max: 140,
                ..
            })
        ));
        let mut doc = sample();
        doc.subjects[0].receipts[0].number = "9".repeat(36);
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::TextTooLong { max: 35, .. })
        ));
        let mut doc = sample();
        doc.debtor_account = "1".repeat(35);
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::TextTooLong { max: 34, .. })
        ));
    }

    #[test]
    fn rejects_empty_text() {
        let mut doc = sample();
        doc.creditor_name.clear();
        assert!(matches!(
            write_remt(&doc),
            Err(RemtError::EmptyText { ref field }) if field == "creditor_name"
        ));
    }

    #[test]
    fn rejects_control_characters() {
        for bad in ["a\u{0}b", "a\nb", "a\tb", "a\u{7F}", "a\u{85}", "a\u{FFFF}"] {
            let mut doc = sample();
            doc.subjects[1].name = bad.to_owned();
            assert!(
                matches!(write_remt(&doc), Err(RemtError::ControlCharacter { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn rejects_bad_currency() {
        for bad in ["cny", "CN", "CNYY", "人民币"] {
            let mut doc = sample();
            doc.currency = bad.to_owned();
            assert!(matches!(
                write_remt(&doc),
                Err(RemtError::InvalidCurrency(_))
            ));
        }
    }
}

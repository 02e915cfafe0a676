//! Tests of the camt reader: real samples (when `ONECARD_REAL_SAMPLES` has them), fixtures and
//! hand-made documents.

use std::path::{Path, PathBuf};

use super::*;
use crate::bankfiles::records::{Record, StatementBooking, StatementSummary};

fn samples() -> PathBuf {
    crate::bankfiles::real_samples_dir()
}
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

fn run(xml: &[u8], msg: CamtMessage) -> (Result<CamtDocument, ReadError>, Vec<Record>) {
    let mut out = Vec::new();
    let res = read_camt(xml, msg, &mut |r: Record| {
        out.push(r);
        Ok(())
    });
    (res, out)
}

fn run_file(path: &Path, msg: CamtMessage) -> (Result<CamtDocument, ReadError>, Vec<Record>) {
    let file = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    let res = read_camt(io::BufReader::new(file), msg, &mut |r: Record| {
        out.push(r);
        Ok(())
    });
    (res, out)
}

fn err_line(res: &Result<CamtDocument, ReadError>) -> (u64, String) {
    match res {
        Err(ReadError::Corrupt {
            line,
            byte: None,
            message,
        }) => (*line, message.clone()),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn bookings(recs: &[Record]) -> Vec<&StatementBooking> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Booking(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn summaries(recs: &[Record]) -> Vec<&StatementSummary> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Statement(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// A camt.053.001.02 statement; `bals` and `body` are pasted in.
fn stmt02(bals: &str, summary: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n\
         <BkToCstmrStmt>\n<GrpHdr><MsgId>M</MsgId></GrpHdr>\n<Stmt>\n<Id>S1</Id>\n\
         <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>\n{bals}{summary}{body}</Stmt>\n\
         </BkToCstmrStmt>\n</Document>\n"
    )
}

fn bal(code: &str, amt: &str, ind: &str) -> String {
    format!(
        "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{amt}</Amt>\
         <CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>2024-03-01</Dt></Dt></Bal>\n"
    )
}

fn ntry(amt: &str, ind: &str, extra: &str) -> String {
    format!(
        "<Ntry>\n<Amt Ccy=\"EUR\">{amt}</Amt>\n<CdtDbtInd>{ind}</CdtDbtInd>\n{extra}<Sts>BOOK</Sts>\n\
         <BookgDt><Dt>2024-03-01</Dt></BookgDt>\n</Ntry>\n"
    )
}

#[test]
fn real_sample_v02_exact_values() {
    let (res, recs) = run_file(
        &samples().join("camt053/fi-FI_camt_053_sample.xml"),
        CamtMessage::Camt053,
    );
    let doc = res.unwrap();
    assert_eq!(doc.version, "camt.053.001.02");
    assert_eq!((doc.statements, doc.entries), (1, 10));
    let b = bookings(&recs);
    let e = b[6];
    assert_eq!(e.line, 592);
    assert_eq!(e.account, "FI7433010001222090");
    assert_eq!(e.amount_minor, 212_000);
    assert_eq!(e.direction, Direction::Credit);
    assert_eq!(
        e.booking_date,
        NaiveDate::from_ymd_opt(2009, 10, 29).unwrap()
    );
    assert_eq!(e.value_date, NaiveDate::from_ymd_opt(2009, 10, 30));
    assert_eq!(e.narrative, "INVOICE US20291092");
    assert_eq!(e.counterparty_name.as_deref(), Some("DEBTOR NAME"));
    assert_eq!(e.bank_ref.as_deref(), Some("091029ACCTSTMTARCH06"));
    let s = summaries(&recs)[0];
    assert_eq!(
        (s.opening_minor, s.closing_minor),
        (Some(1_000_000), Some(2_364_483))
    );
    assert_eq!(
        (s.credit_count, s.credit_minor, s.debit_count, s.debit_minor),
        (6, 2_307_500, 4, 943_017)
    );
}

#[test]
fn real_sample_v04_exact_values() {
    let (res, recs) = run_file(
        &samples()
            .join("camt054/postfinance-camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml"),
        CamtMessage::Camt054,
    );
    assert_eq!(res.unwrap().version, "camt.054.001.04");
    let b = bookings(&recs);
    assert_eq!(b.len(), 1);
    let e = b[0];
    assert_eq!(e.line, 31);
    assert_eq!(
        (e.amount_minor, e.direction, e.reversal),
        (50_000, Direction::Credit, true)
    );
    assert_eq!(
        e.booking_date,
        NaiveDate::from_ymd_opt(2020, 11, 24).unwrap()
    );
    assert_eq!(e.bank_ref.as_deref(), Some("075820002ZZTJR1K"));
    assert_eq!(e.counterparty_name.as_deref(), Some("Robert Schneider SA"));
    assert_eq!(
        e.counterparty_account.as_deref(),
        Some("CH8709000000929471495")
    );
    assert_eq!(
        e.narrative,
        "EndToEndId-001-03-04 RETOUR TRANSAKTION NICHT AUSFÜHRBAR Kontouebertrag"
    );
}

#[test]
fn real_postfinance_closing_balance_leaves_out_forward_value_dated_entry() {
    let (res, recs) = run_file(
        &samples()
            .join("camt053/postfinance-camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml"),
        CamtMessage::Camt053,
    );
    res.unwrap();
    let s = summaries(&recs)[0];
    // 211993.19 + 4.50 - 77.70 + 1500.00 + 1692.22 = 215112.21; the 1537.00 credit is
    // value-dated 2020-11-25, after the CLBD date 2020-11-24.
    assert_eq!(
        (s.opening_minor, s.closing_minor),
        (Some(21_199_319), Some(21_511_221))
    );
    assert_eq!(s.credit_minor - s.debit_minor, 465_602);
}

#[test]
fn real_samples_v08_refusal_messages() {
    let (res, _) = run_file(
        &samples().join("camt053/genkgo-camt053.v8.xml"),
        CamtMessage::Camt053,
    );
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 80: closing balance CLBD is in SEK, but this statement is in EUR (from opening balance OPBD \
         at line 68); one statement's balances and entries must all be in one currency"
    );
    let (res, _) = run_file(
        &samples().join("camt054/genkgo-camt054.v8.xml"),
        CamtMessage::Camt054,
    );
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 92: batch Btch/NbOfTxs says 2 transactions, but the entry details list 3 (TxDtls)"
    );
}

#[test]
fn balance_chains_and_off_by_one_cent_is_refused() {
    let body = ntry("200.00", "CRDT", "");
    let ok = stmt02(
        &(bal("OPBD", "1000.00", "CRDT") + &bal("CLBD", "1200.00", "CRDT")),
        "",
        &body,
    );
    let (res, recs) = run(ok.as_bytes(), CamtMessage::Camt053);
    assert_eq!(res.unwrap().entries, 1);
    assert_eq!(summaries(&recs)[0].closing_minor, Some(120_000));
    let bad = stmt02(
        &(bal("OPBD", "1000.00", "CRDT") + &bal("CLBD", "1200.01", "CRDT")),
        "",
        &body,
    );
    let (res, _) = run(bad.as_bytes(), CamtMessage::Camt053);
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 9: closing balance CLBD 1200.01 EUR does not equal opening OPBD 1000.00 + booked entries 200.00 = 1200.00"
    );
    // PRCD stands in for a missing OPBD.
    let prcd = stmt02(
        &(bal("PRCD", "1000.00", "CRDT") + &bal("CLBD", "1200.00", "CRDT")),
        "",
        &body,
    );
    assert!(run(prcd.as_bytes(), CamtMessage::Camt053).0.is_ok());
}

#[test]
fn debit_balance_sign() {
    let xml = stmt02(
        &(bal("OPBD", "100.00", "DBIT") + &bal("CLBD", "30.00", "CRDT")),
        "",
        &ntry("130.00", "CRDT", ""),
    );
    let (res, recs) = run(xml.as_bytes(), CamtMessage::Camt053);
    res.unwrap();
    let s = summaries(&recs)[0];
    assert_eq!(
        (s.opening_minor, s.closing_minor),
        (Some(-10_000), Some(3_000))
    );
    let xml = stmt02(
        &(bal("OPBD", "100.00", "CRDT") + &bal("CLBD", "30.00", "DBIT")),
        "",
        &ntry("130.00", "DBIT", ""),
    );
    assert!(run(xml.as_bytes(), CamtMessage::Camt053).0.is_ok());
}

#[test]
fn txs_summary_count_and_sum_checked() {
    let body = ntry("10.00", "CRDT", "") + &ntry("2.50", "DBIT", "");
    let summ = |n: &str, sum: &str| {
        format!("<TxsSummry>\n<TtlNtries>\n<NbOfNtries>{n}</NbOfNtries>\n<Sum>{sum}</Sum>\n</TtlNtries>\n</TxsSummry>\n")
    };
    assert!(run(
        stmt02("", &summ("2", "12.50"), &body).as_bytes(),
        CamtMessage::Camt053
    )
    .0
    .is_ok());
    let (res, _) = run(
        stmt02("", &summ("3", "12.50"), &body).as_bytes(),
        CamtMessage::Camt053,
    );
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 10: TxsSummry TtlNtries/NbOfNtries says 3 entries, but the statement has 2"
    );
    let (res, _) = run(
        stmt02("", &summ("2", "12.51"), &body).as_bytes(),
        CamtMessage::Camt053,
    );
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 11: TxsSummry TtlNtries/Sum is 12.51 EUR, but the statement's entries add up to 12.50 EUR"
    );
}

#[test]
fn batch_count_checked() {
    let dtls = |n: u32| {
        format!(
            "<NtryDtls>\n<Btch><NbOfTxs>{n}</NbOfTxs></Btch>\n<TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">4.00</Amt></TxAmt></AmtDtls></TxDtls>\n\
             <TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">6.00</Amt></TxAmt></AmtDtls></TxDtls>\n</NtryDtls>\n"
        )
    };
    let ok = stmt02("", "", &ntry("10.00", "CRDT", &dtls(2)));
    assert!(run(ok.as_bytes(), CamtMessage::Camt053).0.is_ok());
    let bad = stmt02("", "", &ntry("10.00", "CRDT", &dtls(3)));
    let (line, msg) = err_line(&run(bad.as_bytes(), CamtMessage::Camt053).0);
    assert_eq!(line, 12);
    assert!(msg.contains("NbOfTxs says 3"), "{msg}");
}

#[test]
fn reversal_keeps_direction() {
    let xml = stmt02("", "", &ntry("7.00", "DBIT", "<RvslInd>true</RvslInd>\n"));
    let (res, recs) = run(xml.as_bytes(), CamtMessage::Camt053);
    res.unwrap();
    let b = bookings(&recs)[0];
    assert_eq!(
        (b.direction, b.reversal, b.amount_minor),
        (Direction::Debit, true, 700)
    );
}

#[test]
fn status_shapes_v02_and_v08_and_pending_skipped() {
    let v08 = |sts: &str| {
        format!(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt><Stmt><Id>S</Id>\
             <Acct><Id><Othr><Id>123</Id></Othr></Id></Acct>\
             <Ntry><Amt Ccy=\"CNY\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>{sts}</Sts>\
             <BookgDt><Dt>2024-01-02</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt></Document>"
        )
    };
    let (res, recs) = run(v08("<Cd>BOOK</Cd>").as_bytes(), CamtMessage::Camt053);
    assert_eq!(res.unwrap().entries, 1);
    assert_eq!(bookings(&recs)[0].account, "123");
    let (res, recs) = run(v08("<Cd>PDNG</Cd>").as_bytes(), CamtMessage::Camt053);
    let doc = res.unwrap();
    assert_eq!((doc.entries, doc.skipped_not_booked), (0, 1));
    assert!(bookings(&recs).is_empty());
    let v02 =
        stmt02("", "", &ntry("1.00", "CRDT", "")).replace("<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>");
    let doc = run(v02.as_bytes(), CamtMessage::Camt053).0.unwrap();
    assert_eq!((doc.entries, doc.skipped_not_booked), (0, 1));
}

#[test]
fn wrong_message_unknown_namespace_and_root_refused() {
    let xml = std::fs::read(Path::new(FIXTURES).join("camt.054/ok/v04-charges.xml")).unwrap();
    let (res, recs) = run(&xml, CamtMessage::Camt053);
    assert_eq!(
        res.unwrap_err().to_string(),
        "line 2: the file is a camt.054 (debit/credit notification) (camt.054.001.04) but a camt.053 (account statement) was expected"
    );
    assert!(recs.is_empty());
    let (line, _) = err_line(&run(b"<Document xmlns=\"urn:example\"/>", CamtMessage::Camt053).0);
    assert_eq!(line, 1);
    let (_, msg) = err_line(&run(b"<Doc/>", CamtMessage::Camt053).0);
    assert!(msg.contains("not an ISO 20022"), "{msg}");
    let v09 = b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.09\"/>";
    let (_, msg) = err_line(&run(v09, CamtMessage::Camt053).0);
    assert!(msg.contains("not a supported version"), "{msg}");
}

#[test]
fn five_decimals_refused_trailing_zeros_accepted() {
    let xml = stmt02("", "", &ntry("10.00001", "CRDT", ""));
    let (line, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert_eq!(line, 9);
    assert!(
        msg.contains("entry amount EUR: '10.00001' has more decimals"),
        "{msg}"
    );
    let xml = stmt02("", "", &ntry("10.00000", "CRDT", ""));
    let (res, recs) = run(xml.as_bytes(), CamtMessage::Camt053);
    res.unwrap();
    assert_eq!(bookings(&recs)[0].amount_minor, 1000);
}

#[test]
fn truncated_not_xml_empty_and_huge_refused() {
    let full = stmt02("", "", &ntry("1.00", "CRDT", ""));
    let cut = &full.as_bytes()[..full.len() / 2];
    let (line, msg) = err_line(&run(cut, CamtMessage::Camt053).0);
    let last_line = cut.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    assert_eq!(line, last_line, "{msg}");
    assert!(msg.contains("cut short"), "{msg}");
    let cut = &full.as_bytes()[..full.len() - "</Document>\n".len()];
    let (line, msg) = err_line(&run(cut, CamtMessage::Camt053).0);
    assert_eq!(line, cut.iter().filter(|b| **b == b'\n').count() as u64 + 1);
    assert!(msg.contains("cut short"), "{msg}");
    let (line, _) = err_line(&run(b"hello, this is a CSV\n1,2,3\n", CamtMessage::Camt053).0);
    assert_eq!(line, 1);
    let (_, msg) = err_line(&run(b"", CamtMessage::Camt053).0);
    assert!(msg.contains("empty"), "{msg}");
    let (_, msg) = err_line(&run(b"<a><b></a>", CamtMessage::Camt053).0);
    assert!(
        msg.contains("not an ISO 20022") || msg.contains("well-formed"),
        "{msg}"
    );
    let xml = stmt02("", "", &ntry("99999999999999999999.00", "CRDT", ""));
    let (line, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert_eq!(line, 9);
    assert!(msg.contains("too large"), "{msg}");
}

#[test]
fn sums_that_overflow_are_refused_not_wrapped() {
    let big = "999999999999999.00";
    let body: String = (0..200).map(|_| ntry(big, "CRDT", "")).collect();
    let (_, msg) = err_line(&run(stmt02("", "", &body).as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("too large to add up"), "{msg}");
}

#[test]
fn hostile_input_is_bounded() {
    let deep = "<a>".repeat(100);
    let doc = format!("<Document xmlns=\"{ISO_NS}camt.053.001.02\"><BkToCstmrStmt>{deep}");
    let (_, msg) = err_line(&run(doc.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("nested deeper"), "{msg}");
    let long = stmt02(
        "",
        "",
        &ntry(
            "1.00",
            "CRDT",
            &format!("<AddtlNtryInf>{}</AddtlNtryInf>\n", "x".repeat(70_000)),
        ),
    );
    let (_, msg) = err_line(&run(long.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("longer than 64 KiB"), "{msg}");
    let huge = format!(
        "<Document xmlns=\"{ISO_NS}camt.053.001.02\"><!--{}-->",
        "x".repeat(300_000)
    );
    let (_, msg) = err_line(&run(huge.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("128 KiB"), "{msg}");
    let entity = stmt02(
        "",
        "",
        &ntry("1.00", "CRDT", "<AddtlNtryInf>&xxe;</AddtlNtryInf>\n"),
    );
    let (_, msg) = err_line(&run(entity.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("unknown XML entity"), "{msg}");
}

#[test]
fn line_numbers_count_cr_and_crlf() {
    let xml = stmt02("", "", &ntry("1.001", "CRDT", ""));
    for eol in ["\r\n", "\r"] {
        let (line, _) = err_line(&run(xml.replace('\n', eol).as_bytes(), CamtMessage::Camt053).0);
        assert_eq!(line, 9);
    }
}

#[test]
fn sink_stop_ends_the_read() {
    let xml = stmt02("", "", &ntry("1.00", "CRDT", ""));
    let res = read_camt(xml.as_bytes(), CamtMessage::Camt053, &mut |_r: Record| {
        Err(ReadError::Stopped)
    });
    assert!(matches!(res, Err(ReadError::Stopped)));
}

#[test]
fn mixed_currency_entry_refused_and_missing_mandatory_fields() {
    let xml = stmt02(&bal("OPBD", "1.00", "CRDT"), "", &ntry("1.00", "CRDT", "")).replace(
        "<Amt Ccy=\"EUR\">1.00</Amt>\n<CdtDbtInd>CRDT",
        "<Amt Ccy=\"USD\">1.00</Amt>\n<CdtDbtInd>CRDT",
    );
    let (line, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert_eq!(line, 10);
    assert!(msg.contains("entry amount is in USD"), "{msg}");
    let xml =
        stmt02("", "", &ntry("1.00", "CRDT", "")).replace("<CdtDbtInd>CRDT</CdtDbtInd>\n", "");
    let (line, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert_eq!(line, 8);
    assert!(msg.contains("no CdtDbtInd"), "{msg}");
    let xml = stmt02("", "", &ntry("1.00", "CRDT", "")).replace(" Ccy=\"EUR\"", "");
    let (_, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("no currency"), "{msg}");
    let xml = stmt02("", "", &ntry("1.00", "CRDT", "")).replace(
        "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>\n",
        "",
    );
    let (_, msg) = err_line(&run(xml.as_bytes(), CamtMessage::Camt053).0);
    assert!(msg.contains("account"), "{msg}");
}

fn sample_dirs() -> Vec<(PathBuf, CamtMessage)> {
    vec![
        (samples().join("camt052"), CamtMessage::Camt052),
        (samples().join("camt053"), CamtMessage::Camt053),
        (samples().join("camt054"), CamtMessage::Camt054),
    ]
}

#[test]
fn no_panic_on_cuts_and_byte_flips_of_real_samples() {
    for (dir, msg) in sample_dirs() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            for cut in (0..data.len()).step_by(499) {
                let _ = run(&data[..cut], msg);
                let mut flipped = data.clone();
                flipped[cut] ^= 0x5a;
                let _ = run(&flipped, msg);
            }
        }
    }
}

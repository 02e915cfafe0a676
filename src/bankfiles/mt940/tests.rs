//! Tests of the MT940 reader: real samples (when `ONECARD_REAL_SAMPLES` has them) and
//! hand-made statements.

use chrono::NaiveDate;

use super::*;
use crate::bankfiles::records::{Direction, Record, StatementBooking, StatementSummary};

fn samples() -> String {
    crate::bankfiles::real_samples_dir()
        .join("mt940")
        .display()
        .to_string()
}

fn read(input: &[u8]) -> (Result<Mt940Document, ReadError>, Vec<Record>) {
    let mut out = Vec::new();
    let res = read_mt940(input, &mut |r: Record| {
        out.push(r);
        Ok(())
    });
    (res, out)
}

fn ok(input: &str) -> (Mt940Document, Vec<Record>) {
    let (res, out) = read(input.as_bytes());
    (res.unwrap(), out)
}

fn err_at(input: &[u8]) -> (u64, Option<u64>, String) {
    match read(input).0 {
        Err(ReadError::Corrupt {
            line,
            byte,
            message,
        }) => (line, byte, message),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn bookings(out: &[Record]) -> Vec<&StatementBooking> {
    out.iter()
        .filter_map(|r| match r {
            Record::Booking(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn summaries(out: &[Record]) -> Vec<&StatementSummary> {
    out.iter()
        .filter_map(|r| match r {
            Record::Statement(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// One statement around `body` (the `:61:`/`:86:` lines), opening and closing given.
fn stmt(open: &str, body: &str, close: &str) -> String {
    format!(":20:REF\n:25:ACC1\n:28C:1/1\n:60F:{open}\n{body}:62F:{close}\n-\n")
}

/// The shared real samples and the real files among the fixtures.
fn sample_files() -> Vec<std::path::PathBuf> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mt940");
    let mut files: Vec<_> = std::fs::read_dir(samples())
        .unwrap()
        .chain(std::fs::read_dir(fixtures.join("ok")).unwrap())
        .chain(std::fs::read_dir(fixtures.join("bad")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.contains(".expected") && (n.starts_with("real-") || n.starts_with("mt940rs-"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn no_prefix_of_any_sample_panics() {
    for path in sample_files() {
        let data = std::fs::read(&path).unwrap();
        let step = (data.len() / 400).max(1);
        for n in (0..data.len()).step_by(step) {
            let _ = read(&data[..n]);
            let mut flipped = data.clone();
            flipped[n] ^= 0x20;
            let _ = read(&flipped);
        }
    }
}

#[test]
fn cmxl_sample_exact_bookings() {
    let data = std::fs::read(format!("{}/mt940rs-full-cmxl-mt940_1.sta", samples())).unwrap();
    let (res, out) = read(&data);
    assert_eq!(
        res.unwrap(),
        Mt940Document {
            statements: 1,
            entries: 2
        }
    );
    let b = bookings(&out);
    // `DR800,`: D, funds code R (third letter of EUR), 800,00.
    assert_eq!(b[0].line, 6);
    assert_eq!(b[0].direction, Direction::Debit);
    assert!(!b[0].reversal);
    assert_eq!(b[0].amount_minor, 80_000);
    assert_eq!(b[0].value_date, Some(d(2002, 11, 1)));
    assert_eq!(b[0].booking_date, d(2002, 11, 2));
    assert_eq!(b[0].bank_ref.as_deref(), Some("55555"));
    assert_eq!(b[0].narrative, "Miete November");
    assert_eq!(b[0].counterparty_account.as_deref(), Some("234567"));
    assert_eq!(b[0].counterparty_name.as_deref(), Some("MUELLER"));
    assert_eq!(b[1].direction, Direction::Credit);
    assert_eq!(b[1].amount_minor, 300_000);
    assert_eq!(b[1].counterparty_account.as_deref(), Some("0847564700"));
    let s = summaries(&out);
    assert_eq!(s[0].statement_id, "1234567/5/1");
    assert_eq!(s[0].account, "10020030/1234567");
    assert_eq!(s[0].opening_minor, Some(218_795));
    assert_eq!(s[0].closing_minor, Some(438_795));
    assert_eq!(s[0].to_date, Some(d(2002, 11, 30)));
}

#[test]
fn rabobank_and_betterplace_samples_exact_bookings() {
    let data = std::fs::read(format!(
        "{}/mt940rs-full-jejik-rabobank-iban.sta",
        samples()
    ))
    .unwrap();
    let (res, out) = read(&data);
    assert_eq!(
        res.unwrap(),
        Mt940Document {
            statements: 2,
            entries: 4
        }
    );
    let b = bookings(&out);
    assert_eq!(b[0].line, 6);
    assert_eq!(b[0].account, "NL71RABO0123456789");
    assert_eq!(b[0].amount_minor, 2_500);
    assert_eq!(b[0].direction, Direction::Debit);
    assert_eq!(b[0].booking_date, d(2013, 1, 1));
    assert_eq!(b[0].bank_ref.as_deref(), Some("EREF"));
    assert_eq!(
        b[0].narrative,
        "/EREF/01-01-2013 12:00 0030000987654321/BENM//NAME/CONTRA ACCOUN T HOLDER/REMI//ISDT/2013-07-11"
    );
    assert_eq!(b[1].bank_ref, None);
    let s = summaries(&out);
    assert_eq!(s[0].statement_id, "940S130101/0");
    assert_eq!(s[1].opening_minor, Some(96_500));
    assert_eq!(s[1].closing_minor, Some(93_000));

    let data = std::fs::read(format!(
        "{}/mt940rs-full-betterplace-sepa_mt9401.sta",
        samples()
    ))
    .unwrap();
    let (res, out) = read(&data);
    assert_eq!(
        res.unwrap(),
        Mt940Document {
            statements: 26,
            entries: 97
        }
    );
    let b = bookings(&out);
    // `:61:0709040904RCR204,88NRTINONREF`: reversal of a credit, funds code R.
    let rc = b.iter().find(|x| x.line == 19).unwrap();
    assert_eq!(rc.direction, Direction::Debit);
    assert!(rc.reversal);
    assert_eq!(rc.amount_minor, 20_488);
    assert_eq!(rc.bank_ref, None);
    assert_eq!(rc.narrative, "0904059003");
    let s = summaries(&out);
    assert_eq!(s[0].opening_minor, Some(-123_471_836));
    assert_eq!(s[0].closing_minor, Some(-123_762_823));
}

#[test]
fn rd_and_rc_are_reversals_with_their_balance_effect() {
    let body = ":61:240102RD10,00NTRFNONREF\n:61:240102RC3,00NTRFNONREF\n";
    let (doc, out) = ok(&stmt("C240102EUR1,00", body, "C240102EUR8,00"));
    assert_eq!(doc.entries, 2);
    let b = bookings(&out);
    assert_eq!((b[0].direction, b[0].reversal), (Direction::Credit, true));
    assert_eq!((b[1].direction, b[1].reversal), (Direction::Debit, true));
    let s = summaries(&out);
    assert_eq!((s[0].credit_count, s[0].credit_minor), (1, 1_000));
    assert_eq!((s[0].debit_count, s[0].debit_minor), (1, 300));
}

#[test]
fn entry_date_crosses_year_end_both_ways() {
    let body = ":61:2312310102C1,00NTRFNONREF\n:61:2401021231C1,00NTRFNONREF\n";
    let (_, out) = ok(&stmt("C231231EUR0,00", body, "C240102EUR2,00"));
    let b = bookings(&out);
    assert_eq!(b[0].value_date, Some(d(2023, 12, 31)));
    assert_eq!(b[0].booking_date, d(2024, 1, 2));
    assert_eq!(b[1].value_date, Some(d(2024, 1, 2)));
    assert_eq!(b[1].booking_date, d(2023, 12, 31));
}

#[test]
fn entry_date_absent_means_booking_on_value_date() {
    let (_, out) = ok(&stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFREF1\n",
        "C240102EUR1,00",
    ));
    let b = bookings(&out);
    assert_eq!(b[0].booking_date, d(2024, 1, 2));
    assert_eq!(b[0].value_date, Some(d(2024, 1, 2)));
    assert_eq!(b[0].bank_ref.as_deref(), Some("REF1"));
}

#[test]
fn booking_date_far_outside_the_statement_is_refused() {
    // (what, body, expected line, expected byte if checked, text the message holds)
    let cases = [
        (
            "booked in January, the statement opens in March",
            ":61:2401150115C1,00NTRFNONREF\n",
            5,
            Some(Some(11)),
            "",
        ),
        (
            "value-dated 19 days after the closing",
            ":61:240320C1,00NTRFNONREF\n",
            5,
            None,
            "after the closing",
        ),
    ];
    for (what, body, line, byte, text) in cases {
        let e = err_at(stmt("C240301EUR0,00", body, "C240301EUR1,00").as_bytes());
        assert_eq!(e.0, line, "{what}: {}", e.2);
        if let Some(byte) = byte {
            assert_eq!(e.1, byte, "{what}: {}", e.2);
        }
        assert!(e.2.contains(text), "{what}: {}", e.2);
    }
}

#[test]
fn details_continuation_lines_are_joined() {
    let body = ":61:240102C1,00NTRFNONREF//B1\nSUPPLEMENTARY\n:86:first line  \n second\nthird\n";
    let (_, out) = ok(&stmt("C240102EUR0,00", body, "C240102EUR1,00"));
    let b = bookings(&out);
    assert_eq!(b[0].narrative, "first line second third");
    assert_eq!(b[0].bank_ref.as_deref(), Some("B1"));
    // without :86: the supplementary details are the narrative
    let body = ":61:240102C1,00NTRFNONREF\nCard payment\n";
    let (_, out) = ok(&stmt("C240102EUR0,00", body, "C240102EUR1,00"));
    assert_eq!(bookings(&out)[0].narrative, "Card payment");
}

#[test]
fn absurd_details_and_lines_are_refused() {
    let long = "X".repeat(65);
    let mut body = String::from(":61:240102C1,00NTRFNONREF\n:86:start\n");
    for _ in 0..40 {
        body.push_str(&long);
        body.push('\n');
    }
    let e = err_at(stmt("C240102EUR0,00", &body, "C240102EUR1,00").as_bytes());
    assert!(e.2.contains("longer than"), "{}", e.2);
    let line = format!(":20:{}\n", "A".repeat(MAX_LINE_BYTES + 10));
    let e = err_at(line.as_bytes());
    assert_eq!(e.0, 1);
}

#[test]
fn two_messages_chain_and_a_break_is_refused() {
    let first = stmt(
        "C240102EUR10,00",
        ":61:240102D1,00NTRFNONREF\n",
        "C240102EUR9,00",
    );
    let second = stmt("C240102EUR9,00", "", "C240103EUR9,00");
    let (doc, out) = ok(&format!("{first}{second}"));
    assert_eq!(
        doc,
        Mt940Document {
            statements: 2,
            entries: 1
        }
    );
    assert_eq!(summaries(&out)[1].line, 8);
    let broken = stmt("C240102EUR9,01", "", "C240103EUR9,01");
    let e = err_at(format!("{first}{broken}").as_bytes());
    assert_eq!((e.0, e.1), (11, Some(6)));
    // another account does not chain
    let other = broken.replace("ACC1", "ACC2");
    let (doc, _) = ok(&format!("{first}{other}"));
    assert_eq!(doc.statements, 2);
}

#[test]
fn balance_off_by_one_cent_is_refused_at_the_closing_line() {
    let e = err_at(
        stmt(
            "C240102EUR10,00",
            ":61:240102D1,00NTRFNONREF\n",
            "C240102EUR9,01",
        )
        .as_bytes(),
    );
    assert_eq!((e.0, e.1), (6, Some(6)));
    assert!(e.2.contains("9,01") && e.2.contains("= 9,00"), "{}", e.2);
}

#[test]
fn thirtieth_of_february_is_refused_with_its_column() {
    // (what, opening balance, body, closing balance, expected line and byte)
    let cases = [
        (
            "value date 2024-02-30",
            "C240228EUR0,00",
            ":61:2402300230C1,00NTRFNONREF\n",
            "C240229EUR1,00",
            (5, Some(5)),
        ),
        (
            "entry date 02-30",
            "C240228EUR0,00",
            ":61:2402290230C1,00NTRFNONREF\n",
            "C240229EUR1,00",
            (5, Some(11)),
        ),
        (
            "opening balance date 2024-02-30",
            "C240230EUR0,00",
            "",
            "C240229EUR0,00",
            (4, Some(7)),
        ),
    ];
    for (what, open, body, close, expected) in cases {
        let e = err_at(stmt(open, body, close).as_bytes());
        assert_eq!((e.0, e.1), expected, "{what}: {}", e.2);
    }
}

#[test]
fn truncated_file_names_its_last_line() {
    let full = stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFNONREF\n:86:x\n",
        "C240102EUR1,00",
    );
    let cut: String = full.lines().take(6).map(|l| format!("{l}\n")).collect();
    let e = err_at(cut.as_bytes());
    assert_eq!(e.0, 6);
    assert!(e.2.contains("truncated"), "{}", e.2);
    let e =
        err_at(b"{1:F01X}{2:I940X}{4:\n:20:A\n:25:B\n:60F:C240102EUR0,00\n:62F:C240102EUR0,00\n");
    assert_eq!(e.0, 5);
    assert!(e.2.contains("{4:"), "{}", e.2);
    let e = err_at(b"ABNANL2A\n940\nABNANL2A\n");
    assert_eq!(e.0, 3);
}

#[test]
fn crlf_blocks_and_eof_mark() {
    let text = stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFNONREF\n:86:a\nb\n",
        "C240102EUR1,00",
    );
    let crlf = text.replace('\n', "\r\n");
    let (doc, out) = ok(&crlf);
    assert_eq!(doc.entries, 1);
    assert_eq!(bookings(&out)[0].narrative, "a b");
    let (doc, _) = ok(&format!("{crlf}\x1a"));
    assert_eq!(doc.statements, 1);
    let (doc, _) = ok(&format!("{text}\x1a\n\n"));
    assert_eq!(doc.statements, 1);
    let e = err_at(format!("{text}\x1a\n{text}").as_bytes());
    assert_eq!(e.0, 11);
    let wrapped = format!(
        "{{1:F01ABNANL2AXXXX0000000000}}{{2:I940ABNANL2AXXXXN}}{{3:{{108:X}}}}{{4:\n{}-}}{{5:{{CHK:1}}}}\n",
        text.trim_end_matches("-\n")
    );
    let (doc, _) = ok(&wrapped);
    assert_eq!(doc.statements, 1);
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(err_at(b"").0, 1);
    assert_eq!(err_at(b"\r\n\n").0, 1);
}

#[test]
fn huge_amounts_are_exact_or_refused() {
    let (_, out) = ok(&stmt(
        "C240102EUR0,00",
        ":61:240102C999999999999999,99NTRFNONREF\n",
        "C240102EUR999999999999999,99",
    ));
    assert_eq!(bookings(&out)[0].amount_minor, 99_999_999_999_999_999);
    let e = err_at(
        stmt(
            "C240102EUR0,00",
            ":61:240102C9999999999999999,00NTRFNONREF\n",
            "C240102EUR0,00",
        )
        .as_bytes(),
    );
    assert_eq!((e.0, e.1), (5, Some(12)));
    let body = ":61:240102C999999999999999,99NTRFNONREF\n".repeat(100);
    let e = err_at(stmt("C240102EUR0,00", &body, "C240102EUR0,00").as_bytes());
    assert!(e.2.contains("overflow"), "{}", e.2);
}

#[test]
fn strictness() {
    // invalid UTF-8 names line and byte
    let mut bad = stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFNONREF\n:86:ab\n",
        "C240102EUR1,00",
    )
    .into_bytes();
    let at = bad.iter().position(|&c| c == b'b').unwrap();
    bad[at] = 0xA0;
    assert_eq!(err_at(&bad).0, 6);
    assert_eq!(err_at(&bad).1, Some(6));
    // unknown tag
    let e = err_at(stmt("C240102EUR0,00", ":99:x\n", "C240102EUR0,00").as_bytes());
    assert_eq!((e.0, e.1), (5, Some(1)));
    // missing :25:
    let e = err_at(b":20:A\n:60F:C240102EUR0,00\n:62F:C240102EUR0,00\n");
    assert_eq!(e.0, 2);
    // currency mismatch
    let e = err_at(stmt("C240102EUR0,00", "", "C240102USD0,00").as_bytes());
    assert_eq!((e.0, e.1), (5, Some(13)));
    // a sink that stops ends the read
    let text = stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFNONREF\n",
        "C240102EUR1,00",
    );
    let res = read_mt940(text.as_bytes(), &mut |_r: Record| Err(ReadError::Stopped));
    assert!(matches!(res, Err(ReadError::Stopped)));
}

/// A fixture of `fixtures/mt940` (see `fixtures/mt940/SOURCES.tsv` for where the real ones come
/// from).
fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/mt940/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn real_soh_etx_file_reads() {
    // mBank: a line holding only SOH, then the message, then `-` ETX.
    let (res, out) = read(&fixture("ok/real-mbank-soh-etx.sta"));
    assert_eq!(
        res.unwrap(),
        Mt940Document {
            statements: 1,
            entries: 3
        }
    );
    let b = bookings(&out);
    assert_eq!(b[0].line, 6);
    assert_eq!(b[0].account, "PL29114010810000267002001002");
    assert_eq!((b[0].direction, b[0].amount_minor), (Direction::Credit, 1));
    assert_eq!(b[0].bank_ref.as_deref(), Some("MB170119012058"));
    assert!(b[0]
        .narrative
        .starts_with("911 TRANSAKCJA COLLECT; ID IPH: XX000000000001"));
    let s = summaries(&out);
    assert_eq!(s[0].statement_id, "ST170119CYC/1/1/1");
    assert_eq!(
        (s[0].opening_minor, s[0].closing_minor),
        (Some(40), Some(43))
    );
}

#[test]
fn real_soh_etx_file_whose_balance_is_off_is_refused_at_its_closing_line() {
    let e = err_at(&fixture("bad/real-mbank-soh-etx-balance-off.sta"));
    assert_eq!((e.0, e.1), (19, Some(6)), "{}", e.2);
    assert!(e.2.contains("860,17") && e.2.contains("= 89,46"), "{}", e.2);
}

#[test]
fn real_swift_block_file_whose_balance_is_off_is_refused_at_its_closing_line() {
    // ING's example: `{1:..}{2:..}{3:{108:..}}{4:` and the next message's blocks on the `-}`
    // line; the first message's closing balance does not add up.
    let e = err_at(&fixture("bad/real-ing-swift-blocks-balance-off.sta"));
    assert_eq!((e.0, e.1), (10, Some(6)), "{}", e.2);
    assert!(
        e.2.contains("4882,15") && e.2.contains("= 985,00"),
        "{}",
        e.2
    );
}

#[test]
fn real_postfinance_file_reads_across_etx_soh_on_one_line_then_is_refused() {
    // `-}` ETX SOH `{1:..}{4:` on line 16 ends the first message and starts the second; the
    // first message is read whole (2 bookings and its summary), the second is refused.
    let (res, out) = read(&fixture(
        "bad/real-postfinance-soh-etx-swift-two-messages.sta",
    ));
    let Err(ReadError::Corrupt {
        line,
        byte,
        message,
    }) = res
    else {
        panic!("expected a refusal, got {res:?}");
    };
    assert_eq!((line, byte), (20, Some(11)), "{message}");
    assert!(
        message.contains("before the opening balance date"),
        "{message}"
    );
    let b = bookings(&out);
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].line, b[0].amount_minor), (6, 7_970));
    assert_eq!((b[1].line, b[1].amount_minor), (10, 14_950));
    let s = summaries(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].statement_id, "2014040708285927/999/1");
    assert_eq!(s[0].closing_minor, Some(22_920));
}

#[test]
fn real_danske_file_with_statement_level_and_repeated_86_reads() {
    let (res, out) = read(&fixture(
        "ok/real-danske-no-86-after-60f-and-repeated-86.derived.sta",
    ));
    assert_eq!(
        res.unwrap(),
        Mt940Document {
            statements: 13,
            entries: 24
        }
    );
    // The four `:86:` after `:60F:` are the statement's, not the first booking's.
    let b = bookings(&out);
    assert_eq!(b[0].line, 9);
    assert_eq!(b[0].narrative, "Overforing med melding / DBTS 1234365263");
    assert_eq!(
        (b[0].direction, b[0].amount_minor),
        (Direction::Debit, 596_864)
    );
    let s = summaries(&out);
    assert_eq!(s.len(), 13);
    assert_eq!(s[0].statement_id, "3996-11.11.11111/00147/001");
    assert_eq!(s[0].opening_minor, Some(9_437_295_120));
    assert_eq!(s[0].closing_minor, Some(9_436_107_653));
    // consecutive statements of the account chain
    for w in s.windows(2) {
        assert_eq!(w[0].closing_minor, w[1].opening_minor);
    }

    // Four `:86:` in a row after a `:61:` are that booking's details, joined.
    let (res, out) = read(&fixture("ok/real-danske-fi-repeated-86.derived.sta"));
    assert_eq!(res.unwrap().entries, 6);
    let b = bookings(&out);
    assert_eq!(
        b[0].narrative,
        format!(
            "For your inform. IBAN no.: FI1111111111111111 DABADKKK 111111-11111111 DANSKE BANK{}\
             HOLMENS KANAL 2-12",
            " ".repeat(24)
        )
    );
    assert_eq!(
        b[1].narrative,
        "11100304030101391234 Beneficiary name Beneficiary name"
    );
}

#[test]
fn statement_level_86_in_both_places_and_repeated_86() {
    let body = ":86:ACCOUNT INFO\ncontinued\n:86:MORE INFO\n:61:240102C1,00NTRFNONREF\n\
                :86:/EREF/E1/\n:86:/REMI/INVOICE 42/\n";
    let text = format!(
        ":20:REF\n:25:ACC1\n:28C:1/1\n:60F:C240102EUR0,00\n{body}:62F:C240102EUR1,00\n\
         :64:C240102EUR1,00\n:86:/SUM/1/0/1,00/0,/\n:86:second trailer\n-\n"
    );
    let (doc, out) = ok(&text);
    assert_eq!(doc.entries, 1);
    assert_eq!(bookings(&out)[0].narrative, "/EREF/E1/ /REMI/INVOICE 42/");
    // Order is still checked: no :61: after the closing :86:, no :86: before the opening.
    let late = text.replace("-\n", ":61:240102C1,00NTRFNONREF\n-\n");
    let e = err_at(late.as_bytes());
    assert_eq!((e.0, e.1), (15, Some(1)), "{}", e.2);
    let early = ":20:REF\n:25:ACC1\n:86:x\n:28C:1/1\n:60F:C240102EUR0,00\n:62F:C240102EUR0,00\n";
    let e = err_at(early.as_bytes());
    assert_eq!((e.0, e.1), (3, Some(1)), "{}", e.2);
    // Repeated :86: still count against the booking's limit.
    let long = format!(":86:{}\n", "X".repeat(60)).repeat(40);
    let body = format!(":61:240102C1,00NTRFNONREF\n{long}");
    let e = err_at(stmt("C240102EUR0,00", &body, "C240102EUR1,00").as_bytes());
    assert!(e.2.contains("longer than"), "{}", e.2);
    // And the balance check does not care where the :86: were.
    let off = text.replace(":62F:C240102EUR1,00", ":62F:C240102EUR1,01");
    let e = err_at(off.as_bytes());
    assert_eq!((e.0, e.1), (11, Some(6)), "{}", e.2);
}

#[test]
fn soh_etx_framing_and_blocks_after_the_terminator() {
    let one = stmt(
        "C240102EUR0,00",
        ":61:240102C1,00NTRFNONREF\n",
        "C240102EUR1,00",
    );
    let two = stmt("C240102EUR1,00", "", "C240103EUR1,00");
    // SOH on its own line, ETX after the terminator
    let framed = format!(
        "\x01\n{}\x03\n\x01\n{}\x03\n",
        one.trim_end(),
        two.trim_end()
    );
    let (doc, _) = ok(&framed);
    assert_eq!(doc.statements, 2);
    // SOH before the blocks, `-}` ETX SOH `{1:` between two messages, `{5:` after the last
    let body = |s: &str| s.trim_end_matches("-\n").to_owned();
    let swift = format!(
        "\x01{{1:F01X}}{{2:I940X}}{{4:\r\n{}-}}\x03\x01{{1:F01X}}{{2:I940X}}{{4:\r\n{}-}}{{5:{{CHK:1}}}}\x03\r\n",
        body(&one).replace('\n', "\r\n"),
        body(&two).replace('\n', "\r\n")
    );
    let (doc, out) = ok(&swift);
    assert_eq!(doc.statements, 2);
    assert_eq!(summaries(&out)[1].line, 9);
    // `-}{1:..}{4:` without SOH/ETX
    let plain = swift.replace(['\x01', '\x03'], "");
    let (doc, _) = ok(&plain);
    assert_eq!(doc.statements, 2);
    // A framed file whose closing balance disagrees is still refused where it disagrees.
    let bad = swift.replacen("C240102EUR1,00", "C240102EUR1,10", 1);
    let e = err_at(bad.as_bytes());
    assert_eq!((e.0, e.1), (7, Some(6)), "{}", e.2);
    assert!(e.2.contains("does not agree"), "{}", e.2);

    // (what, input, line, byte, text in the message)
    let cases: Vec<(&str, String, u64, Option<u64>, &str)> = vec![
        ("no ETX", format!("\x01\n{one}"), 8, None, "no ETX"),
        (
            "ETX without SOH",
            format!("{}\x03\n", one.trim_end()),
            7,
            Some(2),
            "without the SOH",
        ),
        (
            "SOH twice",
            format!("\x01\n\x01\n{one}"),
            2,
            Some(1),
            "before the ETX",
        ),
        (
            "SOH inside a line",
            one.replace(":86:", "").replace("NONREF", "NON\x01REF"),
            5,
            Some(23),
            "inside a line",
        ),
        (
            "ETX inside a line",
            format!("\x01\n{}", one.replace("-\n", "-\x03x\n")),
            8,
            Some(2),
            "inside a line",
        ),
        (
            "ETX before the closing",
            format!(
                "\x01\n{}\x03\n",
                one.lines().take(5).collect::<Vec<_>>().join("\n")
            ),
            6,
            None,
            "before the closing",
        ),
        (
            "empty frame",
            "\x01\n\x03\n".to_owned(),
            2,
            Some(1),
            "holds no statement",
        ),
        (
            "ETX inside block 4",
            format!("\x01{{1:F01X}}{{4:\n{}\x03\n", body(&one).trim_end()),
            7,
            Some(20),
            "{4:",
        ),
    ];
    for (what, input, line, byte, text) in cases {
        let e = err_at(input.as_bytes());
        assert_eq!((e.0, e.1), (line, byte), "{what}: {}", e.2);
        assert!(e.2.contains(text), "{what}: {}", e.2);
    }
}

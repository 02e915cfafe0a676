//! Text bound for a spreadsheet (CSV exports): a cell a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@`, tab or carriage return first — OWASP's CSV-injection list) is written
//! with a leading `'`, so it shows as the text it is. A plain number (`-12.50`, `3`) is left as
//! it is: it is a value, not a formula, and a finance office sums it. Pure: no actix, no diesel.
//!
//! May depend on: nothing inside the crate.

use std::borrow::Cow;

/// `text` as a spreadsheet should see it: defused when it would start a formula.
pub fn safe_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// An optional minus, digits, and at most one decimal point between digits.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes one CSV record with every field passed through [`safe_cell`].
pub fn write_record<W: std::io::Write, I, F>(w: &mut csv::Writer<W>, fields: I) -> csv::Result<()>
where
    I: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    w.write_record(
        fields
            .into_iter()
            .map(|f| safe_cell(f.as_ref()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        for (given, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+1", "'+1+1"),
            ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("-1.", "'-1."),
            ("-12.50", "-12.50"),
            ("200.00", "200.00"),
            ("3", "3"),
            ("张三", "张三"),
            ("", ""),
            ("D04", "D04"),
        ] {
            assert_eq!(safe_cell(given), written, "{given:?}");
        }
    }

    #[test]
    fn every_field_of_a_record_is_defused() {
        let mut w = csv::Writer::from_writer(Vec::new());
        write_record(&mut w, ["=1+1", "-3.00", "ok"]).unwrap_or_else(|e| panic!("{e}"));
        let out = String::from_utf8(w.into_inner().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, "'=1+1,-3.00,ok\n");
    }
}

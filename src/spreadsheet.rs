//! Tables bound for a spreadsheet. CSV: a cell a spreadsheet would run as a formula (`=`, `+`,
//! `-`, `@`, tab or carriage return first — OWASP's CSV-injection list) is written with a
//! leading `'`, so it shows as the text it is. A plain number (`-12.50`, `3`) is left as it is:
//! it is a value, not a formula, and a finance office sums it. XLSX ([`xlsx`]): one typed sheet
//! — text as text cells (never a formula, whatever it starts with), counts and amounts as
//! numbers, amounts shown with two decimals. Pure: no actix, no diesel.
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

/// One cell of an XLSX sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XlsxCell<'a> {
    /// Text: written as a string cell, so `=1+1` stays the text it is.
    Text(&'a str),
    /// A whole number.
    Int(i64),
    /// Money in minor units (fen): a number of yuan shown as `#,##0.00`.
    Money(i64),
    /// Nothing.
    Empty,
}

/// A sheet: a name, headings, rows and an optional totals row (bold, like the headings).
#[derive(Debug, Clone, Default)]
pub struct XlsxSheet<'a> {
    /// The tab's name (cut to what a spreadsheet allows).
    pub name: &'a str,
    /// Headings (the frozen top row).
    pub headers: Vec<&'a str>,
    /// Rows.
    pub rows: Vec<Vec<XlsxCell<'a>>>,
    /// Totals row.
    pub foot: Option<Vec<XlsxCell<'a>>>,
}

/// The number format of amounts: grouped, two decimals.
pub const MONEY_FORMAT: &str = "#,##0.00";

/// Fen as the number of yuan a spreadsheet stores. A spreadsheet keeps numbers as IEEE
/// doubles, so the cell can only hold the double nearest to `fen / 100`; dividing the exact
/// integer once gives that nearest double (both operands are exact below 2^53 fen), which
/// shows and sums back to the same two decimals — no arithmetic is done on it here.
#[allow(clippy::cast_precision_loss)]
pub fn yuan_value(fen: i64) -> f64 {
    fen as f64 / 100.0
}

/// A sheet name a spreadsheet accepts: at most 31 characters, none of `[]:*?/\`, not empty.
fn sheet_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    let clean = clean.trim_matches('\'').trim().to_string();
    if clean.is_empty() {
        "Sheet1".to_string()
    } else {
        clean
    }
}

/// How wide a text shows, in character cells: CJK characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// The sheet as an XLSX workbook of one worksheet: bold frozen headings, numbers as numbers,
/// amounts as `#,##0.00`, columns as wide as their longest cell (within reason).
pub fn xlsx(sheet: &XlsxSheet<'_>) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format(MONEY_FORMAT);
    let bold_money = Format::new().set_bold().set_num_format(MONEY_FORMAT);
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet_name(sheet.name))?;
    let mut widths: Vec<usize> = sheet.headers.iter().map(|h| display_width(h)).collect();
    for (col, h) in sheet.headers.iter().enumerate() {
        ws.write_string_with_format(0, col_index(col)?, *h, &bold)?;
    }
    let body = sheet.rows.iter().map(|r| (r, false));
    for (i, (row, is_foot)) in body.chain(sheet.foot.iter().map(|r| (r, true))).enumerate() {
        let r =
            u32::try_from(i + 1).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
        for (col, cell) in row.iter().enumerate() {
            let c = col_index(col)?;
            let shown = match *cell {
                // Data is written as a string, never as a formula (write_formula is not used).
                XlsxCell::Text(t) => {
                    if is_foot {
                        ws.write_string_with_format(r, c, t, &bold)?;
                    } else {
                        ws.write_string(r, c, t)?;
                    }
                    display_width(t)
                }
                XlsxCell::Int(n) => {
                    #[allow(clippy::cast_precision_loss)]
                    let v = n as f64;
                    if is_foot {
                        ws.write_number_with_format(r, c, v, &bold)?;
                    } else {
                        ws.write_number(r, c, v)?;
                    }
                    n.to_string().len() + 1
                }
                XlsxCell::Money(m) => {
                    let f = if is_foot { &bold_money } else { &money };
                    ws.write_number_with_format(r, c, yuan_value(m), f)?;
                    m.unsigned_abs().to_string().len() + 4
                }
                XlsxCell::Empty => 0,
            };
            if let Some(w) = widths.get_mut(col) {
                *w = (*w).max(shown);
            } else {
                widths.push(shown);
            }
        }
    }
    for (col, w) in widths.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let width = (*w).clamp(6, 60) as f64 + 2.0;
        ws.set_column_width(col_index(col)?, width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

fn col_index(col: usize) -> Result<u16, rust_xlsxwriter::XlsxError> {
    u16::try_from(col).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)
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

    #[test]
    fn yuan_values_show_the_fen_they_came_from() {
        for (fen, text) in [
            (0, "0.00"),
            (1, "0.01"),
            (5, "0.05"),
            (99, "0.99"),
            (12_345, "123.45"),
            (-250, "-2.50"),
            (123_456_789, "1234567.89"),
            (9_007_199_254_740, "90071992547.40"),
        ] {
            assert_eq!(format!("{:.2}", yuan_value(fen)), text, "{fen}");
        }
    }

    #[test]
    fn sheet_names_are_cut_and_cleaned() {
        assert_eq!(sheet_name("收费/退款[月]"), "收费退款月");
        assert_eq!(sheet_name(""), "Sheet1");
        assert_eq!(sheet_name(&"表".repeat(40)).chars().count(), 31);
    }

    #[test]
    fn a_sheet_writes_a_workbook() {
        let sheet = XlsxSheet {
            name: "收费",
            headers: vec!["部门", "笔数", "金额"],
            rows: vec![vec![
                XlsxCell::Text("=1+1"),
                XlsxCell::Int(2),
                XlsxCell::Money(250),
            ]],
            foot: Some(vec![
                XlsxCell::Text("合计"),
                XlsxCell::Int(2),
                XlsxCell::Money(250),
            ]),
        };
        let bytes = xlsx(&sheet).unwrap_or_else(|e| panic!("{e}"));
        assert!(bytes.starts_with(b"PK"), "a zip");
    }
}

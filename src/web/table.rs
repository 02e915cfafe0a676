//! Tables: every list on every page is a [`Table`], drawn by one template macro and exported
//! by one CSV writer and one XLSX writer, so each table a clerk sees can be downloaded exactly
//! as shown, in either form.

use chrono::NaiveDate;

use crate::money::format_minor;
use crate::spreadsheet::{xlsx, XlsxCell, XlsxSheet};

/// A column heading.
#[derive(Debug, Clone)]
pub struct Column {
    /// The heading.
    pub label: String,
    /// Right-aligned figures.
    pub numeric: bool,
    /// Stored text shown as it was written (a ledger memo), marked with its language.
    pub record: bool,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Plain text.
    Text(String),
    /// Money in minor units (fen): `1,234.56` on the page, `1234.56` in CSV.
    Money(i64),
    /// A whole number.
    Int(i64),
    /// Running text (a note, a suggestion): wraps, where other cells keep to one line.
    Prose(String),
    /// A date.
    Date(NaiveDate),
    /// Text linking elsewhere (CSV keeps the text).
    Link {
        /// Shown text.
        text: String,
        /// Where it goes.
        href: String,
    },
    /// A state shown with a marker class (`ok`, `warn`, `bad`) as well as its words, so it
    /// reads without colour.
    Status {
        /// `ok`, `warn` or `bad`.
        tone: &'static str,
        /// The words.
        text: String,
    },
    /// Text in a language other than the page's (a Chinese name from the data, with no
    /// English one, on an English page): marked with its `lang` so it is read right.
    Foreign {
        /// The text.
        text: String,
        /// Its language tag (`zh-CN`).
        lang: &'static str,
    },
    /// Nothing.
    Empty,
}

impl Cell {
    /// Text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// Link cell.
    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Cell {
        Cell::Link {
            text: text.into(),
            href: href.into(),
        }
    }

    /// Status cell.
    pub fn status(tone: &'static str, text: impl Into<String>) -> Cell {
        Cell::Status {
            tone,
            text: text.into(),
        }
    }

    /// As shown on the page.
    pub fn shown(&self) -> String {
        match self {
            Cell::Text(s)
            | Cell::Prose(s)
            | Cell::Link { text: s, .. }
            | Cell::Foreign { text: s, .. }
            | Cell::Status { text: s, .. } => s.clone(),
            Cell::Money(m) => grouped(&format_minor(*m)),
            Cell::Int(n) => grouped(&n.to_string()),
            Cell::Date(d) => d.to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// As written to CSV: figures without grouping; text that a spreadsheet would run as a
    /// formula is prefixed with `'`.
    pub fn csv(&self) -> String {
        match self {
            Cell::Money(m) => format_minor(*m),
            Cell::Int(n) => n.to_string(),
            Cell::Date(d) => d.to_string(),
            Cell::Empty => String::new(),
            Cell::Text(s)
            | Cell::Prose(s)
            | Cell::Link { text: s, .. }
            | Cell::Foreign { text: s, .. }
            | Cell::Status { text: s, .. } => crate::spreadsheet::safe_cell(s).into_owned(),
        }
    }

    /// The link target, if a link.
    pub fn href(&self) -> Option<&str> {
        match self {
            Cell::Link { href, .. } => Some(href),
            _ => None,
        }
    }

    /// The language of a [`Cell::Foreign`].
    pub fn lang(&self) -> Option<&str> {
        match self {
            Cell::Foreign { lang, .. } => Some(lang),
            _ => None,
        }
    }

    /// Whether it is running text (wraps).
    pub fn prose(&self) -> bool {
        matches!(self, Cell::Prose(_))
    }

    /// The status tone, if a status.
    pub fn tone(&self) -> Option<&str> {
        match self {
            Cell::Status { tone, .. } => Some(tone),
            _ => None,
        }
    }

    /// `zh-CN` for stored text written in Chinese (a payer's, fee item's or department's name,
    /// a legal basis) in a plain, prose or link cell, so a page in English marks it as such (`lang`); the pages'
    /// own words are in the page's language and never need it.
    pub fn data_lang(&self) -> Option<&'static str> {
        match self {
            Cell::Text(s) | Cell::Prose(s) | Cell::Link { text: s, .. }
                if crate::words::has_cjk(s) =>
            {
                Some("zh-CN")
            }
            _ => None,
        }
    }

    /// Whether the figure is below zero (shown in brackets-free minus, and marked).
    pub fn negative(&self) -> bool {
        matches!(self, Cell::Money(m) | Cell::Int(m) if *m < 0)
    }
}

/// A row's cells as typed XLSX cells (`dates` holds each date cell's text).
fn xlsx_row<'a>(row: &'a [Cell], dates: &'a [String]) -> Vec<XlsxCell<'a>> {
    row.iter()
        .zip(dates)
        .map(|(c, date)| match c {
            Cell::Money(m) => XlsxCell::Money(*m),
            Cell::Int(n) => XlsxCell::Int(*n),
            Cell::Date(_) => XlsxCell::Text(date),
            Cell::Empty => XlsxCell::Empty,
            Cell::Text(s)
            | Cell::Prose(s)
            | Cell::Link { text: s, .. }
            | Cell::Status { text: s, .. }
            | Cell::Foreign { text: s, .. } => XlsxCell::Text(s),
        })
        .collect()
}

/// Thousands grouping of a plain decimal (`-1234567.89` → `-1,234,567.89`).
pub fn grouped(plain: &str) -> String {
    let (sign, rest) = match plain.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", plain),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A table with an id (used in its CSV link), caption, columns and rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Stable id: `?csv=<id>` on the page's address exports it.
    pub id: &'static str,
    /// The caption.
    pub caption: String,
    /// Headings.
    pub columns: Vec<Column>,
    /// Rows, as many cells as columns.
    pub rows: Vec<Vec<Cell>>,
    /// A totals row, if any.
    pub foot: Option<Vec<Cell>>,
    /// What to say when there are no rows.
    pub empty: String,
    /// The CSV link (the page's address with `csv=<id>`), filled in by the page.
    pub csv_href: String,
    /// The XLSX link (the page's address with `xlsx=<id>`), filled in with the CSV link.
    pub xlsx_href: String,
}

impl Table {
    /// An empty table.
    pub fn new(id: &'static str, caption: impl Into<String>, empty: impl Into<String>) -> Table {
        Table {
            id,
            caption: caption.into(),
            columns: Vec::new(),
            rows: Vec::new(),
            foot: None,
            empty: empty.into(),
            csv_href: String::new(),
            xlsx_href: String::new(),
        }
    }

    /// Adds a text column.
    pub fn col(mut self, label: impl Into<String>) -> Table {
        self.columns.push(Column {
            label: label.into(),
            numeric: false,
            record: false,
        });
        self
    }

    /// Adds a column of stored text shown as it was written (a ledger memo): each cell is
    /// marked with the language it is in (`zh-CN` or `en`), whatever the page's.
    pub fn record(mut self, label: impl Into<String>) -> Table {
        self.columns.push(Column {
            label: label.into(),
            numeric: false,
            record: true,
        });
        self
    }

    /// Adds a figures column (right-aligned).
    pub fn num(mut self, label: impl Into<String>) -> Table {
        self.columns.push(Column {
            label: label.into(),
            numeric: true,
            record: false,
        });
        self
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "table {}", self.id);
        self.rows.push(row);
    }

    /// Whether column `index` holds records shown as they were written (a ledger memo, an
    /// audit change): the page marks them `translate="no"`, since they are data in whatever
    /// language they were stored, not the page's words.
    pub fn record_at(&self, index: &usize) -> bool {
        self.columns.get(*index).is_some_and(|c| c.record)
    }

    /// The cells of `row` with whether their column is numeric and the cell's `lang`, if it
    /// needs one (for the template).
    pub fn cells<'a>(
        &'a self,
        row: &'a [Cell],
    ) -> impl Iterator<Item = (&'a Cell, bool, Option<&'static str>)> + 'a {
        row.iter()
            .zip(self.columns.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(cell, col)| {
                let lang = match (col.is_some_and(|c| c.record), cell) {
                    (true, Cell::Text(s) | Cell::Prose(s)) if !s.is_empty() => {
                        Some(if crate::words::has_cjk(s) {
                            "zh-CN"
                        } else {
                            "en"
                        })
                    }
                    _ => cell.data_lang(),
                };
                (cell, col.is_some_and(|c| c.numeric), lang)
            })
    }

    /// The table as CSV: a UTF-8 byte-order mark (so spreadsheet programs read the Chinese
    /// right), the headings, the rows, then the totals row.
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        w.write_record(self.columns.iter().map(|c| c.label.as_str()))?;
        for row in self.rows.iter().chain(self.foot.iter()) {
            w.write_record(row.iter().map(Cell::csv))?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// The table as an XLSX workbook: the same headings, rows and totals as the CSV, amounts
    /// and counts as numbers, every other cell as text; the sheet is named by the caption.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        // Dates are written as their ISO text, as on the page and in the CSV.
        let dates = |row: &[Cell]| -> Vec<String> {
            row.iter()
                .map(|c| match c {
                    Cell::Date(d) => d.to_string(),
                    _ => String::new(),
                })
                .collect()
        };
        let row_dates: Vec<Vec<String>> = self.rows.iter().map(|r| dates(r)).collect();
        let foot_dates = self.foot.as_deref().map(dates);
        let sheet = XlsxSheet {
            name: &self.caption,
            headers: self.columns.iter().map(|c| c.label.as_str()).collect(),
            rows: self
                .rows
                .iter()
                .zip(&row_dates)
                .map(|(r, d)| xlsx_row(r, d))
                .collect(),
            foot: self
                .foot
                .as_deref()
                .zip(foot_dates.as_deref())
                .map(|(r, d)| xlsx_row(r, d)),
        };
        xlsx(&sheet)
    }
}

/// Sets each table's CSV and XLSX links to `path?<query without csv, xlsx>&csv=<id>` (and
/// `&xlsx=<id>`).
pub fn link_csv(tables: &mut [&mut Table], path: &str, query: &str) {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("csv=") && !p.starts_with("xlsx="))
        .collect();
    let href = |kind: &str, id: &str| {
        let mut q = kept.clone();
        let own = format!("{kind}={id}");
        q.push(&own);
        format!("{path}?{}", q.join("&"))
    };
    for t in tables.iter_mut() {
        t.csv_href = href("csv", t.id);
        t.xlsx_href = href("xlsx", t.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_on_the_page_and_plain_in_csv() {
        assert_eq!(grouped("1234567.89"), "1,234,567.89");
        assert_eq!(grouped("-1234.00"), "-1,234.00");
        assert_eq!(grouped("999.99"), "999.99");
        assert_eq!(grouped("0.01"), "0.01");
        assert_eq!(Cell::Money(123_456_789).shown(), "1,234,567.89");
        assert_eq!(Cell::Money(-5).shown(), "-0.05");
        assert_eq!(Cell::Money(123_456_789).csv(), "1234567.89");
        assert_eq!(Cell::Int(12_345).shown(), "12,345");
    }

    #[test]
    fn csv_has_a_bom_keeps_chinese_and_defuses_formulas() {
        let mut t = Table::new("t", "表", "无").col("部门").num("金额");
        t.push(vec![Cell::text("=HYPERLINK(\"x\")"), Cell::Money(-100)]);
        t.push(vec![Cell::text("市场监管局"), Cell::Money(2_500)]);
        t.foot = Some(vec![Cell::text("合计"), Cell::Money(2_400)]);
        let csv = String::from_utf8(t.to_csv().unwrap()).unwrap();
        assert_eq!(
            csv,
            "\u{feff}部门,金额\n\"'=HYPERLINK(\"\"x\"\")\",-1.00\n市场监管局,25.00\n合计,24.00\n"
        );
    }

    #[test]
    fn xlsx_reads_back_with_numbers_as_numbers_and_formulas_as_text() {
        use calamine::{Data, Reader, Xlsx};
        let mut t = Table::new("t", "收费/汇总", "无")
            .col("部门")
            .num("笔数")
            .num("金额")
            .col("日期");
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        t.push(vec![
            Cell::text("=HYPERLINK(\"x\")"),
            Cell::Int(3),
            Cell::Money(-100),
            Cell::Date(day),
        ]);
        t.push(vec![
            Cell::text("市场监管局"),
            Cell::Int(1_234),
            Cell::Money(123_456_789),
            Cell::Empty,
        ]);
        t.foot = Some(vec![
            Cell::text("合计"),
            Cell::Int(1_237),
            Cell::Money(123_456_689),
            Cell::Empty,
        ]);
        let bytes = t.to_xlsx().unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec!["收费汇总".to_string()]);
        let range = book.worksheet_range("收费汇总").unwrap();
        let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
        assert_eq!(rows[0][0], Data::String("部门".into()));
        assert_eq!(
            rows[1][0],
            Data::String("=HYPERLINK(\"x\")".into()),
            "text, not a formula"
        );
        assert_eq!(rows[1][1], Data::Float(3.0));
        assert_eq!(rows[1][2], Data::Float(-1.0));
        assert_eq!(rows[1][3], Data::String("2026-11-24".into()));
        assert_eq!(rows[3][2], Data::Float(1_234_566.89));
        // The CSV says the same amounts.
        let csv = String::from_utf8(t.to_csv().unwrap()).unwrap();
        assert!(csv.contains(",1234,1234567.89,"), "{csv}");
        assert!(csv.ends_with("合计,1237,1234566.89,\n"), "{csv}");
        let formulas = book.worksheet_formula("收费汇总").unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "no formula"
        );
    }

    #[test]
    fn csv_links_replace_an_earlier_csv_parameter() {
        let mut a = Table::new("a", "", "");
        let mut b = Table::new("b", "", "");
        link_csv(&mut [&mut a, &mut b], "/web/today", "date=2026-11-24&csv=x");
        assert_eq!(a.csv_href, "/web/today?date=2026-11-24&csv=a");
        assert_eq!(b.csv_href, "/web/today?date=2026-11-24&csv=b");
        link_csv(&mut [&mut a], "/web/today", "xlsx=b&date=2026-11-24");
        assert_eq!(a.xlsx_href, "/web/today?date=2026-11-24&xlsx=a");
        assert_eq!(a.csv_href, "/web/today?date=2026-11-24&csv=a");
    }
}

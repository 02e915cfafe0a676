//! Declarative bank specs: the TOML files in `bank-specs/`, checked and compiled once.
//!
//! A spec says how one bank's file looks — encoding, fixed width (in bytes of the encoding) or
//! delimited (RFC 4180), which record kinds exist and in what order, where each field is and how
//! to read it — and which control checks the file must pass. The generic reader
//! ([`super::generic`]) applies a compiled spec; adding a bank is a spec file plus fixtures.
//!
//! Everything a spec can get wrong is found here, when the spec is loaded, with the spec's file
//! name and the record or field at fault — never halfway through a bank's file.
//!
//! Depends on: [`super::records`] and `text` (the closed sets) only.
//!
//! Layout: this file (the declarative types as read from TOML), `compiled` (the executable
//! form, re-exported here), `compile` (from the one to the other).

mod compile;
mod compiled;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use compiled::{
    canonical_names, Check, CompiledSpec, Encoding, Field, Kind, Matcher, NamePart, SumOf, Tok,
    SETTLEMENT_OPTIONAL, SETTLEMENT_REQUIRED, STATEMENT_EXTRA, STATEMENT_OPTIONAL,
    STATEMENT_REQUIRED,
};

crate::text_enum! {
    /// What a file describes (stored and shown as `settlement` / `statement`, through strum).
    #[derive(Deserialize)]
    pub enum Produces as "file content" {
        /// An acquirer's settlement detail: [`super::records::SettlementRecord`]s.
        Settlement,
        /// A bank account statement: [`super::records::StatementBooking`]s and one summary.
        Statement,
    }
}

/// How lines are cut into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Fixed width, positions and lengths counted in bytes of the file's encoding.
    Fixed,
    /// Delimited with RFC 4180 quoting.
    Delimited,
}

/// What a byte-order mark at the start of the file means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BomRule {
    /// The format has none; a file starting with one is refused.
    #[default]
    Forbidden,
    /// The format always starts with one; a file without it is refused.
    Required,
    /// Either way.
    Optional,
}

/// How often a record kind occurs, in the order the kinds are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    /// Exactly once.
    #[default]
    One,
    /// At most once.
    Optional,
    /// Any number of times, including none.
    Many,
}

/// What a record kind is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Each line is one canonical record (detail line, booking).
    Item,
    /// Values that apply to every item (header: merchant, settlement date; account line).
    Context,
    /// Values used only by the control checks (trailer, summary, footers), or nothing at all
    /// (a heading row).
    Control,
}

/// How a field's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text; trailing (fixed width) or surrounding (delimited) spaces removed.
    #[default]
    Text,
    /// ASCII digits only, kept as text (ids with leading zeros).
    Digits,
    /// A non-negative whole number.
    Integer,
    /// A date, by `format`.
    Date,
    /// A date and time, by `format`; a format without `%Y` takes its year from `year_from`.
    Datetime,
    /// A time of day, by `format`.
    Time,
    /// Money, by `unit`, `thousands`, `signed`, `sign`.
    Amount,
    /// `+` or `-`, for an amount's `sign`.
    Sign,
    /// A code translated through `map`; a value not in the map is refused.
    Code,
    /// A masked card number (digits with `*`); an unmasked number is masked on reading and
    /// never kept whole.
    MaskedCard,
}

/// The unit an amount is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Minor units (分), digits only.
    Fen,
    /// Major units (元) with at most two decimals.
    Yuan,
}

/// One field of a record kind, as written in the spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Canonical name (see the module doc of [`super::generic`]) or a local name used by
    /// checks and other fields.
    pub name: String,
    /// Fixed width: 1-based byte position.
    pub at: Option<usize>,
    /// Fixed width: length in bytes.
    pub len: Option<usize>,
    /// Delimited: 1-based column.
    pub column: Option<usize>,
    /// How to read it.
    #[serde(rename = "type", default)]
    pub ty: FieldType,
    /// Date/time layout: `%Y %m %d %H %M %S` and literal characters.
    pub format: Option<String>,
    /// For a `datetime` without `%Y`: the date field whose year window decides the year.
    pub year_from: Option<String>,
    /// With `year_from`: the time lies within this many days before the end of that date.
    pub year_window_days: Option<i64>,
    /// Amounts: fen or yuan.
    pub unit: Option<Unit>,
    /// Amounts: `,` thousands separators allowed (grouping by three is checked).
    #[serde(default)]
    pub thousands: bool,
    /// Amounts: a leading `-` allowed.
    #[serde(default)]
    pub signed: bool,
    /// Amounts: the `sign` field of the same record that gives the sign.
    pub sign: Option<String>,
    /// Amounts: `"code"` — negative for void and refund items, positive for purchases, the
    /// sign of `net` for adjustments (for files whose amounts are always positive).
    pub sign_from: Option<String>,
    /// Empty is allowed (text: absent; amount: zero).
    #[serde(default)]
    pub optional: bool,
    /// The field must hold exactly this text.
    pub equals: Option<String>,
    /// For `code`: file value → canonical value.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// When this field is empty, take the value of that field of the same record.
    pub fallback: Option<String>,
}

/// One record kind, as written in the spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Name used in messages and in check references (`trailer.total_net`).
    pub kind: String,
    /// Item, context or control.
    pub role: Role,
    /// How often it occurs.
    #[serde(default)]
    pub repeat: Repeat,
    /// Fixed width: the leading bytes that identify the kind.
    pub prefix: Option<String>,
    /// Delimited: the first column's text that identifies the kind.
    pub first_column: Option<String>,
    /// Delimited: the exact cells of a heading row (also identifies it by its first cell).
    pub columns: Option<Vec<String>>,
    /// Fixed width: the record's length in bytes, without the line ending.
    pub length: Option<usize>,
    /// Delimited: the number of columns.
    pub width: Option<usize>,
    /// The fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// Which items a check counts or sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Every item.
    #[default]
    All,
    /// Items whose summed value is above zero.
    Positive,
    /// Items whose summed value is below zero.
    Negative,
    /// Credit bookings.
    Credit,
    /// Debit bookings.
    Debit,
}

/// A control check, as written in the spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckSpec {
    /// The number of items (through `filter`) equals a control field.
    Count {
        /// Which items.
        #[serde(default)]
        filter: Filter,
        /// `kind.field` holding the stated count.
        equals: String,
    },
    /// The sum of a canonical amount of the items equals a control field.
    Sum {
        /// `gross`, `fee`, `net` (settlement) or `amount` (statement).
        of: String,
        /// Which items.
        #[serde(default)]
        filter: Filter,
        /// Compare the absolute value of the sum.
        #[serde(default)]
        absolute: bool,
        /// `kind.field` holding the stated sum.
        equals: String,
    },
    /// Each booking's stated balance equals the one before plus credits minus debits.
    BalanceChain,
}

/// A spec file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The stable id (`pos-settlement-fixed-width`): what operators pass as `?spec=`.
    pub id: String,
    /// A human title.
    pub title: String,
    /// Settlement detail or statement.
    pub produces: Produces,
    /// `gb18030`, `gbk` (read as GB18030) or `utf-8`.
    pub encoding: String,
    /// Fixed or delimited.
    pub layout: Layout,
    /// Byte-order mark rule.
    #[serde(default)]
    pub bom: BomRule,
    /// A single 0x1A byte after the last line is ignored.
    #[serde(default)]
    pub eof_marker: bool,
    /// Delimited: the separator (one ASCII character).
    pub delimiter: Option<String>,
    /// File-name pattern with `{field}` captures (`POS_{merchant}_{settlement_date}.txt`):
    /// picks the spec for inbox files and supplies values the file's lines do not carry.
    pub file_name: Option<String>,
    /// Values every item has (`currency = "CNY"`).
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Record kinds in file order.
    pub records: Vec<RecordSpec>,
    /// Control checks.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
}

/// A spec that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bank spec {file}: {message}")]
pub struct SpecError {
    /// The spec file (or id).
    pub file: String,
    /// What is wrong.
    pub message: String,
}

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
//! Depends on: [`super::records`] only.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::records::SettlementKind;

/// What a file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Produces {
    /// An acquirer's settlement detail: [`super::records::SettlementRecord`]s.
    Settlement,
    /// A bank account statement: [`super::records::StatementBooking`]s and one summary.
    Statement,
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

/// The file encodings a spec may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GB18030 (and GBK, its subset).
    Gb18030,
    /// UTF-8.
    Utf8,
}

impl Encoding {
    /// The encoding_rs encoding.
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Gb18030 => encoding_rs::GB18030,
            Encoding::Utf8 => encoding_rs::UTF_8,
        }
    }
}

/// A date/time layout token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// `%Y`, four digits.
    Year,
    /// `%m`.
    Month,
    /// `%d`.
    Day,
    /// `%H`.
    Hour,
    /// `%M`.
    Minute,
    /// `%S`.
    Second,
    /// A literal byte.
    Lit(u8),
}

/// A field, compiled.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Fixed: 0-based byte offset; delimited: 0-based column.
    pub start: usize,
    /// Fixed: length in bytes (delimited: 0).
    pub len: usize,
    /// The spec's column/position for messages (1-based).
    pub position: usize,
    /// How to read it.
    pub ty: FieldType,
    /// Compiled date/time layout.
    pub format: Vec<Tok>,
    /// `year_from` resolved to a value name, and the window in days.
    pub year_from: Option<(String, i64)>,
    /// Amount unit.
    pub unit: Unit,
    /// Thousands separators allowed.
    pub thousands: bool,
    /// Leading minus allowed.
    pub signed: bool,
    /// Index of the sign field in the same record.
    pub sign: Option<usize>,
    /// Sign from the item's kind.
    pub sign_from_code: bool,
    /// Empty allowed.
    pub optional: bool,
    /// Required exact text.
    pub equals: Option<String>,
    /// Code map.
    pub map: BTreeMap<String, String>,
    /// Index of the fallback field in the same record.
    pub fallback: Option<usize>,
}

/// How a line is recognised.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Fixed: leading bytes.
    Prefix(Vec<u8>),
    /// Delimited: first column text.
    FirstColumn(String),
    /// Anything no other kind claims (at most one kind, the item).
    Default,
}

/// A record kind, compiled.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// How often.
    pub repeat: Repeat,
    /// How it is recognised.
    pub matcher: Matcher,
    /// Exact heading cells (delimited).
    pub columns: Option<Vec<String>>,
    /// Fixed length in bytes, or number of delimited columns.
    pub length: Option<usize>,
    /// Fields.
    pub fields: Vec<Field>,
}

/// A check, compiled: `equals` resolved to (kind index, field index).
#[derive(Debug, Clone)]
pub enum Check {
    /// Count of items.
    Count {
        /// Which items.
        filter: Filter,
        /// Where the stated value is.
        equals: (usize, usize),
    },
    /// Sum of a canonical amount.
    Sum {
        /// Which amount.
        of: SumOf,
        /// Which items.
        filter: Filter,
        /// Compare absolute values.
        absolute: bool,
        /// Where the stated value is.
        equals: (usize, usize),
    },
    /// Balance continuity of bookings.
    BalanceChain,
}

/// The canonical amount a sum check adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumOf {
    /// Settlement gross.
    Gross,
    /// Settlement fee.
    Fee,
    /// Settlement net.
    Net,
    /// Statement booking amount.
    Amount,
}

/// A piece of a file-name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePart {
    /// Literal text.
    Lit(String),
    /// A captured value.
    Capture(String),
}

/// A spec, checked and ready for the generic reader.
#[derive(Debug, Clone)]
pub struct CompiledSpec {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Settlement or statement.
    pub produces: Produces,
    /// Encoding.
    pub encoding: Encoding,
    /// Layout.
    pub layout: Layout,
    /// BOM rule.
    pub bom: BomRule,
    /// Ignore a trailing 0x1A.
    pub eof_marker: bool,
    /// Delimiter byte.
    pub delimiter: u8,
    /// File-name pattern, compiled.
    pub file_name: Option<Vec<NamePart>>,
    /// File-name pattern as written.
    pub file_name_pattern: Option<String>,
    /// Constants.
    pub constants: BTreeMap<String, String>,
    /// Record kinds in order.
    pub kinds: Vec<Kind>,
    /// The item kind's index.
    pub item: usize,
    /// Checks.
    pub checks: Vec<Check>,
}

/// Canonical names a settlement item must be able to fill.
pub const SETTLEMENT_REQUIRED: &[&str] = &[
    "merchant",
    "terminal",
    "kind",
    "gross",
    "fee",
    "net",
    "currency",
    "txn_time",
    "settlement_date",
];
/// Canonical names a settlement item may fill.
pub const SETTLEMENT_OPTIONAL: &[&str] = &[
    "batch",
    "trace",
    "rrn",
    "auth_code",
    "masked_card",
    "original_ref",
    "own_ref",
];
/// Canonical names a statement booking must be able to fill (plus `amount` + `direction`, or
/// `debit` + `credit`).
pub const STATEMENT_REQUIRED: &[&str] = &["account", "currency", "booking_date"];
/// Canonical names a statement booking may fill.
pub const STATEMENT_OPTIONAL: &[&str] = &[
    "value_date",
    "bank_ref",
    "narrative",
    "counterparty_account",
    "counterparty_name",
    "balance_after",
];

/// Names a statement spec may also give: the amount and its direction (or separate debit and
/// credit columns), and what identifies the statement.
pub const STATEMENT_EXTRA: &[&str] = &[
    "amount",
    "direction",
    "debit",
    "credit",
    "statement_id",
    "from_date",
    "to_date",
];

/// Every canonical name, in one iteration.
pub fn canonical_names() -> impl Iterator<Item = &'static str> {
    SETTLEMENT_REQUIRED
        .iter()
        .chain(SETTLEMENT_OPTIONAL)
        .chain(STATEMENT_REQUIRED)
        .chain(STATEMENT_OPTIONAL)
        .chain(STATEMENT_EXTRA)
        .copied()
}

fn compile_format(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.bytes();
    while let Some(b) = chars.next() {
        if b == b'%' {
            out.push(match chars.next() {
                Some(b'Y') => Tok::Year,
                Some(b'm') => Tok::Month,
                Some(b'd') => Tok::Day,
                Some(b'H') => Tok::Hour,
                Some(b'M') => Tok::Minute,
                Some(b'S') => Tok::Second,
                _ => return Err(format!("format '{text}': only %Y %m %d %H %M %S are known")),
            });
        } else {
            out.push(Tok::Lit(b));
        }
    }
    Ok(out)
}

fn compile_name(pattern: &str) -> Result<Vec<NamePart>, String> {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(NamePart::Lit(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("file_name '{pattern}': '{{' without '}}'"))?;
        let name = &after[..close];
        if name.is_empty() {
            return Err(format!("file_name '{pattern}': empty capture"));
        }
        if matches!(parts.last(), Some(NamePart::Capture(_))) {
            return Err(format!(
                "file_name '{pattern}': two captures need literal text between them"
            ));
        }
        parts.push(NamePart::Capture(name.to_string()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(NamePart::Lit(rest.to_string()));
    }
    Ok(parts)
}

impl CompiledSpec {
    /// Reads and compiles a spec file.
    pub fn load(path: &Path) -> Result<CompiledSpec, SpecError> {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }

    /// Parses and compiles spec text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<CompiledSpec, SpecError> {
        let err = |message: String| SpecError {
            file: file.to_string(),
            message,
        };
        let raw: SpecFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        Self::compile(raw).map_err(err)
    }

    /// Checks a spec as written and compiles it.
    pub fn compile(raw: SpecFile) -> Result<CompiledSpec, String> {
        let encoding = match raw.encoding.to_ascii_lowercase().as_str() {
            "gb18030" | "gbk" | "gb2312" => Encoding::Gb18030,
            "utf-8" | "utf8" => Encoding::Utf8,
            other => return Err(format!("encoding '{other}' is not gb18030, gbk or utf-8")),
        };
        if raw.eof_marker && raw.layout != Layout::Fixed {
            return Err("eof_marker is only for fixed width".into());
        }
        let delimiter = match (&raw.layout, raw.delimiter.as_deref()) {
            (Layout::Delimited, None) => b',',
            (Layout::Delimited, Some(d)) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            (Layout::Delimited, Some(d)) => {
                return Err(format!("delimiter '{d}' must be one ASCII character"))
            }
            (Layout::Fixed, None) => b',',
            (Layout::Fixed, Some(_)) => return Err("a fixed-width spec has no delimiter".into()),
        };
        if raw.records.is_empty() {
            return Err("no record kinds".into());
        }
        let mut kinds = Vec::new();
        let mut item = None;
        for (index, r) in raw.records.iter().enumerate() {
            let kind = compile_kind(&raw, r).map_err(|m| format!("record '{}': {m}", r.kind))?;
            if r.role == Role::Item {
                if item.is_some() {
                    return Err(format!(
                        "record '{}': only one record kind can be the item",
                        r.kind
                    ));
                }
                item = Some(index);
            }
            if kinds.iter().any(|k: &Kind| k.name == kind.name) {
                return Err(format!("record '{}' is defined twice", r.kind));
            }
            kinds.push(kind);
        }
        let item = item.ok_or("no record kind has role = \"item\"")?;
        let defaults = kinds
            .iter()
            .filter(|k| matches!(k.matcher, Matcher::Default))
            .count();
        if defaults > 1 {
            return Err("at most one record kind may go without prefix / first_column".into());
        }
        if let Some((i, k)) = kinds
            .iter()
            .enumerate()
            .find(|(_, k)| matches!(k.matcher, Matcher::Default))
        {
            if i != item {
                return Err(format!(
                    "record '{}': only the item kind may go without prefix / first_column",
                    k.name
                ));
            }
        }
        let file_name = raw.file_name.as_deref().map(compile_name).transpose()?;
        let mut spec = CompiledSpec {
            id: raw.id.clone(),
            title: raw.title.clone(),
            produces: raw.produces,
            encoding,
            layout: raw.layout,
            bom: raw.bom,
            eof_marker: raw.eof_marker,
            delimiter,
            file_name,
            file_name_pattern: raw.file_name.clone(),
            constants: raw.constants.clone(),
            kinds,
            item,
            checks: Vec::new(),
        };
        if !spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || spec.id.is_empty()
        {
            return Err(format!(
                "id '{}' must be lowercase letters, digits, '-' and '.'",
                spec.id
            ));
        }
        for c in &raw.checks {
            let check = compile_check(&spec, c)?;
            spec.checks.push(check);
        }
        // Every field a canonical record needs must come from somewhere.
        let (required, optional): (&[&str], &[&str]) = match spec.produces {
            Produces::Settlement => (SETTLEMENT_REQUIRED, SETTLEMENT_OPTIONAL),
            Produces::Statement => (STATEMENT_REQUIRED, STATEMENT_OPTIONAL),
        };
        for name in required {
            if !spec.provides(name) {
                return Err(format!(
                    "nothing gives '{name}': add it to the item, a header, the file name or constants"
                ));
            }
        }
        if spec.produces == Produces::Statement {
            let pair = (spec.provides("amount") && spec.provides("direction"))
                || (spec.provides("debit") && spec.provides("credit"));
            if !pair {
                return Err(
                    "a statement needs 'amount' + 'direction' or 'debit' + 'credit'".into(),
                );
            }
        }
        let _ = optional;
        if let Some(kind_field) = spec.kinds[item].fields.iter().find(|f| f.name == "kind") {
            for v in kind_field.map.values() {
                if SettlementKind::parse(v).is_none() {
                    return Err(format!(
                        "field 'kind' maps to '{v}', not purchase, void, refund or adjustment"
                    ));
                }
            }
        }
        if let Some(dir) = spec.kinds[item]
            .fields
            .iter()
            .find(|f| f.name == "direction")
        {
            for v in dir.map.values() {
                if v != "credit" && v != "debit" {
                    return Err(format!(
                        "field 'direction' maps to '{v}', not credit or debit"
                    ));
                }
            }
        }
        Ok(spec)
    }

    /// Whether a value named `name` is available to items (item field, context field, file
    /// name capture or constant).
    pub fn provides(&self, name: &str) -> bool {
        self.kinds.iter().any(|k| {
            (k.role == Role::Item || k.role == Role::Context)
                && k.fields.iter().any(|f| f.name == name)
        }) || self.constants.contains_key(name)
            || self.file_name.as_ref().is_some_and(|parts| {
                parts
                    .iter()
                    .any(|p| matches!(p, NamePart::Capture(c) if c == name))
            })
    }

    /// How many literal characters the file-name pattern has (its specificity).
    pub fn literal_len(&self) -> usize {
        self.file_name
            .iter()
            .flatten()
            .map(|p| match p {
                NamePart::Lit(l) => l.len(),
                NamePart::Capture(_) => 0,
            })
            .sum()
    }

    /// The values a file name gives, or `None` when it does not fit the pattern.
    pub fn match_file_name(&self, name: &str) -> Option<Vec<(String, String)>> {
        let parts = self.file_name.as_ref()?;
        let mut out = Vec::new();
        let mut rest = name;
        let mut pending: Option<&str> = None;
        for part in parts {
            match part {
                NamePart::Lit(lit) => {
                    if let Some(capture) = pending.take() {
                        let at = rest.find(lit.as_str())?;
                        if at == 0 {
                            return None;
                        }
                        out.push((capture.to_string(), rest[..at].to_string()));
                        rest = &rest[at + lit.len()..];
                    } else {
                        rest = rest.strip_prefix(lit.as_str())?;
                    }
                }
                NamePart::Capture(c) => pending = Some(c),
            }
        }
        match pending {
            Some(capture) if !rest.is_empty() => out.push((capture.to_string(), rest.to_string())),
            Some(_) => return None,
            None if !rest.is_empty() => return None,
            None => {}
        }
        Some(out)
    }
}

fn compile_kind(spec: &SpecFile, r: &RecordSpec) -> Result<Kind, String> {
    let matcher = match (spec.layout, &r.prefix, &r.first_column, &r.columns) {
        (Layout::Fixed, Some(p), None, None) if !p.is_empty() => {
            Matcher::Prefix(p.as_bytes().to_vec())
        }
        (Layout::Fixed, None, None, None) => Matcher::Default,
        (Layout::Fixed, _, _, _) => {
            return Err(
                "fixed width: give a non-empty 'prefix' (not first_column / columns)".into(),
            )
        }
        (Layout::Delimited, None, Some(c), None) => Matcher::FirstColumn(c.clone()),
        (Layout::Delimited, None, None, Some(cols)) => match cols.first() {
            Some(first) => Matcher::FirstColumn(first.clone()),
            None => return Err("'columns' is empty".into()),
        },
        (Layout::Delimited, None, None, None) => Matcher::Default,
        (Layout::Delimited, _, _, _) => {
            return Err("delimited: give 'first_column' or 'columns', not 'prefix' or both".into())
        }
    };
    let length = match spec.layout {
        Layout::Fixed => Some(
            r.length
                .ok_or("fixed width: 'length' (bytes) is required")?,
        ),
        Layout::Delimited => r.width.or(r.columns.as_ref().map(Vec::len)),
    };
    if spec.layout == Layout::Fixed && r.width.is_some() {
        return Err("fixed width: use 'length', not 'width'".into());
    }
    let mut fields: Vec<Field> = Vec::new();
    for f in &r.fields {
        let field = compile_field(spec, r, f).map_err(|m| format!("field '{}': {m}", f.name))?;
        if fields.iter().any(|x| x.name == field.name) {
            return Err(format!("field '{}' is defined twice", f.name));
        }
        fields.push(field);
    }
    // Resolve same-record references.
    for (i, f) in r.fields.iter().enumerate() {
        if let Some(sign) = &f.sign {
            let at = fields
                .iter()
                .position(|x| &x.name == sign && x.ty == FieldType::Sign)
                .ok_or_else(|| {
                    format!(
                        "field '{}': sign field '{sign}' is not a 'sign' field of this record",
                        f.name
                    )
                })?;
            fields[i].sign = Some(at);
        }
        if let Some(fb) = &f.fallback {
            let at = fields.iter().position(|x| &x.name == fb).ok_or_else(|| {
                format!(
                    "field '{}': fallback '{fb}' is not a field of this record",
                    f.name
                )
            })?;
            fields[i].fallback = Some(at);
        }
    }
    if let Some(len) = length {
        for f in &fields {
            let end = if spec.layout == Layout::Fixed {
                f.start + f.len
            } else {
                f.start + 1
            };
            if end > len {
                return Err(format!(
                    "field '{}' ends at {end}, beyond the record's {len}",
                    f.name
                ));
            }
        }
    }
    Ok(Kind {
        name: r.kind.clone(),
        role: r.role,
        repeat: r.repeat,
        matcher,
        columns: r.columns.clone(),
        length,
        fields,
    })
}

fn compile_field(spec: &SpecFile, r: &RecordSpec, f: &FieldSpec) -> Result<Field, String> {
    let (start, len, position) = match spec.layout {
        Layout::Fixed => {
            let at = f.at.ok_or("fixed width: 'at' is required")?;
            let len = f.len.ok_or("fixed width: 'len' is required")?;
            if at == 0 || len == 0 {
                return Err("'at' and 'len' count from 1".into());
            }
            if f.column.is_some() {
                return Err("fixed width: use 'at'/'len', not 'column'".into());
            }
            (at - 1, len, at)
        }
        Layout::Delimited => {
            let col = f.column.ok_or("delimited: 'column' is required")?;
            if col == 0 {
                return Err("'column' counts from 1".into());
            }
            if f.at.is_some() || f.len.is_some() {
                return Err("delimited: use 'column', not 'at'/'len'".into());
            }
            (col - 1, 0, col)
        }
    };
    let format = match (f.ty, &f.format) {
        (FieldType::Date | FieldType::Datetime | FieldType::Time, Some(text)) => {
            compile_format(text)?
        }
        (FieldType::Date | FieldType::Datetime | FieldType::Time, None) => {
            return Err("dates and times need 'format'".into())
        }
        (_, Some(_)) => return Err("'format' is only for date, datetime and time".into()),
        (_, None) => Vec::new(),
    };
    let has = |t: Tok| format.contains(&t);
    match f.ty {
        FieldType::Date if !(has(Tok::Year) && has(Tok::Month) && has(Tok::Day)) => {
            return Err("a date format needs %Y %m %d".into())
        }
        FieldType::Datetime if !(has(Tok::Month) && has(Tok::Day) && has(Tok::Hour)) => {
            return Err("a datetime format needs at least %m %d %H".into())
        }
        FieldType::Time if !has(Tok::Hour) => return Err("a time format needs %H".into()),
        _ => {}
    }
    let year_from = match (f.ty, has(Tok::Year), &f.year_from) {
        (FieldType::Datetime, false, Some(from)) => {
            let days = f.year_window_days.unwrap_or(31);
            if !(1..=366).contains(&days) {
                return Err("'year_window_days' must be 1 to 366".into());
            }
            Some((from.clone(), days))
        }
        (FieldType::Datetime, false, None) => {
            return Err(
                "a datetime without %Y needs 'year_from' (the date that decides the year)".into(),
            )
        }
        (_, _, Some(_)) => return Err("'year_from' is only for a datetime without %Y".into()),
        _ => None,
    };
    let unit = match (f.ty, f.unit) {
        (FieldType::Amount, Some(u)) => u,
        (FieldType::Amount, None) => return Err("amounts need 'unit' (fen or yuan)".into()),
        (_, Some(_)) => return Err("'unit' is only for amounts".into()),
        (_, None) => Unit::Fen,
    };
    if f.ty != FieldType::Amount
        && (f.thousands || f.signed || f.sign.is_some() || f.sign_from.is_some())
    {
        return Err("'thousands', 'signed', 'sign', 'sign_from' are only for amounts".into());
    }
    let sign_from_code = match f.sign_from.as_deref() {
        None => false,
        Some("code") => true,
        Some(other) => return Err(format!("sign_from '{other}': only \"code\" is known")),
    };
    if f.ty == FieldType::Code && f.map.is_empty() {
        return Err("a code needs 'map'".into());
    }
    if f.ty != FieldType::Code && !f.map.is_empty() {
        return Err("'map' is only for codes".into());
    }
    if let (Layout::Fixed, Some(eq)) = (spec.layout, &f.equals) {
        if eq.len() > len {
            return Err(format!(
                "'equals' text is longer than the field's {len} bytes"
            ));
        }
    }
    let _ = r;
    Ok(Field {
        name: f.name.clone(),
        start,
        len,
        position,
        ty: f.ty,
        format,
        year_from,
        unit,
        thousands: f.thousands,
        signed: f.signed,
        sign: None,
        sign_from_code,
        optional: f.optional,
        equals: f.equals.clone(),
        map: f.map.clone(),
        fallback: None,
    })
}

fn compile_check(spec: &CompiledSpec, c: &CheckSpec) -> Result<Check, String> {
    let resolve = |reference: &str| -> Result<(usize, usize), String> {
        let (kind, field) = reference
            .split_once('.')
            .ok_or_else(|| format!("check reference '{reference}' is not 'kind.field'"))?;
        let k = spec
            .kinds
            .iter()
            .position(|k| k.name == kind)
            .ok_or_else(|| format!("check reference '{reference}': no record kind '{kind}'"))?;
        if spec.kinds[k].role == Role::Item || spec.kinds[k].repeat == Repeat::Many {
            return Err(format!(
                "check reference '{reference}': '{kind}' must be a header, trailer or footer that occurs once"
            ));
        }
        let f = spec.kinds[k]
            .fields
            .iter()
            .position(|f| f.name == field)
            .ok_or_else(|| {
                format!("check reference '{reference}': '{kind}' has no field '{field}'")
            })?;
        match spec.kinds[k].fields[f].ty {
            FieldType::Integer | FieldType::Amount => Ok((k, f)),
            _ => Err(format!(
                "check reference '{reference}' must be an integer or amount field"
            )),
        }
    };
    let filter_ok = |filter: Filter| {
        matches!(
            (spec.produces, filter),
            (_, Filter::All)
                | (Produces::Statement, Filter::Credit | Filter::Debit)
                | (Produces::Settlement, Filter::Positive | Filter::Negative)
        )
    };
    match c {
        CheckSpec::Count { filter, equals } => {
            if !filter_ok(*filter) || matches!(filter, Filter::Positive | Filter::Negative) {
                return Err(format!(
                    "count check: filter {filter:?} does not apply here"
                ));
            }
            Ok(Check::Count {
                filter: *filter,
                equals: resolve(equals)?,
            })
        }
        CheckSpec::Sum {
            of,
            filter,
            absolute,
            equals,
        } => {
            let of = match (spec.produces, of.as_str()) {
                (Produces::Settlement, "gross") => SumOf::Gross,
                (Produces::Settlement, "fee") => SumOf::Fee,
                (Produces::Settlement, "net") => SumOf::Net,
                (Produces::Statement, "amount") => SumOf::Amount,
                (_, other) => return Err(format!("sum check: cannot sum '{other}' here")),
            };
            if !filter_ok(*filter) {
                return Err(format!("sum check: filter {filter:?} does not apply here"));
            }
            Ok(Check::Sum {
                of,
                filter: *filter,
                absolute: *absolute,
                equals: resolve(equals)?,
            })
        }
        CheckSpec::BalanceChain => {
            if spec.produces != Produces::Statement || !spec.provides("balance_after") {
                return Err("balance_chain needs a statement with 'balance_after'".into());
            }
            Ok(Check::BalanceChain)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "x-bank"
title = "X"
produces = "settlement"
encoding = "gb18030"
layout = "fixed"
constants = { currency = "CNY", merchant = "1", terminal = "T" }
[[records]]
kind = "header"
role = "context"
prefix = "H"
length = 9
fields = [{ name = "settlement_date", at = 2, len = 8, type = "date", format = "%Y%m%d" }]
[[records]]
kind = "detail"
role = "item"
repeat = "many"
prefix = "D"
length = 40
fields = [
  { name = "txn_time", at = 2, len = 10, type = "datetime", format = "%m%d%H%M%S", year_from = "settlement_date" },
  { name = "kind", at = 12, len = 4, type = "code", map = { S001 = "purchase" } },
  { name = "gross", at = 16, len = 8, type = "amount", unit = "fen" },
  { name = "fee", at = 24, len = 8, type = "amount", unit = "fen" },
  { name = "net", at = 32, len = 8, type = "amount", unit = "fen" },
]
"#;

    fn err(text: &str) -> String {
        CompiledSpec::parse("x.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_specs_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bank-specs");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            CompiledSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
        assert_eq!(n, 3);
        CompiledSpec::parse("x.toml", MINIMAL).unwrap();
    }

    #[test]
    fn mistakes_in_a_spec_are_named_when_it_is_loaded() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "encoding = \"gb18030\"",
                "encoding = \"latin1\"",
                "encoding 'latin1'",
            ),
            (
                "length = 40",
                "length = 30",
                "field 'fee' ends at 31, beyond the record's 30",
            ),
            (
                "map = { S001 = \"purchase\" }",
                "map = { S001 = \"sale\" }",
                "maps to 'sale'",
            ),
            (", year_from = \"settlement_date\"", "", "needs 'year_from'"),
            (
                "unit = \"fen\" },\n  { name = \"fee\"",
                "},\n  { name = \"fee\"",
                "amounts need 'unit'",
            ),
            (
                "role = \"item\"",
                "role = \"context\"",
                "no record kind has role = \"item\"",
            ),
            (
                "format = \"%Y%m%d\"",
                "format = \"%Y%q\"",
                "only %Y %m %d %H %M %S",
            ),
            ("merchant = \"1\", ", "", "nothing gives 'merchant'"),
            (
                "produces = \"settlement\"",
                "produces = \"payments\"",
                "unknown variant",
            ),
            (
                "title = \"X\"",
                "title = \"X\"\ncolour = \"red\"",
                "unknown field",
            ),
            (
                "prefix = \"H\"",
                "",
                "only the item kind may go without prefix",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(MINIMAL.contains(from), "{from}");
            let message = err(&MINIMAL.replacen(from, to, 1));
            assert!(message.starts_with("bank spec x.toml: "), "{message}");
            assert!(message.contains(expected), "{from} → {message}");
        }
    }

    #[test]
    fn file_names_give_their_captures() {
        let spec = CompiledSpec::parse(
            "x.toml",
            &MINIMAL.replace(
                "layout = \"fixed\"",
                "layout = \"fixed\"\nfile_name = \"POS_{m}_{d}.txt\"",
            ),
        )
        .unwrap();
        assert_eq!(
            spec.match_file_name("POS_8984_20261124.txt"),
            Some(vec![
                ("m".into(), "8984".into()),
                ("d".into(), "20261124".into())
            ])
        );
        assert_eq!(spec.match_file_name("POS__20261124.txt"), None);
        assert_eq!(spec.match_file_name("YKT_1_2.csv"), None);
        assert_eq!(spec.match_file_name("POS_1_2.txt.bak"), None);
    }
}

//! The compiled form of a spec: what the generic reader executes (field positions in bytes or
//! columns, compiled date layouts, record matchers, resolved checks), the canonical names, and
//! loading a spec file into it.
//!
//! Depends on: [`super`] (the declarative types).

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    BomRule, FieldType, Filter, Layout, Produces, Repeat, Role, SpecError, SpecFile, Unit,
};

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
    /// Index of the field of the same record `year_from` names, if it is one (resolved when
    /// the spec is compiled, so no line looks it up by name).
    pub year_from_field: Option<usize>,
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

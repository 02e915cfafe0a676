//! The generic reader: applies a [`CompiledSpec`] to a file, line by line.
//!
//! Each line is recognised (prefix or first column), checked against the order of record kinds
//! the spec lists, cut into fields (bytes of the encoding for fixed width, RFC 4180 for
//! delimited), and each field read by its type. Item lines become canonical records at once and
//! go to the sink; header values are kept for the items that follow; trailer and footer values
//! wait for the end, where the spec's control checks compare them with what the items added up
//! to. Nothing of the file is kept beyond the current line and those totals.
//!
//! Canonical names an item is built from (item field first, then a header field, then a
//! file-name capture, then a spec constant):
//! - settlement: `merchant terminal kind gross fee net currency txn_time settlement_date`
//!   and optionally `batch trace rrn auth_code masked_card original_ref own_ref`;
//! - statement: `account currency booking_date`, `amount` + `direction` or `debit` + `credit`,
//!   optionally `value_date bank_ref narrative counterparty_account counterparty_name
//!   balance_after`, and for the summary `statement_id from_date to_date`.
//!
//! Rules every settlement item obeys whatever the spec says: net = gross − fee; a purchase is
//! positive, a void or refund negative. A statement booking has exactly one of debit and credit.
//!
//! Layout: this file (public API, the per-file state, canonical names), `framing` (records
//! and fields), `values` (field values), `build` (canonical records), `checks` (order,
//! control totals, balances, the end of the file).
//!
//! Depends on: [`super::records`], [`super::spec`], [`super::decode`], `crate::money` (amount
//! formatting in messages).

mod build;
mod checks;
mod framing;
mod values;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::decode::take_bom;
use super::records::{ReadError, Sink};
use super::spec::{CompiledSpec, Layout, Role};

/// What the file said about itself beyond its items: header values (merchant, settlement date,
/// account, period), file-name captures, and how many items it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Context values as text (`merchant`, `settlement_date` as `YYYY-MM-DD`, `account`, …).
    pub values: BTreeMap<String, String>,
    /// Items read.
    pub items: u64,
}

/// A field's value on one line.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Absent,
    Text(Cow<'a, str>),
    Int(i64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
}

impl Value<'_> {
    fn into_owned(self) -> Value<'static> {
        match self {
            Value::Absent => Value::Absent,
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Date(d) => Value::Date(d),
            Value::DateTime(d) => Value::DateTime(d),
            Value::Time(t) => Value::Time(t),
        }
    }

    fn display(&self) -> String {
        match self {
            Value::Absent => String::new(),
            Value::Text(t) => t.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(d) => d.format("%Y-%m-%dT%H:%M:%S").to_string(),
            Value::Time(t) => t.format("%H:%M:%S").to_string(),
        }
    }
}

/// A canonical name, as an index into the per-file source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C {
    Merchant,
    Terminal,
    Kind,
    Gross,
    Fee,
    Net,
    Currency,
    TxnTime,
    SettlementDate,
    Batch,
    Trace,
    Rrn,
    AuthCode,
    MaskedCard,
    OriginalRef,
    OwnRef,
    Account,
    BookingDate,
    ValueDate,
    BankRef,
    Narrative,
    CounterpartyAccount,
    CounterpartyName,
    BalanceAfter,
    Amount,
    Direction,
    Debit,
    Credit,
    StatementId,
    FromDate,
    ToDate,
}

impl C {
    const ALL: [C; 31] = [
        C::Merchant,
        C::Terminal,
        C::Kind,
        C::Gross,
        C::Fee,
        C::Net,
        C::Currency,
        C::TxnTime,
        C::SettlementDate,
        C::Batch,
        C::Trace,
        C::Rrn,
        C::AuthCode,
        C::MaskedCard,
        C::OriginalRef,
        C::OwnRef,
        C::Account,
        C::BookingDate,
        C::ValueDate,
        C::BankRef,
        C::Narrative,
        C::CounterpartyAccount,
        C::CounterpartyName,
        C::BalanceAfter,
        C::Amount,
        C::Direction,
        C::Debit,
        C::Credit,
        C::StatementId,
        C::FromDate,
        C::ToDate,
    ];

    /// The canonical name called `name` (one `match`: this is on every line's path).
    fn from_name(name: &str) -> Option<C> {
        Some(match name {
            "merchant" => C::Merchant,
            "terminal" => C::Terminal,
            "kind" => C::Kind,
            "gross" => C::Gross,
            "fee" => C::Fee,
            "net" => C::Net,
            "currency" => C::Currency,
            "txn_time" => C::TxnTime,
            "settlement_date" => C::SettlementDate,
            "batch" => C::Batch,
            "trace" => C::Trace,
            "rrn" => C::Rrn,
            "auth_code" => C::AuthCode,
            "masked_card" => C::MaskedCard,
            "original_ref" => C::OriginalRef,
            "own_ref" => C::OwnRef,
            "account" => C::Account,
            "booking_date" => C::BookingDate,
            "value_date" => C::ValueDate,
            "bank_ref" => C::BankRef,
            "narrative" => C::Narrative,
            "counterparty_account" => C::CounterpartyAccount,
            "counterparty_name" => C::CounterpartyName,
            "balance_after" => C::BalanceAfter,
            "amount" => C::Amount,
            "direction" => C::Direction,
            "debit" => C::Debit,
            "credit" => C::Credit,
            "statement_id" => C::StatementId,
            "from_date" => C::FromDate,
            "to_date" => C::ToDate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            C::Merchant => "merchant",
            C::Terminal => "terminal",
            C::Kind => "kind",
            C::Gross => "gross",
            C::Fee => "fee",
            C::Net => "net",
            C::Currency => "currency",
            C::TxnTime => "txn_time",
            C::SettlementDate => "settlement_date",
            C::Batch => "batch",
            C::Trace => "trace",
            C::Rrn => "rrn",
            C::AuthCode => "auth_code",
            C::MaskedCard => "masked_card",
            C::OriginalRef => "original_ref",
            C::OwnRef => "own_ref",
            C::Account => "account",
            C::BookingDate => "booking_date",
            C::ValueDate => "value_date",
            C::BankRef => "bank_ref",
            C::Narrative => "narrative",
            C::CounterpartyAccount => "counterparty_account",
            C::CounterpartyName => "counterparty_name",
            C::BalanceAfter => "balance_after",
            C::Amount => "amount",
            C::Direction => "direction",
            C::Debit => "debit",
            C::Credit => "credit",
            C::StatementId => "statement_id",
            C::FromDate => "from_date",
            C::ToDate => "to_date",
        }
    }
}

static ABSENT: Value<'static> = Value::Absent;

/// Where a canonical value comes from.
#[derive(Debug, Clone)]
enum Source {
    Item(usize),
    Context(usize, usize),
    Named,
    Missing,
}

/// Running state of one file.
struct State<'s> {
    spec: &'s CompiledSpec,
    cursor: usize,
    seen: Vec<u64>,
    context: Vec<Vec<Value<'static>>>,
    context_line: Vec<u64>,
    named: BTreeMap<String, String>,
    sources: Vec<Source>,
    named_values: Vec<Value<'static>>,
    gross_by_code: bool,
    net_by_code: bool,
    check_acc: Vec<i128>,
    items: u64,
    last_line: u64,
    // statements
    first_booking_line: Option<u64>,
    opening: Option<i64>,
    balance: Option<i64>,
    credit_count: u64,
    credit_sum: i64,
    debit_count: u64,
    debit_sum: i64,
    account: Option<String>,
    currency: Option<String>,
}

fn corrupt(line: u64, byte: Option<u64>, message: impl Into<String>) -> ReadError {
    ReadError::corrupt(line, byte, message)
}

/// Reads `input` by `spec`, handing each item to `sink`. `file_name` (as received, without a
/// folder) supplies values the spec's `file_name` pattern captures.
pub fn read_with_spec<R: BufRead>(
    spec: &CompiledSpec,
    file_name: Option<&str>,
    mut input: R,
    sink: &mut Sink<'_>,
) -> Result<FileFacts, ReadError> {
    take_bom(&mut input, spec.encoding, spec.bom)?;
    let mut state = State::new(spec, file_name);
    match spec.layout {
        Layout::Fixed => framing::read_fixed(&mut state, input, sink)?,
        Layout::Delimited => framing::read_delimited(&mut state, input, sink)?,
    }
    state.finish(sink)
}

impl<'s> State<'s> {
    /// The state at the start of a file of `spec` named `file_name`.
    fn new(spec: &'s CompiledSpec, file_name: Option<&str>) -> State<'s> {
        let mut named: BTreeMap<String, String> = spec.constants.clone();
        if let Some(captures) = file_name.and_then(|n| spec.match_file_name(n)) {
            for (k, v) in captures {
                named.entry(k).or_insert(v);
            }
        }
        let (sources, named_values) = canonical_sources(spec, &named);
        State {
            spec,
            cursor: 0,
            seen: vec![0; spec.kinds.len()],
            context: spec.kinds.iter().map(|_| Vec::new()).collect(),
            context_line: vec![0; spec.kinds.len()],
            named,
            sources,
            named_values,
            gross_by_code: spec.kinds[spec.item]
                .fields
                .iter()
                .any(|f| f.name == "gross" && f.sign_from_code),
            net_by_code: spec.kinds[spec.item]
                .fields
                .iter()
                .any(|f| f.name == "net" && f.sign_from_code),
            check_acc: vec![0; spec.checks.len()],
            items: 0,
            last_line: 0,
            first_booking_line: None,
            opening: None,
            balance: None,
            credit_count: 0,
            credit_sum: 0,
            debit_count: 0,
            debit_sum: 0,
            account: None,
            currency: None,
        }
    }
}

/// Where each canonical name comes from in this file (item field, then a context field, then
/// a file-name capture or constant), and the values of those given by name.
fn canonical_sources(
    spec: &CompiledSpec,
    named: &BTreeMap<String, String>,
) -> (Vec<Source>, Vec<Value<'static>>) {
    let mut sources = Vec::with_capacity(C::ALL.len());
    let mut named_values = Vec::with_capacity(C::ALL.len());
    for c in C::ALL {
        let name = c.name();
        let source = if let Some(i) = spec.kinds[spec.item]
            .fields
            .iter()
            .position(|f| f.name == name)
        {
            Source::Item(i)
        } else if let Some((k, f)) = spec.kinds.iter().enumerate().find_map(|(k, kind)| {
            (kind.role == Role::Context)
                .then(|| {
                    kind.fields
                        .iter()
                        .position(|f| f.name == name)
                        .map(|f| (k, f))
                })
                .flatten()
        }) {
            Source::Context(k, f)
        } else if named.contains_key(name) {
            Source::Named
        } else {
            Source::Missing
        };
        named_values.push(match named.get(name) {
            Some(text) => named_to_value(name, text),
            None => Value::Absent,
        });
        sources.push(source);
    }
    (sources, named_values)
}

fn named_to_value(name: &str, text: &str) -> Value<'static> {
    match name {
        "settlement_date" | "booking_date" | "value_date" | "from_date" | "to_date" => {
            NaiveDate::parse_from_str(text, "%Y%m%d")
                .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
                .map(Value::Date)
                .unwrap_or_else(|_| Value::Text(Cow::Owned(text.to_string())))
        }
        _ => Value::Text(Cow::Owned(text.to_string())),
    }
}

#[cfg(test)]
#[test]
fn every_canonical_name_is_found_by_its_name() {
    for c in C::ALL {
        assert_eq!(C::from_name(c.name()), Some(c));
    }
    assert_eq!(C::from_name("remark"), None);
}

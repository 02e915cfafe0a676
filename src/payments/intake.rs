//! Reading a payment request (API.md §Payments) into checked domain values, and pricing its
//! lines against the catalogue. Pure: bytes and catalogue versions in, values or a typed error
//! out.

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use serde_json::Value;

use super::card;
pub use super::pricing::{price, PricedLine};
pub use super::states::Channel;
use crate::keys::{BodyDigest, ServiceKeys};
use crate::money::{parse_amount, MoneyError};

/// Most lines one payment may carry.
pub const MAX_LINES: usize = 50;

/// Length of a bank-card POS terminal id (letters or digits), as in the acquirer's file.
pub const BANK_TERMINAL_LEN: usize = 8;

/// Length of a one-card terminal id (letters or digits, e.g. `YKT000310021`), as in the
/// operator's settlement file (终端编号).
pub const ONE_CARD_TERMINAL_LEN: usize = 12;

/// Masked card data, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardData {
    /// Acquirer merchant number (15 digits).
    pub merchant_id: String,
    /// Terminal: a bank-card POS's 8 characters, or the one-card operator's 12
    /// ([`BANK_TERMINAL_LEN`], [`ONE_CARD_TERMINAL_LEN`]).
    pub terminal_id: String,
    /// POS batch (6 digits), bank cards only.
    pub batch_no: Option<String>,
    /// POS trace (6 digits), bank cards only.
    pub trace_no: Option<String>,
    /// Retrieval reference number (12 characters), bank cards only.
    pub rrn: Option<String>,
    /// Authorisation code (6 characters), bank cards only.
    pub auth_code: Option<String>,
    /// One-card operator's transaction serial (20 digits), one-card only.
    pub serial: Option<String>,
    /// Masked card number.
    pub masked_card: String,
    /// Terminal transaction time, RFC 3339 as sent.
    pub txn_time: String,
}

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    /// Catalogue code.
    pub fee_code: String,
    /// Quantity (1 when left out).
    pub quantity: i64,
    /// Amount the counter computed, if sent.
    pub amount_minor: Option<i64>,
    /// The concession (优惠政策) of the fee item the line is charged under, if any.
    pub concession: Option<String>,
}

/// The payer, if named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    /// Name as given.
    pub name: String,
    /// Identity number in clear — only ever hashed and masked, never stored or shown.
    pub id_number: Option<String>,
}

/// A checked payment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Channel.
    pub channel: Channel,
    /// Collecting department code.
    pub department: String,
    /// Counter window.
    pub window: String,
    /// Payer.
    pub payer: Option<Payer>,
    /// Lines.
    pub lines: Vec<LineRequest>,
    /// Total the counter computed.
    pub amount_minor: i64,
    /// Card data.
    pub card: CardData,
}

/// Why a payment request is refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The body is not a JSON object, or a field is missing, unknown or of the wrong type.
    #[error("{message}")]
    Invalid {
        /// The field at fault, as a path (`lines[0].amount`), if known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Something in the body looks like a full card number.
    #[error("{0} holds what looks like a full card number; send only masked numbers (first 6 and last 4 digits)")]
    FullCardNumber(String),
    /// A line names no catalogue item in effect on the business date.
    #[error("lines[{line}]: fee item '{code}' does not exist or is not in effect on {date}")]
    UnknownFeeItem {
        /// 0-based line index.
        line: usize,
        /// The code sent.
        code: String,
        /// The business date.
        date: NaiveDate,
    },
    /// A line or the total is not the statutory amount.
    #[error("{field}: {message}")]
    AmountMismatch {
        /// `lines[i].amount` or `amount`.
        field: String,
        /// Expected and received.
        message: String,
    },
    /// A line names a concession its fee item's version in effect does not carry.
    #[error("lines[{line}]: fee item '{fee_code}' (version {version}) has no concession '{code}'")]
    UnknownConcession {
        /// 0-based line index.
        line: usize,
        /// The fee item.
        fee_code: String,
        /// Its version in effect.
        version: i64,
        /// The concession code sent.
        code: String,
    },
    /// The department or window is not in the master data
    /// ([`crate::catalogue::departments`]).
    #[error(transparent)]
    UnknownPlace(#[from] crate::catalogue::departments::PlaceError),
    /// Every line is exempt: there is nothing to charge to a card.
    #[error("every line is exempt: the payment comes to 0.00 and there is nothing to charge to a card; record the exemption without a card payment")]
    NothingToCharge,
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> IntakeError {
    IntakeError::Invalid {
        field: Some(field.to_string()),
        message: format!("{field}: {}", message.into()),
    }
}

/// A payment as the counter sends it (API.md §Payments). Read by hand in [`parse_value`]
/// (the card object by channel); the derived schema is what `/openapi.json` publishes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "channel": "bank_card", "department": "D03", "window": "W03",
    "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}], "amount": "80.00",
    "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
             "trace_no": "000012", "rrn": "000451234567", "auth_code": "890123",
             "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
}))]
pub struct PaymentInput {
    channel: Channel,
    /// Collecting department (1–32 characters).
    #[schema(min_length = 1, max_length = 32)]
    department: String,
    /// Counter window (1–32 characters).
    #[schema(min_length = 1, max_length = 32)]
    window: String,
    #[serde(default)]
    payer: Option<PayerInput>,
    /// 1–50 lines.
    #[schema(min_items = 1, max_items = 50)]
    lines: Vec<LineInput>,
    /// The total the counter computed: the catalogue amounts added up.
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: String,
    /// A bank card's POS data or the one-card's, by `channel`; masked card numbers only.
    #[schema(value_type = CardInput)]
    card: Value,
}

/// The payer, if named.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PayerInput {
    /// 1–100 characters.
    name: String,
    /// A resident identity number; hashed and masked, never stored in clear.
    #[serde(default)]
    id_number: Option<String>,
}

/// One line.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LineInput {
    /// Catalogue code.
    fee_code: String,
    /// 1–100000 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    quantity: Option<i64>,
    /// The line's amount; may be left out for fixed and per-unit items, and for a line under
    /// a concession.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$")]
    amount: Option<String>,
    /// A concession (优惠政策) of the fee item's version in effect: the line's amount is then
    /// the concession's (0.00 for an exemption).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    concession: Option<String>,
}

/// The card object: which one is read depends on `channel`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum CardInput {
    /// `channel: bank_card`.
    BankCard(BankCardInput),
    /// `channel: one_card`.
    OneCard(OneCardInput),
}

/// A bank card's POS data.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
    "trace_no": "000012", "rrn": "000451234567", "auth_code": "890123",
    "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"
}))]
struct BankCardInput {
    /// The acquirer's merchant number, 15 digits.
    #[schema(pattern = "^[0-9]{15}$")]
    merchant_id: String,
    /// The POS terminal id, 8 letters or digits.
    #[schema(pattern = "^[A-Za-z0-9]{8}$")]
    terminal_id: String,
    /// POS batch number, 6 digits.
    #[schema(pattern = "^[0-9]{6}$")]
    batch_no: String,
    /// POS trace number, 6 digits.
    #[schema(pattern = "^[0-9]{6}$")]
    trace_no: String,
    /// Retrieval reference number, 12 letters or digits.
    #[schema(pattern = "^[A-Za-z0-9]{12}$")]
    rrn: String,
    /// Authorisation code, 6 letters or digits.
    #[schema(pattern = "^[A-Za-z0-9]{6}$")]
    auth_code: String,
    /// Masked card number: first 6 and last 4 digits, the rest `*`.
    masked_pan: String,
    /// Terminal transaction time, RFC 3339 with offset.
    txn_time: String,
}

/// The city one-card's data; the payment's `reference` goes to the terminal as the merchant
/// order number (商户订单号) and comes back in the operator's settlement file.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "merchant_id": "310000000000021", "terminal_id": "YKT000310021",
    "serial": "20261124093512000017", "masked_card": "3100********4521",
    "txn_time": "2026-11-24T09:35:12+08:00"
}))]
struct OneCardInput {
    /// The one-card operator's merchant number, 15 digits.
    #[schema(pattern = "^[0-9]{15}$")]
    merchant_id: String,
    /// The operator's terminal id, 12 letters or digits, as in its settlement file
    /// (终端编号).
    #[schema(pattern = "^[A-Za-z0-9]{12}$")]
    terminal_id: String,
    /// The operator's transaction serial (交易流水号), 20 digits.
    #[schema(pattern = "^[0-9]{20}$")]
    serial: String,
    /// Masked card number: up to 4 digits at each end, `*` between.
    masked_card: String,
    /// Terminal transaction time, RFC 3339 with offset.
    txn_time: String,
}

fn typed<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, IntakeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix, path.as_str()) {
            ("", ".") => None,
            ("", p) => Some(p.to_string()),
            (pre, ".") => Some(pre.to_string()),
            (pre, p) => Some(format!("{pre}.{p}")),
        };
        let message = match &field {
            Some(f) => format!("{f}: {}", e.into_inner()),
            None => e.into_inner().to_string(),
        };
        IntakeError::Invalid { field, message }
    })
}

fn digits(field: &str, v: &str, len: usize) -> Result<(), IntakeError> {
    if v.len() == len && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(field, format!("must be {len} digits")))
    }
}

fn alnum(field: &str, v: &str, len: usize) -> Result<(), IntakeError> {
    if v.len() == len && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(invalid(field, format!("must be {len} letters or digits")))
    }
}

fn text(field: &str, v: &str, max: usize) -> Result<(), IntakeError> {
    if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        Err(invalid(
            field,
            format!("must be 1–{max} printable characters"),
        ))
    } else {
        Ok(())
    }
}

fn time(field: &str, v: &str) -> Result<(), IntakeError> {
    DateTime::parse_from_rfc3339(v).map(|_| ()).map_err(|_| {
        invalid(
            field,
            "must be an RFC 3339 time with offset, e.g. 2026-11-24T09:30:15+08:00",
        )
    })
}

fn money(field: &str, v: &str) -> Result<i64, IntakeError> {
    parse_amount(v).map_err(|e: MoneyError| invalid(field, e.to_string()))
}

/// Canonical JSON (object keys sorted at every depth), so the same request sent with other
/// whitespace or key order hashes the same.
fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    canonical_json(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// SHA-256 of the canonical form of a JSON body, in memory only: equal for bodies that differ
/// only in spacing or key order.
pub fn body_digest(body: &Value) -> BodyDigest {
    let mut text = String::new();
    canonical_json(body, &mut text);
    BodyDigest::of(text.as_bytes())
}

/// What an idempotency key is bound to, and the only form of it that is stored: the keyed hash
/// ([`ServiceKeys::request_hash`]) of the canonical form of a JSON body. Any use case with an
/// `Idempotency-Key` (payments, refunds) hashes its body with this.
pub fn request_hash(keys: &ServiceKeys, body: &Value) -> [u8; 32] {
    keys.request_hash_of_digest(&body_digest(body))
}

/// Checks an `Idempotency-Key`: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Reads a body as JSON, refuses it if anything in it looks like a full card number (before
/// any other check, so a card number is refused wherever it is and whatever else is wrong),
/// and returns it with its digest (which [`ServiceKeys::request_hash_of_digest`] turns into the
/// request hash that is stored).
pub fn read_json(body: &[u8]) -> Result<(Value, BodyDigest), IntakeError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| IntakeError::Invalid {
        field: None,
        message: format!("the body is not valid JSON: {e}"),
    })?;
    if let Some(path) = card::find_card_number(&value) {
        return Err(IntakeError::FullCardNumber(path));
    }
    let digest = body_digest(&value);
    Ok((value, digest))
}

/// [`read_json`], then [`parse_value`].
pub fn parse_request(body: &[u8]) -> Result<(PaymentRequest, BodyDigest), IntakeError> {
    let (value, hash) = read_json(body)?;
    Ok((parse_value(value)?, hash))
}

/// Checks every field of a request already read by [`read_json`].
pub fn parse_value(value: Value) -> Result<PaymentRequest, IntakeError> {
    let input: PaymentInput = typed(value, "")?;
    text("department", &input.department, 32)?;
    text("window", &input.window, 32)?;
    if input.lines.is_empty() || input.lines.len() > MAX_LINES {
        return Err(invalid("lines", format!("must have 1–{MAX_LINES} lines")));
    }
    let lines = parse_lines(input.lines)?;
    let amount_minor = money("amount", &input.amount)?;
    let payer = input.payer.map(parse_payer).transpose()?;
    let card = parse_card(input.channel, input.card)?;
    Ok(PaymentRequest {
        channel: input.channel,
        department: input.department,
        window: input.window,
        payer,
        lines,
        amount_minor,
        card,
    })
}

/// The lines of a request, each checked: catalogue code, quantity, amount if given.
fn parse_lines(input: Vec<LineInput>) -> Result<Vec<LineRequest>, IntakeError> {
    let mut lines = Vec::with_capacity(input.len());
    for (i, l) in input.into_iter().enumerate() {
        crate::catalogue::model::check_code(&l.fee_code)
            .map_err(|_| invalid(&format!("lines[{i}].fee_code"), "is not a catalogue code"))?;
        let quantity = l.quantity.unwrap_or(1);
        if !(1..=crate::catalogue::model::MAX_QUANTITY).contains(&quantity) {
            return Err(invalid(
                &format!("lines[{i}].quantity"),
                format!("must be 1–{}", crate::catalogue::model::MAX_QUANTITY),
            ));
        }
        let amount_minor = l
            .amount
            .as_deref()
            .map(|a| money(&format!("lines[{i}].amount"), a))
            .transpose()?;
        if let Some(code) = &l.concession {
            crate::catalogue::model::check_code(code).map_err(|_| {
                invalid(
                    &format!("lines[{i}].concession"),
                    "is not a concession code",
                )
            })?;
        }
        lines.push(LineRequest {
            fee_code: l.fee_code,
            quantity,
            amount_minor,
            concession: l.concession,
        });
    }
    Ok(lines)
}

/// The payer: a name, and a resident identity number if given.
fn parse_payer(p: PayerInput) -> Result<Payer, IntakeError> {
    text("payer.name", &p.name, 100)?;
    if let Some(id) = &p.id_number {
        if !card::is_resident_id(id) {
            return Err(invalid(
                "payer.id_number",
                "is not a valid resident identity number",
            ));
        }
    }
    Ok(Payer {
        name: p.name,
        id_number: p.id_number,
    })
}

/// The masked card data the channel carries.
fn parse_card(channel: Channel, data: Value) -> Result<CardData, IntakeError> {
    Ok(match channel {
        Channel::BankCard => {
            let c: BankCardInput = typed(data, "card")?;
            digits("card.merchant_id", &c.merchant_id, 15)?;
            alnum("card.terminal_id", &c.terminal_id, BANK_TERMINAL_LEN)?;
            digits("card.batch_no", &c.batch_no, 6)?;
            digits("card.trace_no", &c.trace_no, 6)?;
            alnum("card.rrn", &c.rrn, 12)?;
            alnum("card.auth_code", &c.auth_code, 6)?;
            if !card::is_masked_pan(&c.masked_pan) {
                return Err(invalid(
                    "card.masked_pan",
                    "must be masked: first 6 and last 4 digits, the rest '*'",
                ));
            }
            time("card.txn_time", &c.txn_time)?;
            CardData {
                merchant_id: c.merchant_id,
                terminal_id: c.terminal_id,
                batch_no: Some(c.batch_no),
                trace_no: Some(c.trace_no),
                rrn: Some(c.rrn),
                auth_code: Some(c.auth_code),
                serial: None,
                masked_card: c.masked_pan,
                txn_time: c.txn_time,
            }
        }
        Channel::OneCard => {
            let c: OneCardInput = typed(data, "card")?;
            digits("card.merchant_id", &c.merchant_id, 15)?;
            alnum("card.terminal_id", &c.terminal_id, ONE_CARD_TERMINAL_LEN)?;
            digits("card.serial", &c.serial, 20)?;
            if !card::is_masked_one_card(&c.masked_card) {
                return Err(invalid(
                    "card.masked_card",
                    "must be masked: up to 4 digits at each end, '*' between",
                ));
            }
            time("card.txn_time", &c.txn_time)?;
            CardData {
                merchant_id: c.merchant_id,
                terminal_id: c.terminal_id,
                batch_no: None,
                trace_no: None,
                rrn: None,
                auth_code: None,
                serial: Some(c.serial),
                masked_card: c.masked_card,
                txn_time: c.txn_time,
            }
        }
    })
}

#[cfg(test)]
mod replay {
    use super::*;

    /// The payment-body fuzzer's seeds (`fixtures/payment-bodies`) and anything it ever found
    /// (`tests/fuzz/regressions/payment_body`) are read or refused without a panic, and an
    /// accepted body hashes the same however its JSON is spaced.
    #[test]
    fn payment_body_seeds_and_fuzz_regressions() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut files = Vec::new();
        for dir in [
            format!("{root}/fixtures/payment-bodies"),
            format!("{root}/tests/fuzz/regressions/payment_body"),
        ] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        assert!(files.len() >= 6, "seeds: {files:?}");
        let mut accepted = 0;
        for path in &files {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| fuzz_one(&data));
            assert!(outcome.is_ok(), "{} panics", path.display());
            accepted += usize::from(outcome.unwrap());
        }
        assert_eq!(accepted, 2, "the two valid seeds parse");
    }

    /// What the fuzz target checks for one input; true when the body is a valid request.
    fn fuzz_one(data: &[u8]) -> bool {
        let Ok((value, hash)) = read_json(data) else {
            return false;
        };
        let spaced = serde_json::to_vec_pretty(&value).unwrap();
        let (_, again) = read_json(&spaced).unwrap();
        assert_eq!(hash, again, "the request hash ignores formatting");
        parse_value(value).is_ok()
    }
}

#[cfg(test)]
mod terminals {
    use super::*;
    use serde_json::json;

    fn one_card(terminal: &str) -> Value {
        json!({
            "channel": "one_card", "department": "D05", "window": "W01",
            "lines": [{"fee_code": "SC-JL-01", "quantity": 1}], "amount": "200.00",
            "card": {"merchant_id": "310000000000021", "terminal_id": terminal,
                     "serial": "20261124093512000017", "masked_card": "3100********4521",
                     "txn_time": "2026-11-24T09:35:12+08:00"}
        })
    }

    fn bank_card(terminal: &str) -> Value {
        json!({
            "channel": "bank_card", "department": "D03", "window": "W03",
            "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}], "amount": "80.00",
            "card": {"merchant_id": "898440379930001", "terminal_id": terminal,
                     "batch_no": "000001", "trace_no": "000012", "rrn": "000451234567",
                     "auth_code": "890123", "masked_pan": "622848******0123",
                     "txn_time": "2026-11-24T09:30:15+08:00"}
        })
    }

    fn field_of(result: Result<PaymentRequest, IntakeError>) -> Option<String> {
        match result {
            Err(IntakeError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    /// Each channel's terminal id has its own length: the one-card operator's 12 characters
    /// (as its settlement file carries them), a bank POS's 8; neither takes the other's.
    #[test]
    fn terminal_ids_are_checked_per_channel() {
        let one = parse_value(one_card("YKT000310021")).expect("12-character one-card terminal");
        assert_eq!(one.card.terminal_id, "YKT000310021");
        assert_eq!(one.card.serial.as_deref(), Some("20261124093512000017"));
        let bank = parse_value(bank_card("11002001")).expect("8-character POS terminal");
        assert_eq!(bank.card.terminal_id, "11002001");
        for bad in [
            "OC000001",
            "YKT00031002",
            "YKT0003100211",
            "YKT-00310021",
            "",
        ] {
            assert_eq!(
                field_of(parse_value(one_card(bad))).as_deref(),
                Some("card.terminal_id"),
                "one-card terminal '{bad}'"
            );
        }
        for bad in ["YKT000310021", "1100200", "110020011", "1100-001"] {
            assert_eq!(
                field_of(parse_value(bank_card(bad))).as_deref(),
                Some("card.terminal_id"),
                "bank terminal '{bad}'"
            );
        }
        match parse_value(one_card("OC000001")) {
            Err(e) => assert!(e.to_string().contains("12 letters or digits"), "{e}"),
            Ok(_) => panic!("accepted"),
        }
    }
}

//! What the API and the pages show of a payment: [`PaymentView`], whose schema `/openapi.json`
//! publishes and whose JSON is stored with idempotent answers and audit records.

use chrono::NaiveDate;
use serde::Serialize;

use super::states::Channel;
use super::StoredPayment;
use crate::db::DbError;
use crate::money::{format_minor, CNY};

/// The API view of a payment (API.md §Payments): the capture answer and every read. Its
/// schema is the one `/openapi.json` publishes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    /// Id (`pay_…`).
    pub id: String,
    /// The payment's own reference, passed to the one-card terminal as merchant order number.
    pub reference: String,
    /// `<receipt code>/<receipt number>`.
    pub receipt_no: String,
    /// The fiscal receipt.
    pub receipt: ReceiptView,
    /// `captured`, `settled`, `reconciled` or `voided`.
    pub status: String,
    /// `bank_card` or `one_card`.
    pub channel: String,
    /// Collecting department.
    pub department: String,
    /// Counter window.
    pub window: String,
    /// Total, decimal string with two places.
    pub amount: String,
    /// Always `CNY`.
    pub currency: &'static str,
    /// Business date of capture.
    pub business_date: NaiveDate,
    /// The payer, if named (the identity number only masked).
    pub payer: Option<PayerView>,
    /// The lines as charged.
    pub lines: Vec<LineView>,
    /// Masked card data.
    pub card: CardView,
    /// The capture's ledger entry.
    pub entry_seq: i64,
    /// Capture time, RFC 3339 UTC.
    pub captured_at: String,
}

/// A payment's fiscal receipt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    /// 票据代码 (8 digits).
    pub code: String,
    /// 票据号码 (10 digits).
    pub number: String,
    /// `issued` or `red_reversed`.
    pub status: String,
}

/// The payer as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayerView {
    /// Name as given.
    pub name: String,
    /// Identity number, masked, if one was given.
    pub id_number_masked: Option<String>,
}

/// A line as charged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineView {
    /// Catalogue code.
    pub fee_code: String,
    /// Catalogue version charged.
    pub fee_version: i64,
    /// Item name of that version.
    pub name: String,
    /// Quantity.
    pub quantity: i64,
    /// Amount, decimal string.
    pub amount: String,
    /// Revenue subject.
    pub revenue_subject: String,
    /// The concession (优惠政策) the line was charged under; absent for a line at the
    /// statutory amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concession: Option<LineConcessionView>,
}

/// The concession a line was charged under, as the receipt shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineConcessionView {
    /// Its code in the fee item version.
    pub code: String,
    /// Its name (`低保户免收`).
    pub name: String,
    /// `exempt` or `reduced`.
    pub kind: String,
    /// The document and article that grant it.
    pub legal_basis: String,
    /// The statutory amount of the line, decimal string.
    pub standard_amount: String,
    /// The standard amount forgone (standard less charged), decimal string.
    pub forgone: String,
}

/// Masked card data: a bank card's POS fields, or the one-card operator's serial.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CardView {
    /// `channel: bank_card`.
    BankCard {
        /// Acquirer merchant number.
        merchant_id: String,
        /// Terminal.
        terminal_id: String,
        /// POS batch.
        batch_no: Option<String>,
        /// POS trace.
        trace_no: Option<String>,
        /// Retrieval reference number.
        rrn: Option<String>,
        /// Authorisation code.
        auth_code: Option<String>,
        /// Masked card number.
        masked_pan: String,
        /// Terminal transaction time, as sent.
        txn_time: String,
    },
    /// `channel: one_card`.
    OneCard {
        /// Merchant number.
        merchant_id: String,
        /// Terminal.
        terminal_id: String,
        /// The operator's 20-digit transaction serial.
        serial: Option<String>,
        /// Masked card number.
        masked_card: String,
        /// Terminal transaction time, as sent.
        txn_time: String,
    },
}

impl From<&StoredPayment> for PaymentView {
    fn from(p: &StoredPayment) -> Self {
        let card = p.card.clone();
        let card = match p.channel {
            Channel::OneCard => CardView::OneCard {
                merchant_id: card.merchant_id,
                terminal_id: card.terminal_id,
                serial: card.serial,
                masked_card: card.masked_card,
                txn_time: card.txn_time,
            },
            Channel::BankCard => CardView::BankCard {
                merchant_id: card.merchant_id,
                terminal_id: card.terminal_id,
                batch_no: card.batch_no,
                trace_no: card.trace_no,
                rrn: card.rrn,
                auth_code: card.auth_code,
                masked_pan: card.masked_card,
                txn_time: card.txn_time,
            },
        };
        PaymentView {
            id: p.id.clone(),
            reference: p.reference.clone(),
            receipt_no: format!("{}/{:010}", p.receipt_series, p.receipt_number),
            receipt: ReceiptView {
                code: p.receipt_series.clone(),
                number: format!("{:010}", p.receipt_number),
                status: p.receipt_status.to_string(),
            },
            status: p.status.to_string(),
            channel: p.channel.to_string(),
            department: p.department.clone(),
            window: p.window.clone(),
            amount: format_minor(p.amount_minor),
            currency: CNY,
            business_date: p.business_date,
            payer: p.payer_name.as_ref().map(|n| PayerView {
                name: n.clone(),
                id_number_masked: p.payer_id_masked.clone(),
            }),
            lines: p
                .lines
                .iter()
                .map(|l| LineView {
                    fee_code: l.fee_code.clone(),
                    fee_version: l.fee_version,
                    name: l.name.clone(),
                    quantity: l.quantity,
                    amount: format_minor(l.amount_minor),
                    revenue_subject: l.revenue_subject.clone(),
                    concession: l.concession.as_ref().map(|c| LineConcessionView {
                        code: c.code.clone(),
                        name: c.name.clone(),
                        kind: c.kind.to_string(),
                        legal_basis: c.legal_basis.clone(),
                        standard_amount: format_minor(l.amount_minor + c.forgone_minor),
                        forgone: format_minor(c.forgone_minor),
                    }),
                })
                .collect(),
            card,
            entry_seq: p.entry_seq,
            captured_at: format!("{}Z", p.created_at.format("%Y-%m-%dT%H:%M:%S%.6f")),
        }
    }
}

/// A payment with its refunds, whatever their status, oldest first: what
/// `GET /v1/payments/{id}` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentDetail {
    /// The payment.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// Its refunds.
    pub refunds: Vec<super::refunds::RefundView>,
}

/// [`PaymentView`] as JSON, as stored with idempotent answers and audit records. A view that
/// does not serialise is a storage failure ([`stored_json`]), never an empty value.
pub fn view(p: &StoredPayment) -> Result<serde_json::Value, DbError> {
    stored_json(&PaymentView::from(p))
}

/// A view as the JSON stored beside its rows (an idempotent answer, an audit record); a
/// failure is [`DbError::Query`] with diesel's serialisation error, as any value that cannot
/// be written.
pub fn stored_json(v: &impl Serialize) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(v)
        .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))
}

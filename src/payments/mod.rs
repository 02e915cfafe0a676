//! Payments at the counter (DESIGN §3).
//!
//! - [`card`]: card-data rules (full card numbers refused anywhere; masked forms; identity
//!   numbers hashed and masked) — pure.
//! - [`intake`]: reading a request — pure; [`pricing`]: pricing it against the catalogue, at
//!   the statutory amount or a concession's (优惠政策) — pure.
//! - [`states`]: the channel and the payment, receipt and refund statuses, as stored, with
//!   their allowed moves (a payment's by [`PaymentEvent`]) — pure.
//! - [`capture`](mod@capture): the capture use case, [`take`]: a retry answered from the stored
//!   answer, the request priced, then one ledger-writer job — idempotency record, gap-free
//!   receipt number ([`receipts`]), capture entry, payment rows and audit, in one transaction.
//! - [`stored`] and [`view`](mod@view): a payment as stored and read back, and as the API
//!   shows it; the bulk status moves reconciliation makes (settled, reconciled).
//! - [`void`](mod@void): the same-day void; [`refunds`]: refunds with four eyes, requested
//!   idempotently, approved, rejected or cancelled.
//! - [`hashes`]: stored request hashes are keyed; the one-time conversion of plain ones.
//! - [`query`]: lists and searches; [`collections`]: what the counters collected;
//!   [`concessions`](mod@concessions): the concessions granted, for supervision.
//!
//! Every entry comes from a template of [`crate::ledger::templates`]; whether a day's revenue
//! is already the treasury's comes from [`crate::ledger::days`].
//!
//! May depend on: `catalogue`, `ledger`, `db`, `audit`, `keys`, `clock`, `money`, `text`.

pub mod capture;
pub mod card;
pub mod collections;
pub mod concessions;
pub mod hashes;
pub mod intake;
pub mod pricing;
pub mod query;
pub mod receipts;
pub mod refunds;
pub mod states;
pub mod stored;
pub mod view;
pub mod void;

pub use capture::{
    capture, capture_by, stored_answer, take, take_by, versions_for, Answer, Capture, CaptureError,
    Counter,
};
pub use query::{find, list_ids, FIND_LIMIT};
pub use receipts::ensure_series;
pub use states::{Channel, PaymentEvent, PaymentStatus, ReceiptStatus, RefundRoute, RefundStatus};
pub use stored::{load, load_many, LineConcession, StoredLine, StoredPayment};
pub use view::{
    view, CardView, LineConcessionView, LineView, PayerView, PaymentDetail, PaymentView,
    ReceiptView,
};
pub use void::{void, VoidError};

//! Remittance use cases over the database (DESIGN §6).
//!
//! - **prepare** (finance): for a closed day, the day's payable to the treasury by revenue
//!   subject with the documents behind it (see [`super::batch`] for which day a movement belongs
//!   to). One live batch per day: the database refuses a second.
//! - **cancel** (finance, a prepared batch) / **reject** (treasury, an approved one): the batch
//!   ends without an entry and the day can be prepared again ([`withdraw`](mod@withdraw)).
//! - **approve** (a supervisor who did not prepare it): the payable is computed again and must be
//!   what was prepared; the remt.001 file is written, its SHA-256 recorded, its bytes signed
//!   with the service's Ed25519 key and stored; the batch gets the next pull position. From here
//!   on the database refuses any change to what the batch is.
//! - **pull** (treasury): approved batches in approval order; the stored bytes, never rebuilt.
//! - **acknowledge** (treasury): posts `Dr 2103.<subject> / Cr 1002.01` once.
//! - **supervision**: days whose payable is not zero after acknowledgement, or not remitted in
//!   time.
//! - **退库** ([`returns`], [`returns_ack`](mod@returns_ack)): refund requests for remitted
//!   revenue, offered once the day's batch is acknowledged, acknowledged (return and payout
//!   post) or rejected by the treasury.
//!
//! Prepare, approve and acknowledge run as ledger-writer jobs, so they are serialised with
//! refund approvals (which refuse a payment whose day has a batch) and with each other.
//! Whether a day is closed or already has a batch is [`crate::ledger::days`]' to say; the
//! remittance entry is [`crate::ledger::templates::remittance`].
//!
//! One file per step: [`read`] (batches and their signed files, for staff and the treasury's
//! pull), [`prepare`](mod@prepare) (with the day's payable movements), [`approve`](mod@approve),
//! [`acknowledge`](mod@acknowledge), [`supervise`](mod@supervise).

use chrono::NaiveDate;

use super::batch::{AckError, BatchError, Parties, WithdrawError};
use super::remt::RemtError;
use crate::db::DbError;
use crate::ledger::days::RemittanceStatus;
use crate::ledger::writer::PostError;

pub mod acknowledge;
pub mod approve;
pub mod prepare;
pub mod read;
pub mod refund_routing;
pub mod returns;
pub mod returns_ack;
pub mod returns_file;
pub mod supervise;
pub mod withdraw;

pub use acknowledge::{acknowledge, Acknowledged};
pub use approve::approve;
pub use prepare::{day_movements, prepare, prepare_day, stored_subjects};
pub use read::{
    awaiting_approval, file, get, list, list_for_treasury, AwaitingApproval, Remittance,
    SignedFile, SubjectView,
};
pub use refund_routing::RefundRemittances;
pub use returns::{get_for_treasury as get_refund_request, RefundRequestView};
pub use returns_ack::{acknowledge_return, reject_return, ReturnAcknowledged};
pub use supervise::{day_payables, supervise, SupervisionReport};
pub use withdraw::{cancel, reject, withdraw_in};

/// The batch of `date`, if it has one (whatever its status): id and status. Its payments can
/// then no longer be refunded against the payable; a refund is a treasury refund request (退库).
pub use crate::ledger::days::remittance_of as batch_of_day;

/// Why a remittance step was refused.
#[derive(Debug, thiserror::Error)]
pub enum RemitError {
    /// No such batch (or not one the caller may see).
    #[error("no remittance '{0}'")]
    NotFound(String),
    /// The day is not closed, so its payable may still change.
    #[error("{0} is not closed: close the day before remitting it")]
    DayNotClosed(NaiveDate),
    /// The day already has a batch.
    #[error("{date} is already remitted by batch {id} ({status})")]
    AlreadyRemitted {
        /// The day.
        date: NaiveDate,
        /// Its batch.
        id: String,
        /// The batch's status.
        status: RemittanceStatus,
    },
    /// The day's payable cannot become a batch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The approver prepared the batch.
    #[error("the person who prepared a remittance cannot approve it")]
    SamePerson,
    /// What the ledger owes for the day is no longer what was prepared.
    #[error("the day's payable no longer matches the prepared batch: {0}")]
    Stale(String),
    /// The acknowledgement is refused.
    #[error(transparent)]
    Ack(#[from] AckError),
    /// The cancellation or rejection is refused.
    #[error(transparent)]
    Withdraw(#[from] WithdrawError),
    /// The treasury's answer to a refund request (退库) is refused.
    #[error(transparent)]
    Return(crate::treasury::refund_request::RequestError),
    /// The file could not be written (a configured name or account is unusable).
    #[error("the remittance file could not be written: {0}")]
    File(#[from] RemtError),
    /// A refund request's pain.001 file could not be written.
    #[error("the refund request file could not be written: {0}")]
    ReturnFile(#[from] crate::treasury::pain001::Pain001Error),
    /// Posting or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
    /// The batch could not be written to the audit trail.
    #[error("the remittance could not be recorded in the audit trail: {0}")]
    Audit(#[from] serde_json::Error),
}

impl From<DbError> for RemitError {
    fn from(e: DbError) -> Self {
        RemitError::Post(PostError::Storage(e))
    }
}

impl From<diesel::result::Error> for RemitError {
    fn from(e: diesel::result::Error) -> Self {
        RemitError::Post(PostError::Storage(DbError::Query(e)))
    }
}

/// A stored value that does not fit what the service writes: the row was altered.
pub(super) fn corrupt(what: String) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(what.into()))
}

/// What the file needs from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Payer and payee.
    pub parties: Parties,
    /// The centre's receipt series (part of the message id).
    pub receipt_series: String,
    /// Days within which a day's payable must be acknowledged.
    pub limit_days: i64,
}

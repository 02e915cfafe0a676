//! A refund request's signed pain.001.001.10 file: written, hashed and signed with the
//! service's Ed25519 key (its id stored beside the signature) the first time the treasury pulls it (inside a writer job, so two
//! first pulls cannot make two files), stored, and answered byte for byte ever after.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use ring::digest;

use super::{RemitError, Settings};
use crate::db::schema::{payments, refund_requests, refunds, remittances};
use crate::keys::ServiceKeys;
use crate::ledger::days::RemittanceStatus;
use crate::ledger::writer::{Batch, LedgerWriter, WriteError};
use crate::treasury::pain001::{self, Party, RefundTransfer};

/// A request's signed file.
#[derive(Debug, Clone)]
pub struct SignedReturnFile {
    /// The pain.001 bytes, exactly as first written.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub sha256: Vec<u8>,
    /// Ed25519 signature of the bytes.
    pub signature: Vec<u8>,
    /// The id of the key that made it.
    pub kid: Option<String>,
    /// The document's message id (names the download).
    pub message_id: String,
}

type StoredFile = (
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
);

/// What the document is made of, as stored with the request.
#[derive(Queryable)]
struct Source {
    refund_id: String,
    payment_id: String,
    business_date: NaiveDate,
    revenue_subject: String,
    amount_minor: i64,
}

/// The file of an offered request (`NotFound` for a waiting or unknown one), fixed on the
/// first pull.
pub async fn fixed_file(
    writer: &LedgerWriter,
    keys: Arc<ServiceKeys>,
    settings: Settings,
    id: String,
) -> Result<SignedReturnFile, WriteError<RemitError>> {
    writer
        .submit(
            move |b: &mut Batch<'_>| -> Result<SignedReturnFile, RemitError> {
                let now = b.now();
                let conn = b.conn()?;
                let not_found = || RemitError::NotFound(format!("refund request {id}"));
                let stored: StoredFile = refund_requests::table
                    .find(&id)
                    .filter(refund_requests::pull_seq.is_not_null())
                    .select((
                        refund_requests::message_id,
                        refund_requests::file_bytes,
                        refund_requests::file_sha256,
                        refund_requests::signature,
                        refund_requests::signature_kid,
                    ))
                    .first(conn)
                    .optional()?
                    .ok_or_else(not_found)?;
                if let (message_id, Some(bytes), Some(sha256), Some(signature), kid) = stored {
                    return Ok(SignedReturnFile {
                        bytes,
                        sha256,
                        signature,
                        kid: crate::auth::signing_keys::resolve(conn, kid)?,
                        message_id,
                    });
                }
                let message_id = stored.0;
                let src: Source = refund_requests::table
                    .find(&id)
                    .select((
                        refund_requests::refund_id,
                        refund_requests::payment_id,
                        refund_requests::business_date,
                        refund_requests::revenue_subject,
                        refund_requests::amount_minor,
                    ))
                    .first(conn)?;
                let reason: String = refunds::table
                    .find(&src.refund_id)
                    .select(refunds::reason)
                    .first(conn)?;
                let payment_reference: String = payments::table
                    .find(&src.payment_id)
                    .select(payments::reference)
                    .first(conn)?;
                // The batch that carried the revenue (acknowledged, or the request would not
                // be offered).
                let remittance: Option<String> = remittances::table
                    .filter(remittances::business_date.eq(src.business_date))
                    .filter(remittances::status.eq(RemittanceStatus::Acknowledged.as_ref()))
                    .select(remittances::id)
                    .first(conn)
                    .optional()?;
                let created_at = Utc
                    .from_utc_datetime(&now)
                    .with_timezone(&crate::clock::SHANGHAI);
                let transfer = RefundTransfer {
                    message_id: message_id.clone(),
                    created_at,
                    requested_execution_date: created_at.date_naive(),
                    end_to_end_id: src.refund_id,
                    amount_minor: src.amount_minor,
                    debtor: Party::treasury(&settings.parties),
                    creditor: Party::centre(&settings.parties),
                    revenue_subject: src.revenue_subject,
                    payment_reference,
                    remittance_reference: remittance,
                    reason,
                };
                let bytes = pain001::write(&transfer)?;
                let sha256 = digest::digest(&digest::SHA256, &bytes).as_ref().to_vec();
                let signed = crate::auth::signing_keys::sign(conn, &keys, &bytes)?;
                diesel::update(refund_requests::table.find(&id))
                    .set((
                        refund_requests::file_bytes.eq(Some(&bytes)),
                        refund_requests::file_sha256.eq(Some(&sha256)),
                        refund_requests::signature.eq(Some(&signed.bytes)),
                        refund_requests::signature_kid.eq(Some(&signed.kid)),
                    ))
                    .execute(conn)?;
                Ok(SignedReturnFile {
                    bytes,
                    sha256,
                    signature: signed.bytes,
                    kid: Some(signed.kid),
                    message_id,
                })
            },
        )
        .await
}

//! Approve (a supervisor who did not prepare it): the payable is computed again and must be
//! what was prepared; the remt.001 file is written, its SHA-256 recorded, its bytes signed with
//! the service's Ed25519 key and stored with the key's id; the batch gets the next pull position. From here on the
//! database refuses any change to what the batch is.

use chrono::{TimeZone, Utc};
use diesel::prelude::*;
use ring::digest;
use serde_json::json;

use super::prepare::{day_movements, stored_subjects};
use super::read::{get, load_row, view, Remittance};
use super::{RemitError, Settings};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::remittances;
use crate::keys::ServiceKeys;
use crate::ledger::days::RemittanceStatus;
use crate::ledger::writer::{Batch, LedgerWriter, WriteError};
use crate::money::format_minor;
use crate::treasury::batch;
use crate::treasury::remt;

/// Approves a prepared batch: fixes, hashes, signs and stores its file. Approving an approved
/// batch answers it unchanged.
pub async fn approve(
    writer: &LedgerWriter,
    keys: std::sync::Arc<ServiceKeys>,
    settings: Settings,
    id: String,
    by: Principal,
) -> Result<Remittance, WriteError<RemitError>> {
    writer
        .submit(move |b: &mut Batch<'_>| -> Result<Remittance, RemitError> {
            let chart = b.chart().clone();
            let now = b.now();
            let conn = b.conn()?;
            let row = load_row(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))?;
            // Only a prepared batch moves on; approving it again answers it unchanged.
            if !row.status.can_become(RemittanceStatus::Approved) {
                return Ok(view(conn, row)?);
            }
            if by.is_same_person(row.prepared_by_person.as_deref()) {
                return Err(RemitError::SamePerson);
            }
            let stored = stored_subjects(conn, &id)?;
            let movements = day_movements(conn, &chart, row.business_date)?;
            let current = batch::breakdown(row.business_date, &movements, &chart)?;
            if !batch::same_batch(&current, &stored) {
                let now_total: i64 = current.iter().map(|s| s.amount_minor).sum();
                return Err(RemitError::Stale(format!(
                    "prepared {} in {} subject(s), the ledger now owes {} in {}",
                    format_minor(row.amount_minor),
                    stored.len(),
                    format_minor(now_total),
                    current.len()
                )));
            }
            let created_at = Utc
                .from_utc_datetime(&now)
                .with_timezone(&crate::clock::SHANGHAI);
            let doc = batch::document(
                &row.message_id,
                row.business_date,
                &row.currency,
                &stored,
                &settings.parties,
                created_at,
            );
            let bytes = remt::write_remt(&doc)?;
            let sha256 = digest::digest(&digest::SHA256, &bytes).as_ref().to_vec();
            let signed = crate::auth::signing_keys::sign(conn, &keys, &bytes)?;
            let last: Option<i64> = remittances::table
                .select(diesel::dsl::max(remittances::pull_seq))
                .first(conn)?;
            let actor = by.actor();
            diesel::update(remittances::table.find(&id))
                .set((
                    remittances::status.eq(RemittanceStatus::Approved.as_ref()),
                    remittances::approved_at.eq(Some(now)),
                    remittances::approved_by.eq(Some(&actor)),
                    // The first approved batch (no pull position yet) is at 1.
                    remittances::pull_seq.eq(Some(last.unwrap_or(0) + 1)),
                    remittances::file_bytes.eq(Some(&bytes)),
                    remittances::file_sha256.eq(Some(&sha256)),
                    remittances::signature.eq(Some(&signed.bytes)),
                    remittances::signature_kid.eq(Some(&signed.kid)),
                ))
                .execute(conn)?;
            let out = get(conn, &id)?.ok_or_else(|| RemitError::NotFound(id.clone()))?;
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: "remittance.approve",
                    subject: &format!("remittance:{id}"),
                    before: Some(json!({"status": RemittanceStatus::Prepared})),
                    after: Some(serde_json::to_value(&out)?),
                },
                now,
            )?;
            Ok(out)
        })
        .await
}

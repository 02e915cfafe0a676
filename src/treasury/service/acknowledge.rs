//! Acknowledge (treasury): posts the remittance entry — Dr 2103.<subject> / Cr collection bank,
//! [`templates::remittance`] — once; the same acknowledgement again answers the batch as it is.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::prepare::stored_subjects;
use super::read::{load_row, view, Remittance, Row};
use super::{corrupt, RemitError};
use crate::audit::{self, AuditEvent};
use crate::auth::Principal;
use crate::db::schema::remittances;
use crate::db::DbError;
use crate::ledger::days::RemittanceStatus;
use crate::ledger::templates::{self, Header};
use crate::ledger::writer::{Batch, LedgerWriter, PostError, WriteError};
use crate::ledger::{LedgerError, NewEntry};
use crate::money::format_minor;
use crate::treasury::batch::{self, AckDecision, AckState};

/// The outcome of an acknowledgement.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    /// The batch after it.
    pub remittance: Remittance,
    /// False when the same acknowledgement had been made before.
    pub posted: bool,
}

/// Where the batch stands for an acknowledgement. An acknowledged batch without its treasury
/// reference is a row altered behind the service's back.
fn ack_state(row: &Row) -> Result<AckState, DbError> {
    Ok(match row.status {
        RemittanceStatus::Acknowledged => {
            let reference = row.treasury_reference.clone().ok_or_else(|| {
                corrupt(format!(
                    "acknowledged remittance {} has no treasury reference",
                    row.id
                ))
            })?;
            AckState::Acknowledged(reference)
        }
        RemittanceStatus::Rejected => AckState::Rejected,
        s if s.can_become(RemittanceStatus::Acknowledged) => AckState::Approved,
        _ => AckState::Prepared,
    })
}

/// The remittance entry of the batch ([`templates::remittance`]): its stored subjects' payable
/// accounts debited, the collection bank credited, dated `today`.
fn remittance_entry(
    b: &mut Batch<'_>,
    row: &Row,
    reference: &str,
    today: NaiveDate,
    actor: &str,
) -> Result<NewEntry, RemitError> {
    let subjects = stored_subjects(b.conn()?, &row.id)?;
    let accounts: Vec<(&str, i64)> = subjects
        .iter()
        .map(|s| (s.account_code.as_str(), s.amount_minor))
        .collect();
    let header = Header {
        business_date: today,
        reference: Some(row.id.clone()),
        actor: actor.to_string(),
    };
    let memo = format!(
        "remittance {} of {} to the treasury, treasury reference {reference}",
        row.message_id, row.business_date
    );
    templates::remittance(b.chart(), header, memo, &accounts, row.amount_minor)
        .map_err(|e| RemitError::Post(PostError::Rule(LedgerError::from(e))))
}

/// The treasury acknowledges an approved batch: posts the remittance entry, dated `today`.
pub async fn acknowledge(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    treasury_reference: String,
    amount_minor: i64,
    today: NaiveDate,
) -> Result<Acknowledged, WriteError<RemitError>> {
    writer
        .submit(
            move |b: &mut Batch<'_>| -> Result<Acknowledged, RemitError> {
                let conn = b.conn()?;
                // Only approved batches exist for the treasury.
                let row = load_row(conn, &id)?
                    .filter(|r| r.status.offered_to_treasury())
                    .ok_or_else(|| RemitError::NotFound(id.clone()))?;
                let state = ack_state(&row)?;
                let reference = treasury_reference.trim().to_string();
                match batch::decide_ack(&state, row.amount_minor, &reference, amount_minor)? {
                    AckDecision::AlreadyDone => {
                        return Ok(Acknowledged {
                            remittance: view(conn, row)?,
                            posted: false,
                        })
                    }
                    AckDecision::Post => {}
                }
                let actor = by.actor();
                let entry = remittance_entry(b, &row, &reference, today, &actor)?;
                let posted = b.post(entry)?;
                let now = b.now();
                let conn = b.conn()?;
                diesel::update(remittances::table.find(&id))
                    .set((
                        remittances::status.eq(RemittanceStatus::Acknowledged.as_ref()),
                        remittances::acknowledged_at.eq(Some(now)),
                        remittances::acknowledged_by.eq(Some(&actor)),
                        remittances::treasury_reference.eq(Some(&reference)),
                        remittances::ack_entry_seq.eq(Some(posted.seq)),
                    ))
                    .execute(conn)?;
                // The money reached the treasury: refunds of the day waiting for it (退库) can
                // now be offered.
                super::returns::offer_waiting_in(conn, row.business_date, now)?;
                let remittance = view(
                    conn,
                    Row {
                        status: RemittanceStatus::Acknowledged,
                        acknowledged_at: Some(now),
                        treasury_reference: Some(reference.clone()),
                        ack_entry_seq: Some(posted.seq),
                        ..row
                    },
                )?;
                audit::record_at(
                    conn,
                    AuditEvent {
                        actor: &actor,
                        action: "remittance.acknowledge",
                        subject: &format!("remittance:{id}"),
                        before: Some(json!({"status": RemittanceStatus::Approved})),
                        after: Some(json!({
                            "status": RemittanceStatus::Acknowledged,
                            "treasury_reference": reference,
                            "amount": format_minor(amount_minor),
                            "entry_seq": posted.seq,
                        })),
                    },
                    now,
                )?;
                Ok(Acknowledged {
                    remittance,
                    posted: true,
                })
            },
        )
        .await
}

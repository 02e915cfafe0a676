//! Closing a refund that waits for approval without paying it: a supervisor rejects it with a
//! note, or its requester (or finance) cancels it. Either frees its amount: the payment's live
//! refunds no longer count it, so a new refund or a same-day void may follow.

use super::*;
use crate::auth::Role;

/// How a waiting refund is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Reject,
    Cancel,
}

impl Close {
    fn status(self) -> RefundStatus {
        match self {
            Close::Reject => RefundStatus::Rejected,
            Close::Cancel => RefundStatus::Cancelled,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Close::Reject => "refund.reject",
            Close::Cancel => "refund.cancel",
        }
    }
}

/// Whether `by` may cancel `refund`: its requester ([`is_requester`]), or anyone of finance.
pub fn may_cancel(refund: &Refund, by: &Principal) -> bool {
    by.role == Role::Finance || is_requester(refund, by)
}

/// Rejects a refund that waits for approval (the caller has checked the supervisor's role),
/// with a note of 1–[`MAX_TEXT_CHARS`] characters.
pub async fn reject(
    writer: &LedgerWriter,
    refund_id: String,
    note: String,
    by: Principal,
    business_date: NaiveDate,
) -> Result<Refund, WriteError<RefundError>> {
    if !text_ok(&note) {
        return Err(WriteError::Rejected(RefundError::BadNote));
    }
    close(
        writer,
        refund_id,
        Close::Reject,
        Some(note),
        by,
        business_date,
    )
    .await
}

/// Cancels a refund that waits for approval: its requester or finance ([`may_cancel`]).
pub async fn cancel(
    writer: &LedgerWriter,
    refund_id: String,
    by: Principal,
    business_date: NaiveDate,
) -> Result<Refund, WriteError<RefundError>> {
    close(writer, refund_id, Close::Cancel, None, by, business_date).await
}

async fn close(
    writer: &LedgerWriter,
    refund_id: String,
    how: Close,
    note: Option<String>,
    by: Principal,
    business_date: NaiveDate,
) -> Result<Refund, WriteError<RefundError>> {
    writer
        .submit(move |batch| {
            let conn = batch.conn()?;
            let refund = load_refund(conn, &refund_id)?
                .ok_or_else(|| RefundError::NotFound(format!("no refund '{refund_id}'")))?;
            if how == Close::Cancel && !may_cancel(&refund, &by) {
                return Err(RefundError::NotRequester);
            }
            let next = how.status();
            if !refund.status.can_become(next) {
                return Err(RefundError::NotAllowed(format!(
                    "refund {refund_id} is {}; only a requested refund can be {next}",
                    refund.status
                )));
            }
            let now = batch.now();
            let actor = by.actor();
            let conn = batch.conn()?;
            // Only if still as read: the writer serialises jobs, and this keeps it so.
            let changed = diesel::update(
                refunds::table
                    .filter(refunds::id.eq(&refund_id))
                    .filter(refunds::status.eq(refund.status.as_ref())),
            )
            .set((
                refunds::status.eq(next.as_ref()),
                refunds::closed_by.eq(&actor),
                refunds::closed_at.eq(now),
                refunds::closed_on.eq(business_date),
                refunds::closed_note.eq(&note),
            ))
            .execute(conn)?;
            if changed != 1 {
                return Err(RefundError::NotAllowed(format!(
                    "refund {refund_id} changed meanwhile"
                )));
            }
            let after = Refund {
                status: next,
                closed_by: Some(actor.clone()),
                closed_at: Some(now),
                closed_on: Some(business_date),
                closed_note: note.clone(),
                ..refund.clone()
            };
            audit::record_at(
                conn,
                AuditEvent {
                    actor: &actor,
                    action: how.action(),
                    subject: &format!("refund:{refund_id}"),
                    before: Some(view(&refund)?),
                    after: Some(view(&after)?),
                },
                now,
            )?;
            Ok(after)
        })
        .await
}

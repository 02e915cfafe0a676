//! Ledger use cases that people start directly: a supervisor's manual entry and the reversal
//! of an entry. Each posts through the writer and audits in the same transaction.

use serde_json::json;

use super::model::{EntryKind, NewEntry, PostedEntry};
use super::writer::{Batch, LedgerWriter, PostError, WriteError};
use super::LedgerError;
use crate::audit::{self, AuditEvent};
use crate::money::format_minor;

/// Entry kinds a person may post by hand. Captures, settlements, remittances and refunds come
/// only from their own use cases, which carry the documents behind them.
pub const MANUAL_KINDS: [EntryKind; 3] = [
    EntryKind::Adjustment,
    EntryKind::Appropriation,
    EntryKind::FeeTopUp,
];

/// The JSON an audit record keeps of an entry.
pub fn entry_json(e: &PostedEntry) -> serde_json::Value {
    json!({
        "seq": e.seq,
        "business_date": e.entry.business_date.to_string(),
        "kind": e.entry.kind.as_str(),
        "memo": e.entry.memo,
        "reference": e.entry.reference,
        "reverses": e.entry.reverses,
        "postings": e.entry.postings.iter().map(|p| json!({
            "account": p.account, "side": p.side.as_str(), "amount": format_minor(p.amount_minor), "currency": p.currency,
        })).collect::<Vec<_>>(),
        "hash": hex::encode(e.hash),
    })
}

/// Audits a posted entry in the same batch: `action` on `entry:<subject_seq>`, by the entry's
/// actor, at the batch's commit time.
fn audit_entry(
    batch: &mut Batch<'_>,
    action: &str,
    subject_seq: i64,
    before: Option<&PostedEntry>,
    posted: &PostedEntry,
) -> Result<(), PostError> {
    let at = batch.now();
    audit::record_at(
        batch.conn()?,
        AuditEvent {
            actor: &posted.entry.actor,
            action,
            subject: &format!("entry:{subject_seq}"),
            before: before.map(entry_json),
            after: Some(entry_json(posted)),
        },
        at,
    )?;
    Ok(())
}

/// Posts a manual entry (adjustment, appropriation, fee top-up) and audits it.
pub async fn post_manual(
    writer: &LedgerWriter,
    entry: NewEntry,
) -> Result<PostedEntry, WriteError<PostError>> {
    if !MANUAL_KINDS.contains(&entry.kind) {
        return Err(WriteError::Rejected(PostError::Rule(LedgerError::InvalidEntry(format!(
            "'{}' entries come from their own use case; by hand only adjustment, appropriation or fee_top_up",
            entry.kind
        )))));
    }
    if entry.reverses.is_some() {
        return Err(WriteError::Rejected(PostError::Rule(
            LedgerError::ReversalShape,
        )));
    }
    writer
        .submit(move |batch| {
            let posted = batch.post(entry)?;
            audit_entry(batch, "ledger.post", posted.seq, None, &posted)?;
            Ok(posted)
        })
        .await
}

/// Reverses entry `seq`: posts its postings with the sides swapped, referencing it.
pub async fn reverse(
    writer: &LedgerWriter,
    seq: i64,
    memo: String,
    actor: String,
) -> Result<PostedEntry, WriteError<PostError>> {
    writer
        .submit(move |batch| {
            let original = super::repo::load_entry(batch.conn()?, seq)?
                .ok_or(LedgerError::UnknownEntry(seq))?;
            let entry = reversal_of(&original, memo, actor);
            let posted = batch.post(entry)?;
            audit_entry(batch, "ledger.reverse", seq, Some(&original), &posted)?;
            Ok(posted)
        })
        .await
}

/// The reversal of an entry (see [`super::templates::reversal`]).
pub use super::templates::reversal as reversal_of;

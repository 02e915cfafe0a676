//! Ledger use cases that people start directly: a supervisor's manual entry and the reversal
//! of one. Each posts through the writer and audits in the same transaction.
//!
//! Only manual entries are reversed here (DESIGN §7): any other entry is undone through its own
//! use case ([`undone_by`] names it), and a manual entry's reversal needs another person than
//! the one who posted it, whose person id is kept beside the entry (`entry_posters`).

use diesel::prelude::*;
use serde_json::json;

use super::model::{EntryKind, NewEntry, PostedEntry};
use super::writer::{Batch, LedgerWriter, PostError, WriteError};
use super::LedgerError;
use crate::audit::{self, AuditEvent};
use crate::db::schema::entry_posters;
use crate::money::format_minor;

/// Entry kinds a person may post by hand. Captures, settlements, remittances and refunds come
/// only from their own use cases, which carry the documents behind them.
pub const MANUAL_KINDS: [EntryKind; 3] = [
    EntryKind::Adjustment,
    EntryKind::Appropriation,
    EntryKind::FeeTopUp,
];

/// For an entry of `kind` that is not posted by hand ([`MANUAL_KINDS`]): the use case that
/// undoes it, for the refusal to name. `None` for a manual kind: it may be reversed here.
pub fn undone_by(kind: EntryKind) -> Option<&'static str> {
    Some(match kind {
        EntryKind::Adjustment | EntryKind::Appropriation | EntryKind::FeeTopUp => return None,
        EntryKind::Capture => {
            "void the payment on its business day (POST /v1/payments/{id}/void) or refund it (POST /v1/payments/{id}/refunds)"
        }
        EntryKind::Refund => {
            "an approved refund is final; the fee is collected again as a new payment (POST /v1/payments)"
        }
        EntryKind::Settlement => {
            "it follows the acquirer's settlement file; a wrong one is worked as a reconciliation exception (POST /v1/exceptions/{id}/resolve)"
        }
        EntryKind::WriteOff => {
            "it is an approved exception resolution; money that arrives later is booked as a manual adjustment (POST /v1/ledger/entries)"
        }
        EntryKind::Remittance => {
            "it is the treasury's acknowledgement of a batch; money back from the treasury is a refund request (退库, POST /v1/payments/{id}/refunds)"
        }
        EntryKind::TreasuryReturn => {
            "it is the treasury's acknowledgement of a refund request (退库); the refund it paid is final"
        }
        EntryKind::Reversal => {
            "a reversal stands; what it undid is posted again as a new entry (a payment, or a manual entry: POST /v1/ledger/entries)"
        }
    })
}

/// Why a reversal was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReverseError {
    /// The entry is not a manual one: its own use case undoes it.
    #[error("entry {seq} is a {kind} entry, not a manual adjustment: {undo}")]
    NotManual {
        /// The entry.
        seq: i64,
        /// Its kind.
        kind: EntryKind,
        /// What undoes it.
        undo: &'static str,
    },
    /// The person asking posted the entry.
    #[error("entry {0} was posted by the same person; another supervisor reverses it")]
    SamePerson(i64),
    /// A ledger rule refused the reversal, or storage failed.
    #[error(transparent)]
    Post(#[from] PostError),
}

impl From<LedgerError> for ReverseError {
    fn from(e: LedgerError) -> Self {
        ReverseError::Post(e.into())
    }
}

impl From<crate::db::DbError> for ReverseError {
    fn from(e: crate::db::DbError) -> Self {
        ReverseError::Post(e.into())
    }
}

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

/// Posts a manual entry (adjustment, appropriation, fee top-up) by the person `poster` and
/// audits it; the poster is kept for the reversal's four eyes.
pub async fn post_manual(
    writer: &LedgerWriter,
    entry: NewEntry,
    poster: String,
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
            diesel::insert_into(entry_posters::table)
                .values((
                    entry_posters::entry_seq.eq(posted.seq),
                    entry_posters::person_id.eq(&poster),
                ))
                .execute(batch.conn()?)?;
            audit_entry(batch, "ledger.post", posted.seq, None, &posted)?;
            Ok(posted)
        })
        .await
}

/// Reverses manual entry `seq`: posts its postings with the sides swapped, referencing it.
/// `actor` names who asks; `is_poster` tells whether they are the person who posted it (given
/// the stored poster, `None` when none is recorded), which is refused.
pub async fn reverse(
    writer: &LedgerWriter,
    seq: i64,
    memo: String,
    actor: String,
    is_poster: impl FnOnce(Option<&str>) -> bool + Send + 'static,
) -> Result<PostedEntry, WriteError<ReverseError>> {
    writer
        .submit(move |batch| {
            let original = super::repo::load_entry(batch.conn()?, seq)?
                .ok_or(LedgerError::UnknownEntry(seq))?;
            let kind = original.entry.kind;
            if let Some(undo) = undone_by(kind) {
                return Err(ReverseError::NotManual { seq, kind, undo });
            }
            let poster: Option<String> = entry_posters::table
                .find(seq)
                .select(entry_posters::person_id)
                .first(batch.conn()?)
                .optional()
                .map_err(PostError::from)?;
            if is_poster(poster.as_deref()) {
                return Err(ReverseError::SamePerson(seq));
            }
            let entry = reversal_of(&original, memo, actor);
            let posted = batch.post(entry)?;
            audit_entry(batch, "ledger.reverse", seq, Some(&original), &posted)?;
            Ok(posted)
        })
        .await
}

/// The reversal of an entry (see [`super::templates::reversal`]).
pub use super::templates::reversal as reversal_of;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_manual_kinds_are_reversed_here_and_every_other_names_its_use_case() {
        for kind in EntryKind::ALL {
            match undone_by(kind) {
                None => assert!(MANUAL_KINDS.contains(&kind), "{kind}"),
                Some(undo) => {
                    assert!(!MANUAL_KINDS.contains(&kind), "{kind}");
                    assert!(undo.len() > 20, "{kind}: {undo}");
                }
            }
        }
        assert!(undone_by(EntryKind::Capture).is_some_and(|u| u.contains("void")));
        assert!(undone_by(EntryKind::Refund).is_some_and(|u| u.contains("refund")));
        assert!(undone_by(EntryKind::Remittance).is_some_and(|u| u.contains("退库")));
    }
}

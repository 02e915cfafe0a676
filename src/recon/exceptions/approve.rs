//! `POST /v1/exceptions/{id}/approve`: a second person approves a proposed write-off or a
//! claim's settlement, and its entry posts — one ledger-writer job, so the approval and the
//! entry commit together or not at all.
//!
//! What posts, dated the current business date (DESIGN §2; the writer refuses a closed day):
//!
//! | approved | entry |
//! |---|---|
//! | write-off of a payment's or line's shortfall X | [`templates::write_off`]: collection Dr 1218.02 X / Cr 1218.01 X; budget Dr 5001 X / Cr 2307.01 X |
//! | write-off of a file's cash (its credit C fell short of net N, or never came: C = 0) | [`templates::write_off`] of the file's gross G: collection Dr 1002.01 C, Dr 1218.02 G−C / Cr 1218.01 G; budget Dr 5001 G−C / Cr 2307.01 G−C (the file's settlement, with the lost part and the fee owed by the budget) |
//! | a payment's or line's claim paid by booking X | [`templates::claim_paid`]: Dr 1002.01 X / Cr 1218.01 X |
//! | a file's claim paid by booking (its credits now make up N) | [`templates::settlement`] of the file: what the run posts when a file's net arrives |
//!
//! 2103 is never touched; the budget owes what was lost and clears it with a fee top-up.
//! A file's entries carry the file's settlement reference, so a file settles once, ever.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{audit_change, load, Action, ExceptionError, ExceptionState, ExceptionStatus, Step};
use crate::auth::Principal;
use crate::db::schema::{ledger_entries, recon_exceptions, recon_outcomes};
use crate::db::DbConn;
use crate::ledger::model::{EntryKind, NewEntry};
use crate::ledger::templates::{self, settlement_reference, Header, SettlementTotals, Shortfall};
use crate::ledger::writer::{Batch, LedgerWriter, WriteError};
use crate::money::format_minor;
use crate::recon::matcher::Category;

/// Approves a proposed write-off or claim settlement (a second person) and posts its entry,
/// dated `today` (the current business date). Approving an approved exception again answers
/// it unchanged and posts nothing.
pub async fn approve(
    writer: &LedgerWriter,
    id: String,
    by: Principal,
    today: NaiveDate,
) -> Result<ExceptionState, WriteError<ExceptionError>> {
    writer
        .submit(move |batch| approve_in(batch, &id, &by, today))
        .await
}

fn approve_in(
    batch: &mut Batch<'_>,
    id: &str,
    by: &Principal,
    today: NaiveDate,
) -> Result<ExceptionState, ExceptionError> {
    let before = load(batch.conn()?, id)?;
    if before.status == ExceptionStatus::Resolved
        && before.approved_by.is_some()
        && before.entry_seq.is_some()
    {
        return Ok(before);
    }
    let next = before.status.after(Step::Approve);
    let Some(status) = next.filter(|_| before.active) else {
        return Err(ExceptionError::NotAllowed(format!(
            "exception {id} is {}, not a write-off or claim settlement awaiting approval",
            before.status
        )));
    };
    if by.is_same_person(before.resolved_by_person.as_deref()) {
        return Err(ExceptionError::SamePerson);
    }
    let header = Header {
        business_date: today,
        reference: Some(format!("exception:{id}")),
        actor: by.actor(),
    };
    let draft = draft(batch.conn()?, &before)?;
    let entry = draft.entry(batch.chart(), header, &before)?;
    let posted = batch.post(entry)?;
    let now = batch.now();
    let conn = batch.conn()?;
    diesel::update(recon_exceptions::table.find(id))
        .set((
            recon_exceptions::status.eq(status.as_ref()),
            recon_exceptions::approved_by.eq(by.actor()),
            recon_exceptions::approved_at.eq(now),
            recon_exceptions::entry_seq.eq(posted.seq),
        ))
        .execute(conn)?;
    let after = load(conn, id)?;
    audit_change(conn, &by.actor(), "exception.approve", &before, &after, now)?;
    Ok(after)
}

/// What an approval will post, with the facts read from the database.
enum Draft {
    /// A payment's or line's shortfall written off.
    LineWriteOff(i64),
    /// A file's cash written off: its totals and what was credited.
    FileWriteOff(String, SettlementTotals, i64),
    /// A payment's or line's claim paid.
    LineClaimPaid(i64),
    /// A file's claim paid: its settlement.
    FileSettled(String, SettlementTotals),
}

fn draft(conn: &mut DbConn, x: &ExceptionState) -> Result<Draft, ExceptionError> {
    let settles_claim = x.resolution == Some(Action::ManualMatch) && x.matched_booking_id.is_some();
    let writes_off = x.resolution == Some(Action::WriteOff);
    if !settles_claim && !writes_off {
        return Err(ExceptionError::NotAllowed(format!(
            "exception {} has nothing to approve",
            x.id
        )));
    }
    let lost = super::resolve::write_off_amount(x)?;
    if !super::rules::is_cash(x.kind) {
        return Ok(if writes_off {
            Draft::LineWriteOff(lost)
        } else {
            Draft::LineClaimPaid(lost)
        });
    }
    let (file_id, totals) = file_facts(conn, x)?;
    Ok(if writes_off {
        Draft::FileWriteOff(file_id, totals, x.settlement_minor.unwrap_or(0))
    } else {
        Draft::FileSettled(file_id, totals)
    })
}

impl Draft {
    fn entry(
        self,
        chart: &crate::ledger::chart::Chart,
        header: Header,
        x: &ExceptionState,
    ) -> Result<NewEntry, ExceptionError> {
        let about = format!("exception {} ({}, {})", x.id, x.kind, x.business_date);
        let entry = match self {
            Draft::LineWriteOff(lost) => templates::write_off(
                chart,
                header,
                format!("write-off of {about}: {} lost", format_minor(lost)),
                Shortfall {
                    out_of_transit_minor: lost,
                    received_minor: 0,
                },
            ),
            Draft::FileWriteOff(file_id, t, credited) => templates::write_off(
                chart,
                Header {
                    reference: Some(settlement_reference(&file_id)),
                    ..header
                },
                format!(
                    "write-off of {about}: file {file_id} gross {}, fee {}, net {}, credited {}",
                    format_minor(t.gross_minor),
                    format_minor(t.fee_minor),
                    format_minor(t.net_minor),
                    format_minor(credited)
                ),
                Shortfall {
                    out_of_transit_minor: t.gross_minor,
                    received_minor: credited,
                },
            ),
            Draft::LineClaimPaid(amount) => templates::claim_paid(
                chart,
                header,
                format!(
                    "claim of {about} paid by booking {}: {}",
                    x.matched_booking_id.unwrap_or_default(),
                    format_minor(amount)
                ),
                amount,
            ),
            Draft::FileSettled(file_id, t) => {
                return templates::settlement(
                    chart,
                    header.business_date,
                    &file_id,
                    t,
                    &header.actor,
                )
                .map_err(crate::ledger::LedgerError::from)?
                .ok_or_else(|| {
                    ExceptionError::NotAllowed(format!(
                    "file {file_id}'s totals cannot be posted as a settlement; a person books it"
                ))
                })
            }
        };
        entry.map_err(|e| match e {
            templates::TemplateError::NotAShortfall { .. } => {
                ExceptionError::WriteOffNotAllowed(format!("{about}: {e}"))
            }
            other => ExceptionError::Ledger(other.into()),
        })
    }
}

/// The file of a cash exception: its totals, checked postable, paid by no shared booking, and
/// not settled already.
pub(super) fn file_facts(
    conn: &mut DbConn,
    x: &ExceptionState,
) -> Result<(String, SettlementTotals), ExceptionError> {
    let Some(file_id) = x.file_id.clone() else {
        return Err(ExceptionError::WriteOffNotAllowed(format!(
            "exception {} names no settlement file",
            x.id
        )));
    };
    let (_, gross, fee, net) = crate::recon::runs::file_sums(conn, &file_id)?;
    if gross <= 0 || net <= 0 || fee < 0 || gross - fee != net || Some(net) != x.ledger_minor {
        return Err(ExceptionError::WriteOffNotAllowed(format!(
            "file {file_id}'s totals (gross {}, fee {}, net {}) are not a plain settlement; a person books it",
            format_minor(gross),
            format_minor(fee),
            format_minor(net)
        )));
    }
    if x.kind == Category::CashMismatch {
        let sharing: i64 = recon_outcomes::table
            .filter(recon_outcomes::active.eq(true))
            .filter(recon_outcomes::booking_id.eq(x.booking_id))
            .filter(recon_outcomes::file_id.is_not_null())
            .count()
            .get_result(conn)?;
        if sharing > 1 {
            return Err(ExceptionError::WriteOffNotAllowed(format!(
                "one booking paid several files together with {file_id}; work them together with the acquirer (bank_claim)"
            )));
        }
    }
    let settled: i64 = ledger_entries::table
        .filter(ledger_entries::reference.eq(settlement_reference(&file_id)))
        .filter(
            ledger_entries::kind
                .eq_any([EntryKind::Settlement.as_str(), EntryKind::WriteOff.as_str()]),
        )
        .count()
        .get_result(conn)?;
    if settled > 0 {
        return Err(ExceptionError::AlreadySettled(format!(
            "file {file_id} is settled in the ledger already"
        )));
    }
    Ok((
        file_id,
        SettlementTotals {
            gross_minor: gross,
            fee_minor: fee,
            net_minor: net,
        },
    ))
}

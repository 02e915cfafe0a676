//! DESIGN §2's entry templates: every entry that moves value is drafted here, by a pure
//! function from values to a [`NewEntry`]. Accounts are found by their role in the chart
//! ([`AccountRole`]), never by code, so the chart stays configuration.
//!
//! | template | entry |
//! |---|---|
//! | [`capture`] | Dr in transit / Cr 2103.<subject> per line (collection) |
//! | [`reversal`] | the original's postings, sides swapped (a same-day void) |
//! | [`settlement`] | collection Dr bank N, Dr interfund receivable F / Cr in transit G; budget Dr fee expense F / Cr interfund payable F |
//! | [`fee_top_up`] | collection Dr bank F / Cr interfund receivable F; budget Dr interfund payable F / Cr budget bank F |
//! | [`remittance`] | Dr 2103.<subject> per subject / Cr collection bank |
//! | [`refund`] | Dr 2103.<subject> per subject / Cr in transit (unsettled) or collection bank |
//! | [`treasury_return`] | Dr collection bank / Cr refund payable (the treasury returned remitted revenue, 退库) |
//! | [`refund_payout`] | Dr refund payable / Cr in transit (unsettled) or collection bank (the payer is refunded what the treasury returned) |
//! | [`write_off`] | collection Dr bank C (what arrived, if any), Dr interfund receivable G−C / Cr in transit G; budget Dr fee expense G−C / Cr interfund payable G−C |
//! | [`claim_paid`] | Dr collection bank X / Cr in transit X (the bank paid a claimed shortfall) |
//!
//! The writer still checks every rule on every entry; a template only makes the right entry
//! the easy one. Pure: no database, no HTTP.

use chrono::NaiveDate;

use super::chart::Chart;
use super::model::{Account, AccountRole, EntryKind, NewEntry, PostedEntry, Posting};
use super::rules::LedgerError;
use crate::money::format_minor;

/// Why a template cannot draft its entry with this chart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The chart has no postable account with a role the template needs.
    #[error("the chart has no {} account", role_words(*.0))]
    NoAccount(AccountRole),
    /// The chart has no treasury-payable sub-account for a revenue subject.
    #[error("no treasury-payable account for subject {0}")]
    NoPayable(String),
    /// An account given to the template is not a treasury-payable account.
    #[error("account '{0}' is not a treasury-payable account")]
    NotPayable(String),
    /// A write-off or claim whose amounts are not a shortfall: nothing leaves transit, or more
    /// arrived than left it (a difference in the centre's favour is returned or claimed, never
    /// written off).
    #[error("not a shortfall: {out_of_transit} out of transit, {received} received", out_of_transit = format_minor(*.out_of_transit_minor), received = format_minor(*.received_minor))]
    NotAShortfall {
        /// What would leave in transit.
        out_of_transit_minor: i64,
        /// What of it reached the collection account.
        received_minor: i64,
    },
}

impl From<TemplateError> for LedgerError {
    fn from(e: TemplateError) -> Self {
        LedgerError::InvalidEntry(e.to_string())
    }
}

fn role_words(role: AccountRole) -> &'static str {
    match role {
        AccountRole::InTransit => "in-transit",
        AccountRole::CollectionBank => "collection bank",
        AccountRole::InterfundReceivable => "interfund receivable",
        AccountRole::TreasuryPayable => "treasury-payable",
        AccountRole::BudgetBank => "budget bank",
        AccountRole::FeeExpense => "fee expense",
        AccountRole::InterfundPayable => "interfund payable",
        AccountRole::Appropriation => "appropriation",
        AccountRole::RefundPayable => "refund payable",
        AccountRole::Other => "other",
    }
}

/// The single postable account with `role`.
fn role(chart: &Chart, role: AccountRole) -> Result<&Account, TemplateError> {
    chart
        .account_with_role(role)
        .ok_or(TemplateError::NoAccount(role))
}

/// The payable sub-account of a revenue subject.
fn payable(chart: &Chart, subject: &str) -> Result<String, TemplateError> {
    chart
        .treasury_payable_for(subject)
        .map(|a| a.code.clone())
        .ok_or_else(|| TemplateError::NoPayable(subject.to_string()))
}

/// What every entry carries besides its kind, memo and postings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The business day it belongs to.
    pub business_date: NaiveDate,
    /// The source document (payment id, settlement, remittance batch), if any.
    pub reference: Option<String>,
    /// Who caused it.
    pub actor: String,
}

impl Header {
    fn entry(self, kind: EntryKind, memo: String, postings: Vec<Posting>) -> NewEntry {
        NewEntry {
            business_date: self.business_date,
            kind,
            memo,
            reference: self.reference,
            reverses: None,
            actor: self.actor,
            postings,
        }
    }
}

/// Card payment captured: Dr in transit for the total, Cr 2103.<subject> for each line, in
/// line order. `lines` are (revenue subject, amount); `payment_reference` is the payment's own
/// reference (`P…`), the header's reference its id.
pub fn capture(
    chart: &Chart,
    header: Header,
    payment_reference: &str,
    total_minor: i64,
    lines: &[(&str, i64)],
) -> Result<NewEntry, TemplateError> {
    let in_transit = role(chart, AccountRole::InTransit)?;
    let mut postings = vec![Posting::debit(&in_transit.code, total_minor)];
    for (subject, amount) in lines {
        postings.push(Posting::credit(&payable(chart, subject)?, *amount));
    }
    Ok(header.entry(
        EntryKind::Capture,
        format!("card payment {payment_reference}"),
        postings,
    ))
}

/// The reversal of an entry (a same-day void, a correction): the same postings with the sides
/// swapped, dated as the original, referencing it.
pub fn reversal(original: &PostedEntry, memo: String, actor: String) -> NewEntry {
    NewEntry {
        business_date: original.entry.business_date,
        kind: EntryKind::Reversal,
        memo,
        reference: original.entry.reference.clone(),
        reverses: Some(original.seq),
        actor,
        postings: original
            .entry
            .postings
            .iter()
            .map(|p| Posting {
                side: p.side.opposite(),
                ..p.clone()
            })
            .collect(),
    }
}

/// The same-day void of a payment: the reversal of its capture entry.
pub fn void(capture: &PostedEntry, payment_reference: &str, actor: String) -> NewEntry {
    reversal(
        capture,
        format!("void of payment {payment_reference}"),
        actor,
    )
}

/// The reference a settlement file's entry carries (one entry per file, ever).
pub fn settlement_reference(file_id: &str) -> String {
    format!("settlement:{file_id}")
}

/// An acquirer settlement's totals: gross G, fee F, net N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementTotals {
    /// What the payments came to.
    pub gross_minor: i64,
    /// What the acquirer kept.
    pub fee_minor: i64,
    /// What reached the collection account.
    pub net_minor: i64,
}

/// Acquirer settlement of a file whose net reached the collection account: collection Dr bank
/// N, Dr interfund receivable F / Cr in transit G; budget Dr fee expense F / Cr interfund
/// payable F (no fee lines when F is 0). 2103 is untouched: revenue stays gross. `None` when the
/// totals cannot be posted as such (a file of only refunds, fees returned on balance): those
/// stay with the exceptions for a person.
pub fn settlement(
    chart: &Chart,
    business_date: NaiveDate,
    file_id: &str,
    t: SettlementTotals,
    actor: &str,
) -> Result<Option<NewEntry>, TemplateError> {
    let SettlementTotals {
        gross_minor: gross,
        fee_minor: fee,
        net_minor: net,
    } = t;
    if gross <= 0 || net <= 0 || fee < 0 || gross - fee != net {
        return Ok(None);
    }
    let mut postings = vec![
        Posting::debit(&role(chart, AccountRole::CollectionBank)?.code, net),
        Posting::credit(&role(chart, AccountRole::InTransit)?.code, gross),
    ];
    if fee > 0 {
        postings.push(Posting::debit(
            &role(chart, AccountRole::InterfundReceivable)?.code,
            fee,
        ));
        postings.push(Posting::debit(
            &role(chart, AccountRole::FeeExpense)?.code,
            fee,
        ));
        postings.push(Posting::credit(
            &role(chart, AccountRole::InterfundPayable)?.code,
            fee,
        ));
    }
    let header = Header {
        business_date,
        reference: Some(settlement_reference(file_id)),
        actor: actor.to_string(),
    };
    Ok(Some(header.entry(
        EntryKind::Settlement,
        format!(
            "acquirer settlement of file {file_id}: gross {}, fee {}, net {}",
            format_minor(gross),
            format_minor(fee),
            format_minor(net)
        ),
        postings,
    )))
}

/// The budget fund tops up a fee the acquirer deducted: collection Dr bank F / Cr interfund
/// receivable F; budget Dr interfund payable F / Cr budget bank F.
pub fn fee_top_up(
    chart: &Chart,
    header: Header,
    fee_minor: i64,
    memo: String,
) -> Result<NewEntry, TemplateError> {
    let postings = vec![
        Posting::debit(&role(chart, AccountRole::CollectionBank)?.code, fee_minor),
        Posting::credit(
            &role(chart, AccountRole::InterfundReceivable)?.code,
            fee_minor,
        ),
        Posting::debit(&role(chart, AccountRole::InterfundPayable)?.code, fee_minor),
        Posting::credit(&role(chart, AccountRole::BudgetBank)?.code, fee_minor),
    ];
    Ok(header.entry(EntryKind::FeeTopUp, memo, postings))
}

/// Remittance to the treasury of a day's batch: Dr each subject's payable account (as the
/// batch holds them: `(account, amount)`, in batch order) / Cr collection bank for the total.
pub fn remittance(
    chart: &Chart,
    header: Header,
    memo: String,
    subjects: &[(&str, i64)],
    total_minor: i64,
) -> Result<NewEntry, TemplateError> {
    let bank = role(chart, AccountRole::CollectionBank)?;
    let mut postings = Vec::with_capacity(subjects.len() + 1);
    for (account, amount) in subjects {
        if chart.role_of(account) != AccountRole::TreasuryPayable {
            return Err(TemplateError::NotPayable(account.to_string()));
        }
        postings.push(Posting::debit(account, *amount));
    }
    postings.push(Posting::credit(&bank.code, total_minor));
    Ok(header.entry(EntryKind::Remittance, memo, postings))
}

/// Refund of a fee before remittance: Dr 2103.<subject> for each `(subject, amount)` of the
/// allocation / Cr in transit for the total while the payment is unsettled, the collection
/// bank once it is.
pub fn refund(
    chart: &Chart,
    header: Header,
    memo: String,
    settled: bool,
    allocation: &[(String, i64)],
    total_minor: i64,
) -> Result<NewEntry, TemplateError> {
    let credit = role(
        chart,
        if settled {
            AccountRole::CollectionBank
        } else {
            AccountRole::InTransit
        },
    )?;
    let mut postings = Vec::with_capacity(allocation.len() + 1);
    for (subject, amount) in allocation {
        postings.push(Posting::debit(&payable(chart, subject)?, *amount));
    }
    postings.push(Posting::credit(&credit.code, total_minor));
    Ok(header.entry(EntryKind::Refund, memo, postings))
}

/// 退库: the treasury returned revenue it had received, for a payer's refund: Dr collection
/// bank / Cr refund payable (collection fund). 2103 is not touched: the revenue left with the
/// remittance, and what comes back is owed to the payer, not to the treasury.
pub fn treasury_return(
    chart: &Chart,
    header: Header,
    memo: String,
    amount_minor: i64,
) -> Result<NewEntry, TemplateError> {
    let postings = vec![
        Posting::debit(
            &role(chart, AccountRole::CollectionBank)?.code,
            amount_minor,
        ),
        Posting::credit(&role(chart, AccountRole::RefundPayable)?.code, amount_minor),
    ];
    Ok(header.entry(EntryKind::TreasuryReturn, memo, postings))
}

/// The payer is refunded what the treasury returned: Dr refund payable / Cr in transit while
/// the payment is unsettled (the acquirer nets the card refund), the collection bank once it
/// is — the same choice as [`refund`] makes. Only after [`treasury_return`]: neither fund
/// pre-finances a refund of remitted revenue.
pub fn refund_payout(
    chart: &Chart,
    header: Header,
    memo: String,
    settled: bool,
    amount_minor: i64,
) -> Result<NewEntry, TemplateError> {
    let credit = role(
        chart,
        if settled {
            AccountRole::CollectionBank
        } else {
            AccountRole::InTransit
        },
    )?;
    let postings = vec![
        Posting::debit(&role(chart, AccountRole::RefundPayable)?.code, amount_minor),
        Posting::credit(&credit.code, amount_minor),
    ];
    Ok(header.entry(EntryKind::Refund, memo, postings))
}

/// A reconciliation shortfall to write off: what leaves in transit, and what of it reached the
/// collection account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// What leaves in transit (1218.01): a payment's or line's difference, or a whole file's
    /// gross when the file's own settlement entry never posted (its credit differed or never
    /// came).
    pub out_of_transit_minor: i64,
    /// What of it the bank credited to the collection account (a file's actual credit; 0 for a
    /// line's difference).
    pub received_minor: i64,
}

impl Shortfall {
    /// What is written off: the part that never arrived.
    pub fn lost_minor(&self) -> i64 {
        self.out_of_transit_minor - self.received_minor
    }
}

/// DESIGN §2's written-off difference: the shortfall leaves in transit, what arrived (if any)
/// reaches the collection bank, and the rest becomes what the budget fund owes the collection
/// fund, booked as a budget expense — collection Dr bank C, Dr interfund receivable G−C /
/// Cr in transit G; budget Dr fee expense G−C / Cr interfund payable G−C. 2103 is never
/// touched (revenue stays gross) and value crosses only budget → collection: the budget tops
/// the receivable up later with [`fee_top_up`]. A difference in the centre's favour (nothing
/// lost) is [`TemplateError::NotAShortfall`].
pub fn write_off(
    chart: &Chart,
    header: Header,
    memo: String,
    s: Shortfall,
) -> Result<NewEntry, TemplateError> {
    let lost = s.lost_minor();
    if s.out_of_transit_minor <= 0 || s.received_minor < 0 || lost <= 0 {
        return Err(TemplateError::NotAShortfall {
            out_of_transit_minor: s.out_of_transit_minor,
            received_minor: s.received_minor,
        });
    }
    let mut postings = Vec::with_capacity(5);
    if s.received_minor > 0 {
        postings.push(Posting::debit(
            &role(chart, AccountRole::CollectionBank)?.code,
            s.received_minor,
        ));
    }
    postings.push(Posting::credit(
        &role(chart, AccountRole::InTransit)?.code,
        s.out_of_transit_minor,
    ));
    postings.push(Posting::debit(
        &role(chart, AccountRole::InterfundReceivable)?.code,
        lost,
    ));
    postings.push(Posting::debit(
        &role(chart, AccountRole::FeeExpense)?.code,
        lost,
    ));
    postings.push(Posting::credit(
        &role(chart, AccountRole::InterfundPayable)?.code,
        lost,
    ));
    Ok(header.entry(EntryKind::WriteOff, memo, postings))
}

/// The bank paid a claimed shortfall of a payment or line: collection Dr bank X / Cr in
/// transit X (a settlement of the difference; the file-level claims post [`settlement`]).
pub fn claim_paid(
    chart: &Chart,
    header: Header,
    memo: String,
    amount_minor: i64,
) -> Result<NewEntry, TemplateError> {
    if amount_minor <= 0 {
        return Err(TemplateError::NotAShortfall {
            out_of_transit_minor: amount_minor,
            received_minor: amount_minor,
        });
    }
    let postings = vec![
        Posting::debit(
            &role(chart, AccountRole::CollectionBank)?.code,
            amount_minor,
        ),
        Posting::credit(&role(chart, AccountRole::InTransit)?.code, amount_minor),
    ];
    Ok(header.entry(EntryKind::Settlement, memo, postings))
}

#[cfg(test)]
mod tests;

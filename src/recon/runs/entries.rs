//! The settlement entry a run posts for a file whose net reached the collection account: the
//! one place in reconciliation that names ledger accounts. Kept apart so it can be replaced by
//! the ledger's entry templates without touching the run.
//!
//! Depends on: `ledger::model`, `money`.

use chrono::NaiveDate;

use crate::ledger::model::{EntryKind, NewEntry, Posting};
use crate::money::format_minor;

/// The collection account in the ledger.
const COLLECTION_BANK: &str = "1002.01";
/// Card settlements in transit.
const IN_TRANSIT: &str = "1218.01";
/// Fees owed back by the budget fund (interfund receivable).
const FEE_RECEIVABLE: &str = "1218.02";
/// Bank-charge expense (budget fund).
const FEE_EXPENSE: &str = "5001.01";
/// Payable to the collection fund (interfund payable).
const FEE_PAYABLE: &str = "2307.01";

/// The reference a file's settlement entry carries (one entry per file, ever).
pub fn settlement_reference(file_id: &str) -> String {
    format!("settlement:{file_id}")
}

/// DESIGN §2's settlement entry for a file whose net reached the collection account: gross G,
/// fee F, net N — collection Dr 1002.01 N, Dr 1218.02 F / Cr 1218.01 G; budget Dr 5001.01 F /
/// Cr 2307.01 F. 2103 is untouched: revenue stays gross; the fee becomes budget-fund expense
/// through the interfund pair. `None` when the totals cannot be posted as such (a file of only
/// refunds, or fees returned on balance): those stay with the exceptions for a person.
pub fn settlement_entry(
    date: NaiveDate,
    file_id: &str,
    gross: i64,
    fee: i64,
    net: i64,
    actor: &str,
) -> Option<NewEntry> {
    if gross <= 0 || net <= 0 || fee < 0 || gross - fee != net {
        return None;
    }
    let mut postings = vec![
        Posting::debit(COLLECTION_BANK, net),
        Posting::credit(IN_TRANSIT, gross),
    ];
    if fee > 0 {
        postings.push(Posting::debit(FEE_RECEIVABLE, fee));
        postings.push(Posting::debit(FEE_EXPENSE, fee));
        postings.push(Posting::credit(FEE_PAYABLE, fee));
    }
    Some(NewEntry {
        business_date: date,
        kind: EntryKind::Settlement,
        memo: format!(
            "acquirer settlement of file {file_id}: gross {}, fee {}, net {}",
            format_minor(gross),
            format_minor(fee),
            format_minor(net)
        ),
        reference: Some(settlement_reference(file_id)),
        reverses: None,
        actor: actor.to_string(),
        postings,
    })
}

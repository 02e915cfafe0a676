//! Remittance batches as plain values (DESIGN §6): which documents make up a day's payable to
//! the treasury, the remt.001 document of a batch, whether an acknowledgement may post, and the
//! supervision check of §2 rule 6. No I/O.
//!
//! **Which day a movement on 2103 belongs to.** A movement that belongs to a payment (its
//! capture, its void, a refund of it — whenever the refund was approved) belongs to the
//! payment's business day; its document is the payment's receipt. A remittance entry belongs to
//! the day its batch remits. Anything else (an adjustment posted by hand, and its reversal)
//! belongs to the day it is dated; its document is the entry itself. So a day's payable is the
//! sum of its receipts' net amounts by subject, a refund approved later reduces the receipt it
//! refunds rather than some later day's revenue, and after the treasury acknowledges a batch the
//! day's payable is zero.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

use super::remt::{Receipt, RemittanceDoc, SubjectRemittance};
use crate::ledger::days::RemittanceStatus;
use crate::ledger::{AccountRole, Chart, Side};

crate::text_enum! {
    /// What kind of document stands behind a batch's amount (`remittance_documents.kind`).
    #[derive(PartialOrd, Ord)]
    pub enum DocumentKind as "remittance document kind" {
        /// A payment's fiscal receipt.
        Receipt,
        /// A ledger entry that belongs to no payment.
        Entry,
    }
}

/// What a movement on a treasury-payable account belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocumentRef {
    /// A payment's fiscal receipt (`<series>/<number>`).
    Receipt {
        /// Receipt number as printed, e.g. `44030126/0000000001`.
        number: String,
        /// The payment.
        payment_id: String,
    },
    /// A ledger entry that belongs to no payment; a reversal counts under the entry it reverses.
    Entry {
        /// Sequence number of the original entry.
        seq: i64,
    },
}

impl DocumentRef {
    /// How the document is named in the file and the batch.
    pub fn name(&self) -> String {
        match self {
            DocumentRef::Receipt { number, .. } => number.clone(),
            DocumentRef::Entry { seq } => format!("ENTRY-{seq}"),
        }
    }

    /// A receipt or an entry.
    pub fn kind(&self) -> DocumentKind {
        match self {
            DocumentRef::Receipt { .. } => DocumentKind::Receipt,
            DocumentRef::Entry { .. } => DocumentKind::Entry,
        }
    }
}

/// One posting on a treasury-payable account, with the document it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayableMovement {
    /// The account (`2103.<subject>`).
    pub account: String,
    /// What it belongs to.
    pub document: DocumentRef,
    /// Credit raises what is owed, debit lowers it.
    pub side: Side,
    /// Amount in minor units (positive).
    pub amount_minor: i64,
}

/// A document's net amount in one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchDocument {
    /// Receipt number or `ENTRY-<seq>`.
    pub document: String,
    /// A receipt or an entry.
    pub kind: DocumentKind,
    /// The payment behind a receipt.
    pub payment_id: Option<String>,
    /// Net amount owed for it in this subject (minor units, > 0).
    pub amount_minor: i64,
}

/// What a batch remits for one revenue subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchSubject {
    /// Revenue subject code (the last part of the account code).
    pub revenue_subject: String,
    /// The payable sub-account, `2103.<subject>`.
    pub account_code: String,
    /// Its name in the chart.
    pub name: String,
    /// Net amount owed (minor units, > 0); the sum of `documents`.
    pub amount_minor: i64,
    /// The documents behind it, receipts first, in number order.
    pub documents: Vec<BatchDocument>,
}

/// Why a day's payable cannot become a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Nothing is owed for the day (no fees, or every one voided or refunded).
    #[error("nothing is payable to the treasury for {0}")]
    NothingToRemit(NaiveDate),
    /// A document stands below zero: more was taken off it than it brought in.
    #[error("{document} stands at {amount_minor} minor units in {account}: more was refunded or reversed than it brought in")]
    NegativeDocument {
        /// The account.
        account: String,
        /// The document.
        document: String,
        /// Its net amount (negative).
        amount_minor: i64,
    },
    /// A movement is on an account the chart does not call treasury payable.
    #[error("account {0} is not a treasury-payable account of the chart")]
    NotPayable(String),
    /// A sum does not fit 64 bits.
    #[error("the amounts of {0} do not fit in 64 bits")]
    Overflow(String),
}

/// Groups a day's payable movements by subject and document. Documents that net to zero (a
/// voided payment, a fully refunded one) leave the batch; so does a subject that nets to zero.
pub fn breakdown(
    date: NaiveDate,
    movements: &[PayableMovement],
    chart: &Chart,
) -> Result<Vec<BatchSubject>, BatchError> {
    let mut net: BTreeMap<&str, BTreeMap<&DocumentRef, i64>> = BTreeMap::new();
    for m in movements {
        if chart.role_of(&m.account) != AccountRole::TreasuryPayable {
            return Err(BatchError::NotPayable(m.account.clone()));
        }
        let delta = match m.side {
            Side::Credit => m.amount_minor,
            Side::Debit => m.amount_minor.checked_neg().unwrap_or(i64::MIN),
        };
        let slot = net
            .entry(m.account.as_str())
            .or_default()
            .entry(&m.document)
            .or_default();
        *slot = slot
            .checked_add(delta)
            .ok_or_else(|| BatchError::Overflow(m.document.name()))?;
    }
    let mut subjects = Vec::new();
    for (account, documents) in net {
        let mut total: i64 = 0;
        let mut kept = Vec::new();
        for (doc, amount) in documents {
            if amount < 0 {
                return Err(BatchError::NegativeDocument {
                    account: account.to_string(),
                    document: doc.name(),
                    amount_minor: amount,
                });
            }
            if amount == 0 {
                continue;
            }
            total = total
                .checked_add(amount)
                .ok_or_else(|| BatchError::Overflow(account.to_string()))?;
            kept.push(BatchDocument {
                document: doc.name(),
                kind: doc.kind(),
                payment_id: match doc {
                    DocumentRef::Receipt { payment_id, .. } => Some(payment_id.clone()),
                    DocumentRef::Entry { .. } => None,
                },
                amount_minor: amount,
            });
        }
        if total == 0 {
            continue;
        }
        subjects.push(BatchSubject {
            revenue_subject: account.rsplit('.').next().unwrap_or(account).to_string(),
            account_code: account.to_string(),
            name: chart
                .get(account)
                .map_or_else(|| account.to_string(), |a| a.name.clone()),
            amount_minor: total,
            documents: kept,
        });
    }
    if subjects.is_empty() {
        return Err(BatchError::NothingToRemit(date));
    }
    Ok(subjects)
}

/// Whether two breakdowns hold the same subjects and documents, whatever their order.
pub fn same_batch(a: &[BatchSubject], b: &[BatchSubject]) -> bool {
    let key = |s: &[BatchSubject]| {
        let mut rows: Vec<(String, String, i64, String, i64)> = s
            .iter()
            .flat_map(|s| {
                s.documents.iter().map(move |d| {
                    (
                        s.account_code.clone(),
                        s.name.clone(),
                        s.amount_minor,
                        d.document.clone(),
                        d.amount_minor,
                    )
                })
            })
            .collect();
        rows.sort();
        rows
    };
    a.len() == b.len() && key(a) == key(b)
}

/// The batch id of a day's first batch: one live batch per day, so the date names it.
pub fn batch_id(date: NaiveDate) -> String {
    format!("rem_{}", date.format("%Y%m%d"))
}

/// The remt.001 message id of a day's first batch: the centre's receipt series and the date,
/// unique per centre-day (18 characters, within Max35Text).
pub fn message_id(receipt_series: &str, date: NaiveDate) -> String {
    format!("RB{receipt_series}{}", date.format("%Y%m%d"))
}

/// The id and message id of a day's batch when `earlier` batches of the day were cancelled or
/// rejected before it: the first keeps [`batch_id`] and `message_base`, the n-th (n ≥ 2) adds
/// `_n` / `-n`, so a treasury that saw a rejected file never sees its message id again.
pub fn nth_ids(date: NaiveDate, message_base: &str, earlier: i64) -> (String, String) {
    if earlier <= 0 {
        (batch_id(date), message_base.to_string())
    } else {
        let n = earlier + 1;
        (
            format!("{}_{n}", batch_id(date)),
            format!("{message_base}-{n}"),
        )
    }
}

/// The message id a day's batches share before [`nth_ids`] numbers them.
pub fn message_base(message_id: &str) -> &str {
    message_id
        .split_once('-')
        .map_or(message_id, |(base, _)| base)
}

/// Why a batch may not be withdrawn (cancelled or rejected) or is already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawError {
    /// Only a prepared batch can be cancelled.
    #[error("only a prepared batch can be cancelled; this one is {0}")]
    NotPrepared(RemittanceStatus),
    /// Only an approved batch the treasury has not acknowledged can be rejected.
    #[error("only an approved batch that is not acknowledged can be rejected; this one is {0}")]
    NotRejectable(RemittanceStatus),
    /// The reason is empty or longer than 500 characters.
    #[error("reason must be 1–500 characters")]
    BadReason,
}

/// What a withdrawal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// Move the batch to the new status.
    Apply(RemittanceStatus),
    /// Already in that status (the same request again): nothing to do.
    AlreadyDone,
}

/// Decides a cancellation (`to` = cancelled) or a rejection (`to` = rejected) of a batch in
/// `status`: the reason must say something; the same ending again is a no-op; any other status
/// is refused.
pub fn decide_withdrawal(
    status: RemittanceStatus,
    to: RemittanceStatus,
    reason: &str,
) -> Result<Withdrawal, WithdrawError> {
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(WithdrawError::BadReason);
    }
    if status == to {
        return Ok(Withdrawal::AlreadyDone);
    }
    if status.can_become(to) && !to.is_live() {
        return Ok(Withdrawal::Apply(to));
    }
    Err(if to == RemittanceStatus::Cancelled {
        WithdrawError::NotPrepared(status)
    } else {
        WithdrawError::NotRejectable(status)
    })
}

/// Who pays and who receives, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The collecting centre.
    pub centre_name: String,
    /// Its non-tax collection account (the debtor account).
    pub collection_account: String,
    /// The treasury.
    pub treasury_name: String,
    /// The treasury's account (the creditor account).
    pub treasury_account: String,
}

/// The remt.001 document of a batch.
pub fn document(
    message_id: &str,
    date: NaiveDate,
    currency: &str,
    subjects: &[BatchSubject],
    parties: &Parties,
    created_at: DateTime<FixedOffset>,
) -> RemittanceDoc {
    RemittanceDoc {
        message_id: message_id.to_string(),
        created_at,
        business_date: date,
        currency: currency.to_string(),
        debtor_name: parties.centre_name.clone(),
        debtor_account: parties.collection_account.clone(),
        creditor_name: parties.treasury_name.clone(),
        creditor_account: parties.treasury_account.clone(),
        subjects: subjects
            .iter()
            .map(|s| SubjectRemittance {
                revenue_subject: s.revenue_subject.clone(),
                name: s.name.clone(),
                amount_minor: s.amount_minor,
                receipts: s
                    .documents
                    .iter()
                    .map(|d| Receipt {
                        number: d.document.clone(),
                        amount_minor: d.amount_minor,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Where a batch stands, as far as an acknowledgement cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckState {
    /// Not yet approved: the treasury has not been offered it.
    Prepared,
    /// Approved and offered; not yet acknowledged.
    Approved,
    /// Acknowledged with this treasury reference.
    Acknowledged(String),
    /// Rejected by the treasury: it can no longer be acknowledged.
    Rejected,
}

/// What an acknowledgement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckDecision {
    /// Post the remittance entry.
    Post,
    /// The same acknowledgement was made before: nothing to do.
    AlreadyDone,
}

/// Why an acknowledgement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The batch is not approved, so it was never offered.
    #[error("the batch is not approved")]
    NotApproved,
    /// The amount acknowledged is not the batch's.
    #[error("the batch remits {expected} minor units, the acknowledgement says {acknowledged}")]
    AmountMismatch {
        /// The batch amount.
        expected: i64,
        /// The acknowledged amount.
        acknowledged: i64,
    },
    /// The batch was acknowledged under another treasury reference.
    #[error("the batch was already acknowledged with treasury reference '{0}'")]
    OtherReference(String),
    /// The treasury reference is empty or longer than 64 characters.
    #[error("treasury_reference must be 1–64 characters")]
    BadReference,
    /// The treasury rejected the batch; the day is prepared again.
    #[error("the batch was rejected; acknowledge the day's new batch instead")]
    Rejected,
}

/// Decides an acknowledgement: the amount must be the batch's, and a batch is acknowledged once
/// (again with the same reference is a no-op).
pub fn decide_ack(
    state: &AckState,
    batch_amount_minor: i64,
    reference: &str,
    amount_minor: i64,
) -> Result<AckDecision, AckError> {
    if reference.trim().is_empty() || reference.chars().count() > 64 {
        return Err(AckError::BadReference);
    }
    if amount_minor != batch_amount_minor {
        return Err(AckError::AmountMismatch {
            expected: batch_amount_minor,
            acknowledged: amount_minor,
        });
    }
    match state {
        AckState::Prepared => Err(AckError::NotApproved),
        AckState::Rejected => Err(AckError::Rejected),
        AckState::Approved => Ok(AckDecision::Post),
        AckState::Acknowledged(existing) if existing == reference => Ok(AckDecision::AlreadyDone),
        AckState::Acknowledged(existing) => Err(AckError::OtherReference(existing.clone())),
    }
}

/// A day's payable to the treasury and its batch, for the supervision check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPayable {
    /// The business day.
    pub date: NaiveDate,
    /// What is still owed for it: credits less debits on 2103, attributed as this module says.
    pub balance_minor: i64,
    /// Its batch: id and status.
    pub remittance: Option<(String, RemittanceStatus)>,
}

crate::text_enum! {
    /// What the supervision check found wrong with a day.
    pub enum FindingKind as "supervision finding" {
        /// The treasury acknowledged the batch, yet something is still payable for the day.
        BalanceAfterAcknowledgement,
        /// More was taken off the day's payable than it collected.
        NegativeBalance,
        /// Payable for longer than the limit without an acknowledgement.
        NotRemittedInTime,
    }
}

/// One thing the supervision check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// The business day.
    #[schema(value_type = String, example = "2026-11-24")]
    pub business_date: NaiveDate,
    /// `balance_after_acknowledgement`, `negative_balance` or `not_remitted_in_time`.
    #[schema(value_type = String)]
    pub finding: FindingKind,
    /// What is still owed for the day (decimal string).
    pub balance: String,
    /// Its batch, if any.
    pub remittance_id: Option<String>,
    /// The batch's status, if any.
    #[schema(value_type = Option<String>)]
    pub remittance_status: Option<RemittanceStatus>,
    /// Days since the business day.
    pub age_days: i64,
    /// In words.
    pub detail: String,
}

/// §2 rule 6: after acknowledgement a day owes nothing; a day owing something must be remitted
/// (acknowledged by the treasury) within `limit_days` calendar days.
pub fn supervise(days: &[DayPayable], today: NaiveDate, limit_days: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in days {
        let age = (today - d.date).num_days();
        let status = d.remittance.as_ref().map(|(_, s)| *s);
        let balance = crate::money::format_minor(d.balance_minor);
        let (finding, detail) = if d.balance_minor != 0
            && status == Some(RemittanceStatus::Acknowledged)
        {
            (
                FindingKind::BalanceAfterAcknowledgement,
                format!("the treasury acknowledged the batch, yet {balance} is still payable for the day"),
            )
        } else if d.balance_minor < 0 {
            (
                FindingKind::NegativeBalance,
                format!("more was taken off the day's payable than it collected ({balance})"),
            )
        } else if d.balance_minor > 0 && age > limit_days {
            (
                FindingKind::NotRemittedInTime,
                format!(
                    "{balance} collected {age} days ago is not yet acknowledged by the treasury (limit {limit_days} days)"
                ),
            )
        } else {
            continue;
        };
        out.push(Finding {
            business_date: d.date,
            finding,
            balance,
            remittance_id: d.remittance.as_ref().map(|(id, _)| id.clone()),
            remittance_status: status,
            age_days: age,
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chart() -> Chart {
        Chart::default_chart().unwrap_or_else(|e| panic!("default chart: {e}"))
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn payable_accounts() -> Vec<String> {
        chart()
            .accounts()
            .filter(|a| a.role == AccountRole::TreasuryPayable && a.postable)
            .map(|a| a.code.clone())
            .collect()
    }

    fn receipt(n: u32) -> DocumentRef {
        DocumentRef::Receipt {
            number: format!("44030126/{n:010}"),
            payment_id: format!("pay_{n}"),
        }
    }

    fn mv(account: &str, document: DocumentRef, side: Side, amount_minor: i64) -> PayableMovement {
        PayableMovement {
            account: account.to_string(),
            document,
            side,
            amount_minor,
        }
    }

    #[test]
    fn receipts_net_of_voids_and_refunds_make_the_subject() {
        let accounts = payable_accounts();
        let (a, b) = (&accounts[0], &accounts[1]);
        let movements = vec![
            mv(a, receipt(1), Side::Credit, 20_000),
            mv(b, receipt(1), Side::Credit, 5_000),
            mv(a, receipt(2), Side::Credit, 20_000),
            mv(a, receipt(2), Side::Debit, 20_000), // voided
            mv(a, receipt(3), Side::Credit, 10_000),
            mv(a, receipt(3), Side::Debit, 2_500), // partly refunded
        ];
        let subjects = breakdown(date(), &movements, &chart()).unwrap();
        assert_eq!(subjects.len(), 2);
        assert_eq!(subjects[0].account_code, *a);
        assert_eq!(subjects[0].amount_minor, 27_500);
        let docs: Vec<(&str, i64)> = subjects[0]
            .documents
            .iter()
            .map(|d| (d.document.as_str(), d.amount_minor))
            .collect();
        assert_eq!(
            docs,
            [
                ("44030126/0000000001", 20_000),
                ("44030126/0000000003", 7_500)
            ]
        );
        assert_eq!(subjects[1].amount_minor, 5_000);
        assert_eq!(
            subjects[0].revenue_subject,
            a.rsplit('.').next().unwrap().to_string()
        );
    }

    #[test]
    fn a_day_that_nets_to_nothing_is_refused() {
        let a = &payable_accounts()[0];
        let movements = vec![
            mv(a, receipt(1), Side::Credit, 100),
            mv(a, receipt(1), Side::Debit, 100),
        ];
        assert_eq!(
            breakdown(date(), &movements, &chart()),
            Err(BatchError::NothingToRemit(date()))
        );
        assert_eq!(
            breakdown(date(), &[], &chart()),
            Err(BatchError::NothingToRemit(date()))
        );
    }

    #[test]
    fn a_document_below_zero_is_refused_not_hidden() {
        let a = &payable_accounts()[0];
        let movements = vec![
            mv(a, receipt(1), Side::Credit, 100),
            mv(a, receipt(2), Side::Credit, 100),
            mv(a, receipt(1), Side::Debit, 150),
        ];
        let err = breakdown(date(), &movements, &chart()).unwrap_err();
        assert!(matches!(
            err,
            BatchError::NegativeDocument {
                amount_minor: -50,
                ..
            }
        ));
    }

    #[test]
    fn only_payable_accounts_count() {
        let movements = vec![mv("1218.01", receipt(1), Side::Credit, 100)];
        assert_eq!(
            breakdown(date(), &movements, &chart()),
            Err(BatchError::NotPayable("1218.01".into()))
        );
    }

    #[test]
    fn the_batch_becomes_a_schema_shaped_document() {
        let a = &payable_accounts()[0];
        let movements = vec![
            mv(a, receipt(1), Side::Credit, 100),
            mv(a, DocumentRef::Entry { seq: 9 }, Side::Credit, 50),
        ];
        let subjects = breakdown(date(), &movements, &chart()).unwrap();
        assert_eq!(subjects[0].documents[1].document, "ENTRY-9");
        let parties = Parties {
            centre_name: "centre".into(),
            collection_account: "6222000000000001".into(),
            treasury_name: "treasury".into(),
            treasury_account: "27000000000001".into(),
        };
        let at = DateTime::parse_from_rfc3339("2026-11-25T09:00:00+08:00").unwrap();
        let doc = document(
            &message_id("44030126", date()),
            date(),
            "CNY",
            &subjects,
            &parties,
            at,
        );
        assert_eq!(doc.message_id, "RB4403012620261124");
        let xml = String::from_utf8(super::super::remt::write_remt(&doc).unwrap()).unwrap();
        assert!(xml.contains("<Nb>ENTRY-9</Nb>"), "{xml}");
        assert!(xml.contains("<Nb>44030126/0000000001</Nb>"), "{xml}");
    }

    #[test]
    fn the_same_batch_in_another_order_is_the_same() {
        let a = &payable_accounts()[0];
        let movements: Vec<PayableMovement> = [9, 10, 11]
            .into_iter()
            .map(|seq| mv(a, DocumentRef::Entry { seq }, Side::Credit, 100 + seq))
            .chain([mv(a, receipt(1), Side::Credit, 5)])
            .collect();
        let one = breakdown(date(), &movements, &chart()).unwrap();
        let mut other = one.clone();
        other[0].documents.reverse();
        assert!(same_batch(&one, &other));
        other[0].documents[0].amount_minor += 1;
        assert!(!same_batch(&one, &other));
        assert!(!same_batch(&one, &[]));
    }

    #[test]
    fn a_day_prepared_again_gets_new_ids() {
        let base = message_id("44030126", date());
        assert_eq!(
            nth_ids(date(), &base, 0),
            ("rem_20261124".into(), "RB4403012620261124".into())
        );
        let (id, msg) = nth_ids(date(), &base, 2);
        assert_eq!(
            (id.as_str(), msg.as_str()),
            ("rem_20261124_3", "RB4403012620261124-3")
        );
        assert_eq!(message_base(&msg), base);
        assert_eq!(message_base(&base), base);
        assert!(msg.len() <= 35);
    }

    #[test]
    fn withdrawals() {
        use RemittanceStatus::{Acknowledged, Approved, Cancelled, Prepared, Rejected};
        let all = [Prepared, Approved, Acknowledged, Cancelled, Rejected];
        for status in all {
            let cancel = decide_withdrawal(status, Cancelled, "stale");
            let reject = decide_withdrawal(status, Rejected, "wrong subject");
            match status {
                Prepared => assert_eq!(cancel, Ok(Withdrawal::Apply(Cancelled))),
                Cancelled => assert_eq!(cancel, Ok(Withdrawal::AlreadyDone)),
                s => assert_eq!(cancel, Err(WithdrawError::NotPrepared(s))),
            }
            match status {
                Approved => assert_eq!(reject, Ok(Withdrawal::Apply(Rejected))),
                Rejected => assert_eq!(reject, Ok(Withdrawal::AlreadyDone)),
                s => assert_eq!(reject, Err(WithdrawError::NotRejectable(s))),
            }
            assert_eq!(
                decide_withdrawal(status, Rejected, "  "),
                Err(WithdrawError::BadReason)
            );
        }
        assert_eq!(
            decide_withdrawal(Prepared, Cancelled, &"x".repeat(501)),
            Err(WithdrawError::BadReason)
        );
    }

    #[test]
    fn acknowledgements() {
        let approved = AckState::Approved;
        assert_eq!(decide_ack(&approved, 100, "T1", 100), Ok(AckDecision::Post));
        assert_eq!(
            decide_ack(&approved, 100, "T1", 99),
            Err(AckError::AmountMismatch {
                expected: 100,
                acknowledged: 99
            })
        );
        let done = AckState::Acknowledged("T1".into());
        assert_eq!(
            decide_ack(&done, 100, "T1", 100),
            Ok(AckDecision::AlreadyDone)
        );
        assert_eq!(
            decide_ack(&done, 100, "T2", 100),
            Err(AckError::OtherReference("T1".into()))
        );
        assert!(matches!(
            decide_ack(&done, 100, "T1", 101),
            Err(AckError::AmountMismatch { .. })
        ));
        assert_eq!(
            decide_ack(&AckState::Prepared, 100, "T1", 100),
            Err(AckError::NotApproved)
        );
        assert_eq!(
            decide_ack(&AckState::Rejected, 100, "T1", 100),
            Err(AckError::Rejected)
        );
        assert_eq!(
            decide_ack(&approved, 100, " ", 100),
            Err(AckError::BadReference)
        );
        assert_eq!(
            decide_ack(&approved, 100, &"x".repeat(65), 100),
            Err(AckError::BadReference)
        );
    }

    #[test]
    fn supervision_findings() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let day = |d: u32, bal: i64, status: Option<&str>| DayPayable {
            date: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            balance_minor: bal,
            remittance: status.map(|s| (format!("rem_{d}"), s.parse().unwrap())),
        };
        let days = [
            day(20, 0, Some("acknowledged")),   // remitted: fine
            day(21, 100, Some("acknowledged")), // left over after ack
            day(22, 500, None),                 // 8 days old, never remitted
            day(23, 500, Some("approved")),     // 7 days, offered but not acknowledged
            day(28, 500, None),                 // 2 days: within the limit
            day(29, -5, None),                  // below zero
        ];
        let found: Vec<(u32, &str)> = supervise(&days, today, 2)
            .iter()
            .map(|f| (chrono::Datelike::day(&f.business_date), f.finding.into()))
            .collect();
        assert_eq!(
            found,
            [
                (21, "balance_after_acknowledgement"),
                (22, "not_remitted_in_time"),
                (23, "not_remitted_in_time"),
                (29, "negative_balance"),
            ]
        );
    }

    proptest! {
        /// Whatever the movements, the batch is exactly what is owed: every subject is the sum
        /// of its documents, every document positive, and the total equals credits less debits
        /// (when no document is negative).
        #[test]
        fn the_batch_is_exactly_what_is_owed(
            raw in prop::collection::vec((0usize..3, 0u32..20, any::<bool>(), 1i64..1_000_000), 0..200)
        ) {
            let accounts = payable_accounts();
            let movements: Vec<PayableMovement> = raw
                .iter()
                .map(|&(a, doc, credit, amount)| {
                    let document = if doc % 5 == 0 { DocumentRef::Entry { seq: i64::from(doc) } } else { receipt(doc) };
                    mv(&accounts[a % accounts.len()], document, if credit { Side::Credit } else { Side::Debit }, amount)
                })
                .collect();
            let expected: i64 = movements
                .iter()
                .map(|m| if m.side == Side::Credit { m.amount_minor } else { -m.amount_minor })
                .sum();
            match breakdown(date(), &movements, &chart()) {
                Ok(subjects) => {
                    let total: i64 = subjects.iter().map(|s| s.amount_minor).sum();
                    prop_assert_eq!(total, expected);
                    for s in &subjects {
                        prop_assert!(s.amount_minor > 0);
                        prop_assert_eq!(s.amount_minor, s.documents.iter().map(|d| d.amount_minor).sum::<i64>());
                        prop_assert!(s.documents.iter().all(|d| d.amount_minor > 0));
                    }
                }
                Err(BatchError::NothingToRemit(_)) => prop_assert_eq!(expected, 0),
                Err(BatchError::NegativeDocument { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}

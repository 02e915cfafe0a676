//! Plain values of the ledger: funds, accounts, entries, postings. No I/O.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

crate::text_enum! {
    /// The two self-balancing funds of 收支两条线.
    #[derive(PartialOrd, Ord, Hash, Deserialize)]
    #[strum(parse_err_ty = String, parse_err_fn = unknown_fund)]
    pub enum Fund as "fund" {
        /// 收入线: money that belongs to the treasury.
        Collection,
        /// 支出线: the unit's own budget money.
        Budget,
    }
}

crate::text_enum! {
    /// Account classes of government financial accounting.
    #[derive(Hash, Deserialize)]
    pub enum AccountKind as "account kind" {
        /// 资产类.
        Asset,
        /// 负债类.
        Liability,
        /// 净资产类.
        NetAssets,
        /// 收入类.
        Revenue,
        /// 费用类.
        Expense,
    }
}

impl AccountKind {
    /// The side on which the account's balance normally stands.
    pub fn normal_side(self) -> Side {
        match self {
            AccountKind::Asset | AccountKind::Expense => Side::Debit,
            AccountKind::Liability | AccountKind::NetAssets | AccountKind::Revenue => Side::Credit,
        }
    }
}

crate::text_enum! {
    /// Debit or credit.
    #[derive(PartialOrd, Ord, Hash, Deserialize, utoipa::ToSchema)]
    #[strum(parse_err_ty = String, parse_err_fn = unknown_side)]
    pub enum Side as "side" {
        /// 借.
        Debit,
        /// 贷.
        Credit,
    }
}

impl Side {
    /// The other side: what a reversal posts.
    pub fn opposite(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

crate::text_enum! {
    /// What an account is for, as far as the ledger rules care. Set in the chart of accounts.
    #[derive(Hash, Deserialize)]
    pub enum AccountRole as "account role" {
        /// 1218.01 card settlements in transit (collection).
        InTransit,
        /// 1002.01 non-tax collection bank account (collection).
        CollectionBank,
        /// 1218.02 fees owed back by the budget fund: the collection half of the interfund pair.
        InterfundReceivable,
        /// 2103.xx payable to the treasury, one per revenue subject (collection).
        TreasuryPayable,
        /// 1002.02 the unit's basic / zero-balance bank account (budget).
        BudgetBank,
        /// 5001.xx bank-charge expense (budget).
        FeeExpense,
        /// 2307.01 payable to the collection fund: the budget half of the interfund pair.
        InterfundPayable,
        /// 4001 appropriation revenue (budget).
        Appropriation,
        /// 2307.02 refunds payable to payers (collection): what the treasury returned (退库)
        /// until the payer is paid.
        RefundPayable,
        /// Anything else in the chart.
        Other,
    }
}

/// One account of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Code such as `1218.01` or `2103.1030401`.
    pub code: String,
    /// Chinese name as in the chart.
    pub name: String,
    /// English name for the English pages and logs.
    pub name_en: String,
    /// The fund it belongs to; exactly one.
    pub fund: Fund,
    /// Its class, which gives the normal side.
    pub kind: AccountKind,
    /// What the rules treat it as.
    pub role: AccountRole,
    /// Its currency; postings must be in it.
    pub currency: String,
    /// The parent account for sub-accounts (`2103` for `2103.1030401`).
    pub parent: Option<String>,
    /// Parents that only group sub-accounts take no postings.
    pub postable: bool,
}

impl Account {
    /// Normal side from the kind.
    pub fn normal_side(&self) -> Side {
        self.kind.normal_side()
    }

    /// Balance in the normal direction from debit and credit totals.
    pub fn signed_balance(&self, debit_minor: i64, credit_minor: i64) -> i64 {
        match self.normal_side() {
            Side::Debit => debit_minor - credit_minor,
            Side::Credit => credit_minor - debit_minor,
        }
    }
}

crate::text_enum! {
    /// Why an entry exists. Which kinds may do what is part of the rules (revenue stays gross).
    #[derive(Hash, Deserialize, utoipa::ToSchema)]
    #[strum(parse_err_ty = String, parse_err_fn = unknown_entry_kind)]
    pub enum EntryKind as "entry kind" {
        /// Card payment captured: Dr 1218.01 / Cr 2103.subject.
        Capture,
        /// Acquirer settled: gross out of transit, net to the bank, fee to budget expense.
        Settlement,
        /// Budget fund tops up the fee the acquirer deducted.
        FeeTopUp,
        /// Remittance to the treasury: Dr 2103.subject / Cr 1002.01.
        Remittance,
        /// Refund of a fee before remittance.
        Refund,
        /// Reversal of an earlier entry (voids and corrections).
        Reversal,
        /// Appropriation received by the budget fund.
        Appropriation,
        /// A manual adjustment made by a supervisor.
        Adjustment,
        /// A reconciliation difference written off with a second person's approval: out of
        /// transit into what the budget fund owes the collection fund (2103 untouched).
        WriteOff,
        /// The treasury returned remitted revenue (退库): Dr 1002.01 / Cr refunds payable.
        TreasuryReturn,
    }
}

impl EntryKind {
    /// All kinds, for parsing and listings.
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Capture,
        EntryKind::Settlement,
        EntryKind::FeeTopUp,
        EntryKind::Remittance,
        EntryKind::Refund,
        EntryKind::Reversal,
        EntryKind::Appropriation,
        EntryKind::Adjustment,
        EntryKind::WriteOff,
        EntryKind::TreasuryReturn,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Kinds of which at most one entry carries a given reference: a settlement file's entry
    /// (`settlement:<file>`) and a remittance batch's (`rem_<date>`). The database enforces it
    /// with a partial unique index (migration `2026-12-06-000010_posted_once`, which names the
    /// same kinds); a reversal has its own kind, so reversing such an entry does not count.
    pub fn posts_once_per_reference(self) -> bool {
        matches!(self, EntryKind::Settlement | EntryKind::Remittance)
    }
}

impl Fund {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Side {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_fund(s: &str) -> String {
    format!("unknown fund '{s}'")
}

fn unknown_side(s: &str) -> String {
    format!("unknown side '{s}'")
}

fn unknown_entry_kind(s: &str) -> String {
    format!("unknown entry kind '{s}'")
}

/// One line of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Posting {
    /// Account code.
    pub account: String,
    /// Debit or credit.
    pub side: Side,
    /// Strictly positive amount in minor units.
    pub amount_minor: i64,
    /// Must equal the account's currency.
    pub currency: String,
}

impl Posting {
    /// A debit in CNY.
    pub fn debit(account: &str, amount_minor: i64) -> Self {
        Posting {
            account: account.to_string(),
            side: Side::Debit,
            amount_minor,
            currency: crate::money::CNY.to_string(),
        }
    }

    /// A credit in CNY.
    pub fn credit(account: &str, amount_minor: i64) -> Self {
        Posting {
            account: account.to_string(),
            side: Side::Credit,
            amount_minor,
            currency: crate::money::CNY.to_string(),
        }
    }
}

/// An entry as a use case proposes it, before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// The business day it belongs to.
    pub business_date: NaiveDate,
    /// Why it exists.
    pub kind: EntryKind,
    /// Free text for people.
    pub memo: String,
    /// The source document (payment id, settlement file, remittance batch), if any.
    pub reference: Option<String>,
    /// For a reversal: the sequence number of the entry it reverses.
    pub reverses: Option<i64>,
    /// Who caused it (token name, `cli`, `nightly`).
    pub actor: String,
    /// The lines; at least two.
    pub postings: Vec<Posting>,
}

/// An entry as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostedEntry {
    /// Position in the chain, from 1, gap-free; also the entry's id.
    pub seq: i64,
    /// What was posted.
    pub entry: NewEntry,
    /// Commit time (UTC, microsecond precision).
    pub created_at: NaiveDateTime,
    /// Hash of the previous entry (32 zero bytes for the first).
    pub prev_hash: [u8; 32],
    /// SHA-256(prev_hash ‖ canonical bytes).
    pub hash: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored text (strum) and the JSON text (serde) of every closed set are the same words.
    #[test]
    fn stored_names_are_the_json_names() {
        fn same<T: Serialize + AsRef<str> + std::str::FromStr + PartialEq + std::fmt::Debug>(
            all: &[T],
        ) {
            for v in all {
                let json = serde_json::to_value(v).unwrap_or_default();
                assert_eq!(json.as_str(), Some(v.as_ref()), "{v:?}");
                assert_eq!(v.as_ref().parse::<T>().ok().as_ref(), Some(v), "{v:?}");
            }
        }
        same(&EntryKind::ALL);
        same(&[Fund::Collection, Fund::Budget]);
        same(&[Side::Debit, Side::Credit]);
        same(&[
            AccountKind::Asset,
            AccountKind::Liability,
            AccountKind::NetAssets,
            AccountKind::Revenue,
            AccountKind::Expense,
        ]);
        same(&[
            AccountRole::InTransit,
            AccountRole::CollectionBank,
            AccountRole::InterfundReceivable,
            AccountRole::TreasuryPayable,
            AccountRole::BudgetBank,
            AccountRole::FeeExpense,
            AccountRole::InterfundPayable,
            AccountRole::Appropriation,
            AccountRole::RefundPayable,
            AccountRole::Other,
        ]);
        assert_eq!("fee_top_up".parse::<EntryKind>(), Ok(EntryKind::FeeTopUp));
        assert_eq!(
            "nonsense".parse::<EntryKind>(),
            Err("unknown entry kind 'nonsense'".to_string())
        );
    }
}

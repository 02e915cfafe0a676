//! The chart of accounts: data (a JSON file in `fixtures/`), checked once when loaded.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::model::{Account, AccountKind, AccountRole, Fund};

/// The default chart shipped with onecard.
pub const DEFAULT_CHART_JSON: &str = include_str!("../../fixtures/chart-of-accounts.json");

/// Why a chart file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// Not valid JSON of the expected shape.
    #[error("chart of accounts is not valid: {0}")]
    Parse(String),
    /// A structural rule of the chart is broken.
    #[error("chart of accounts: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartFile {
    accounts: Vec<ChartFileAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartFileAccount {
    code: String,
    name: String,
    name_en: String,
    fund: Fund,
    kind: AccountKind,
    #[serde(default = "other_role")]
    role: AccountRole,
    #[serde(default = "cny")]
    currency: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default = "yes")]
    postable: bool,
    /// Set on a grouping account that takes sub-accounts opened while the service runs
    /// (`POST /v1/ledger/accounts`): the role each of them gets.
    #[serde(default)]
    sub_accounts: Option<AccountRole>,
}

fn other_role() -> AccountRole {
    AccountRole::Other
}
fn cny() -> String {
    crate::money::CNY.to_string()
}
fn yes() -> bool {
    true
}

/// Refuses a role in a fund it does not belong to.
fn check_role_fund(code: &str, role: AccountRole, fund: Fund) -> Result<(), ChartError> {
    let expected_fund = match role {
        AccountRole::InTransit
        | AccountRole::CollectionBank
        | AccountRole::InterfundReceivable
        | AccountRole::TreasuryPayable
        | AccountRole::RefundPayable => Some(Fund::Collection),
        AccountRole::BudgetBank
        | AccountRole::FeeExpense
        | AccountRole::InterfundPayable
        | AccountRole::Appropriation => Some(Fund::Budget),
        AccountRole::Other => None,
    };
    if expected_fund.is_some_and(|f| f != fund) {
        return Err(ChartError::Invalid(format!(
            "account '{code}' has role {role:?} but is in the {} fund",
            fund.as_str()
        )));
    }
    Ok(())
}

/// A checked chart of accounts, looked up by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    accounts: BTreeMap<String, Account>,
    /// Grouping accounts that take new sub-accounts, and the role those get.
    sub_accounts: BTreeMap<String, AccountRole>,
}

impl Chart {
    /// Parses and checks a chart file.
    pub fn from_json(text: &str) -> Result<Chart, ChartError> {
        let file: ChartFile =
            serde_json::from_str(text).map_err(|e| ChartError::Parse(e.to_string()))?;
        let sub_accounts: BTreeMap<String, AccountRole> = file
            .accounts
            .iter()
            .filter_map(|a| a.sub_accounts.map(|role| (a.code.clone(), role)))
            .collect();
        let accounts = file
            .accounts
            .into_iter()
            .map(|a| Account {
                code: a.code,
                name: a.name,
                name_en: a.name_en,
                fund: a.fund,
                kind: a.kind,
                role: a.role,
                currency: a.currency,
                parent: a.parent,
                postable: a.postable,
            })
            .collect();
        Chart::new(accounts)?.taking_sub_accounts(sub_accounts)
    }

    /// The same chart with `rules` naming the grouping accounts that take new sub-accounts and
    /// the role each new one gets; a rule on an unknown or postable account is refused.
    fn taking_sub_accounts(
        mut self,
        rules: BTreeMap<String, AccountRole>,
    ) -> Result<Chart, ChartError> {
        for (code, role) in &rules {
            let Some(parent) = self.accounts.get(code) else {
                return Err(ChartError::Invalid(format!(
                    "sub-account rule on unknown account '{code}'"
                )));
            };
            if parent.postable {
                return Err(ChartError::Invalid(format!(
                    "'{code}' takes postings, so it cannot take sub-accounts"
                )));
            }
            check_role_fund(code, *role, parent.fund)?;
        }
        self.sub_accounts = rules;
        Ok(self)
    }

    /// This chart with `more` accounts added (sub-accounts opened while the service ran, read
    /// back from the database), checked as a whole again; the sub-account rules stay.
    pub fn with_accounts(&self, more: Vec<Account>) -> Result<Chart, ChartError> {
        let mut all: Vec<Account> = self.accounts.values().cloned().collect();
        all.extend(more);
        Chart::new(all)?.taking_sub_accounts(self.sub_accounts.clone())
    }

    /// The role a new sub-account of `parent` gets, if `parent` takes new sub-accounts.
    pub fn sub_account_role(&self, parent: &str) -> Option<AccountRole> {
        self.sub_accounts.get(parent).copied()
    }

    /// How many accounts the chart has.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether the chart has no account (never, once checked: the interfund pair is required).
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The default chart in `fixtures/chart-of-accounts.json`.
    pub fn default_chart() -> Result<Chart, ChartError> {
        Chart::from_json(DEFAULT_CHART_JSON)
    }

    /// Checks a list of accounts: unique codes, parents that exist in the same fund and take no
    /// postings, roles in the fund they belong to, exactly one account on each side of the
    /// interfund pair.
    pub fn new(list: Vec<Account>) -> Result<Chart, ChartError> {
        let invalid = |m: String| Err(ChartError::Invalid(m));
        let mut accounts = BTreeMap::new();
        for a in list {
            if a.code.is_empty()
                || a.code.len() > 32
                || !a
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.')
            {
                return invalid(format!(
                    "account code '{}' must be 1–32 of [0-9A-Za-z.]",
                    a.code
                ));
            }
            if let Some(dup) = accounts.insert(a.code.clone(), a) {
                return invalid(format!("account '{}' appears twice", dup.code));
            }
        }
        for a in accounts.values() {
            if let Some(parent) = &a.parent {
                match accounts.get(parent) {
                    None => {
                        return invalid(format!(
                            "account '{}' names unknown parent '{parent}'",
                            a.code
                        ))
                    }
                    Some(p) if p.postable => {
                        return invalid(format!(
                            "parent '{parent}' of '{}' must not be postable",
                            a.code
                        ))
                    }
                    Some(p) if p.fund != a.fund => {
                        return invalid(format!(
                            "'{}' and its parent '{parent}' are in different funds",
                            a.code
                        ))
                    }
                    Some(_) => {}
                }
            }
            check_role_fund(&a.code, a.role, a.fund)?;
        }
        for role in [
            AccountRole::InterfundReceivable,
            AccountRole::InterfundPayable,
        ] {
            let n = accounts
                .values()
                .filter(|a| a.role == role && a.postable)
                .count();
            if n != 1 {
                return invalid(format!(
                    "exactly one postable account must have role {role:?}, found {n}"
                ));
            }
        }
        Ok(Chart {
            accounts,
            sub_accounts: BTreeMap::new(),
        })
    }

    /// Looks an account up by code.
    pub fn get(&self, code: &str) -> Option<&Account> {
        self.accounts.get(code)
    }

    /// All accounts in code order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// The fund of a known account (callers check existence first; unknown codes count as
    /// collection, the stricter side).
    pub fn fund_of(&self, code: &str) -> Fund {
        self.get(code).map_or(Fund::Collection, |a| a.fund)
    }

    /// The role of an account, `Other` for unknown codes.
    pub fn role_of(&self, code: &str) -> AccountRole {
        self.get(code).map_or(AccountRole::Other, |a| a.role)
    }

    /// The first postable account with a role (the single ones: in transit, collection bank…).
    pub fn account_with_role(&self, role: AccountRole) -> Option<&Account> {
        self.accounts
            .values()
            .find(|a| a.role == role && a.postable)
    }

    /// The treasury-payable sub-account for a revenue subject: `2103.<subject>`.
    pub fn treasury_payable_for(&self, revenue_subject: &str) -> Option<&Account> {
        self.accounts.values().find(|a| {
            a.role == AccountRole::TreasuryPayable
                && a.postable
                && a.code.rsplit('.').next() == Some(revenue_subject)
        })
    }
}

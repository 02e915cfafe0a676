//! The rules of DESIGN §2, checked by a pure function before anything is written.
//!
//! [`validate`] takes the chart, the proposed entry and the few facts of ledger state a rule
//! needs ([`RuleContext`]) and either accepts the entry or names the rule it breaks. The writer
//! calls it inside the batch transaction with state read under the chain-head lock, so what it
//! decided still holds when the entry commits.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::chart::Chart;
use super::model::{AccountKind, AccountRole, EntryKind, Fund, NewEntry, Posting, Side};
use crate::money::{format_minor, MAX_AMOUNT_MINOR};

/// Most postings one entry may carry (a remittance has one per revenue subject plus one).
pub const MAX_POSTINGS: usize = 1000;
/// Longest memo, in characters.
pub const MAX_MEMO_CHARS: usize = 500;

/// Which way value would cross between the funds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Revenue leaving the collection fund for the budget fund: 坐支, never allowed.
    CollectionToBudget,
    /// Budget money reaching the collection fund other than through the interfund pair.
    BudgetToCollection,
}

impl std::fmt::Display for Crossing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Crossing::CollectionToBudget => "collection → budget (坐支, spending revenue)",
            Crossing::BudgetToCollection => "budget → collection outside the interfund pair",
        })
    }
}

/// A broken ledger rule. Each variant maps to one stable API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Fewer than two postings.
    #[error("an entry needs at least two postings")]
    TooFewPostings,
    /// More than [`MAX_POSTINGS`].
    #[error("an entry may have at most {MAX_POSTINGS} postings, this one has {0}")]
    TooManyPostings(usize),
    /// Memo too long or actor missing.
    #[error("{0}")]
    InvalidEntry(String),
    /// A zero, negative or absurd amount.
    #[error("posting {line}: amount must be between 0.01 and {max}", max = format_minor(MAX_AMOUNT_MINOR))]
    BadAmount {
        /// 1-based posting number.
        line: usize,
    },
    /// The account is not in the chart.
    #[error("posting {line}: unknown account '{code}'")]
    UnknownAccount {
        /// 1-based posting number.
        line: usize,
        /// The code given.
        code: String,
    },
    /// A grouping account that takes no postings.
    #[error("posting {line}: account '{code}' only groups sub-accounts and takes no postings")]
    NotPostable {
        /// 1-based posting number.
        line: usize,
        /// The code given.
        code: String,
    },
    /// Posting currency differs from the account's.
    #[error("posting {line}: account '{code}' is kept in {expected}, not {got}")]
    CurrencyMismatch {
        /// 1-based posting number.
        line: usize,
        /// Account code.
        code: String,
        /// The account's currency.
        expected: String,
        /// The posting's currency.
        got: String,
    },
    /// Rule 4: the business day is closed.
    #[error("business day {0} is closed and accepts no entries")]
    DayClosed(NaiveDate),
    /// Rule 1: debits and credits differ within one fund.
    #[error("the {fund} fund does not balance in {currency}: debits {debit}, credits {credit}", fund = fund.as_str(), debit = format_minor(*debit_minor), credit = format_minor(*credit_minor))]
    Unbalanced {
        /// The fund that does not balance.
        fund: Fund,
        /// Currency.
        currency: String,
        /// Sum of its debits.
        debit_minor: i64,
        /// Sum of its credits.
        credit_minor: i64,
    },
    /// Rule 2: value would cross between the funds other than budget → collection through
    /// the interfund pair.
    #[error("value may not cross {direction}: {detail}")]
    FundCrossing {
        /// Which way.
        direction: Crossing,
        /// What exactly was seen.
        detail: String,
    },
    /// Rule 3: revenue payable to the treasury reduced by an entry that is not a refund,
    /// remittance or reversal (netting fees against revenue).
    #[error("posting {line}: a {kind} entry may not debit treasury payable '{account}': revenue is booked gross")]
    RevenueNetting {
        /// 1-based posting number.
        line: usize,
        /// The 2103 sub-account.
        account: String,
        /// The entry kind that tried.
        kind: EntryKind,
    },
    /// `kind` is `reversal` without `reverses`, or the other way round.
    #[error("a reversal entry must name the entry it reverses, and only a reversal may")]
    ReversalShape,
    /// The reversal's postings are not the original's with sides swapped.
    #[error(
        "a reversal must post exactly the postings of entry {0} with debit and credit swapped"
    )]
    ReversalMismatch(i64),
    /// The entry to reverse does not exist.
    #[error("entry {0} does not exist")]
    UnknownEntry(i64),
    /// The entry was reversed already (or is itself a reversal target twice).
    #[error("entry {0} has already been reversed")]
    AlreadyReversed(i64),
}

/// The facts of ledger state the rules need, read by the caller under the chain-head lock.
#[derive(Debug, Clone, Default)]
pub struct RuleContext<'a> {
    /// Is the entry's business day closed?
    pub day_closed: bool,
    /// For a reversal: the original entry's postings, when it exists and is not yet reversed.
    pub original_postings: Option<&'a [Posting]>,
    /// Current balance (debit − credit) of the collection fund's interfund receivable: what the
    /// budget fund owes the collection fund. Never allowed below zero.
    pub interfund_receivable_minor: i64,
}

/// What an accepted entry does, for the writer's running state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Net change (debit − credit) of the interfund receivable.
    pub interfund_delta_minor: i64,
}

/// Checks every rule of DESIGN §2 that can be decided from the entry and `ctx`.
///
/// Accepts an entry only if it balances within each fund and currency, moves value between the
/// funds only budget → collection through the interfund pair, keeps revenue gross, is not dated
/// in a closed day, and — for a reversal — mirrors its original exactly.
pub fn validate(
    chart: &Chart,
    entry: &NewEntry,
    ctx: &RuleContext<'_>,
) -> Result<Accepted, LedgerError> {
    check_shape(entry)?;
    let mut funds_touched = [false; 2];
    for (i, p) in entry.postings.iter().enumerate() {
        let line = i + 1;
        if p.amount_minor <= 0 || p.amount_minor > MAX_AMOUNT_MINOR {
            return Err(LedgerError::BadAmount { line });
        }
        let account = chart
            .get(&p.account)
            .ok_or_else(|| LedgerError::UnknownAccount {
                line,
                code: p.account.clone(),
            })?;
        if !account.postable {
            return Err(LedgerError::NotPostable {
                line,
                code: p.account.clone(),
            });
        }
        if account.currency != p.currency {
            return Err(LedgerError::CurrencyMismatch {
                line,
                code: p.account.clone(),
                expected: account.currency.clone(),
                got: p.currency.clone(),
            });
        }
        funds_touched[fund_index(account.fund)] = true;
    }
    if ctx.day_closed {
        return Err(LedgerError::DayClosed(entry.business_date));
    }
    let is_reversal = check_reversal(entry, ctx)?;
    check_fund_balance(chart, entry)?;
    let interfund_delta_minor = check_interfund_pair(chart, entry)?;
    let cross_fund = funds_touched[0] && funds_touched[1];
    if cross_fund && !is_reversal {
        check_cross_fund_direction(chart, entry)?;
    }
    if ctx.interfund_receivable_minor + interfund_delta_minor < 0 {
        return Err(LedgerError::FundCrossing {
            direction: Crossing::CollectionToBudget,
            detail: format!(
                "the budget fund owes the collection fund {}, this entry would take {} off it and leave revenue owed to the budget fund",
                format_minor(ctx.interfund_receivable_minor),
                format_minor(-interfund_delta_minor)
            ),
        });
    }
    if !is_reversal {
        check_gross_revenue(chart, entry)?;
    }
    Ok(Accepted {
        interfund_delta_minor,
    })
}

fn fund_index(fund: Fund) -> usize {
    match fund {
        Fund::Collection => 0,
        Fund::Budget => 1,
    }
}

fn check_shape(entry: &NewEntry) -> Result<(), LedgerError> {
    if entry.postings.len() < 2 {
        return Err(LedgerError::TooFewPostings);
    }
    if entry.postings.len() > MAX_POSTINGS {
        return Err(LedgerError::TooManyPostings(entry.postings.len()));
    }
    if entry.memo.chars().count() > MAX_MEMO_CHARS {
        return Err(LedgerError::InvalidEntry(format!(
            "memo is longer than {MAX_MEMO_CHARS} characters"
        )));
    }
    if entry.actor.trim().is_empty() {
        return Err(LedgerError::InvalidEntry(
            "every entry names who made it".into(),
        ));
    }
    Ok(())
}

/// Returns whether this is a (well-formed) reversal.
fn check_reversal(entry: &NewEntry, ctx: &RuleContext<'_>) -> Result<bool, LedgerError> {
    match (entry.kind, entry.reverses) {
        (EntryKind::Reversal, Some(original_seq)) => {
            let original = ctx
                .original_postings
                .ok_or(LedgerError::UnknownEntry(original_seq))?;
            let mirrors = original.len() == entry.postings.len()
                && original.iter().zip(&entry.postings).all(|(o, r)| {
                    o.account == r.account
                        && o.amount_minor == r.amount_minor
                        && o.currency == r.currency
                        && o.side.opposite() == r.side
                });
            if mirrors {
                Ok(true)
            } else {
                Err(LedgerError::ReversalMismatch(original_seq))
            }
        }
        (EntryKind::Reversal, None) | (_, Some(_)) => Err(LedgerError::ReversalShape),
        (_, None) => Ok(false),
    }
}

/// Rule 1, and the first half of rule 2: every fund balances by itself in every currency.
/// Also used by the verifier to recheck stored entries.
pub fn check_fund_balance(chart: &Chart, entry: &NewEntry) -> Result<(), LedgerError> {
    // (currency, fund) → (debits, credits); i128 so no sum of i64 amounts can overflow.
    let mut sums: BTreeMap<(&str, Fund), (i128, i128)> = BTreeMap::new();
    for p in &entry.postings {
        let fund = chart.fund_of(&p.account);
        let slot = sums.entry((p.currency.as_str(), fund)).or_default();
        match p.side {
            Side::Debit => slot.0 += i128::from(p.amount_minor),
            Side::Credit => slot.1 += i128::from(p.amount_minor),
        }
    }
    let currencies: Vec<&str> = {
        let mut c: Vec<&str> = sums.keys().map(|(c, _)| *c).collect();
        c.dedup();
        c
    };
    for currency in currencies {
        // A fund with no postings in this currency has zero sums.
        let (cd, cc) = sums
            .get(&(currency, Fund::Collection))
            .copied()
            .unwrap_or_default();
        let (bd, bc) = sums
            .get(&(currency, Fund::Budget))
            .copied()
            .unwrap_or_default();
        if cd == cc && bd == bc {
            continue;
        }
        if cd + bd == cc + bc {
            // The entry balances as a whole but not per fund: value moves between the funds.
            let (direction, from, to) = if cc > cd {
                (Crossing::CollectionToBudget, Fund::Collection, Fund::Budget)
            } else {
                (Crossing::BudgetToCollection, Fund::Budget, Fund::Collection)
            };
            return Err(LedgerError::FundCrossing {
                direction,
                detail: format!(
                    "{} would pass from the {from} fund to the {to} fund; each fund must balance by itself",
                    format_minor(clamp((cc - cd).abs())),
                ),
            });
        }
        let (fund, d, c) = if cd != cc {
            (Fund::Collection, cd, cc)
        } else {
            (Fund::Budget, bd, bc)
        };
        return Err(LedgerError::Unbalanced {
            fund,
            currency: currency.to_string(),
            debit_minor: clamp(d),
            credit_minor: clamp(c),
        });
    }
    Ok(())
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Second half of rule 2: the two halves of the interfund pair move together, by the same
/// amount, in the same entry. Returns the net change (debit − credit) of the receivable.
fn check_interfund_pair(chart: &Chart, entry: &NewEntry) -> Result<i64, LedgerError> {
    let mut receivable: i128 = 0; // debit − credit on the collection side
    let mut payable: i128 = 0; // credit − debit on the budget side
    for p in &entry.postings {
        let signed = match p.side {
            Side::Debit => i128::from(p.amount_minor),
            Side::Credit => -i128::from(p.amount_minor),
        };
        match chart.role_of(&p.account) {
            AccountRole::InterfundReceivable => receivable += signed,
            AccountRole::InterfundPayable => payable -= signed,
            _ => {}
        }
    }
    if receivable != payable {
        return Err(LedgerError::FundCrossing {
            direction: if receivable < payable {
                Crossing::CollectionToBudget
            } else {
                Crossing::BudgetToCollection
            },
            detail: format!(
                "the interfund receivable moves by {} but the interfund payable by {}; the pair must move together",
                format_minor(clamp(receivable)),
                format_minor(clamp(payable))
            ),
        });
    }
    Ok(clamp(receivable))
}

/// In an entry that touches both funds, the budget fund may not gain an asset and the
/// collection fund may not pay out of its bank account: either would hand revenue to the
/// budget side, even with a matching interfund receivable (a "loan" from revenue is 坐支 too).
fn check_cross_fund_direction(chart: &Chart, entry: &NewEntry) -> Result<(), LedgerError> {
    for (i, p) in entry.postings.iter().enumerate() {
        let Some(account) = chart.get(&p.account) else {
            continue;
        };
        let gains_budget_asset = account.fund == Fund::Budget
            && account.kind == AccountKind::Asset
            && p.side == Side::Debit;
        let pays_out_revenue =
            account.role == AccountRole::CollectionBank && p.side == Side::Credit;
        if gains_budget_asset || pays_out_revenue {
            return Err(LedgerError::FundCrossing {
                direction: Crossing::CollectionToBudget,
                detail: format!(
                    "posting {}: {} {} {} in an entry that spans both funds would pass revenue to the budget fund",
                    i + 1,
                    p.side.as_str(),
                    p.account,
                    format_minor(p.amount_minor)
                ),
            });
        }
    }
    Ok(())
}

/// Rule 3: only refunds, remittances and reversals may reduce what is owed to the treasury.
fn check_gross_revenue(chart: &Chart, entry: &NewEntry) -> Result<(), LedgerError> {
    if matches!(entry.kind, EntryKind::Refund | EntryKind::Remittance) {
        return Ok(());
    }
    for (i, p) in entry.postings.iter().enumerate() {
        if p.side == Side::Debit && chart.role_of(&p.account) == AccountRole::TreasuryPayable {
            return Err(LedgerError::RevenueNetting {
                line: i + 1,
                account: p.account.clone(),
                kind: entry.kind,
            });
        }
    }
    Ok(())
}

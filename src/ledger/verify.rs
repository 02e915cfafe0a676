//! The verifier: recomputes the hash chain from the first entry to the head, and every account
//! balance and per-day total from the postings, and compares them with what is stored; and for
//! every closed day, the entries dated in it and the last one's hash as the chain has them
//! against the day's seal, whose signature it checks with the published key its key id names
//! ([`super::seals`]).
//!
//! May depend on: `db`; reads through [`super::repo`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::chain;
use super::chart::Chart;
use super::model::Side;
use super::repo::{chain_head, load_entries};
use super::seals::{self, DayTail, PublishedKeys, StoredSeal};
use crate::db::schema::{account_balances, account_day_totals, business_days, signing_keys};
use crate::db::{DbConn, DbError};

/// What the verifier found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// True when the chain and every balance agree.
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// The chain head's hash, lowercase hex.
    pub head: String,
    /// The first entry that disagrees, if any.
    pub first_bad_entry: Option<i64>,
    /// Closed days whose seal was checked.
    pub seals_checked: i64,
    /// The first (earliest) sealed day that disagrees, if any.
    pub first_bad_day: Option<NaiveDate>,
    /// What disagrees, in words.
    pub problems: Vec<String>,
}

/// Entries loaded per round trip by the verifier.
const VERIFY_CHUNK: i64 = 20_000;
/// Problems listed at most.
const MAX_PROBLEMS: usize = 50;

/// What disagrees so far: the first bad entry and up to [`MAX_PROBLEMS`] problems in words.
#[derive(Default)]
struct Findings {
    first_bad: Option<i64>,
    problems: Vec<String>,
}

impl Findings {
    fn note(&mut self, seq: Option<i64>, msg: String) {
        if self.first_bad.is_none() {
            self.first_bad = seq;
        }
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(msg);
        }
    }
}

/// (debit, credit) per account, and per account and day, as recomputed from the postings.
type Totals = BTreeMap<String, (i64, i64)>;
type DayTotals = BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>>;

/// The walk along the chain: where it is, and what it has summed.
struct Walk {
    prev: [u8; 32],
    expected_seq: i64,
    totals: Totals,
    day_totals: DayTotals,
    /// Per business date: entries dated in it and the last one's hash.
    day_tails: BTreeMap<NaiveDate, DayTail>,
    canonical: Vec<u8>,
}

impl Walk {
    /// Checks one entry against its link, its hash and the fund rule, and adds its postings.
    fn step(&mut self, chart: &Chart, e: &super::model::PostedEntry, found: &mut Findings) {
        let expected_seq = self.expected_seq;
        if e.seq != expected_seq {
            found.note(
                Some(expected_seq),
                format!(
                    "entry {expected_seq} is missing (next stored entry is {})",
                    e.seq
                ),
            );
        }
        if e.prev_hash != self.prev {
            found.note(
                Some(e.seq),
                format!(
                    "entry {}: previous-hash link does not match entry {}",
                    e.seq,
                    e.seq - 1
                ),
            );
        }
        chain::canonical_bytes_into(&mut self.canonical, e.seq, &e.entry, &e.created_at);
        if chain::chain_hash(&self.prev, &self.canonical) != e.hash {
            found.note(
                Some(e.seq),
                format!(
                    "entry {}: content does not match its hash (altered after it was written)",
                    e.seq
                ),
            );
        }
        if let Err(err) = super::rules::check_fund_balance(chart, &e.entry) {
            found.note(Some(e.seq), format!("entry {}: {err}", e.seq));
        }
        for p in &e.entry.postings {
            let (d, c) = match p.side {
                Side::Debit => (p.amount_minor, 0),
                Side::Credit => (0, p.amount_minor),
            };
            // Looked up by &str first, so only an account's first posting allocates a key.
            match self.totals.get_mut(p.account.as_str()) {
                Some(t) => {
                    t.0 += d;
                    t.1 += c;
                }
                None => {
                    self.totals.insert(p.account.clone(), (d, c));
                }
            }
            let days = match self.day_totals.get_mut(p.account.as_str()) {
                Some(days) => days,
                None => self.day_totals.entry(p.account.clone()).or_default(),
            };
            let dt = days.entry(e.entry.business_date).or_default();
            dt.0 += d;
            dt.1 += c;
        }
        let tail = self
            .day_tails
            .entry(e.entry.business_date)
            .or_insert(DayTail {
                entries: 0,
                last_hash: chain::GENESIS_HASH,
            });
        tail.entries += 1;
        tail.last_hash = e.hash;
        self.prev = e.hash;
        self.expected_seq = e.seq + 1;
    }
}

/// Recomputes the hash chain from the first entry to the head and every account balance from
/// the postings, and compares them with what is stored. Reads in chunks, so memory stays flat.
pub fn verify(
    conn: &mut DbConn,
    chart: &Chart,
    mut progress: impl FnMut(i64, i64),
) -> Result<VerifyReport, DbError> {
    let (head_seq, head_hash) = chain_head(conn)?;
    let mut found = Findings::default();
    let mut walk = Walk {
        prev: chain::GENESIS_HASH,
        expected_seq: 1,
        totals: BTreeMap::new(),
        day_totals: BTreeMap::new(),
        day_tails: BTreeMap::new(),
        canonical: Vec::with_capacity(512),
    };
    let mut after = 0;
    loop {
        let chunk = load_entries(conn, after, i64::MAX, VERIFY_CHUNK)?;
        let Some(last) = chunk.last().map(|e| e.seq) else {
            break;
        };
        for e in &chunk {
            walk.step(chart, e, &mut found);
        }
        after = last;
        progress(last, head_seq);
    }
    let checked = walk.expected_seq - 1;
    if checked != head_seq || walk.prev != head_hash {
        found.note(
            Some(checked.min(head_seq) + 1),
            format!("chain head says entry {head_seq}, the entries end at {checked}"),
        );
    }
    compare_balances(conn, &walk.totals, &mut found)?;
    compare_day_totals(conn, walk.day_totals, &mut found)?;
    let (seals_checked, bad_days) =
        seals::check_seals(&sealed_days(conn)?, &walk.day_tails, &published_keys(conn)?);
    let first_bad_day = bad_days.first().map(|p| p.date);
    for p in bad_days {
        found.note(None, format!("day {}: {}", p.date, p.what));
    }
    Ok(VerifyReport {
        ok: found.problems.is_empty(),
        entries: checked,
        head: hex::encode(head_hash),
        first_bad_entry: found.first_bad,
        seals_checked,
        first_bad_day,
        problems: found.problems,
    })
}

/// Every closed day's seal as stored.
fn sealed_days(conn: &mut DbConn) -> Result<Vec<StoredSeal>, DbError> {
    type Row = (
        NaiveDate,
        Option<i64>,
        Option<Vec<u8>>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = business_days::table
        .filter(business_days::status.eq(super::days::DayStatus::Closed.as_ref()))
        .select((
            business_days::business_date,
            business_days::entries,
            business_days::last_entry_hash,
            business_days::seal,
            business_days::seal_kid,
        ))
        .order(business_days::business_date)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(date, entries, last_entry_hash, seal, kid)| StoredSeal {
            date,
            entries,
            last_entry_hash,
            seal,
            kid,
        })
        .collect())
}

/// The published signing keys, and the first one (it made the seals stored without a key id).
fn published_keys(conn: &mut DbConn) -> Result<PublishedKeys, DbError> {
    let rows: Vec<(String, Vec<u8>)> = signing_keys::table
        .order((signing_keys::valid_from, signing_keys::kid))
        .select((signing_keys::kid, signing_keys::public_key))
        .load(conn)?;
    Ok(PublishedKeys {
        legacy_kid: rows.first().map(|(kid, _)| kid.clone()),
        by_kid: rows.into_iter().collect(),
    })
}

/// The maintained balance of every account against the postings' sums.
fn compare_balances(
    conn: &mut DbConn,
    totals: &Totals,
    found: &mut Findings,
) -> Result<(), DbError> {
    let stored: Vec<(String, i64, i64)> = account_balances::table
        .select((
            account_balances::account_code,
            account_balances::debit_minor,
            account_balances::credit_minor,
        ))
        .load(conn)?;
    let stored: Totals = stored.into_iter().map(|(c, d, k)| (c, (d, k))).collect();
    let codes: std::collections::BTreeSet<&String> = stored.keys().chain(totals.keys()).collect();
    for code in codes {
        let s = stored.get(code).copied().unwrap_or((0, 0));
        let r = totals.get(code).copied().unwrap_or((0, 0));
        if s != r {
            found.note(None, format!("account {code}: maintained balance debit {} / credit {} but postings sum to {} / {}", s.0, s.1, r.0, r.1));
        }
    }
    Ok(())
}

/// The maintained per-day totals against the postings' sums.
fn compare_day_totals(
    conn: &mut DbConn,
    day_totals: DayTotals,
    found: &mut Findings,
) -> Result<(), DbError> {
    let stored_days: Vec<(String, NaiveDate, i64, i64)> = account_day_totals::table
        .select((
            account_day_totals::account_code,
            account_day_totals::business_date,
            account_day_totals::debit_minor,
            account_day_totals::credit_minor,
        ))
        .load(conn)?;
    let stored_days: BTreeMap<(String, NaiveDate), (i64, i64)> = stored_days
        .into_iter()
        .map(|(c, dt, d, k)| ((c, dt), (d, k)))
        .collect();
    let recomputed_days: BTreeMap<(String, NaiveDate), (i64, i64)> = day_totals
        .into_iter()
        .flat_map(|(c, days)| days.into_iter().map(move |(dt, v)| ((c.clone(), dt), v)))
        .collect();
    if stored_days != recomputed_days {
        found.note(
            None,
            "per-day account totals disagree with the postings".to_string(),
        );
    }
    Ok(())
}

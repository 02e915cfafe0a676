//! Candidate counterparts of an open reconciliation item (the workspace's rows, issue 20): for
//! a payment without a settlement line, a line without a payment, an amount mismatch, a file
//! whose cash is missing or short, or an unexplained statement credit, which free records of
//! the pool could be its other side, ranked, with the reasons they are candidates.
//!
//! Pure: plain values in and out, no database, no HTTP. Only what a manual match would accept
//! is offered as matchable: the counterpart's kind fits the item, it is within reach of the
//! item's day ([`within_reach`]: D − [`CARRY_DAYS`] ..= D + 2, as
//! `recon::exceptions::checks` defines it), it is not taken (matched or named by another
//! resolution), and the amounts agree — for a payment and a line the same amount; for a file
//! and a credit the credit is the file's shortfall. A record of the right kind and reach with
//! another amount is shown as a weak candidate (not matchable) only when it shares a reference
//! or a terminal with the item. At most [`MAX_CANDIDATES`] per item, in a deterministic order:
//! matchable first, a line settled twice after a line nobody took, then a shared reference, the
//! same terminal, the fewest days apart.
//!
//! Depends on: [`crate::recon::matcher::Category`] (the item's kind), chrono.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};

use super::matcher::Category;

/// How many days back a record stays within reach of an item's day (DESIGN §5's default
/// horizon for awaited credits; the same as `recon::exceptions::checks`).
pub const CARRY_DAYS: i64 = 5;
/// How many days ahead (the cut-off and the T+1 / T+2 credits).
pub const AHEAD_DAYS: i64 = 2;
/// At most this many candidates per item.
pub const MAX_CANDIDATES: usize = 3;
/// A reference shorter than this is not looked for inside a narrative (too many false hits).
const MIN_REF_IN_TEXT: usize = 6;

/// Is `date` within reach of an item of `day`: D − 5 ..= D + 2?
pub fn within_reach(date: NaiveDate, day: NaiveDate) -> bool {
    date >= day - Duration::days(CARRY_DAYS) && date <= day + Duration::days(AHEAD_DAYS)
}

/// A record an item names or a candidate is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Record {
    /// A ledger payment (its id).
    Payment(String),
    /// A settlement line (its id).
    Line(i64),
    /// A collection-account booking (its id).
    Booking(i64),
    /// A settlement file (its id).
    File(String),
}

/// What is known of a record for comparing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Which record.
    pub record: Record,
    /// Business date (payment), settlement date (line, file) or booking date.
    pub date: NaiveDate,
    /// Amount in fen: a payment's amount, a line's gross, a booking's signed amount (credit
    /// positive), a file's net.
    pub amount_minor: i64,
    /// The POS or one-card terminal, if any.
    pub terminal: Option<String>,
    /// References that identify it across systems: rrn, trace, one-card serial, the payment's
    /// own reference / the line's `own_ref`, a booking's bank reference, a file's merchant.
    pub refs: Vec<String>,
    /// Free text that may carry another record's reference (a booking's narrative).
    pub narrative: Option<String>,
}

/// An open item: an exception of a run with the records it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The exception's id.
    pub exception_id: String,
    /// Its kind.
    pub kind: Category,
    /// The business date of its run (D).
    pub day: NaiveDate,
    /// The payment it names.
    pub payment: Option<Facts>,
    /// The settlement line it names.
    pub line: Option<Facts>,
    /// The settlement file it names (cash tier).
    pub file: Option<Facts>,
    /// The booking it names.
    pub booking: Option<Facts>,
    /// For a file's cash: what a credit must bring to settle it (the shortfall), if any.
    pub shortfall_minor: Option<i64>,
}

/// A free record of the pool: not matched, perhaps the subject of an open exception itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Free {
    /// The record.
    pub facts: Facts,
    /// The open (or claimed) exception that is about this record, if any: a match resolves it
    /// too.
    pub exception_id: Option<String>,
    /// For a file: the shortfall a credit must bring to settle it.
    pub shortfall_minor: Option<i64>,
    /// A line the acquirer settled a second time (its first settlement matched): a poorer
    /// candidate than a line nobody took, so it is offered after those.
    pub settled_twice: bool,
}

/// Why a record is a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The record.
    pub record: Record,
    /// Its own open exception, resolved with the item by a match.
    pub exception_id: Option<String>,
    /// Its amount in fen.
    pub amount_minor: i64,
    /// Its date.
    pub date: NaiveDate,
    /// The amount the match needs (same as the item's side, or the file's shortfall).
    pub same_amount: bool,
    /// Days between the item's record and this one (absolute).
    pub days_apart: i64,
    /// The same terminal as the item's record.
    pub same_terminal: bool,
    /// A reference both carry (or the item's reference inside its narrative, or the reverse).
    pub same_reference: Option<String>,
    /// A manual match would accept this pair: offered as a button.
    pub matchable: bool,
    /// A line settled a second time (see [`Free::settled_twice`]).
    pub settled_twice: bool,
}

/// What kind of counterpart an item looks for, and against which of its own records.
enum Wants<'a> {
    /// Settlement lines like this payment.
    Line(&'a Facts),
    /// Payments like this line.
    Payment(&'a Facts),
    /// Credits bringing `need` to this file.
    Credit(&'a Facts, Option<i64>),
    /// Files whose shortfall this credit brings.
    File(&'a Facts),
}

/// What an item of its kind looks for (none: a void settled, a debit, a record missing).
fn wants(item: &Item) -> Vec<Wants<'_>> {
    use Category::*;
    match item.kind {
        MissingInSettlement => item.payment.iter().map(Wants::Line).collect(),
        MissingInLedger | DuplicateInSettlement => item.line.iter().map(Wants::Payment).collect(),
        AmountMismatch => {
            // The payment's true line, or the line's true payment.
            let mut w: Vec<Wants<'_>> = item.payment.iter().map(Wants::Line).collect();
            w.extend(item.line.iter().map(Wants::Payment));
            w
        }
        CashMissing | CashMismatch if item.file.is_some() => item
            .file
            .iter()
            .map(|f| Wants::Credit(f, item.shortfall_minor))
            .collect(),
        CashMismatch | UnexpectedStatementLine => item
            .booking
            .iter()
            .filter(|b| b.amount_minor > 0)
            .map(Wants::File)
            .collect(),
        _ => Vec::new(),
    }
}

/// The records an item names: never its own candidates.
fn own_records(item: &Item) -> BTreeSet<&Record> {
    [&item.payment, &item.line, &item.file, &item.booking]
        .into_iter()
        .flatten()
        .map(|f| &f.record)
        .collect()
}

/// A reference the two share, if any.
fn shared_reference(a: &Facts, b: &Facts) -> Option<String> {
    let clean = |r: &&String| !r.trim().is_empty();
    for ra in a.refs.iter().filter(clean) {
        if b.refs.iter().filter(clean).any(|rb| rb.trim() == ra.trim()) {
            return Some(ra.trim().to_string());
        }
    }
    let inside = |refs: &[String], text: &Option<String>| -> Option<String> {
        let text = text.as_deref()?;
        refs.iter()
            .map(|r| r.trim())
            .find(|r| r.len() >= MIN_REF_IN_TEXT && text.contains(r))
            .map(str::to_string)
    };
    inside(&a.refs, &b.narrative).or_else(|| inside(&b.refs, &a.narrative))
}

/// The candidates of `item` among `pool`, best first, at most [`MAX_CANDIDATES`]. `taken`
/// holds records matched or named by another resolution: never offered.
pub fn candidates(item: &Item, pool: &[Free], taken: &BTreeSet<Record>) -> Vec<Candidate> {
    let own = own_records(item);
    let mut found: Vec<Candidate> = Vec::new();
    for want in wants(item) {
        for free in pool {
            let f = &free.facts;
            if own.contains(&f.record)
                || taken.contains(&f.record)
                || free.exception_id.as_deref() == Some(item.exception_id.as_str())
                || !within_reach(f.date, item.day)
                || found.iter().any(|c| c.record == f.record)
            {
                continue;
            }
            let (mine, need) = match (&want, &f.record) {
                (Wants::Line(p), Record::Line(_)) => (*p, Some(p.amount_minor)),
                (Wants::Payment(l), Record::Payment(_)) => (*l, Some(l.amount_minor)),
                (Wants::Credit(file, need), Record::Booking(_)) if f.amount_minor > 0 => {
                    (*file, *need)
                }
                (Wants::File(b), Record::File(_)) => (*b, Some(b.amount_minor)),
                _ => continue,
            };
            let have = match (&want, &f.record) {
                // A file brings its shortfall, not its net.
                (Wants::File(_), _) => free.shortfall_minor,
                _ => Some(f.amount_minor),
            };
            let same_amount = need.is_some() && need == have;
            let same_terminal = mine.terminal.is_some() && mine.terminal == f.terminal;
            let same_reference = shared_reference(mine, f);
            if !same_amount && !same_terminal && same_reference.is_none() {
                continue;
            }
            found.push(Candidate {
                record: f.record.clone(),
                exception_id: free.exception_id.clone(),
                amount_minor: f.amount_minor,
                date: f.date,
                same_amount,
                days_apart: (f.date - mine.date).num_days().abs(),
                same_terminal,
                same_reference,
                matchable: same_amount,
                settled_twice: free.settled_twice,
            });
        }
    }
    found.sort_by_key(|c| {
        (
            Reverse(c.matchable),
            c.settled_twice,
            Reverse(c.same_reference.is_some()),
            Reverse(c.same_terminal),
            c.days_apart,
            c.record.clone(),
        )
    });
    found.truncate(MAX_CANDIDATES);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
    }

    fn payment(id: &str, d: u32, amount: i64, terminal: &str, rrn: &str) -> Facts {
        Facts {
            record: Record::Payment(id.into()),
            date: day(d),
            amount_minor: amount,
            terminal: Some(terminal.into()),
            refs: vec![rrn.into()],
            narrative: None,
        }
    }

    fn line(id: i64, d: u32, amount: i64, terminal: &str, rrn: &str) -> Facts {
        Facts {
            record: Record::Line(id),
            ..payment("", d, amount, terminal, rrn)
        }
    }

    fn free(facts: Facts, exception: Option<&str>) -> Free {
        Free {
            facts,
            exception_id: exception.map(str::to_string),
            shortfall_minor: None,
            settled_twice: false,
        }
    }

    fn item(kind: Category, payment: Option<Facts>, line: Option<Facts>) -> Item {
        Item {
            exception_id: "ex_item".into(),
            kind,
            day: day(24),
            payment,
            line,
            file: None,
            booking: None,
            shortfall_minor: None,
        }
    }

    #[test]
    fn a_missing_payment_finds_the_line_of_its_amount_first() {
        let x = item(
            Category::MissingInSettlement,
            Some(payment("pay_a", 24, 8_000, "T1", "000000000451")),
            None,
        );
        let pool = vec![
            free(line(7, 25, 8_000, "T2", "x"), Some("ex_line7")),
            free(line(3, 24, 8_100, "T1", "000000000451"), None),
            free(line(9, 24, 8_000, "T1", "000000000451"), Some("ex_line9")),
            // Out of reach.
            free(line(11, 10, 8_000, "T1", "000000000451"), None),
            // A payment is not what a missing payment looks for.
            free(payment("pay_b", 24, 8_000, "T1", "000000000451"), None),
        ];
        let found = candidates(&x, &pool, &BTreeSet::new());
        let ids: Vec<_> = found.iter().map(|c| c.record.clone()).collect();
        assert_eq!(
            ids,
            vec![Record::Line(9), Record::Line(7), Record::Line(3)],
            "{found:?}"
        );
        assert!(found[0].matchable && found[0].same_terminal);
        assert_eq!(found[0].same_reference.as_deref(), Some("000000000451"));
        assert_eq!(found[0].exception_id.as_deref(), Some("ex_line9"));
        assert_eq!(found[1].days_apart, 1);
        assert!(!found[2].matchable, "another amount is a weak candidate");
    }

    #[test]
    fn a_line_settled_twice_comes_after_a_line_nobody_took() {
        let x = item(
            Category::MissingInSettlement,
            Some(payment("pay_a", 24, 8_000, "T1", "r4")),
            None,
        );
        let mut twice = free(line(2, 24, 8_000, "T1", "r1"), Some("ex_dup"));
        twice.settled_twice = true;
        let pool = vec![
            twice,
            free(line(5, 24, 8_000, "T1", "r9"), Some("ex_stray")),
        ];
        let found = candidates(&x, &pool, &BTreeSet::new());
        let ids: Vec<_> = found.iter().map(|c| c.record.clone()).collect();
        assert_eq!(ids, vec![Record::Line(5), Record::Line(2)]);
        assert!(found.iter().all(|c| c.matchable));
    }

    #[test]
    fn taken_records_and_the_items_own_are_never_offered() {
        let p = payment("pay_a", 24, 8_000, "T1", "r1");
        let l = line(5, 24, 8_100, "T1", "r1");
        let x = item(Category::AmountMismatch, Some(p.clone()), Some(l.clone()));
        let pool = vec![
            free(l, None),
            free(p, None),
            free(line(6, 24, 8_000, "T9", "r9"), None),
            free(payment("pay_b", 24, 8_100, "T9", "r8"), None),
        ];
        let found = candidates(&x, &pool, &BTreeSet::from([Record::Line(6)]));
        assert_eq!(
            found.iter().map(|c| &c.record).collect::<Vec<_>>(),
            vec![&Record::Payment("pay_b".into())]
        );
        assert!(found[0].matchable, "the line's amount");
    }

    #[test]
    fn a_file_finds_the_credit_of_its_shortfall_and_a_credit_the_file() {
        let file = Facts {
            record: Record::File("sf_1".into()),
            date: day(24),
            amount_minor: 15_990,
            terminal: None,
            refs: vec!["898440379930001".into()],
            narrative: None,
        };
        let credit = Facts {
            record: Record::Booking(4),
            date: day(26),
            amount_minor: 15_990,
            terminal: None,
            refs: vec!["B1".into()],
            narrative: Some("POS清算 898440379930001 20261124".into()),
        };
        let debit = Facts {
            record: Record::Booking(5),
            amount_minor: -15_990,
            ..credit.clone()
        };
        let x = Item {
            file: Some(file.clone()),
            shortfall_minor: Some(15_990),
            ..item(Category::CashMissing, None, None)
        };
        let pool = vec![free(debit, None), free(credit.clone(), Some("ex_credit"))];
        let found = candidates(&x, &pool, &BTreeSet::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].matchable);
        assert_eq!(found[0].same_reference.as_deref(), Some("898440379930001"));

        let y = Item {
            exception_id: "ex_credit".into(),
            booking: Some(credit),
            ..item(Category::UnexpectedStatementLine, None, None)
        };
        let files = vec![Free {
            facts: file,
            exception_id: Some("ex_file".into()),
            shortfall_minor: Some(15_990),
            settled_twice: false,
        }];
        let found = candidates(&y, &files, &BTreeSet::new());
        assert_eq!(found.len(), 1);
        assert!(found[0].matchable);
        assert_eq!(found[0].exception_id.as_deref(), Some("ex_file"));
    }

    #[test]
    fn a_void_settled_or_a_debit_has_no_candidates() {
        let p = payment("pay_a", 24, 8_000, "T1", "r1");
        let x = item(Category::VoidSettled, Some(p.clone()), None);
        let pool = vec![free(line(1, 24, 8_000, "T1", "r1"), None)];
        assert!(candidates(&x, &pool, &BTreeSet::new()).is_empty());
    }

    fn arb_facts() -> impl Strategy<Value = Facts> {
        (
            0u8..3,
            0i64..12,
            20u32..29,
            prop::sample::select(vec![500i64, 8_000, 8_100, -8_000]),
            0u8..3,
            0u8..3,
        )
            .prop_map(|(kind, id, d, amount, terminal, reference)| Facts {
                record: match kind {
                    0 => Record::Payment(format!("pay_{id}")),
                    1 => Record::Line(id),
                    _ => Record::Booking(id),
                },
                date: day(d),
                amount_minor: amount,
                terminal: (terminal > 0).then(|| format!("T{terminal}")),
                refs: vec![format!("0000000004{reference}")],
                narrative: (kind == 2).then(|| format!("POS 0000000004{reference}")),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn candidates_keep_their_promises(
            kind in prop::sample::select(vec![
                Category::MissingInSettlement,
                Category::MissingInLedger,
                Category::AmountMismatch,
                Category::DuplicateInSettlement,
                Category::UnexpectedStatementLine,
            ]),
            own in arb_facts(),
            other in arb_facts(),
            pool in prop::collection::vec((arb_facts(), any::<bool>()), 0..20),
            taken_ids in prop::collection::vec(0i64..12, 0..4),
        ) {
            let x = Item {
                exception_id: "ex_item".into(),
                kind,
                day: day(24),
                payment: matches!(own.record, Record::Payment(_)).then(|| own.clone()),
                line: matches!(own.record, Record::Line(_)).then(|| own.clone())
                    .or_else(|| (kind == Category::AmountMismatch).then(|| other.clone())),
                file: None,
                booking: matches!(own.record, Record::Booking(_)).then(|| own.clone()),
                shortfall_minor: None,
            };
            // Records are unique in a pool (one row each).
            let mut seen = BTreeSet::new();
            let pool: Vec<Free> = pool
                .into_iter()
                .filter(|(f, _)| seen.insert(f.record.clone()))
                .map(|(f, mine)| Free {
                    facts: f,
                    exception_id: Some(if mine { "ex_item".into() } else { "ex_other".into() }),
                    shortfall_minor: None,
                    settled_twice: false,
                })
                .collect();
            let taken: BTreeSet<Record> = taken_ids.iter().map(|&i| Record::Line(i)).collect();
            let found = candidates(&x, &pool, &taken);
            prop_assert!(found.len() <= MAX_CANDIDATES);
            let own_records = own_records(&x);
            for c in &found {
                prop_assert!(!own_records.contains(&c.record), "never the item itself");
                prop_assert!(!taken.contains(&c.record), "never a taken record");
                prop_assert!(c.exception_id.as_deref() != Some("ex_item"));
                prop_assert!(within_reach(c.date, x.day));
                if c.matchable {
                    let sides: Vec<i64> = [&x.payment, &x.line]
                        .into_iter()
                        .flatten()
                        .map(|f| f.amount_minor)
                        .collect();
                    prop_assert!(sides.contains(&c.amount_minor), "{c:?}");
                }
            }
            let records: BTreeSet<&Record> = found.iter().map(|c| &c.record).collect();
            prop_assert_eq!(records.len(), found.len(), "each record once");
            // Deterministic: the same answer again, and whatever the pool's order.
            prop_assert_eq!(&candidates(&x, &pool, &taken), &found);
            let mut reversed = pool.clone();
            reversed.reverse();
            let again = candidates(&x, &reversed, &taken);
            prop_assert_eq!(
                again.iter().map(|c| (&c.record, c.matchable)).collect::<Vec<_>>(),
                found.iter().map(|c| (&c.record, c.matchable)).collect::<Vec<_>>()
            );
        }
    }
}

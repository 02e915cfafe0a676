//! The transaction tier's outcomes: what each payment's pairing, and each line no capture
//! claimed, comes to (categories, notes, actions and amounts as the matcher's module doc sets
//! them out).
//!
//! Depends on: [`super`] (the pairing), [`crate::recon::matcher::model`].

use chrono::NaiveDate;

use super::{key, line_mtbt, line_rec, line_trd, to_i64, Tx};
use crate::bankfiles::records::{SettlementKind, SettlementRecord};
use crate::recon::matcher::index::{at, get, FxSet, NONE};
use crate::recon::matcher::model::*;

impl<'a> Tx<'a> {
    fn outcome(&self, category: Category, subject: Subject, owner: NaiveDate) -> Outcome {
        Outcome::blank(category, subject, owner, self.bd)
    }

    fn payment_outcome(&self, p: usize) -> Option<Outcome> {
        let pm = get(self.payments, p)?;
        let l = at(&self.pay_line, p);
        let v = self.void_slot(p);
        let purchase = line_rec(self.lines, l);
        let void = line_rec(self.lines, v);
        let of_day = pm.business_date == self.bd;
        let ledger: i64 = if pm.voided { 0 } else { pm.amount_minor };
        let settled: i128 = purchase.map_or(0, |r| i128::from(r.gross_minor))
            + void.map_or(0, |r| i128::from(r.gross_minor));
        use Category::*;
        let (category, note, action) = match (purchase, void, pm.voided) {
            (None, None, true) if of_day => {
                (Matched, "voided the same day; nothing to settle", None)
            }
            (None, None, false) if of_day => (
                MissingInSettlement,
                "no settlement line in the files of the business date or the next day",
                Some(ACT_MISSING_SETTLEMENT),
            ),
            (None, None, _) => return None,
            (Some(r), None, false) => {
                if r.gross_minor == pm.amount_minor {
                    (Matched, "settled", None)
                } else {
                    (
                        AmountMismatch,
                        "settled with another amount",
                        Some(ACT_AMOUNT),
                    )
                }
            }
            (Some(r), Some(_), true) => {
                if i128::from(r.gross_minor) == i128::from(pm.amount_minor) && settled == 0 {
                    (
                        Matched,
                        "voided; purchase and void both settled and net to zero",
                        None,
                    )
                } else {
                    (
                        AmountMismatch,
                        "voided; the settled purchase and void do not net to the captured amount",
                        Some(ACT_AMOUNT),
                    )
                }
            }
            (Some(_), None, true) => (
                VoidSettled,
                "voided in the ledger but the purchase was settled without its void",
                Some(ACT_VOID_SETTLED),
            ),
            (Some(_), Some(_), false) => (
                AmountMismatch,
                "the acquirer settled a void the ledger does not have",
                Some(ACT_AMOUNT),
            ),
            (None, Some(_), _) => (
                AmountMismatch,
                "the acquirer settled a void without its purchase",
                Some(ACT_AMOUNT),
            ),
        };
        let mut o = self.outcome(category, Subject::Payment, pm.business_date);
        o.payment_id = Some(pm.id.clone());
        o.line_id = get(self.lines, l).map(|x| x.id);
        o.void_line_id = get(self.lines, v).map(|x| x.id);
        o.ledger_minor = Some(ledger);
        if purchase.is_some() || void.is_some() {
            o.settlement_minor = to_i64(settled);
        }
        o.note = note;
        o.action = action;
        Some(o)
    }

    /// A paired purchase line sharing a key with `r` (not `l` itself).
    fn original_of_duplicate(&self, l: usize, r: &'a SettlementRecord) -> Option<usize> {
        let paired = |c: &usize| *c != l && at(&self.line_pay, *c) != NONE;
        let rec = |c: &usize| line_rec(self.lines, *c);
        key(&r.own_ref)
            .and_then(|k| {
                self.own
                    .chain(&k)
                    .find(|c| paired(c) && rec(c).and_then(|x| key(&x.own_ref)) == Some(k))
            })
            .or_else(|| {
                line_mtbt(r).and_then(|k| {
                    self.mtbt
                        .chain(&k)
                        .find(|c| paired(c) && rec(c).and_then(line_mtbt) == Some(k))
                })
            })
            .or_else(|| {
                line_trd(r).and_then(|k| {
                    self.trd
                        .chain(&k)
                        .find(|c| paired(c) && rec(c).and_then(line_trd) == Some(k))
                })
            })
    }

    fn line_outcome(&self, l: usize, refunds_used: &mut FxSet<(usize, usize)>) -> Option<Outcome> {
        let line = get(self.lines, l)?;
        let r = &line.record;
        let mut o = match r.kind {
            SettlementKind::Purchase => return self.purchase_line_outcome(l, line),
            SettlementKind::Void => self.void_line_outcome(l, r)?,
            SettlementKind::Refund => self.refund_line_outcome(l, r, refunds_used),
            SettlementKind::Adjustment => {
                let mut o =
                    self.outcome(Category::MissingInLedger, Subject::Line, r.settlement_date);
                o.note = "an acquirer adjustment";
                o.action = Some(ACT_ADJUSTMENT);
                o
            }
        };
        o.line_id = Some(line.id);
        if o.settlement_minor.is_none() {
            o.settlement_minor = Some(r.gross_minor);
        }
        Some(o)
    }

    /// An unpaired purchase line (with its void, if any): a duplicate of a paired one, or
    /// missing in the ledger. `None` when it is paired (its payment's outcome covers it).
    fn purchase_line_outcome(&self, l: usize, line: &'a SettlementLine) -> Option<Outcome> {
        if at(&self.line_pay, l) != NONE {
            return None;
        }
        let r = &line.record;
        let own_date = r.settlement_date;
        let v = at(&self.line_void, l);
        let void = line_rec(self.lines, v);
        let settled =
            to_i64(i128::from(r.gross_minor) + void.map_or(0, |x| i128::from(x.gross_minor)));
        if let Some(orig) = self.original_of_duplicate(l, r) {
            let p = at(&self.line_pay, orig);
            let pm = get(self.payments, p);
            let mut o = self.outcome(
                Category::DuplicateInSettlement,
                Subject::Line,
                pm.map_or(own_date, |x| x.business_date),
            );
            o.payment_id = pm.map(|x| x.id.clone());
            o.line_id = Some(line.id);
            o.related_line_id = get(self.lines, orig).map(|x| x.id);
            o.note = "a second purchase line with the key of a matched one";
            o.action = Some(ACT_DUPLICATE);
            o.void_line_id = get(self.lines, v).map(|x| x.id);
            o.settlement_minor = settled;
            return Some(o);
        }
        let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
        o.line_id = Some(line.id);
        o.void_line_id = get(self.lines, v).map(|x| x.id);
        o.settlement_minor = settled.or(Some(r.gross_minor));
        o.note = if void.is_some() {
            "a purchase and its void the ledger does not have"
        } else {
            "a purchase the ledger does not have"
        };
        o.action = Some(ACT_MISSING_LEDGER);
        Some(o)
    }

    /// A void line no purchase took: a second void of the same purchase, or one whose purchase
    /// is unknown. `None` when it is attached.
    fn void_line_outcome(&self, l: usize, r: &SettlementRecord) -> Option<Outcome> {
        if self.used.get(l).copied().unwrap_or(false) {
            return None;
        }
        let own_date = r.settlement_date;
        let taken = key(&r.original_ref)
            .and_then(|k| self.void_taken_orig.get(&(r.merchant.as_str(), k)))
            .or_else(|| key(&r.own_ref).and_then(|k| self.void_taken_own.get(&k)))
            .copied();
        Some(if let Some(first) = taken {
            let mut o = self.outcome(Category::DuplicateInSettlement, Subject::Line, own_date);
            o.related_line_id = get(self.lines, first).map(|x| x.id);
            o.note = "a second void of the same purchase";
            o.action = Some(ACT_DUPLICATE);
            o
        } else {
            let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
            o.note = "a void whose purchase is unknown";
            o.action = Some(ACT_MISSING_LEDGER);
            o
        })
    }

    /// A refund line against its payment's unused ledger refunds: the same amount (earliest
    /// approval, then id) matches; another amount mismatches; none is missing in the ledger.
    fn refund_line_outcome(
        &self,
        l: usize,
        r: &SettlementRecord,
        refunds_used: &mut FxSet<(usize, usize)>,
    ) -> Outcome {
        let own_date = r.settlement_date;
        let p = self.refund_pay.get(&l).copied().unwrap_or(NONE);
        let pm = get(self.payments, p);
        let want = r.gross_minor.checked_neg();
        let chosen = pm.and_then(|pm| {
            let free = pm
                .refunds
                .iter()
                .enumerate()
                .filter(|(j, _)| !refunds_used.contains(&(p, *j)));
            let best = |it: &mut dyn Iterator<Item = (usize, &'a LedgerRefund)>| {
                it.min_by(|a, b| (a.1.approved_on, &a.1.id).cmp(&(b.1.approved_on, &b.1.id)))
            };
            best(&mut free.clone().filter(|(_, f)| Some(f.amount_minor) == want))
                .or_else(|| best(&mut free.clone()))
        });
        let mut o = match chosen {
            Some((j, f)) => {
                refunds_used.insert((p, j));
                let equal = Some(f.amount_minor) == want;
                let category = if equal {
                    Category::Matched
                } else {
                    Category::AmountMismatch
                };
                let mut o = self.outcome(category, Subject::Line, own_date);
                o.refund_id = Some(f.id.clone());
                o.ledger_minor = f.amount_minor.checked_neg();
                o.note = if equal {
                    "refund settled"
                } else {
                    "refund settled with another amount"
                };
                o.action = if equal { None } else { Some(ACT_AMOUNT) };
                o
            }
            None => {
                let mut o = self.outcome(Category::MissingInLedger, Subject::Line, own_date);
                o.note = if pm.is_some() {
                    "a refund of a known payment that has no ledger refund"
                } else {
                    "a refund whose purchase is unknown"
                };
                o.action = Some(ACT_REFUND_MISSING);
                o
            }
        };
        o.payment_id = pm.map(|x| x.id.clone());
        o
    }

    /// Every payment's outcome, then every line's that has one of its own.
    pub(super) fn outcomes(&self, out: &mut Vec<Outcome>) {
        let payment_outcomes = |order: &[usize], out: &mut Vec<Outcome>| {
            out.extend(order.iter().filter_map(|&p| self.payment_outcome(p)));
        };
        if self.parallel {
            // Each payment's outcome reads the pairing only: the second half on another
            // thread, appended after the first (the order is the one-thread order).
            let (a, b) = self.porder.split_at(self.porder.len() / 2);
            std::thread::scope(|s| {
                let second = s.spawn(|| {
                    let mut v = Vec::with_capacity(b.len());
                    payment_outcomes(b, &mut v);
                    v
                });
                payment_outcomes(a, out);
                match second.join() {
                    Ok(mut rest) => out.append(&mut rest),
                    Err(e) => std::panic::resume_unwind(e),
                }
            });
        } else {
            payment_outcomes(&self.porder, out);
        }
        let mut refunds_used: FxSet<(usize, usize)> = FxSet::default();
        for &l in &self.lorder {
            if let Some(o) = self.line_outcome(l, &mut refunds_used) {
                out.push(o);
            }
        }
    }
}

//! The transaction tier: pairs each payment with its purchase line (three keys, strongest
//! first, each in its own pass), attaches void and refund lines, and turns the pairs into one
//! outcome per payment and per line without a capture (the rules are in the matcher's module
//! doc). The outcomes themselves are built in the `outcomes` submodule.
//!
//! Depends on: [`super::model`], [`super::index`], `crate::bankfiles::records`.

use chrono::{NaiveDate, NaiveTime};

use super::index::{at, fx_map, get, set, Chain, FxMap, Index, NONE};
use super::model::{LedgerPayment, MatchInput, Outcome, SettlementLine};
use crate::bankfiles::records::{SettlementKind, SettlementRecord};

mod outcomes;

/// Below this many payments the tier runs on one thread (a thread costs more than it saves).
pub(super) const PARALLEL_FROM: usize = 50_000;

/// The transaction tier's outcomes for `input`, appended to `out`: payments by business date
/// and id, then lines without a capture by settlement date and id. From `parallel_from`
/// payments on, the lookups and the payments' outcomes are split over two threads (the same
/// result: the tests force both ways and compare).
pub(super) fn outcomes_split(input: &MatchInput, out: &mut Vec<Outcome>, parallel_from: usize) {
    let mut tx = Tx::new(input);
    tx.parallel = tx.payments.len() >= parallel_from;
    tx.pair_purchases();
    tx.attach_voids();
    tx.attach_refunds();
    tx.outcomes(out);
}

// ---------------------------------------------------------------------------------------------
// Keys

fn key(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|t| !t.trim().is_empty())
}

/// Whether a purchase line settled on `line_date` may pair with payment `p`: a file dated the
/// payment's business date P or P+1; and P−1 too when the payment was captured on P−1 at or
/// after the business-day `cutoff` (our day ended before the acquirer's did).
fn in_window(p: &LedgerPayment, line_date: NaiveDate, cutoff: Option<NaiveTime>) -> bool {
    let pd = p.business_date;
    line_date == pd
        || Some(line_date) == pd.succ_opt()
        || (Some(line_date) == pd.pred_opt()
            && cutoff.is_some_and(|c| p.txn_time.date() == line_date && p.txn_time.time() >= c))
}

fn to_i64(value: i128) -> Option<i64> {
    i64::try_from(value).ok()
}

type Own<'a> = &'a str;
type Mtbt<'a> = (&'a str, &'a str, &'a str, &'a str);
type Trd<'a> = (&'a str, &'a str, NaiveDate);
type MerchRef<'a> = (&'a str, &'a str);

fn line_mtbt(r: &SettlementRecord) -> Option<Mtbt<'_>> {
    Some((
        r.merchant.as_str(),
        r.terminal.as_str(),
        key(&r.batch)?,
        key(&r.trace)?,
    ))
}

/// A void's or refund's (merchant, original reference).
fn orig_key(lines: &[SettlementLine], l: usize) -> Option<MerchRef<'_>> {
    let r = line_rec(lines, l)?;
    Some((r.merchant.as_str(), key(&r.original_ref)?))
}

fn line_trd(r: &SettlementRecord) -> Option<Trd<'_>> {
    Some((r.terminal.as_str(), key(&r.rrn)?, r.txn_time.date()))
}

fn pay_mtbt(p: &LedgerPayment) -> Option<Mtbt<'_>> {
    Some((
        p.merchant.as_str(),
        p.terminal.as_str(),
        key(&p.batch)?,
        key(&p.trace)?,
    ))
}

/// The (merchant, reference) pairs a void's or refund's `original_ref` may name.
fn pay_refs(p: &LedgerPayment) -> impl Iterator<Item = MerchRef<'_>> {
    let rrn = key(&p.rrn);
    let serial = key(&p.serial).filter(|s| Some(*s) != rrn);
    rrn.into_iter()
        .chain(serial)
        .map(move |r| (p.merchant.as_str(), r))
}

// ---------------------------------------------------------------------------------------------
// Pairing

struct Tx<'a> {
    bd: NaiveDate,
    cutoff: Option<NaiveTime>,
    payments: &'a [LedgerPayment],
    lines: &'a [SettlementLine],
    porder: Vec<usize>,
    lorder: Vec<usize>,
    own: Index<Own<'a>>,
    mtbt: Index<Mtbt<'a>>,
    trd: Index<Trd<'a>>,
    /// Split lookups and outcomes over two threads.
    parallel: bool,
    /// Purchase lines paired so far (sizes the next pass's index).
    paired: usize,
    /// payment → its purchase line.
    pay_line: Vec<usize>,
    /// purchase line → its payment.
    line_pay: Vec<usize>,
    /// purchase line → its void line.
    line_void: Vec<usize>,
    /// payment without purchase line → its void line.
    pay_void: Vec<usize>,
    /// void / refund line already attached.
    used: Vec<bool>,
    /// void key → the void that took the slot (for duplicate voids).
    void_taken_orig: FxMap<MerchRef<'a>, usize>,
    void_taken_own: FxMap<Own<'a>, usize>,
    /// refund line → payment.
    refund_pay: FxMap<usize, usize>,
}

fn line_rec(lines: &[SettlementLine], l: usize) -> Option<&SettlementRecord> {
    lines.get(l).map(|x| &x.record)
}

impl<'a> Tx<'a> {
    fn new(input: &'a MatchInput) -> Self {
        let payments = input.payments.as_slice();
        let lines = input.lines.as_slice();
        let mut porder: Vec<usize> = (0..payments.len()).collect();
        porder.sort_unstable_by(|&a, &b| match (payments.get(a), payments.get(b)) {
            (Some(x), Some(y)) => (x.business_date, &x.id)
                .cmp(&(y.business_date, &y.id))
                .then_with(|| (&x.reference, x.txn_time).cmp(&(&y.reference, y.txn_time)))
                .then_with(|| x.amount_minor.cmp(&y.amount_minor)),
            _ => a.cmp(&b),
        });
        let mut lorder: Vec<usize> = (0..lines.len()).collect();
        lorder.sort_unstable_by(|&a, &b| match (lines.get(a), lines.get(b)) {
            (Some(x), Some(y)) => (x.record.settlement_date, x.id)
                .cmp(&(y.record.settlement_date, y.id))
                .then_with(|| (&x.file_id, x.record.line).cmp(&(&y.file_id, y.record.line))),
            _ => a.cmp(&b),
        });
        let n = lines.len();
        Tx {
            bd: input.business_date,
            cutoff: input.business_day_cutoff,
            payments,
            lines,
            porder,
            lorder,
            parallel: false,
            paired: 0,
            own: Index::new(n, 0),
            mtbt: Index::new(n, 0),
            trd: Index::new(n, 0),
            pay_line: vec![NONE; payments.len()],
            line_pay: vec![NONE; n],
            line_void: vec![NONE; n],
            pay_void: vec![NONE; payments.len()],
            used: vec![false; n],
            void_taken_orig: fx_map(0),
            void_taken_own: fx_map(0),
            refund_pay: fx_map(0),
        }
    }

    /// Indexes the purchase lines still unpaired under the key of `pass` (each pass indexes
    /// only what the passes before it left, so a million-line file is hashed about once).
    fn index_purchases(&mut self, pass: usize) {
        let lines = self.lines;
        let unpaired = lines.len().saturating_sub(self.paired);
        match pass {
            0 => self.own.reserve(unpaired),
            1 => self.mtbt.reserve(unpaired),
            _ => self.trd.reserve(unpaired),
        }
        for &l in self.lorder.iter().rev() {
            if at(&self.line_pay, l) != NONE {
                continue;
            }
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Purchase {
                continue;
            }
            match pass {
                0 => {
                    if let Some(k) = key(&r.own_ref) {
                        self.own.push_front(&k, l);
                    }
                }
                1 => {
                    if let Some(k) = line_mtbt(r) {
                        self.mtbt.push_front(&k, l);
                    }
                }
                _ => {
                    if let Some(k) = line_trd(r) {
                        self.trd.push_front(&k, l);
                    }
                }
            }
        }
    }

    /// First unused line of `chain` in the payment's window, preferring an equal amount.
    fn pick(
        &self,
        chain: Chain<'_>,
        p: &LedgerPayment,
        is_key: impl Fn(&SettlementRecord) -> bool,
    ) -> Option<usize> {
        let mut first = None;
        for l in chain {
            if at(&self.line_pay, l) != NONE {
                continue;
            }
            let Some(r) = line_rec(self.lines, l) else {
                continue;
            };
            if !in_window(p, r.settlement_date, self.cutoff) || !is_key(r) {
                continue;
            }
            if r.gross_minor == p.amount_minor {
                return Some(l);
            }
            if first.is_none() {
                first = Some(l);
            }
        }
        first
    }

    fn pair(&mut self, p: usize, l: usize) {
        set(&mut self.pay_line, p, l);
        set(&mut self.line_pay, l, p);
        self.paired += 1;
    }

    /// The line payment `pm` pairs with under the key of `pass`, given the lines paired so far.
    fn find(&self, pass: usize, pm: &'a LedgerPayment) -> Option<usize> {
        match pass {
            0 => {
                if pm.reference.trim().is_empty() {
                    None
                } else {
                    let k = pm.reference.as_str();
                    self.pick(self.own.chain(&k), pm, |r| key(&r.own_ref) == Some(k))
                }
            }
            1 => pay_mtbt(pm)
                .and_then(|k| self.pick(self.mtbt.chain(&k), pm, |r| line_mtbt(r) == Some(k))),
            _ => {
                let date = pm.txn_time.date();
                let term = pm.terminal.as_str();
                key(&pm.rrn)
                    .and_then(|r| {
                        let k = (term, r, date);
                        self.pick(self.trd.chain(&k), pm, |x| line_trd(x) == Some(k))
                    })
                    .or_else(|| {
                        key(&pm.serial).and_then(|s| {
                            let k = (term, s, date);
                            self.pick(self.trd.chain(&k), pm, |x| line_trd(x) == Some(k))
                        })
                    })
            }
        }
    }

    /// [`Tx::find`] for the payments of `order` (positions in `porder`) still unpaired, with the
    /// lines paired before this pass: what each would pair with if no payment before it in
    /// this pass took that line ([`NONE`] for nothing, and for payments already paired).
    fn speculate(&self, pass: usize, order: &[usize]) -> Vec<usize> {
        order
            .iter()
            .map(|&p| {
                if at(&self.pay_line, p) != NONE {
                    return NONE;
                }
                get(self.payments, p)
                    .and_then(|pm| self.find(pass, pm))
                    .unwrap_or(NONE)
            })
            .collect()
    }

    /// The speculative lookups of every payment, on two threads.
    fn speculate_all(&self, pass: usize) -> Vec<usize> {
        let (a, b) = self.porder.split_at(self.porder.len() / 2);
        std::thread::scope(|s| {
            let second = s.spawn(|| self.speculate(pass, b));
            let mut found = self.speculate(pass, a);
            match second.join() {
                Ok(rest) => found.extend(rest),
                Err(e) => std::panic::resume_unwind(e),
            }
            found
        })
    }

    fn pair_purchases(&mut self) {
        let payments = self.payments;
        for pass in 0..3 {
            self.index_purchases(pass);
            if match pass {
                0 => self.own.is_empty(),
                1 => self.mtbt.is_empty(),
                _ => self.trd.is_empty(),
            } {
                continue;
            }
            // On two threads every payment first looks up its line as the pass began; in
            // payment order a looked-up line still free is exactly what the one-thread lookup
            // would find now (lines are only ever taken, and it was the first free candidate
            // in its chain then), and a taken one is looked up again.
            let speculated = if self.parallel {
                self.speculate_all(pass)
            } else {
                Vec::new()
            };
            for i in 0..self.porder.len() {
                let p = at(&self.porder, i);
                if at(&self.pay_line, p) != NONE {
                    continue;
                }
                let Some(pm) = get(payments, p) else {
                    continue;
                };
                let found = match speculated.get(i).copied() {
                    Some(NONE) => None,
                    Some(l) if at(&self.line_pay, l) == NONE => Some(l),
                    _ => self.find(pass, pm),
                };
                if let Some(l) = found {
                    self.pair(p, l);
                }
            }
        }
    }

    /// The void slot of a payment: its purchase line's if it has one, else its own.
    fn void_slot(&self, p: usize) -> usize {
        let l = at(&self.pay_line, p);
        if l != NONE {
            at(&self.line_void, l)
        } else {
            at(&self.pay_void, p)
        }
    }

    fn attach_voids(&mut self) {
        let lines = self.lines;
        let payments = self.payments;
        let mut by_orig: Index<MerchRef<'a>> = Index::new(lines.len(), 0);
        let mut by_own: Index<Own<'a>> = Index::new(lines.len(), 0);
        for &l in self.lorder.iter().rev() {
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Void {
                continue;
            }
            if let Some(o) = key(&r.original_ref) {
                by_orig.push_front(&(r.merchant.as_str(), o), l);
            }
            if let Some(o) = key(&r.own_ref) {
                by_own.push_front(&o, l);
            }
        }
        if by_orig.is_empty() && by_own.is_empty() {
            return;
        }
        // (a) purchase lines in the window.
        if !by_orig.is_empty() {
            for i in 0..self.lorder.len() {
                let l = at(&self.lorder, i);
                let Some(r) = line_rec(lines, l) else {
                    continue;
                };
                if r.kind != SettlementKind::Purchase {
                    continue;
                }
                let Some(rrn) = key(&r.rrn) else {
                    continue;
                };
                let k = (r.merchant.as_str(), rrn);
                if let Some(v) = by_orig.chain(&k).find(|&v| {
                    !self.used.get(v).copied().unwrap_or(true) && orig_key(lines, v) == Some(k)
                }) {
                    self.take_void(v);
                    set(&mut self.line_void, l, v);
                }
            }
        }
        // (b) payments, by RRN / serial, then (one-card) by own reference.
        for i in 0..self.porder.len() {
            let p = at(&self.porder, i);
            if self.void_slot(p) != NONE {
                continue;
            }
            let Some(pm) = get(payments, p) else {
                continue;
            };
            let free = |v: &usize| !self.used.get(*v).copied().unwrap_or(true);
            let mut found = pay_refs(pm).find_map(|k| {
                by_orig
                    .chain(&k)
                    .find(|v| free(v) && orig_key(lines, *v) == Some(k))
            });
            let own = pm.reference.as_str();
            if found.is_none() && !own.trim().is_empty() {
                found = by_own.chain(&own).find(|v| {
                    free(v) && line_rec(lines, *v).and_then(|r| key(&r.own_ref)) == Some(own)
                });
            }
            if let Some(v) = found {
                self.take_void(v);
                let l = at(&self.pay_line, p);
                if l != NONE {
                    set(&mut self.line_void, l, v);
                } else {
                    set(&mut self.pay_void, p, v);
                }
            }
        }
    }

    fn take_void(&mut self, v: usize) {
        if let Some(u) = self.used.get_mut(v) {
            *u = true;
        }
        if let Some(r) = line_rec(self.lines, v) {
            if let Some(o) = key(&r.original_ref) {
                self.void_taken_orig
                    .entry((r.merchant.as_str(), o))
                    .or_insert(v);
            }
            if let Some(o) = key(&r.own_ref) {
                self.void_taken_own.entry(o).or_insert(v);
            }
        }
    }

    fn attach_refunds(&mut self) {
        let lines = self.lines;
        let payments = self.payments;
        let mut by_orig: Index<MerchRef<'a>> = Index::new(lines.len(), 0);
        for &l in self.lorder.iter().rev() {
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            if r.kind != SettlementKind::Refund {
                continue;
            }
            if let Some(o) = key(&r.original_ref) {
                by_orig.push_front(&(r.merchant.as_str(), o), l);
            }
        }
        if by_orig.is_empty() {
            return;
        }
        for i in 0..self.lorder.len() {
            let l = at(&self.lorder, i);
            let p = at(&self.line_pay, l);
            if p == NONE {
                continue;
            }
            let Some(r) = line_rec(lines, l) else {
                continue;
            };
            let Some(rrn) = key(&r.rrn) else {
                continue;
            };
            let k = (r.merchant.as_str(), rrn);
            for f in by_orig.chain(&k) {
                if orig_key(lines, f) == Some(k) {
                    self.refund_pay.entry(f).or_insert(p);
                }
            }
        }
        for i in 0..self.porder.len() {
            let p = at(&self.porder, i);
            let Some(pm) = get(payments, p) else {
                continue;
            };
            for k in pay_refs(pm) {
                for f in by_orig.chain(&k) {
                    if orig_key(lines, f) == Some(k) {
                        self.refund_pay.entry(f).or_insert(p);
                    }
                }
            }
        }
    }
}

//! The cash tier (settlement files ↔ collection-account credits) and the balance tier
//! (statement closing balance ↔ ledger 1002.01); also each file's netting for the report. The
//! rules are in the matcher's module doc.
//!
//! Depends on: [`super::model`], [`super::index`].

use chrono::NaiveDate;

use super::index::{at, fx_map, set, FxMap, NONE};
use super::model::{
    business_days_between, BalanceCheck, Booking, Category, Channel, FileNetting, MatchInput,
    Outcome, PriorCash, SettlementFile, Subject, ACT_CASH_MISMATCH, ACT_CASH_MISSING,
    ACT_CASH_UNCLAIMED,
};

/// "Paid by a booking another run used, not in this input" in [`Claims::paid_by`].
const ELSEWHERE: usize = usize::MAX - 1;

/// The files a settlement narrative names: `(channel, [(merchant, date)])`.
pub fn parse_settlement_narrative(text: &str) -> Option<(Channel, Vec<(&str, NaiveDate)>)> {
    let t = text.trim_start();
    let (channel, rest) = if let Some(rest) = t.strip_prefix("POS清算") {
        (Channel::BankCard, rest)
    } else if let Some(rest) = t.strip_prefix("一卡通结算") {
        (Channel::OneCard, rest)
    } else {
        return None;
    };
    let mut merchant: Option<&str> = None;
    let mut named = Vec::new();
    for token in rest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | ';' | '；'))
        .filter(|t| !t.is_empty())
    {
        let date = if token.len() == 8 && token.bytes().all(|b| b.is_ascii_digit()) {
            NaiveDate::parse_from_str(token, "%Y%m%d").ok()
        } else {
            None
        };
        match (date, merchant) {
            (Some(d), Some(m)) => named.push((m, d)),
            (Some(_), None) => return None,
            (None, _) => merchant = Some(token),
        }
    }
    if named.is_empty() {
        None
    } else {
        Some((channel, named))
    }
}

/// The cash tier's outcomes for `input`, appended to `out` (files by date and id, then
/// settlement bookings that paid no file); returns the non-settlement bookings nothing claimed.
pub(super) fn outcomes(input: &MatchInput, out: &mut Vec<Outcome>) -> Vec<i64> {
    let cash = Cash::new(input);
    let mut claims = Claims {
        paid_by: vec![NONE; cash.files.len()],
        groups: Vec::new(),
        narrative_unclaimed: Vec::new(),
        plain: Vec::new(),
        plain_used: vec![false; cash.bookings.len()],
    };
    cash.claim_prior(&mut claims);
    cash.claim_by_narrative(&mut claims);
    cash.claim_single_files(&mut claims);
    cash.claim_merchants(&mut claims);
    cash.push_outcomes(&claims, out);
    claims
        .plain
        .iter()
        .filter(|&&b| !claims.plain_used.get(b).copied().unwrap_or(true))
        .filter_map(|&b| cash.bookings.get(b).map(|x| x.id))
        .collect()
}

/// The balance tier: the statement's closing balance against the ledger's 1002.01.
pub(super) fn balance(input: &MatchInput) -> BalanceCheck {
    match input.statement_closing_minor {
        None => BalanceCheck::NoStatement {
            ledger_minor: input.ledger_1002_01_minor,
        },
        Some(s) if s == input.ledger_1002_01_minor => BalanceCheck::Agree { balance_minor: s },
        Some(s) => BalanceCheck::Differ {
            statement_minor: s,
            ledger_minor: input.ledger_1002_01_minor,
            difference_minor: i128::from(s) - i128::from(input.ledger_1002_01_minor),
        },
    }
}

/// The cash tier's view of the input: the files and the non-reversal bookings, in order.
struct Cash<'a> {
    bd: NaiveDate,
    horizon_days: u32,
    files: &'a [SettlementFile],
    /// file → its cash outcome in a run of another date, if any.
    prior: Vec<Option<&'a PriorCash>>,
    bookings: &'a [Booking],
    /// Files by (settlement date, id, channel, merchant).
    forder: Vec<usize>,
    /// Non-reversal bookings by (booking date, id).
    border: Vec<usize>,
}

/// What the cash tier has settled so far.
struct Claims {
    /// file → booking that paid it (NONE: unclaimed).
    paid_by: Vec<usize>,
    /// booking → files it paid, in file order.
    groups: Vec<(usize, Vec<usize>)>,
    /// Settlement-narrative bookings that claimed no file, with the latest date they name.
    narrative_unclaimed: Vec<(usize, NaiveDate)>,
    /// Bookings without a settlement narrative, in booking order.
    plain: Vec<usize>,
    /// booking → already matched by amount.
    plain_used: Vec<bool>,
}

impl Claims {
    fn unclaimed(&self, f: usize) -> bool {
        at(&self.paid_by, f) == NONE
    }

    fn plain_free(&self, b: usize) -> bool {
        !self.plain_used.get(b).copied().unwrap_or(true)
    }

    /// `b` (a booking without a narrative) paid `group`.
    fn take_plain(&mut self, b: usize, group: Vec<usize>) {
        for &f in &group {
            set(&mut self.paid_by, f, b);
        }
        if let Some(u) = self.plain_used.get_mut(b) {
            *u = true;
        }
        self.groups.push((b, group));
    }
}

impl<'a> Cash<'a> {
    fn new(input: &'a MatchInput) -> Self {
        let files = input.files.as_slice();
        let mut forder: Vec<usize> = (0..files.len()).collect();
        forder.sort_by(|&a, &b| match (files.get(a), files.get(b)) {
            (Some(x), Some(y)) => (x.settlement_date, &x.file_id, x.channel, &x.merchant).cmp(&(
                y.settlement_date,
                &y.file_id,
                y.channel,
                &y.merchant,
            )),
            _ => a.cmp(&b),
        });
        let bookings = input.bookings.as_slice();
        let mut border: Vec<usize> = (0..bookings.len())
            .filter(|&b| bookings.get(b).is_some_and(|x| !x.booking.reversal))
            .collect();
        border.sort_by(|&a, &b| match (bookings.get(a), bookings.get(b)) {
            (Some(x), Some(y)) => {
                (x.booking.booking_date, x.id).cmp(&(y.booking.booking_date, y.id))
            }
            _ => a.cmp(&b),
        });
        let mut by_id: FxMap<&str, &PriorCash> = fx_map(input.prior_cash.len());
        for p in &input.prior_cash {
            by_id.entry(p.file_id.as_str()).or_insert(p);
        }
        let prior = files
            .iter()
            .map(|f| by_id.get(f.file_id.as_str()).copied())
            .collect();
        Cash {
            bd: input.business_date,
            horizon_days: input.credit_horizon_days,
            prior,
            files,
            bookings,
            forder,
            border,
        }
    }

    /// A booking's signed amount (credits positive).
    fn signed(&self, b: usize) -> i64 {
        self.bookings
            .get(b)
            .map_or(0, |x| x.booking.direction.signed(x.booking.amount_minor))
    }

    /// A file's declared net.
    fn net(&self, f: usize) -> i64 {
        self.files.get(f).map_or(0, |x| x.net_minor)
    }

    /// The files not yet claimed that `pick` accepts, in file order.
    fn unclaimed_files(
        &self,
        claims: &Claims,
        pick: impl Fn(&SettlementFile) -> bool,
    ) -> Vec<usize> {
        self.forder
            .iter()
            .copied()
            .filter(|&f| claims.unclaimed(f) && self.files.get(f).is_some_and(&pick))
            .collect()
    }

    /// A file's cash outcome in a run of another date.
    fn prior(&self, f: usize) -> Option<&'a PriorCash> {
        self.prior.get(f).copied().flatten()
    }

    /// Files whose cash a run of another date already spent are never claimed afresh: each is
    /// held by the booking that paid it when that booking is in the input (so the booking's
    /// other files still add up), else set aside.
    fn claim_prior(&self, claims: &mut Claims) {
        for &f in &self.forder {
            let Some(p) = self.prior(f).filter(|p| p.category.consumes_cash()) else {
                continue;
            };
            let b = p
                .booking_id
                .and_then(|id| {
                    self.border
                        .iter()
                        .copied()
                        .find(|&b| self.bookings.get(b).is_some_and(|x| x.id == id))
                })
                .unwrap_or(ELSEWHERE);
            set(&mut claims.paid_by, f, b);
        }
    }

    /// The files held for booking `b` by [`Self::claim_prior`], in file order.
    fn held_for(&self, claims: &Claims, b: usize) -> Vec<usize> {
        self.forder
            .iter()
            .copied()
            .filter(|&f| at(&claims.paid_by, f) == b)
            .collect()
    }

    /// In booking order, each settlement-narrative booking claims every named file not yet
    /// claimed (with the files it paid in another run); the others are kept for the fallback
    /// by amount (a booking that paid files in another run is not free for it).
    fn claim_by_narrative(&self, claims: &mut Claims) {
        for &b in &self.border {
            let Some(bk) = self.bookings.get(b) else {
                continue;
            };
            let held = self.held_for(claims, b);
            let Some((channel, named)) = parse_settlement_narrative(&bk.booking.narrative) else {
                claims.plain.push(b);
                if !held.is_empty() {
                    claims.take_plain(b, held);
                }
                continue;
            };
            let mut group = held;
            group.extend(self.unclaimed_files(claims, |x| {
                x.channel == channel
                    && named
                        .iter()
                        .any(|(m, d)| *m == x.merchant && *d == x.settlement_date)
            }));
            group.sort_by_key(|&f| self.forder.iter().position(|&g| g == f));
            if group.is_empty() {
                let last = named.iter().map(|(_, d)| *d).max().unwrap_or(self.bd);
                claims.narrative_unclaimed.push((b, last));
            } else {
                for &f in &group {
                    set(&mut claims.paid_by, f, b);
                }
                claims.groups.push((b, group));
            }
        }
    }

    /// Fallback by amount, one file at a time: a file whose net equals exactly one plain
    /// booking, and that no other unclaimed file's net equals.
    fn claim_single_files(&self, claims: &mut Claims) {
        for &f in &self.forder {
            if !claims.unclaimed(f) || self.net(f) == 0 {
                continue;
            }
            let amount = self.net(f);
            let same_files = self
                .forder
                .iter()
                .filter(|&&g| claims.unclaimed(g) && self.net(g) == amount)
                .count();
            let cands: Vec<usize> = claims
                .plain
                .iter()
                .copied()
                .filter(|&b| claims.plain_free(b) && self.signed(b) == amount)
                .collect();
            if let ([b], 1) = (cands.as_slice(), same_files) {
                claims.take_plain(*b, vec![f]);
            }
        }
    }

    /// Then whole merchants: the unclaimed files of one (channel, merchant) together, to the
    /// one plain booking whose amount is the sum of their nets.
    fn claim_merchants(&self, claims: &mut Claims) {
        let mut merchants: Vec<(Channel, &str)> = self
            .forder
            .iter()
            .filter(|&&f| claims.unclaimed(f))
            .filter_map(|&f| self.files.get(f).map(|x| (x.channel, x.merchant.as_str())))
            .collect();
        merchants.sort();
        merchants.dedup();
        for (channel, merchant) in merchants {
            let group =
                self.unclaimed_files(claims, |x| x.channel == channel && x.merchant == merchant);
            if group.len() < 2 {
                continue;
            }
            let sum: i128 = group.iter().map(|&f| i128::from(self.net(f))).sum();
            let cands: Vec<usize> = claims
                .plain
                .iter()
                .copied()
                .filter(|&b| claims.plain_free(b) && i128::from(self.signed(b)) == sum)
                .collect();
            if let [b] = cands.as_slice() {
                claims.take_plain(*b, group);
            }
        }
    }

    /// One outcome per file (in file order), then one per settlement booking that paid none.
    fn push_outcomes(&self, claims: &Claims, out: &mut Vec<Outcome>) {
        let mut file_outcomes: Vec<Option<Outcome>> = vec![None; self.files.len()];
        for (b, group) in &claims.groups {
            let sum: i128 = group.iter().map(|&f| i128::from(self.net(f))).sum();
            let credit = self.signed(*b);
            let ok = sum == i128::from(credit);
            for &f in group {
                let Some(file) = self.files.get(f) else {
                    continue;
                };
                let category = if ok {
                    Category::CashMatched
                } else {
                    Category::CashMismatch
                };
                let mut o = self.file_outcome(category, file, f);
                o.booking_id = self.bookings.get(*b).map(|x| x.id);
                o.settlement_minor = Some(credit);
                o.note = match (ok, group.len()) {
                    (true, 1) => "the file's net was credited",
                    (true, _) => "credited together with other files in one booking",
                    (false, 1) => "the credit differs from the file's net",
                    (false, _) => {
                        "one booking paid several files; it differs from the sum of their nets"
                    }
                };
                o.action = if ok { None } else { Some(ACT_CASH_MISMATCH) };
                if let Some(slot) = file_outcomes.get_mut(f) {
                    *slot = Some(o);
                }
            }
        }
        for &f in &self.forder {
            let Some(file) = self.files.get(f) else {
                continue;
            };
            let o = match file_outcomes.get_mut(f).and_then(Option::take) {
                Some(o) => o,
                None if at(&claims.paid_by, f) == ELSEWHERE => self.spent_elsewhere(file, f),
                None => self.unpaid_file_outcome(file, f),
            };
            out.push(o);
        }
        for &(b, last) in &claims.narrative_unclaimed {
            let Some(bk) = self.bookings.get(b) else {
                continue;
            };
            let mut o = Outcome::blank(Category::CashMismatch, Subject::Booking, last, self.bd);
            o.booking_id = Some(bk.id);
            o.settlement_minor = Some(self.signed(b));
            o.note = "a settlement credit that names no unpaid file of the run";
            o.action = Some(ACT_CASH_UNCLAIMED);
            out.push(o);
        }
    }

    /// The date whose run owns file `f`'s outcome of `category`: the run that already stands
    /// for the file's spent cash, or that already reported it missing while it still is;
    /// otherwise the later of the file's settlement date and this run's date (a file carried
    /// forward from an earlier, perhaps closed, day is this run's to report).
    fn owner(&self, f: usize, file: &SettlementFile, category: Category) -> NaiveDate {
        match self.prior(f) {
            Some(p) if p.category.consumes_cash() => p.owner_date,
            Some(p) if p.category == Category::CashMissing && category == Category::CashMissing => {
                p.owner_date
            }
            _ => file.settlement_date.max(self.bd),
        }
    }

    /// A file's outcome with its declared net as the ledger's side.
    fn file_outcome(&self, category: Category, file: &SettlementFile, f: usize) -> Outcome {
        let owner = self.owner(f, file, category);
        let mut o = Outcome::blank(category, Subject::File, owner, self.bd);
        o.file_id = Some(file.file_id.clone());
        o.ledger_minor = Some(file.net_minor);
        o
    }

    /// A file whose cash a run of another date spent on a booking not in this input: shown as
    /// that run found it, never counted here.
    fn spent_elsewhere(&self, file: &SettlementFile, f: usize) -> Outcome {
        let prior = self.prior(f);
        let category = prior.map_or(Category::CashMatched, |p| p.category);
        let mut o = self.file_outcome(category, file, f);
        o.booking_id = prior.and_then(|p| p.booking_id);
        o.note = "paid in the run of another date";
        o
    }

    /// A file no booking paid: fine when its net is zero; awaiting its credit up to the horizon
    /// (in business days after its settlement date); missing after it.
    fn unpaid_file_outcome(&self, file: &SettlementFile, f: usize) -> Outcome {
        let zero = file.net_minor == 0;
        let reported_missing = self
            .prior(f)
            .is_some_and(|p| p.category == Category::CashMissing);
        let age = business_days_between(file.settlement_date, self.bd);
        let category = if zero {
            Category::CashMatched
        } else if !reported_missing && age <= self.horizon_days {
            Category::AwaitingCredit
        } else {
            Category::CashMissing
        };
        let mut o = self.file_outcome(category, file, f);
        (o.note, o.action) = match category {
            Category::CashMatched => ("net zero: no credit due", None),
            Category::AwaitingCredit => ("awaiting the credit, within the horizon", None),
            _ => (
                "no credit for this file within the horizon",
                Some(ACT_CASH_MISSING),
            ),
        };
        o
    }
}

/// Gross, fee and net of each file from its lines, files by settlement date and id.
pub(super) fn netting(input: &MatchInput) -> Vec<FileNetting> {
    let mut rows: Vec<FileNetting> = input
        .files
        .iter()
        .map(|f| FileNetting {
            file_id: f.file_id.clone(),
            channel: f.channel,
            merchant: f.merchant.clone(),
            settlement_date: f.settlement_date,
            lines: 0,
            gross_minor: 0,
            fee_minor: 0,
            net_minor: 0,
            declared_lines: f.lines,
            declared_net_minor: f.net_minor,
            agrees: false,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.settlement_date, &a.file_id, a.channel, &a.merchant).cmp(&(
            b.settlement_date,
            &b.file_id,
            b.channel,
            &b.merchant,
        ))
    });
    let mut by_id: FxMap<&str, usize> = fx_map(rows.len());
    for (i, row) in rows.iter().enumerate() {
        by_id.entry(row.file_id.as_str()).or_insert(i);
    }
    let mut acc: Vec<(u64, i128, i128, i128)> = vec![(0, 0, 0, 0); rows.len()];
    for line in &input.lines {
        if let Some(a) = by_id
            .get(line.file_id.as_str())
            .and_then(|&i| acc.get_mut(i))
        {
            a.0 = a.0.saturating_add(1);
            a.1 += i128::from(line.record.gross_minor);
            a.2 += i128::from(line.record.fee_minor);
            a.3 += i128::from(line.record.net_minor);
        }
    }
    for (row, a) in rows.iter_mut().zip(acc) {
        row.lines = a.0;
        row.gross_minor = a.1;
        row.fee_minor = a.2;
        row.net_minor = a.3;
        row.agrees =
            row.lines == row.declared_lines && row.net_minor == i128::from(row.declared_net_minor);
    }
    rows
}

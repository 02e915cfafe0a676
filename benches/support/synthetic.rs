//! Synthetic reconciliation input: a deterministic day of payments, settlement lines, files and
//! collection-account bookings, for the matcher benchmark (`benches/recon.rs`) and the
//! matcher's own determinism test (`src/recon/matcher/tests.rs`).
//!
//! Included by `#[path]`, not compiled into the library. The including module must have
//! `matcher` (`onecard::recon::matcher`) and `records` (`onecard::bankfiles::records`) in scope:
//! this file reaches them through `super::`, so the same text serves the bench crate and the
//! library's tests.
//!
//! Depends on: the matcher's input types, the bank-file record types, chrono.

use chrono::{Duration, NaiveDate, NaiveTime};

use super::matcher::{
    Booking, Channel, LedgerPayment, MatchInput, SettlementFile, SettlementLine,
    DEFAULT_CREDIT_HORIZON_DAYS,
};
use super::records::{Direction, SettlementKind, SettlementRecord, StatementBooking};

/// A small, fast, deterministic generator (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The POS merchant of the synthetic day.
pub const SYN_POS: &str = "898440379930001";
/// The one-card merchant of the synthetic day.
pub const SYN_ONE: &str = "310000000000021";

/// A deterministic run of `n` payments of 2026-11-24 and `n` settlement lines for benchmarks:
/// a quarter one-card, the rest bank card (a few after the 23:00 cut-off, settled in the next
/// day's file); about 0.5% of payments without a line, 0.5% of lines without a payment and
/// 0.2% of lines with another amount; the POS and one-card files of the day are credited on
/// the statement, the POS file of the next day not yet.
pub fn synthetic(n: usize, seed: u64) -> MatchInput {
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
    let next = day.succ_opt().unwrap_or(day);
    let mut rng = SplitMix(seed);
    let mut payments = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let payment = synthetic_payment(i, n, day, &mut rng);
        let amount = payment.amount_minor;
        let roll = rng.next() % 1000;
        if roll >= 5 {
            let gross = if roll < 7 { amount + 1 } else { amount };
            lines.push(synthetic_line(&payment, gross, day, next, lines.len()));
        }
        if roll >= 995 {
            // A line the ledger does not have (keeps the line count near n).
            let mut ghost = payment.clone();
            ghost.reference = format!("X20261124-{i:08}");
            ghost.trace = ghost.trace.map(|t| format!("9{t}"));
            ghost.rrn = ghost.rrn.map(|r| format!("9{r}"));
            ghost.serial = ghost.serial.map(|s| format!("9{s}"));
            lines.push(synthetic_line(&ghost, amount, day, next, lines.len()));
        }
        payments.push(payment);
    }
    let (files, bookings) = synthetic_files(&lines, day, next);
    MatchInput {
        business_date: day,
        payments,
        lines,
        files,
        bookings,
        statement_closing_minor: None,
        ledger_1002_01_minor: 0,
        credit_horizon_days: DEFAULT_CREDIT_HORIZON_DAYS,
        business_day_cutoff: None,
        prior_cash: vec![],
        expected: vec![],
        settled_bookings: vec![],
    }
}

/// Payment `i` of `n` on `day`, spread over 08:00–23:59; every fourth one-card.
fn synthetic_payment(i: usize, n: usize, day: NaiveDate, rng: &mut SplitMix) -> LedgerPayment {
    let midnight = day.and_time(NaiveTime::MIN);
    let spread = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    let i64i = i64::try_from(i).unwrap_or(0);
    let one_card = i.is_multiple_of(4);
    let amount = 100 + i64::try_from(rng.next() % 100_000).unwrap_or(0);
    let secs = 8 * 3600 + (i64i.saturating_mul(16 * 3600 - 60) / spread);
    let txn_time = midnight + Duration::seconds(secs);
    let (merchant, terminal) = if one_card {
        (SYN_ONE, format!("YKT0003100{:02}", i % 20))
    } else {
        (SYN_POS, format!("1100{:04}", i % 50))
    };
    let seq = i / 50;
    LedgerPayment {
        id: format!("pay{i:09}"),
        reference: format!("P20261124-{i:08}"),
        channel: if one_card {
            Channel::OneCard
        } else {
            Channel::BankCard
        },
        business_date: day,
        amount_minor: amount,
        merchant: merchant.to_string(),
        terminal,
        batch: (!one_card).then(|| format!("{:06}", seq / 1_000_000 + 1)),
        trace: (!one_card).then(|| format!("{:06}", seq % 1_000_000)),
        rrn: (!one_card).then(|| format!("{:012}", 450_000_000_000u64 + i as u64)),
        serial: one_card.then(|| format!("2026112409{i:010}")),
        txn_time,
        voided: false,
        refunds: Vec::new(),
    }
}

/// The day's POS and one-card files and the next day's POS file, with the statement's
/// credits for the two files of the day.
fn synthetic_files(
    lines: &[SettlementLine],
    day: NaiveDate,
    next: NaiveDate,
) -> (Vec<SettlementFile>, Vec<Booking>) {
    let mut files = Vec::new();
    let mut bookings = Vec::new();
    for (k, (channel, merchant, date)) in [
        (Channel::BankCard, SYN_POS, day),
        (Channel::OneCard, SYN_ONE, day),
        (Channel::BankCard, SYN_POS, next),
    ]
    .into_iter()
    .enumerate()
    {
        let file_id = format!("F{}-{}", merchant, date.format("%Y%m%d"));
        let (count, net) = lines
            .iter()
            .filter(|l| l.file_id == file_id)
            .fold((0u64, 0i64), |(c, s), l| {
                (c + 1, s.saturating_add(l.record.net_minor))
            });
        if k < 2 {
            let label = if channel == Channel::BankCard {
                "POS清算"
            } else {
                "一卡通结算"
            };
            bookings.push(Booking {
                id: i64::try_from(k).unwrap_or(0) + 1,
                file_id: "STMT".to_string(),
                booking: synthetic_booking(
                    next,
                    net,
                    format!("{label} {merchant} {}", date.format("%Y%m%d")),
                ),
            });
        }
        files.push(SettlementFile {
            file_id,
            channel,
            merchant: merchant.to_string(),
            settlement_date: date,
            net_minor: net,
            lines: count,
        });
    }
    (files, bookings)
}

/// The acquirer's purchase line for `p`, settled `gross`, as line `at` of its file.
fn synthetic_line(
    p: &LedgerPayment,
    gross: i64,
    day: NaiveDate,
    next: NaiveDate,
    at: usize,
) -> SettlementLine {
    let late = p.channel == Channel::BankCard
        && p.txn_time.time() >= NaiveTime::from_hms_opt(23, 0, 0).unwrap_or(NaiveTime::MIN);
    let date = if late { next } else { day };
    let fee = gross * 6 / 10_000;
    let record = SettlementRecord {
        line: u64::try_from(at).unwrap_or(0) + 2,
        merchant: p.merchant.clone(),
        terminal: p.terminal.clone(),
        batch: p.batch.clone(),
        trace: p.trace.clone(),
        rrn: p.rrn.clone().or_else(|| p.serial.clone()),
        auth_code: None,
        masked_card: Some("622848******0123".to_string()),
        kind: SettlementKind::Purchase,
        gross_minor: gross,
        fee_minor: fee,
        net_minor: gross - fee,
        currency: "CNY".to_string(),
        txn_time: p.txn_time,
        settlement_date: date,
        original_ref: None,
        own_ref: (p.channel == Channel::OneCard).then(|| p.reference.clone()),
    };
    SettlementLine {
        id: i64::try_from(at).unwrap_or(0) + 1,
        file_id: format!("F{}-{}", p.merchant, date.format("%Y%m%d")),
        record,
    }
}

/// A collection-account booking on `date` of `signed` fen (credits positive).
pub fn synthetic_booking(date: NaiveDate, signed: i64, narrative: String) -> StatementBooking {
    StatementBooking {
        line: 1,
        account: "33050161234500001234".to_string(),
        currency: "CNY".to_string(),
        booking_date: date,
        value_date: Some(date),
        direction: if signed < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        amount_minor: signed.saturating_abs(),
        reversal: false,
        bank_ref: None,
        narrative,
        counterparty_account: None,
        counterparty_name: None,
        balance_after_minor: None,
    }
}

//! The latest run's results as tables: the three tiers (count per outcome category), the
//! balance tier's figures, the payments by channel and by department, and each settlement
//! file's netting with the settlement entry posted for it, and the files awaiting their credit
//! (with their age). The daily report shows the first two and the awaiting files.

use super::{amount_cell, ReconWords, CASH_TIER, STATEMENT_TIER, TRANSACTION_TIER};
use crate::catalogue::departments::Directory;
use crate::recon::runs::{self, Report, Run};
use crate::web::departments::department_cell;
use crate::web::i18n::{Common, Lang};
use crate::web::table::{Cell, Table};

/// The run's three tiers as a table: count per outcome category (the run's summary), with the
/// balance tier's result.
pub(in crate::web) fn tiers_table(run: &Run, t: &ReconWords, w: &Common) -> Table {
    let mut table = Table::new("tiers", t.tiers, t.no_run)
        .col(t.tier)
        .col(t.category)
        .num(w.count);
    // runs store the whole matcher Summary (every category), so no key is ever missing
    let count = |c: &str| run.summary.get(c).and_then(|v| v.as_i64()).unwrap_or(0);
    for (tier, cats) in [
        (t.tier_transaction, &TRANSACTION_TIER[..]),
        (t.tier_cash, &CASH_TIER[..]),
        (t.tier_statement, &STATEMENT_TIER[..]),
    ] {
        for &c in cats {
            let n = count(c.as_ref());
            let label = t.category(c).to_string();
            let cell = if !c.is_exception() || n == 0 {
                Cell::Text(label)
            } else {
                Cell::status("bad", label)
            };
            table.push(vec![Cell::text(tier), cell, Cell::Int(n)]);
        }
    }
    let (tone, text) = balance_result(run, t);
    table.push(vec![
        Cell::text(t.tier_balance),
        Cell::status(tone, text),
        Cell::Empty,
    ]);
    table
}

fn balance_result(run: &Run, t: &ReconWords) -> (&'static str, &'static str) {
    match run.balance.get("result").and_then(|v| v.as_str()) {
        Some("agree") => ("ok", t.balance_agree),
        Some("differ") => ("bad", t.balance_differ),
        _ => ("warn", t.balance_no_statement),
    }
}

/// The balance tier's figures.
pub(in crate::web) fn balance_table(run: &Run, t: &ReconWords) -> Table {
    let mut table = Table::new("balance", t.balance, t.no_run)
        .col(t.category)
        .num(t.statement_balance)
        .num(t.ledger_balance)
        .num(t.difference);
    let minor = |k: &str| run.balance.get(k).and_then(|v| v.as_i64());
    let cell = |v: Option<i64>| v.map_or(Cell::Empty, Cell::Money);
    let (tone, text) = balance_result(run, t);
    let (statement, ledger) = match minor("balance_minor") {
        Some(b) => (Some(b), Some(b)),
        None => (minor("statement_minor"), minor("ledger_minor")),
    };
    let difference = statement.zip(ledger).map(|(s, l)| s - l);
    table.push(vec![
        Cell::status(tone, text),
        cell(statement),
        cell(ledger),
        cell(difference),
    ]);
    table
}

/// The run's payments by channel and by department (code and name), and its settlement files'
/// netting (the files awaiting their credit are the workspace's: [`awaiting_table`]).
pub(super) fn group_tables(
    report: &Report,
    (t, w): (&ReconWords, &Common),
    directory: &Directory,
    lang: Lang,
) -> Vec<Table> {
    let channel = |key: &str| vec![Cell::text(w.channel(key))];
    let department = |key: &str| vec![Cell::text(key), department_cell(directory, key, lang)];
    vec![
        group_table(
            ("by_channel", t.by_channel),
            &[t.key_channel],
            &channel,
            &report.by_channel,
            (t, w),
        ),
        group_table(
            ("by_department", t.by_department),
            &[t.key_department, t.department_name],
            &department,
            &report.by_department,
            (t, w),
        ),
        netting_table(report, t),
    ]
}

/// The settlement files awaiting their credit as of the run, oldest first, with their age in
/// business days: not exceptions, carried forward to the next runs (DESIGN §5).
pub(in crate::web) fn awaiting_table(report: &Report, t: &ReconWords) -> Table {
    let mut table = Table::new("awaiting_credit", t.awaiting, t.no_awaiting)
        .col(t.file_name)
        .col(t.spec)
        .col(t.merchant)
        .col(t.settlement_date)
        .num(t.age_business_days)
        .num(t.net)
        .num(t.in_transit);
    for a in &report.awaiting_credit {
        table.push(vec![
            Cell::text(&a.file_id),
            Cell::text(&a.spec),
            Cell::text(a.merchant.clone().unwrap_or_default()),
            a.settlement_date.map_or(Cell::Empty, Cell::Date),
            Cell::Int(i64::from(a.age_business_days)),
            amount_cell(Some(&a.net)),
            amount_cell(Some(&a.gross)),
        ]);
    }
    table
}

/// Payments per key: the key's columns (`keys`, filled by `key_cells`), then the figures.
fn group_table(
    (id, caption): (&'static str, &str),
    keys: &[&str],
    key_cells: &dyn Fn(&str) -> Vec<Cell>,
    groups: &[runs::Group],
    (t, w): (&ReconWords, &Common),
) -> Table {
    let mut table = Table::new(id, caption, t.no_run);
    for key in keys {
        table = table.col(*key);
    }
    table = table
        .num(t.payments)
        .num(w.amount)
        .num(t.matched_count)
        .num(t.exception_count);
    let int = |n: u64| Cell::Int(i64::try_from(n).unwrap_or(i64::MAX));
    for g in groups {
        let mut row = key_cells(&g.key);
        row.extend([
            int(g.payments),
            amount_cell(Some(&g.amount)),
            int(g.matched),
            int(g.exceptions),
        ]);
        table.push(row);
    }
    table
}

fn netting_table(report: &Report, t: &ReconWords) -> Table {
    let mut table = Table::new("netting", t.netting, t.no_files)
        .col(t.file_name)
        .col(t.spec)
        .col(t.merchant)
        .col(t.settlement_date)
        .num(t.lines)
        .num(t.gross)
        .num(t.fee)
        .num(t.net)
        .col(t.entry);
    for n in &report.netting {
        table.push(vec![
            Cell::text(&n.file_id),
            Cell::text(&n.spec),
            Cell::text(n.merchant.clone().unwrap_or_default()),
            n.settlement_date.map_or(Cell::Empty, Cell::Date),
            Cell::Int(n.lines),
            amount_cell(Some(&n.gross)),
            amount_cell(Some(&n.fee)),
            amount_cell(Some(&n.net)),
            match n.entry_seq {
                Some(seq) => Cell::status("ok", format!("#{seq}")),
                None => Cell::status("warn", t.not_posted),
            },
        ]);
    }
    table
}

/// The run's supervision findings: debits from the collection account nothing explains.
pub(in crate::web) fn findings_table(
    report: &Report,
    t: &ReconWords,
    lang: crate::web::i18n::Lang,
) -> Table {
    let mut table = Table::new("findings", t.findings, t.no_findings)
        .col(t.exception_id)
        .col(t.booking)
        .num(t.settlement_amount)
        .col(t.filter_status)
        .col(t.suggested_action);
    for e in &report.supervision_findings {
        table.push(vec![
            Cell::text(&e.id),
            e.booking_id.map_or(Cell::Empty, Cell::Int),
            e.settlement_minor.map_or(Cell::Empty, Cell::Money),
            Cell::status("bad", t.status(e.status)),
            Cell::Prose(e.suggestion(lang).to_string()),
        ]);
    }
    table
}

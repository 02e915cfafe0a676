//! Matcher benchmark: 1,000,000 payments against 1,000,000 settlement lines (0.5% missing on
//! each side, 0.2% amount differences; `support/synthetic.rs`), matched in memory.
//!
//! The in-run baseline is the least any transaction matcher must do on the same data: one hash
//! join of payments to lines on RRN (or the one-card reference), comparing amounts — no other
//! keys, no voids or refunds, no cash tier, no outcomes kept.
//!
//! ```text
//! cargo bench --bench recon                  # 1M × 1M
//! cargo bench --bench recon -- --n 200000
//! cargo bench --bench recon -- --db          # the full run on SQLite
//! cargo bench --bench recon -- --db --backend both   # … on SQLite, then PostgreSQL
//! cargo bench --bench recon -- --db --counter        # payments at the counter during the run
//! ```

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDateTime;

use onecard::bankfiles::records;
use onecard::recon::matcher::{self, reconcile, Channel};

#[path = "support/synthetic.rs"]
mod synthetic;
use synthetic::synthetic;

#[path = "support/duckdb.rs"]
mod duckdb;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if args.iter().any(|a| a == "--db") {
        let backend = args
            .iter()
            .position(|a| a == "--backend")
            .and_then(|i| args.get(i + 1))
            .map_or("sqlite", String::as_str);
        let backends: &[&str] = match backend {
            "both" => &["sqlite", "postgres"],
            "sqlite" => &["sqlite"],
            "postgres" => &["postgres"],
            other => panic!("--backend {other}: sqlite, postgres or both"),
        };
        let counter = args.iter().any(|a| a == "--counter");
        for backend in backends {
            if counter {
                counter_during_run(n, backend);
            } else {
                full_run(n, backend);
            }
        }
        return;
    }
    let t = Instant::now();
    let input = synthetic(n, 1);
    println!(
        "recon: {} payments, {} settlement lines, {} files (built in {:.2} s)",
        input.payments.len(),
        input.lines.len(),
        input.files.len(),
        t.elapsed().as_secs_f64()
    );
    let mut best_base = f64::MAX;
    let mut best_match = f64::MAX;
    let mut summary = String::new();
    let mut agreeing = 0u64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut by_key: HashMap<&str, i64> = HashMap::with_capacity(input.lines.len());
        for l in &input.lines {
            let key = l
                .record
                .own_ref
                .as_deref()
                .or(l.record.rrn.as_deref())
                .unwrap_or("");
            by_key.insert(key, l.record.gross_minor);
        }
        let mut agree = 0u64;
        for p in &input.payments {
            let key = match p.channel {
                Channel::OneCard => p.reference.as_str(),
                Channel::BankCard => p.rrn.as_deref().unwrap_or(""),
            };
            if by_key.get(key) == Some(&p.amount_minor) {
                agree += 1;
            }
        }
        agreeing = std::hint::black_box(agree);
        best_base = best_base.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let result = reconcile(&input);
        best_match = best_match.min(t.elapsed().as_secs_f64());
        summary = serde_json::to_string(&result.summary).unwrap_or_default();
        std::hint::black_box(&result);
    }
    println!("  summary: {summary}");
    println!("  hash join on one key (baseline): {best_base:.3} s ({agreeing} payments agree)");
    println!(
        "  three-tier matcher:              {best_match:.3} s ({:.2}× the baseline)",
        best_match / best_base
    );
    let day = format!("{} × {}", input.payments.len(), input.lines.len());
    support::figure(
        "reconciliation",
        "-",
        &format!("matcher {day}, in memory"),
        best_match,
        "s",
        Some(("a hash join on one key", best_base)),
        support::Target::AtMost(0.5 * input.payments.len() as f64 / 1e6),
    );
    // DuckDB: the same one-key join over the same rows.
    match duckdb::baseline(
        input.payments.iter().map(|p| (pay_key(p), p.amount_minor)),
        input
            .lines
            .iter()
            .map(|l| (line_key(l), l.record.gross_minor)),
        3,
    ) {
        Ok(d) => {
            assert_eq!(
                d.agree, agreeing,
                "DuckDB's join and the bench's own disagree on the same rows"
            );
            println!(
                "  DuckDB {} one-key join ({} threads): {:.3} s ({:.2}× the hash join; the matcher is {:.2}× DuckDB)",
                d.version,
                d.threads,
                d.seconds,
                d.seconds / best_base,
                best_match / d.seconds
            );
            support::figure(
                "reconciliation",
                "-",
                &format!(
                    "DuckDB {} one-key join {day} ({} threads)",
                    d.version, d.threads
                ),
                d.seconds,
                "s",
                Some(("a hash join on one key", best_base)),
                support::Target::None,
            );
        }
        Err(why) => println!("  DuckDB baseline skipped: {why}"),
    }
}

/// `--db`: the full run — the same synthetic day stored in a fresh SQLite database (rows
/// written directly, as a night's imports and a day's payments would have left them), then
/// `recon::runs::run`: load, match, persist outcomes and exceptions, post settlement entries.
#[path = "support/mod.rs"]
mod support;

#[path = "support/counter.rs"]
mod counter;

fn full_run(n: usize, backend: &str) {
    use diesel::connection::SimpleConnection;

    let input = synthetic(n, 1);
    let db = support::fresh_db(backend, "recon");
    let ctx = support::open(&db, 256);
    let mut conn = ctx.conn().unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    store_day(&mut conn, &input, backend);
    println!(
        "  stored {} payments and {} lines in {:.2} s (setup, not measured)",
        input.payments.len(),
        input.lines.len(),
        t.elapsed().as_secs_f64()
    );
    let date = input.business_date;
    drop(input);
    // In-run baseline: the database's own one-key join of the same payments to their lines
    // (RRN, or the one-card serial the line carries as its RRN), written to a table — the
    // least a full run must do here (read both sides, write a row per payment), in one
    // statement with no round trips, no other keys, no exceptions, no ledger.
    let t = Instant::now();
    conn.batch_execute(
        "CREATE TABLE bench_join AS \
         SELECT p.id AS payment_id, l.id AS line_id, p.amount_minor - l.gross_minor AS diff \
         FROM payments p JOIN payment_cards c ON c.payment_id = p.id \
         JOIN settlement_records l ON l.rrn = COALESCE(c.rrn, c.serial)",
    )
    .unwrap_or_else(|e| panic!("baseline join: {e}"));
    let base = t.elapsed().as_secs_f64();
    conn.batch_execute("DROP TABLE bench_join")
        .unwrap_or_else(|e| panic!("baseline drop: {e}"));
    println!(
        "  baseline on {backend}: one-key join of payments to lines into a table: {base:.2} s"
    );
    let t = Instant::now();
    let settings = onecard::recon::runs::Settings::default();
    // Where the time goes: each phase's duration, from the run's own progress report.
    let mut phases: Vec<(String, Instant)> = Vec::new();
    let run = onecard::recon::runs::run_with_progress(
        &mut conn,
        &ctx.writer,
        &settings,
        date,
        "bench",
        &mut |phase| phases.push((format!("{phase:?}"), Instant::now())),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let end = Instant::now();
    let full = t.elapsed().as_secs_f64();
    println!(
        "  full run on {backend} (load, match, persist, post): {full:.2} s ({:.1}× the baseline) — {} open exceptions, summary {}",
        full / base,
        run.open_exceptions,
        run.summary
    );
    let ends = phases.iter().skip(1).map(|(_, at)| *at).chain([end]);
    let split: Vec<String> = phases
        .iter()
        .zip(ends)
        .map(|((name, from), to)| format!("{name} {:.2} s", (to - *from).as_secs_f64()))
        .collect();
    println!("    phases: {}", split.join(", "));
    let day = format!("{n} × {n}");
    let target = if backend == "sqlite" {
        support::Target::AtMost(10.0 * n as f64 / 1e6)
    } else {
        support::Target::None
    };
    let baseline = Some(("the database's one-key join into a table", base));
    let what = format!("full run {day}, stored (load, match, store, post)");
    support::figure(
        "reconciliation",
        backend,
        &what,
        full,
        "s",
        baseline,
        target,
    );
    let ends = phases.iter().skip(1).map(|(_, at)| *at).chain([end]);
    for ((name, from), to) in phases.iter().zip(ends) {
        let what = format!("  of which {}", name.to_lowercase());
        let secs = (to - *from).as_secs_f64();
        support::figure(
            "reconciliation",
            backend,
            &what,
            secs,
            "s",
            None,
            support::Target::None,
        );
    }
}

/// The synthetic day written into `conn`'s database directly, as a night's imports and a day's
/// payments would have left it (setup, not measured).
fn store_day(conn: &mut onecard::db::DbConn, input: &matcher::MatchInput, backend: &str) {
    use diesel::connection::SimpleConnection;

    // Payments reference their capture entries; this day has none, so the check is off while
    // the rows are written (this connection only; on PostgreSQL by replica mode, which skips
    // the foreign-key triggers).
    let (off, on) = if backend == "sqlite" {
        (
            "PRAGMA foreign_keys = OFF; BEGIN",
            "COMMIT; PRAGMA foreign_keys = ON",
        )
    } else {
        (
            "SET session_replication_role = replica; BEGIN",
            "COMMIT; SET session_replication_role = origin",
        )
    };
    conn.batch_execute(off).unwrap_or_else(|e| panic!("{e}"));
    let now = chrono::Utc::now().naive_utc();
    store_payments(conn, input, now);
    store_settlement(conn, input, now);
    conn.batch_execute(on).unwrap_or_else(|e| panic!("{e}"));
    // Statistics as a real night finds them: the day's payments came over its hours and
    // autovacuum analysed them as they did; an import analyses its records itself. (PostgreSQL;
    // SQLite keeps none.) Before the baseline, so both read the same.
    onecard::db::refresh_statistics(
        conn,
        &[
            "payments",
            "payment_cards",
            "settlement_files",
            "settlement_records",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// `--db --counter`: payments at the counter (`support/counter.rs`) alone, then during the full
/// run of the same synthetic day; every payment must answer 201 (issue 19 part 5).
fn counter_during_run(n: usize, backend: &str) {
    let input = synthetic(n, 1);
    let date = input.business_date;
    let m = counter::measure_during(
        backend,
        std::time::Duration::from_secs(4),
        |ctx| {
            let mut conn = ctx.conn().unwrap_or_else(|e| panic!("{e}"));
            store_day(&mut conn, &input, backend);
        },
        |ctx, ()| {
            let mut conn = ctx.conn().unwrap_or_else(|e| panic!("{e}"));
            let settings = onecard::recon::runs::Settings::default();
            let started = Instant::now();
            let run = onecard::recon::runs::run_with_progress(
                &mut conn,
                &ctx.writer,
                &settings,
                date,
                "bench",
                &mut |phase| {
                    println!(
                        "  {phase:?} begins {:.2} s into the run",
                        started.elapsed().as_secs_f64()
                    )
                },
            )
            .unwrap_or_else(|e| {
                eprintln!("FAILED: the run: {e}");
                std::process::exit(1)
            });
            run.summary["matched"].as_u64().unwrap_or(0)
        },
    );
    m.print(&format!("counter-{backend}"), "the run");
    println!(
        "  the run under that load: {:.2} s, {} payments matched",
        m.work_seconds, m.records
    );
    support::figure(
        "reconciliation",
        backend,
        &format!("counter p99 during a full run {n} × {n}"),
        m.during.pct(0.99),
        "ms",
        Some(("the counter's p99 alone", m.alone.pct(0.99))),
        support::Target::AtMost(100.0),
    );
}

/// The synthetic day's payments and their card details, as captures would have left them.
fn store_payments(conn: &mut onecard::db::DbConn, input: &matcher::MatchInput, now: NaiveDateTime) {
    use diesel::prelude::*;
    use onecard::db::schema::{payment_cards, payments};
    use onecard::insert_chunked;

    let pay_rows: Vec<_> = input
        .payments
        .iter()
        .map(|p| {
            (
                payments::id.eq(p.id.clone()),
                payments::reference.eq(p.reference.clone()),
                payments::channel.eq(match p.channel {
                    Channel::OneCard => "one_card",
                    Channel::BankCard => "bank_card",
                }),
                payments::department.eq("D03"),
                payments::window_code.eq("W01"),
                payments::amount_minor.eq(p.amount_minor),
                payments::business_date.eq(p.business_date),
                payments::status.eq(if p.voided { "voided" } else { "captured" }),
                payments::entry_seq.eq(0i64),
                payments::created_at.eq(now),
                payments::created_by.eq("bench"),
            )
        })
        .collect();
    insert_chunked!(&mut *conn, payments::table, pay_rows; 256, 64, 16, 4, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let card_rows: Vec<_> = input
        .payments
        .iter()
        .map(|p| {
            (
                payment_cards::payment_id.eq(p.id.clone()),
                payment_cards::merchant_id.eq(p.merchant.clone()),
                payment_cards::terminal_id.eq(p.terminal.clone()),
                payment_cards::batch_no.eq(p.batch.clone()),
                payment_cards::trace_no.eq(p.trace.clone()),
                payment_cards::rrn.eq(p.rrn.clone()),
                payment_cards::serial.eq(p.serial.clone()),
                payment_cards::masked_card.eq("622848******0123"),
                payment_cards::txn_time
                    .eq(format!("{}+08:00", p.txn_time.format("%Y-%m-%dT%H:%M:%S"))),
            )
        })
        .collect();
    insert_chunked!(&mut *conn, payment_cards::table, card_rows; 256, 64, 16, 4, 1)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The synthetic day's settlement files and their lines, as the night's imports would have
/// left them.
fn store_settlement(
    conn: &mut onecard::db::DbConn,
    input: &matcher::MatchInput,
    now: NaiveDateTime,
) {
    use diesel::prelude::*;
    use onecard::db::schema::{settlement_files, settlement_records};
    use onecard::insert_chunked;

    for f in &input.files {
        diesel::insert_into(settlement_files::table)
            .values((
                settlement_files::id.eq(&f.file_id),
                settlement_files::spec.eq(match f.channel {
                    Channel::OneCard => "onecard-settlement-csv",
                    Channel::BankCard => "pos-settlement-fixed-width",
                }),
                settlement_files::sha256.eq(&f.file_id),
                settlement_files::produces.eq("settlement"),
                settlement_files::size_bytes.eq(0i64),
                settlement_files::records.eq(f.lines as i64),
                settlement_files::totals.eq("{}"),
                settlement_files::facts.eq("{}"),
                settlement_files::merchant.eq(&f.merchant),
                settlement_files::settlement_date.eq(f.settlement_date),
                settlement_files::imported_at.eq(now),
                settlement_files::imported_by.eq("bench"),
            ))
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let line_rows: Vec<_> = input
        .lines
        .iter()
        .map(|l| {
            let r = &l.record;
            (
                settlement_records::file_id.eq(l.file_id.clone()),
                settlement_records::line_no.eq(r.line as i64),
                settlement_records::kind.eq::<&'static str>(r.kind.into()),
                settlement_records::merchant.eq(r.merchant.clone()),
                settlement_records::terminal.eq(r.terminal.clone()),
                settlement_records::batch.eq(r.batch.clone()),
                settlement_records::trace.eq(r.trace.clone()),
                settlement_records::rrn.eq(r.rrn.clone()),
                settlement_records::gross_minor.eq(r.gross_minor),
                settlement_records::fee_minor.eq(r.fee_minor),
                settlement_records::net_minor.eq(r.net_minor),
                settlement_records::currency.eq(r.currency.clone()),
                settlement_records::txn_time.eq(r.txn_time),
                settlement_records::settlement_date.eq(r.settlement_date),
                settlement_records::original_ref.eq(r.original_ref.clone()),
                settlement_records::own_ref.eq(r.own_ref.clone()),
            )
        })
        .collect();
    insert_chunked!(&mut *conn, settlement_records::table, line_rows; 256, 64, 16, 4, 1)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The one-key join's key of a line: its own reference (one-card), else its RRN.
fn line_key(l: &matcher::SettlementLine) -> &str {
    let r = &l.record;
    r.own_ref.as_deref().or(r.rrn.as_deref()).unwrap_or("")
}

/// The one-key join's key of a payment: its reference (one-card), else its RRN.
fn pay_key(p: &matcher::LedgerPayment) -> &str {
    match p.channel {
        Channel::OneCard => p.reference.as_str(),
        Channel::BankCard => p.rrn.as_deref().unwrap_or(""),
    }
}

//! Ledger writer benchmark: group commit against one transaction per entry, on SQLite and
//! PostgreSQL, then trial balance and verify at the final ledger size.
//!
//! ```text
//! cargo bench --bench ledger_writer                      # both backends, 1M entries each
//! cargo bench --bench ledger_writer -- --backend sqlite --total 200000
//! ```
//!
//! PostgreSQL: `ONECARD_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server where the benchmark may create and drop its own database.
//!
//! Every figure is printed with the baseline measured in the same run, and the ratio.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use onecard::app::AppContext;
use onecard::ledger::{repo, EntryKind, NewEntry, Posting};
use support::{figure, fresh_db, open, Target};

struct Args {
    backends: Vec<String>,
    writers: usize,
    total: i64,
    baseline_entries: i64,
}

fn parse_args() -> Args {
    let mut args = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        writers: 64,
        total: 1_000_000,
        baseline_entries: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--backend" => args.backends = it.next().map(|b| vec![b]).unwrap_or_default(),
            "--writers" => args.writers = it.next().and_then(|v| v.parse().ok()).unwrap_or(64),
            "--total" => args.total = it.next().and_then(|v| v.parse().ok()).unwrap_or(1_000_000),
            "--baseline" => {
                args.baseline_entries = it.next().and_then(|v| v.parse().ok()).unwrap_or(10_000)
            }
            // cargo bench passes --bench; ignore what we do not know.
            _ => {}
        }
    }
    args
}

/// A payment-sized entry: one capture, two postings, rotating over the revenue subjects.
fn capture(i: i64) -> NewEntry {
    const SUBJECTS: [&str; 4] = [
        "2103.1030401",
        "2103.1030409",
        "2103.1030414",
        "2103.1030416",
    ];
    let amount = 1_000 + (i % 50_000);
    NewEntry {
        business_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
            + chrono::Days::new((i / 50_000) as u64),
        kind: EntryKind::Capture,
        memo: format!("bench payment {i}"),
        reference: Some(format!("P{i:012}")),
        reverses: None,
        actor: "bench".into(),
        postings: vec![
            Posting::debit("1218.01", amount),
            Posting::credit(SUBJECTS[(i % 4) as usize], amount),
        ],
    }
}

/// Posts `count` entries from `writers` threads; returns entries per second.
fn drive(ctx: &AppContext, writers: usize, count: i64, start_at: i64) -> f64 {
    let next = Arc::new(AtomicI64::new(start_at));
    let failed = Arc::new(AtomicU64::new(0));
    let (entries0, batches0) = (
        onecard::metrics::entries_posted(),
        onecard::metrics::batches_committed(),
    );
    let end = start_at + count;
    let started = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let writer = ctx.writer.clone();
            let next = next.clone();
            let failed = failed.clone();
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                if let Err(e) = writer.post_blocking(capture(i)) {
                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("post failed: {e}");
                    }
                }
            })
        })
        .collect();
    let mut last_report = Instant::now();
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        if last_report.elapsed() > Duration::from_secs(5) {
            let done = next.load(Ordering::Relaxed).min(end) - start_at;
            eprintln!(
                "  … {done}/{count} entries, {:.0}/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    for h in handles {
        if h.join().is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("FAILED: {failed} of {count} posts did not commit (first ones above); no figure is reported");
        std::process::exit(1);
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let batches = onecard::metrics::batches_committed() - batches0;
    let entries = onecard::metrics::entries_posted() - entries0;
    eprintln!(
        "  {entries} entries in {batches} transactions: {:.1} entries per transaction",
        entries as f64 / batches.max(1) as f64
    );
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = parse_args();
    println!(
        "onecard ledger writer benchmark — {} writers, {} cores, payment-sized entries (2 postings)",
        args.writers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for backend in &args.backends {
        println!("\n## {backend}");
        // Baseline: the same writer with one transaction per entry.
        let db = fresh_db(backend, "baseline");
        let ctx = open(&db, 1);
        let baseline = drive(&ctx, args.writers, args.baseline_entries, 0);
        println!(
            "one transaction per entry : {baseline:>9.0} entries/s  ({} entries)",
            args.baseline_entries
        );
        drop(ctx);
        drop(db);

        let db = fresh_db(backend, "group");
        let ctx = open(&db, onecard::ledger::writer::DEFAULT_MAX_BATCH);
        let measured = args.total.min(200_000);
        let grouped = drive(&ctx, args.writers, measured, 0);
        println!(
            "group commit              : {grouped:>9.0} entries/s  ({measured} entries)  = {:.1}× the baseline",
            grouped / baseline
        );
        let writer_target = if backend == "sqlite" {
            60_000.0
        } else {
            12_000.0
        };
        figure(
            "ledger",
            backend,
            &format!(
                "group commit, {} writers, first {measured} entries",
                args.writers
            ),
            grouped,
            "entries/s",
            Some(("one transaction per entry", baseline)),
            Target::AtLeast(writer_target),
        );
        if args.total > measured {
            eprintln!(
                "filling the ledger to {} entries for the read figures…",
                args.total
            );
            let fill = drive(&ctx, args.writers, args.total - measured, measured);
            println!(
                "group commit (fill)       : {fill:>9.0} entries/s  ({} entries)  = {:.1}× the baseline",
                args.total - measured,
                fill / baseline
            );
        }
        let mut conn = ctx.conn().unwrap_or_else(|e| panic!("conn: {e}"));
        let mut tb_times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            let tb = repo::trial_balance(&mut conn, &ctx.chart.current(), None)
                .unwrap_or_else(|e| panic!("tb: {e}"));
            tb_times.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(tb
                .iter()
                .all(|f| f.debit_total_minor == f.credit_total_minor));
        }
        let mut recompute_times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let _ = repo::trial_balance(
                &mut conn,
                &ctx.chart.current(),
                NaiveDate::from_ymd_opt(2099, 1, 1),
            )
            .unwrap_or_else(|e| panic!("tb: {e}"));
            recompute_times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (tb, as_of) = (median(tb_times), median(recompute_times));
        println!(
            "trial balance at {} entries: {tb:.2} ms median (maintained balances); as_of via per-day totals {as_of:.2} ms",
            args.total,
        );
        for (what, ms) in [("trial balance", tb), ("trial balance as_of a date", as_of)] {
            figure(
                "ledger",
                backend,
                &format!("{what} at {} entries", args.total),
                ms,
                "ms",
                None,
                Target::AtMost(5.0),
            );
        }
        // Verify, against an in-run baseline: reading the same entries and postings back in
        // the pages an entry list reads (repo::load_entries, 20,000 at a time), nothing
        // checked — the least a verifier has to do. Median of three runs each.
        let mut read_times = Vec::new();
        let mut verify_times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let (mut after, mut read) = (0, 0i64);
            loop {
                let page = repo::load_entries(&mut conn, after, i64::MAX, 20_000)
                    .unwrap_or_else(|e| panic!("read back: {e}"));
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                read += page.len() as i64;
                after = last;
            }
            read_times.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let report = repo::verify(&mut conn, &ctx.chart.current(), |_, _| {})
                .unwrap_or_else(|e| panic!("verify: {e}"));
            verify_times.push(t.elapsed().as_secs_f64());
            // A benchmark of a verifier that found problems, or did not see every entry,
            // measures nothing: fail loudly.
            assert!(report.ok, "verify found problems: {:?}", report.problems);
            assert_eq!(
                read, report.entries,
                "the read-back saw {read} entries, verify {}",
                report.entries
            );
        }
        let (read, verified) = (median(read_times), median(verify_times));
        println!(
            "read back {} entries        : {read:.2} s median (baseline: pages of 20,000, nothing checked)",
            args.total
        );
        println!(
            "verify {} entries           : {verified:.2} s median (ok; chain + balances + seals recomputed)  = {:.2}× the read-back",
            args.total,
            verified / read
        );
        figure(
            "ledger",
            backend,
            &format!("verify {} entries", args.total),
            verified,
            "s",
            Some(("reading them back", read)),
            Target::AtMost(3.0 * args.total as f64 / 1e6),
        );
    }
}

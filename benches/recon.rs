//! Matcher benchmark: 1,000,000 payments against 1,000,000 settlement lines (0.5% missing on
//! each side, 0.2% amount differences; `recon::matcher::synthetic`), matched in memory.
//!
//! The in-run baseline is the least any transaction matcher must do on the same data: one hash
//! join of payments to lines on RRN (or the one-card reference), comparing amounts — no other
//! keys, no voids or refunds, no cash tier, no outcomes kept.
//!
//! ```text
//! cargo bench --bench recon                  # 1M × 1M
//! cargo bench --bench recon -- --n 200000
//! ```

use std::collections::HashMap;
use std::time::Instant;

use onecard::recon::matcher::{reconcile, synthetic, Channel};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
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
        std::hint::black_box(agree);
        best_base = best_base.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let result = reconcile(&input);
        best_match = best_match.min(t.elapsed().as_secs_f64());
        summary = serde_json::to_string(&result.summary).unwrap_or_default();
        std::hint::black_box(&result);
    }
    println!("  summary: {summary}");
    println!("  hash join on one key (baseline): {best_base:.3} s");
    println!(
        "  three-tier matcher:              {best_match:.3} s ({:.1}× the baseline)",
        best_match / best_base
    );
}

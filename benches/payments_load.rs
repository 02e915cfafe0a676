//! Payment intake load generator: 64 concurrent clients POST /v1/payments over loopback to a
//! real onecard server, on SQLite and PostgreSQL, with group commit and — as the in-run
//! baseline — with one transaction per payment (`max_batch = 1`).
//!
//! ```text
//! cargo bench --bench payments_load                         # both backends
//! cargo bench --bench payments_load -- --backend sqlite --payments 20000 --clients 64
//! ```
//!
//! PostgreSQL: `ONECARD_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server where the benchmark may create and drop its own database.
//!
//! Every request must answer 201: one refusal, error or timeout and the benchmark stops with a
//! non-zero exit after printing what came back — a throughput that counts refusals is none.
//! The per-token rate limit stays in the request path but is raised above the offered load
//! (the load generator is one token standing for 64 counters; the limiter has its own tests).

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use support::{figure, fresh_db, Db, Target};

struct Args {
    backends: Vec<String>,
    clients: usize,
    payments: u64,
    baseline: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        clients: 64,
        payments: 20_000,
        baseline: 3_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--backend" => a.backends = it.next().map(|b| vec![b]).unwrap_or_default(),
            "--clients" => a.clients = it.next().and_then(|v| v.parse().ok()).unwrap_or(64),
            "--payments" => a.payments = it.next().and_then(|v| v.parse().ok()).unwrap_or(20_000),
            "--baseline" => a.baseline = it.next().and_then(|v| v.parse().ok()).unwrap_or(3_000),
            _ => {}
        }
    }
    a
}

fn payment(i: u64) -> serde_json::Value {
    json!({
        "channel": "bank_card", "department": "D03", "window": format!("W{:02}", i % 12 + 1),
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}],
        "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": format!("{:06}", i % 1_000_000), "rrn": format!("{:012}", i), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
}

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Starts a server on `db` with `max_batch`, drives `count` payments from `clients` clients.
fn run(db: &Db, max_batch: usize, clients: usize, count: u64) -> Run {
    let served = support::DemoServer::start(db, max_batch, "load generator");
    let (ctx, token, addr) = (served.ctx.clone(), served.token.clone(), served.addr);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut latencies: Vec<f64> = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let tasks = (0..clients).map(|_| {
            let client = client.clone();
            let next = next.clone();
            let errors = errors.clone();
            let token = token.clone();
            async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let body = payment(i).to_string();
                    let t = Instant::now();
                    let res = client
                        .post(format!("http://{addr}/v1/payments"))
                        .bearer_auth(&token)
                        .insert_header(("Idempotency-Key", format!("load-{i}")))
                        .insert_header(("content-type", "application/json"))
                        .send_body(body)
                        .await;
                    match res {
                        Ok(mut r) if r.status().as_u16() == 201 => {
                            let _ = r.body().await;
                            lat.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        Ok(mut r) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                let b = r.body().await.unwrap_or_default();
                                eprintln!("  {}: {}", r.status(), String::from_utf8_lossy(&b));
                            }
                        }
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("  request failed: {e}");
                            }
                        }
                    }
                }
                lat
            }
        });
        futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .flatten()
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    served.stop();
    let failed = errors.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!(
            "FAILED: {failed} of {count} payment requests did not answer 201 (first ones above); no figure is reported"
        );
        std::process::exit(1);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let mut conn = ctx.conn().unwrap_or_else(|e| panic!("conn: {e}"));
    let report = onecard::ledger::repo::verify(&mut conn, &ctx.chart.current(), |_, _| {})
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(report.ok, "ledger verifies after the run");
    Run {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn main() {
    let args = parse_args();
    println!(
        "onecard payment intake load — {} clients over loopback, {} cores, one fee line per payment",
        args.clients,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for backend in &args.backends {
        println!("\n## {backend}");
        let db = fresh_db(backend, "baseline");
        let base = run(&db, 1, args.clients, args.baseline);
        println!(
            "one transaction per payment : {:>7.0} payments/s  p50 {:>6.1} ms  p99 {:>6.1} ms  ({} payments, {} errors)",
            base.per_second, base.p50_ms, base.p99_ms, args.baseline, base.errors
        );
        drop(db);
        let db = fresh_db(backend, "group");
        let group = run(
            &db,
            onecard::ledger::writer::DEFAULT_MAX_BATCH,
            args.clients,
            args.payments,
        );
        println!(
            "group commit                : {:>7.0} payments/s  p50 {:>6.1} ms  p99 {:>6.1} ms  ({} payments, {} errors) = {:.1}× the baseline",
            group.per_second,
            group.p50_ms,
            group.p99_ms,
            args.payments,
            group.errors,
            group.per_second / base.per_second
        );
        let clients = format!("{} clients", args.clients);
        figure(
            "intake",
            backend,
            &format!("payments over HTTP, {clients}, group commit"),
            group.per_second,
            "payments/s",
            Some(("one transaction per payment", base.per_second)),
            Target::AtLeast(if backend == "sqlite" {
                15_000.0
            } else {
                8_000.0
            }),
        );
        figure(
            "intake",
            backend,
            &format!("payment p99 latency, {clients}, group commit"),
            group.p99_ms,
            "ms",
            Some(("one transaction per payment", base.p99_ms)),
            Target::AtMost(25.0),
        );
    }
}

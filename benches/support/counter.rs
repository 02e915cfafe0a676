//! The counter during a night's long work (issue 19 part 5), for `benches/bankfiles.rs` (an
//! import) and `benches/recon.rs` (a full run): a real onecard server on a fresh database, a
//! few counters posting payments over loopback at a clerk's pace, first alone (the in-run
//! baseline), then while the work runs through the same service's pool. Every payment must
//! answer 201: one refusal, 503 or timeout and the benchmark exits non-zero after printing what
//! came back.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onecard::app::AppContext;
use onecard::bankfiles::store::{self, ImportRequest};
use serde_json::json;

/// Counters posting at once.
const COUNTERS: usize = 8;
/// A payment slower than this (ms) is listed with when it was sent, to find what held it.
const SLOW_MS: f64 = 250.0;
/// A clerk's pause between two payments.
const THINK: Duration = Duration::from_millis(20);

/// Latencies (ms) of one window, sorted.
pub struct Window {
    pub latencies: Vec<f64>,
    /// The payments slower than [`SLOW_MS`]: (seconds into the window it was sent, latency).
    pub slow: Vec<(f64, f64)>,
    pub seconds: f64,
}

impl Window {
    pub fn pct(&self, p: f64) -> f64 {
        self.latencies
            .get(((self.latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
    pub fn max(&self) -> f64 {
        self.latencies.last().copied().unwrap_or(f64::NAN)
    }
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }
}

/// What one backend measured.
pub struct Measured {
    pub alone: Window,
    pub during: Window,
    /// How long the work took under the counters' load.
    pub work_seconds: f64,
    /// What the work handled (records imported, outcomes stored).
    pub records: u64,
}

fn payment(i: u64) -> String {
    json!({
        "channel": "bank_card", "department": "D03", "window": format!("W{:02}", i % 12 + 1),
        "lines": [{"fee_code": "ZR-BDC-01", "quantity": 1}],
        "amount": "80.00",
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": format!("{:06}", i % 1_000_000), "rrn": format!("{:012}", i), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    })
    .to_string()
}

/// Posts payments from [`COUNTERS`] counters until `stop`; returns the sorted latencies.
fn counters(
    addr: std::net::SocketAddr,
    token: &str,
    next: &AtomicU64,
    stop: &AtomicBool,
) -> Window {
    let errors = AtomicU64::new(0);
    let started = Instant::now();
    let timed: Vec<(f64, f64)> = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let tasks = (0..COUNTERS).map(|_| {
            let client = client.clone();
            let errors = &errors;
            async move {
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let res = client
                        .post(format!("http://{addr}/v1/payments"))
                        .bearer_auth(token)
                        .insert_header(("Idempotency-Key", format!("counter-{i}")))
                        .insert_header(("content-type", "application/json"))
                        .send_body(payment(i))
                        .await;
                    match res {
                        Ok(mut r) if r.status().as_u16() == 201 => {
                            let _ = r.body().await;
                            let sent = (t - started).as_secs_f64();
                            lat.push((sent, t.elapsed().as_secs_f64() * 1e3));
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
                    actix_web::rt::time::sleep(THINK).await;
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
    let failed = errors.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("FAILED: {failed} payments did not answer 201 (first ones above); no figure is reported");
        std::process::exit(1);
    }
    let mut latencies: Vec<f64> = timed.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let mut slow: Vec<(f64, f64)> = timed.into_iter().filter(|(_, ms)| *ms > SLOW_MS).collect();
    slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    Window {
        latencies,
        slow,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Runs the counters alone for `alone`, then during an import of `file` (spec `spec`).
#[allow(dead_code)] // each bench binary compiles this module; not all of them import
pub fn measure(backend: &str, spec: &str, file: &Path, alone: Duration) -> Measured {
    let (sha256, size) = store::sha256_file(file).unwrap_or_else(|e| panic!("{e}"));
    measure_during(
        backend,
        alone,
        |_| (),
        |ctx, ()| {
            let mut input = std::io::BufReader::with_capacity(
                256 * 1024,
                std::fs::File::open(file).unwrap_or_else(|e| panic!("{e}")),
            );
            let mut conn = ctx.conn().unwrap_or_else(|e| panic!("{e}"));
            let imported = store::import(
                &mut conn,
                &ctx.bank_specs,
                &ImportRequest {
                    spec,
                    file_name: file.file_name().and_then(|n| n.to_str()),
                    sha256: &sha256,
                    size_bytes: size,
                    actor: "bench",
                },
                &mut input,
                &mut |_| {},
            )
            .unwrap_or_else(|e| {
                eprintln!("FAILED: import: {e}");
                std::process::exit(1)
            });
            imported.records
        },
    )
}

/// Runs the counters alone for `alone`, then during `work` (after `prepare`, not measured, has
/// set up what it needs); `work` returns how many records it handled.
pub fn measure_during<P: Send>(
    backend: &str,
    alone: Duration,
    prepare: impl FnOnce(&AppContext) -> P,
    work: impl FnOnce(&AppContext, P) -> u64 + Send,
) -> Measured {
    let db = crate::support::fresh_db(backend, "counter");
    // one token stands for all counters: the per-token limit stays in the path, above the load
    let served = crate::support::DemoServer::start(
        &db,
        onecard::ledger::writer::DEFAULT_MAX_BATCH,
        "counter",
    );
    let (ctx, token, addr) = (served.ctx.clone(), served.token.clone(), served.addr);
    let prepared = prepare(&ctx);
    let next = AtomicU64::new(0);

    // the baseline: the counters alone
    let stop = Arc::new(AtomicBool::new(false));
    let alone_window = std::thread::scope(|s| {
        let stop2 = stop.clone();
        s.spawn(move || {
            std::thread::sleep(alone);
            stop2.store(true, Ordering::Relaxed);
        });
        counters(addr, &token, &next, &stop)
    });

    // the same counters while the work runs
    let stop = Arc::new(AtomicBool::new(false));
    let (during, (work_seconds, records)) = std::thread::scope(|s| {
        let stop2 = stop.clone();
        let ctx2 = ctx.clone();
        let worker = s.spawn(move || {
            let t = Instant::now();
            let records = work(&ctx2, prepared);
            let secs = t.elapsed().as_secs_f64();
            stop2.store(true, Ordering::Relaxed);
            (secs, records)
        });
        let during = counters(addr, &token, &next, &stop);
        (
            during,
            worker
                .join()
                .unwrap_or_else(|_| panic!("the work panicked")),
        )
    });
    served.stop();
    ctx.close();
    Measured {
        alone: alone_window,
        during,
        work_seconds,
        records,
    }
}

impl Measured {
    /// Prints the counter alone and during `work` (an import, the run), with their ratio.
    pub fn print(&self, label: &str, work: &str) {
        println!(
            "{label:>16}: alone        {:>6} payments {:>6.0}/s  p50 {:>6.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  (baseline)",
            self.alone.latencies.len(),
            self.alone.rate(),
            self.alone.pct(0.5),
            self.alone.pct(0.99),
            self.alone.max()
        );
        println!(
            "{:>16}: during {work} {:>5} payments {:>6.0}/s  p50 {:>6.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  (p99 {:.2}× the baseline's)",
            "",
            self.during.latencies.len(),
            self.during.rate(),
            self.during.pct(0.5),
            self.during.pct(0.99),
            self.during.max(),
            self.during.pct(0.99) / self.alone.pct(0.99)
        );
        for (sent, ms) in &self.during.slow {
            println!(
                "{:>16}  slower than {SLOW_MS} ms: sent {sent:.2} s into the {work}, {ms:.0} ms",
                ""
            );
        }
    }
}

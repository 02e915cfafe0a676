//! Process metrics in Prometheus text format: requests by route and status, request latency,
//! entries posted, ledger batch sizes. Plain atomics and one mutex; no exporter crate.
//!
//! May depend on: nothing inside the crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BOUNDS_S: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Upper bounds of the batch-size histogram, in entries.
const BATCH_BOUNDS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in the histogram's unit × 1e6 for latency (microseconds), plain for sizes.
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; N],
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    fn observe(&self, bucket: Option<usize>, sum_increment: u64) {
        if let Some(b) = bucket {
            self.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(sum_increment, Ordering::Relaxed);
    }
}

static LATENCY: Histogram<12> = Histogram::new();
static BATCH_SIZES: Histogram<9> = Histogram::new();
static ENTRIES_POSTED: AtomicU64 = AtomicU64::new(0);
static BATCHES: AtomicU64 = AtomicU64::new(0);

/// (method, route, status) → count.
type RequestCounts = Mutex<BTreeMap<(String, String, u16), u64>>;

fn requests() -> &'static RequestCounts {
    static REQUESTS: OnceLock<RequestCounts> = OnceLock::new();
    REQUESTS.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Counts one HTTP request by route pattern (never the raw path: ids would explode the series).
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    if let Ok(mut map) = requests().lock() {
        *map.entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }
    let bucket = LATENCY_BOUNDS_S.iter().position(|b| seconds <= *b);
    LATENCY.observe(bucket, (seconds * 1e6) as u64);
}

/// Counts one committed ledger batch of `jobs` jobs that posted `entries` entries.
pub fn record_batch(jobs: usize, entries: usize) {
    BATCHES.fetch_add(1, Ordering::Relaxed);
    ENTRIES_POSTED.fetch_add(entries as u64, Ordering::Relaxed);
    let bucket = BATCH_BOUNDS.iter().position(|b| jobs as u64 <= *b);
    BATCH_SIZES.observe(bucket, jobs as u64);
}

/// Ledger batches committed since the process started.
pub fn batches_committed() -> u64 {
    BATCHES.load(Ordering::Relaxed)
}

/// Entries posted since the process started.
pub fn entries_posted() -> u64 {
    ENTRIES_POSTED.load(Ordering::Relaxed)
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric in Prometheus text exposition format 0.0.4.
pub fn render() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP onecard_http_requests_total HTTP requests by method, route and status."
    );
    let _ = writeln!(out, "# TYPE onecard_http_requests_total counter");
    if let Ok(map) = requests().lock() {
        for ((method, route, status), n) in map.iter() {
            let _ = writeln!(
                out,
                "onecard_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP onecard_http_request_duration_seconds HTTP request latency."
    );
    let _ = writeln!(
        out,
        "# TYPE onecard_http_request_duration_seconds histogram"
    );
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BOUNDS_S.iter().enumerate() {
        cumulative += LATENCY.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "onecard_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = LATENCY.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "onecard_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "onecard_http_request_duration_seconds_sum {}",
        LATENCY.sum.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "onecard_http_request_duration_seconds_count {count}");
    let _ = writeln!(
        out,
        "# HELP onecard_ledger_entries_posted_total Ledger entries committed."
    );
    let _ = writeln!(out, "# TYPE onecard_ledger_entries_posted_total counter");
    let _ = writeln!(
        out,
        "onecard_ledger_entries_posted_total {}",
        ENTRIES_POSTED.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP onecard_ledger_batch_jobs Jobs per committed ledger batch (group commit)."
    );
    let _ = writeln!(out, "# TYPE onecard_ledger_batch_jobs histogram");
    let mut cumulative = 0;
    for (i, bound) in BATCH_BOUNDS.iter().enumerate() {
        cumulative += BATCH_SIZES.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "onecard_ledger_batch_jobs_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let batches = BATCH_SIZES.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "onecard_ledger_batch_jobs_bucket{{le=\"+Inf\"}} {batches}"
    );
    let _ = writeln!(
        out,
        "onecard_ledger_batch_jobs_sum {}",
        BATCH_SIZES.sum.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "onecard_ledger_batch_jobs_count {batches}");
    out
}

//! Crash consistency: the real binary takes payments from several clients and is killed with
//! SIGKILL at random moments, 20 times, on the backend this run tests. After every restart:
//!
//! 1. every payment that got a 201 is there, captured, with its capture entry and its receipt;
//! 2. no capture entry without its payment, no payment without its entry;
//! 3. the chain verifies, every fund is balanced, maintained balances equal recomputed ones;
//! 4. receipt numbers are exactly 1..=N and the series' next number is N + 1;
//!
//! and a request whose answer was lost in the kill, sent again with the same Idempotency-Key,
//! gets the stored answer byte for byte if it had committed, or is created now — never twice.
//!
//! The kill moments come from a seeded generator: the seed is printed, and
//! `ONECARD_CRASH_SEED=<seed>` repeats the same schedule (the interleaving of the clients with
//! the kill is the operating system's, so a repeat is close, not identical).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use onecard::ledger::Chart;
use serde_json::Value;

use crate::support::books::{check, client, post_payment, Rng, Seen};
use crate::support::spawned::{run_ok, start, Server};
use crate::support::TestDb;

/// Kill-and-restart cycles per run.
const CYCLES: usize = 20;
/// Concurrent clients posting payments.
const CLIENTS: usize = 6;
/// Load before each kill: at least this long …
const MIN_LOAD_MS: u64 = 20;
/// … and less than this.
const MAX_LOAD_MS: u64 = 300;
/// Entries that are not captures: the demo's opening appropriation.
const OPENING: i64 = 1;

fn seed() -> u64 {
    match std::env::var("ONECARD_CRASH_SEED") {
        Ok(s) => s.trim().parse().expect("ONECARD_CRASH_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// Runs the clients against `server` until it is killed `load` from now.
fn load_then_kill(
    server: Server,
    token: &str,
    next: &AtomicU64,
    seen: &Mutex<Seen>,
    load: Duration,
) {
    let stop = AtomicBool::new(false);
    let addr = server.addr;
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| client(addr, token, next, &stop, seen));
        }
        std::thread::sleep(load);
        server.kill();
        stop.store(true, Ordering::SeqCst);
    });
}

#[test]
fn acknowledged_payments_survive_sigkill_and_retries_never_pay_twice() {
    let started = Instant::now();
    let db = TestDb::new();
    let backend = if db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let seed = seed();
    eprintln!("crash test on {backend}: seed {seed} (ONECARD_CRASH_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let chart = Chart::default_chart().expect("chart");
    let log: PathBuf = db.dir.path().join("serve.log");

    run_ok(&db, &["migrate"]);
    let token = run_ok(
        &db,
        &["keys", "create", "--role", "clerk", "--name", "crash"],
    )
    .trim()
    .to_string();
    // The first start loads the demo catalogue and the opening appropriation.
    let mut server = start(&db, true, &log);
    let seen = Mutex::new(Seen::default());
    let next = AtomicU64::new(1);
    check(
        &db,
        &chart,
        &mut seen.lock().expect("lock"),
        "at start",
        OPENING,
    );

    let mut kills = Vec::with_capacity(CYCLES);
    for cycle in 1..=CYCLES {
        let load = Duration::from_millis(rng.range(MIN_LOAD_MS, MAX_LOAD_MS));
        kills.push(load.as_millis());
        load_then_kill(server, &token, &next, &seen, load);
        server = start(&db, false, &log);
        let mut l = seen.lock().expect("lock");
        assert!(
            l.unexpected.is_empty(),
            "cycle {cycle}: {:#?}",
            l.unexpected
        );
        check(&db, &chart, &mut l, &format!("after kill {cycle}"), OPENING);
    }

    // The last lost answers are asked for again with no kill in the way.
    {
        let mut l = seen.lock().expect("lock");
        while let Some(p) = l.pending.pop() {
            let reply =
                post_payment(server.addr, &token, &p).expect("retry after the last restart");
            l.record(&p, reply, true);
        }
        assert!(
            l.unexpected.is_empty(),
            "final retries: {:#?}",
            l.unexpected
        );
    }
    let mut l = seen.lock().expect("lock");
    let found = check(&db, &chart, &mut l, "at the end", OPENING);
    assert_eq!(found.payments, l.acked.len(), "every request answered once");
    server.kill();
    // The operator's check agrees.
    let report: Value = serde_json::from_str(&run_ok(&db, &["verify"])).expect("verify JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["entries"], found.entries);

    let first_try = l.acked.len() - l.resolved_committed - l.resolved_created;
    eprintln!(
        "crash test on {backend}, seed {seed}, {:.1} s:\n\
         \x20 cycles:                 {CYCLES} SIGKILLs, after {kills:?} ms of load\n\
         \x20 acknowledged (201):     {first_try} on the first try\n\
         \x20 answers lost in a kill: {} (connections refused while down: {})\n\
         \x20 retries resolved:       {} requests; {} had committed and got the stored answer \
         byte for byte, {} had not and were created by the retry\n\
         \x20 found at the end:       {} payments = {} acknowledged, {} ledger entries \
         (1 opening + 1 per payment), receipts 1..={} without a gap, chain verified",
        started.elapsed().as_secs_f64(),
        l.lost,
        l.refused,
        l.resolved_committed + l.resolved_created,
        l.resolved_committed,
        l.resolved_created,
        found.payments,
        l.acked.len(),
        found.entries,
        found.payments,
    );
}

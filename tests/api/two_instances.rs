//! Two `onecard serve` processes on one database, as behind a balancer (DESIGN §8), on the
//! backend this run tests:
//!
//! 1. a token's rate limit is one allowance across both (N a minute: no more than N succeed,
//!    however the requests are spread);
//! 2. wrong passwords sent to both at once lock the account after five, counted exactly;
//! 3. a staff session made on one works on the other, and signing out on the other ends it;
//!    a page's long task started on one is followed on the other;
//! 4. the same Idempotency-Key sent to both at once makes one payment, both answers identical;
//! 5. the nightly job scheduled on both at the same second runs once: one imports, the other
//!    skips, the inbox's file is imported once;
//! 6. payments spread over both under load, one killed with SIGKILL: every payment either
//!    acknowledged is there, none twice, the chain verifies, receipts without a gap.
//!
//! SQLite in WAL mode lets two processes share the file (writers queue on its write lock),
//! so the test runs on both backends.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use onecard::auth::{staff, Role};
use onecard::db::schema::{ledger_entries, nightly_runs, settlement_files, staff_users};
use onecard::ledger::{Chart, EntryKind};

use crate::support::books::{check, client, connect, payment_body, post_payment, Pending, Seen};
use crate::support::spawned::{http, log_tail, run_ok, start_with, Reply, Server};
use crate::support::TestDb;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
/// The shared rate limit of the first pair, requests a minute per token.
const LIMIT: usize = 40;
/// The chunk each instance leases of it (`http::limits`: a twentieth, at least 1).
const CHUNK: usize = LIMIT / 20;
const PASSWORD: &str = "two-instances-long-password";

/// Logs the nightly job's lines, not every request.
const LOG: &str = "warn,onecard=info,onecard::server=warn";

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form")
}

fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .map(|i| i + "name=\"csrf\" value=\"".len())
        .unwrap_or_else(|| panic!("no csrf field: {body}"));
    body[at..].split('"').next().expect("csrf").to_string()
}

/// A browser without JavaScript: one cookie jar, any instance.
#[derive(Default)]
struct Browser {
    cookies: Vec<String>,
}

impl Browser {
    fn keep(&mut self, r: &Reply) {
        for c in r.cookies() {
            let name = c.split('=').next().unwrap_or_default().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            if !c.ends_with('=') {
                self.cookies.push(c);
            }
        }
    }

    fn send(&mut self, at: SocketAddr, method: &str, path: &str, body: &str) -> Reply {
        let cookie = self.cookies.join("; ");
        let mut headers = vec![("Cookie", cookie.as_str())];
        if method == "POST" {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let r = http(at, method, path, &headers, body.as_bytes()).expect("http");
        self.keep(&r);
        r
    }

    /// The sign-in form read on `form_at`, sent to `post_at`.
    fn sign_in(&mut self, form_at: SocketAddr, post_at: SocketAddr, name: &str, pw: &str) -> Reply {
        let page = self.send(form_at, "GET", "/web/sign-in", "");
        assert_eq!(page.status, 200, "{}", page.body);
        let body = form(&[
            ("csrf", &csrf_of(&page.body)),
            ("name", name),
            ("password", pw),
            ("next", "/web/today"),
        ]);
        self.send(post_at, "POST", "/web/sign-in", &body)
    }
}

fn staff_user(db: &TestDb, role: Role, name: &str) {
    let mut conn = connect(db);
    staff::create_user_with(&mut conn, role, name, PASSWORD, "test", 1_000).expect("user");
}

/// `HH:MM:SS` in Beijing time, `ahead` from now.
fn beijing_in(ahead: Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(ahead).expect("duration");
    at.with_timezone(&onecard::clock::SHANGHAI)
        .format("%H:%M:%S")
        .to_string()
}

/// Waits until the clock is at least `margin` seconds before the end of its minute, so a burst
/// of requests falls in one rate window.
fn clear_of_the_minute_end(margin: u64) {
    let into = chrono::Utc::now().timestamp().rem_euclid(60) as u64;
    if into + margin >= 60 {
        std::thread::sleep(Duration::from_secs(60 - into + 1));
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// 1. One token, requests spread over both instances, from several threads at once.
fn rate_limit_is_shared(a: SocketAddr, b: SocketAddr, token: &str) {
    clear_of_the_minute_end(10);
    let auth = format!("Bearer {token}");
    let answers: Mutex<Vec<(SocketAddr, u16, Option<String>)>> = Mutex::default();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (answers, auth) = (&answers, &auth);
            s.spawn(move || {
                for i in 0..(LIMIT * 2) / 4 {
                    let at = if (t + i) % 2 == 0 { a } else { b };
                    let r = http(
                        at,
                        "GET",
                        "/v1/ledger/accounts",
                        &[("Authorization", auth)],
                        b"",
                    )
                    .expect("http");
                    let retry = r.header("retry-after").map(str::to_string);
                    answers.lock().expect("lock").push((at, r.status, retry));
                }
            });
        }
    });
    let answers = answers.into_inner().expect("lock");
    let ok = answers.iter().filter(|x| x.1 == 200).count();
    let limited: Vec<_> = answers.iter().filter(|x| x.1 == 429).collect();
    assert_eq!(
        ok + limited.len(),
        LIMIT * 2,
        "only 200 or 429: {answers:?}"
    );
    assert!(
        ok <= LIMIT && ok + 2 * (CHUNK - 1) >= LIMIT,
        "{ok} of {} requests served across two instances; the shared limit is {LIMIT} a minute",
        LIMIT * 2
    );
    for (_, _, retry) in &limited {
        let secs: u64 = retry
            .as_deref()
            .and_then(|r| r.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
    }
    // Both instances served and refused: the allowance is one, not one each.
    for at in [a, b] {
        assert!(answers.iter().any(|x| x.0 == at && x.1 == 200));
    }
}

/// 2. Five wrong passwords at once, split over both instances: each one counts.
fn lock_out_is_shared(db: &TestDb, a: SocketAddr, b: SocketAddr) {
    staff_user(db, Role::Finance, "lock-me");
    let barrier = Barrier::new(5);
    std::thread::scope(|s| {
        for i in 0..5 {
            let barrier = &barrier;
            s.spawn(move || {
                let (first, second) = if i % 2 == 0 { (a, b) } else { (b, a) };
                let mut browser = Browser::default();
                let page = browser.send(first, "GET", "/web/sign-in", "");
                let body = form(&[
                    ("csrf", &csrf_of(&page.body)),
                    ("name", "lock-me"),
                    ("password", "a wrong guess, long enough"),
                ]);
                barrier.wait();
                let r = browser.send(second, "POST", "/web/sign-in", &body);
                assert_eq!(r.status, 401, "{}", r.body);
            });
        }
    });
    let failures: i64 = staff_users::table
        .filter(staff_users::name.eq("lock-me"))
        .select(staff_users::failures)
        .first(&mut connect(db))
        .expect("user");
    assert_eq!(failures, 5, "every failure counted, none overwritten");
    for at in [a, b] {
        let r = Browser::default().sign_in(at, at, "lock-me", PASSWORD);
        assert_eq!(r.status, 401, "locked on both: {}", r.body);
        assert!(r.body.contains("锁定"), "{}", r.body);
    }
}

/// 3. Signed in on one, served by the other; a task started on one is followed on the other;
///    signed out on the other, refused on the first.
fn sessions_and_tasks_are_shared(db: &TestDb, a: SocketAddr, b: SocketAddr) {
    staff_user(db, Role::Finance, "both-ways");
    let mut browser = Browser::default();
    let signed = browser.sign_in(a, a, "both-ways", PASSWORD);
    assert_eq!(signed.status, 303, "{}", signed.body);
    let today = browser.send(b, "GET", "/web/today", "");
    assert_eq!(today.status, 200, "the session made on A works on B");

    let ledger = browser.send(a, "GET", "/web/ledger", "");
    assert_eq!(ledger.status, 200, "{}", ledger.body);
    let started = browser.send(
        a,
        "POST",
        "/web/ledger/verify",
        &form(&[("csrf", &csrf_of(&ledger.body))]),
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.header("location").expect("task page").to_string();
    assert!(job.starts_with("/web/jobs/"), "{job}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = browser.send(b, "GET", &job, "");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("id=\"job-running\"") || page.body.contains("id=\"job-done\""),
            "the task started on A is known to B: {}",
            page.body
        );
        if page.body.contains("id=\"job-done\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task did not end: {}",
            page.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let page = browser.send(b, "GET", "/web/today", "");
    let out = browser.send(
        b,
        "POST",
        "/web/sign-out",
        &form(&[("csrf", &csrf_of(&page.body))]),
    );
    assert_eq!(out.status, 303, "{}", out.body);
    // The cookie as it was, sent to A after B ended the session.
    let mut old = Browser {
        cookies: vec![signed
            .cookies()
            .into_iter()
            .find(|c| c.starts_with("onecard_session="))
            .expect("session cookie")],
    };
    let after = old.send(a, "GET", "/web/today", "");
    assert_eq!(after.status, 303, "signed out on B is signed out on A");
}

/// 4. The same key sent to both at once: one payment, one answer.
fn one_payment_per_key(
    a: SocketAddr,
    b: SocketAddr,
    token: &str,
    seen: &Mutex<Seen>,
    next: &AtomicU64,
) {
    for _ in 0..5 {
        let n = next.fetch_add(1, Ordering::SeqCst);
        let (body, amount_minor) = payment_body(n);
        let p = Pending {
            key: format!("both-{n:07}"),
            body,
            amount_minor,
            committed: None,
        };
        let barrier = Barrier::new(2);
        let (ra, rb) = std::thread::scope(|s| {
            let one = s.spawn(|| {
                barrier.wait();
                post_payment(a, token, &p).expect("answer from A")
            });
            let two = s.spawn(|| {
                barrier.wait();
                post_payment(b, token, &p).expect("answer from B")
            });
            (one.join().expect("A"), two.join().expect("B"))
        });
        assert_eq!(
            (ra.status, rb.status),
            (201, 201),
            "{} / {}",
            ra.body,
            rb.body
        );
        assert_eq!(
            ra.body, rb.body,
            "both instances give the one stored answer"
        );
        seen.lock().expect("lock").record(&p, ra, false);
    }
}

/// 5. The night ran on one instance, the other skipped, the file was imported once.
fn night_ran_once(db: &TestDb, night: &Path, logs: [&Path; 2], at: Instant) {
    let deadline = at + Duration::from_secs(30);
    let (done, skipped) = loop {
        let texts: Vec<String> = logs
            .iter()
            .map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .collect();
        let done = texts
            .iter()
            .filter(|t| t.contains("nightly job done"))
            .count();
        let skipped = texts
            .iter()
            .filter(|t| t.contains("nightly job skipped"))
            .count();
        if done + skipped >= 2 || Instant::now() > deadline {
            break (done, skipped);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (done, skipped),
        (1, 1),
        "one instance runs the night, the other skips:\n{}\n---\n{}",
        log_tail(logs[0]),
        log_tail(logs[1])
    );
    let mut conn = connect(db);
    let files: i64 = settlement_files::table
        .count()
        .get_result(&mut conn)
        .expect("files");
    assert_eq!(files, 1, "the inbox's file imported once");
    let nights: Vec<Option<chrono::NaiveDateTime>> = nightly_runs::table
        .select(nightly_runs::finished_at)
        .load(&mut conn)
        .expect("nights");
    assert!(nights.len() == 1 && nights[0].is_some(), "{nights:?}");
    assert!(files_under(&night.join("inbox")).is_empty());
    assert_eq!(
        files_under(&night.join("archive")).len(),
        1,
        "filed away once"
    );
}

/// 6. Three clients on each instance; A killed under load; B's clients go on, then every
///    answer lost with A is asked for again on B.
fn sigkill_under_load(a: Server, b: &Server, token: &str, seen: &Mutex<Seen>, next: &AtomicU64) {
    let stop = AtomicBool::new(false);
    let (addr_a, addr_b) = (a.addr, b.addr);
    std::thread::scope(|s| {
        for i in 0..6 {
            let at = if i % 2 == 0 { addr_a } else { addr_b };
            let stop = &stop;
            s.spawn(move || client(at, token, next, stop, seen));
        }
        std::thread::sleep(Duration::from_millis(1_500));
        a.kill();
        std::thread::sleep(Duration::from_millis(700));
        stop.store(true, Ordering::SeqCst);
    });
    let mut l = seen.lock().expect("lock");
    while let Some(p) = l.pending.pop() {
        let reply = post_payment(addr_b, token, &p).expect("retry on B");
        l.record(&p, reply, true);
    }
    assert!(l.unexpected.is_empty(), "{:#?}", l.unexpected);
}

#[test]
fn two_instances_share_one_database() {
    let started = Instant::now();
    let db = TestDb::new();
    let backend = if db.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let chart = Chart::default_chart().expect("chart");
    run_ok(&db, &["migrate"]);
    let clerk = run_ok(&db, &["keys", "create", "--role", "clerk", "--name", "two"])
        .trim()
        .to_string();
    let auditor = run_ok(
        &db,
        &["keys", "create", "--role", "auditor", "--name", "limited"],
    )
    .trim()
    .to_string();
    let night = db.dir.path().join("night");
    std::fs::create_dir_all(night.join("inbox")).expect("inbox");
    std::fs::copy(
        format!("{FIXTURES}/pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt"),
        night.join("inbox/POS_898440379930001_20261124.txt"),
    )
    .expect("copy");
    let (log_a, log_b) = (db.dir.path().join("a.log"), db.dir.path().join("b.log"));

    // The first pair: a shared limit of LIMIT a minute, the night due in a few seconds on both.
    let limit = LIMIT.to_string();
    // Far enough ahead that both instances have started (and scheduled it for today) even on
    // a loaded machine: an instance that starts after the time schedules it for tomorrow. The
    // steps before the night check take longer than this anyway, so it costs no waiting.
    let night_in = Duration::from_secs(20);
    let nightly_at = beijing_in(night_in);
    let due = Instant::now() + night_in;
    let night_dir = night.display().to_string();
    let env = [
        ("ONECARD_RATE_LIMIT_PER_MINUTE", limit.as_str()),
        ("ONECARD_RATE_LIMIT_BURST", limit.as_str()),
        ("ONECARD_NIGHTLY_AT", nightly_at.as_str()),
        ("ONECARD_NIGHTLY_DIR", night_dir.as_str()),
        ("RUST_LOG", LOG),
    ];
    let a = start_with(&db, true, &log_a, &env);
    let b = start_with(&db, false, &log_b, &env);
    let seen = Mutex::new(Seen::default());
    let next = AtomicU64::new(1);

    rate_limit_is_shared(a.addr, b.addr, &auditor);
    lock_out_is_shared(&db, a.addr, b.addr);
    sessions_and_tasks_are_shared(&db, a.addr, b.addr);
    one_payment_per_key(a.addr, b.addr, &clerk, &seen, &next);
    night_ran_once(&db, &night, [&log_a, &log_b], due);
    a.kill();
    b.kill();

    // The second pair: no limit (a load test), A killed under load.
    let a = start_with(&db, false, &log_a, &[]);
    let b = start_with(&db, false, &log_b, &[]);
    sigkill_under_load(a, &b, &clerk, &seen, &next);
    let mut l = seen.lock().expect("lock");
    let others: i64 = ledger_entries::table
        .filter(ledger_entries::kind.ne(EntryKind::Capture.as_str()))
        .count()
        .get_result(&mut connect(&db))
        .expect("entries");
    let found = check(&db, &chart, &mut l, "after the kill", others);
    assert_eq!(found.payments, l.acked.len(), "every request answered once");
    let ids: HashSet<&str> = l.acked.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids.len(), l.acked.len());
    b.kill();
    eprintln!(
        "two instances on {backend}, {:.1} s: {} payments acknowledged ({} answers lost in the kill, \
         {} had committed), receipts 1..={} without a gap, chain verified",
        started.elapsed().as_secs_f64(),
        l.acked.len(),
        l.lost,
        l.resolved_committed,
        found.payments,
    );
}

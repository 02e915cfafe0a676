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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use onecard::db::schema::{
    idempotency_keys, ledger_entries, ledger_postings, payment_cards, payment_lines, payments,
    receipt_series, receipts,
};
use onecard::db::{DbConn, DbTarget};
use onecard::ledger::{repo, Chart, EntryKind};
use serde_json::{json, Value};

use crate::support::TestDb;

/// Kill-and-restart cycles per run.
const CYCLES: usize = 20;
/// Concurrent clients posting payments.
const CLIENTS: usize = 6;
/// Load before each kill: at least this long …
const MIN_LOAD_MS: u64 = 20;
/// … and less than this.
const MAX_LOAD_MS: u64 = 300;
/// The receipt series the child is told to use.
const SERIES: &str = "44030126";

/// splitmix64: small, seeded, good enough to spread kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn seed() -> u64 {
    match std::env::var("ONECARD_CRASH_SEED") {
        Ok(s) => s.trim().parse().expect("ONECARD_CRASH_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// The binary with the test database's environment.
fn onecard(db: &TestDb) -> Command {
    let mut cmd = db.command();
    cmd.env("ONECARD_DATA_DIR", db.dir.path())
        .env("ONECARD_RECEIPT_SERIES", SERIES)
        .env("ONECARD_POOL_SIZE", "4")
        // Six clients posting flat out on one clerk token: a load test, not a counter. The
        // per-token rate limit (tests/api/limits.rs) would otherwise answer 429.
        .env("ONECARD_RATE_LIMIT_PER_MINUTE", "0")
        .env_remove("ONECARD_NIGHTLY_AT")
        .env_remove("ONECARD_BUSINESS_DAY_CUTOFF")
        .env("RUST_LOG", "warn");
    cmd
}

fn run_ok(db: &TestDb, args: &[&str]) -> String {
    let out = onecard(db).args(args).output().expect("run onecard");
    assert!(
        out.status.success(),
        "onecard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// A running `onecard serve`.
struct Server {
    child: Child,
    addr: SocketAddr,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts the service on a fresh port (its stderr appended to `log`) and waits for `/readyz`.
/// A port taken by someone else between the probe and the bind is tried again with another.
fn start(db: &TestDb, demo: bool, log: &Path) -> Server {
    for _ in 0..5 {
        if let Some(server) = try_start(db, demo, log) {
            return server;
        }
    }
    panic!("no free port for onecard serve:\n{}", log_tail(log));
}

fn try_start(db: &TestDb, demo: bool, log: &Path) -> Option<Server> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = onecard(db);
    cmd.args(["serve", "--bind", &addr.to_string(), "--workers", "2"]);
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn onecard serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = log_tail(log);
            if tail
                .lines()
                .last()
                .is_some_and(|l| l.contains("cannot listen"))
            {
                return None;
            }
            panic!("onecard serve exited with {status}:\n{tail}");
        }
        if let Ok(r) = http(addr, "GET", "/readyz", &[], b"") {
            if r.status == 200 {
                return Some(Server { child, addr });
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("onecard serve not ready after 60 s:\n{}", log_tail(log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// SIGKILL, and reap it.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    /// A failed assertion leaves no service running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
struct Reply {
    status: u16,
    body: String,
}

/// One HTTP/1.1 request on its own connection. Any failure to get a whole answer — refused,
/// reset, cut short — is an error: the caller cannot know what happened.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    use std::io::{Error, ErrorKind};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let cut = |what: &str| Error::new(ErrorKind::UnexpectedEof, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| cut("no complete header"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let rest = &raw[split + 4..];
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| cut("no status"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = rest;
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| cut("chunk cut short"))?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| cut("bad chunk size"))?;
            if size == 0 {
                break;
            }
            let chunk = rest
                .get(eol + 2..eol + 2 + size)
                .ok_or_else(|| cut("chunk cut short"))?;
            out.extend_from_slice(chunk);
            rest = rest.get(eol + 4 + size..).ok_or_else(|| cut("chunk end"))?;
        }
        out
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| cut("bad content-length"))?;
        rest.get(..len)
            .ok_or_else(|| cut("body cut short"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Reply {
        status,
        body: String::from_utf8(body).map_err(|_| cut("body not UTF-8"))?,
    })
}

/// Fixed-price demo items: (code, department, amount in fen).
const ITEMS: [(&str, &str, i64); 4] = [
    ("ZR-BDC-01", "D03", 8_000),
    ("ZR-BDC-02", "D03", 55_000),
    ("GA-HZ-01", "D01", 12_000),
    ("GA-TXZ-01", "D01", 1_500),
];

fn fen(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// The body of payment `n`: one or two lines of one department, a card slip of its own.
fn payment_body(n: u64) -> (String, i64) {
    let mut rng = Rng(n);
    let first = (rng.next() % 4) as usize;
    let mut lines = vec![ITEMS[first]];
    if rng.next().is_multiple_of(3) {
        // The other item of the same department.
        lines.push(ITEMS[first ^ 1]);
    }
    let total: i64 = lines.iter().map(|l| l.2).sum();
    let body = json!({
        "channel": "bank_card", "department": lines[0].1, "window": format!("W{:02}", n % 12 + 1),
        "lines": lines.iter().map(|(code, _, amount)| json!({"fee_code": code, "quantity": 1, "amount": fen(*amount)})).collect::<Vec<_>>(),
        "amount": fen(total),
        "card": {"merchant_id": "898440379930001", "terminal_id": "11002001", "batch_no": "000001",
                 "trace_no": format!("{:06}", n % 1_000_000), "rrn": format!("{n:012}"), "auth_code": "890123",
                 "masked_pan": "622848******0123", "txn_time": "2026-11-24T09:30:15+08:00"}
    });
    (body.to_string(), total)
}

/// A payment the service answered 201 to.
#[derive(Debug, Clone)]
struct Ack {
    key: String,
    id: String,
    receipt_number: i64,
    entry_seq: i64,
    amount_minor: i64,
    body: String,
}

/// A request whose answer was lost.
#[derive(Debug, Clone)]
struct Pending {
    key: String,
    body: String,
    amount_minor: i64,
    /// The stored answer, once a check has seen the key committed.
    committed: Option<String>,
}

/// What the clients of the whole run have seen.
#[derive(Default)]
struct Seen {
    /// 201s, in the order they arrived.
    acked: Vec<Ack>,
    /// Answers lost, not yet resolved.
    pending: Vec<Pending>,
    /// Requests sent whose answer was lost in a kill (each time).
    lost: usize,
    /// Requests that found no service to connect to (each time); retried all the same.
    refused: usize,
    /// Retries that got the answer stored before the crash.
    resolved_committed: usize,
    /// Retries of requests that had not committed, created by the retry.
    resolved_created: usize,
    /// Anything other than a 201: a failure of the test.
    unexpected: Vec<String>,
}

impl Seen {
    /// Records the answer to `p`; `retry` when `p` was sent before and its answer lost.
    fn record(&mut self, p: &Pending, reply: Reply, retry: bool) {
        if reply.status != 201 {
            self.unexpected.push(format!(
                "{} {}: {} {}",
                if retry { "retry" } else { "request" },
                p.key,
                reply.status,
                reply.body
            ));
            return;
        }
        if retry {
            match &p.committed {
                Some(stored) if *stored != reply.body => self.unexpected.push(format!(
                    "retry {}: answer differs from the stored one\n  stored: {stored}\n  now:    {}",
                    p.key, reply.body
                )),
                Some(_) => self.resolved_committed += 1,
                None => self.resolved_created += 1,
            }
        }
        let v: Value = serde_json::from_str(&reply.body).expect("201 body is JSON");
        let receipt_number = v["receipt_no"]
            .as_str()
            .and_then(|r| r.strip_prefix(&format!("{SERIES}/")))
            .and_then(|n| n.parse().ok())
            .expect("receipt_no");
        self.acked.push(Ack {
            key: p.key.clone(),
            id: v["id"].as_str().expect("id").to_string(),
            receipt_number,
            entry_seq: v["entry_seq"].as_i64().expect("entry_seq"),
            amount_minor: p.amount_minor,
            body: reply.body,
        });
    }
}

fn post_payment(addr: SocketAddr, token: &str, p: &Pending) -> std::io::Result<Reply> {
    let auth = format!("Bearer {token}");
    http(
        addr,
        "POST",
        "/v1/payments",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", &p.key),
        ],
        p.body.as_bytes(),
    )
}

/// One client: lost requests first, then new payments, until its request fails (the service
/// is gone) or `stop` is set.
fn client(addr: SocketAddr, token: &str, next: &AtomicU64, stop: &AtomicBool, seen: &Mutex<Seen>) {
    while !stop.load(Ordering::SeqCst) {
        let retry = seen.lock().expect("lock").pending.pop();
        let (p, is_retry) = match retry {
            Some(p) => (p, true),
            None => {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let (body, amount_minor) = payment_body(n);
                let p = Pending {
                    key: format!("crash-{n:07}"),
                    body,
                    amount_minor,
                    committed: None,
                };
                (p, false)
            }
        };
        match post_payment(addr, token, &p) {
            Ok(reply) => seen.lock().expect("lock").record(&p, reply, is_retry),
            Err(e) => {
                let mut l = seen.lock().expect("lock");
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    l.refused += 1;
                } else {
                    l.lost += 1;
                }
                l.pending.push(p);
                return;
            }
        }
    }
}

/// What one check found.
struct Found {
    payments: usize,
    entries: i64,
}

fn connect(db: &TestDb) -> DbConn {
    DbTarget::parse(&db.url)
        .expect("url")
        .connect()
        .expect("connect for checks")
}

/// Every invariant the issue names, on the database as the crash left it. Notes which lost
/// requests had committed (their stored answer) in `seen.pending`.
fn check(db: &TestDb, chart: &Chart, seen: &mut Seen, when: &str) -> Found {
    let mut conn = connect(db);
    let conn = &mut conn;
    let pays: HashMap<String, (i64, String, i64)> = payments::table
        .select((
            payments::id,
            payments::amount_minor,
            payments::status,
            payments::entry_seq,
        ))
        .load::<(String, i64, String, i64)>(conn)
        .expect("payments")
        .into_iter()
        .map(|(id, a, s, e)| (id, (a, s, e)))
        .collect();
    let receipt_rows: Vec<(i64, String, String)> = receipts::table
        .filter(receipts::series_code.eq(SERIES))
        .order(receipts::number)
        .select((receipts::number, receipts::payment_id, receipts::status))
        .load(conn)
        .expect("receipts");
    let next_number: i64 = receipt_series::table
        .filter(receipt_series::series_code.eq(SERIES))
        .select(receipt_series::next_number)
        .first(conn)
        .expect("series");
    let captures: BTreeMap<i64, Option<String>> = ledger_entries::table
        .filter(ledger_entries::kind.eq(EntryKind::Capture.as_str()))
        .select((ledger_entries::seq, ledger_entries::reference))
        .load::<(i64, Option<String>)>(conn)
        .expect("entries")
        .into_iter()
        .collect();
    let mut line_sums: HashMap<String, i64> = HashMap::new();
    for (pid, amount) in payment_lines::table
        .select((payment_lines::payment_id, payment_lines::amount_minor))
        .load::<(String, i64)>(conn)
        .expect("lines")
    {
        *line_sums.entry(pid).or_default() += amount;
    }
    let cards: HashSet<String> = payment_cards::table
        .select(payment_cards::payment_id)
        .load::<String>(conn)
        .expect("cards")
        .into_iter()
        .collect();
    let mut debits: HashMap<i64, i64> = HashMap::new();
    for (seq, amount) in ledger_postings::table
        .filter(ledger_postings::side.eq("debit"))
        .select((ledger_postings::entry_seq, ledger_postings::amount_minor))
        .load::<(i64, i64)>(conn)
        .expect("postings")
    {
        *debits.entry(seq).or_default() += amount;
    }
    let keys: HashMap<String, (i64, Option<String>, String)> = idempotency_keys::table
        .select((
            idempotency_keys::idem_key,
            idempotency_keys::status_code,
            idempotency_keys::payment_id,
            idempotency_keys::response_body,
        ))
        .load::<(String, i64, Option<String>, String)>(conn)
        .expect("keys")
        .into_iter()
        .map(|(k, s, p, b)| (k, (s, p, b)))
        .collect();

    let receipt_by_number: HashMap<i64, (String, String)> = receipt_rows
        .iter()
        .map(|(n, p, s)| (*n, (p.clone(), s.clone())))
        .collect();

    // 1. Every 201 is there: captured, its entry, its receipt, its stored answer.
    let mut seen_ids = HashSet::new();
    for a in &seen.acked {
        assert!(
            seen_ids.insert(a.id.clone()),
            "{when}: payment {} answered 201 to two keys (second: {})",
            a.id,
            a.key
        );
        let (amount, status, entry_seq) = pays.get(&a.id).unwrap_or_else(|| {
            panic!("{when}: payment {} ({}) got a 201 and is gone", a.id, a.key)
        });
        assert_eq!(
            (amount, status.as_str(), entry_seq),
            (&a.amount_minor, "captured", &a.entry_seq),
            "{when}: payment {} is not as answered",
            a.id
        );
        assert_eq!(
            captures.get(&a.entry_seq),
            Some(&Some(a.id.clone())),
            "{when}: payment {}: capture entry {} missing or not its own",
            a.id,
            a.entry_seq
        );
        assert_eq!(
            receipt_by_number
                .get(&a.receipt_number)
                .map(|(p, s)| (p.as_str(), s.as_str())),
            Some((a.id.as_str(), "issued")),
            "{when}: payment {}: receipt {} missing or not its own",
            a.id,
            a.receipt_number
        );
        let stored = keys.get(&a.key);
        assert_eq!(
            stored.map(|k| (k.0, k.1.as_deref(), k.2.as_str())),
            Some((201, Some(a.id.as_str()), a.body.as_str())),
            "{when}: key {}: stored answer is not the 201 given",
            a.key
        );
    }

    // 2. Capture entries and payments pair off one to one, for the same amount.
    for (seq, reference) in &captures {
        let pid = reference
            .as_deref()
            .unwrap_or_else(|| panic!("{when}: capture entry {seq} names no payment"));
        let pay = pays
            .get(pid)
            .unwrap_or_else(|| panic!("{when}: capture entry {seq} without its payment {pid}"));
        assert_eq!(
            pay.2, *seq,
            "{when}: capture entry {seq} names {pid}, whose entry is {}",
            pay.2
        );
        assert_eq!(
            debits.get(seq),
            Some(&pay.0),
            "{when}: capture entry {seq} is not for payment {pid}'s amount"
        );
    }
    for (id, (amount, _, seq)) in &pays {
        assert!(
            captures.contains_key(seq),
            "{when}: payment {id} without its capture entry {seq}"
        );
        assert_eq!(
            line_sums.get(id),
            Some(amount),
            "{when}: payment {id}: its lines do not add up to it"
        );
        assert!(
            cards.contains(id),
            "{when}: payment {id} without its card data"
        );
    }

    // No payment nobody asked for, none twice: every payment is the answer stored for exactly
    // one key, and that key was sent by a client (answered, or still in doubt).
    let mut by_payment: HashMap<&str, &str> = HashMap::new();
    for (key, (status, pid, _)) in &keys {
        assert_eq!(
            *status, 201,
            "{when}: key {key} stored with status {status}"
        );
        let pid = pid
            .as_deref()
            .unwrap_or_else(|| panic!("{when}: key {key} without a payment"));
        assert!(
            pays.contains_key(pid),
            "{when}: key {key} answers payment {pid}, which is not there"
        );
        if let Some(other) = by_payment.insert(pid, key) {
            panic!("{when}: payment {pid} is the answer to two keys, {key} and {other}");
        }
    }
    assert_eq!(
        by_payment.len(),
        pays.len(),
        "{when}: payments that no key answers"
    );
    let acked_keys: HashSet<&str> = seen.acked.iter().map(|a| a.key.as_str()).collect();
    let mut committed_in_doubt = 0;
    for p in &mut seen.pending {
        if let Some((_, _, body)) = keys.get(&p.key) {
            if let Some(before) = &p.committed {
                assert_eq!(before, body, "{when}: stored answer of {} changed", p.key);
            }
            p.committed = Some(body.clone());
            committed_in_doubt += 1;
        } else {
            assert!(
                p.committed.is_none(),
                "{when}: key {} was committed and is gone",
                p.key
            );
        }
    }
    let pending_keys: HashSet<&str> = seen.pending.iter().map(|p| p.key.as_str()).collect();
    for key in keys.keys() {
        assert!(
            acked_keys.contains(key.as_str()) || pending_keys.contains(key.as_str()),
            "{when}: key {key} is stored but no client sent it"
        );
    }
    assert_eq!(
        pays.len(),
        seen.acked.len() + committed_in_doubt,
        "{when}: payments stored vs answered + committed in doubt"
    );

    // 3. The chain, every fund, maintained against recomputed balances.
    let report = repo::verify(conn, chart, |_, _| {}).expect("verify");
    assert!(
        report.ok && report.problems.is_empty() && report.first_bad_entry.is_none(),
        "{when}: verify: {report:?}"
    );
    let (head_seq, _) = repo::chain_head(conn).expect("head");
    assert_eq!(report.entries, head_seq, "{when}: verify stopped short");
    // The demo's opening appropriation, and one capture per payment.
    assert_eq!(
        report.entries,
        1 + pays.len() as i64,
        "{when}: entries vs payments"
    );
    for fund in repo::trial_balance(conn, chart, None).expect("trial balance") {
        assert_eq!(
            fund.debit_total_minor,
            fund.credit_total_minor,
            "{when}: fund {} does not balance",
            fund.fund.as_str()
        );
    }

    // 4. Receipts 1..=N, no gap, and the series goes on at N + 1.
    let numbers: Vec<i64> = receipt_rows.iter().map(|r| r.0).collect();
    let n = numbers.len() as i64;
    assert_eq!(
        numbers,
        (1..=n).collect::<Vec<_>>(),
        "{when}: receipt numbers have a gap"
    );
    assert_eq!(next_number, n + 1, "{when}: series next number");
    assert_eq!(n as usize, pays.len(), "{when}: one receipt per payment");
    let receipted: HashSet<&str> = receipt_rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        receipted.len(),
        pays.len(),
        "{when}: a payment with two receipts"
    );

    Found {
        payments: pays.len(),
        entries: report.entries,
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
    check(&db, &chart, &mut seen.lock().expect("lock"), "at start");

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
        check(&db, &chart, &mut l, &format!("after kill {cycle}"));
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
    let found = check(&db, &chart, &mut l, "at the end");
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

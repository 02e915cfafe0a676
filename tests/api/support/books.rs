//! Payments under load, as clients that keep what the service answered, and the invariants
//! the books must keep whatever happened to the processes: every acknowledged payment there,
//! nothing twice, the chain verified, receipts without a gap. Shared by the crash and the
//! two-instance tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use diesel::prelude::*;
use onecard::db::schema::{
    idempotency_keys, ledger_entries, ledger_postings, payment_cards, payment_lines, payments,
    receipt_series, receipts,
};
use onecard::db::{DbConn, DbTarget};
use onecard::ledger::{repo, Chart, EntryKind};
use serde_json::{json, Value};

use super::spawned::{http, Reply, SERIES};
use super::TestDb;

/// splitmix64: small, seeded, good enough to spread kill moments.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Fixed-price demo items: (code, department, amount in fen).
pub const ITEMS: [(&str, &str, i64); 4] = [
    ("ZR-BDC-01", "D03", 8_000),
    ("ZR-BDC-02", "D03", 55_000),
    ("GA-HZ-01", "D01", 12_000),
    ("GA-TXZ-01", "D01", 1_500),
];

pub fn fen(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// The body of payment `n`: one or two lines of one department, a card slip of its own.
pub fn payment_body(n: u64) -> (String, i64) {
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
pub struct Ack {
    pub key: String,
    pub id: String,
    pub receipt_number: i64,
    pub entry_seq: i64,
    pub amount_minor: i64,
    pub body: String,
}

/// A request whose answer was lost.
#[derive(Debug, Clone)]
pub struct Pending {
    pub key: String,
    pub body: String,
    pub amount_minor: i64,
    /// The stored answer, once a check has seen the key committed.
    pub committed: Option<String>,
}

/// What the clients of the whole run have seen.
#[derive(Default)]
pub struct Seen {
    /// 201s, in the order they arrived.
    pub acked: Vec<Ack>,
    /// Answers lost, not yet resolved.
    pub pending: Vec<Pending>,
    /// Requests sent whose answer was lost in a kill (each time).
    pub lost: usize,
    /// Requests that found no service to connect to (each time); retried all the same.
    pub refused: usize,
    /// Retries that got the answer stored before the crash.
    pub resolved_committed: usize,
    /// Retries of requests that had not committed, created by the retry.
    pub resolved_created: usize,
    /// Anything other than a 201: a failure of the test.
    pub unexpected: Vec<String>,
}

impl Seen {
    /// Records the answer to `p`; `retry` when `p` was sent before and its answer lost.
    pub fn record(&mut self, p: &Pending, reply: Reply, retry: bool) {
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

pub fn post_payment(addr: SocketAddr, token: &str, p: &Pending) -> std::io::Result<Reply> {
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
pub fn client(
    addr: SocketAddr,
    token: &str,
    next: &AtomicU64,
    stop: &AtomicBool,
    seen: &Mutex<Seen>,
) {
    while !stop.load(Ordering::SeqCst) {
        let retry = seen.lock().expect("lock").pending.pop();
        let (p, is_retry) = match retry {
            Some(p) => (p, true),
            None => {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let (body, amount_minor) = payment_body(n);
                let p = Pending {
                    key: format!("pay-{n:07}"),
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
pub struct Found {
    pub payments: usize,
    pub entries: i64,
}

pub fn connect(db: &TestDb) -> DbConn {
    DbTarget::parse(&db.url)
        .expect("url")
        .connect()
        .expect("connect for checks")
}

/// Every invariant the issue names, on the database as the crash left it. Notes which lost
/// requests had committed (their stored answer) in `seen.pending`.
///
/// `other_entries`: the ledger entries that are not captures (the demo's opening
/// appropriation, anything a night posted); every other entry is one payment's capture.
pub fn check(db: &TestDb, chart: &Chart, seen: &mut Seen, when: &str, other_entries: i64) -> Found {
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
    // The entries that are not captures, and one capture per payment.
    assert_eq!(
        report.entries,
        other_entries + pays.len() as i64,
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

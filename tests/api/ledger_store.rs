//! The ledger against a real database: group commit, rollback of failed jobs, the append-only
//! guard, tamper detection, closed days, reversals, and maintained vs recomputed balances.

use std::sync::Arc;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use proptest::prelude::*;

use onecard::app::AppContext;
use onecard::db::schema::{audit_log, ledger_entries};
use onecard::ledger::writer::{PostError, WriteError};
use onecard::ledger::{repo, EntryKind, LedgerError, NewEntry, Posting, Side};

use crate::support::TestDb;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")
}

fn capture(amount: i64) -> NewEntry {
    NewEntry {
        business_date: day(),
        kind: EntryKind::Capture,
        memo: "counter payment".into(),
        reference: None,
        reverses: None,
        actor: "test".into(),
        postings: vec![
            Posting::debit("1218.01", amount),
            Posting::credit("2103.1030401", amount),
        ],
    }
}

fn verify_ok(ctx: &AppContext) -> repo::VerifyReport {
    let mut conn = ctx.conn().expect("conn");
    let report = repo::verify(&mut conn, &ctx.chart.current(), |_, _| {}).expect("verify");
    assert!(report.ok, "verify: {:?}", report.problems);
    report
}

#[test]
fn concurrent_writers_share_batches_and_keep_the_chain() {
    let db = TestDb::new();
    let ctx = db.open();
    let threads = 32;
    let per_thread = 40;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let writer = ctx.writer.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        writer
                            .post_blocking(capture(100 + t * 1000 + i))
                            .expect("post")
                            .seq
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut seqs: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    seqs.sort_unstable();
    let n = threads * per_thread;
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "every caller got a distinct, gap-free position"
    );
    let report = verify_ok(&ctx);
    assert_eq!(report.entries, n);
    let expected: i64 = (0..threads)
        .flat_map(|t| (0..per_thread).map(move |i| 100 + t * 1000 + i))
        .sum();
    let mut conn = ctx.conn().expect("conn");
    assert_eq!(
        repo::account_totals(&mut conn, "1218.01").expect("totals"),
        (expected, 0)
    );
    assert_eq!(
        repo::account_totals(&mut conn, "2103.1030401").expect("totals"),
        (0, expected)
    );
    let tb = repo::trial_balance(&mut conn, &ctx.chart.current(), None).expect("tb");
    let tb_day = repo::trial_balance(&mut conn, &ctx.chart.current(), Some(day())).expect("tb");
    assert_eq!(tb, tb_day, "per-day totals agree with maintained balances");
    let before =
        repo::trial_balance(&mut conn, &ctx.chart.current(), day().pred_opt()).expect("tb");
    assert!(before.iter().all(|f| f.debit_total_minor == 0));
}

#[test]
fn a_failed_job_leaves_nothing_and_the_others_commit() {
    let db = TestDb::new();
    let ctx = db.open();
    // Job A posts an entry and writes an audit row, then fails: both must vanish.
    let failing = ctx.writer.clone();
    let a = std::thread::spawn(move || {
        failing.submit_blocking(|batch| -> Result<(), PostError> {
            batch.post(capture(111))?;
            onecard::audit::record(
                batch.conn()?,
                onecard::audit::AuditEvent {
                    actor: "test",
                    action: "test.fail",
                    subject: "nothing",
                    before: None,
                    after: None,
                },
            )?;
            Err(PostError::Rule(LedgerError::InvalidEntry(
                "changed my mind".into(),
            )))
        })
    });
    let ok: Vec<_> = (0..8)
        .map(|i| ctx.writer.post_blocking(capture(1000 + i)).expect("post"))
        .collect();
    assert!(matches!(
        a.join().expect("thread"),
        Err(WriteError::Rejected(_))
    ));
    // An entry refused by the rules also leaves no trace.
    let unbalanced = NewEntry {
        postings: vec![
            Posting::debit("1218.01", 5),
            Posting::credit("2103.1030401", 4),
        ],
        ..capture(5)
    };
    assert!(matches!(
        ctx.writer.post_blocking(unbalanced),
        Err(WriteError::Rejected(PostError::Rule(
            LedgerError::Unbalanced { .. }
        )))
    ));
    let report = verify_ok(&ctx);
    assert_eq!(report.entries, ok.len() as i64);
    let mut conn = ctx.conn().expect("conn");
    let failed_rows: i64 = audit_log::table
        .filter(audit_log::action.eq("test.fail"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(failed_rows, 0);
    let amounts: i64 = repo::account_totals(&mut conn, "1218.01")
        .expect("totals")
        .0;
    assert_eq!(amounts, (1000..1008).sum::<i64>());
}

fn drop_guards(db: &TestDb, conn: &mut onecard::db::DbConn) {
    let sql = if db.is_postgres() {
        "DROP TRIGGER ledger_postings_append_only ON ledger_postings; DROP TRIGGER ledger_entries_append_only ON ledger_entries;"
    } else {
        "DROP TRIGGER ledger_postings_no_update; DROP TRIGGER ledger_entries_no_update;"
    };
    conn.batch_execute(sql).expect("drop guards");
}

#[test]
fn the_database_refuses_to_change_or_remove_entries() {
    let db = TestDb::new();
    let ctx = db.open();
    ctx.writer.post_blocking(capture(500)).expect("post");
    let mut conn = ctx.conn().expect("conn");
    onecard::audit::record(
        &mut conn,
        onecard::audit::AuditEvent {
            actor: "test",
            action: "test.row",
            subject: "x",
            before: None,
            after: None,
        },
    )
    .expect("audit row");
    for sql in [
        "UPDATE ledger_postings SET amount_minor = 1 WHERE entry_seq = 1",
        "DELETE FROM ledger_postings WHERE entry_seq = 1",
        "UPDATE ledger_entries SET memo = 'x' WHERE seq = 1",
        "DELETE FROM ledger_entries WHERE seq = 1",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
    ] {
        assert!(conn.batch_execute(sql).is_err(), "{sql} was allowed");
    }
    verify_ok(&ctx);
}

#[test]
fn verify_names_the_entry_that_was_altered() {
    let db = TestDb::new();
    let ctx = db.open();
    for i in 1..=6 {
        ctx.writer.post_blocking(capture(100 * i)).expect("post");
    }
    verify_ok(&ctx);
    let mut conn = ctx.conn().expect("conn");
    drop_guards(&db, &mut conn);
    // Someone with database access moves 1.00 within entry 4 (keeping it balanced).
    conn.batch_execute(
        "UPDATE ledger_postings SET amount_minor = amount_minor + 100 WHERE entry_seq = 4",
    )
    .expect("tamper");
    let report = repo::verify(&mut conn, &ctx.chart.current(), |_, _| {}).expect("verify");
    assert!(!report.ok);
    assert_eq!(report.first_bad_entry, Some(4), "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains("entry 4")));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("maintained balance")),
        "balances no longer match postings: {:?}",
        report.problems
    );

    // A memo rewritten in entry 2 is found first.
    conn.batch_execute("UPDATE ledger_entries SET memo = 'nothing to see' WHERE seq = 2")
        .expect("tamper");
    let report = repo::verify(&mut conn, &ctx.chart.current(), |_, _| {}).expect("verify");
    assert_eq!(report.first_bad_entry, Some(2));
}

#[test]
fn a_closed_day_accepts_no_entry() {
    let db = TestDb::new();
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    conn.batch_execute(
        "INSERT INTO business_days (business_date, status) VALUES ('2026-11-24', 'closed')",
    )
    .expect("close");
    drop(conn);
    let r = ctx.writer.post_blocking(capture(100));
    assert!(
        matches!(r, Err(WriteError::Rejected(PostError::Rule(LedgerError::DayClosed(d)))) if d == day())
    );
    let mut next_day = capture(100);
    next_day.business_date = day().succ_opt().expect("date");
    ctx.writer
        .post_blocking(next_day)
        .expect("an open day accepts it");
}

#[actix_web::test]
async fn reversals_reference_their_original_once() {
    use onecard::ledger::service::{self, ReverseError};
    let db = TestDb::new();
    let ctx = db.open();
    let poster = {
        let mut conn = ctx.conn().expect("conn");
        onecard::auth::persons::create(&mut conn, "poster", "test").expect("person")
    };
    let mut appropriation = capture(700);
    appropriation.kind = EntryKind::Appropriation;
    appropriation.postings = vec![Posting::debit("1002.02", 700), Posting::credit("4001", 700)];
    let original = service::post_manual(&ctx.writer, appropriation, poster.clone())
        .await
        .expect("post");
    // The check is handed the stored poster; someone else is not them.
    let is = |who: &str| {
        let who = who.to_string();
        move |stored: Option<&str>| stored == Some(who.as_str())
    };
    let own = service::reverse(
        &ctx.writer,
        original.seq,
        "own".into(),
        "test".into(),
        is(&poster),
    )
    .await;
    assert!(matches!(
        own,
        Err(WriteError::Rejected(ReverseError::SamePerson(s))) if s == original.seq
    ));
    let rev = service::reverse(
        &ctx.writer,
        original.seq,
        "void".into(),
        "test".into(),
        is("per_other"),
    )
    .await
    .expect("reverse");
    assert_eq!(rev.entry.reverses, Some(original.seq));
    assert!(rev
        .entry
        .postings
        .iter()
        .zip(&original.entry.postings)
        .all(|(r, o)| r.side == o.side.opposite()));
    let again = service::reverse(
        &ctx.writer,
        original.seq,
        "again".into(),
        "test".into(),
        is("per_other"),
    )
    .await;
    assert!(matches!(
        again,
        Err(WriteError::Rejected(ReverseError::Post(PostError::Rule(
            LedgerError::AlreadyReversed(_)
        ))))
    ));
    let of_reversal = service::reverse(
        &ctx.writer,
        rev.seq,
        "undo".into(),
        "test".into(),
        is("per_other"),
    )
    .await;
    assert!(matches!(
        of_reversal,
        Err(WriteError::Rejected(ReverseError::NotManual {
            kind: EntryKind::Reversal,
            ..
        }))
    ));
    let captured = ctx.writer.post(capture(700)).await.expect("post");
    let of_capture = service::reverse(
        &ctx.writer,
        captured.seq,
        "undo".into(),
        "test".into(),
        is("per_other"),
    )
    .await;
    assert!(matches!(
        of_capture,
        Err(WriteError::Rejected(ReverseError::NotManual { kind: EntryKind::Capture, undo, .. }))
            if undo.contains("void")
    ));
    let missing =
        service::reverse(&ctx.writer, 999, "x".into(), "test".into(), is("per_other")).await;
    assert!(matches!(
        missing,
        Err(WriteError::Rejected(ReverseError::Post(PostError::Rule(
            LedgerError::UnknownEntry(999)
        ))))
    ));
    let mut conn = ctx.conn().expect("conn");
    assert_eq!(
        repo::account_totals(&mut conn, "1002.02").expect("totals"),
        (700, 700)
    );
    let n: i64 = ledger_entries::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(n, 3);
    drop(conn);
    verify_ok(&ctx);
}

fn arb_entry() -> impl Strategy<Value = NewEntry> {
    let codes: Vec<String> = onecard::ledger::Chart::default_chart()
        .expect("chart")
        .accounts()
        .filter(|a| a.postable)
        .map(|a| a.code.clone())
        .collect();
    let posting = (
        prop::sample::select(codes.clone()),
        any::<bool>(),
        1i64..100_000,
    )
        .prop_map(|(account, debit, amount)| Posting {
            account,
            side: if debit { Side::Debit } else { Side::Credit },
            amount_minor: amount,
            currency: "CNY".into(),
        });
    (
        prop::collection::vec(posting, 1..4),
        prop::sample::select(codes),
        prop::sample::select(vec![
            EntryKind::Capture,
            EntryKind::Settlement,
            EntryKind::FeeTopUp,
            EntryKind::Adjustment,
            EntryKind::Refund,
        ]),
        0u32..3,
    )
        .prop_map(|(mut postings, plug, kind, day_offset)| {
            let net: i64 = postings
                .iter()
                .map(|p| {
                    if p.side == Side::Debit {
                        p.amount_minor
                    } else {
                        -p.amount_minor
                    }
                })
                .sum();
            if net != 0 {
                postings.push(Posting {
                    account: plug,
                    side: if net > 0 { Side::Credit } else { Side::Debit },
                    amount_minor: net.abs(),
                    currency: "CNY".into(),
                });
            }
            NewEntry {
                business_date: day() + chrono::Days::new(u64::from(day_offset)),
                kind,
                memo: "random".into(),
                reference: None,
                reverses: None,
                actor: "proptest".into(),
                postings,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random entries from concurrent writers: whatever the rules accept is committed, the rest
    /// leaves nothing; maintained balances always equal balances recomputed from the postings.
    #[test]
    fn maintained_balances_equal_recomputed(entries in prop::collection::vec(arb_entry(), 1..80)) {
        let db = TestDb::new();
        let ctx = db.open();
        let entries = Arc::new(entries);
        let handles: Vec<_> = (0..4).map(|k| {
            let writer = ctx.writer.clone();
            let entries = entries.clone();
            std::thread::spawn(move || {
                entries.iter().skip(k).step_by(4).map(|e| writer.post_blocking(e.clone()).is_ok()).filter(|ok| *ok).count()
            })
        }).collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        let report = verify_ok(&ctx);
        prop_assert_eq!(report.entries, accepted as i64);
        let mut conn = ctx.conn().expect("conn");
        for f in repo::trial_balance(&mut conn, &ctx.chart.current(), None).expect("tb") {
            prop_assert_eq!(f.debit_total_minor, f.credit_total_minor);
        }
    }
}

/// The writer takes turns with a staged import at SQLite's one write lock (`db::turns`): its
/// batch waits for the chunk under way, and goes the moment that chunk ends.
#[test]
fn a_batch_waits_for_the_chunk_under_way_and_no_longer() {
    let db = TestDb::new();
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    let Some(turns) = onecard::db::turns::of(&mut conn).expect("turns") else {
        assert!(db.is_postgres(), "a SQLite database file has turns");
        return; // PostgreSQL locks rows; nothing takes turns there
    };
    let chunk = turns.bulk();
    let writer = ctx.writer.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(writer.post_blocking(capture(100)).map(|p| p.seq));
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "the batch waited for the chunk under way"
    );
    drop(chunk);
    let seq = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("posted once the chunk ended")
        .expect("post");
    assert_eq!(seq, 1);
    verify_ok(&ctx);
}

/// SQLite's write-ahead log is checkpointed by a thread beside the writer (the writer's own
/// commits no longer do it): posted in bursts with pauses between them, the log is reused from
/// its start after each checkpoint instead of growing by every burst.
#[test]
fn the_write_ahead_log_is_checkpointed_beside_the_writer() {
    let db = TestDb::new();
    if db.is_postgres() {
        return; // PostgreSQL's own checkpointer does this
    }
    let ctx = db.open();
    let wal = {
        #[derive(QueryableByName)]
        struct Main {
            #[diesel(sql_type = diesel::sql_types::Text)]
            file: String,
        }
        let mut conn = ctx.conn().expect("conn");
        let main: Main =
            diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .get_result(&mut *conn)
                .expect("file");
        std::path::PathBuf::from(format!("{}-wal", main.file))
    };
    let burst = |n: i64| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let writer = ctx.writer.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        writer
                            .post_blocking(capture(n * 1000 + t * 100 + i))
                            .expect("post");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("poster");
        }
        std::thread::sleep(std::time::Duration::from_millis(400));
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
    };
    let first = burst(1);
    assert!(first > 0, "the bursts go through the log");
    let sizes: Vec<u64> = (2..=6).map(burst).collect();
    let last = *sizes.last().expect("sizes");
    assert!(
        last < 3 * first,
        "the log grew by every burst: {first} then {sizes:?} bytes"
    );
    assert_eq!(verify_ok(&ctx).entries, 6 * 200);
}

//! A settlement file's entry and a remittance batch's entry post at most once: the jobs of one
//! writer batch see what the jobs before them posted (so a guard's count holds inside a batch),
//! the database's unique index refuses a second one even when a guard is bypassed, and two
//! reconciliation runs of one date started at the same moment post its settlement once.

use std::sync::mpsc;

use chrono::NaiveDate;
use diesel::prelude::*;
use futures_util::future::{join, join4};
use serde_json::json;

use onecard::app::AppContext;
use onecard::auth::Role;
use onecard::db::schema::ledger_entries;
use onecard::ledger::templates::{self, settlement_reference, SettlementTotals};
use onecard::ledger::writer::{Batch, PostError, WriteError};
use onecard::ledger::{repo, EntryKind, LedgerError, NewEntry, Posting};

use crate::reconciliation::a_day_settled_and_credited;
use crate::support::{spawn_app, TestDb};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")
}

/// The settlement entry of `file_id` (gross = net, no fee).
fn settlement(ctx: &AppContext, file_id: &str) -> NewEntry {
    let totals = SettlementTotals {
        gross_minor: 16_000,
        fee_minor: 0,
        net_minor: 16_000,
    };
    templates::settlement(&ctx.chart.current(), day(), file_id, totals, "test")
        .expect("template")
        .expect("postable totals")
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

/// A remittance batch's entry (`rem_20261124`).
fn remittance(memo: &str) -> NewEntry {
    NewEntry {
        memo: memo.into(),
        reference: Some("rem_20261124".into()),
        kind: EntryKind::Remittance,
        postings: vec![
            Posting::debit("2103.1030401", 300),
            Posting::credit("1002.01", 300),
        ],
        ..capture(300)
    }
}

/// The guard `recon::runs::post_settlements` keeps: count the file's settlement entries with an
/// ordinary query, post only if there is none.
fn guarded_settlement(batch: &mut Batch<'_>, entry: NewEntry) -> Result<Option<i64>, PostError> {
    let reference = entry.reference.clone().expect("reference");
    let exists: i64 = ledger_entries::table
        .filter(ledger_entries::reference.eq(&reference))
        .filter(ledger_entries::kind.eq(EntryKind::Settlement.as_str()))
        .count()
        .get_result(batch.conn()?)?;
    if exists > 0 {
        return Ok(None);
    }
    Ok(Some(batch.post(entry)?.seq))
}

fn settlements_of(ctx: &AppContext, reference: &str) -> Vec<i64> {
    let mut conn = ctx.conn().expect("conn");
    ledger_entries::table
        .filter(ledger_entries::reference.eq(reference))
        .filter(ledger_entries::kind.eq(EntryKind::Settlement.as_str()))
        .select(ledger_entries::seq)
        .load(&mut conn)
        .expect("entries")
}

fn verify_ok(ctx: &AppContext) -> repo::VerifyReport {
    let mut conn = ctx.conn().expect("conn");
    let report = repo::verify(&mut conn, &ctx.chart.current(), |_, _| {}).expect("verify");
    assert!(report.ok, "verify: {:?}", report.problems);
    report
}

/// Holds the writer in a job of its own until `release` is sent, so that the jobs submitted
/// meanwhile all wait in its queue and form the next batch together.
fn hold_writer(ctx: &AppContext) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let writer = ctx.writer.clone();
    let holder = std::thread::spawn(move || {
        writer
            .submit_blocking(move |_| -> Result<(), PostError> {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            })
            .expect("holding job");
    });
    started_rx.recv().expect("the writer took the holding job");
    (release_tx, holder)
}

#[actix_web::test]
async fn jobs_of_one_batch_see_the_entries_of_the_jobs_before_them() {
    let db = TestDb::new();
    let ctx = db.open();
    let reference = settlement_reference("F-SAME-BATCH");
    let (release, holder) = hold_writer(&ctx);
    // Queued in this order while the writer is held: they share the next batch.
    let first = ctx.writer.submit({
        let entry = settlement(&ctx, "F-SAME-BATCH");
        move |b| guarded_settlement(b, entry)
    });
    let second = ctx.writer.submit({
        let entry = settlement(&ctx, "F-SAME-BATCH");
        move |b| guarded_settlement(b, entry)
    });
    // A job that only posts (its entry waits), then one that reads it and fails: the failure
    // takes its own writes away and leaves the earlier job's entry.
    let plain = ctx.writer.post(capture(700));
    let failing = ctx.writer.submit(|b| -> Result<(), PostError> {
        let seen: i64 = ledger_entries::table
            .filter(ledger_entries::kind.eq(EntryKind::Capture.as_str()))
            .count()
            .get_result(b.conn()?)?;
        b.post(capture(900))?;
        Err(PostError::Rule(LedgerError::InvalidEntry(format!(
            "saw {seen} capture(s), changed my mind"
        ))))
    });
    let all = join4(first, second, plain, failing);
    let released = async {
        release.send(()).expect("release");
    };
    let ((first, second, plain, failing), ()) = join(all, released).await;
    holder.join().expect("holder");

    let first = first.expect("first job");
    let second = second.expect("second job");
    let plain = plain.expect("plain job");
    match failing {
        Err(WriteError::Rejected(PostError::Rule(LedgerError::InvalidEntry(why)))) => {
            assert!(
                why.starts_with("saw 1 "),
                "the plain job's entry was visible: {why}"
            )
        }
        other => panic!("{other:?}"),
    }
    let posted = first.expect("the first job posts");
    assert_eq!(
        second, None,
        "the second job's count saw the first job's entry"
    );
    assert_eq!(settlements_of(&ctx, &reference), vec![posted]);
    // One batch: one commit time.
    let mut conn = ctx.conn().expect("conn");
    let e1 = repo::load_entry(&mut conn, posted)
        .expect("load")
        .expect("entry");
    assert_eq!(e1.created_at, plain.created_at, "the jobs shared a batch");
    assert_eq!(plain.seq, posted + 1);
    drop(conn);
    let report = verify_ok(&ctx);
    assert_eq!(
        report.entries, 2,
        "settlement and the plain capture; the failed job left none"
    );
}

#[actix_web::test]
async fn the_database_refuses_a_second_settlement_entry_even_without_the_guard() {
    let db = TestDb::new();
    let ctx = db.open();
    let reference = settlement_reference("F-TWICE");
    let first = ctx
        .writer
        .post(settlement(&ctx, "F-TWICE"))
        .await
        .expect("first");
    // The plain post has no guard: the unique index answers, inside the job.
    match ctx.writer.post(settlement(&ctx, "F-TWICE")).await {
        Err(WriteError::Rejected(PostError::AlreadyPosted {
            kind,
            reference: r,
            seq,
        })) => {
            assert_eq!(
                (kind, r.as_str(), seq),
                (EntryKind::Settlement, reference.as_str(), first.seq)
            );
        }
        other => panic!("a second settlement entry was not refused: {other:?}"),
    }
    // Two unguarded posts in one batch: one posts, the other is refused, and the batch's other
    // jobs commit.
    let (release, holder) = hold_writer(&ctx);
    let a = ctx.writer.post(settlement(&ctx, "F-BATCH"));
    let b = ctx.writer.post(settlement(&ctx, "F-BATCH"));
    let c = ctx.writer.post(capture(300));
    let d = ctx.writer.post(remittance("remittance"));
    let ((a, b, c, d), ()) = join(join4(a, b, c, d), async {
        release.send(()).expect("release");
    })
    .await;
    holder.join().expect("holder");
    let refused = [&a, &b]
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(WriteError::Rejected(PostError::AlreadyPosted { .. }))
            )
        })
        .count();
    assert_eq!(refused, 1, "{a:?} {b:?}");
    c.expect("the capture of the same batch commits");
    d.expect("the remittance of the same batch commits");
    assert_eq!(
        settlements_of(&ctx, &settlement_reference("F-BATCH")).len(),
        1
    );
    // A remittance batch's entry posts once too.
    let again = ctx.writer.post(remittance("remittance again")).await;
    assert!(
        matches!(
            again,
            Err(WriteError::Rejected(PostError::AlreadyPosted { .. }))
        ),
        "{again:?}"
    );
    // Reversing the settlement is another kind: allowed, and the original still counts.
    let reversal = templates::reversal(&first, "wrong file".into(), "test".into());
    ctx.writer.post(reversal).await.expect("reversal");
    assert_eq!(settlements_of(&ctx, &reference), vec![first.seq]);
    // Straight into the table, past the writer: refused all the same.
    let mut conn = ctx.conn().expect("conn");
    let direct = diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::seq.eq(10_000),
            ledger_entries::business_date.eq(day()),
            ledger_entries::kind.eq(EntryKind::Settlement.as_str()),
            ledger_entries::memo.eq("by hand"),
            ledger_entries::reference.eq(Some(reference.clone())),
            ledger_entries::reverses_seq.eq(None::<i64>),
            ledger_entries::actor.eq("test"),
            ledger_entries::created_at.eq(first.created_at),
            ledger_entries::prev_hash.eq(vec![0u8; 32]),
            ledger_entries::hash.eq(vec![0u8; 32]),
        ))
        .execute(&mut conn);
    assert!(
        matches!(
            direct,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        ),
        "{direct:?}"
    );
    drop(conn);
    verify_ok(&ctx);
}

#[actix_web::test]
async fn two_runs_of_one_date_at_once_post_its_settlement_once() {
    let app = spawn_app().await;
    let today = a_day_settled_and_credited(&app).await;
    let request = json!({"business_date": today.to_string()});
    let ((s1, _, r1), (s2, _, r2)) = join(
        app.post(Role::Finance, "/v1/reconciliations", &request),
        app.post(Role::Finance, "/v1/reconciliations", &request),
    )
    .await;
    assert_eq!((s1, s2), (201, 201), "{r1}\n{r2}");
    for run in [&r1, &r2] {
        assert_eq!(run["summary"]["cash_matched"], 1, "{run}");
    }
    let posted: Vec<i64> = [&r1, &r2]
        .iter()
        .filter_map(|r| r["settlement_entries"].as_array())
        .flatten()
        .filter_map(|v| v.as_i64())
        .collect();
    assert_eq!(posted.len(), 1, "exactly one run posts: {r1}\n{r2}");
    let mut conn = app.ctx.conn().expect("conn");
    let settlements: Vec<i64> = ledger_entries::table
        .filter(ledger_entries::kind.eq(EntryKind::Settlement.as_str()))
        .select(ledger_entries::seq)
        .load(&mut conn)
        .expect("entries");
    assert_eq!(settlements, posted);
    drop(conn);
    // Fee 0.05 per line: the budget's expense is booked once.
    assert_eq!(app.balance("5001.01").await, Some(json!("0.10")));
    assert_eq!(app.balance("1218.01").await, Some(json!("0.00")));
    let (status, verify) = app.get(Role::Auditor, "/v1/ledger/verify").await;
    assert_eq!(status, 200, "{verify}");
    assert_eq!(verify["ok"], true, "{verify}");
    app.stop().await;
}

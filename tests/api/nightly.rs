//! The nightly job: inbox → import by file name → reconcile → report → archive, on both
//! databases.

use chrono::NaiveDate;
use onecard::app::nightly::{self, Folders};

use crate::support::TestDb;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_night_imports_reconciles_reports_and_files_away() {
    let db = TestDb::new();
    let ctx = db.open();
    let root = db.dir.path().join("night");
    let folders = Folders::under(&root);
    std::fs::create_dir_all(&folders.inbox).expect("inbox");
    let copy = |from: &str, to: &str| {
        std::fs::copy(format!("{FIXTURES}/{from}"), folders.inbox.join(to)).expect("copy");
    };
    copy(
        "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
        "POS_898440379930001_20261124.txt",
    );
    copy(
        "collection-account-statement-csv/ok/33050161234500001234_20261125_20261125.csv",
        "33050161234500001234_20261125_20261125.csv",
    );
    copy(
        "pos-settlement-fixed-width/bad/trailer-net-disagrees.txt",
        "POS_898440379930001_20261123.txt",
    );
    std::fs::write(folders.inbox.join("notes.txt"), "not a bank file").expect("write");
    std::fs::write(
        folders.inbox.join("POS_898440379930001_20261125.txt.part"),
        "half",
    )
    .expect("write");

    let date = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let mut steps = Vec::new();
    let night =
        nightly::run(&ctx, &folders, date, &mut |s| steps.push(s.to_string())).expect("night");
    assert_eq!(night.imported.len(), 2, "{night:?}");
    assert_eq!(night.rejected.len(), 1, "{night:?}");
    assert!(night.rejected[0].1.contains("line 7, byte 43"), "{night:?}");
    assert_eq!(night.unrecognised, vec!["notes.txt".to_string()]);
    assert!(night.run_id.is_some());
    assert!(
        steps.iter().any(|s| s.contains("reconciling 2026-11-24")),
        "{steps:?}"
    );

    assert_eq!(
        names(&folders.inbox),
        vec!["POS_898440379930001_20261125.txt.part", "notes.txt"]
    );
    assert_eq!(
        names(&folders.archive.join("2026-11-24")),
        vec![
            "33050161234500001234_20261125_20261125.csv",
            "POS_898440379930001_20261124.txt"
        ]
    );
    assert_eq!(
        names(&folders.rejected),
        vec![
            "POS_898440379930001_20261123.txt",
            "POS_898440379930001_20261123.txt.error.txt"
        ]
    );
    let reports = names(&folders.reports);
    assert_eq!(reports.len(), 2, "{reports:?}");
    let csv = std::fs::read_to_string(night.report.as_ref().expect("report")).expect("csv");
    assert!(
        csv.contains("netting,") && csv.contains("summary,"),
        "{csv}"
    );

    // The same file dropped again is recognised, not imported twice, and filed beside the first.
    copy(
        "pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt",
        "POS_898440379930001_20261124.txt",
    );
    let again = nightly::run(&ctx, &folders, date, &mut |_| {}).expect("night");
    assert_eq!(again.imported.len(), 1);
    assert!(again.imported[0].3, "duplicate: {again:?}");
    assert_eq!(names(&folders.archive.join("2026-11-24")).len(), 3);
}

/// Two processes (here: two opened services on one database, each with its own pool and
/// writer) told to run the same night at the same moment: one imports, the other skips, and
/// the inbox's file is imported once. A night that finished is skipped after, unless asked
/// for again; a lock held elsewhere skips too.
#[test]
fn a_night_started_twice_at_once_runs_once() {
    use onecard::app::nightly::Turn;
    use onecard::db::schema::settlement_files;
    use std::sync::Barrier;

    let db = TestDb::new();
    let (one, two) = (db.open(), db.open());
    let root = db.dir.path().join("night");
    let folders = Folders::under(&root);
    std::fs::create_dir_all(&folders.inbox).expect("inbox");
    for name in [
        "POS_898440379930001_20261124.txt",
        "POS_898440379930001_20261125.txt",
    ] {
        std::fs::copy(
            format!("{FIXTURES}/pos-settlement-fixed-width/ok/POS_898440379930001_20261124.txt"),
            folders.inbox.join(name),
        )
        .expect("copy");
    }
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let barrier = Barrier::new(2);
    let turns: Vec<Turn> = std::thread::scope(|s| {
        [&one, &two]
            .map(|ctx| {
                let (barrier, folders) = (&barrier, &folders);
                s.spawn(move || {
                    barrier.wait();
                    nightly::run_once(ctx, folders, date, false, &mut |_| {}).expect("night")
                })
            })
            .map(|h| h.join().expect("thread"))
            .into()
    });
    let ran: Vec<&nightly::Night> = turns
        .iter()
        .filter_map(|t| match t {
            Turn::Ran(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(ran.len(), 1, "{turns:?}");
    assert_eq!(ran[0].imported.len(), 2, "{turns:?}");
    assert!(
        turns
            .iter()
            .any(|t| matches!(t, Turn::SkippedRunning | Turn::SkippedDone { .. })),
        "{turns:?}"
    );
    let mut conn = one.conn().expect("conn");
    use diesel::prelude::*;
    let files: i64 = settlement_files::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(files, 1, "the same content twice is one file");
    assert_eq!(names(&folders.archive.join("2026-11-24")).len(), 2);
    assert!(names(&folders.inbox).is_empty());

    // Finished: skipped, unless asked for again.
    assert!(matches!(
        nightly::run_once(&two, &folders, date, false, &mut |_| {}).expect("night"),
        Turn::SkippedDone { .. }
    ));
    assert!(matches!(
        nightly::run_once(&two, &folders, date, true, &mut |_| {}).expect("night"),
        Turn::Ran(_)
    ));
    // Held by someone else (another process, as far as the database can tell): skipped.
    let other = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let held = onecard::db::shared::try_exclusive(
        &one.config.database,
        nightly::JOB,
        nightly::LOCK_KEY,
        "someone else",
    )
    .expect("lock")
    .expect("free");
    assert!(matches!(
        nightly::run_once(&two, &folders, other, false, &mut |_| {}).expect("night"),
        Turn::SkippedRunning
    ));
    drop(held);
    assert!(matches!(
        nightly::run_once(&two, &folders, other, false, &mut |_| {}).expect("night"),
        Turn::Ran(_)
    ));
}

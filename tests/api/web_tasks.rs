//! The pages' long work as stored tasks, on both databases: progress and the outcome read by
//! another instance (another opened service on the same database), a panic reported as a
//! failure, and a task whose instance stopped beating shown as interrupted, never running for
//! ever.

use std::time::{Duration, Instant};

use chrono::Utc;
use onecard::app::tasks::{self, TaskState};
use onecard::web::jobs::{JobState, Jobs, Outcome};

use crate::support::TestDb;

async fn wait_for(jobs: &Jobs, id: &str, what: impl Fn(&JobState) -> bool) -> JobState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = jobs.get(id).await.expect("read").expect("known");
        if what(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "not reached: {s:?}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn progress_and_outcome_are_seen_from_another_instance() {
    let db = TestDb::new();
    let (here, there) = (Jobs::new(db.open()), Jobs::new(db.open()));
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let id = here
        .start("import".into(), "tok_owner".into(), move |p| {
            p.phase("reading", Some(200));
            p.done(50);
            wait.recv().expect("go");
            Outcome::Done {
                summary: "200 records".into(),
                href: "/web/reconciliation".into(),
            }
        })
        .await
        .expect("started");
    // Known on the other instance at once, and its progress reaches it (written every 250 ms).
    let seen = wait_for(&there, &id, |s| s.done == 50).await;
    assert_eq!(seen.state, TaskState::Running);
    assert_eq!(
        (seen.percent(), seen.owner.as_str()),
        (Some(25), "tok_owner")
    );
    go.send(()).expect("go");
    let ended = wait_for(&there, &id, |s| !s.running()).await;
    assert_eq!(
        ended.state,
        TaskState::Done {
            summary: "200 records".into(),
            href: "/web/reconciliation".into()
        }
    );
    // The instance that ran it reads the same from the database once it is over.
    assert_eq!(
        here.get(&id).await.expect("read").expect("known").state,
        ended.state
    );
    assert!(there.get("no-such-task").await.expect("read").is_none());
}

#[actix_web::test]
async fn a_panicking_task_is_reported_failed_not_lost() {
    let db = TestDb::new();
    let jobs = Jobs::new(db.open());
    let id = jobs
        .start("t".into(), "u".into(), |_| panic!("boom"))
        .await
        .expect("started");
    match wait_for(&jobs, &id, |s| !s.running()).await.state {
        TaskState::Failed { code, .. } => assert_eq!(code, "internal"),
        other => panic!("{other:?}"),
    }
}

/// A task stored as running by an instance that then died: shown running while its heartbeat
/// is fresh, interrupted once it is stale.
#[actix_web::test]
async fn a_task_whose_instance_died_shows_as_interrupted() {
    let db = TestDb::new();
    let ctx = db.open();
    let jobs = Jobs::new(ctx.clone());
    let now = Utc::now().naive_utc();
    let mut conn = ctx.conn().expect("conn");
    tasks::insert(&mut conn, "fresh", "u", "run", now).expect("insert");
    let long_ago = now - chrono::Duration::seconds(tasks::STALE_AFTER_SECS + 5);
    tasks::insert(&mut conn, "dead", "u", "run", long_ago).expect("insert");
    tasks::beat(&mut conn, "dead", "matching", 10, Some(40), long_ago).expect("beat");
    drop(conn);
    assert_eq!(
        jobs.get("fresh").await.unwrap().unwrap().state,
        TaskState::Running
    );
    let dead = jobs.get("dead").await.unwrap().unwrap();
    assert_eq!(dead.state, TaskState::Interrupted);
    assert_eq!((dead.phase.as_str(), dead.done), ("matching", 10));
}

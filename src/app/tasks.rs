//! The stored state of the pages' long work (an import, a reconciliation run): written when
//! it starts, as it progresses and when it ends, so that the task's page shows the same on
//! every instance behind a balancer. The instance that runs a task beats its heartbeat while
//! it lives; a task without an end whose heartbeat is older than [`STALE_AFTER_SECS`] was
//! running on an instance that died or restarted, and is shown as interrupted — never as
//! running for ever. (The work itself is the use case's own transaction: an interrupted task
//! either committed or did not; its page says where to look.)
//!
//! Depends on: `db`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::web_tasks;
use crate::db::{DbConn, DbError};

/// A running task whose heartbeat is older than this is shown as interrupted. Larger than the
/// SQLite busy timeout, during which a beat may wait behind a long import's transaction.
pub const STALE_AFTER_SECS: i64 = 60;
/// How long a finished task stays visible.
const KEEP_FINISHED_SECS: i64 = 3600;
/// How long an interrupted task stays visible.
const KEEP_STARTED_SECS: i64 = 86_400;

/// How a task stands as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Its instance is working on it.
    Running,
    /// Done: what to say, and where the result is.
    Done {
        /// One line for the clerk.
        summary: String,
        /// The result's page.
        href: String,
    },
    /// Refused or failed, with the problem's code and detail as the API would report them.
    Failed {
        /// The stable problem code.
        code: String,
        /// What went wrong, for a person.
        detail: String,
    },
    /// Its instance stopped beating before the task ended.
    Interrupted,
}

/// How a task ended, as its runner records it.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// Done: what to say, and where the result is.
    Done {
        /// One line for the clerk.
        summary: &'a str,
        /// The result's page.
        href: &'a str,
    },
    /// Refused or failed.
    Failed {
        /// The stable problem code.
        code: &'a str,
        /// What went wrong, for a person.
        detail: &'a str,
    },
}

/// A task as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = web_tasks)]
pub struct Task {
    /// Its id (random).
    pub id: String,
    /// The principal who started it (only they see it).
    pub owner: String,
    /// What it is.
    pub title: String,
    /// The instance running it ([`super::instance::id`]).
    pub instance: String,
    /// The current step, in words.
    pub phase: String,
    /// Units done in the current step.
    pub done: i64,
    /// Units in the step, when known.
    pub total: Option<i64>,
    /// When it started.
    pub started_at: NaiveDateTime,
    /// When its instance last said it was alive.
    pub heartbeat_at: NaiveDateTime,
    /// When it ended.
    pub finished_at: Option<NaiveDateTime>,
    outcome: Option<String>,
    summary: Option<String>,
    href: Option<String>,
    problem_code: Option<String>,
    problem_detail: Option<String>,
}

impl Task {
    /// How it stands at `now`.
    pub fn state(&self, now: NaiveDateTime) -> TaskState {
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        match self.outcome.as_deref() {
            Some("done") => TaskState::Done {
                summary: text(&self.summary),
                href: text(&self.href),
            },
            Some(_) => TaskState::Failed {
                code: text(&self.problem_code),
                detail: text(&self.problem_detail),
            },
            None if now - self.heartbeat_at > Duration::seconds(STALE_AFTER_SECS) => {
                TaskState::Interrupted
            }
            None => TaskState::Running,
        }
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a task that starts now on this instance, and forgets tasks long finished or
/// interrupted.
pub fn insert(
    conn: &mut DbConn,
    id: &str,
    owner: &str,
    title: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        web_tasks::table.filter(
            web_tasks::finished_at
                .lt(now - Duration::seconds(KEEP_FINISHED_SECS))
                .or(web_tasks::started_at.lt(now - Duration::seconds(KEEP_STARTED_SECS))),
        ),
    )
    .execute(conn)?;
    diesel::insert_into(web_tasks::table)
        .values((
            web_tasks::id.eq(id),
            web_tasks::owner.eq(owner),
            web_tasks::title.eq(title),
            web_tasks::instance.eq(super::instance::id()),
            web_tasks::phase.eq(""),
            web_tasks::done.eq(0i64),
            web_tasks::total.eq(None::<i64>),
            web_tasks::started_at.eq(now),
            web_tasks::heartbeat_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a running task's progress and heartbeat (nothing once it has ended).
pub fn beat(
    conn: &mut DbConn,
    id: &str,
    phase: &str,
    done: u64,
    total: Option<u64>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(
        web_tasks::table
            .find(id)
            .filter(web_tasks::finished_at.is_null()),
    )
    .set((
        web_tasks::phase.eq(phase),
        web_tasks::done.eq(count(done)),
        web_tasks::total.eq(total.map(count)),
        web_tasks::heartbeat_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records how a task ended.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    ending: Ending<'_>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let (outcome, summary, href, code, detail) = match ending {
        Ending::Done { summary, href } => ("done", Some(summary), Some(href), None, None),
        Ending::Failed { code, detail } => ("failed", None, None, Some(code), Some(detail)),
    };
    diesel::update(web_tasks::table.find(id))
        .set((
            web_tasks::outcome.eq(outcome),
            web_tasks::summary.eq(summary),
            web_tasks::href.eq(href),
            web_tasks::problem_code.eq(code),
            web_tasks::problem_detail.eq(detail),
            web_tasks::heartbeat_at.eq(now),
            web_tasks::finished_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A task by id.
pub fn get(conn: &mut DbConn, id: &str) -> Result<Option<Task>, DbError> {
    Ok(web_tasks::table
        .find(id)
        .select(Task::as_select())
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_764_478_800 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn task(outcome: Option<&str>, heartbeat: i64) -> Task {
        Task {
            id: "t".into(),
            owner: "o".into(),
            title: "x".into(),
            instance: "i".into(),
            phase: "p".into(),
            done: 0,
            total: None,
            started_at: at(0),
            heartbeat_at: at(heartbeat),
            finished_at: outcome.map(|_| at(heartbeat)),
            outcome: outcome.map(str::to_string),
            summary: Some("s".into()),
            href: Some("/web/x".into()),
            problem_code: Some("c".into()),
            problem_detail: Some("d".into()),
        }
    }

    #[test]
    fn a_task_without_an_end_is_running_only_while_its_heartbeat_is_fresh() {
        let t = task(None, 10);
        assert_eq!(t.state(at(10 + STALE_AFTER_SECS)), TaskState::Running);
        assert_eq!(t.state(at(11 + STALE_AFTER_SECS)), TaskState::Interrupted);
        // An ended task stays ended however old its heartbeat.
        assert!(matches!(
            task(Some("done"), 10).state(at(100_000)),
            TaskState::Done { .. }
        ));
        assert_eq!(
            task(Some("failed"), 10).state(at(100_000)),
            TaskState::Failed {
                code: "c".into(),
                detail: "d".into()
            }
        );
    }
}

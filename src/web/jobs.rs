//! Long work started from a page (an import, a reconciliation) runs on its own thread as a
//! task; the browser is sent to the task's page, which shows how far it has got and refreshes
//! itself every second (no JavaScript) until the work ends, then links to the result.
//!
//! Tasks live in memory: they show progress only. The work itself is the use case's own
//! transaction, so a restart loses the progress display, never the work's outcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{redirect, Chrome, Staff, WebError, BASE};
use crate::http::problem::ApiError;
use crate::keys::KeyError;

/// How long a finished task stays visible.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs/{id}", web::get().to(show));
}

/// 16 random bytes as hex: task ids and sign-in nonces.
pub fn random_id() -> Result<String, KeyError> {
    Ok(hex::encode(crate::keys::random_bytes::<16>()?))
}

/// How a task ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done: what to say, and where the result is.
    Done {
        /// One line for the clerk.
        summary: String,
        /// The result's page.
        href: String,
    },
    /// Refused or failed: the problem, as the API would report it.
    Failed(ApiError),
}

/// A task's state.
#[derive(Debug, Clone)]
pub struct JobState {
    /// What it is ("导入 pos-20261124.txt").
    pub title: String,
    /// The user who started it (only they see it).
    pub owner: String,
    /// The current step, in words.
    pub phase: String,
    /// Units done so far (records read…).
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// Set when it ends.
    pub outcome: Option<Outcome>,
    started: Instant,
    ended: Option<Instant>,
}

impl JobState {
    /// Percent done, when the total is known.
    pub fn percent(&self) -> Option<u64> {
        self.total
            .filter(|t| *t > 0)
            .map(|t| (self.done.min(t) * 100) / t)
    }

    /// Seconds since it started (or its whole run, once ended).
    pub fn elapsed_secs(&self) -> u64 {
        self.ended
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
            .as_secs()
    }
}

/// The running and recently finished tasks.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<HashMap<String, JobState>>>,
}

/// What a task's work uses to report progress.
#[derive(Clone)]
pub struct Progress {
    jobs: Jobs,
    id: String,
}

impl Progress {
    /// A new step, with its size when known.
    pub fn phase(&self, phase: impl Into<String>, total: Option<u64>) {
        self.jobs.update(&self.id, |s| {
            s.phase = phase.into();
            s.done = 0;
            s.total = total;
        });
    }

    /// Units done in the current step.
    pub fn done(&self, done: u64) {
        self.jobs.update(&self.id, |s| s.done = done);
    }
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, JobState>> {
        // A panic while holding the lock leaves only progress figures behind: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut JobState)) {
        if let Some(s) = self.lock().get_mut(id) {
            f(s);
        }
    }

    /// Starts `work` on its own thread; returns the task id at once.
    pub fn start<F>(&self, title: String, owner: String, work: F) -> Result<String, ApiError>
    where
        F: FnOnce(&Progress) -> Outcome + Send + 'static,
    {
        let id = random_id().map_err(|e| ApiError::internal(&e))?;
        {
            let mut all = self.lock();
            all.retain(|_, s| s.ended.is_none_or(|e| e.elapsed() < KEEP_FINISHED));
            all.insert(
                id.clone(),
                JobState {
                    title,
                    owner,
                    phase: String::new(),
                    done: 0,
                    total: None,
                    outcome: None,
                    started: Instant::now(),
                    ended: None,
                },
            );
        }
        let progress = Progress {
            jobs: self.clone(),
            id: id.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("web-task-{}", &id[..8]))
            .spawn(move || {
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&progress)))
                        .unwrap_or_else(|_| {
                            Outcome::Failed(ApiError::internal(&"the task stopped unexpectedly"))
                        });
                progress.jobs.update(&progress.id, |s| {
                    s.outcome = Some(outcome);
                    s.ended = Some(Instant::now());
                });
            });
        if let Err(e) = spawned {
            self.lock().remove(&id);
            return Err(ApiError::internal(&e));
        }
        Ok(id)
    }

    /// A task's state, if it exists.
    pub fn get(&self, id: &str) -> Option<JobState> {
        self.lock().get(id).cloned()
    }
}

/// After a form that started a task: go to its page.
pub fn follow(id: &str) -> HttpResponse {
    redirect(&format!("{BASE}/jobs/{id}"))
}

#[derive(Template)]
#[template(path = "job.html", config = "src/web/askama.toml")]
struct JobPage {
    c: Chrome,
    job: Option<JobState>,
}

async fn show(
    staff: Staff,
    jobs: web::Data<Jobs>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let job = jobs
        .get(&id)
        .filter(|j| j.owner == staff.principal.token_id);
    let title = job
        .as_ref()
        .map_or_else(|| staff.w.working.to_string(), |j| j.title.clone());
    let page = JobPage {
        c: staff.chrome(title, ""),
        job,
    };
    staff.page(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(jobs: &Jobs, id: &str) -> JobState {
        for _ in 0..500 {
            let s = jobs.get(id).unwrap();
            if s.outcome.is_some() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("task did not end");
    }

    #[test]
    fn a_task_reports_progress_and_its_outcome() {
        let jobs = Jobs::default();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let id = jobs
            .start("t".into(), "u".into(), move |p| {
                p.phase("reading", Some(200));
                p.done(50);
                rx.recv().unwrap();
                Outcome::Done {
                    summary: "ok".into(),
                    href: "/web/today".into(),
                }
            })
            .unwrap();
        // Running: the progress is visible while the work waits.
        let mut seen = None;
        for _ in 0..500 {
            let s = jobs.get(&id).unwrap();
            if s.done == 50 {
                seen = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let seen = seen.expect("progress shown");
        assert_eq!(seen.percent(), Some(25));
        assert!(seen.outcome.is_none());
        tx.send(()).unwrap();
        assert!(matches!(
            wait(&jobs, &id).outcome,
            Some(Outcome::Done { .. })
        ));
    }

    #[test]
    fn a_panicking_task_is_reported_failed_not_lost() {
        let jobs = Jobs::default();
        let id = jobs
            .start("t".into(), "u".into(), |_| panic!("boom"))
            .unwrap();
        match wait(&jobs, &id).outcome {
            Some(Outcome::Failed(p)) => assert_eq!(p.code, "internal"),
            other => panic!("{other:?}"),
        }
    }
}

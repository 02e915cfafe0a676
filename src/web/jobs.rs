//! Long work started from a page (an import, a reconciliation) runs on its own thread as a
//! task; the browser is sent to the task's page, which shows how far it has got and refreshes
//! itself every second (no JavaScript) until the work ends, then links to the result.
//!
//! The task's state is stored ([`crate::app::tasks`]): written when it starts, as it progresses
//! (at most every [`WRITE_EVERY`], and a heartbeat every [`BEAT_EVERY`] even without progress)
//! and when it ends, so that its page reads the same on whichever instance a balancer sends the
//! browser to. A task whose instance stopped shows as interrupted once its heartbeat is stale.
//! The instance running a task shows it from memory while it runs (fresher, and not held up
//! when a long SQLite transaction delays a heartbeat).

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;

use super::{redirect, Chrome, Staff, WebError, BASE};
use crate::app::tasks::{self, Ending, TaskState};
use crate::app::AppContext;
use crate::http::problem::ApiError;
use crate::keys::KeyError;
use crate::words::Lang;

/// Progress is written at most this often.
pub const WRITE_EVERY: Duration = Duration::from_millis(250);
/// A running task's heartbeat is written at least this often.
pub const BEAT_EVERY: Duration = Duration::from_secs(2);

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs/{id}", web::get().to(show));
}

/// 16 random bytes as hex: task ids and sign-in nonces.
pub fn random_id() -> Result<String, KeyError> {
    Ok(hex::encode(crate::keys::random_bytes::<16>()?))
}

/// How a task's work ended.
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

/// A task as its page shows it.
#[derive(Debug, Clone)]
pub struct JobState {
    /// What it is ("导入 pos-20261124.txt").
    pub title: String,
    /// The principal who started it (only they see it).
    pub owner: String,
    /// The current step, in words.
    pub phase: String,
    /// Units done so far (records read…).
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// Running, ended (how), or interrupted.
    pub state: TaskState,
    /// Seconds since it started (or its whole run, once ended).
    pub elapsed: u64,
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
        self.elapsed
    }

    /// Whether its instance is still working on it (the page refreshes itself then).
    pub fn running(&self) -> bool {
        self.state == TaskState::Running
    }
}

/// What a running task has reported, in this process.
#[derive(Debug, Clone, Default)]
struct Reported {
    phase: String,
    done: u64,
    total: Option<u64>,
    /// Changed since last written.
    dirty: bool,
}

/// A task running in this process.
struct Live {
    title: String,
    owner: String,
    started: Instant,
    reported: Mutex<Reported>,
}

impl Live {
    fn reported(&self) -> MutexGuard<'_, Reported> {
        // A panic while holding the lock leaves only progress figures behind: keep going.
        self.reported.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tasks: stored for every instance, and those running here.
#[derive(Clone)]
pub struct Jobs {
    ctx: AppContext,
    live: Arc<Mutex<HashMap<String, Arc<Live>>>>,
}

/// What a task's work uses to report progress.
#[derive(Clone)]
pub struct Progress {
    live: Arc<Live>,
}

impl Progress {
    /// A new step, with its size when known.
    pub fn phase(&self, phase: impl Into<String>, total: Option<u64>) {
        let mut r = self.live.reported();
        r.phase = phase.into();
        r.done = 0;
        r.total = total;
        r.dirty = true;
    }

    /// Units done in the current step.
    pub fn done(&self, done: u64) {
        let mut r = self.live.reported();
        r.done = done;
        r.dirty = true;
    }
}

/// Writes a running task's progress every [`WRITE_EVERY`] when it changed, and its heartbeat
/// every [`BEAT_EVERY`], until `stop` hears something or is dropped.
fn beat_until_stopped(ctx: &AppContext, id: &str, live: &Live, stop: &mpsc::Receiver<()>) {
    let mut written = Instant::now();
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(WRITE_EVERY) {
        let now = {
            let mut r = live.reported();
            if !r.dirty && written.elapsed() < BEAT_EVERY {
                continue;
            }
            r.dirty = false;
            r.clone()
        };
        written = Instant::now();
        let wrote = ctx.conn().and_then(|mut conn| {
            tasks::beat(
                &mut conn,
                id,
                &now.phase,
                now.done,
                now.total,
                Utc::now().naive_utc(),
            )
        });
        if let Err(e) = wrote {
            // The next turn tries again; a long silence shows the task as interrupted.
            tracing::warn!(task = id, error = %e, "task progress not written");
        }
    }
}

impl Jobs {
    /// The tasks of the service `ctx` opened.
    pub fn new(ctx: AppContext) -> Jobs {
        Jobs {
            ctx,
            live: Arc::default(),
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the task and starts `work` on its own thread; returns the task id once the
    /// task is stored (so its page finds it on any instance).
    pub async fn start<F>(&self, title: String, owner: String, work: F) -> Result<String, ApiError>
    where
        F: FnOnce(&Progress) -> Outcome + Send + 'static,
    {
        let id = random_id().map_err(|e| ApiError::internal(&e))?;
        {
            let (ctx, id, owner, title) =
                (self.ctx.clone(), id.clone(), owner.clone(), title.clone());
            web::block(move || {
                let mut conn = ctx.conn()?;
                tasks::insert(&mut conn, &id, &owner, &title, Utc::now().naive_utc())
            })
            .await
            .map_err(|e| ApiError::internal(&e))??;
        }
        let live = Arc::new(Live {
            title,
            owner,
            started: Instant::now(),
            reported: Mutex::default(),
        });
        self.live().insert(id.clone(), live.clone());
        let jobs = self.clone();
        let task_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("web-task-{}", &id[..8]))
            .spawn(move || jobs.run(&task_id, live, work));
        if let Err(e) = spawned {
            self.live().remove(&id);
            let ctx = self.ctx.clone();
            let (task, detail) = (id.clone(), e.to_string());
            let _ = web::block(move || {
                let mut conn = ctx.conn()?;
                let ending = Ending::Failed {
                    code: "internal",
                    detail: &detail,
                };
                tasks::finish(&mut conn, &task, ending, Utc::now().naive_utc())
            })
            .await;
            return Err(ApiError::internal(&e));
        }
        Ok(id)
    }

    /// The task thread: the work, beside it the heartbeat, then the ending stored.
    fn run<F>(&self, id: &str, live: Arc<Live>, work: F)
    where
        F: FnOnce(&Progress) -> Outcome,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let beat = {
            let (ctx, id, live) = (self.ctx.clone(), id.to_string(), live.clone());
            std::thread::Builder::new()
                .name(format!("web-beat-{}", &id[..8]))
                .spawn(move || beat_until_stopped(&ctx, &id, &live, &stopped))
        };
        if let Err(e) = &beat {
            tracing::warn!(task = id, error = %e, "no heartbeat thread; the task may show as interrupted");
        }
        let progress = Progress { live };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&progress)))
            .unwrap_or_else(|_| {
                Outcome::Failed(ApiError::internal(&"the task stopped unexpectedly"))
            });
        drop(stop);
        if let Ok(handle) = beat {
            let _ = handle.join();
        }
        let ending = match &outcome {
            Outcome::Done { summary, href } => Ending::Done { summary, href },
            Outcome::Failed(p) => Ending::Failed {
                code: p.code,
                detail: &p.detail,
            },
        };
        let stored = self
            .ctx
            .conn()
            .and_then(|mut conn| tasks::finish(&mut conn, id, ending, Utc::now().naive_utc()));
        if let Err(e) = stored {
            tracing::error!(task = id, error = %e, "the task's ending was not stored; its page will show it interrupted");
        }
        self.live().remove(id);
    }

    /// A task's state, if it exists: from memory while it runs here, else as stored.
    pub async fn get(&self, id: &str) -> Result<Option<JobState>, ApiError> {
        let running_here = self.live().get(id).cloned();
        if let Some(live) = running_here {
            let r = live.reported().clone();
            return Ok(Some(JobState {
                title: live.title.clone(),
                owner: live.owner.clone(),
                phase: r.phase,
                done: r.done,
                total: r.total,
                state: TaskState::Running,
                elapsed: live.started.elapsed().as_secs(),
            }));
        }
        let ctx = self.ctx.clone();
        let id = id.to_string();
        let stored = web::block(move || {
            let mut conn = ctx.conn()?;
            tasks::get(&mut conn, &id)
        })
        .await
        .map_err(|e| ApiError::internal(&e))??;
        let now = Utc::now().naive_utc();
        Ok(stored.map(|t| {
            let elapsed = (t.finished_at.unwrap_or(now) - t.started_at).num_seconds();
            JobState {
                state: t.state(now),
                title: t.title,
                owner: t.owner,
                phase: t.phase,
                done: u64::try_from(t.done).unwrap_or(0),
                total: t.total.and_then(|n| u64::try_from(n).ok()),
                elapsed: u64::try_from(elapsed).unwrap_or(0),
            }
        }))
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
    let lang = staff.lang;
    let job = jobs
        .get(&id)
        .await
        .map_err(|e| WebError::Problem(e, lang))?
        .filter(|j| j.owner == staff.principal.token_id)
        .map(|mut j| {
            // The stored detail is the typed error's English sentence; a Chinese page says the
            // code's own words instead.
            if let (Lang::Zh, crate::app::tasks::TaskState::Failed { code, detail }) =
                (lang, &mut j.state)
            {
                if let Some(w) = crate::words::problem(code) {
                    *detail = crate::words::fill(w.detail_zh, &|_| None);
                }
            }
            j
        });
    let title = job
        .as_ref()
        .map_or_else(|| staff.w.working.to_string(), |j| j.title.clone());
    let page = JobPage {
        c: staff.chrome(title, ""),
        job,
    };
    staff.page(&page)
}

//! The writer thread's loop, and its supervisor: a thread that waits on the writer thread and, when it dies (a panic
//! outside the per-job guards, a bug in the writer itself), marks the writer not alive
//! (`/readyz` answers 503), waits a moment, opens a fresh connection and starts a fresh writer
//! on the same queue: jobs sent meanwhile wait there and run in the new writer's first batch.
//! When the writer ends normally (every handle dropped: the service is stopping), so does the
//! supervisor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;

use super::{run_batch, Deliver, Msg, WriterConfig};
use crate::db::turns::WriteTurns;
use crate::db::{DbConn, DbError, DbTarget};
use crate::ledger::accounts::SharedChart;
use crate::metrics;

/// The first pause before a dead writer is started again; doubled (up to
/// [`LONGEST_PAUSE`]) while it keeps dying soon after each start.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between restarts.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// A writer that ran this long before dying starts the pauses afresh.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// What the handles see of the writer thread.
#[derive(Debug, Default)]
pub(super) struct Health {
    dead: AtomicBool,
    restarts: AtomicU64,
    /// Set once the writer has ended normally and closed its connection.
    stopped: AtomicBool,
}

impl Health {
    pub(super) fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }

    pub(super) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// How often the checkpointer looks at SQLite's write-ahead log.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// What a fresh writer needs.
struct Parts {
    target: DbTarget,
    chart: SharedChart,
    config: WriterConfig,
    queue: Arc<Mutex<mpsc::Receiver<Msg>>>,
    /// Whether a [`Checkpointer`] runs beside the writer (SQLite): then the writer's own
    /// commits leave the write-ahead log alone.
    checkpointed: bool,
}

impl Parts {
    fn spawn(&self, conn: DbConn) -> std::io::Result<JoinHandle<()>> {
        let (target, chart, config, queue, checkpointed) = (
            self.target.clone(),
            self.chart.clone(),
            self.config.clone(),
            Arc::clone(&self.queue),
            self.checkpointed,
        );
        thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                // Held for the writer's life; a writer that died poisoned it, and the queue
                // itself is whole (a receive is not interrupted by a panic).
                let receiver = queue.lock().unwrap_or_else(PoisonError::into_inner);
                writer_loop(target, conn, chart, config, checkpointed, &receiver);
            })
    }
}

/// Starts the writer on `conn` and its supervisor; returns what the handles watch.
pub(super) fn start(
    target: DbTarget,
    conn: DbConn,
    chart: SharedChart,
    config: WriterConfig,
    receiver: mpsc::Receiver<Msg>,
) -> std::io::Result<Arc<Health>> {
    let checkpointer = Checkpointer::start(&target);
    let parts = Parts {
        target,
        chart,
        config,
        queue: Arc::new(Mutex::new(receiver)),
        checkpointed: checkpointer.is_some(),
    };
    let first = parts.spawn(conn)?;
    let health = Arc::new(Health::default());
    let watched = Arc::clone(&health);
    thread::Builder::new()
        .name("ledger-supervisor".into())
        .spawn(move || supervise(parts, first, checkpointer, &watched))?;
    Ok(health)
}

/// SQLite's write-ahead log checkpointed by a thread of its own, beside the writer: left to
/// itself SQLite checkpoints inside whichever commit finds the log past 1,000 pages, and on
/// the writer's thread that commit — and every payment in its batch — waited for the pages to
/// be copied back and the database file synced (6% of all of intake's time, measured).
/// A `PASSIVE` checkpoint takes no lock a writer or reader needs.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts one for a SQLite target; `None` on PostgreSQL, or when it cannot start (the
    /// writer then checkpoints as SQLite does by default).
    fn start(target: &DbTarget) -> Option<Checkpointer> {
        if !matches!(target, DbTarget::Sqlite(_)) {
            return None;
        }
        let mut conn = match target.connect() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpointer: the writer checkpoints itself");
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                while !stopping.load(Ordering::SeqCst) {
                    thread::park_timeout(CHECKPOINT_EVERY);
                    match conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        Ok(()) => failing = false,
                        // said once per run of failures, not every tenth of a second
                        Err(e) if !failing => {
                            failing = true;
                            tracing::error!(error = %e, "the write-ahead log cannot be checkpointed");
                        }
                        Err(_) => {}
                    }
                }
                // the last one, so a closing writer leaves the log empty
                let _ = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)");
            });
        match thread {
            Ok(thread) => Some(Checkpointer { stop, thread }),
            Err(e) => {
                tracing::warn!(error = %e, "no checkpointer: the writer checkpoints itself");
                None
            }
        }
    }

    /// Stops the thread and closes its connection.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

/// Leaves checkpoints to the [`Checkpointer`] on the writer's connection.
fn hand_checkpoints_over(conn: &mut DbConn) {
    if let Err(e) = conn.batch_execute("PRAGMA wal_autocheckpoint = 0") {
        tracing::warn!(error = %e, "the writer keeps checkpointing itself");
    }
}

fn supervise(
    parts: Parts,
    mut writer: JoinHandle<()>,
    checkpointer: Option<Checkpointer>,
    health: &Health,
) {
    let mut pause = FIRST_PAUSE;
    let mut started = Instant::now();
    loop {
        match writer.join() {
            // The queue closed: the service is stopping. The writer's connection is closed.
            Ok(()) => {
                if let Some(checkpointer) = checkpointer {
                    checkpointer.stop();
                }
                health.stopped.store(true, Ordering::SeqCst);
                return;
            }
            Err(panic) => {
                health.dead.store(true, Ordering::SeqCst);
                if started.elapsed() >= STABLE_AFTER {
                    pause = FIRST_PAUSE;
                }
                tracing::error!(
                    panic = %panic_message(panic.as_ref()),
                    restart_in_ms = pause.as_millis() as u64,
                    "the ledger writer died; a fresh one will be started"
                );
            }
        }
        loop {
            thread::sleep(pause);
            pause = (pause * 2).min(LONGEST_PAUSE);
            match parts.spawn(reconnect(&parts.target)) {
                Ok(fresh) => {
                    writer = fresh;
                    break;
                }
                Err(e) => tracing::error!(error = %e, "cannot start a fresh ledger writer thread"),
            }
        }
        started = Instant::now();
        health.restarts.fetch_add(1, Ordering::SeqCst);
        health.dead.store(false, Ordering::SeqCst);
        tracing::warn!("a fresh ledger writer was started");
    }
}

/// A random id for a panic, quoted to the caller and logged beside the panic message.
pub(super) fn incident_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => format!("inc_{}", hex::encode(bytes)),
        // No randomness: the time still tells the log line apart.
        Err(_) => format!("inc_t{}", Utc::now().timestamp_micros()),
    }
}

/// The text a panic was raised with.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

fn writer_loop(
    target: DbTarget,
    mut conn: DbConn,
    shared: SharedChart,
    config: WriterConfig,
    checkpointed: bool,
    receiver: &mpsc::Receiver<Msg>,
) {
    if checkpointed {
        hand_checkpoints_over(&mut conn);
    }
    let max_batch = config.max_batch.max(1);
    // Waking dozens of callers costs as much as a small batch; a second thread does it, so the
    // writer goes straight on to the next batch.
    let (answers_tx, answers_rx) = mpsc::channel::<Answers>();
    let delivery = thread::Builder::new()
        .name("ledger-delivery".into())
        .spawn(move || {
            while let Ok((outcome, deliveries)) = answers_rx.recv() {
                deliver_all(&outcome, deliveries);
            }
        });
    let send_answers = move |outcome: Result<(), Arc<DbError>>, deliveries: Vec<Deliver>| {
        if delivery.is_err() {
            return deliver_all(&outcome, deliveries);
        }
        if let Err(mpsc::SendError((outcome, deliveries))) = answers_tx.send((outcome, deliveries))
        {
            deliver_all(&outcome, deliveries);
        }
    };
    // Turns with this process's staged imports at SQLite's one write lock (`db::turns`).
    let turns = crate::db::turns::of(&mut conn).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot name the database file; batches take no turns");
        None
    });
    while let Ok(first) = receiver.recv() {
        let mut die = false;
        let mut jobs = Vec::new();
        match first {
            Msg::Job(job) => jobs.push(job),
            Msg::Die => die = true,
        }
        while !die && jobs.len() < max_batch {
            match receiver.try_recv() {
                Ok(Msg::Job(job)) => jobs.push(job),
                Ok(Msg::Die) => die = true,
                Err(_) => break,
            }
        }
        if jobs.is_empty() {
            // Only the test hook: die now.
            killed_by_test_hook();
        }
        let size = jobs.len();
        // Each batch reads the chart as it stands: an account opened a moment ago (here, or by
        // another instance on the same database) can take postings at once.
        let chart = shared.fresh(&mut conn).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the opened accounts; the chart stays as it was");
            shared.current()
        });
        let turn = turns.as_deref().map(WriteTurns::urgent);
        let (committed, deliveries) = run_batch(&mut conn, &chart, jobs);
        drop(turn);
        match committed {
            Ok(posted) => {
                metrics::record_batch(size, posted);
                send_answers(Ok(()), deliveries);
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = size, "ledger batch failed; nothing of it was written");
                send_answers(Err(Arc::new(e)), deliveries);
                // The connection may be broken; open a fresh one before the next batch.
                conn = reconnect(&target);
                if checkpointed {
                    hand_checkpoints_over(&mut conn);
                }
            }
        }
        if die {
            killed_by_test_hook();
        }
    }
}

/// One batch's outcome and its callers' deliveries, handed to the delivery thread.
type Answers = (Result<(), Arc<DbError>>, Vec<Deliver>);

fn deliver_all(outcome: &Result<(), Arc<DbError>>, deliveries: Vec<Deliver>) {
    for deliver in deliveries {
        deliver(outcome.clone());
    }
}

fn reconnect(target: &DbTarget) -> DbConn {
    let mut wait = Duration::from_millis(50);
    loop {
        match target.connect() {
            Ok(c) => return c,
            Err(e) => {
                tracing::error!(error = %e, "ledger writer cannot reconnect; retrying");
                thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The test hook's death: a panic outside every per-job guard, as a bug in the writer would be.
fn killed_by_test_hook() -> ! {
    std::panic::resume_unwind(Box::new("the ledger writer was killed by its test hook"))
}

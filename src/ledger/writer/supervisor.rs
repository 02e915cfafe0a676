//! The writer's supervisor: a thread that waits on the writer thread and, when it dies (a panic
//! outside the per-job guards, a bug in the writer itself), marks the writer not alive
//! (`/readyz` answers 503), waits a moment, opens a fresh connection and starts a fresh writer
//! on the same queue: jobs sent meanwhile wait there and run in the new writer's first batch.
//! When the writer ends normally (every handle dropped: the service is stopping), so does the
//! supervisor.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{panic_message, reconnect, writer_loop, Msg, WriterConfig};
use crate::db::{DbConn, DbTarget};
use crate::ledger::accounts::SharedChart;

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
}

impl Health {
    pub(super) fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }

    pub(super) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }
}

/// What a fresh writer needs.
struct Parts {
    target: DbTarget,
    chart: SharedChart,
    config: WriterConfig,
    queue: Arc<Mutex<mpsc::Receiver<Msg>>>,
}

impl Parts {
    fn spawn(&self, conn: DbConn) -> std::io::Result<JoinHandle<()>> {
        let (target, chart, config, queue) = (
            self.target.clone(),
            self.chart.clone(),
            self.config.clone(),
            Arc::clone(&self.queue),
        );
        thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                // Held for the writer's life; a writer that died poisoned it, and the queue
                // itself is whole (a receive is not interrupted by a panic).
                let receiver = queue.lock().unwrap_or_else(PoisonError::into_inner);
                writer_loop(target, conn, chart, config, &receiver);
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
    let parts = Parts {
        target,
        chart,
        config,
        queue: Arc::new(Mutex::new(receiver)),
    };
    let first = parts.spawn(conn)?;
    let health = Arc::new(Health::default());
    let watched = Arc::clone(&health);
    thread::Builder::new()
        .name("ledger-supervisor".into())
        .spawn(move || supervise(parts, first, &watched))?;
    Ok(health)
}

fn supervise(parts: Parts, mut writer: JoinHandle<()>, health: &Health) {
    let mut pause = FIRST_PAUSE;
    let mut started = Instant::now();
    loop {
        match writer.join() {
            // The queue closed: the service is stopping.
            Ok(()) => return,
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

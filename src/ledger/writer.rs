//! The group-commit ledger writer: the only code that appends to the ledger.
//!
//! Callers submit *jobs*: closures that run inside a database transaction and may post entries
//! ([`Batch::post`]) and write their own rows ([`Batch::conn`]). One thread owns a connection
//! and runs whatever jobs are waiting as one batch in one transaction:
//!
//! 1. lock the chain head (a row lock in PostgreSQL, the write lock in SQLite), read it;
//! 2. run each job in a savepoint of its own, opened when the job first touches the database;
//!    a job that fails is rolled back alone (its entries leave the chain, its rows leave the
//!    database) while the others go on;
//! 3. insert the entries still waiting, add each account's summed deltas to its balance once,
//!    move the chain head, commit;
//! 4. only then answer each caller.
//!
//! **What a job sees.** Every entry posted before a job — by an earlier batch or by an earlier
//! job of the same batch — is in the database by the time the job queries it, so a guard such
//! as "has this file's settlement been posted?" is an ordinary query. An entry is inserted
//! (entry and postings) when it is posted if its job is already inside its savepoint, or if its
//! kind posts once per reference ([`EntryKind::posts_once_per_reference`]: the database's unique
//! index then refuses a second one inside the job, as [`PostError::AlreadyPosted`]). An entry
//! of a job that only posts waits, and is inserted — with the others waiting, in multi-row
//! inserts — just before the next job's savepoint opens, or at the end of the batch: nothing
//! reads the database in between, so waiting changes no one's view and keeps the plain posting
//! path as cheap as before.
//!
//! **Deferred rows.** A job may hand its own rows to the end of the batch too
//! ([`Batch::deferred`], [`Deferred`]): a store per row type, made on first use in the batch,
//! which may look up at once what all the batch's jobs will ask (from the [`Tag`]s they were
//! submitted with, [`LedgerWriter::submit_tagged`]), and writes each of its tables in multi-row
//! inserts — just before the next job's savepoint opens, or at the end of the batch after the
//! entries. A failed job's deferred rows are dropped with it. This is how a payment's rows
//! (payment, lines, card, receipt, idempotency record, audit) cost one statement per table per
//! batch, not one each.
//!
//! **Balances** are still added once per batch with the summed deltas (DESIGN §2), so hot
//! accounts (1218.01, 2103) are written once per batch, not once per entry. Inside a batch the
//! balance rows therefore lag the entries: no job reads them (jobs read entries and postings;
//! the interfund receivable the rules need is kept in memory from the batch's start), and what
//! reads balances reads them after a commit.
//!
//! So chain order is commit order, a caller never hears "posted" for an entry that is not
//! durable. With `max_batch = 1` the same code gives the one-transaction-per-entry baseline.
//! The rows are written by [`super::flush`].

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use tokio::sync::oneshot;

use super::accounts::SharedChart;
use super::chain;
use super::chart::Chart;
use super::model::{EntryKind, NewEntry, PostedEntry, Posting};
use super::repo;
use super::rules::{self, LedgerError, RuleContext};
use crate::db::{DbConn, DbError, DbTarget};

mod deferred;
mod run;
mod supervisor;
pub use deferred::{Deferred, Reads, Tag};
use run::run_batch;
use supervisor::{incident_id, panic_message};

/// Largest number of jobs committed in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 256;

/// Why a job's work did not become durable.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// The job itself refused (a ledger rule, a use-case rule); nothing of it was written.
    #[error(transparent)]
    Rejected(E),
    /// The batch could not be committed; nothing of it was written. Safe to retry.
    #[error("the ledger could not commit: {0}")]
    Storage(Arc<DbError>),
    /// The writer has stopped (shutting down).
    #[error("the ledger writer has stopped")]
    Stopped,
    /// The job panicked: it was rolled back alone, and the rest of its batch committed. The
    /// panic message is in the log at error level beside `incident`.
    #[error("the ledger job panicked (incident {incident})")]
    Panicked {
        /// A random id naming the panic in the log.
        incident: String,
    },
    /// The writer thread died while the job's batch ran (it is restarted); whether the batch
    /// committed is not known to the caller.
    #[error("the ledger writer died while this job's batch ran")]
    Lost,
}

/// What [`Batch::post`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// A ledger rule refused the entry.
    #[error(transparent)]
    Rule(#[from] LedgerError),
    /// Reading state for the rules failed.
    #[error(transparent)]
    Storage(#[from] DbError),
    /// An entry of a kind that posts once per reference already carries this reference: the
    /// entry was posted before (perhaps by another instance). Nothing of the new one was
    /// written; for the guard that asked, the work is done.
    #[error("a {kind} entry with reference {reference} was already posted as entry {seq}")]
    AlreadyPosted {
        /// The entry's kind.
        kind: EntryKind,
        /// The reference it carries.
        reference: String,
        /// The entry that holds it.
        seq: i64,
    },
}

impl From<diesel::result::Error> for PostError {
    fn from(e: diesel::result::Error) -> Self {
        PostError::Storage(DbError::Query(e))
    }
}

type Deliver = Box<dyn FnOnce(Result<(), Arc<DbError>>) + Send>;
type Work = Box<dyn FnOnce(&mut Batch<'_>) -> (bool, Deliver) + Send>;

/// A job with the tags it carries into its batch.
struct Job {
    tags: Vec<Tag>,
    work: Work,
}

/// What the writer thread receives.
enum Msg {
    /// A job for the next batch.
    Job(Job),
    /// Die (the test hook [`LedgerWriter::kill_for_test`]): after the batch at hand, the
    /// thread panics outside every per-job guard, as a bug in the writer itself would.
    Die,
}

/// Handle to the writer thread; cheap to clone. A supervisor thread watches the writer and
/// starts a fresh one (new connection, same queue) when it dies.
#[derive(Clone)]
pub struct LedgerWriter {
    sender: mpsc::Sender<Msg>,
    health: Arc<supervisor::Health>,
    instance: u64,
}

/// Settings of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most jobs per transaction; 1 gives one transaction per job.
    pub max_batch: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

impl LedgerWriter {
    /// Starts the writer thread with its own connection to `target`.
    pub fn start(
        target: DbTarget,
        chart: SharedChart,
        config: WriterConfig,
    ) -> Result<LedgerWriter, DbError> {
        let conn = target.connect()?;
        let (sender, receiver) = mpsc::channel::<Msg>();
        let health = supervisor::start(target, conn, chart, config, receiver)
            .map_err(|e| DbError::Connect(format!("cannot start the ledger writer thread: {e}")))?;
        static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let instance = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(LedgerWriter {
            sender,
            health,
            instance,
        })
    }

    /// A number naming this writer (and so the database it writes) among the writers this
    /// process started: for what a process keeps in memory per database.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Whether a writer thread is running (false from its death until the supervisor has
    /// started a fresh one); `/readyz` answers 503 while it is not.
    pub fn is_alive(&self) -> bool {
        self.health.is_alive()
    }

    /// Drops this handle and waits (up to `within`) until the writer has finished the work
    /// queued and closed its connection — for a command that must leave the database closed
    /// when it exits (SQLite removes its `-wal` file only when the last connection closes).
    /// Returns whether it did; it cannot while other handles (clones) are alive.
    pub fn close(self, within: std::time::Duration) -> bool {
        let health = Arc::clone(&self.health);
        drop(self);
        let deadline = std::time::Instant::now() + within;
        while !health.is_stopped() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }

    /// How many times the supervisor has started a fresh writer since the service opened.
    pub fn restarts(&self) -> u64 {
        self.health.restarts()
    }

    /// Test hook: the writer thread dies after the batch at hand, by a panic outside every
    /// per-job guard. Jobs sent meanwhile wait in the queue for the fresh writer.
    #[doc(hidden)]
    pub fn kill_for_test(&self) {
        let _ = self.sender.send(Msg::Die);
    }

    fn enqueue<T, E, F>(
        &self,
        tags: Vec<Tag>,
        f: F,
    ) -> Result<oneshot::Receiver<Result<T, WriteError<E>>>, WriteError<E>>
    where
        F: FnOnce(&mut Batch<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |batch: &mut Batch<'_>| {
            let result = match catch_unwind(AssertUnwindSafe(|| f(batch))) {
                Ok(result) => result,
                Err(panic) => {
                    let incident = incident_id();
                    tracing::error!(
                        incident = %incident,
                        panic = %panic_message(panic.as_ref()),
                        "a ledger job panicked; it was rolled back and the rest of its batch goes on"
                    );
                    let deliver: Deliver = Box::new(move |_| {
                        let _ = tx.send(Err(WriteError::Panicked { incident }));
                    });
                    return (false, deliver);
                }
            };
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => result.map_err(WriteError::Rejected),
                    Err(e) => Err(WriteError::Storage(e)),
                };
                // The caller may have gone away (client disconnected); the work stands.
                let _ = tx.send(answer);
            });
            (ok, deliver)
        });
        self.sender
            .send(Msg::Job(Job { tags, work }))
            .map_err(|_| WriteError::Stopped)?;
        Ok(rx)
    }

    /// Runs `f` in the next batch and resolves once that batch has committed.
    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&mut Batch<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.submit_tagged(Vec::new(), f).await
    }

    /// [`submit`](Self::submit) with tags every job of the batch can read before it runs
    /// ([`Reads::tags`]), so a store of deferred rows can look them all up at once.
    pub async fn submit_tagged<T, E, F>(&self, tags: Vec<Tag>, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&mut Batch<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let rx = self.enqueue(tags, f)?;
        // The answer was dropped unsent: the writer died in the middle of the batch.
        rx.await.unwrap_or(Err(WriteError::Lost))
    }

    /// Blocking form of [`submit`](Self::submit) for the CLI, tests and benchmarks.
    pub fn submit_blocking<T, E, F>(&self, f: F) -> Result<T, WriteError<E>>
    where
        F: FnOnce(&mut Batch<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let rx = self.enqueue(Vec::new(), f)?;
        rx.blocking_recv().unwrap_or(Err(WriteError::Lost))
    }

    /// Posts one entry on its own (a job that does nothing else).
    pub async fn post(&self, entry: NewEntry) -> Result<PostedEntry, WriteError<PostError>> {
        self.submit(move |batch| batch.post(entry)).await
    }

    /// Blocking form of [`post`](Self::post).
    pub fn post_blocking(&self, entry: NewEntry) -> Result<PostedEntry, WriteError<PostError>> {
        self.submit_blocking(move |batch| batch.post(entry))
    }
}

/// What a job sees: the open transaction, and the ledger as it stands after the jobs before it.
pub struct Batch<'a> {
    conn: &'a mut DbConn,
    chart: &'a Chart,
    now: NaiveDateTime,
    head_seq: i64,
    head_hash: [u8; 32],
    interfund_receivable_minor: i64,
    /// The batch's entries so far, in chain order.
    entries: Vec<PostedEntry>,
    /// How many of `entries` are inserted; the rest wait (see the module doc).
    inserted: usize,
    /// Where the running job's entries begin in `entries`.
    job_start: usize,
    closed_days: HashMap<NaiveDate, bool>,
    savepoint_open: bool,
    /// Every job's tags, in job order.
    tags: Vec<Tag>,
    /// Rows jobs deferred ([`Batch::deferred`]).
    stores: deferred::Stores,
    /// How many job savepoints have opened in this batch.
    savepoints: u64,
}

#[derive(Clone)]
struct Mark {
    head_seq: i64,
    head_hash: [u8; 32],
    interfund_receivable_minor: i64,
    entries: usize,
    stores: Vec<usize>,
}

impl<'a> Batch<'a> {
    /// The transaction's connection, for a job's own rows and queries. The first call in a job
    /// opens the job's savepoint, so a job that fails later leaves none of its rows behind.
    /// Every entry posted so far, by this job and the ones before it, is in the database.
    pub fn conn(&mut self) -> Result<&mut DbConn, DbError> {
        self.enter_savepoint()?;
        self.insert_waiting(self.entries.len())?;
        Ok(self.conn)
    }

    /// Opens the running job's savepoint if it is not open. The entries of the jobs before it
    /// are inserted first, outside it: they are not this job's to roll back.
    fn enter_savepoint(&mut self) -> Result<(), DbError> {
        if !self.savepoint_open {
            self.insert_waiting(self.job_start)?;
            self.stores.flush(self.conn)?;
            self.conn.batch_execute("SAVEPOINT onecard_job")?;
            self.savepoint_open = true;
            self.savepoints += 1;
        }
        Ok(())
    }

    /// Runs `f` on the batch's store of deferred rows of type `T` (made by `init` on its first
    /// use in the batch) with the batch's reads ([`Reads`]: the connection for reads only, and
    /// every job's tags). A job defers its rows as its last act, after every check that can
    /// fail: they are written just before the next job's savepoint opens or at the end of the
    /// batch, in the store's own multi-row statements (see [`Deferred`]). Touching
    /// [`Batch::conn`] afterwards in the same job would write them outside its savepoint.
    pub fn deferred<T: Deferred, R>(
        &mut self,
        init: impl FnOnce(&mut Reads<'_>) -> Result<T, DbError>,
        f: impl FnOnce(&mut T, &mut Reads<'_>) -> R,
    ) -> Result<R, DbError> {
        let mut reads = Reads {
            conn: &mut *self.conn,
            tags: &self.tags,
            writes_seen: self.savepoints,
        };
        let store = self.stores.get_or_init(|| init(&mut reads))?;
        Ok(f(store, &mut reads))
    }

    /// Inserts the waiting entries before position `end` of `entries`.
    fn insert_waiting(&mut self, end: usize) -> Result<(), DbError> {
        if self.inserted < end {
            super::flush::insert_entries(self.conn, &self.entries[self.inserted..end])?;
            self.inserted = end;
        }
        Ok(())
    }

    /// Inserts `posted` now, inside the job's savepoint. For a kind that posts once per
    /// reference the insert sits in a savepoint of its own, so that the unique index's refusal
    /// leaves the job's transaction usable, and is answered as [`PostError::AlreadyPosted`].
    fn insert_now(&mut self, posted: &PostedEntry) -> Result<(), PostError> {
        self.enter_savepoint()?;
        self.insert_waiting(self.entries.len())?;
        let once = posted
            .entry
            .reference
            .as_deref()
            .filter(|_| posted.entry.kind.posts_once_per_reference());
        let Some(reference) = once else {
            super::flush::insert_entries(self.conn, std::slice::from_ref(posted))?;
            return Ok(());
        };
        self.conn.batch_execute("SAVEPOINT onecard_post")?;
        match super::flush::insert_entries(self.conn, std::slice::from_ref(posted)) {
            Ok(()) => {
                self.conn.batch_execute("RELEASE SAVEPOINT onecard_post")?;
                Ok(())
            }
            Err(e) => {
                self.conn.batch_execute(
                    "ROLLBACK TO SAVEPOINT onecard_post; RELEASE SAVEPOINT onecard_post",
                )?;
                // Whatever the error said, the stored entry is the evidence.
                match repo::entry_with_reference(self.conn, posted.entry.kind, reference)? {
                    Some(seq) => Err(PostError::AlreadyPosted {
                        kind: posted.entry.kind,
                        reference: reference.to_string(),
                        seq,
                    }),
                    None => Err(e.into()),
                }
            }
        }
    }

    /// The chart of accounts the rules use.
    pub fn chart(&self) -> &Chart {
        self.chart
    }

    /// The batch's commit time (UTC, microseconds).
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Checks `entry` against every ledger rule and, if it passes, appends it to the chain.
    /// The entry is durable when the batch commits; the job's caller hears of it only then.
    pub fn post(&mut self, entry: NewEntry) -> Result<PostedEntry, PostError> {
        let day_closed = self.is_day_closed(entry.business_date)?;
        let original = match entry.reverses {
            Some(seq) => self.original_for_reversal(seq)?,
            None => None,
        };
        let ctx = RuleContext {
            day_closed,
            original_postings: original.as_deref(),
            interfund_receivable_minor: self.interfund_receivable_minor,
        };
        let accepted = rules::validate(self.chart, &entry, &ctx)?;
        let seq = self.head_seq + 1;
        let hash = chain::entry_hash(&self.head_hash, seq, &entry, &self.now);
        let posted = PostedEntry {
            seq,
            entry,
            created_at: self.now,
            prev_hash: self.head_hash,
            hash,
        };
        let insert = self.savepoint_open || posted.entry.kind.posts_once_per_reference();
        if insert {
            self.insert_now(&posted)?;
        }
        self.head_seq = seq;
        self.head_hash = hash;
        self.interfund_receivable_minor += accepted.interfund_delta_minor;
        self.entries.push(posted.clone());
        if insert {
            self.inserted = self.entries.len();
        }
        Ok(posted)
    }

    /// The day's ledger as it stands in this batch — entries dated `date`, those posted by
    /// earlier jobs of the batch included (they are inserted by then, see [`Batch::conn`]) — as
    /// (count, chain hash of the last of them; the genesis hash for a day without entries), and
    /// marks the day closed for the rest of the batch. The caller records the close in the same
    /// job; every later batch reads it.
    pub fn close_day(&mut self, date: NaiveDate) -> Result<(i64, [u8; 32]), DbError> {
        let (count, last) = repo::day_tail(self.conn()?, date)?;
        self.closed_days.insert(date, true);
        Ok((count, last.unwrap_or(chain::GENESIS_HASH)))
    }

    fn is_day_closed(&mut self, date: NaiveDate) -> Result<bool, DbError> {
        if let Some(closed) = self.closed_days.get(&date) {
            return Ok(*closed);
        }
        let closed = super::days::is_closed(self.conn, date)?;
        self.closed_days.insert(date, closed);
        Ok(closed)
    }

    /// The postings of the entry to reverse, or an error if it cannot be reversed.
    fn original_for_reversal(&mut self, seq: i64) -> Result<Option<Vec<Posting>>, PostError> {
        if self.entries.iter().any(|e| e.entry.reverses == Some(seq)) {
            return Err(LedgerError::AlreadyReversed(seq).into());
        }
        if let Some(e) = self.entries.iter().find(|e| e.seq == seq) {
            if e.entry.kind == EntryKind::Reversal {
                return Err(not_reversible(seq).into());
            }
            return Ok(Some(e.entry.postings.clone()));
        }
        match repo::load_entry(self.conn, seq)? {
            None => Ok(None),
            Some(original) => {
                if original.entry.kind == EntryKind::Reversal {
                    return Err(not_reversible(seq).into());
                }
                if repo::reversal_of(self.conn, seq)?.is_some() {
                    return Err(LedgerError::AlreadyReversed(seq).into());
                }
                Ok(Some(original.entry.postings))
            }
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            head_seq: self.head_seq,
            head_hash: self.head_hash,
            interfund_receivable_minor: self.interfund_receivable_minor,
            entries: self.entries.len(),
            stores: self.stores.mark(),
        }
    }

    fn rewind(&mut self, mark: Mark) {
        self.head_seq = mark.head_seq;
        self.head_hash = mark.head_hash;
        self.interfund_receivable_minor = mark.interfund_receivable_minor;
        self.entries.truncate(mark.entries);
        self.stores.rewind(&mark.stores);
        // What the job inserted went with its savepoint.
        self.inserted = self.inserted.min(mark.entries);
        // A rewound job may have closed a day: read day states afresh.
        self.closed_days.clear();
    }
}

fn not_reversible(seq: i64) -> LedgerError {
    LedgerError::InvalidEntry(format!(
        "entry {seq} is itself a reversal and cannot be reversed; post the original again instead"
    ))
}

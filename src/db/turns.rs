//! Turns at SQLite's one write lock, inside one process, between the counter's ledger writer
//! and the long bulk writers (a staged import's chunks).
//!
//! SQLite lets one connection write at a time; a connection that finds the lock taken sleeps
//! in its busy handler (1, 2, 5, 10, 15, 20, 25, 50, 100 ms …) and tries again. A staged import
//! writes a chunk, lets go for a moment and takes the lock again: a payment that started
//! waiting during one chunk kept sleeping past the short gaps between chunks, and the counter
//! saw a p99 of a third of a second during a 1M-line import — however short each chunk.
//!
//! Here the two agree before either asks SQLite: the writer's batch waits at most for the one
//! chunk under way, and a chunk waits for the batch; when both wait, they take turns (one
//! batch, one chunk), so an import goes on under a steady stream of payments, a chunk at a
//! time. Another process writing to the same file is not seen here: against it the busy
//! handler does what it always did.
//!
//! One [`WriteTurns`] per database file, found by the file's path as SQLite names it (so the
//! writer and an import opened with different spellings of the path still meet); PostgreSQL
//! has row locks and needs none.
//!
//! Depends on: `db`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::DbConn;

/// Who waits and who writes, for one database file.
#[derive(Debug, Default)]
struct State {
    urgent_waiting: usize,
    urgent_writing: usize,
    bulk_waiting: usize,
    bulk_writing: bool,
    /// Urgent turns since the last bulk one: while a bulk writer waits, one is let in.
    urgent_since_bulk: u32,
}

impl State {
    fn urgent_may_write(&self) -> bool {
        !self.bulk_writing && (self.bulk_waiting == 0 || self.urgent_since_bulk == 0)
    }

    fn bulk_may_write(&self) -> bool {
        !self.bulk_writing
            && self.urgent_writing == 0
            && (self.urgent_waiting == 0 || self.urgent_since_bulk > 0)
    }
}

/// The turns of one database file's writers in this process.
#[derive(Debug, Default)]
pub struct WriteTurns {
    state: Mutex<State>,
    changed: Condvar,
}

/// A turn held; the next writer may go when it is dropped.
#[must_use = "the turn ends when this is dropped"]
pub struct Turn<'a> {
    turns: &'a WriteTurns,
    urgent: bool,
}

impl WriteTurns {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A turn for the counter's writer: waits only for a bulk chunk under way (and, when a
    /// bulk writer has waited through one urgent turn already, for its one chunk).
    pub fn urgent(&self) -> Turn<'_> {
        let mut state = self.lock();
        state.urgent_waiting += 1;
        while !state.urgent_may_write() {
            state = self.wait(state);
        }
        state.urgent_waiting -= 1;
        state.urgent_writing += 1;
        state.urgent_since_bulk = state.urgent_since_bulk.saturating_add(1);
        Turn {
            turns: self,
            urgent: true,
        }
    }

    /// A turn for one chunk of a bulk writer: waits while the counter's writer writes or
    /// waits (see the module's documentation for the turn taking).
    pub fn bulk(&self) -> Turn<'_> {
        let mut state = self.lock();
        state.bulk_waiting += 1;
        while !state.bulk_may_write() {
            state = self.wait(state);
        }
        state.bulk_waiting -= 1;
        state.bulk_writing = true;
        state.urgent_since_bulk = 0;
        Turn {
            turns: self,
            urgent: false,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = self.turns.lock();
        if self.urgent {
            state.urgent_writing -= 1;
        } else {
            state.bulk_writing = false;
        }
        drop(state);
        self.turns.changed.notify_all();
    }
}

/// Every database file's turns in this process (dropped with the last user).
fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<WriteTurns>>> {
    static TURNS: OnceLock<Mutex<HashMap<PathBuf, Weak<WriteTurns>>>> = OnceLock::new();
    TURNS.get_or_init(Default::default)
}

/// The turns of `path`'s writers in this process.
pub fn for_path(path: PathBuf) -> Arc<WriteTurns> {
    let mut all = registry().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(turns) = all.get(&path).and_then(Weak::upgrade) {
        return turns;
    }
    all.retain(|_, turns| turns.strong_count() > 0);
    let turns = Arc::new(WriteTurns::default());
    all.insert(path, Arc::downgrade(&turns));
    turns
}

#[derive(QueryableByName)]
struct MainFile {
    #[diesel(sql_type = Text)]
    file: String,
}

/// The turns of the database file `conn` writes to; `None` on PostgreSQL, and for a SQLite
/// database without a file (in memory: nobody else can write to it).
pub fn of(conn: &mut DbConn) -> Result<Option<Arc<WriteTurns>>, diesel::result::Error> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(None);
    };
    let main: Option<MainFile> =
        diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .get_result(c)
            .optional()?;
    Ok(main
        .map(|m| m.file)
        .filter(|f| !f.is_empty())
        .map(|f| for_path(PathBuf::from(f))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Nobody writes beside a bulk chunk, and two bulk chunks never overlap.
    #[test]
    fn turns_exclude_each_other() {
        let turns = Arc::new(WriteTurns::default());
        let bulk_in = Arc::new(AtomicUsize::new(0));
        let urgent_in = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (turns, bulk_in, urgent_in) = (
                    Arc::clone(&turns),
                    Arc::clone(&bulk_in),
                    Arc::clone(&urgent_in),
                );
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        if i % 2 == 0 {
                            let _turn = turns.bulk();
                            assert_eq!(bulk_in.fetch_add(1, Ordering::SeqCst), 0);
                            assert_eq!(urgent_in.load(Ordering::SeqCst), 0);
                            std::thread::yield_now();
                            bulk_in.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            let _turn = turns.urgent();
                            urgent_in.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(bulk_in.load(Ordering::SeqCst), 0);
                            std::thread::yield_now();
                            urgent_in.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no turn was broken");
        }
    }

    /// A waiting urgent writer goes before the next chunk; a steady stream of urgent turns
    /// still lets a waiting chunk in after one of them.
    #[test]
    fn urgent_goes_first_and_bulk_is_not_starved() {
        let turns = Arc::new(WriteTurns::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let chunk = turns.bulk();
        let urgent = {
            let (turns, order) = (Arc::clone(&turns), Arc::clone(&order));
            std::thread::spawn(move || {
                let _turn = turns.urgent();
                order.lock().unwrap().push("urgent");
                std::thread::sleep(Duration::from_millis(30));
            })
        };
        // the urgent writer is waiting for the chunk under way
        while turns.lock().urgent_waiting == 0 {
            std::thread::yield_now();
        }
        let next_chunk = {
            let (turns, order) = (Arc::clone(&turns), Arc::clone(&order));
            std::thread::spawn(move || {
                let _turn = turns.bulk();
                order.lock().unwrap().push("chunk");
            })
        };
        // …and so is the next chunk
        while turns.lock().bulk_waiting == 0 {
            std::thread::yield_now();
        }
        drop(chunk);
        urgent.join().unwrap();
        next_chunk.join().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["urgent", "chunk"]);

        // urgent turns back to back, a chunk waiting: it is let in after the first
        let first = turns.urgent();
        let waiting_chunk = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || drop(turns.bulk()))
        };
        while turns.lock().bulk_waiting == 0 {
            std::thread::yield_now();
        }
        let second = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || drop(turns.urgent()))
        };
        while turns.lock().urgent_waiting == 0 {
            std::thread::yield_now();
        }
        drop(first);
        waiting_chunk.join().unwrap();
        second.join().unwrap();
        assert_eq!(
            turns.lock().urgent_since_bulk,
            1,
            "the chunk went between them"
        );
    }

    #[test]
    fn one_file_one_set_of_turns() {
        let a = for_path(PathBuf::from("/tmp/onecard-turns-test.db"));
        let b = for_path(PathBuf::from("/tmp/onecard-turns-test.db"));
        let c = for_path(PathBuf::from("/tmp/onecard-turns-other.db"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}

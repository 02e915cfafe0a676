//! Rows a job hands to the end of its batch ([`Batch::deferred`](super::Batch::deferred)), so a
//! batch writes each of its tables once, in multi-row statements, instead of once per job.
//!
//! A job that defers does its checks first (reading through [`Reads`], outside any savepoint)
//! and defers its rows as its last act: what it deferred is flushed — like the entries that
//! wait — just before the next job's savepoint opens (so every job still sees the rows of the
//! jobs before it), or at the end of the batch, after the entries and before the balances. A
//! failing job's deferred rows are dropped with it (the batch rewinds each store to its mark).

use std::any::{Any, TypeId};

use crate::db::{DbConn, DbError};

/// Rows waiting for the end of a batch (or the next savepoint), in job order.
pub trait Deferred: Any + Send {
    /// How many jobs' rows wait (a mark a failed job is rewound to).
    fn len(&self) -> usize;
    /// Whether no rows wait.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drops the rows of the jobs from `len` on (a failed job's).
    fn truncate(&mut self, len: usize);
    /// Writes the waiting rows and forgets them (what the store knows beyond the rows — keys
    /// seen in this batch, counters — stays for the rest of the batch).
    fn flush(&mut self, conn: &mut DbConn) -> Result<(), DbError>;
}

/// A tag a job carries into its batch (`("idem", key)`), readable by every job of the batch
/// before any runs: a store can then look up, in one query per batch, what each job will ask.
pub type Tag = (&'static str, String);

/// What a store's reads see: the batch's transaction (for reads only: a write here would be
/// outside every job's savepoint), the tags of all the batch's jobs, and how many savepoints
/// jobs have opened so far — a job that writes through its savepoint may have written what a
/// store read before, so a store compares this count with the one it read at.
pub struct Reads<'a> {
    /// The transaction; reads only.
    pub conn: &'a mut DbConn,
    /// Every job's tags, in job order.
    pub tags: &'a [Tag],
    /// Savepoints opened by the batch's jobs so far.
    pub writes_seen: u64,
}

/// The batch's stores, one per type, in the order they were first used.
#[derive(Default)]
pub(super) struct Stores {
    stores: Vec<(TypeId, Box<dyn Any + Send>, FlushFns)>,
}

/// The type-erased operations of one store.
struct FlushFns {
    len: fn(&dyn Any) -> usize,
    truncate: fn(&mut dyn Any, usize),
    flush: fn(&mut dyn Any, &mut DbConn) -> Result<(), DbError>,
}

fn len_of<T: Deferred>(s: &dyn Any) -> usize {
    s.downcast_ref::<T>().map_or(0, T::len)
}

fn truncate_of<T: Deferred>(s: &mut dyn Any, len: usize) {
    if let Some(s) = s.downcast_mut::<T>() {
        s.truncate(len);
    }
}

fn flush_of<T: Deferred>(s: &mut dyn Any, conn: &mut DbConn) -> Result<(), DbError> {
    match s.downcast_mut::<T>() {
        Some(s) => s.flush(conn),
        None => Ok(()),
    }
}

impl Stores {
    /// The store of type `T`, made by `init` on first use.
    pub(super) fn get_or_init<T: Deferred>(
        &mut self,
        init: impl FnOnce() -> Result<T, DbError>,
    ) -> Result<&mut T, DbError> {
        let id = TypeId::of::<T>();
        let at = match self.stores.iter().position(|(t, ..)| *t == id) {
            Some(at) => at,
            None => {
                let store: Box<dyn Any + Send> = Box::new(init()?);
                self.stores.push((
                    id,
                    store,
                    FlushFns {
                        len: len_of::<T>,
                        truncate: truncate_of::<T>,
                        flush: flush_of::<T>,
                    },
                ));
                self.stores.len() - 1
            }
        };
        self.stores[at]
            .1
            .downcast_mut::<T>()
            .ok_or_else(|| DbError::Connect("a deferred store changed its type".into()))
    }

    /// Each store's length, in store order (a job's mark).
    pub(super) fn mark(&self) -> Vec<usize> {
        self.stores
            .iter()
            .map(|(_, s, f)| (f.len)(s.as_ref()))
            .collect()
    }

    /// Back to `mark`: a store made after it loses all its rows.
    pub(super) fn rewind(&mut self, mark: &[usize]) {
        for (i, (_, s, f)) in self.stores.iter_mut().enumerate() {
            (f.truncate)(s.as_mut(), mark.get(i).copied().unwrap_or(0));
        }
    }

    /// Writes every store's waiting rows.
    pub(super) fn flush(&mut self, conn: &mut DbConn) -> Result<(), DbError> {
        for (_, s, f) in &mut self.stores {
            if (f.len)(s.as_ref()) > 0 {
                (f.flush)(s.as_mut(), conn)?;
            }
        }
        Ok(())
    }
}

//! One batch: lock the chain head, run each job in turn (a failed one rewound alone), write
//! what waits, add the balances, move the head — one transaction.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::{deferred, Batch, Deliver, Job};
use crate::db::schema::ledger_head;
use crate::db::{self, DbConn, DbError};
use crate::ledger::chart::Chart;
use crate::ledger::model::AccountRole;
use crate::ledger::repo;

/// Runs one batch. Returns the commit result (with the number of entries posted) and every
/// job's delivery, to be called once the outcome is known.
pub(super) fn run_batch(
    conn: &mut DbConn,
    chart: &Chart,
    jobs: Vec<Job>,
) -> (Result<usize, DbError>, Vec<Deliver>) {
    let mut deliveries = Vec::with_capacity(jobs.len());
    let outcome = crate::db::write_txn::<usize, DbError, _>(conn, |conn| {
        let (head_seq, head_hash) = db::lock_chain_head(conn)?;
        let interfund = chart
            .account_with_role(AccountRole::InterfundReceivable)
            .map(|a| repo::account_totals(conn, &a.code).map(|(d, c)| d - c))
            .transpose()?
            // A chart without the interfund pair has nothing owed between the funds.
            .unwrap_or(0);
        let mut batch = Batch {
            conn,
            chart,
            now: now_micros(),
            head_seq,
            head_hash,
            interfund_receivable_minor: interfund,
            entries: Vec::with_capacity(jobs.len()),
            inserted: 0,
            job_start: 0,
            closed_days: HashMap::new(),
            savepoint_open: false,
            tags: Vec::new(),
            stores: deferred::Stores::default(),
            savepoints: 0,
        };
        let mut works = Vec::with_capacity(jobs.len());
        for job in jobs {
            batch.tags.extend(job.tags);
            works.push(job.work);
        }
        for job in works {
            let mark = batch.mark();
            batch.job_start = mark.entries;
            let outcome = catch_unwind(AssertUnwindSafe(|| job(&mut batch)));
            let ok = match outcome {
                Ok((ok, deliver)) => {
                    deliveries.push(deliver);
                    ok
                }
                // Each job catches its own panic (see `enqueue`); this guards the guard.
                Err(_) => {
                    tracing::error!(
                        "a ledger job panicked; it was rolled back and the batch goes on"
                    );
                    false
                }
            };
            if batch.savepoint_open {
                let sql = if ok {
                    "RELEASE SAVEPOINT onecard_job"
                } else {
                    "ROLLBACK TO SAVEPOINT onecard_job; RELEASE SAVEPOINT onecard_job"
                };
                batch.conn.batch_execute(sql)?;
                batch.savepoint_open = false;
            }
            if !ok {
                batch.rewind(mark);
            }
        }
        batch.insert_waiting(batch.entries.len())?;
        batch.stores.flush(batch.conn)?;
        let Batch {
            conn,
            entries,
            head_seq,
            head_hash,
            ..
        } = batch;
        crate::ledger::flush::add_balances(conn, &entries)?;
        diesel::update(ledger_head::table.filter(ledger_head::id.eq(1)))
            .set((
                ledger_head::seq.eq(head_seq),
                ledger_head::hash.eq(head_hash.to_vec()),
            ))
            .execute(conn)?;
        Ok(entries.len())
    });
    (outcome, deliveries)
}

pub(super) fn now_micros() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.with_nanosecond(micros).unwrap_or(now)
}

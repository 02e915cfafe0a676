//! What several service instances on one database share besides the books: leases of a rate
//! allowance, and an exclusive right to run a job. Both are backend-specific SQL, so they live
//! here with the rest of it.
//!
//! - A rate allowance is counted per bucket and fixed minute in `rate_windows`. An instance
//!   leases a chunk of it in one statement (an upsert whose update only happens while the
//!   chunk still fits under the limit), then serves that many requests from memory: one write
//!   per chunk, not per request.
//! - A job runs on one instance at a time: PostgreSQL gives a session-level advisory lock,
//!   held on a connection of its own for the whole run and released by the server when that
//!   connection ends, however the process ends. SQLite has no such lock, so a row in
//!   `job_leases` stands in for it: taken when free or expired, renewed by a thread while the
//!   job runs, given back at the end; a holder that died loses it after [`LEASE_SECS`].

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel::RunQueryDsl;

use super::{DbConn, DbError, DbTarget};

/// The statements below are written for PostgreSQL (`$1`…); SQLite reads the same numbered
/// parameters as `?1`…
fn for_backend(conn: &DbConn, sql: &str) -> String {
    match conn {
        DbConn::Postgres(_) => sql.to_string(),
        DbConn::Sqlite(_) => sql.replace('$', "?"),
    }
}

#[derive(diesel::QueryableByName)]
struct Used {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)] // only its presence is read: the lease was granted
    used: i64,
}

/// Leases `want` requests of `bucket`'s allowance in the minute `window` (Unix seconds / 60),
/// if that leaves the minute's leases at or under `limit`; `false` when it would not (nothing
/// is leased then). One statement, atomic on both backends.
pub fn lease_allowance(
    conn: &mut DbConn,
    bucket: &str,
    window: i64,
    want: i64,
    limit: i64,
) -> Result<bool, DbError> {
    let sql = for_backend(
        conn,
        "INSERT INTO rate_windows (bucket, window_start, used) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET used = rate_windows.used + excluded.used \
         WHERE rate_windows.used + excluded.used <= $4 \
         RETURNING used",
    );
    // A first lease larger than the limit would be inserted unchecked: never ask for one.
    if want > limit {
        return Ok(false);
    }
    let query = diesel::sql_query(sql)
        .bind::<Text, _>(bucket)
        .bind::<BigInt, _>(window)
        .bind::<BigInt, _>(want)
        .bind::<BigInt, _>(limit);
    let granted: Vec<Used> = crate::on_backend!(conn, c => query.load(c))?;
    Ok(!granted.is_empty())
}

/// Drops the allowance rows of minutes before `window`: they are never read again.
pub fn forget_windows_before(conn: &mut DbConn, window: i64) -> Result<usize, DbError> {
    use super::schema::rate_windows::dsl::{rate_windows, window_start};
    use diesel::prelude::*;
    Ok(diesel::delete(rate_windows.filter(window_start.lt(window))).execute(conn)?)
}

/// How long an SQLite job lease lasts without renewal.
pub const LEASE_SECS: i64 = 30;
/// How often a held SQLite lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The right to run one job, held until dropped.
pub struct Exclusive {
    held: Held,
}

enum Held {
    /// The connection that holds the advisory lock `key`.
    Postgres { conn: DbConn, key: i64 },
    /// The lease row `name` held by `holder`, and the thread renewing it (stopped by dropping
    /// `stop`).
    Sqlite {
        target: DbTarget,
        name: String,
        holder: String,
        stop: Option<mpsc::Sender<()>>,
        renewer: Option<JoinHandle<()>>,
    },
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Takes the right to run job `name` (`key` is its PostgreSQL advisory lock number) for
/// `holder`, without waiting: `None` while another connection or process holds it.
pub fn try_exclusive(
    target: &DbTarget,
    name: &str,
    key: i64,
    holder: &str,
) -> Result<Option<Exclusive>, DbError> {
    let mut conn = target.connect()?;
    match &mut conn {
        DbConn::Postgres(pg) => {
            #[derive(diesel::QueryableByName)]
            struct Locked {
                #[diesel(sql_type = Bool)]
                locked: bool,
            }
            let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<BigInt, _>(key)
                .get_result(pg)?;
            Ok(got.locked.then_some(Exclusive {
                held: Held::Postgres { conn, key },
            }))
        }
        DbConn::Sqlite(lite) => {
            #[derive(diesel::QueryableByName)]
            struct Holder {
                #[diesel(sql_type = Text)]
                #[allow(dead_code)]
                // only its presence is read: the lease was taken
                holder: String,
            }
            let now = unix_now();
            let taken: Vec<Holder> = diesel::sql_query(
                "INSERT INTO job_leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at WHERE job_leases.expires_at < ?4 \
                 RETURNING holder",
            )
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(now + LEASE_SECS)
            .bind::<BigInt, _>(now)
            .load(lite)?;
            if taken.is_empty() {
                return Ok(None);
            }
            drop(conn);
            let (stop, stopped) = mpsc::channel::<()>();
            let renewer = {
                let (target, name, holder) = (target.clone(), name.to_string(), holder.to_string());
                std::thread::Builder::new()
                    .name("onecard-lease".into())
                    .spawn(move || renew_until_stopped(&target, &name, &holder, &stopped))
                    .map_err(|e| DbError::Connect(format!("lease renewal thread: {e}")))?
            };
            Ok(Some(Exclusive {
                held: Held::Sqlite {
                    target: target.clone(),
                    name: name.to_string(),
                    holder: holder.to_string(),
                    stop: Some(stop),
                    renewer: Some(renewer),
                },
            }))
        }
    }
}

/// Moves the lease's expiry on every [`RENEW_EVERY`] until `stopped` hears something or its
/// sender is dropped. A renewal that fails (the database busy past its timeout) is tried again
/// at the next turn; the lease lasts three turns.
fn renew_until_stopped(target: &DbTarget, name: &str, holder: &str, stopped: &mpsc::Receiver<()>) {
    use super::schema::job_leases::dsl;
    use diesel::prelude::*;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(RENEW_EVERY) {
        let renewed = target.connect().and_then(|mut conn| {
            diesel::update(
                dsl::job_leases
                    .filter(dsl::name.eq(name))
                    .filter(dsl::holder.eq(holder)),
            )
            .set(dsl::expires_at.eq(unix_now() + LEASE_SECS))
            .execute(&mut conn)
            .map_err(DbError::from)
        });
        if let Err(e) = renewed {
            tracing::warn!(job = name, error = %e, "job lease not renewed");
        }
    }
}

impl Drop for Exclusive {
    /// Gives the right back at once (a process that dies gives it back too: PostgreSQL when
    /// the connection drops, SQLite when the lease expires).
    fn drop(&mut self) {
        match &mut self.held {
            Held::Postgres { conn, key } => {
                if let DbConn::Postgres(pg) = conn {
                    let released = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                        .bind::<BigInt, _>(*key)
                        .execute(pg);
                    if let Err(e) = released {
                        tracing::warn!(error = %e, "advisory lock not released; it ends with its connection");
                    }
                }
            }
            Held::Sqlite {
                target,
                name,
                holder,
                stop,
                renewer,
            } => {
                drop(stop.take());
                if let Some(r) = renewer.take() {
                    let _ = r.join();
                }
                use super::schema::job_leases::dsl;
                use diesel::prelude::*;
                let released = target.connect().and_then(|mut conn| {
                    diesel::delete(
                        dsl::job_leases
                            .filter(dsl::name.eq(name.as_str()))
                            .filter(dsl::holder.eq(holder.as_str())),
                    )
                    .execute(&mut conn)
                    .map_err(DbError::from)
                });
                if let Err(e) = released {
                    tracing::warn!(job = %name, error = %e, "job lease not given back; it expires by itself");
                }
            }
        }
    }
}

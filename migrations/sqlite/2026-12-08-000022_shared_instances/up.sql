-- What several service instances on one database share, besides the books (DESIGN §8).
--
-- rate_windows: the request allowance of a rate-limit bucket (a token, a sign-in address) in
-- one fixed minute (`window_start` = Unix seconds / 60). Instances lease chunks of it; `used`
-- counts what was leased, never more than the limit (the lease's own condition).
CREATE TABLE rate_windows (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (bucket, window_start)
);

-- web_tasks: long work started from a page (an import, a run), so that its progress can be
-- read on any instance. `heartbeat_at` moves while the instance that runs it lives; a task
-- without an end whose heartbeat stopped is shown as interrupted.
CREATE TABLE web_tasks (
    id             TEXT PRIMARY KEY NOT NULL,
    owner          TEXT NOT NULL,
    title          TEXT NOT NULL,
    instance       TEXT NOT NULL,
    phase          TEXT NOT NULL,
    done           BIGINT NOT NULL,
    total          BIGINT,
    started_at     TIMESTAMP NOT NULL,
    heartbeat_at   TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    outcome        TEXT CHECK (outcome IN ('done', 'failed')),
    summary        TEXT,
    href           TEXT,
    problem_code   TEXT,
    problem_detail TEXT,
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX web_tasks_by_start ON web_tasks (started_at);

-- job_leases: who may run a job now, where no advisory lock exists (SQLite). A holder renews
-- `expires_at` (Unix seconds) while it runs; a lease past it may be taken over.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- nightly_runs: the nightly job's nights, so that a night is run once however many instances
-- are scheduled to run it. A night without `finished_at` did not finish and may run again.
CREATE TABLE nightly_runs (
    business_date DATE PRIMARY KEY NOT NULL,
    instance      TEXT NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP
);

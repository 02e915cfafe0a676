-- Reconciliation runs, their outcomes and the exceptions finance staff work. A re-run of a
-- date deactivates the date's outcomes and exceptions (kept for the record) and writes new
-- ones; the partial unique indexes forbid one settlement line or one payment in two active
-- outcomes.
CREATE TABLE recon_runs (
    id            TEXT PRIMARY KEY NOT NULL,
    business_date DATE NOT NULL,
    summary       TEXT NOT NULL,
    balance       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE INDEX recon_runs_by_date ON recon_runs (business_date, created_at);

CREATE TABLE recon_outcomes (
    id                   INTEGER PRIMARY KEY NOT NULL,
    run_id               TEXT NOT NULL REFERENCES recon_runs (id),
    business_date        DATE NOT NULL,
    category             TEXT NOT NULL,
    subject              TEXT NOT NULL CHECK (subject IN ('payment', 'line', 'file', 'booking')),
    payment_id           TEXT,
    settlement_record_id BIGINT,
    void_record_id       BIGINT,
    file_id              TEXT,
    booking_id           BIGINT,
    ledger_minor         BIGINT,
    settlement_minor     BIGINT,
    note                 TEXT NOT NULL,
    active               BOOLEAN NOT NULL
);
CREATE INDEX recon_outcomes_by_date ON recon_outcomes (business_date, active);
CREATE UNIQUE INDEX recon_outcomes_line_once ON recon_outcomes (settlement_record_id)
    WHERE active AND settlement_record_id IS NOT NULL;
CREATE UNIQUE INDEX recon_outcomes_void_once ON recon_outcomes (void_record_id)
    WHERE active AND void_record_id IS NOT NULL;
CREATE UNIQUE INDEX recon_outcomes_payment_once ON recon_outcomes (payment_id)
    WHERE active AND subject = 'payment';

CREATE TABLE recon_exceptions (
    id                   TEXT PRIMARY KEY NOT NULL,
    run_id               TEXT NOT NULL REFERENCES recon_runs (id),
    business_date        DATE NOT NULL,
    kind                 TEXT NOT NULL,
    payment_id           TEXT,
    settlement_record_id BIGINT,
    file_id              TEXT,
    booking_id           BIGINT,
    ledger_minor         BIGINT,
    settlement_minor     BIGINT,
    suggested_action     TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('open', 'awaiting_approval', 'resolved')),
    active               BOOLEAN NOT NULL,
    -- The resolution: who, when, why; a write-off also needs a second person's approval.
    resolution           TEXT CHECK (resolution IN ('manual_match', 'write_off', 'bank_claim', 'accept_timing')),
    note                 TEXT,
    matched_payment_id   TEXT,
    matched_record_id    BIGINT,
    resolved_by_token    TEXT,
    resolved_by          TEXT,
    resolved_at          TIMESTAMP,
    approved_by          TEXT,
    approved_at          TIMESTAMP
);
CREATE INDEX recon_exceptions_by_run ON recon_exceptions (run_id, id);
CREATE INDEX recon_exceptions_by_date ON recon_exceptions (business_date, active, status);

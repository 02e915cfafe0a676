-- Resolutions that move value (DESIGN §2, §5): a bank claim stays `claimed` until the bank's
-- money arrives; a write-off or a claim settled by hand posts an entry on approval. The
-- exception records the booking that paid a claim, the amount the resolution moved and the
-- ledger entry it posted. SQLite cannot change a CHECK constraint in place: the table is
-- rebuilt with every column it had, in order, and the new ones after them.
CREATE TABLE recon_exceptions_new (
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
    status               TEXT NOT NULL CHECK (status IN ('open', 'awaiting_approval', 'claimed', 'resolved')),
    active               BOOLEAN NOT NULL,
    resolution           TEXT CHECK (resolution IN ('manual_match', 'write_off', 'bank_claim', 'accept_timing')),
    note                 TEXT,
    matched_payment_id   TEXT,
    matched_record_id    BIGINT,
    resolved_by_token    TEXT,
    resolved_by          TEXT,
    resolved_at          TIMESTAMP,
    approved_by          TEXT,
    approved_at          TIMESTAMP,
    matched_booking_id   BIGINT,
    amount_minor         BIGINT,
    entry_seq            BIGINT
);
INSERT INTO recon_exceptions_new (id, run_id, business_date, kind, payment_id,
    settlement_record_id, file_id, booking_id, ledger_minor, settlement_minor, suggested_action,
    status, active, resolution, note, matched_payment_id, matched_record_id, resolved_by_token,
    resolved_by, resolved_at, approved_by, approved_at)
SELECT id, run_id, business_date, kind, payment_id, settlement_record_id, file_id, booking_id,
    ledger_minor, settlement_minor, suggested_action, status, active, resolution, note,
    matched_payment_id, matched_record_id, resolved_by_token, resolved_by, resolved_at,
    approved_by, approved_at
FROM recon_exceptions;
DROP TABLE recon_exceptions;
ALTER TABLE recon_exceptions_new RENAME TO recon_exceptions;
CREATE INDEX recon_exceptions_by_run ON recon_exceptions (run_id, id);
CREATE INDEX recon_exceptions_by_date ON recon_exceptions (business_date, active, status);

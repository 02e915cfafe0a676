-- The older service neither answers refund retries nor knows the column; SQLite cannot drop a
-- column that has a foreign key: the table is rebuilt without it.
CREATE TABLE idempotency_keys_old (
    idem_key      TEXT PRIMARY KEY NOT NULL,
    request_hash  BLOB NOT NULL,
    status_code   BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    payment_id    TEXT REFERENCES payments (id),
    created_at    TIMESTAMP NOT NULL
);
INSERT INTO idempotency_keys_old SELECT idem_key, request_hash, status_code, response_body,
    payment_id, created_at
FROM idempotency_keys WHERE refund_id IS NULL;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_old RENAME TO idempotency_keys;
-- Rejected and cancelled refunds have no place in the older table: they go with the rollback.
CREATE TABLE refunds_old (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requested', 'approved')),
    requested_by_token TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    approved_by        TEXT,
    entry_seq          BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at         TIMESTAMP NOT NULL,
    approved_at        TIMESTAMP
);
INSERT INTO refunds_old SELECT id, payment_id, amount_minor, reason, status, requested_by_token,
    requested_by, approved_by, entry_seq, created_at, approved_at
FROM refunds WHERE status IN ('requested', 'approved');
DROP TABLE refunds;
ALTER TABLE refunds_old RENAME TO refunds;
CREATE INDEX refunds_by_payment ON refunds (payment_id);

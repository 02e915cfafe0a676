-- Refunds: requested by one person, approved by another (four eyes); approval posts the entry.
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requested', 'approved')),
    requested_by_token TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    approved_by        TEXT,
    -- Posted by the ledger writer after its jobs, so checked at commit.
    entry_seq          BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at         TIMESTAMP NOT NULL,
    approved_at        TIMESTAMP
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);

DROP TABLE refund_requests;
CREATE TABLE refunds_old (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'cancelled')),
    requested_by_token TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    approved_by        TEXT,
    entry_seq          BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at         TIMESTAMP NOT NULL,
    approved_at        TIMESTAMP,
    business_date      DATE NOT NULL,
    closed_by          TEXT,
    closed_at          TIMESTAMP,
    closed_on          DATE,
    closed_note        TEXT
);
INSERT INTO refunds_old SELECT id, payment_id, amount_minor, reason, status, requested_by_token,
    requested_by, approved_by, entry_seq, created_at, approved_at, business_date, closed_by,
    closed_at, closed_on, closed_note FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_old RENAME TO refunds;
CREATE INDEX refunds_by_payment ON refunds (payment_id);
CREATE INDEX refunds_by_status ON refunds (status, created_at, id);
CREATE INDEX refunds_by_date ON refunds (business_date, created_at, id);
CREATE INDEX refunds_by_closed_on ON refunds (closed_on);

-- The refund lifecycle (API.md "Payments"): a request may be rejected by a supervisor or
-- cancelled by its requester (or finance) while it waits; who closed it, when, on which business
-- day and with what note is kept. A refund request is bound to an Idempotency-Key like a
-- payment (idempotency_keys.refund_id names the refund a key made). A refund remembers the
-- business day it was requested on (lists and the daily report filter by it); rows from before
-- this migration get the Asia/Shanghai date of their creation (a configured cut-off is not
-- applied to them). SQLite cannot change a CHECK constraint in place: the table is rebuilt with
-- every column it had, in order, and the new ones after them.
CREATE TABLE refunds_new (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'cancelled')),
    requested_by_token TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    approved_by        TEXT,
    -- Posted by the ledger writer after its jobs, so checked at commit.
    entry_seq          BIGINT REFERENCES ledger_entries (seq) DEFERRABLE INITIALLY DEFERRED,
    created_at         TIMESTAMP NOT NULL,
    approved_at        TIMESTAMP,
    business_date      DATE NOT NULL,
    closed_by          TEXT,
    closed_at          TIMESTAMP,
    closed_on          DATE,
    closed_note        TEXT
);
INSERT INTO refunds_new (id, payment_id, amount_minor, reason, status, requested_by_token,
    requested_by, approved_by, entry_seq, created_at, approved_at, business_date)
SELECT id, payment_id, amount_minor, reason, status, requested_by_token, requested_by,
    approved_by, entry_seq, created_at, approved_at, date(created_at, '+8 hours')
FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_payment ON refunds (payment_id);
CREATE INDEX refunds_by_status ON refunds (status, created_at, id);
CREATE INDEX refunds_by_date ON refunds (business_date, created_at, id);
CREATE INDEX refunds_by_closed_on ON refunds (closed_on);

ALTER TABLE idempotency_keys ADD COLUMN refund_id TEXT REFERENCES refunds (id);

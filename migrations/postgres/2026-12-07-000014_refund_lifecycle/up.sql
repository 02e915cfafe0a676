-- The refund lifecycle (API.md "Payments"): a request may be rejected by a supervisor or
-- cancelled by its requester (or finance) while it waits; who closed it, when, on which business
-- day and with what note is kept. A refund request is bound to an Idempotency-Key like a
-- payment (idempotency_keys.refund_id names the refund a key made). A refund remembers the
-- business day it was requested on (lists and the daily report filter by it); rows from before
-- this migration get the Asia/Shanghai date of their creation (a configured cut-off is not
-- applied to them).
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'cancelled'));
ALTER TABLE refunds ADD COLUMN business_date DATE;
UPDATE refunds SET business_date = CAST(created_at + INTERVAL '8 hours' AS DATE);
ALTER TABLE refunds ALTER COLUMN business_date SET NOT NULL;
ALTER TABLE refunds ADD COLUMN closed_by TEXT;
ALTER TABLE refunds ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE refunds ADD COLUMN closed_on DATE;
ALTER TABLE refunds ADD COLUMN closed_note TEXT;
CREATE INDEX refunds_by_status ON refunds (status, created_at, id);
CREATE INDEX refunds_by_date ON refunds (business_date, created_at, id);
CREATE INDEX refunds_by_closed_on ON refunds (closed_on);

ALTER TABLE idempotency_keys ADD COLUMN refund_id TEXT REFERENCES refunds (id);

-- The older service does not answer refund retries.
DELETE FROM idempotency_keys WHERE refund_id IS NOT NULL;
ALTER TABLE idempotency_keys DROP COLUMN refund_id;
-- Rejected and cancelled refunds have no place in the older table: they go with the rollback.
DELETE FROM refunds WHERE status NOT IN ('requested', 'approved');
DROP INDEX refunds_by_closed_on;
DROP INDEX refunds_by_date;
DROP INDEX refunds_by_status;
ALTER TABLE refunds DROP COLUMN closed_note;
ALTER TABLE refunds DROP COLUMN closed_on;
ALTER TABLE refunds DROP COLUMN closed_at;
ALTER TABLE refunds DROP COLUMN closed_by;
ALTER TABLE refunds DROP COLUMN business_date;
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check CHECK (status IN ('requested', 'approved'));
